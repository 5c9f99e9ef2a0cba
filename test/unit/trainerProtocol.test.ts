/**
 * The trainer's protocol (src/protocol/trainer.ts): the process shell over in-memory pipes with
 * test jobs, then the real thing: a forked trainer driven by TrainerClient, how it stops, how
 * uncaught errors are reported, and that it exits when its parent dies.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { type MessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { ModelFileError } from '../../src/core/model/errors.js';
import {
  type BackendReport,
  type JobEndParams,
  type JobSpec,
  type ProgressParams,
  type TrainLmParams,
  InitializeRequest,
  JobEndNotification,
  ProgressNotification,
  ShutdownRequest,
  StartRequest,
  StatusRequest,
  StopRequest,
  TRAINER_PROTOCOL_VERSION,
  TrainerErrorCodes,
} from '../../src/protocol/trainer.js';
import { JobCancelledError, JobError, type JobContext, JobRegistry } from '../../src/trainer/jobs.js';
import { serveTrainer } from '../../src/trainer/process.js';
import { TrainerClient } from '../../src/node/trainerClient.js';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'trainer');
const TEST_TRAINER = path.join(FIXTURES, 'testTrainer.ts');

function trainParams(steps: number, extra: Partial<TrainLmParams> = {}): TrainLmParams {
  return {
    model: { preset: 'test' },
    data: { path: 'none', format: 'text' },
    steps,
    batchSize: 1,
    seqLen: 8,
    lr: 1e-3,
    schedule: { kind: 'constant' },
    weightDecay: 0,
    clipNorm: 1,
    accumulate: 1,
    seed: 1,
    checkpointDir: 'none',
    checkpointEvery: 0,
    keepLast: 1,
    ...extra,
  };
}

const REPORT: BackendReport = {
  backend: 'cpu',
  requested: 'cpu',
  reason: 'test',
  fallbacks: [],
  tfjsVersion: 'none',
  nodeVersion: process.version,
  platform: process.platform,
  threads: 1,
  selfTest: { ok: true, seconds: 0 },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts steps of `ms` each; honours both kinds of stop. `lr` < 0 makes it fail with a typed error. */
async function countingJob(params: TrainLmParams, ctx: JobContext, ms = 5) {
  if (params.lr < 0) throw new JobError('nonfinite', 'loss became NaN at step 3');
  if (params.seed === 666) throw new ModelFileError('model.safetensors', 'is truncated');
  let step = 0;
  while (step < params.steps) {
    if (ctx.stopRequested() === 'checkpoint') return { steps: step, finalLoss: 0.5, checkpoint: `ckpt-${step}` };
    ctx.throwIfCancelled();
    await sleep(ms);
    step++;
    ctx.progress({ stage: 'train', step, totalSteps: params.steps, metrics: { loss: 1 / step } });
  }
  return { steps: step, finalLoss: 1 / step };
}

/** A trainer served over in-memory pipes, and a client connection to it. */
function inMemoryTrainer() {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const registry = new JobRegistry()
    .register('train-lm', (p, ctx) => countingJob(p, ctx))
    // scoring waits for cancellation only: it ends through the token or not at all
    .register('score', (_p, ctx) => new Promise((_resolve, reject) => ctx.token.onCancellationRequested(() => reject(new JobCancelledError()))));
  let initCalls = 0;
  const exits: number[] = [];
  const server = serveTrainer(new StreamMessageReader(toServer), new StreamMessageWriter(toClient), {
    registry,
    initializeBackend: async (params) => {
      initCalls++;
      return { ...REPORT, requested: params.backend };
    },
    exit: (code) => exits.push(code),
    shutdownGraceMs: 500,
  });
  const client = createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
  const progress: ProgressParams[] = [];
  const ends = new Map<string, JobEndParams>();
  const endWaiters = new Map<string, (e: JobEndParams) => void>();
  client.onNotification(ProgressNotification, (p) => {
    progress.push(p);
  });
  client.onNotification(JobEndNotification, (e) => {
    ends.set(e.jobId, e);
    endWaiters.get(e.jobId)?.(e);
  });
  client.listen();
  const jobEnd = (jobId: string) => {
    const done = ends.get(jobId);
    return done ? Promise.resolve(done) : new Promise<JobEndParams>((resolve) => endWaiters.set(jobId, resolve));
  };
  const initialize = () => client.sendRequest(InitializeRequest, { protocolVersion: TRAINER_PROTOCOL_VERSION, backend: 'cpu', logLevel: 'info' });
  const dispose = () => {
    client.dispose();
    void server.close(0);
  };
  return { client, server, progress, jobEnd, initialize, dispose, exits, initCount: () => initCalls };
}

