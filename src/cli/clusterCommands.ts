// `cai submit`, `cai follow` and `cai cancel`: one stage of a run trained by TRL or OpenRLHF on a
// Ray cluster, kept as a run directory of its own (src/node/scaleout/remoteRun.ts). The cluster's
// token comes from the RAY_AUTH_TOKEN environment variable (Ray's own name for it), never from a
// flag, which other users could read in the process list.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { isTerminalStatus, RayJobsError, type RayJobsClient } from '../node/ray/jobsClient';
import { cancelRemoteRun, clusterClient, FollowBusyError, followRemoteRun, PPO_NEEDS_REWARD_MODEL, remoteOf, submitRemoteRun, type FollowRemoteResult } from '../node/scaleout/remoteRun';
import { CliError, parse, UsageError } from './args';
import type { Command } from './commands';
import { exportError, JOB_FLAGS, JOB_FLAGS_USAGE, jobFlags, runnerPath } from './runCommands';

export const TOKEN_ENV = 'RAY_AUTH_TOKEN';

const err = (s: string): void => void process.stderr.write(`${s}\n`);

function token(): string | undefined {
  const t = process.env[TOKEN_ENV]?.trim();
  return t ? t : undefined;
}

/** Ctrl-C stops following (and a submission in progress), never the job. */
function interrupt(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onSig = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  return { signal: ac.signal, dispose: () => (process.off('SIGINT', onSig), process.off('SIGTERM', onSig)) };
}

function clusterError(e: unknown): unknown {
  if (e instanceof RayJobsError) {
    const hint = e.kind === 'unauthorized' ? ` (set ${TOKEN_ENV} to the cluster's token)` : e.kind === 'forbidden' ? ` (${TOKEN_ENV} is not accepted by the cluster)` : e.kind === 'insecure' ? ` (--allow-insecure to go ahead anyway)` : '';
    return new CliError(`${e.message.replace(/ Set the cluster token\.$/, '')}${hint}`, e.kind === 'insecure' || e.kind === 'badAddress' ? 2 : 1);
  }
  return e;
}

/** Follows with the log on stdout and status lines on stderr; exit 0 when the job succeeded. */
async function follow(dir: string, client: RayJobsClient, pull: boolean): Promise<number> {
  const { signal, dispose } = interrupt();
  let result: FollowRemoteResult;
  try {
    result = await followRemoteRun({
      dir, client, signal, pull,
      onLog: (text) => void process.stdout.write(text),
      onStatus: (job) => err(`cai: job ${job.status}${job.message ? `: ${job.message}` : ''}`),
    });
  } catch (e) {
    if (signal.aborted) {
      err(`cai: stopped following; the job goes on (cai follow ${dir} to continue, cai cancel ${dir} to stop it)`);
      return 130;
    }
    if (e instanceof FollowBusyError) {
      // e.g. the editor follows it already: show the log, write nothing
      err(`cai: ${e.message}, which writes the run folder; showing the job's log only`);
      return followLog(remoteOf(dir).remote.submissionId, client);
    }
    throw clusterError(e);
  } finally {
    dispose();
  }
  err(`cai: ${result.status}; ${result.metrics} new metric records in ${path.join(dir, 'metrics.jsonl')}${result.reconnects ? `; the log tail reconnected ${result.reconnects} time(s)` : ''}`);
  if (result.pulled) err(`cai: pulled ${result.pulled.files} files (${(result.pulled.bytes / 1048576).toFixed(1)} MiB) into ${path.join(dir, 'artifacts')}; metrics from ${result.pulled.source}; ${result.checkpoints.length} checkpoint(s)${result.checkpoints.map((c) => `\n  ${c.path}${c.step !== undefined ? ` (step ${c.step})` : ''}`).join('')}`);
  if (result.pullError) err(`cai: the artefacts were not pulled: ${result.pullError} (cai follow ${dir} tries again)`);
  return result.status === 'SUCCEEDED' && !result.pullError ? 0 : 1;
}

/** A job's log on stdout until it ends; exit 0 when it succeeded. */
async function followLog(id: string, client: RayJobsClient): Promise<number> {
  const { signal, dispose } = interrupt();
  try {
    const r = await client.followLogs(id, (text) => void process.stdout.write(text), signal);
    err(`cai: job ${r.status}`);
    return r.status === 'SUCCEEDED' ? 0 : 1;
  } catch (e) {
    if (signal.aborted) return 130;
    throw clusterError(e);
  } finally {
    dispose();
  }
}

