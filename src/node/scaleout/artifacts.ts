// What a TRL or OpenRLHF run on Ray leaves behind: its run.sh copies the output folder to a sync
// target (a shared file-system path or an s3:// URI); this pulls that folder into a local one,
// turns its trainer_state.json (or, failing that, its TensorBoard event files) into our metric
// records, and lists the checkpoints it holds.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trlRows } from '../../core/runs/metrics.js';
import { readScalars, type ScalarPoint } from '../../core/tensorboard/events.js';
import { readJsonFile, trlTrainerState } from '../runReader.js';
import { listEventFiles } from '../tensorboardFollow.js';

// ---------------------------------------------------------------------------------------------
// Pulling the sync target.

export interface PullOptions {
  signal?: AbortSignal;
  /** The AWS CLI executable (default `aws`, found on PATH). */
  aws?: string;
  /** Environment of the AWS CLI (credentials, region, profile); default this process's. */
  env?: NodeJS.ProcessEnv;
}

/** Regular files and their total size. */
export interface PullCount {
  files: number;
  bytes: number;
}

/**
 * Copies the sync target's contents into `dest` (created when missing; files pulled before are
 * overwritten). An `s3://` target is pulled with `aws s3 sync` and the count is of what `dest`
 * then holds; a shared path (absolute, or a `file://` URL) is copied here and the count is of the
 * files copied. Symbolic links inside the target are skipped: a link could lead anywhere on the
 * shared file system.
 */
export async function pullArtifacts(target: string, dest: string, opts: PullOptions = {}): Promise<PullCount> {
  opts.signal?.throwIfAborted();
  if (target.startsWith('s3://')) {
    await fs.promises.mkdir(dest, { recursive: true });
    await awsSync(target, dest, opts);
    return countFiles(dest);
  }
  let from: string;
  if (target.startsWith('file://')) from = fileURLToPath(target);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) throw new Error(`sync target ${target} is not supported: use an absolute path, a file:// URL or an s3:// URI`);
  else if (target !== '' && path.isAbsolute(target)) from = target;
  else throw new Error(`sync target ${JSON.stringify(target)} is not an absolute path, a file:// URL or an s3:// URI`);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(from);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new Error(`sync target ${from} does not exist (has the job finished writing it?)`, { cause: e });
    throw e;
  }
  if (!stat.isDirectory()) throw new Error(`sync target ${from} is not a folder`);
  const rel = path.relative(path.resolve(from), path.resolve(dest));
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) throw new Error(`cannot pull sync target ${from} into ${dest}, which is inside it`);
  const count: PullCount = { files: 0, bytes: 0 };
  await copyTree(from, dest, count, opts.signal);
  return count;
}

