// Training checkpoints on disk, written so that a crash, a SIGKILL or a power cut at any moment
// leaves either the previous checkpoints or a complete new one, never one that loads half.
//
//   dir/step-000123/weights.safetensors    parameters, F32
//   dir/step-000123/optimizer.safetensors  Adam moments `m.<name>`, `v.<name>`; its step in the metadata
//   dir/step-000123/state.json             { step, state }: RNG state, data cursor, config, ...
//   dir/step-000123/COMPLETE               { step, files: { name: { bytes, sha256 } } }, written last
//
// How a checkpoint is written, and why in this order:
//   1. every file goes into `dir/.tmp-step-000123-<pid>/` and is fsynced;
//   2. the COMPLETE marker, holding the size and sha256 of each file, is written and fsynced
//      after them, inside the same temporary folder;
//   3. the temporary folder is fsynced (its entries are durable), then renamed to `step-000123`,
//      and `dir` is fsynced (the rename is durable).
// The rename is the commit: a `step-*` folder only ever appears with all its files and its
// marker in it. The alternative, renaming first and writing the marker afterwards, would leave a
// visible `step-*` folder without a marker after a crash between the two, which would then block
// the next save of that step (a rename onto a non-empty folder fails). Readers still trust
// nothing but the marker: a folder without one, or whose files do not match its sizes and
// hashes (a file system that reordered writes, a disk error, a hand-made copy), is skipped with
// a warning, and the next older checkpoint is used. Deleting a checkpoint removes its marker
// first, so a deletion cut short leaves a folder that is skipped, never one that half loads.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { HostTensor } from '../core/model/config.js';
import { ModelFileError } from '../core/model/errors.js';
import { parseSafetensors, parseSafetensorsHeader, writeSafetensors } from '../core/model/safetensors.js';
import { isAlive } from './pids.js';

export type TensorMap = ReadonlyMap<string, HostTensor>;

export interface OptimizerState {
  /** Adam's first moments, by parameter name. */
  m: TensorMap;
  /** Adam's second moments, by parameter name. */
  v: TensorMap;
  /** The optimizer's step count (bias correction). */
  step: number;
}

export interface CheckpointData {
  weights: TensorMap;
  optimizer?: OptimizerState;
  /** Everything else a resume needs, as JSON: RNG state, data cursor, config. */
  state: object;
}

export interface LoadedCheckpoint {
  step: number;
  /** The checkpoint's folder. */
  path: string;
  weights: Map<string, HostTensor>;
  optimizer?: { m: Map<string, HostTensor>; v: Map<string, HostTensor>; step: number };
  state: object;
}

export interface CheckpointInfo {
  step: number;
  path: string;
  /** Has a marker whose files are all present with the sizes it names (hashes are checked on load). */
  complete: boolean;
}

export interface CheckpointStoreOptions {
  /** Complete checkpoints kept after each save (at least 1; Infinity keeps all). */
  keepLast: number;
  /** Where skipped checkpoints are reported (default: console.warn, which a trainer's parent receives on stderr). */
  warn?: (message: string) => void;
}

export const COMPLETE_MARKER = 'COMPLETE';
export const WEIGHTS_FILE = 'weights.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';

const MARKER_FORMAT = 'constitution-studio-checkpoint';
const STEP_DIR = /^step-(\d+)$/;
const SCRATCH_DIR = /^\.(tmp|trash)-step-\d+-(\d+)$/;

