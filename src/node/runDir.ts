// A run directory on disk (docs/run-format.md): manifest.json written atomically, and append-only
// JSONL files where each record is one whole line written in one call. Opening a directory loads
// the ids already written, so a resumed run skips them, and finds a torn last line (a write cut
// short by a crash), which is reported and cut off before the next append.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StageName } from '../core/runs/config.js';
import { RUN_FILES, type Manifest, type RunFileName, type StageState, type StageStatus } from '../core/runs/records.js';

export const MANIFEST_FILE = 'manifest.json';
export const EVAL_FILE = 'eval.json';
export const CHECKPOINTS_DIR = 'checkpoints';

/** A last line that is not a whole JSON record. `line` is 1-based. */
export interface TornLine {
  line: number;
  text: string;
}

export interface ReadResult<T> {
  records: T[];
  tornLine?: TornLine;
}

/** A middle line that is not valid JSON, or a record without an id: the file needs a person. */
export class RunFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'RunFileError';
  }
}

interface Scan<T> {
  records: T[];
  ids: Set<string>;
  torn?: TornLine & { byteOffset: number };
  /** The file's last record has no line break after it (one is written before the next record). */
  missingNewline: boolean;
  size: number;
}

/** Reads a JSONL file from bytes, line by line, keeping each line's byte offset. */
function scanFile<T>(file: string, display: string): Scan<T> {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], ids: new Set(), missingNewline: false, size: 0 };
    throw e;
  }
  const records: T[] = [];
  const ids = new Set<string>();
  let start = 0;
  let line = 0;
  let torn: Scan<T>['torn'];
  let missingNewline = false;
  while (start < buf.length) {
    line++;
    let end = buf.indexOf(0x0a, start);
    const terminated = end >= 0;
    if (!terminated) end = buf.length;
    const text = buf.toString('utf8', start, end).replace(/\r$/, '');
    if (text.trim() !== '') {
      let rec: unknown;
      let problem: string | undefined;
      try {
        rec = JSON.parse(text);
      } catch (e) {
        problem = `not valid JSON (${(e as Error).message})`;
      }
      if (!problem && (typeof rec !== 'object' || rec === null || Array.isArray(rec))) problem = 'not a JSON object';
      else if (!problem && (typeof (rec as { id?: unknown }).id !== 'string' || (rec as { id: string }).id === '')) problem = 'the record has no string `id`';
      if (problem) {
        const isLast = !terminated || buf.toString('utf8', end + 1).trim() === '';
        if (isLast && problem.startsWith('not valid JSON')) {
          torn = { line, text, byteOffset: start };
          break;
        }
        throw new RunFileError(display, line, problem);
      }
      const r = rec as T & { id: string };
      if (!ids.has(r.id)) {
        ids.add(r.id);
        records.push(r);
      }
      if (!terminated) missingNewline = true;
    }
    start = end + 1;
  }
  return { records, ids, ...(torn ? { torn } : {}), missingNewline, size: buf.length };
}

interface FileState {
  ids: Set<string>;
  fd?: number;
  /** Byte offset to cut the file at before the next append (a torn last line starts there). */
  truncateAt?: number;
  missingNewline: boolean;
  dirty: boolean;
}

export class RunDirectory {
  private readonly files = new Map<string, FileState>();
  /** Torn last lines found when the directory was opened (cut off at the first append to their file). */
  readonly tornLines: (TornLine & { file: string })[] = [];
  private tmpCounter = 0;

  private constructor(readonly dir: string) {}

  /** Makes a new run directory (which must not hold a manifest yet) with its `checkpoints/` folder. */
  static create(dir: string, manifest: Manifest): RunDirectory {
    fs.mkdirSync(path.join(dir, CHECKPOINTS_DIR), { recursive: true });
    if (fs.existsSync(path.join(dir, MANIFEST_FILE))) throw new Error(`${path.join(dir, MANIFEST_FILE)} exists already: open the run to resume it`);
    const rd = new RunDirectory(dir);
    rd.writeJsonAtomic(MANIFEST_FILE, manifest);
    return rd;
  }

  /** Opens an existing run directory: reads the manifest and the ids of every JSONL file. */
  static open(dir: string): RunDirectory {
    const rd = new RunDirectory(dir);
    rd.readManifest();
    for (const f of RUN_FILES) rd.state(f);
    return rd;
  }

  /** Where a file of the run lives. */
  path(file: string): string {
    return path.join(this.dir, file);
  }

  private state(file: string): FileState {
    let s = this.files.get(file);
    if (s) return s;
    const scan = scanFile(this.path(file), file);
    s = { ids: scan.ids, missingNewline: scan.missingNewline, dirty: false };
    if (scan.torn) {
      s.truncateAt = scan.torn.byteOffset;
      this.tornLines.push({ file, line: scan.torn.line, text: scan.torn.text });
    }
    this.files.set(file, s);
    return s;
  }