async function rejectsWith(p: Promise<unknown>, code: number, data?: unknown): Promise<ResponseError<unknown>> {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (data !== undefined) assert.deepEqual(error.data, data);
    return error;
  }
  assert.fail('the request was expected to fail');
}

const start = (c: MessageConnection, jobId: string, job: JobSpec) => c.sendRequest(StartRequest, { jobId, job });

describe('trainer protocol over in-memory pipes', () => {
  it('checks the protocol version, initializes once and reports the backend', async () => {
    const t = inMemoryTrainer();
    try {
      const bad = await rejectsWith(t.client.sendRequest(InitializeRequest, { protocolVersion: TRAINER_PROTOCOL_VERSION + 1, backend: 'cpu', logLevel: 'info' }), TrainerErrorCodes.protocolVersion);
      assert.match(bad.message, /protocol version/);
      assert.equal(t.initCount(), 0);
      assert.deepEqual(await t.initialize(), REPORT);
      assert.deepEqual(await t.initialize(), REPORT, 'a second initialize with the same backend answers the same report');
      assert.equal(t.initCount(), 1);
      assert.deepEqual(await t.client.sendRequest(StatusRequest), { state: 'idle', backend: 'cpu' });
    } finally {
      t.dispose();
    }
  });

  it('refuses jobs before initialize', async () => {
    const t = inMemoryTrainer();
    try {
      await rejectsWith(start(t.client, 'j', { kind: 'train-lm', params: trainParams(3) }), TrainerErrorCodes.notInitialized);
      assert.equal((await t.client.sendRequest(StatusRequest)).state, 'idle');
    } finally {
      t.dispose();
    }
  });

  it('runs a job to completion with progress, one job at a time', async () => {
    const t = inMemoryTrainer();
    try {
      await t.initialize();
      assert.deepEqual(await start(t.client, 'a', { kind: 'train-lm', params: trainParams(20) }), { accepted: true });
      await rejectsWith(start(t.client, 'b', { kind: 'train-lm', params: trainParams(1) }), TrainerErrorCodes.busy);
      while (t.progress.length < 2) await sleep(2);
      const s = await t.client.sendRequest(StatusRequest);
      assert.equal(s.state, 'running');
      assert.equal(s.jobId, 'a');
      assert.equal(s.stage, 'train');
      assert.equal(s.totalSteps, 20);
      assert.ok(s.step !== undefined && s.step >= 2);
      const end = await t.jobEnd('a');
      assert.deepEqual(end, { jobId: 'a', kind: 'train-lm', outcome: 'completed', result: { steps: 20, finalLoss: 1 / 20 } });
      assert.deepEqual(
        t.progress.map((p) => p.step),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.ok(t.progress.every((p) => p.jobId === 'a' && p.metrics['loss'] === 1 / p.step));
      assert.equal((await t.client.sendRequest(StatusRequest)).state, 'idle');
      // the trainer is free again
      await start(t.client, 'b', { kind: 'train-lm', params: trainParams(1) });
      assert.equal((await t.jobEnd('b')).outcome, 'completed');
    } finally {
      t.dispose();
    }
  });

  it('stops with a checkpoint: the job returns early and ends `stopped` with its result', async () => {
    const t = inMemoryTrainer();
    try {
      await t.initialize();
      await start(t.client, 'long', { kind: 'train-lm', params: trainParams(100_000) });
      while (t.progress.length < 3) await sleep(2);
      assert.deepEqual(await t.client.sendRequest(StopRequest, { jobId: 'other', mode: 'checkpoint' }), { stopped: false });
      assert.deepEqual(await t.client.sendRequest(StopRequest, { jobId: 'long', mode: 'checkpoint' }), { stopped: true });
      const end = await t.jobEnd('long');
      assert.equal(end.outcome, 'stopped');
      assert.equal(end.error, undefined);
      assert.ok(end.kind === 'train-lm' && end.result);
      assert.ok(end.result.steps >= 3 && end.result.steps < 100_000);
      assert.equal(end.result.checkpoint, `ckpt-${end.result.steps}`);
      assert.equal((await t.client.sendRequest(StatusRequest)).state, 'idle');
    } finally {
      t.dispose();
    }
  });

  it("stops `now` by cancelling the job's token: it ends `cancelled`", async () => {
    const t = inMemoryTrainer();
    try {
      await t.initialize();
      await start(t.client, 's', { kind: 'score', params: { model: { preset: 'test' }, prompt: 'p', continuations: ['a'] } });
      await sleep(20);
      assert.equal((await t.client.sendRequest(StatusRequest)).state, 'running');
      assert.deepEqual(await t.client.sendRequest(StopRequest, { jobId: 's', mode: 'now' }), { stopped: true });
      const end = await t.jobEnd('s');
      assert.equal(end.outcome, 'cancelled');
      assert.equal(end.error?.code, 'cancelled');
      assert.equal(end.result, undefined);
    } finally {
      t.dispose();
    }
  });

  it('refuses an unknown job kind with a typed config error', async () => {
    const t = inMemoryTrainer();
    try {
      await t.initialize();
      const e = await rejectsWith(start(t.client, 'x', { kind: 'distill', params: {} } as unknown as JobSpec), TrainerErrorCodes.jobRefused);
      assert.deepEqual(e.data, { message: e.message, code: 'config', retryable: false });
      assert.match(e.message, /Unknown job kind 'distill'; this trainer runs: 'train-lm', 'score'/);
      assert.equal((await t.client.sendRequest(StatusRequest)).state, 'idle');
      // the registry refuses it the same way when called directly
      const registry = new JobRegistry();
      await assert.rejects(registry.run({ kind: 'generate', params: { model: { preset: 'x' }, prompts: [], maxNewTokens: 1, temperature: 0, seed: 0 } }, {} as JobContext), (err: unknown) => err instanceof JobError && err.code === 'config' && !err.retryable);
    } finally {
      t.dispose();
    }
  });

  it('reports failures with their error code', async () => {
    const t = inMemoryTrainer();
    try {
      await t.initialize();
      await start(t.client, 'nan', { kind: 'train-lm', params: trainParams(5, { lr: -1 }) });
      assert.deepEqual(await t.jobEnd('nan'), {
        jobId: 'nan',
        kind: 'train-lm',
        outcome: 'failed',
        error: { message: 'loss became NaN at step 3', code: 'nonfinite', retryable: false },
      });
      await start(t.client, 'file', { kind: 'train-lm', params: trainParams(5, { seed: 666 }) });
      const end = await t.jobEnd('file');
      assert.equal(end.error?.code, 'model-file');
      assert.match(end.error?.message ?? '', /model\.safetensors: is truncated/);
    } finally {
      t.dispose();
    }
  });

  it('shuts down: cancels the running job, answers, then exits', async () => {
    const t = inMemoryTrainer();
    try {
      await t.initialize();
      await start(t.client, 's', { kind: 'score', params: { model: { preset: 'test' }, prompt: 'p', continuations: [] } });
      await t.client.sendRequest(ShutdownRequest);
      assert.equal((await t.jobEnd('s')).outcome, 'cancelled');
      assert.equal(await t.server.closed, 0);
      assert.deepEqual(t.exits, [0]);
    } finally {
      t.dispose();
    }
  });
});

/** Whether a process is alive (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

describe('a forked trainer process', () => {
  const clients: TrainerClient[] = [];
  const strays: number[] = [];
  after(async () => {
    for (const c of clients) c.kill();
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  function forkTrainer(env: Record<string, string> = {}) {
    const logs: string[] = [];
    const client = TrainerClient.fork(TEST_TRAINER, {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, TEST_HEARTBEAT_MS: '100', ...env },
      onLog: (e) => logs.push(`${e.source}/${e.level}: ${e.message}`),
    });
    clients.push(client);
    return { client, logs };
  }

  it('runs jobs, reports progress and heartbeats, stops with a checkpoint and shuts down', async () => {
    const { client } = forkTrainer();
    const report = await client.initialize({ backend: 'auto', logLevel: 'debug' });
    assert.equal(report.backend, 'cpu');
    assert.equal(report.requested, 'auto');
    const beats: number[] = [];
    client.onHeartbeat((h) => beats.push(h.rssBytes));

    const progress: ProgressParams[] = [];
    const done = await client.run({ kind: 'train-lm', params: trainParams(5) }, { jobId: 'short', onProgress: (p) => progress.push(p) });
    assert.equal(done.outcome, 'completed');
    assert.deepEqual(done.result, { steps: 5, finalLoss: 0.2 });
    assert.deepEqual(
      progress.map((p) => p.step),
      [1, 2, 3, 4, 5],
    );

    const generated = await client.run({ kind: 'generate', params: { model: { preset: 't' }, prompts: ['hi', 'yo'], maxNewTokens: 1, temperature: 0, seed: 0 } });
    assert.ok(generated.kind === 'generate' && generated.result);
    assert.deepEqual(
      generated.result.outputs.map((o) => o.text),
      ['HI', 'YO'],
    );

    // cancellation through an AbortSignal stops with a checkpoint
    const abort = new AbortController();
    let seen = 0;
    const long = client.run({ kind: 'train-lm', params: trainParams(1_000_000) }, { jobId: 'long', signal: abort.signal, onProgress: () => ++seen === 5 && abort.abort() });
    const status = await waitUntil(() => seen >= 2, 5000);
    assert.ok(status);
    const end = await long;
    assert.equal(end.outcome, 'stopped');
    assert.ok(end.kind === 'train-lm' && end.result && end.result.steps >= 5 && end.result.steps < 1_000_000);
    assert.ok(beats.length > 0, 'heartbeats arrive');

    // status while running, a second start refused, then stop through the client
    await client.start('again', { kind: 'train-lm', params: trainParams(1_000_000) });
    await assert.rejects(client.start('twice', { kind: 'train-lm', params: trainParams(1) }), (e: unknown) => e instanceof ResponseError && e.code === TrainerErrorCodes.busy);
    await waitUntil(() => false, 100);
    const s = await client.status();
    assert.equal(s.state, 'running');
    assert.equal(s.jobId, 'again');
    assert.equal(s.backend, 'cpu');
    const stopped = await client.stop('again', 'checkpoint', { timeoutMs: 5000 });
    assert.equal(stopped?.outcome, 'stopped');
    assert.equal(await client.stop('again', 'now'), stopped, 'stopping an ended job answers its end');

    const pid = client.pid!;
    await client.shutdown(5000);
    assert.ok(client.hasExited);
    assert.equal(client.child.exitCode, 0);
    assert.ok(await waitUntil(() => !alive(pid), 2000));
  });

  it('kills a trainer that does not end its job in time (SIGTERM, then SIGKILL)', { skip: process.platform === 'win32' && 'needs SIGSTOP' }, async () => {
    const { client } = forkTrainer();
    await client.initialize({ backend: 'cpu', logLevel: 'info' });
    await client.start('stuck', { kind: 'train-lm', params: trainParams(1_000_000) });
    // a stopped process reads no requests and ignores SIGTERM (held until it continues), like a
    // trainer stuck in a native kernel: only SIGKILL ends it
    process.kill(client.pid!, 'SIGSTOP');
    const t0 = Date.now();
    const end = await client.stop('stuck', 'now', { timeoutMs: 300 });
    assert.equal(end?.outcome, 'cancelled');
    assert.equal(end?.error?.code, 'cancelled');
    assert.equal(client.child.signalCode, 'SIGKILL');
    assert.ok(Date.now() - t0 >= 550, 'both timeouts passed');
  });

  it('reports an uncaught error as the running job failing, then exits', async () => {
    const { client, logs } = forkTrainer();
    await client.initialize({ backend: 'cpu', logLevel: 'info' });
    const end = await client.run({ kind: 'generate', params: { model: { preset: 't' }, prompts: ['uncaught'], maxNewTokens: 1, temperature: 0, seed: 0 } });
    assert.equal(end.outcome, 'failed');
    assert.equal(end.error?.code, 'internal');
    assert.match(end.error?.message ?? '', /boom from a timer/);
    await client.whenExited();
    assert.equal(client.child.exitCode, 70);
    assert.ok(logs.some((l) => /uncaught error/.test(l)));
  });

  for (const running of [false, true]) {
    it(`exits when its parent is SIGKILLed (${running ? 'while running a job' : 'idle'})`, async () => {
      const parent = spawn(process.execPath, ['--import', 'tsx', path.join(FIXTURES, 'intermediateParent.ts'), running ? 'running' : 'idle'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        parent.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /trainer (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        parent.once('exit', () => reject(new Error(`the intermediate parent exited early: ${out}`)));
      });
      strays.push(pid);
      assert.ok(alive(pid));
      parent.kill('SIGKILL');
      assert.ok(await waitUntil(() => !alive(pid), 5000), `trainer ${pid} still alive 5 s after its parent died`);
    });
  }
});
