// A run's stage submitted to a Ray cluster and followed back (src/node/scaleout/remoteRun.ts,
// `cai submit`/`cai follow`/`cai cancel`), against the loopback stand-in of the Jobs API. The
// stand-in's "cluster" really runs the job: the uploaded package is unzipped and its run.sh is
// started with a stand-in `python3` that prints the runner's tagged metric lines and writes what
// TRL writes, and its output goes to the log tail and to the sync target as on a cluster.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as yauzl from 'yauzl';
import type { EventRecord, Manifest, MetricRecord } from '../../src/core/runs/records';
import { RayJobsClient } from '../../src/node/ray/jobsClient';
import { cancelRemoteRun, followRemoteRun, submitRemoteRun, type SubmitInput } from '../../src/node/scaleout/remoteRun';
import { listFiles, zipFolder } from '../../src/node/scaleout/jobFolder';
import { RayStandIn, type StandInJob } from '../fixtures/rayStandIn';
import { event, tfRecords } from '../fixtures/tensorboardWriter';
import { until } from '../fixtures/until';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURE_RUN = path.join(ROOT, 'test', 'fixtures', 'scaleout', 'run');
const RUNNER = path.join(ROOT, 'resources', 'scaleout', 'runner.py');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const TOKEN = 'test-token-0123456789';
const fast = { minBackoffMs: 20, maxBackoffMs: 100 };

const LIVE_LINES = [
  '@@cai-metric {"step": 1, "stage": "pm", "epoch": 0.5, "learning_rate": 0.0003, "loss": 0.69}',
  '@@cai-metric {"step": 2, "stage": "pm", "accuracy": 0.75, "epoch": 1.0, "loss": 0.51}',
  '@@cai-metric {"step": 2, "stage": "pm", "eval_accuracy": 0.7, "eval_loss": 0.55}',
];
/** TRL's log_history for the same logs, plus one the live tail never showed and the run summary. */
const LOG_HISTORY = [
  { step: 1, epoch: 0.5, learning_rate: 0.0003, loss: 0.69 },
  { step: 2, accuracy: 0.75, epoch: 1.0, loss: 0.51 },
  { step: 2, eval_accuracy: 0.7, eval_loss: 0.55 },
  { step: 2, eval_margin: 0.4 },
  { step: 2, train_runtime: 12.5, train_loss: 0.6, train_samples_per_second: 3.2 },
];

/** A `python3` that stands in for runner.py on the cluster. */
function fakePython(bin: string): void {
  fs.mkdirSync(bin, { recursive: true });
  const state = JSON.stringify({ global_step: 2, max_steps: 2, log_history: LOG_HISTORY });
  fs.writeFileSync(path.join(bin, 'python3'), [
    '#!/bin/sh',
    'echo "cai-runner: loading the model" >&2',
    ...LIVE_LINES.map((l) => `echo '${l}'`),
    'echo "plain progress line"',
    'mkdir -p output/checkpoint-2 output/tensorboard && echo "written while training" > output/tensorboard/marker.txt',
    `echo '${state}' > output/trainer_state.json`,
    'cp output/trainer_state.json output/checkpoint-2/',
    'echo "{}" > output/config.json && echo weights > output/model.safetensors',
    'exit "${FAKE_EXIT:-0}"',
    '',
  ].join('\n'), { mode: 0o755 });
}

