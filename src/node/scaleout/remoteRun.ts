// A run's stage trained on a Ray cluster by TRL or OpenRLHF, kept as a run directory of its own
// (docs/scaleout.md): submitting exports the job, uploads it as a working_dir package and submits
// it; following mirrors the job's driver log into driver.log, turns the runner's tagged metric
// lines into metrics.jsonl (so the Training Curves panel shows the job live), mirrors Ray's status
// into the manifest, and when the job ends pulls its output from the sync target (trainer_state.json
// or TensorBoard event files become metrics the live tail did not deliver; checkpoints are listed).
// Used by `cai submit`/`cai follow`/`cai cancel` and by the extension host.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventRecord, Manifest, MetricRecord, RemoteJob } from '../../core/runs/records';
import type { StageName } from '../../core/runs/config';
import { STAGE_NAMES } from '../../core/runs/config';
import { SYNC_TARGET_ENV, type JobEngine, type JobOptions, type JobStage } from '../../core/scaleout/exportJob';
import { isTerminalStatus, RayJobsClient, RayJobsError, type RayJobDetails } from '../ray/jobsClient';
import { RunDirectory } from '../runDir';
import { EventFileFollower, listEventFiles } from '../tensorboardFollow';
import { artifactMetrics, listCheckpoints, pullArtifacts, TensorBoardSteps, trlLogValues } from './artifacts';
import { writeJobFolder, zipFolder } from './jobFolder';

/** A PPO job exported for a cluster must name its reward model (the export's placeholder would fail there). */
export const PPO_NEEDS_REWARD_MODEL = 'a PPO job needs its reward model (--reward-model: the preference model a pm job trained, as a path on the cluster or a Hugging Face id)';

/** The runner's tag before each metric line's JSON (resources/scaleout/runner.py). */
export const METRIC_TAG = '@@cai-metric ';
/** The job's driver log, mirrored while following. */
export const DRIVER_LOG = 'driver.log';
/** Where the job's output folder is pulled to. */
export const ARTIFACTS_DIR = 'artifacts';
/** The exported job folder that was uploaded. */
export const JOB_DIR = 'job';

/** Held (with the holder's pid) while a process follows the run, so two never write its files at once. */
export const FOLLOW_LOCK = 'follow.lock';

/** Another live process is following this run folder. */
export class FollowBusyError extends Error {
  override readonly name = 'FollowBusyError';
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`${dir} is being followed by another process (pid ${pid})`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the folder's follow lock (a stale one, whose process has gone, is taken over); returns its release. */
function takeFollowLock(dir: string): () => void {
  const file = path.join(dir, FOLLOW_LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      let pid = NaN;
      try {
        pid = Number(fs.readFileSync(file, 'utf8').trim());
      } catch {
        // removed meanwhile: try again
      }
      if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || alive(pid))) throw new FollowBusyError(dir, pid);
      fs.rmSync(file, { force: true });
    }
  }
}

export interface ClusterConnection {
  /** Dashboard address, `http(s)://host:8265`. */
  address: string;
  token?: string;
  allowInsecure?: boolean;
  /** The profile name, recorded in the manifest. */
  profile?: string;
}

export function clusterClient(c: ClusterConnection): RayJobsClient {
  return new RayJobsClient({ address: c.address, ...(c.token ? { token: c.token } : {}), ...(c.allowInsecure ? { allowInsecure: true } : {}) });
}

export interface SubmitInput {
  runDir: string;
  engine: JobEngine;
  stage: JobStage;
  options?: Omit<JobOptions, 'runner'>;
  runnerFile: string;
  cluster: ClusterConnection;
  /** A shared folder or an `s3://` URI; the job copies its output to `<syncTarget>/<submission id>`. */
  syncTarget?: string;
  /** GPUs reserved for the job's entrypoint (default 1; 0 runs it on any node, the head included). */
  gpus?: number;
  /** A container image for the job instead of pip-installing its pinned packages. */
  image?: string;
  /** The new run directory (default: beside the source run, `<run>-<stage>-<engine>-<time>`). */
  outDir?: string;
  now?: Date;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
  /** Defaults to clusterClient(cluster). */
  client?: RayJobsClient;
}

