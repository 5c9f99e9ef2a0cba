// A NaN in a training loss, in each training stage of `cai run` (injected with CAI_INJECT_NAN):
// the stage stops with one diagnostic naming the stage, the value and the step; the last good
// checkpoint is intact and named; the run resumes from it once the cause is gone.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { caiSync, runWorkspace } from '../support/runs';

const cai = (args: string[], injectNan?: string): ReturnType<typeof caiSync> => caiSync(args, injectNan ? { injectNan } : {});

describe('NaN in a training stage', () => {
  it('stops sft, pm and ppo with a diagnostic, keeps the last good checkpoint, and resumes', () => {
    const dir = runWorkspace('cai-nan-');
    const file = path.join(dir, 'nan.run.yaml');
    fs.writeFileSync(file, [
      'name: nan', 'constitution: harmless-helpful.constitution.yaml', 'seed: 5',
      'models:', '  tiny: { provider: embedded, model: nano }', 'roles:', '  policy: tiny',
      'datasets:', '  redTeam: { path: data/red-team.jsonl, limit: 4 }',
      'stages:',
      '  critique: { rounds: 1, maxTokens: 8, fewShot: false }',
      '  sft: { steps: 8, batchSize: 2, seqLen: 64 }',
      '  pairs: { maxTokens: 8 }',
      '  feedback: { fewShot: false }',
      '  pm: { steps: 6, batchSize: 2 }',
      '  ppo: { steps: 3, batchSize: 2, epochs: 1, maxNewTokens: 8 }',
      '  eval: false', '',
    ].join('\n'));
    const manifest = (d: string): { stages: Record<string, { status: string; error?: string }> } => JSON.parse(fs.readFileSync(path.join(d, 'manifest.json'), 'utf8'));
    const oneError = (stderr: string): string => {
      const errors = stderr.split('\n').filter((l) => l.startsWith('cai:'));
      assert.equal(errors.length, 1, stderr);
      assert.ok(!stderr.includes('    at '), 'no stack trace');
      return errors[0]!;
    };

    // SL-CAI: checkpoints every 2 steps; step index 5 (the sixth update) diverges.
    const first = cai(['run', file, '--out', path.join(dir, 'runs'), '--json'], 'train-lm:5');
    assert.notEqual(first.code, 0);
    const run = path.join(dir, 'runs', fs.readdirSync(path.join(dir, 'runs'))[0]!);
    const e1 = oneError(first.stderr);
    assert.match(e1, /stage sft: loss is NaN at step 5; the last good checkpoint is \S+step-000004/);
    assert.equal(manifest(run).stages['sft']!.status, 'failed');
    assert.ok(fs.existsSync(path.join(run, 'checkpoints', 'sft', 'step-000004', 'COMPLETE')));
    assert.ok(!fs.existsSync(path.join(run, 'checkpoints', 'sft', 'step-000006')));
    const sftMetrics = (): number[] => fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stage: string; step: number }).filter((m) => m.stage === 'sft').map((m) => m.step);
    assert.deepEqual(sftMetrics(), [1, 2, 3, 4, 5]);

    // Resumed (the cause gone) it continues from step 4; then the preference model diverges.
    const second = cai(['run', file, '--resume', run, '--json'], 'pm:3');
    assert.notEqual(second.code, 0);
    assert.match(oneError(second.stderr), /stage pm: loss is NaN at step 3; nothing was saved from this stage/);
    const m2 = manifest(run);
    assert.equal(m2.stages['sft']!.status, 'done');
    assert.deepEqual(sftMetrics(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(m2.stages['pm']!.status, 'failed');
    assert.match(m2.stages['pm']!.error!, /loss is NaN at step 3/);
    assert.ok(!fs.existsSync(path.join(run, 'models', 'pm', 'config.json')));

    // PPO: iteration index 1 diverges after iteration 1's checkpoint.
    const third = cai(['run', file, '--resume', run, '--json'], 'ppo:1');
    assert.notEqual(third.code, 0);
    assert.match(oneError(third.stderr), /stage ppo: loss is NaN at step 1; the last good checkpoint is \S+ppo[\\/]step-000001/);
    assert.equal(manifest(run).stages['pm']!.status, 'done');
    assert.ok(fs.existsSync(path.join(run, 'checkpoints', 'ppo', 'step-000001', 'COMPLETE')));

    const last = cai(['run', file, '--resume', run, '--json']);
    assert.equal(last.code, 0, last.stderr);
    const m = manifest(run);
    for (const s of ['critique', 'sft', 'pairs', 'feedback', 'pm', 'ppo']) assert.equal(m.stages[s]!.status, 'done', s);
    const ppoSteps = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stage: string; step: number }).filter((x) => x.stage === 'ppo').map((x) => x.step);
    assert.deepEqual(ppoSteps, [1, 2, 3]);
  });
});