function unzip(buf: Buffer, dir: string): Promise<Map<string, number>> {
  const modes = new Map<string, number>();
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      zip.on('entry', (e: yauzl.Entry) => {
        modes.set(e.fileName, (e.externalFileAttributes >>> 16) & 0o777);
        zip.openReadStream(e, (err2, stream) => {
          if (err2 || !stream) return reject(err2);
          const file = path.join(dir, ...e.fileName.split('/'));
          fs.mkdirSync(path.dirname(file), { recursive: true });
          const out = fs.createWriteStream(file, { mode: (e.externalFileAttributes >>> 16) & 0o777 || 0o644 });
          stream.pipe(out);
          out.on('close', () => zip.readEntry());
        });
      });
      zip.on('end', () => resolve(modes));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** What a cluster does with a submitted job: unzip its package, run its entrypoint, stream the output to the log. */
async function runOnCluster(ray: RayStandIn, id: string, work: string, bin: string, env: Record<string, string> = {}): Promise<number> {
  const job = ray.jobs.get(id)!;
  const renv = job.runtime_env as { working_dir: string; env_vars?: Record<string, string> };
  const pkg = ray.packages.get(renv.working_dir)!;
  fs.mkdirSync(work, { recursive: true });
  await unzip(pkg, work);
  ray.setStatus(id, 'RUNNING');
  const argv = job.entrypoint.split(' ');
  const child = spawn(argv[0]!, argv.slice(1), { cwd: work, env: { ...process.env, PATH: `${bin}:${process.env['PATH']}`, ...(renv.env_vars ?? {}), ...env } });
  child.stdout.on('data', (b: Buffer) => ray.appendLog(id, b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => ray.appendLog(id, b.toString('utf8')));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  ray.setStatus(id, code === 0 ? 'SUCCEEDED' : 'FAILED');
  return code;
}

function jsonl<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

const manifestOf = (dir: string): Manifest => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;

describe('a stage trained on a Ray cluster and followed back', { timeout: 120_000 }, () => {
  let ray: RayStandIn;
  let tmp: string;
  let runDir: string;
  let bin: string;
  const client = (): RayJobsClient => new RayJobsClient({ address: ray.address, token: TOKEN });
  const submitInput = (over: Partial<SubmitInput> = {}): SubmitInput => ({
    runDir, engine: 'trl', stage: 'pm', runnerFile: RUNNER, cluster: { address: ray.address, token: TOKEN, profile: 'lab' }, client: client(), ...over,
  });

  before(async () => {
    ray = await RayStandIn.start({ token: TOKEN, frameChars: 37 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-remote-'));
    runDir = path.join(tmp, 'runs', 'scaleout-fixture');
    fs.cpSync(FIXTURE_RUN, runDir, { recursive: true });
    bin = path.join(tmp, 'bin');
    fakePython(bin);
  });
  after(async () => {
    await ray.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('zips a folder at its root, in order, with modes and fixed times, so equal folders give equal bytes', async () => {
    const a = path.join(tmp, 'zip-a');
    fs.mkdirSync(path.join(a, 'data'), { recursive: true });
    fs.writeFileSync(path.join(a, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(a, 'data', 'x.jsonl'), '{"a":1}\n');
    fs.symlinkSync('/etc/passwd', path.join(a, 'link'));
    const z1 = await zipFolder(a);
    fs.utimesSync(path.join(a, 'run.sh'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const z2 = await zipFolder(a);
    assert.deepEqual(z1, z2);
    assert.deepEqual(listFiles(a), ['data/x.jsonl', 'run.sh']);
    const modes = await unzip(z1, path.join(tmp, 'zip-out'));
    assert.deepEqual([...modes.entries()], [['data/x.jsonl', 0o644 & ~process.umask()], ['run.sh', 0o755]]);
    await assert.rejects(zipFolder(a, 10), /the job package is .* MiB; Ray takes working_dir packages under/);
  });

  it('submits the exported stage, follows it live into metrics.jsonl without duplicates across a dropped tail, and pulls the output', async () => {
    const shared = path.join(tmp, 'shared');
    const sub = await submitRemoteRun(submitInput({ syncTarget: `${shared}/`, now: new Date(2026, 10, 28, 12, 0, 0) }));
    assert.equal(sub.dir, path.join(tmp, 'runs', 'scaleout-fixture-pm-trl-20261128-120000'));
    assert.equal(sub.submissionId, 'cai-scaleout-fixture-pm-trl-20261128-120000');
    assert.equal(sub.uploaded, true);

    // What the cluster was asked to run.
    const job = ray.jobs.get(sub.submissionId) as StandInJob;
    const renv = job.runtime_env as Record<string, unknown>;
    const pkg = ray.packages.get(renv['working_dir'] as string)!;
    assert.equal(renv['working_dir'], `gcs://_ray_pkg_${createHash('sha1').update(pkg).digest('hex')}.zip`);
    assert.equal(job.entrypoint, 'sh run.sh');
    assert.equal(job.body['entrypoint_num_gpus'], 1);
    const jobManifest = JSON.parse(fs.readFileSync(path.join(sub.dir, 'job', 'manifest.json'), 'utf8')) as { pins: { packages: string[] } };
    assert.deepEqual(renv['pip'], jobManifest.pins.packages);
    assert.deepEqual(renv['env_vars'], { CAI_SYNC_TARGET: `${shared}/${sub.submissionId}` });
    assert.deepEqual(job.metadata, { cai_run: 'scaleout-fixture', cai_stage: 'pm', cai_engine: 'trl' });

    // The new run folder, before anything ran.
    let m = manifestOf(sub.dir);
    assert.equal(m.runId, 'scaleout-fixture-pm-trl-20261128-120000');
    assert.equal(m.stages.pm.status, 'pending');
    assert.equal(m.stages.sft.status, 'skipped');
    assert.equal(m.remote?.status, 'PENDING');
    assert.equal(m.remote?.profile, 'lab');
    assert.equal(m.remote?.source.dir, runDir);
    assert.equal(m.backend.used, 'trl on Ray 2.54.0'.replace('2.54.0', m.versions['ray']!));

    ray.dropTailOnceAfter(120);
    const following = followRemoteRun({ dir: sub.dir, client: client(), pollMs: 20, followOptions: fast });
    const code = await runOnCluster(ray, sub.submissionId, path.join(tmp, 'cluster-1'), bin);
    assert.equal(code, 0);
    const r = await following;
    assert.equal(r.status, 'SUCCEEDED');
    assert.ok(r.reconnects >= 1, 'the tail was dropped once');

    // Live lines and the pulled trainer_state.json: every log entry once, ids by position.
    const metrics = jsonl<MetricRecord>(path.join(sub.dir, 'metrics.jsonl'));
    assert.deepEqual(metrics.map((x) => x.id), ['log-0', 'log-1', 'log-2', 'log-3']);
    const strip = ({ time: _t, ...rest }: MetricRecord) => rest;
    assert.deepEqual(metrics.map(strip), [
      { id: 'log-0', stage: 'pm', step: 1, epoch: 0.5, lr: 0.0003, loss: 0.69 },
      { id: 'log-1', stage: 'pm', step: 2, accuracy: 0.75, epoch: 1.0, loss: 0.51 },
      { id: 'log-2', stage: 'pm', step: 2, eval_accuracy: 0.7, eval_loss: 0.55 },
      { id: 'log-3', stage: 'pm', step: 2, eval_margin: 0.4 },
    ]);
    assert.equal(r.metrics, 4);
    assert.equal(fs.readFileSync(path.join(sub.dir, 'driver.log'), 'utf8'), ray.jobs.get(sub.submissionId)!.log);
    assert.match(fs.readFileSync(path.join(sub.dir, 'driver.log'), 'utf8'), /plain progress line/);

    m = manifestOf(sub.dir);
    assert.equal(m.remote?.status, 'SUCCEEDED');
    assert.equal(m.stages.pm.status, 'done');
    assert.deepEqual(m.remote?.checkpoints, [
      { path: 'artifacts/checkpoint-2', step: 2, kind: 'trl-checkpoint', remote: `${shared}/${sub.submissionId}/checkpoint-2` },
      { path: 'artifacts', kind: 'model', remote: `${shared}/${sub.submissionId}` },
    ]);
    assert.ok(fs.existsSync(path.join(sub.dir, 'artifacts', 'checkpoint-2', 'trainer_state.json')));
    // output/tensorboard was a link into the shared target while the trainer ran, removed before the copy
    assert.equal(fs.readFileSync(path.join(shared, sub.submissionId, 'tensorboard', 'marker.txt'), 'utf8'), 'written while training\n');
    assert.equal(fs.existsSync(path.join(tmp, 'cluster-1', 'output', 'tensorboard')), false);
    assert.ok(fs.existsSync(path.join(sub.dir, 'artifacts', 'tensorboard', 'marker.txt')));
    const events = jsonl<EventRecord>(path.join(sub.dir, 'events.jsonl')).map((e) => e.kind);
    assert.deepEqual(events.filter((k) => k !== 'remote-status'), ['remote-submitted', 'remote-pulled']);
    assert.ok(events.filter((k) => k === 'remote-status').length >= 2, 'RUNNING and SUCCEEDED were recorded');

    // Following again (a second session): the same records, nothing doubled, the same log.
    const again = await followRemoteRun({ dir: sub.dir, client: client(), pollMs: 20, followOptions: fast });
    assert.equal(again.metrics, 0);
    assert.deepEqual(jsonl<MetricRecord>(path.join(sub.dir, 'metrics.jsonl')).map((x) => x.id), ['log-0', 'log-1', 'log-2', 'log-3']);
    assert.equal(fs.readFileSync(path.join(sub.dir, 'driver.log'), 'utf8'), ray.jobs.get(sub.submissionId)!.log);

    // The same job folder again: the package is content-addressed, so the cluster keeps its copy.
    const twice = await submitRemoteRun(submitInput({ now: new Date(2026, 10, 28, 12, 0, 1) }));
    assert.equal(twice.uploaded, false);
    assert.equal(twice.packageUri, sub.packageUri);
  });

  it('records a failed job and a failed pull, and a later follow pulls what is there', async () => {
    const shared = path.join(tmp, 'shared-2');
    const sub = await submitRemoteRun(submitInput({ syncTarget: shared, gpus: 0, image: 'rayproject/ray:2.54.0-gpu', now: new Date(2026, 10, 28, 13, 0, 0) }));
    const job = ray.jobs.get(sub.submissionId)!;
    assert.equal('entrypoint_num_gpus' in job.body, false);
    assert.equal((job.runtime_env as Record<string, unknown>)['image_uri'], 'rayproject/ray:2.54.0-gpu');
    assert.equal('pip' in (job.runtime_env as Record<string, unknown>), false);
    const following = followRemoteRun({ dir: sub.dir, client: client(), pollMs: 20, followOptions: fast });
    // The trainer fails and the copy fails too (the target is a file): nothing reaches the target.
    fs.mkdirSync(path.dirname(shared), { recursive: true });
    fs.writeFileSync(shared, 'not a folder');
    await runOnCluster(ray, sub.submissionId, path.join(tmp, 'cluster-2'), bin, { FAKE_EXIT: '3' });
    const r = await following;
    assert.equal(r.status, 'FAILED');
    assert.match(ray.jobs.get(sub.submissionId)!.log, /run\.sh: copying output\/ to .* failed/);
    assert.match(r.pullError ?? '', /sync target .* (does not exist|is not a folder)/);
    let m = manifestOf(sub.dir);
    assert.equal(m.stages.pm.status, 'failed');
    assert.match(String(m.remote?.pullError), /sync target/);
    assert.equal(jsonl<MetricRecord>(path.join(sub.dir, 'metrics.jsonl')).length, 3, 'the live lines were kept');

    // Someone copies the output by hand; following again pulls it and fills in the missing log entry.
    fs.rmSync(shared);
    fs.cpSync(path.join(tmp, 'cluster-2', 'output'), path.join(shared, sub.submissionId), { recursive: true });
    const again = await followRemoteRun({ dir: sub.dir, client: client(), pollMs: 20, followOptions: fast });
    assert.equal(again.pullError, undefined);
    assert.equal(again.metrics, 1);
    m = manifestOf(sub.dir);
    assert.equal(m.remote?.pullError, undefined);
    assert.equal(m.remote?.checkpoints?.length, 2);
  });

  it('run.sh copies the output to an s3:// target with the AWS CLI, and a failed copy fails the job', async () => {
    const job = path.join(tmp, 'runs', 'scaleout-fixture-pm-trl-20261128-120000', 'job');
    const work = path.join(tmp, 's3-job');
    fs.cpSync(job, work, { recursive: true });
    const awsBin = path.join(tmp, 'aws-bin');
    fs.mkdirSync(awsBin, { recursive: true });
    const argvFile = path.join(tmp, 'aws-argv');
    fs.writeFileSync(path.join(awsBin, 'aws'), `#!/bin/sh\necho "$@" > '${argvFile}'\nls output > '${argvFile}.files'\nexit "\${FAKE_AWS_EXIT:-0}"\n`, { mode: 0o755 });
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile('sh', ['run.sh'], { cwd: work, env: { ...process.env, PATH: `${bin}:${awsBin}:${process.env['PATH']}`, CAI_SYNC_TARGET: 's3://bucket/runs/job-1', ...env } }, (err, _out, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr }));
      });
    const ok = await run({});
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(fs.readFileSync(argvFile, 'utf8'), 's3 sync output s3://bucket/runs/job-1 --only-show-errors\n');
    assert.deepEqual(fs.readFileSync(`${argvFile}.files`, 'utf8').trim().split('\n'), ['checkpoint-2', 'config.json', 'model.safetensors', 'tensorboard', 'trainer_state.json']);
    const failed = await run({ FAKE_AWS_EXIT: '2' });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /run\.sh: copying output\/ to s3:\/\/bucket\/runs\/job-1 failed/);
    const both = await run({ FAKE_AWS_EXIT: '2', FAKE_EXIT: '7' });
    assert.equal(both.code, 7, 'the trainer\'s own failure is the job\'s exit status');
  });

  it('reads an OpenRLHF job\'s TensorBoard event files from a shared sync target while it runs, each step once it is whole', async () => {
    const shared = path.join(tmp, 'shared-3');
    const sub = await submitRemoteRun(submitInput({ engine: 'openrlhf', syncTarget: shared, now: new Date(2026, 10, 28, 14, 0, 0) }));
    assert.match(ray.jobs.get(sub.submissionId)!.entrypoint, /^sh run\.sh$/);
    const following = followRemoteRun({ dir: sub.dir, client: client(), pollMs: 20, followOptions: fast });
    ray.setStatus(sub.submissionId, 'RUNNING');
    ray.appendLog(sub.submissionId, '[rank0]: Train epoch [1/1]: 100%|██████████| loss=0.6\n');
    // where run.sh's output/tensorboard link points
    const tb = path.join(shared, sub.submissionId, 'tensorboard');
    fs.mkdirSync(tb, { recursive: true });
    const file = path.join(tb, 'events.out.tfevents.1700000000.node-1');
    fs.writeFileSync(file, tfRecords([event(1700000000, 0, 'brain.Event:2'), event(1700000001, 1, { 'train/gpt_loss': 2.5 }), event(1700000002, 2, { 'train/gpt_loss': 2.25 })]));
    const ids = () => jsonl<MetricRecord>(path.join(sub.dir, 'metrics.jsonl')).map((r) => r.id);
    await until(() => ids().length > 0, 10_000, 10);
    assert.deepEqual(ids(), ['tb-1'], 'step 2 waits for a later step');
    fs.appendFileSync(file, tfRecords([event(1700000002.5, 2, { 'train/lr': 0.0001 }), event(1700000003, 3, { 'train/gpt_loss': 2.0, 'train/lr': 0.0001 })]));
    await until(() => ids().length > 1, 10_000, 10);
    assert.deepEqual(ids(), ['tb-1', 'tb-2']);
    ray.setStatus(sub.submissionId, 'SUCCEEDED');
    const r = await following;
    assert.equal(r.pulled?.source, 'tensorboard');
    const strip = ({ time: _t, ...rest }: MetricRecord) => rest;
    assert.deepEqual(jsonl<MetricRecord>(path.join(sub.dir, 'metrics.jsonl')).map(strip), [
      { id: 'tb-1', stage: 'pm', step: 1, gpt_loss: 2.5 },
      { id: 'tb-2', stage: 'pm', step: 2, gpt_loss: 2.25, lr: Math.fround(0.0001) },
      { id: 'tb-3', stage: 'pm', step: 3, gpt_loss: 2.0, lr: Math.fround(0.0001) },
    ]);
    assert.equal(r.metrics, 3, 'the pull found nothing new');
  });

  it('lets one process at a time follow a run folder, and takes over a lock its holder left behind', async () => {
    const sub = await submitRemoteRun(submitInput({ now: new Date(2026, 10, 28, 14, 30, 0) }));
    const lock = path.join(sub.dir, 'follow.lock');
    // another live process (this test's parent) holds it
    fs.writeFileSync(lock, `${process.ppid}\n`);
    await assert.rejects(followRemoteRun({ dir: sub.dir, client: client(), pollMs: 20 }), (e: Error) => e.name === 'FollowBusyError' && e.message === `${sub.dir} is being followed by another process (pid ${process.ppid})`);
    // the CLI then shows the log and writes nothing
    const tails = ray.tailConnections;
    const cli = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, 'follow', sub.dir], { env: { ...process.env, RAY_AUTH_TOKEN: TOKEN } }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr })),
    );
    ray.setStatus(sub.submissionId, 'RUNNING');
    ray.appendLog(sub.submissionId, `${LIVE_LINES[0]}\n`);
    await until(() => ray.tailConnections > tails, 10_000, 10);
    ray.setStatus(sub.submissionId, 'SUCCEEDED');
    const shown = await cli;
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stderr, new RegExp(`pid ${process.ppid}\\), which writes the run folder; showing the job's log only`));
    assert.equal(shown.stdout, `${LIVE_LINES[0]}\n`);
    assert.equal(fs.existsSync(path.join(sub.dir, 'metrics.jsonl')), false, 'the busy CLI wrote nothing');
    // a lock whose process has exited is stale: taken over, held while following, released after
    const gone = await new Promise<number>((resolve) => {
      const c = spawn(process.execPath, ['-e', '']);
      c.on('exit', () => resolve(c.pid!));
    });
    fs.writeFileSync(lock, `${gone}\n`);
    const following = followRemoteRun({ dir: sub.dir, client: client(), pollMs: 20, followOptions: fast });
    assert.equal(fs.readFileSync(lock, 'utf8').trim(), String(process.pid));
    await assert.rejects(followRemoteRun({ dir: sub.dir, client: client() }), /being followed by another process/);
    const r = await following;
    assert.equal(r.metrics, 1);
    assert.equal(fs.existsSync(lock), false, 'released at the end');
  });

  it('cancels a running job: Ray stops it and the run folder says so', async () => {
    const sub = await submitRemoteRun(submitInput({ now: new Date(2026, 10, 28, 15, 0, 0) }));
    ray.setStatus(sub.submissionId, 'RUNNING');
    const following = followRemoteRun({ dir: sub.dir, client: client(), pollMs: 20, followOptions: fast });
    assert.equal(await cancelRemoteRun(sub.dir, client()), true);
    const r = await following;
    assert.equal(r.status, 'STOPPED');
    const m = manifestOf(sub.dir);
    assert.equal(m.stages.pm.status, 'failed');
    assert.equal(m.stages.pm.error, 'stopped on the cluster');
    assert.ok(jsonl<EventRecord>(path.join(sub.dir, 'events.jsonl')).some((e) => e.kind === 'remote-stop'));
  });

  it('records a refused submission in the new run folder; a bad token or cluster starts nothing', async () => {
    const now = new Date(2026, 10, 28, 16, 0, 0);
    await submitRemoteRun(submitInput({ now }));
    await assert.rejects(submitRemoteRun(submitInput({ now, outDir: path.join(tmp, 'dup') })), (e: Error) => /already exists|already/.test(e.message));
    const m = manifestOf(path.join(tmp, 'dup'));
    assert.equal(m.stages.pm.status, 'failed');
    assert.match(String(m.stages.pm.error), /^not submitted: /);
    assert.equal(m.remote?.status, 'FAILED');

    const before = fs.readdirSync(path.join(tmp, 'runs')).length;
    await assert.rejects(submitRemoteRun(submitInput({ now: new Date(2026, 10, 28, 17, 0, 0), client: new RayJobsClient({ address: ray.address, token: 'wrong' }) })), /403|Forbidden|not allowed/i);
    // The job folder was written before the cluster answered; no run folder (manifest) was made.
    assert.equal(fs.existsSync(path.join(tmp, 'runs', 'scaleout-fixture-pm-trl-20261128-170000', 'manifest.json')), false);
    assert.equal(fs.readdirSync(path.join(tmp, 'runs')).length, before + 1);
    await assert.rejects(submitRemoteRun(submitInput({ syncTarget: 'relative/path' })), /must be an absolute shared path or an s3:\/\/ URI/);
  });

  describe('cai submit, cai follow and cai cancel', () => {
    const cai = (args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, cwd: tmp }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        });
      });

    it('submits detached, follows to the end with the log on stdout, and cancels', async () => {
      const shared = path.join(tmp, 'shared-cli');
      const sub = await cai(['submit', runDir, '--cluster', ray.address, '--engine', 'trl', '--stage', 'sft', '--sync-target', shared, '--detach'], { RAY_AUTH_TOKEN: TOKEN });
      assert.equal(sub.code, 0, sub.stderr);
      const dir = sub.stdout.trim();
      assert.ok(fs.existsSync(path.join(dir, 'manifest.json')), dir);
      assert.match(sub.stderr, /cai: submitted cai-scaleout-fixture-sft-trl-\d{8}-\d{6} \(uploaded gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip\); its run folder is /);
      const id = manifestOf(dir).remote!.submissionId;

      const follow = cai(['follow', dir], { RAY_AUTH_TOKEN: TOKEN });
      await runOnCluster(ray, id, path.join(tmp, 'cluster-cli'), bin);
      const f = await follow;
      assert.equal(f.code, 0, f.stderr);
      assert.ok(f.stdout.includes(LIVE_LINES[0]!), 'the driver log is printed');
      assert.match(f.stderr, /cai: SUCCEEDED; \d+ new metric records/);
      assert.match(f.stderr, /pulled \d+ files .* 2 checkpoint\(s\)\n {2}artifacts\/checkpoint-2 \(step 2\)/);
      assert.equal(jsonl<MetricRecord>(path.join(dir, 'metrics.jsonl')).length, 4);

      const sub2 = await cai(['submit', runDir, '--cluster', ray.address, '--engine', 'trl', '--stage', 'pm', '--detach', '-o', path.join(tmp, 'cli-2')], { RAY_AUTH_TOKEN: TOKEN });
      assert.equal(sub2.code, 0, sub2.stderr);
      const id2 = manifestOf(path.join(tmp, 'cli-2')).remote!.submissionId;
      ray.setStatus(id2, 'RUNNING');
      const c = await cai(['cancel', path.join(tmp, 'cli-2')], { RAY_AUTH_TOKEN: TOKEN });
      assert.equal(c.code, 0, c.stderr);
      assert.equal(ray.jobs.get(id2)!.status, 'STOPPED');
      assert.equal(manifestOf(path.join(tmp, 'cli-2')).remote!.status, 'STOPPED');
      const c2 = await cai(['cancel', path.join(tmp, 'cli-2')], { RAY_AUTH_TOKEN: TOKEN });
      assert.match(c2.stderr, /has ended already \(STOPPED\)/);
    });

    it('refuses in one line: no token, an open remote cluster, a run that was not submitted, bad flags', async () => {
      const noToken = await cai(['submit', runDir, '--cluster', ray.address, '--engine', 'trl', '--stage', 'pm', '--detach', '-o', path.join(tmp, 'cli-x')]);
      assert.equal(noToken.code, 1);
      assert.match(noToken.stderr, /\ncai: Ray cluster requires a token: .*\(401 on GET \/api\/version\)\. \(set RAY_AUTH_TOKEN to the cluster's token\)\n$/);
      assert.equal(fs.existsSync(path.join(tmp, 'cli-x', 'manifest.json')), false);
      const open = await cai(['submit', runDir, '--cluster', 'http://10.1.2.3:8265', '--engine', 'trl', '--stage', 'pm']);
      assert.equal(open.code, 2);
      assert.match(open.stderr, /^cai: Refusing plain http:\/\/ to 10\.1\.2\.3:8265 without a token.*--allow-insecure/);
      const notRemote = await cai(['follow', runDir]);
      assert.equal(notRemote.code, 2);
      assert.match(notRemote.stderr, /not a run submitted to a cluster/);
      const byId = await cai(['follow', 'raysubmit_123']);
      assert.equal(byId.code, 2);
      assert.match(byId.stderr, /give --cluster/);
      const gpus = await cai(['submit', runDir, '--cluster', ray.address, '--engine', 'trl', '--stage', 'pm', '--gpus', '1.5']);
      assert.equal(gpus.code, 2);
      assert.match(gpus.stderr, /--gpus must be a whole number/);
      const ppo = await cai(['submit', runDir, '--cluster', ray.address, '--engine', 'trl', '--stage', 'ppo']);
      assert.equal(ppo.code, 2);
      assert.match(ppo.stderr, /a PPO job needs its reward model \(--reward-model/);
      const engine = await cai(['submit', runDir, '--cluster', ray.address, '--engine', 'deepspeed', '--stage', 'pm']);
      assert.equal(engine.code, 2);
      assert.match(engine.stderr, /--engine must be trl or openrlhf/);
    });
  });
});