/** Runs `aws s3 sync`; rejects with what the CLI said, or with the signal's reason on abort. */
function awsSync(target: string, dest: string, opts: PullOptions): Promise<void> {
  const aws = opts.aws ?? 'aws';
  const signal = opts.signal;
  return new Promise<void>((resolve, reject) => {
    const child = spawn(aws, ['s3', 'sync', target, dest, '--only-show-errors'], { env: opts.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      // Only the end is reported; keep memory bounded if the CLI is chatty.
      stderr = (stderr + s).slice(-16384);
    });
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    // Rejected at once with the caller's reason; the child's exit is not awaited.
    const onAbort = (): void => {
      child.kill('SIGTERM');
      settle(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        settle(new Error(`cannot pull ${target}: the AWS CLI (${aws}) is not installed; install it (\`pip install awscli\`, or \`apt-get install awscli\`) or copy the folder by hand`, { cause: e }));
      } else settle(new Error(`cannot pull ${target}: running ${aws} failed: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      if (code === 0) return settle();
      const last = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '').pop();
      const how = code !== null ? `exit code ${code}` : `signal ${sig ?? '?'}`;
      settle(new Error(`aws s3 sync of ${target} failed (${how})${last ? `: ${last}` : ''}`));
    });
  });
}

/** Copies the regular files and folders of `from` into `to`, recursively, without following links. */
async function copyTree(from: string, to: string, count: PullCount, signal: AbortSignal | undefined): Promise<void> {
  await ownFolder(to);
  for (const ent of await fs.promises.readdir(from, { withFileTypes: true })) {
    signal?.throwIfAborted();
    const src = path.join(from, ent.name);
    const dst = path.join(to, ent.name);
    if (ent.isDirectory()) await copyTree(src, dst, count, signal);
    else if (ent.isFile()) {
      // A link left in `dest` would make copyFile write through it, out of `dest`.
      await unlinkIfLink(dst);
      await fs.promises.copyFile(src, dst);
      count.files++;
      count.bytes += (await fs.promises.stat(dst)).size;
    }
  }
}

/** Makes `dir` a real folder (not a link to one elsewhere). */
async function ownFolder(dir: string): Promise<void> {
  await unlinkIfLink(dir);
  await fs.promises.mkdir(dir, { recursive: true });
}

async function unlinkIfLink(p: string): Promise<void> {
  try {
    if ((await fs.promises.lstat(p)).isSymbolicLink()) await fs.promises.unlink(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Regular files under `dir` (links not followed). */
async function countFiles(dir: string): Promise<PullCount> {
  const count: PullCount = { files: 0, bytes: 0 };
  const walk = async (d: string): Promise<void> => {
    for (const ent of await fs.promises.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile()) {
        count.files++;
        count.bytes += (await fs.promises.stat(p)).size;
      }
    }
  };
  await walk(dir);
  return count;
}

// ---------------------------------------------------------------------------------------------
// Metrics.

export type ArtifactRecord = Record<string, unknown> & { id: string; stage: string; step: number };

export interface ArtifactMetrics {
  records: ArtifactRecord[];
  source: 'trainer_state' | 'tensorboard' | 'none';
  /** The trainer_state.json read, when source is `trainer_state`. */
  trainerState?: string;
  /** The event files read (absolute when `dir` is), when source is `tensorboard`. */
  eventFiles: string[];
}

/** Fields of a metric record that are not metrics (as in rowFromRecord): a metric of that name is left out rather than clobber them. */
const NOT_METRICS = new Set(['id', 'stage', 'step', 'time']);

/**
 * The metrics of one TRL `log_history` entry, named as in our records: exactly what trlRows
 * makes of it (it is called on the entry alone, so the two cannot drift apart). Empty for the
 * run summary (the entry with `train_runtime`) and for entries with no finite numbers. The live
 * log follower applies it to the runner's `@@cai-metric` lines, so ids line up with a pulled
 * trainer_state.json.
 */
export function trlLogValues(entry: Record<string, unknown>): Record<string, number> {
  const row = trlRows({ log_history: [entry] }, '').rows[0];
  return Object.fromEntries(row?.values ?? []);
}

/**
 * A pulled output folder's metrics as records of `stage`: from trainer_state.json (the folder's
 * own or its latest checkpoint's; record `log-<i>` is log_history entry i, counting every entry),
 * else from the TensorBoard event files under it (record `tb-<step>`, one per step). A torn last
 * event record is ignored; a damaged event file throws its EventFileError.
 */
export function artifactMetrics(dir: string, stage: 'sft' | 'pm' | 'ppo'): ArtifactMetrics {
  const stateFile = trlTrainerState(dir);
  if (stateFile !== undefined) {
    const state = readJsonFile<{ log_history?: unknown }>(stateFile);
    const history = typeof state === 'object' && state !== null && Array.isArray(state.log_history) ? (state.log_history as unknown[]) : [];
    const records: ArtifactRecord[] = [];
    history.forEach((e, i) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) return;
      const entry = e as Record<string, unknown>;
      const values = trlLogValues(entry);
      const step = typeof entry['step'] === 'number' && Number.isFinite(entry['step']) ? entry['step'] : i + 1;
      const rec = record(`log-${i}`, stage, step, undefined, Object.entries(values));
      if (rec) records.push(rec);
    });
    return { records, source: 'trainer_state', trainerState: stateFile, eventFiles: [] };
  }

  const files = listEventFiles(dir);
  if (files.length === 0) return { records: [], source: 'none', eventFiles: [] };
  const steps = new TensorBoardSteps();
  for (const file of files) {
    const res = readScalars(new Uint8Array(fs.readFileSync(file)), { file });
    if (res.stop.kind === 'corrupt') throw res.stop.error;
    steps.add(res.points);
  }
  return { records: steps.records(stage), source: 'tensorboard', eventFiles: files };
}

/**
 * TensorBoard scalars as metric records, one per step (`tb-<step>`): a tag loses a leading
 * `train/`, and of two points with the same step and name the later wall time wins. Used on pulled
 * event files and, while an OpenRLHF job runs, on the event files it writes to a shared folder.
 */
export class TensorBoardSteps {
  /** step → name → latest point. */
  private readonly bySteps = new Map<number, Map<string, { value: number; wallTime: number }>>();

  add(points: readonly ScalarPoint[]): void {
    for (const p of points) {
      // JSON has no NaN or Infinity; metrics.jsonl readers leave such values out anyway.
      if (!Number.isFinite(p.value) || !Number.isFinite(p.step)) continue;
      const name = p.tag.startsWith('train/') ? p.tag.slice(6) : p.tag;
      let names = this.bySteps.get(p.step);
      if (!names) this.bySteps.set(p.step, (names = new Map()));
      const prev = names.get(name);
      if (!prev || p.wallTime >= prev.wallTime) names.set(name, { value: p.value, wallTime: p.wallTime });
    }
  }

  /** The highest step seen, or -Infinity. */
  get lastStep(): number {
    let last = -Infinity;
    for (const s of this.bySteps.keys()) last = Math.max(last, s);
    return last;
  }

  /** Records of the steps `include` accepts (default all), in step order. */
  records(stage: string, include: (step: number) => boolean = () => true): ArtifactRecord[] {
    const records: ArtifactRecord[] = [];
    for (const step of [...this.bySteps.keys()].sort((a, b) => a - b)) {
      if (!include(step)) continue;
      const names = this.bySteps.get(step)!;
      let wall = 0;
      for (const v of names.values()) wall = Math.max(wall, v.wallTime);
      const rec = record(`tb-${step}`, stage, step, wall > 0 ? Math.round(wall * 1000) : undefined, [...names].map(([n, v]) => [n, v.value]));
      if (rec) records.push(rec);
    }
    return records;
  }
}

function record(id: string, stage: string, step: number, time: number | undefined, values: [string, number][]): ArtifactRecord | undefined {
  const rec: ArtifactRecord = { id, stage, step };
  if (time !== undefined) rec['time'] = time;
  let any = false;
  for (const [k, v] of values) {
    if (NOT_METRICS.has(k)) continue;
    rec[k] = v;
    any = true;
  }
  return any ? rec : undefined;
}

// ---------------------------------------------------------------------------------------------
// Checkpoints.

export interface Checkpoint {
  /** Relative to the listed folder, with `/` separators; `.` for the folder itself. */
  path: string;
  step?: number;
  kind: 'trl-checkpoint' | 'model' | 'deepspeed';
}

/** How deep below the listed folder checkpoints are looked for (TRL: out/checkpoint-N/global_stepN). */
const CHECKPOINT_DEPTH = 3;

/**
 * The checkpoints in a pulled output folder: TRL's `checkpoint-<N>` folders, DeepSpeed's
 * `global_step<N>` / `global_step_<N>` (OpenRLHF), and any other folder holding a saved model
 * (`config.json` with `model.safetensors`, `pytorch_model.bin` or safetensors shards). Sorted by
 * step (folders without one last), then path. Links are not followed.
 */
export function listCheckpoints(dir: string): Checkpoint[] {
  const out: Checkpoint[] = [];
  const walk = (rel: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(rel === '.' ? dir : path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if (rel === '.' && ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR')) return;
      throw e;
    }
    const name = rel === '.' ? '' : rel.slice(rel.lastIndexOf('/') + 1);
    const trl = /^checkpoint-(\d+)$/.exec(name);
    const ds = /^global_step_?(\d+)$/.exec(name);
    if (trl) out.push({ path: rel, step: Number(trl[1]), kind: 'trl-checkpoint' });
    else if (ds) out.push({ path: rel, step: Number(ds[1]), kind: 'deepspeed' });
    else {
      const files = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
      if (files.has('config.json') && (files.has('pytorch_model.bin') || [...files].some((f) => f.endsWith('.safetensors')))) out.push({ path: rel, kind: 'model' });
    }
    if (depth >= CHECKPOINT_DEPTH) return;
    for (const ent of entries) if (ent.isDirectory()) walk(rel === '.' ? ent.name : `${rel}/${ent.name}`, depth + 1);
  };
  walk('.', 0);
  const stepKey = (c: Checkpoint): number => c.step ?? Infinity;
  return out.sort((a, b) => stepKey(a) - stepKey(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
