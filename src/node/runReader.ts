// Read-only access to run directories for viewers (the extension's runs view and panels, `cai`):
// the manifest and eval.json, JSONL files streamed in chunks with each record's byte offset (so a
// 100,000-pair file is indexed without holding its text, and one record is re-read on demand),
// tails that deliver records appended while a run trains, and path checks that keep every file a
// viewer opens inside its run directory. Writing is src/node/runDir.ts's job.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Manifest, StageStatus } from '../core/runs/records.js';

export const MANIFEST = 'manifest.json';
export const EVAL = 'eval.json';
/** Human review of AI labels, beside pairs.jsonl (docs/run-format.md). */
export const REVIEWS = 'reviews.jsonl';

/** One record of a JSONL file and where its line starts. */
export interface Located<T = unknown> {
  record: T;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** 1-based line number. */
  line: number;
}

/** A line that could not be read as a JSON object (a torn last line, or a damaged one). */
export interface BadLine {
  line: number;
  offset: number;
  text: string;
  error: string;
}

export interface ScanResult {
  /** Byte offset just after the last complete line read (where a tail continues). */
  end: number;
  /** Lines read so far (1-based number of the last complete line). */
  lines: number;
  /** Lines that were not JSON objects, reported rather than thrown (a viewer must not fail on one bad line). */
  bad: BadLine[];
}

export interface ScanOptions {
  /** Byte offset to start at (a line start); default 0. */
  from?: number;
  /** Line number of the line at `from`, minus one (default 0). */
  lineBase?: number;
  /** Records per callback (default 2,000). */
  batch?: number;
  /** Bytes read per chunk (default 1 MiB). */
  chunkBytes?: number;
  signal?: AbortSignal;
}

const NL = 0x0a;

/**
 * Streams a JSONL file in chunks, handing over records in batches with their byte offsets. A
 * last line without its `\n` is left for later (a writer may be in the middle of it): `end` stops
 * before it. Yields to the event loop between chunks, so a large file never blocks the host.
 */
export async function scanJsonl<T = unknown>(file: string, onBatch: (records: Located<T>[]) => void | Promise<void>, opts: ScanOptions = {}): Promise<ScanResult> {
  const chunkBytes = opts.chunkBytes ?? 1 << 20;
  const batchSize = opts.batch ?? 2000;
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { end: opts.from ?? 0, lines: opts.lineBase ?? 0, bad: [] };
    throw e;
  }
  const bad: BadLine[] = [];
  let pos = opts.from ?? 0;
  let lineNo = opts.lineBase ?? 0;
  let carry = Buffer.alloc(0);
  let carryStart = pos;
  let out: Located<T>[] = [];
  const flush = async () => {
    if (out.length === 0) return;
    const b = out;
    out = [];
    await onBatch(b);
  };
  try {
    const chunk = Buffer.allocUnsafe(chunkBytes);
    while (true) {
      if (opts.signal?.aborted) break;
      const { bytesRead } = await fh.read(chunk, 0, chunkBytes, pos);
      if (bytesRead === 0) break;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : Buffer.from(chunk.subarray(0, bytesRead));
      const dataStart = carryStart;
      pos += bytesRead;
      let start = 0;
      while (true) {
        const nl = data.indexOf(NL, start);
        if (nl < 0) break;
        lineNo++;
        const offset = dataStart + start;
        const text = data.toString('utf8', start, nl).replace(/\r$/, '');
        start = nl + 1;
        if (text.trim() === '') continue;
        const parsed = parseLine(text);
        if (typeof parsed === 'string') bad.push({ line: lineNo, offset, text: text.length > 500 ? `${text.slice(0, 500)}…` : text, error: parsed });
        else out.push({ record: parsed as T, offset, line: lineNo });
        if (out.length >= batchSize) await flush();
      }
      carry = data.subarray(start);
      carryStart = dataStart + start;
    }
    await flush();
  } finally {
    await fh.close();
  }
  return { end: carryStart, lines: lineNo, bad };
}

function parseLine(text: string): unknown {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
    return v;
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
}

/** Reads the one record whose line starts at `offset` (as found by scanJsonl). */
export async function readRecordAt<T = unknown>(file: string, offset: number, maxBytes = 64 << 20): Promise<T> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const parts: Buffer[] = [];
    let pos = offset;
    let total = 0;
    const chunk = Buffer.allocUnsafe(64 << 10);
    while (total < maxBytes) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) break;
      const nl = chunk.subarray(0, bytesRead).indexOf(NL);
      if (nl >= 0) {
        parts.push(Buffer.from(chunk.subarray(0, nl)));
        break;
      }
      parts.push(Buffer.from(chunk.subarray(0, bytesRead)));
      total += bytesRead;
      pos += bytesRead;
    }
    const parsed = parseLine(Buffer.concat(parts).toString('utf8').replace(/\r$/, ''));
    if (typeof parsed === 'string') throw new Error(`${path.basename(file)} at byte ${offset}: ${parsed}`);
    return parsed as T;
  } finally {
    await fh.close();
  }
}

/**
 * Follows a JSONL file that a run is appending to: `start()` delivers every record there is, then
 * each record appended later (watching the file, with a slow poll as a fallback for file systems
 * whose watch events are unreliable). A file that shrinks (rewritten) is read again from the start
 * and `onReset` is called first.
 */
