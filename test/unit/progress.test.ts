// `cai` progress output: a redrawn bar on a terminal, plain lines (stage changes, stage ends, at
// most one every few seconds) when stderr is a file or pipe.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressLines } from '../../src/cli/progress';

function sink(isTTY: boolean): { isTTY: boolean; text: string; write(s: string): void } {
  return { isTTY, text: '', write(s: string) { this.text += s; } };
}

describe('progress output', () => {
  it('writes plain lines without a terminal: each stage change, each stage end, throttled in between', () => {
    let now = 0;
    const out = sink(false);
    const p = new ProgressLines('run', out, 5000, () => now);
    p.update({ stage: 'critique', step: 1, totalSteps: 4, metrics: {} });
    now = 1000;
    p.update({ stage: 'critique', step: 2, totalSteps: 4, metrics: {} });
    now = 7000;
    p.update({ stage: 'critique', step: 3, totalSteps: 4, metrics: {} });
    now = 7100;
    p.update({ stage: 'critique', step: 4, totalSteps: 4, metrics: {} });
    p.update({ stage: 'sft', step: 1, totalSteps: 10, metrics: { loss: 2.5 } });
    p.finish();
    assert.deepEqual(out.text.split('\n').filter(Boolean), [
      'run critique 1/4 (25%) 0s',
      'run critique 3/4 (75%) 7s',
      'run critique 4/4 (100%) 7s',
      'run sft 1/10 (10%) loss 2.5000 0s',
    ]);
    assert.ok(!out.text.includes('\r'));
  });

  it('redraws one bar per stage on a terminal', () => {
    let now = 0;
    const out = sink(true);
    const p = new ProgressLines('run', out, 5000, () => now);
    p.update({ stage: 'ppo', step: 1, totalSteps: 2, metrics: { score: -1, kl: 0 } });
    now = 50;
    p.update({ stage: 'ppo', step: 1, totalSteps: 2, metrics: { score: -1, kl: 0 } });
    now = 500;
    p.update({ stage: 'ppo', step: 2, totalSteps: 2, metrics: { score: -0.5, kl: 0.1 } });
    p.finish();
    const frames = out.text.split('\r').filter(Boolean);
    assert.equal(frames.length, 2, 'the redraw within 100 ms is skipped');
    assert.match(frames[0]!, /^run ppo \[#{15}\.{15}\] 1\/2 score -1\.0000 kl 0\.0000/);
    assert.match(frames[1]!, /^run ppo \[#{30}\] 2\/2 score -0\.5000 kl 0\.1000 1s\s*\n$/);
  });
});
