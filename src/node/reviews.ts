// Human review of a run's AI labels: `reviews.jsonl` in the run directory (docs/run-format.md),
// one record per decision, appended as it is made; the latest decision per pair wins. Written by
// the extension host (the pairs panel) only, never by a page; read by the panel and by
// `cai export-dataset`, which applies it. The rules for the run's JSONL files hold here too: one
// record a line written in one call and synced, a torn last line cut off before the next append.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isReviewDecision, isReviewRecord, latestReviews, type ReviewDecision, type ReviewRecord, type ReviewStatus } from '../core/runs/pairs.js';
import { REVIEWS, scanJsonl, type BadLine } from './runReader.js';

export function reviewsFile(runDir: string): string {
  return path.join(runDir, REVIEWS);
}

export interface ReviewsRead {
  /** Valid review records, in file order. */
  records: ReviewRecord[];
  /** Lines that are not review records (damaged, torn, or of another shape). */
  bad: BadLine[];
}

/** Reads reviews.jsonl (no file: no reviews). Lines that are not review records are reported, not thrown. */
export async function readReviews(runDir: string): Promise<ReviewsRead> {
  const records: ReviewRecord[] = [];
  const bad: BadLine[] = [];
  const r = await scanJsonl(reviewsFile(runDir), (batch) => {
    for (const l of batch) {
      if (isReviewRecord(l.record)) records.push(l.record);
      else bad.push({ line: l.line, offset: l.offset, text: JSON.stringify(l.record).slice(0, 200), error: 'not a review record' });
    }
  });
  // scanJsonl leaves a last line without `\n` for a writer that may be in the middle of it; a
  // finished file read once (export, the panel's first read) takes it when it is a whole record.
  const rest = await lastUnterminated(reviewsFile(runDir), r.end);
  if (rest !== undefined) {
    try {
      const v: unknown = JSON.parse(rest);
      if (isReviewRecord(v)) records.push(v);
      else bad.push({ line: r.lines + 1, offset: r.end, text: rest.slice(0, 200), error: 'not a review record' });
    } catch (e) {
      bad.push({ line: r.lines + 1, offset: r.end, text: rest.slice(0, 200), error: `not valid JSON (${(e as Error).message})` });
    }
  }
  return { records, bad: [...r.bad, ...bad].sort((a, b) => a.line - b.line) };
}

async function lastUnterminated(file: string, from: number): Promise<string | undefined> {
  let size: number;
  try {
    size = (await fs.promises.stat(file)).size;
  } catch {
    return undefined;
  }
  if (size <= from) return undefined;
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    const text = buf.toString('utf8').trim();
    return text === '' ? undefined : text;
  } finally {
    await fh.close();
  }
}

/** Each reviewed pair's status (the latest decision per pair). */
export async function reviewStatuses(runDir: string): Promise<{ statuses: Map<string, ReviewStatus>; bad: BadLine[] }> {
  const { records, bad } = await readReviews(runDir);
  return { statuses: latestReviews(records), bad };
}

export interface ReviewInput {
  pair_id: string;
  decision: ReviewDecision;
  reviewer?: string;
  /** Default: now. */
  time?: Date;
}

/** A fresh review id: 16 random hex digits (decisions are events, so not derived from their content). */
export function newReviewId(): string {
  return randomBytes(8).toString('hex');
}

/** Appends are serialised per file, so decisions made in quick succession land in the order they were made. */
const queues = new Map<string, Promise<unknown>>();

/** Appends one decision to reviews.jsonl (created when missing) and returns the record written. */
export function appendReview(runDir: string, input: ReviewInput): Promise<ReviewRecord> {
  if (typeof input.pair_id !== 'string' || input.pair_id === '') return Promise.reject(new Error('a review needs the id of a pair'));
  if (!isReviewDecision(input.decision)) return Promise.reject(new Error(`not a review decision: ${String(input.decision)}`));
  const record: ReviewRecord = {
    id: newReviewId(),
    pair_id: input.pair_id,
    decision: input.decision,
    time: (input.time ?? new Date()).toISOString(),
    ...(input.reviewer ? { reviewer: input.reviewer } : {}),
  };
  const file = reviewsFile(runDir);
  const prev = queues.get(file) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(() => appendLine(file, `${JSON.stringify(record)}\n`)).then(() => record);
  queues.set(file, next);
  void next.finally(() => {
    if (queues.get(file) === next) queues.delete(file);
  }).catch(() => undefined);
  return next;
}

/**
 * Appends a line in one write and syncs. A last line without `\n` is kept when it is a whole
 * record (the line break goes first) and cut off when it is not (a torn write).
 */
async function appendLine(file: string, line: string): Promise<void> {
  const fh = await fs.promises.open(file, 'a+');
  try {
    const { size } = await fh.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        const start = await lastLineStart(fh, size);
        const tail = Buffer.alloc(size - start);
        await fh.read(tail, 0, tail.length, start);
        let whole = false;
        try {
          const v: unknown = JSON.parse(tail.toString('utf8'));
          whole = typeof v === 'object' && v !== null;
        } catch {
          whole = false;
        }
        if (whole) prefix = '\n';
        else await fh.truncate(start);
      }
    }
    await fh.write(prefix + line);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Byte offset where the last line of a file starts. */
async function lastLineStart(fh: fs.promises.FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 << 10);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await fh.read(chunk, 0, end - start, start);
    const nl = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}
