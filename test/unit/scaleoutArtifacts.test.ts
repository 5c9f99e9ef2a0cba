import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { trlRows } from '../../src/core/runs/metrics.js';
import { EventFileError } from '../../src/core/tensorboard/events.js';
import { event, tfRecords } from '../fixtures/tensorboardWriter.js';
import { artifactMetrics, listCheckpoints, pullArtifacts, trlLogValues } from '../../src/node/scaleout/artifacts.js';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'tensorboard');

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-artifacts-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let tmpCount = 0;
function tmp(name: string): string {
  const d = path.join(tmpRoot, `${tmpCount++}-${name}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function write(file: string, content: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

// ---------------------------------------------------------------------------------------------
// Pulling from a shared path.

describe('pullArtifacts: shared path', () => {
  const makeTarget = (): { target: string; outside: string } => {
    const root = tmp('shared');
    const target = path.join(root, 'job-out');
    const outside = path.join(root, 'outside');
    write(path.join(outside, 'secret.txt'), 'secret');
    write(path.join(target, 'a.txt'), 'hello');
    write(path.join(target, 'sub', 'b.bin'), new Uint8Array([1, 2, 3]));
    write(path.join(target, 'sub', 'deep', 'c.txt'), '0123456789');
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(target, 'link.txt'));
    fs.symlinkSync(outside, path.join(target, 'linkdir'));
    return { target, outside };
  };

  it('copies nested files, skips links, and overwrites earlier copies', async () => {
    const { target, outside } = makeTarget();
    const dest = path.join(tmp('dest'), 'pulled');
    assert.deepEqual(await pullArtifacts(target, dest), { files: 3, bytes: 18 });
    assert.equal(fs.readFileSync(path.join(dest, 'a.txt'), 'utf8'), 'hello');
    assert.deepEqual([...fs.readFileSync(path.join(dest, 'sub', 'b.bin'))], [1, 2, 3]);
    assert.equal(fs.readFileSync(path.join(dest, 'sub', 'deep', 'c.txt'), 'utf8'), '0123456789');
    assert.deepEqual(fs.readdirSync(dest).sort(), ['a.txt', 'sub']);

    // The job wrote again; a link planted in dest must not be written through.
    write(path.join(target, 'a.txt'), 'hello world');
    fs.rmSync(path.join(dest, 'sub', 'b.bin'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(dest, 'sub', 'b.bin'));
    assert.deepEqual(await pullArtifacts(target, dest), { files: 3, bytes: 24 });
    assert.equal(fs.readFileSync(path.join(dest, 'a.txt'), 'utf8'), 'hello world');
    assert.equal(fs.lstatSync(path.join(dest, 'sub', 'b.bin')).isSymbolicLink(), false);
    assert.deepEqual([...fs.readFileSync(path.join(dest, 'sub', 'b.bin'))], [1, 2, 3]);
    assert.equal(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8'), 'secret');
  });

  it('accepts a file:// URL', async () => {
    const { target } = makeTarget();
    const dest = tmp('dest-url');
    assert.deepEqual(await pullArtifacts(pathToFileURL(target).href, dest), { files: 3, bytes: 18 });
    assert.equal(fs.readFileSync(path.join(dest, 'sub', 'deep', 'c.txt'), 'utf8'), '0123456789');
  });

  it('says when the target does not exist', async () => {
    const missing = path.join(tmp('missing'), 'nope');
    await assert.rejects(pullArtifacts(missing, tmp('dest-missing')), { message: `sync target ${missing} does not exist (has the job finished writing it?)` });
  });

  it('rejects empty, relative and unknown targets, and a dest inside the target', async () => {
    const dest = tmp('dest-bad');
    await assert.rejects(pullArtifacts('', dest), /sync target "" is not an absolute path/);
    await assert.rejects(pullArtifacts('runs/out', dest), /sync target "runs\/out" is not an absolute path/);
    await assert.rejects(pullArtifacts('gs://bucket/x', dest), /sync target gs:\/\/bucket\/x is not supported/);
    const { target } = makeTarget();
    await assert.rejects(pullArtifacts(target, path.join(target, 'pulled')), /inside it/);
  });

  it('stops on an aborted signal', async () => {
    const { target } = makeTarget();
    const dest = tmp('dest-abort');
    const reason = new Error('user stopped');
    await assert.rejects(pullArtifacts(target, dest, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
    assert.deepEqual(fs.readdirSync(dest), []);
  });
});

// ---------------------------------------------------------------------------------------------
// Pulling from S3 with a stand-in for the AWS CLI.

describe('pullArtifacts: s3', () => {
  const root = tmp('s3');
  const aws = path.join(root, 'fake-aws');
  // Records its argv (one per line), then copies $FAKE_AWS_SRC into its 4th argument (dest).
  write(
    aws,
    [
      '#!/bin/sh',
      'for a in "$@"; do printf \'%s\\n\' "$a" >> "$FAKE_AWS_ARGV"; done',
      'case "$FAKE_AWS_MODE" in',
      '  fail) echo "warning: retrying" >&2; echo "fatal error: An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied" >&2; echo "" >&2; exit 1;;',
      '  hang) exec sleep 30;;',
      'esac',
      'cp -R "$FAKE_AWS_SRC/." "$4"',
      '',
    ].join('\n'),
  );
  fs.chmodSync(aws, 0o755);
  const bucket = path.join(root, 'bucket');
  write(path.join(bucket, 'x.json'), '{}');
  write(path.join(bucket, 'logs', 'ev'), 'abcd');

  const env = (mode: string, argv: string): NodeJS.ProcessEnv => ({ ...process.env, FAKE_AWS_ARGV: argv, FAKE_AWS_SRC: bucket, FAKE_AWS_MODE: mode });

  it('runs aws s3 sync with an argv array and counts what arrived', async () => {
    const dest = path.join(tmp('s3-dest'), 'out');
    const argv = path.join(root, 'argv-ok');
    assert.deepEqual(await pullArtifacts('s3://bucket/prefix', dest, { aws, env: env('ok', argv) }), { files: 2, bytes: 6 });
    assert.deepEqual(fs.readFileSync(argv, 'utf8').split('\n'), ['s3', 'sync', 's3://bucket/prefix', dest, '--only-show-errors', '']);
    assert.equal(fs.readFileSync(path.join(dest, 'logs', 'ev'), 'utf8'), 'abcd');
  });

  it('says how to install the AWS CLI when it is missing', async () => {
    const err = await pullArtifacts('s3://bucket/prefix', tmp('s3-missing'), { aws: path.join(root, 'no-such-aws') }).then(
      () => assert.fail('should have failed'),
      (e: Error) => e,
    );
    assert.match(err.message, /AWS CLI .* is not installed/);
    assert.match(err.message, /pip install awscli/);
    assert.match(err.message, /apt-get install awscli/);
    assert.match(err.message, /s3:\/\/bucket\/prefix/);
  });

  it('reports the last stderr line of a failed sync', async () => {
    await assert.rejects(pullArtifacts('s3://bucket/prefix', tmp('s3-fail'), { aws, env: env('fail', path.join(root, 'argv-fail')) }), {
      message: 'aws s3 sync of s3://bucket/prefix failed (exit code 1): fatal error: An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied',
    });
  });

  it('kills the CLI on abort and rejects with the reason', async () => {
    const argv = path.join(root, 'argv-hang');
    const ac = new AbortController();
    const started = Date.now();
    const p = pullArtifacts('s3://bucket/prefix', tmp('s3-hang'), { aws, env: env('hang', argv), signal: ac.signal });
    while (!fs.existsSync(argv)) await new Promise((r) => setTimeout(r, 10));
    const reason = new Error('cancelled by user');
    ac.abort(reason);
    await assert.rejects(p, (e) => e === reason);
    assert.ok(Date.now() - started < 10_000);
  });

  it('does not start the CLI when already aborted', async () => {
    const argv = path.join(root, 'argv-pre');
    await assert.rejects(pullArtifacts('s3://bucket/prefix', tmp('s3-pre'), { aws, env: env('ok', argv), signal: AbortSignal.abort(new Error('no')) }), { message: 'no' });
    assert.equal(fs.existsSync(argv), false);
  });
});

// ---------------------------------------------------------------------------------------------
// Metrics from trainer_state.json.

const STATE = {
  global_step: 30,
  max_steps: 30,
  log_history: [
    { loss: 2.0, grad_norm: 1.5, learning_rate: 5e-5, num_tokens: 1000, epoch: 0.1, step: 10 },
    { eval_loss: 1.8, eval_runtime: 3.2, eval_samples_per_second: 10, eval_steps_per_second: 1, epoch: 0.1, step: 10 },
    { 'train/loss': 1.5, total_flos: 123, 'objective/kl': 0.25, step: 20 },
    { note: 'text only', step: 25 },
    { loss: 1.2, epoch: 0.3 },
    { train_runtime: 100, train_samples_per_second: 5, train_steps_per_second: 1, total_flos: 1e12, train_loss: 1.6, epoch: 0.3, step: 30 },
  ],
};

const STATE_RECORDS = [
  { id: 'log-0', stage: 'sft', step: 10, loss: 2, grad_norm: 1.5, lr: 5e-5, tokens: 1000, epoch: 0.1 },
  { id: 'log-1', stage: 'sft', step: 10, eval_loss: 1.8, epoch: 0.1 },
  { id: 'log-2', stage: 'sft', step: 20, loss: 1.5, 'objective/kl': 0.25 },
  { id: 'log-4', stage: 'sft', step: 5, loss: 1.2, epoch: 0.3 },
];

describe('artifactMetrics: trainer_state.json', () => {
  it('makes one record per log_history entry with values, ids counting every entry', () => {
    const dir = tmp('state');
    write(path.join(dir, 'trainer_state.json'), JSON.stringify(STATE));
    const m = artifactMetrics(dir, 'sft');
    assert.equal(m.source, 'trainer_state');
    assert.equal(m.trainerState, path.join(dir, 'trainer_state.json'));
    assert.deepEqual(m.eventFiles, []);
    assert.deepEqual(m.records, STATE_RECORDS);
  });

  it("falls back to the latest checkpoint's trainer_state.json and ignores event files", () => {
    const dir = tmp('state-ckpt');
    write(path.join(dir, 'checkpoint-5', 'trainer_state.json'), JSON.stringify({ log_history: [{ loss: 9, step: 5 }] }));
    write(path.join(dir, 'checkpoint-10', 'trainer_state.json'), JSON.stringify({ log_history: [{ loss: 3, step: 5 }, { loss: 2.5, step: 10 }] }));
    fs.copyFileSync(path.join(FIXTURES, 'events.out.tfevents.1700000000.fixture.good'), path.join(dir, 'events.out.tfevents.1700000000.fixture.good'));
    const m = artifactMetrics(dir, 'pm');
    assert.equal(m.source, 'trainer_state');
    assert.equal(m.trainerState, path.join(dir, 'checkpoint-10', 'trainer_state.json'));
    assert.deepEqual(m.records, [
      { id: 'log-0', stage: 'pm', step: 5, loss: 3 },
      { id: 'log-1', stage: 'pm', step: 10, loss: 2.5 },
    ]);
  });

  it('agrees with trlRows on steps and values', () => {
    const dir = tmp('state-trl');
    write(path.join(dir, 'trainer_state.json'), JSON.stringify(STATE));
    const ours = artifactMetrics(dir, 'ppo').records.map(({ id: _id, stage: _stage, step, ...values }) => ({ step, values }));
    const theirs = trlRows(STATE, 'ppo').rows.map((r) => ({ step: r.step, values: Object.fromEntries(r.values) }));
    assert.equal(theirs.length, 4);
    assert.deepEqual(ours, theirs);
  });

  it('trlLogValues maps one live @@cai-metric entry', () => {
    assert.deepEqual(trlLogValues({ stage: 'ppo', step: 3, loss: 1, 'train/learning_rate': 1e-6, 'objective/kl': 0.2, eps: 4, train_runtime_x: 1, bad: Number.NaN }), {
      loss: 1,
      lr: 1e-6,
      'objective/kl': 0.2,
      eps: 4,
      train_runtime_x: 1,
    });
    assert.deepEqual(trlLogValues({ train_runtime: 9, epoch: 1, step: 30 }), {});
    assert.deepEqual(trlLogValues({ epoch_time_per_second: 2, total_flos: 1 }), {});
  });

  it('finds nothing in an empty or missing folder', () => {
    assert.deepEqual(artifactMetrics(tmp('empty'), 'sft'), { records: [], source: 'none', eventFiles: [] });
    assert.deepEqual(artifactMetrics(path.join(tmpRoot, 'does-not-exist'), 'sft'), { records: [], source: 'none', eventFiles: [] });
  });
});

// ---------------------------------------------------------------------------------------------
// Metrics from TensorBoard event files.

describe('artifactMetrics: TensorBoard event files', () => {
  it('groups points by step across nested files, later wall time winning', () => {
    const dir = tmp('tb');
    fs.copyFileSync(path.join(FIXTURES, 'events.out.tfevents.1700000000.fixture.good'), path.join(dir, 'events.out.tfevents.1700000000.fixture.good'));
    const mine = path.join(dir, 'runs', 'ppo', 'events.out.tfevents.1700000100.test');
    write(
      mine,
      tfRecords([
        event(1700000000, 0, 'brain.Event:2'),
        event(1700000009, 3, { 'train/loss': 1.5 }),
        event(1700000000, 4, { 'train/loss': 9 }),
        event(1700000010.5, 10, { 'ppo/objective/kl': 0.5, 'train/objective/entropy': 2 }),
      ]),
    );
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an event file');
    const m = artifactMetrics(dir, 'ppo');
    assert.equal(m.source, 'tensorboard');
    assert.equal(m.trainerState, undefined);
    assert.deepEqual(m.eventFiles, [path.join(dir, 'events.out.tfevents.1700000000.fixture.good'), mine]);
    assert.deepEqual(m.records, [
      { id: 'tb-0', stage: 'ppo', step: 0, time: 1700000001250, loss: 2.5, learning_rate: 9.999999747378752e-5 },
      { id: 'tb-1', stage: 'ppo', step: 1, time: 1700000002250, loss: 2.25, 'eval/reward': 0.10000000149011612, 'eval/kl': 0.123456789012345 },
      { id: 'tb-2', stage: 'ppo', step: 2, time: 1700000003250, 'tf/accuracy': 0.875, 'tf/loss64': 0.3333333333333333 },
      { id: 'tb-3', stage: 'ppo', step: 3, time: 1700000009000, loss: 1.5, 'eval/reward': 0.30000001192092896, 'eval/kl': 0.25, 'tf/accuracy': 0.8999999761581421 },
      { id: 'tb-4', stage: 'ppo', step: 4, time: 1700000005250, loss: 1.75, learning_rate: 4.999999873689376e-5 },
      { id: 'tb-10', stage: 'ppo', step: 10, time: 1700000010500, 'ppo/objective/kl': 0.5, 'objective/entropy': 2 },
    ]);
  });

  it('ignores a torn last record', () => {
    const dir = tmp('tb-torn');
    fs.copyFileSync(path.join(FIXTURES, 'events.out.tfevents.1700000000.fixture.truncated'), path.join(dir, 'events.out.tfevents.1700000000.fixture.truncated'));
    const m = artifactMetrics(dir, 'sft');
    assert.deepEqual(
      m.records.map((r) => [r.id, r['loss']]),
      [
        ['tb-0', 2.5],
        ['tb-1', 2.25],
        ['tb-2', undefined],
        ['tb-3', 2],
      ],
    );
  });

  it('throws the EventFileError of a damaged file', () => {
    const dir = tmp('tb-bad');
    const file = path.join(dir, 'events.out.tfevents.1700000000.fixture.bad-data-crc');
    fs.copyFileSync(path.join(FIXTURES, 'events.out.tfevents.1700000000.fixture.bad-data-crc'), file);
    assert.throws(
      () => artifactMetrics(dir, 'sft'),
      (e) => e instanceof EventFileError && e.offset === 205 && e.file === file && /data CRC mismatch/.test(e.message),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Checkpoints.

describe('listCheckpoints', () => {
  it('finds TRL checkpoints, DeepSpeed states and saved models, depth 3 at most', () => {
    const dir = tmp('ckpts');
    const touch = (rel: string): void => write(path.join(dir, rel), 'x');
    touch('config.json');
    touch('model.safetensors');
    touch('checkpoint-100/config.json');
    touch('checkpoint-100/model.safetensors');
    touch('checkpoint-100/trainer_state.json');
    touch('checkpoint-100/global_step100/mp_rank_00_model_states.pt');
    touch('checkpoint-20/adapter_model.safetensors');
    touch('_actor/global_step_50/zero_pp_rank_0_mp_rank_00_optim_states.pt');
    touch('final/config.json');
    touch('final/pytorch_model.bin');
    touch('sharded/config.json');
    touch('sharded/model-00001-of-00002.safetensors');
    touch('sharded/model-00002-of-00002.safetensors');
    touch('onlyconfig/config.json');
    touch('weightsonly/model.safetensors');
    touch('a/b/checkpoint-8/trainer_state.json');
    touch('a/b/c/checkpoint-7/trainer_state.json');
    touch('a/b/c/config.json');
    touch('a/b/c/pytorch_model.bin');
    fs.symlinkSync(path.join(dir, 'checkpoint-20'), path.join(dir, 'checkpoint-99'));
    assert.deepEqual(listCheckpoints(dir), [
      { path: 'a/b/checkpoint-8', step: 8, kind: 'trl-checkpoint' },
      { path: 'checkpoint-20', step: 20, kind: 'trl-checkpoint' },
      { path: '_actor/global_step_50', step: 50, kind: 'deepspeed' },
      { path: 'checkpoint-100', step: 100, kind: 'trl-checkpoint' },
      { path: 'checkpoint-100/global_step100', step: 100, kind: 'deepspeed' },
      { path: '.', kind: 'model' },
      { path: 'a/b/c', kind: 'model' },
      { path: 'final', kind: 'model' },
      { path: 'sharded', kind: 'model' },
    ]);
  });

  it('lists nothing for a missing folder', () => {
    assert.deepEqual(listCheckpoints(path.join(tmpRoot, 'no-such-folder')), []);
  });
});