interface Marker {
  format: typeof MARKER_FORMAT;
  version: 1;
  step: number;
  files: Record<string, { bytes: number; sha256: string }>;
}

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes a new file and makes its contents durable before returning. */
async function writeDurable(file: string, bytes: Uint8Array): Promise<void> {
  const fh = await fs.open(file, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a folder's entries (created, renamed, removed files) durable. Windows cannot open folders; NTFS journals renames itself. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** rename, retried a few times on Windows, where a virus scanner or indexer may hold a file open for a moment. */
async function renameRetrying(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fs.rename(from, to);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (process.platform !== 'win32' || attempt >= 10 || !(code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
    }
  }
}


function parseMarker(text: string, step: number): Marker | undefined {
  try {
    const m = JSON.parse(text) as Partial<Marker>;
    if (m.format !== MARKER_FORMAT || m.version !== 1 || m.step !== step || typeof m.files !== 'object' || m.files === null) return undefined;
    for (const f of Object.values(m.files)) {
      if (typeof f?.bytes !== 'number' || typeof f.sha256 !== 'string') return undefined;
    }
    if (!(WEIGHTS_FILE in m.files) || !(STATE_FILE in m.files)) return undefined;
    return m as Marker;
  } catch {
    return undefined;
  }
}

/** Checkpoints of one training run, in one folder. */
export class CheckpointStore {
  readonly dir: string;
  private readonly keepLast: number;
  private readonly warn: (message: string) => void;
  /** Saves run one after another: each owns the temporary folder of its step. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dir: string, opts: CheckpointStoreOptions) {
    if (!(opts.keepLast >= 1)) throw new RangeError(`keepLast must be at least 1 (got ${opts.keepLast})`);
    this.dir = path.resolve(dir);
    this.keepLast = opts.keepLast;
    this.warn = opts.warn ?? ((message) => console.warn(message));
  }

  /** Writes the checkpoint of `step` atomically, then keeps only the newest `keepLast`; resolves with its folder. */
  save(step: number, data: CheckpointData): Promise<string> {
    const run = this.queue.then(() => this.saveNow(step, data));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async saveNow(step: number, data: CheckpointData): Promise<string> {
    if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`A checkpoint step must be a non-negative integer (got ${step})`);
    // encode first: a bad tensor or state that is no JSON fails before anything touches the disk
    const files = new Map<string, Uint8Array>();
    files.set(WEIGHTS_FILE, writeSafetensors(data.weights, { dtype: 'F32', fileName: WEIGHTS_FILE }));
    if (data.optimizer) {
      const o = data.optimizer;
      const moments: [string, HostTensor][] = [];
      for (const [name, t] of o.m) moments.push([`m.${name}`, t]);
      for (const [name, t] of o.v) moments.push([`v.${name}`, t]);
      files.set(OPTIMIZER_FILE, writeSafetensors(moments, { dtype: 'F32', fileName: OPTIMIZER_FILE, metadata: { step: String(o.step) } }));
    }
    files.set(STATE_FILE, new TextEncoder().encode(JSON.stringify({ step, state: data.state }, null, 1)));

    await fs.mkdir(this.dir, { recursive: true });
    await this.cleanStale();
    const name = stepDirName(step);
    const final = path.join(this.dir, name);
    const tmp = path.join(this.dir, `.tmp-${name}-${process.pid}`);
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.mkdir(tmp);

    const marker: Marker = { format: MARKER_FORMAT, version: 1, step, files: {} };
    for (const [file, bytes] of files) {
      await writeDurable(path.join(tmp, file), bytes);
      marker.files[file] = { bytes: bytes.length, sha256: sha256(bytes) };
    }
    await writeDurable(path.join(tmp, COMPLETE_MARKER), new TextEncoder().encode(JSON.stringify(marker, null, 1)));
    await syncDir(tmp);

    if (await exists(final)) {
      // saving a step again (a resumed run): move the old one aside, so the name is never empty
      // for longer than between two renames, and never holds a mix of old and new files
      const trash = path.join(this.dir, `.trash-${name}-${process.pid}`);
      await fs.rm(trash, { recursive: true, force: true });
      await fs.rm(path.join(final, COMPLETE_MARKER), { force: true });
      await renameRetrying(final, trash);
      await renameRetrying(tmp, final);
      await syncDir(this.dir);
      await fs.rm(trash, { recursive: true, force: true });
    } else {
      await renameRetrying(tmp, final);
      await syncDir(this.dir);
    }
    await this.prune(step);
    return final;
  }

  /** Step folders, oldest first; `complete` is the cheap check (marker and sizes), `load` checks hashes. */
  async list(): Promise<CheckpointInfo[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const out: CheckpointInfo[] = [];
    for (const name of names) {
      const m = STEP_DIR.exec(name);
      if (!m) continue;
      const step = Number(m[1]);
      const dir = path.join(this.dir, name);
      out.push({ step, path: dir, complete: (await this.readMarkerChecked(dir, step)) !== undefined });
    }
    return out.sort((a, b) => a.step - b.step);
  }

  /** The newest checkpoint that is complete and whose files match their hashes; older ones stand in for damaged ones. */
  async latest(): Promise<LoadedCheckpoint | undefined> {
    const all = await this.list();
    for (let i = all.length - 1; i >= 0; i--) {
      const info = all[i]!;
      if (!info.complete) {
        this.warn(`checkpoint ${info.path}: incomplete (no valid ${COMPLETE_MARKER} marker, or a file is missing); skipped`);
        continue;
      }
      try {
        return await this.load(info.path);
      } catch (error) {
        this.warn(`checkpoint ${info.path}: ${error instanceof Error ? error.message : String(error)}; skipped`);
      }
    }
    return undefined;
  }

  /** Loads one checkpoint folder, checking its marker and every file's hash; throws ModelFileError if anything is off. */
  async load(dir: string): Promise<LoadedCheckpoint> {
    const full = path.resolve(dir);
    const m = STEP_DIR.exec(path.basename(full));
    if (!m) throw new ModelFileError(full, 'is not a checkpoint folder (step-NNNNNN)');
    const step = Number(m[1]);
    let markerText: string;
    try {
      markerText = await fs.readFile(path.join(full, COMPLETE_MARKER), 'utf8');
    } catch {
      throw new ModelFileError(full, `has no ${COMPLETE_MARKER} marker: the checkpoint was not finished`);
    }
    const marker = parseMarker(markerText, step);
    if (!marker) throw new ModelFileError(path.join(full, COMPLETE_MARKER), 'is not a valid checkpoint marker');

    const bytes = new Map<string, Uint8Array>();
    for (const [file, expected] of Object.entries(marker.files)) {
      const p = path.join(full, file);
      let b: Uint8Array;
      try {
        b = await fs.readFile(p);
      } catch {
        throw new ModelFileError(p, 'is missing');
      }
      if (b.length !== expected.bytes) throw new ModelFileError(p, `has ${b.length} bytes, the marker says ${expected.bytes}`);
      if (sha256(b) !== expected.sha256) throw new ModelFileError(p, 'does not match the sha256 in its marker (damaged)');
      bytes.set(file, b);
    }

    const weights = new Map<string, HostTensor>();
    for (const [name, t] of parseSafetensors(bytes.get(WEIGHTS_FILE)!, path.join(full, WEIGHTS_FILE))) weights.set(name, { shape: t.shape, data: t.data });

    let optimizer: LoadedCheckpoint['optimizer'];
    const ob = bytes.get(OPTIMIZER_FILE);
    if (ob) {
      const file = path.join(full, OPTIMIZER_FILE);
      const header = parseSafetensorsHeader(ob, file);
      const ostep = Number(header.metadata['step']);
      if (!Number.isSafeInteger(ostep)) throw new ModelFileError(file, 'has no optimizer step in its metadata');
      optimizer = { m: new Map(), v: new Map(), step: ostep };
      for (const [name, t] of parseSafetensors(ob, file)) {
        const target = name.startsWith('m.') ? optimizer.m : name.startsWith('v.') ? optimizer.v : undefined;
        if (!target) throw new ModelFileError(file, 'is neither a first (m.) nor a second (v.) moment', name);
        target.set(name.slice(2), { shape: t.shape, data: t.data });
      }
    }

    const stateFile = path.join(full, STATE_FILE);
    let parsed: { step?: unknown; state?: unknown };
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes.get(STATE_FILE)!)) as typeof parsed;
    } catch (error) {
      throw new ModelFileError(stateFile, `is not JSON: ${(error as Error).message}`);
    }
    if (parsed.step !== step || typeof parsed.state !== 'object' || parsed.state === null) throw new ModelFileError(stateFile, `does not hold the state of step ${step}`);
    return { step, path: full, weights, optimizer, state: parsed.state };
  }

  /** Removes temporary and half-deleted folders left by processes that are gone (a crash during save). */
  async cleanStale(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = SCRATCH_DIR.exec(name);
      if (!m) continue;
      const pid = Number(m[2]);
      // another live process may be writing there; our own are leftovers (saves do not overlap)
      if (pid !== process.pid && isAlive(pid)) continue;
      await fs.rm(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  /** The marker of a step folder if it is there and every file it names has the size it says. */
  private async readMarkerChecked(dir: string, step: number): Promise<Marker | undefined> {
    let marker: Marker | undefined;
    try {
      marker = parseMarker(await fs.readFile(path.join(dir, COMPLETE_MARKER), 'utf8'), step);
    } catch {
      return undefined;
    }
    if (!marker) return undefined;
    for (const [file, expected] of Object.entries(marker.files)) {
      try {
        if ((await fs.stat(path.join(dir, file))).size !== expected.bytes) return undefined;
      } catch {
        return undefined;
      }
    }
    return marker;
  }

  /** Keeps the newest `keepLast` complete checkpoints and the one just saved; removes older ones and unfinished folders older than those kept. */
  private async prune(saved: number): Promise<void> {
    if (!Number.isFinite(this.keepLast)) return;
    const all = await this.list();
    const complete = all.filter((c) => c.complete).reverse();
    const kept = new Set(complete.slice(0, this.keepLast).map((c) => c.step));
    kept.add(saved);
    const oldestKept = Math.min(...kept);
    for (const c of all) {
      if (kept.has(c.step)) continue;
      if (!c.complete && c.step > oldestKept) continue;
      // the marker goes first: a deletion cut short leaves a folder that is skipped, not one that half loads
      await fs.rm(path.join(c.path, COMPLETE_MARKER), { force: true });
      await fs.rm(c.path, { recursive: true, force: true });
    }
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}