const submitCmd: Command = {
  summary: 'Train one stage of a run with TRL or OpenRLHF on a Ray cluster: export, upload, submit, then follow it into a run folder of its own.',
  usage: `cai submit RUN_DIR --cluster URL ${JOB_FLAGS_USAGE} [--sync-target PATH|s3://BUCKET/PREFIX] [--gpus N] [--image URI] [-o DIR] [--detach] [--no-pull] [--allow-insecure]  (token: ${TOKEN_ENV})`,
  async run(args, cwd) {
    const { values, positionals } = parse(args, {
      ...JOB_FLAGS, cluster: { type: 'string' }, 'sync-target': { type: 'string' }, gpus: { type: 'string' }, image: { type: 'string' },
      o: { type: 'string', short: 'o' }, detach: { type: 'boolean' }, 'no-pull': { type: 'boolean' }, 'allow-insecure': { type: 'boolean' },
    }, this.usage);
    const dir = positionals[0];
    const cluster = values['cluster'];
    if (!dir || typeof cluster !== 'string') throw new UsageError(`usage: ${this.usage}`);
    const { engine, stage, options } = jobFlags(values);
    if (stage === 'ppo' && !options.rewardModel) throw new UsageError(PPO_NEEDS_REWARD_MODEL);
    const gpus = values['gpus'] === undefined ? undefined : Number(values['gpus']);
    if (gpus !== undefined && !(Number.isInteger(gpus) && gpus >= 0)) throw new UsageError(`--gpus must be a whole number ≥ 0 (got '${String(values['gpus'])}')`);
    const runDir = path.resolve(cwd, dir);
    if (!fs.existsSync(path.join(runDir, 'manifest.json'))) throw new CliError(`${dir}: not a run directory (no manifest.json)`, 2);
    const connection = { address: cluster, ...(token() ? { token: token()! } : {}), allowInsecure: values['allow-insecure'] === true };
    let client: RayJobsClient;
    try {
      client = clusterClient(connection);
    } catch (e) {
      throw clusterError(e);
    }
    const { signal, dispose } = interrupt();
    let submitted;
    try {
      submitted = await submitRemoteRun({
        runDir, engine, stage, options, runnerFile: runnerPath(), cluster: connection, client, signal,
        ...(typeof values['sync-target'] === 'string' ? { syncTarget: values['sync-target'] } : {}),
        ...(gpus !== undefined ? { gpus } : {}),
        ...(typeof values['image'] === 'string' ? { image: values['image'] } : {}),
        ...(typeof values['o'] === 'string' ? { outDir: path.resolve(cwd, values['o']) } : {}),
        onProgress: (m) => err(`cai: ${m}`),
      });
    } catch (e) {
      if (e instanceof Error && /sync target/.test(e.message)) throw new UsageError(e.message);
      throw clusterError(exportError(dir, e));
    } finally {
      dispose();
    }
    for (const n of submitted.notes) err(`warning: ${n}`);
    err(`cai: submitted ${submitted.submissionId} (${submitted.uploaded ? 'uploaded' : 'the cluster had'} ${submitted.packageUri}); its run folder is ${submitted.dir}`);
    if (values['detach']) {
      process.stdout.write(`${submitted.dir}\n`);
      return 0;
    }
    return follow(submitted.dir, client, values['no-pull'] !== true);
  },
};

const followCmd: Command = {
  summary: 'Follow a submitted run: its log, live metrics into metrics.jsonl, its status, and its artefacts when it ends (or, with --cluster, any job\'s log by submission id).',
  usage: `cai follow RUN_DIR|SUBMISSION_ID [--cluster URL] [--no-pull] [--allow-insecure]  (token: ${TOKEN_ENV})`,
  async run(args, cwd) {
    const { values, positionals } = parse(args, { cluster: { type: 'string' }, 'no-pull': { type: 'boolean' }, 'allow-insecure': { type: 'boolean' } }, this.usage);
    const job = positionals[0];
    if (!job) throw new UsageError(`usage: ${this.usage}`);
    const dir = path.resolve(cwd, job);
    const isRun = fs.existsSync(path.join(dir, 'manifest.json'));
    let address = typeof values['cluster'] === 'string' ? values['cluster'] : undefined;
    if (isRun) {
      try {
        address ??= remoteOf(dir).remote.cluster;
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
    } else if (!address) throw new UsageError(`${job} is not a run folder; to follow a job by its submission id, give --cluster`);
    let client: RayJobsClient;
    try {
      client = clusterClient({ address, ...(token() ? { token: token()! } : {}), allowInsecure: values['allow-insecure'] === true });
    } catch (e) {
      throw clusterError(e);
    }
    return isRun ? follow(dir, client, values['no-pull'] !== true) : followLog(job, client);
  },
};

const cancelCmd: Command = {
  summary: 'Stop the Ray job of a submitted run (the run folder keeps everything followed so far).',
  usage: `cai cancel RUN_DIR [--allow-insecure]  (token: ${TOKEN_ENV})`,
  async run(args, cwd) {
    const { values, positionals } = parse(args, { 'allow-insecure': { type: 'boolean' } }, this.usage);
    if (!positionals[0]) throw new UsageError(`usage: ${this.usage}`);
    const dir = path.resolve(cwd, positionals[0]);
    let remote;
    try {
      remote = remoteOf(dir).remote;
    } catch (e) {
      throw new CliError((e as Error).message, 2);
    }
    if (isTerminalStatus(remote.status)) {
      err(`cai: ${remote.submissionId} has ended already (${remote.status})`);
      return 0;
    }
    try {
      const client = clusterClient({ address: remote.cluster, ...(token() ? { token: token()! } : {}), allowInsecure: values['allow-insecure'] === true });
      const stopped = await cancelRemoteRun(dir, client);
      err(stopped ? `cai: asked ${remote.cluster} to stop ${remote.submissionId}` : `cai: ${remote.submissionId} had ended already`);
      return 0;
    } catch (e) {
      throw clusterError(e);
    }
  },
};

export const CLUSTER_COMMANDS: Record<string, Command> = { submit: submitCmd, follow: followCmd, cancel: cancelCmd };