  has(file: RunFileName | string, id: string): boolean {
    return this.state(file).ids.has(id);
  }

  /** How many distinct records a file holds. */
  count(file: RunFileName | string): number {
    return this.state(file).ids.size;
  }

  /**
   * Appends one record as one whole line in one write, unless a record with its id is there
   * already. Returns whether it was written. Not synced to disk until `flush()`.
   */
  append<T extends { id: string }>(file: RunFileName | string, record: T): boolean {
    return this.appendMany(file, [record], false) === 1;
  }

  /** Appends records (those with new ids) in one write and syncs the file. Returns how many were written. */
  appendMany<T extends { id: string }>(file: RunFileName | string, records: readonly T[], sync = true): number {
    const s = this.state(file);
    const lines: string[] = [];
    const batch = new Set<string>();
    for (const r of records) {
      if (typeof r.id !== 'string' || r.id === '') throw new Error(`${file}: a record needs a non-empty string id`);
      if (s.ids.has(r.id) || batch.has(r.id)) continue;
      batch.add(r.id);
      lines.push(`${JSON.stringify(r)}\n`);
    }
    if (lines.length === 0) return 0;
    const fd = this.fd(file, s);
    let text = lines.join('');
    if (s.missingNewline) text = `\n${text}`;
    writeAll(fd, Buffer.from(text, 'utf8'));
    s.missingNewline = false;
    for (const id of batch) s.ids.add(id);
    s.dirty = true;
    if (sync) this.flush(file);
    return lines.length;
  }

  private fd(file: string, s: FileState): number {
    if (s.fd !== undefined) return s.fd;
    const p = this.path(file);
    if (s.truncateAt !== undefined) {
      fs.truncateSync(p, s.truncateAt);
      s.truncateAt = undefined;
    }
    s.fd = fs.openSync(p, 'a');
    return s.fd;
  }

  /** Syncs appended records to disk (one file, or all). */
  flush(file?: string): void {
    for (const [name, s] of this.files) {
      if ((file === undefined || file === name) && s.dirty && s.fd !== undefined) {
        fs.fsyncSync(s.fd);
        s.dirty = false;
      }
    }
  }

  /** Flushes and closes the open files. The directory can still be read and appended to (files reopen). */
  close(): void {
    this.flush();
    for (const s of this.files.values()) {
      if (s.fd !== undefined) fs.closeSync(s.fd);
      s.fd = undefined;
    }
  }

  /**
   * All records of a file, first copy of each id. An unparsable last line is skipped and
   * returned as `tornLine`; an unparsable line before it throws a RunFileError naming file:line.
   */
  read<T>(file: RunFileName | string): ReadResult<T> {
    const scan = scanFile<T>(this.path(file), file);
    return scan.torn ? { records: scan.records, tornLine: { line: scan.torn.line, text: scan.torn.text } } : { records: scan.records };
  }

  readManifest(): Manifest {
    const p = this.path(MANIFEST_FILE);
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch (e) {
      throw new Error(`${p}: cannot read the run manifest (${(e as Error).message})`, { cause: e });
    }
    try {
      return JSON.parse(text) as Manifest;
    } catch (e) {
      throw new Error(`${p}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
  }

  /** Reads the manifest, lets `change` edit it (or return a new one), stamps `updatedAt` and writes it atomically. */
  updateManifest(change: (m: Manifest) => Manifest | void): Manifest {
    const m = this.readManifest();
    const next = change(m) ?? m;
    next.updatedAt = new Date().toISOString();
    this.writeJsonAtomic(MANIFEST_FILE, next);
    return next;
  }

  /** Sets a stage's status; `running` stamps `startedAt`, `done`/`failed`/`skipped` stamp `finishedAt`. */
  setStageStatus(stage: StageName, status: StageStatus, extra?: Record<string, unknown>): Manifest {
    return this.updateManifest((m) => {
      const now = new Date().toISOString();
      const prev: StageState = m.stages[stage] ?? { status: 'pending' };
      const next: StageState = { ...prev, ...extra, status };
      if (status === 'running') {
        next.startedAt ??= now;
        delete next.finishedAt;
        delete next.error;
      } else if (status === 'done' || status === 'failed' || status === 'skipped') next.finishedAt = now;
      m.stages[stage] = next;
    });
  }

  /** Writes a JSON file (e.g. eval.json) atomically: a temporary file, synced, then renamed over the old one. */
  writeJsonAtomic(file: string, value: unknown): void {
    const target = this.path(file);
    const tmp = `${target}.tmp-${process.pid}-${++this.tmpCounter}`;
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8'));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.renameSync(tmp, target);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    syncDir(this.dir);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/** Makes a rename durable where the platform allows syncing a directory (not on Windows). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
