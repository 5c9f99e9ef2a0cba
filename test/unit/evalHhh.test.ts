// The multiple-choice evaluation of a feedback model (`cai eval hhh`, and the run's eval stage):
// accuracy, mean P(correct) and calibration computed from answer probabilities, checked against
// a scripted model whose numbers are known; the HHH file reader's errors; and the CLI end to end
// on the built-in model.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ChoiceRequest, ChoiceResult, Provider } from '../../src/core/providers/types';
import { loadHhh } from '../../src/trainer/datasets';
import { evaluateHhh } from '../../src/trainer/evalStage';

const root = path.resolve(__dirname, '../..');
const HHH = path.join(root, 'examples', 'data', 'hhh.jsonl');

/** Gives the right answer probability `p` (it reads the truth from the prompt's test marker). */
function scripted(p: number, truth: Map<string, string>): Provider & { asked: number } {
  return {
    id: 'scripted',
    asked: 0,
    async ready() {},
    async complete() {
      throw new Error('not used');
    },
    async choose(reqs: ChoiceRequest[]): Promise<ChoiceResult[]> {
      this.asked += reqs.length;
      return reqs.map((r) => {
        const right = truth.get(r.prompt)!;
        return { logprobs: r.options.map((o) => Math.log(o === right ? p : 1 - p)), method: 'exact' };
      });
    },
    async dispose() {},
  };
}

describe('HHH evaluation', () => {
  it('reads the file: prompt, the first correct and incorrect answer, transcripts', () => {
    const { items } = loadHhh(HHH);
    assert.equal(items.length, 8);
    for (const it of items) {
      assert.match(it.prompt, /The answer is:$/);
      assert.ok([' (A)', ' (B)'].includes(it.correct) && [' (A)', ' (B)'].includes(it.incorrect) && it.correct !== it.incorrect);
      assert.match(it.textCorrect!, /^\n\nHuman: /);
    }
    assert.equal(loadHhh(HHH, { limit: 3 }).items.length, 3);
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cai-hhh-')), 'bad.jsonl');
    fs.writeFileSync(bad, `${fs.readFileSync(HHH, 'utf8').split('\n')[0]}\n{"prompt": "q", "corrects": " (A)", "incorrects": [" (B)"]}\n`);
    assert.throws(() => loadHhh(bad), /bad\.jsonl:2: `corrects` must be a list of answer strings/);
  });

  it('scores accuracy, mean P(correct) and ECE from the answer probabilities', async () => {
    const { items } = loadHhh(HHH);
    const truth = new Map(items.map((i) => [i.prompt, i.correct]));
    const good = scripted(0.9, truth);
    let progress = 0;
    const r = await evaluateHhh(good, items, { concurrency: 3, onItem: (d) => (progress = d) });
    assert.equal(good.asked, 8);
    assert.equal(progress, 8);
    assert.equal(r.items, 8);
    assert.equal(r.accuracy, 1);
    assert.ok(Math.abs(r.mean_p_correct - 0.9) < 1e-12);
    // P(A) is 0.9 where A is right and 0.1 where B is: each bin is off by 0.1.
    assert.ok(Math.abs(r.ece - 0.1) < 1e-9, `ece ${r.ece}`);
    assert.equal(r.bins.reduce((a, b) => a + b.count, 0), 8);
    const wrong = await evaluateHhh(scripted(0.3, truth), items, { concurrency: 2 });
    assert.equal(wrong.accuracy, 0);
    assert.ok(Math.abs(wrong.mean_p_correct - 0.3) < 1e-12);
    // A model that always answers (A) is right exactly where (A) is the right answer.
    const alwaysA: Provider = { ...scripted(0.5, truth), async choose(reqs) { return reqs.map((q) => ({ logprobs: q.options.map((o) => (o === ' (A)' ? -0.1 : -3)), method: 'exact' as const })); } };
    const a = await evaluateHhh(alwaysA, items, { concurrency: 1 });
    assert.equal(a.accuracy, items.filter((i) => i.correct === ' (A)').length / items.length);
  });

  it('cai eval hhh runs a model on the file and prints the report', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'eval', 'hhh', HHH, '--model', 'tiny', '--limit', '6', '--json'], { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, CAI_BACKEND: '' } });
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { items: number; accuracy: number; ece: number; method: string; mean_p_correct: number };
    assert.equal(rep.items, 6);
    assert.equal(rep.method, 'exact');
    assert.ok(rep.accuracy >= 0 && rep.accuracy <= 1 && rep.mean_p_correct > 0 && rep.mean_p_correct < 1 && rep.ece >= 0);
    const missing = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'eval', 'hhh', 'nope.jsonl', '--model', 'tiny'], { cwd: root, encoding: 'utf8' });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.jsonl: no such file/);
  });
});