export interface SubmitResult {
  dir: string;
  submissionId: string;
  packageUri: string;
  /** False when the cluster already had these exact bytes. */
  uploaded: boolean;
  packageBytes: number;
  /** What the export said (warnings, skipped lines). */
  notes: string[];
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A sync target as the job sees it: a shared absolute path or an s3:// URI. */
export function checkSyncTarget(target: string): string {
  const t = target.trim();
  if (/^s3:\/\/[^/]+/.test(t)) return t.replace(/\/+$/, '');
  if (/^file:\/\//.test(t) || path.posix.isAbsolute(t)) return t.replace(/\/+$/, '') || '/';
  throw new Error(`sync target '${target}' must be an absolute shared path or an s3:// URI`);
}

function event(kind: string, message: string, level: EventRecord['level'] = 'info', data?: Record<string, unknown>): EventRecord {
  const time = new Date().toISOString();
  return { id: `${kind}-${time}-${Math.random().toString(36).slice(2, 8)}`, time, level, kind, message, ...(data ? { data } : {}) };
}

/**
 * Exports the stage, uploads it and submits it. The new run directory (with its manifest) is
 * written before the submission, so a failed submission is recorded there too; the error is
 * then thrown.
 */
export async function submitRemoteRun(input: SubmitInput): Promise<SubmitResult> {
  const progress = input.onProgress ?? (() => undefined);
  if (input.stage === 'ppo' && !input.options?.rewardModel) throw new Error(PPO_NEEDS_REWARD_MODEL);
  const source = RunDirectory.open(input.runDir).readManifest();
  const now = input.now ?? new Date();
  const name = `${source.runId}-${input.stage}-${input.engine}-${stamp(now)}`;
  const dir = path.resolve(input.outDir ?? path.join(path.dirname(path.resolve(input.runDir)), name));
  if (fs.existsSync(path.join(dir, 'manifest.json'))) throw new Error(`${dir} holds a run already`);
  const syncBase = input.syncTarget !== undefined ? checkSyncTarget(input.syncTarget) : undefined;
  const client = input.client ?? clusterClient(input.cluster);

  progress(`exporting the ${input.stage} stage for ${input.engine}`);
  const jobDir = path.join(dir, JOB_DIR);
  const { job, notes } = await writeJobFolder({ runDir: input.runDir, engine: input.engine, stage: input.stage, runnerFile: input.runnerFile, outDir: jobDir, ...(input.options ? { options: input.options } : {}) });
  notes.push(...job.warnings);
  const zip = await zipFolder(jobDir);
  input.signal?.throwIfAborted();

  progress(`connecting to ${input.cluster.address}`);
  const version = await client.version({ ...(input.signal ? { signal: input.signal } : {}) });
  progress(`uploading the job (${(zip.length / 1024).toFixed(0)} KiB)`);
  const upload = await client.uploadPackage(zip, { ...(input.signal ? { signal: input.signal } : {}) });

  const submissionId = `cai-${source.runId.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60)}-${input.stage}-${input.engine}-${stamp(now)}`;
  const syncTarget = syncBase !== undefined ? `${syncBase}/${submissionId}` : undefined;
  const entrypoint = `sh ${job.manifest.launch.script}`;
  const remote: RemoteJob = {
    cluster: input.cluster.address,
    ...(input.cluster.profile ? { profile: input.cluster.profile } : {}),
    submissionId, engine: input.engine, stage: input.stage,
    source: { runId: source.runId, dir: path.resolve(input.runDir) },
    packageUri: upload.uri, entrypoint, submittedAt: now.toISOString(), status: 'PENDING',
    ...(syncTarget !== undefined ? { syncTarget } : {}),
  };
  const stages = {} as Manifest['stages'];
  for (const s of STAGE_NAMES) stages[s] = { status: s === input.stage ? 'pending' : 'skipped' };
  const iso = now.toISOString();
  const manifest: Manifest = {
    manifestVersion: source.manifestVersion, runId: name, createdAt: iso, updatedAt: iso,
    configFile: source.configFile, config: source.config, constitution: source.constitution,
    versions: { ...source.versions, [input.engine]: job.manifest.engineVersion, ray: version.ray_version },
    backend: { requested: input.engine, used: `${input.engine} on Ray ${version.ray_version}`, reason: `submitted to ${input.cluster.address}` },
    seeds: source.seeds, ...(source.git ? { git: source.git } : {}),
    stages, remote,
  };
  const rd = RunDirectory.create(dir, manifest);
  try {
    progress(`submitting ${submissionId}`);
    await client.submit({
      entrypoint, submissionId,
      runtimeEnv: {
        workingDir: upload.uri,
        ...(input.image ? { imageUri: input.image } : { pip: [...job.manifest.pins.packages] }),
        ...(syncTarget !== undefined ? { envVars: { [SYNC_TARGET_ENV]: syncTarget } } : {}),
      },
      ...((input.gpus ?? 1) > 0 ? { entrypointNumGpus: input.gpus ?? 1 } : {}),
      metadata: { cai_run: source.runId, cai_stage: input.stage, cai_engine: input.engine },
    }, { ...(input.signal ? { signal: input.signal } : {}) });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    rd.updateManifest((m) => {
      m.remote = { ...m.remote!, status: 'FAILED', message: `not submitted: ${message}` };
    });
    rd.setStageStatus(input.stage as StageName, 'failed', { error: `not submitted: ${message}` });
    rd.append('events.jsonl', event('remote-submit-failed', message, 'error', { stage: input.stage }));
    rd.close();
    throw e;
  }
  rd.append('events.jsonl', event('remote-submitted', `${submissionId} submitted to ${input.cluster.address} (${input.engine} ${input.stage}${upload.uploaded ? '' : ', package already on the cluster'})`, 'info', { packageUri: upload.uri }));
  rd.close();
  return { dir, submissionId, packageUri: upload.uri, uploaded: upload.uploaded, packageBytes: zip.length, notes };
}

/** A sync target this machine reads directly (a shared path), or undefined (s3://). */
function localTarget(target: string | undefined): string | undefined {
  if (target === undefined || target.startsWith('s3://')) return undefined;
  return target.startsWith('file://') ? fileURLToPath(target) : target;
}

/**
 * The event files an OpenRLHF job writes into a shared sync target while it runs (its run.sh
 * links output/tensorboard there), as `tb-<step>` records. A step is handed over once a later
 * step has appeared, so it is whole; the rest when the job has ended.
 */
class LiveTensorBoard {
  private readonly followers = new Map<string, EventFileFollower>();
  private readonly steps = new TensorBoardSteps();

  constructor(private readonly dir: string) {}

  async poll(): Promise<void> {
    if (!fs.existsSync(this.dir)) return;
    for (const f of listEventFiles(this.dir)) if (!this.followers.has(f)) this.followers.set(f, new EventFileFollower(f));
    for (const follower of this.followers.values()) {
      if (follower.error) continue; // a damaged file: the pull reports it
      try {
        this.steps.add(await follower.poll());
      } catch {
        // as above
      }
    }
  }

  records(stage: string, ended: boolean): MetricRecord[] {
    const last = this.steps.lastStep;
    return this.steps.records(stage, (s) => ended || s < last) as MetricRecord[];
  }
}

/** The remote job of a run directory; an error naming the folder when it is not a submitted run. */
export function remoteOf(dir: string): { manifest: Manifest; remote: RemoteJob } {
  const manifest = RunDirectory.open(dir).readManifest();
  if (!manifest.remote) throw new Error(`${dir}: not a run submitted to a cluster (its manifest has no remote job)`);
  return { manifest, remote: manifest.remote };
}

/** Ray status → our stage status. */
function stageStatusOf(status: string): 'pending' | 'running' | 'done' | 'failed' {
  if (status === 'SUCCEEDED') return 'done';
  if (status === 'FAILED' || status === 'STOPPED') return 'failed';
  return status === 'RUNNING' ? 'running' : 'pending';
}

/** Writes a job status into the manifest (and an event when it changed). */
function recordStatus(rd: RunDirectory, job: RayJobDetails): boolean {
  const before = rd.readManifest().remote;
  if (!before) return false;
  const message = job.message ?? undefined;
  if (before.status === job.status && before.message === message) return false;
  const stage = before.stage as StageName;
  const st = stageStatusOf(job.status);
  rd.updateManifest((m) => {
    m.remote = { ...m.remote!, status: job.status, ...(message !== undefined ? { message } : {}) };
  });
  if (before.status !== job.status) {
    const extra = st === 'failed' ? { error: job.status === 'STOPPED' ? 'stopped on the cluster' : message ?? 'the job failed' } : undefined;
    rd.setStageStatus(stage, st, extra);
    rd.append('events.jsonl', event('remote-status', `${before.submissionId}: ${job.status}${message ? ` (${message})` : ''}`, job.status === 'FAILED' ? 'error' : 'info', { stage }));
  }
  return true;
}

export interface FollowInput {
  dir: string;
  client: RayJobsClient;
  signal?: AbortSignal;
  /** Pull the artefacts from the sync target once the job has ended (default true). */
  pull?: boolean;
  /** How often the status is asked while the log is quiet (default 5 s). */
  pollMs?: number;
  /** Driver log text as it arrives (whole lines). */
  onLog?: (text: string) => void;
  onStatus?: (job: RayJobDetails) => void;
  /** The AWS CLI and environment for s3:// pulls (tests). */
  pullOptions?: { aws?: string; env?: NodeJS.ProcessEnv };
  /** Reconnect backoff of the log tail (tests). */
  followOptions?: { minBackoffMs?: number; maxBackoffMs?: number };
}

export interface FollowRemoteResult {
  status: string;
  /** Metric records written by this call (live lines and pulled files together). */
  metrics: number;
  logLines: number;
  reconnects: number;
  pulled?: { files: number; bytes: number; source: string };
  pullError?: string;
  checkpoints: NonNullable<RemoteJob['checkpoints']>;
}

/**
 * Follows a submitted run until its job ends (or the signal aborts: the job keeps running and a
 * later call continues). One process at a time (FollowBusyError otherwise, see FOLLOW_LOCK).
 * Safe to repeat: the log tail replays from the start, driver.log is
 * rewritten from it, and a metric line's record id is its place among the tagged lines
 * (`log-<i>`, the same index as TRL's log_history), so nothing is written twice.
 */
export async function followRemoteRun(input: FollowInput): Promise<FollowRemoteResult> {
  const { remote } = remoteOf(input.dir);
  const release = takeFollowLock(input.dir);
  try {
    return await follow(input, remote);
  } finally {
    release();
  }
}

async function follow(input: FollowInput, remote: RemoteJob): Promise<FollowRemoteResult> {
  const rd = RunDirectory.open(input.dir);
  const stage = remote.stage as StageName;
  const signalOpt = input.signal ? { signal: input.signal } : {};
  const log = fs.openSync(path.join(input.dir, DRIVER_LOG), 'w');
  let metricIndex = 0;
  let written = 0;
  const onText = (text: string): void => {
    fs.writeSync(log, text);
    const records: MetricRecord[] = [];
    for (const line of text.split('\n')) {
      const at = line.indexOf(METRIC_TAG);
      if (at < 0) continue;
      const index = metricIndex++;
      let entry: unknown;
      try {
        entry = JSON.parse(line.slice(at + METRIC_TAG.length));
      } catch {
        continue;
      }
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue;
      const e = entry as Record<string, unknown>;
      const values = trlLogValues(e);
      if (Object.keys(values).length === 0) continue;
      const step = typeof e['step'] === 'number' && Number.isFinite(e['step']) ? e['step'] : index + 1;
      records.push({ ...values, id: `log-${index}`, stage, step, time: Date.now() });
    }
    if (records.length) written += rd.appendMany('metrics.jsonl', records);
    input.onLog?.(text);
  };

  // OpenRLHF prints no metric lines: read its event files where the job writes them, if this machine can.
  const shared = remote.engine === 'openrlhf' ? localTarget(remote.syncTarget) : undefined;
  const tensorboard = shared !== undefined ? new LiveTensorBoard(path.join(shared, 'tensorboard')) : undefined;
  const readTensorBoard = async (ended: boolean): Promise<void> => {
    if (!tensorboard) return;
    await tensorboard.poll();
    const records = tensorboard.records(stage, ended);
    if (records.length) written += rd.appendMany('metrics.jsonl', records);
  };

  // The tail only ends with the job: ask the status meanwhile, so PENDING → RUNNING shows.
  const pollMs = input.pollMs ?? 5000;
  const stopPoll = new AbortController();
  const poll = (async () => {
    let asking = true;
    while (!stopPoll.signal.aborted) {
      if (asking) {
        try {
          const job = await input.client.status(remote.submissionId, { signal: stopPoll.signal });
          if (recordStatus(rd, job)) input.onStatus?.(job);
        } catch (e) {
          if (stopPoll.signal.aborted) return;
          if (e instanceof RayJobsError && (e.kind === 'unauthorized' || e.kind === 'forbidden' || e.kind === 'notFound')) asking = false;
        }
      }
      if (stopPoll.signal.aborted) return;
      await readTensorBoard(false);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        stopPoll.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  })();
  const abortPoll = () => stopPoll.abort();
  input.signal?.addEventListener('abort', abortPoll, { once: true });

  let followed;
  try {
    followed = await input.client.followLogs(remote.submissionId, onText, input.signal, input.followOptions);
  } finally {
    stopPoll.abort();
    input.signal?.removeEventListener('abort', abortPoll);
    await poll;
    fs.closeSync(log);
  }
  const final = await input.client.status(remote.submissionId, signalOpt);
  if (recordStatus(rd, final)) input.onStatus?.(final);
  await readTensorBoard(isTerminalStatus(final.status));

  const result: FollowRemoteResult = { status: final.status, metrics: written, logLines: followed.lines, reconnects: followed.reconnects, checkpoints: [] };
  if (remote.syncTarget !== undefined && input.pull !== false && isTerminalStatus(final.status)) {
    try {
      const pulled = await pullRemoteArtifacts(rd, remote, input.signal, input.pullOptions);
      result.metrics += pulled.metrics;
      result.pulled = { files: pulled.files, bytes: pulled.bytes, source: pulled.source };
      result.checkpoints = pulled.checkpoints;
    } catch (e) {
      if (input.signal?.aborted) throw e;
      result.pullError = e instanceof Error ? e.message : String(e);
      rd.updateManifest((m) => {
        m.remote = { ...m.remote!, pullError: result.pullError! };
      });
      rd.append('events.jsonl', event('remote-pull-failed', result.pullError, 'warn', { stage }));
    }
  }
  rd.close();
  return result;
}

/** Pulls the job's output into artifacts/, adds the metrics the live tail did not deliver, and lists the checkpoints. */
async function pullRemoteArtifacts(rd: RunDirectory, remote: RemoteJob, signal: AbortSignal | undefined, opts: FollowInput['pullOptions']): Promise<{ files: number; bytes: number; metrics: number; source: string; checkpoints: NonNullable<RemoteJob['checkpoints']> }> {
  const dest = rd.path(ARTIFACTS_DIR);
  const counts = await pullArtifacts(remote.syncTarget!, dest, { ...(signal ? { signal } : {}), ...(opts?.aws ? { aws: opts.aws } : {}), ...(opts?.env ? { env: opts.env } : {}) });
  const found = artifactMetrics(dest, remote.stage);
  let records = found.records as MetricRecord[];
  // Event files repeat what the runner's lines said: use them only when no line came (OpenRLHF).
  if (found.source === 'tensorboard' && rd.read<MetricRecord>('metrics.jsonl').records.some((r) => r.id.startsWith('log-'))) records = [];
  const metrics = records.length ? rd.appendMany('metrics.jsonl', records) : 0;
  const checkpoints = listCheckpoints(dest).map((c) => ({
    path: c.path === '.' ? ARTIFACTS_DIR : `${ARTIFACTS_DIR}/${c.path}`,
    ...(c.step !== undefined ? { step: c.step } : {}),
    kind: c.kind,
    remote: c.path === '.' ? remote.syncTarget! : `${remote.syncTarget!}/${c.path}`,
  }));
  const pulledAt = new Date().toISOString();
  rd.updateManifest((m) => {
    const r = { ...m.remote!, pulledAt, checkpoints };
    delete r.pullError;
    m.remote = r;
  });
  rd.append('events.jsonl', event('remote-pulled', `${counts.files} files (${counts.bytes} bytes) from ${remote.syncTarget!}; ${metrics} metric records from ${found.source}; ${checkpoints.length} checkpoints`, 'info', { stage: remote.stage }));
  return { ...counts, metrics, source: found.source, checkpoints };
}

/** Asks the cluster to stop the run's job. True when Ray accepted the stop; the next status read records STOPPED. */
export async function cancelRemoteRun(dir: string, client: RayJobsClient, signal?: AbortSignal): Promise<boolean> {
  const { remote } = remoteOf(dir);
  const stopped = await client.stop(remote.submissionId, { ...(signal ? { signal } : {}) });
  const rd = RunDirectory.open(dir);
  rd.append('events.jsonl', event('remote-stop', stopped ? `stop of ${remote.submissionId} requested` : `${remote.submissionId} had already ended`, 'info', { stage: remote.stage }));
  try {
    recordStatus(rd, await client.status(remote.submissionId, { ...(signal ? { signal } : {}) }));
  } finally {
    rd.close();
  }
  return stopped;
}
