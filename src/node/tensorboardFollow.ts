// TensorBoard event files on disk (docs/tensorboard.md): find a run folder's event files, and
// follow one while a trainer appends to it. Each poll reads only the bytes after the last
// complete record; a half-written trailing record is left for the next poll.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventFileError, ScalarExtractor, readScalars, type ScalarPoint } from '../core/tensorboard/events.js';

/** Event file names start with this (`events.out.tfevents.<time>.<host>...`); the rest varies by writer. */
export const EVENT_FILE_PREFIX = 'events.out.tfevents.';

/**
 * Event files under `dir`, recursively, sorted by their path relative to `dir` (so files of one
 * folder come in name order, which for every known writer is creation order). Returns absolute
 * paths; a missing `dir` gives an empty list. Symbolic links to folders are not followed.
 */
export function listEventFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if (rel === '' && (e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const ent of entries) {
      const r = rel === '' ? ent.name : `${rel}/${ent.name}`;
      if (ent.isDirectory()) walk(r);
      else if ((ent.isFile() || ent.isSymbolicLink()) && ent.name.startsWith(EVENT_FILE_PREFIX)) found.push(r);
    }
  };
  walk('');
  found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return found.map((r) => path.join(dir, r));
}

export interface FollowOptions {
  /** Most bytes read at once (a record longer than this is still read whole). Default 4 MiB. */
  chunkBytes?: number;
}

/**
 * Follows one event file: `poll()` returns the scalar points of the records completed since the
 * previous poll. A trailing partial record is not an error (the writer may be mid-append); it is
 * read again, whole, by a later poll. A corrupted record stops the follower: the points before it
 * are returned first, and that poll (if it found nothing before the damage) or the next one throws
 * an EventFileError naming the file and the record's byte offset; so do all polls after it.
 */
export class EventFileFollower {
  /** File offset of the first byte not yet consumed (the start of the next record). */
  offset = 0;
  private readonly extractor = new ScalarExtractor();
  private readonly chunkBytes: number;
  /** Bytes the record at `offset` needs before it is worth reading again. */
  private pendingNeed = 0;
  private failure: EventFileError | undefined;

  constructor(
    readonly file: string,
    opts: FollowOptions = {},
  ) {
    this.chunkBytes = Math.max(opts.chunkBytes ?? 4 << 20, 16);
  }

  /** `file_version` from the file's first record, once read (`"brain.Event:2"`). */
  get fileVersion(): string | undefined {
    return this.extractor.fileVersion;
  }

  /** The corruption that stopped this follower, if any. */
  get error(): EventFileError | undefined {
    return this.failure;
  }

  /** True when the last poll ended inside a record (more bytes are expected). */
  get waiting(): boolean {
    return this.pendingNeed > 0;
  }

  /** New scalar points since the last poll; a missing file yields none (a writer may not have created it yet). */
  async poll(): Promise<ScalarPoint[]> {
    if (this.failure) throw this.failure;
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const points: ScalarPoint[] = [];
    try {
      const size = (await handle.stat()).size;
      if (size < this.offset) {
        throw new EventFileError(`file shrank to ${size} bytes while being followed at byte ${this.offset}`, this.offset, this.file);
      }
      while (this.offset < size && this.offset + this.pendingNeed <= size) {
        const length = Math.min(size - this.offset, Math.max(this.chunkBytes, this.pendingNeed));
        const buf = new Uint8Array(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await handle.read(buf, got, length - got, this.offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        const res = readScalars(buf.subarray(0, got), { baseOffset: this.offset, file: this.file }, this.extractor);
        for (const p of res.points) points.push(p);
        const advanced = res.end > this.offset;
        this.offset = res.end;
        if (res.stop.kind === 'corrupt') {
          this.failure = res.stop.error;
          this.pendingNeed = 0;
          if (points.length === 0) throw this.failure;
          break;
        }
        if (res.stop.kind === 'incomplete') {
          this.pendingNeed = res.stop.need;
          // The chunk ended inside a record we now know the full size of: read it whole next time round.
          if (!advanced && got < length) break;
        } else this.pendingNeed = 0;
      }
    } finally {
      await handle.close();
    }
    return points;
  }
}