export class JsonlTail<T = unknown> {
  private end = 0;
  private lines = 0;
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private disposed = false;

  constructor(
    readonly file: string,
    private readonly onRecords: (records: Located<T>[]) => void,
    private readonly opts: { pollMs?: number; onReset?: () => void; onBad?: (bad: BadLine[]) => void } = {},
  ) {}

  /** Reads what is there; resolves when it has been delivered. Then keeps following. */
  async start(): Promise<void> {
    await this.poll();
    if (this.disposed) return;
    this.watch();
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 1000);
    this.timer.unref?.();
  }

  private watch(): void {
    try {
      // The folder is watched, so a file created after the tail started is seen too.
      this.watcher = fs.watch(path.dirname(this.file), (_event, name) => {
        if (!name || name.toString() === path.basename(this.file)) void this.poll();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // the poll still runs
    }
  }

  /** Reads anything new now (also called by the watch and the poll). */
  poll(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        let size: number;
        try {
          size = (await fs.promises.stat(this.file)).size;
        } catch {
          size = 0;
        }
        if (size < this.end) {
          this.end = 0;
          this.lines = 0;
          this.opts.onReset?.();
        }
        if (size > this.end) {
          const r = await scanJsonl<T>(this.file, (recs) => {
            if (!this.disposed) this.onRecords(recs);
          }, { from: this.end, lineBase: this.lines });
          this.end = r.end;
          this.lines = r.lines;
          if (r.bad.length) this.opts.onBad?.(r.bad);
        }
      } while (this.again && !this.disposed);
    })().finally(() => (this.reading = undefined));
    return this.reading;
  }

  dispose(): void {
    this.disposed = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }
}

/** Reads a JSON file of the run; undefined when it does not exist. Errors name the file. */
export function readJsonFile<T = unknown>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

export function readManifest(runDir: string): Manifest | undefined {
  const m = readJsonFile<Manifest>(path.join(runDir, MANIFEST));
  if (m !== undefined && (typeof m !== 'object' || m === null || typeof m.runId !== 'string' || typeof m.stages !== 'object')) {
    throw new Error(`${path.join(runDir, MANIFEST)}: not a run manifest (no runId or stages)`);
  }
  return m;
}

export function readEval(runDir: string): Record<string, unknown> | undefined {
  return readJsonFile<Record<string, unknown>>(path.join(runDir, EVAL));
}

/** The overall state of a run, from its stages. */
export type RunStatus = 'running' | 'done' | 'failed' | 'stopped' | 'pending';

export function runStatus(m: Manifest): RunStatus {
  const states = Object.values(m.stages ?? {}).map((s) => (s as { status?: StageStatus } | undefined)?.status ?? 'pending');
  if (states.includes('failed')) return 'failed';
  if (states.includes('running')) return 'running';
  if (states.length > 0 && states.every((s) => s === 'done' || s === 'skipped')) return 'done';
  if (states.some((s) => s === 'done')) return 'stopped';
  return 'pending';
}

/**
 * Resolves `rel` inside `runDir`, refusing anything that leaves it (`..`, absolute paths,
 * symbolic links pointing out). Paths that come from a webview or a record go through here.
 */
export function resolveInRun(runDir: string, rel: string): string {
  if (typeof rel !== 'string' || rel === '' || rel.includes('\0')) throw new Error('not a file name of the run');
  const root = path.resolve(runDir);
  const p = path.resolve(root, rel);
  const inside = (x: string, r: string) => x === r || x.startsWith(r + path.sep);
  if (!inside(p, root)) throw new Error(`${rel}: outside the run directory`);
  try {
    const real = fs.realpathSync(p);
    if (!inside(real, fs.realpathSync(root))) throw new Error(`${rel}: outside the run directory`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return p;
}

/** A folder the viewers can open: one of our run directories, or a TRL output folder. */
export type RunFolderKind = 'run' | 'trl';

export function runFolderKind(dir: string): RunFolderKind | undefined {
  if (fs.existsSync(path.join(dir, MANIFEST))) return 'run';
  if (fs.existsSync(path.join(dir, 'trainer_state.json'))) return 'trl';
  // TRL keeps trainer_state.json in its checkpoint-N folders; the output folder is one of those's parent.
  try {
    if (fs.readdirSync(dir).some((n) => /^checkpoint-\d+$/.test(n) && fs.existsSync(path.join(dir, n, 'trainer_state.json')))) return 'trl';
  } catch {
    // not a folder
  }
  return undefined;
}

/** TRL's trainer_state.json of an output folder: the folder's own, else that of its latest checkpoint-N. */
export function trlTrainerState(dir: string): string | undefined {
  const own = path.join(dir, 'trainer_state.json');
  if (fs.existsSync(own)) return own;
  let best: { step: number; file: string } | undefined;
  try {
    for (const n of fs.readdirSync(dir)) {
      const m = /^checkpoint-(\d+)$/.exec(n);
      const f = path.join(dir, n, 'trainer_state.json');
      if (m && fs.existsSync(f) && (!best || Number(m[1]) > best.step)) best = { step: Number(m[1]), file: f };
    }
  } catch {
    return undefined;
  }
  return best?.file;
}
