/**
 * The real trainer bundle (dist/trainer.js) driven as the extension and the CLI drive it: backend
 * report over JSON-RPC, progress, stop with a checkpoint, and SIGKILL in the middle of training
 * followed by a resume that repeats no step and loses none.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ProgressParams, TrainLmParams, TrainLmResult } from '../../src/protocol/trainer';
import { TrainerClient } from '../../src/node/trainerClient';

const TRAINER = path.resolve(__dirname, '../../dist/trainer.js');

function params(dir: string, data: string): TrainLmParams {
  return {
    model: { preset: 'nano' }, data: { path: data, format: 'jsonl-text' }, steps: 12, batchSize: 4, seqLen: 32, lr: 2e-3,
    schedule: { kind: 'constant' }, weightDecay: 0.01, clipNorm: 1, accumulate: 1, seed: 3, checkpointDir: path.join(dir, 'ckpt'), checkpointEvery: 2, keepLast: 3,
  };
}

async function start(): Promise<TrainerClient> {
  const client = TrainerClient.fork(TRAINER);
  const report = await client.initialize({ backend: 'wasm', logLevel: 'info' });
  assert.equal(report.backend, 'wasm');
  assert.ok(report.selfTest.ok);
  return client;
}

describe('trainer process running the engine', () => {
  it('survives SIGKILL mid-training: the resumed run continues from the last checkpoint with the same losses', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-trainer-'));
    const data = path.join(dir, 'data.jsonl');
    fs.writeFileSync(data, Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `turn ${i}: the assistant explains the risk and offers a safe alternative.` })).join('\n'));

    // Reference: one uninterrupted run.
    const refDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-trainer-ref-'));
    const ref = await start();
    const refLosses = new Map<number, number>();
    const refEnd = await ref.run({ kind: 'train-lm', params: params(refDir, data) }, { onProgress: (p) => p.stage === 'train' && refLosses.set(p.step, p.metrics['loss']!) });
    await ref.shutdown();
    assert.equal(refEnd.outcome, 'completed');

    // Killed after step 5 (its last checkpoint is step 4).
    const victim = await start();
    const seen = new Map<number, number>();
    const killed = new Promise<void>((resolve) => {
      victim.onProgress((p: ProgressParams) => {
        if (p.stage !== 'train') return;
        seen.set(p.step, p.metrics['loss']!);
        if (p.step === 5) {
          victim.kill('SIGKILL');
          resolve();
        }
      });
    });
    void victim.start('victim', { kind: 'train-lm', params: params(dir, data) });
    await killed;
    await victim.whenExited();

    const again = await start();
    const resumed = new Map<number, number>();
    const end = await again.run({ kind: 'train-lm', params: params(dir, data) }, { onProgress: (p) => p.stage === 'train' && resumed.set(p.step, p.metrics['loss']!) });
    await again.shutdown();
    assert.equal(end.outcome, 'completed');
    assert.equal((end.result as TrainLmResult).steps, 12);
    const firstResumed = Math.min(...resumed.keys());
    assert.ok(firstResumed === 5 || firstResumed === 7, `resumed at step ${firstResumed} (checkpoints every 2 steps)`);
    for (const [step, loss] of resumed) assert.equal(loss, refLosses.get(step), `step ${step}`);
    for (const [step, loss] of seen) assert.equal(loss, refLosses.get(step), `step ${step} before the kill`);
  });
});
