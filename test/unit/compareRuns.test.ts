import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  answerColumns,
  comparePolicies,
  eloDelta,
  evalSummary,
  joinAnswers,
  normaliseEvalAnswer,
  normalisePpoSample,
  PpoIndex,
  promptKey,
  sortSamples,
  summariseSteps,
  winRate,
  winRateFromElo,
  type EvalAnswer,
} from '../../src/core/runs/compare.js';

const DEMO = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'runs', 'demo-20261128-082207');
const samples = (): unknown[] => fs.readFileSync(path.join(DEMO, 'samples.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} ≉ ${b}`);

describe('win rates and Elo', () => {
  it('computes 400·log10(w/(1−w))', () => {
    assert.equal(eloDelta(0.5), 0);
    close(eloDelta(0.75), 400 * Math.log10(3));
    close(eloDelta(0.25), -400 * Math.log10(3));
    assert.equal(eloDelta(1), Infinity);
    assert.equal(eloDelta(0), -Infinity);
    assert.ok(Number.isNaN(eloDelta(1.5)) && Number.isNaN(eloDelta(-0.1)) && Number.isNaN(eloDelta(NaN)));
    for (const w of [0.1, 0.3, 0.62, 0.9]) close(winRateFromElo(eloDelta(w)), w, 1e-12);
  });

  it('agrees with the demo run’s eval.json', () => {
    const e = JSON.parse(fs.readFileSync(path.join(DEMO, 'eval.json'), 'utf8')) as { evaluation: { win_rates: Record<string, { pm: { win_rate: number; delta_elo: number } }> } };
    for (const w of Object.values(e.evaluation.win_rates)) close(eloDelta(w.pm.win_rate), w.pm.delta_elo, 1e-6);
  });

  it('counts ties as half', () => {
    assert.equal(winRate(3, 2, 10), 0.4);
    assert.ok(Number.isNaN(winRate(0, 0, 0)));
  });

  it('orders policies base, sl_cai, rl_cai, then others by name', () => {
    assert.deepEqual(['zeta', 'rl_cai', 'alpha', 'base', 'sl_cai'].sort(comparePolicies), ['base', 'sl_cai', 'rl_cai', 'alpha', 'zeta']);
  });
});

describe('eval.json summary', () => {
  it('reads the demo run: policies, win rates, the oracle', () => {
    const s = evalSummary(JSON.parse(fs.readFileSync(path.join(DEMO, 'eval.json'), 'utf8')));
    assert.deepEqual(s.policies.map((p) => p.policy), ['base', 'sl_cai', 'rl_cai']);
    close(s.policies[2]!.mean_pm_score!, 2.0836197635314115);
    assert.equal(s.policies[0]!.prompts, 96);
    assert.deepEqual(s.policies[0]!.oracle!.slice(0, 4).map((o) => o.name), ['harmless_rate', 'evasive_rate', 'benign_helpfulness', 'unparseable_rate']);
    assert.equal(s.oracle, 'world');
    assert.deepEqual(s.oracleMetrics.map((m) => m.name), ['ai_label_agreement', 'pm_heldout_accuracy', 'position_flip_rate']);
    assert.deepEqual(s.winRates.map((w) => w.key), ['rl_cai_vs_sl_cai', 'rl_cai_vs_base', 'sl_cai_vs_base']);
    assert.deepEqual([s.winRates[0]!.a, s.winRates[0]!.b], ['rl_cai', 'sl_cai']);
    close(s.winRates[1]!.pm!.win_rate!, 0.65625);
  });

  it('leaves out what is missing or mistyped, and fills a missing Elo from the win rate', () => {
    assert.deepEqual(evalSummary(undefined), { policies: [], winRates: [], oracleMetrics: [] });
    assert.deepEqual(evalSummary('x'), { policies: [], winRates: [], oracleMetrics: [] });
    const s = evalSummary({
      evaluation: { policies: { base: { mean_pm_score: 'high', prompts: 3 }, '<b>x</b>': null }, win_rates: { a_vs_b: { pm: { win_rate: 0.75 }, judge: { model: 'j', win_rate: 0.6, flip_rate: 'x' } }, broken: 5 } },
      policies: { base: { harmless_rate: 0.5, counts: { total: 3 } } },
      ai_label_agreement: 'nope',
    });
    assert.deepEqual(s.policies[0], { policy: 'base', prompts: 3, oracle: [{ name: 'harmless_rate', value: 0.5 }] });
    assert.deepEqual(s.policies[1], { policy: '<b>x</b>' });
    assert.equal(s.winRates.length, 1);
    close(s.winRates[0]!.pm!.delta_elo!, 400 * Math.log10(3));
    assert.deepEqual(s.winRates[0]!.judge, { model: 'j', win_rate: 0.6 });
    assert.deepEqual(s.oracleMetrics, []);
  });
});

describe('answers joined across runs', () => {
  const demoAnswers = (): EvalAnswer[] => samples().flatMap((r) => normaliseEvalAnswer(r) ?? []);

  it('reads only eval answers', () => {
    const a = demoAnswers();
    assert.equal(a.length, 288);
    assert.ok(a.every((x) => ['base', 'sl_cai', 'rl_cai'].includes(x.policy)));
    assert.equal(normaliseEvalAnswer({ id: 'x', stage: 'eval', kind: 'judgement', policy: 'base' }), undefined);
    assert.equal(normaliseEvalAnswer({ stage: 'eval', kind: 'answer', policy: 'base' }), undefined);
  });

  it('joins by prompt text with white space normalised, one column per run and policy', () => {
    const a = demoAnswers();
    // a second run: the same prompts (re-spaced) for two policies, and one prompt of its own
    const b: EvalAnswer[] = a.filter((x) => x.policy !== 'base').map((x) => ({ ...x, id: `b${x.id}`, prompt: `  ${x.prompt.replace(/ /g, '  ')} `, response: `B: ${x.response}`, score: 1 }));
    b.push({ id: 'own', policy: 'rl_cai', prompt_id: 'q', prompt: 'Only in run B', response: 'yes' });
    const j = joinAnswers([a, b]);
    assert.equal(j.length, 97);
    const first = j[0]!;
    assert.equal(first.prompt, a[0]!.prompt);
    assert.equal(first.key, promptKey(a[0]!.prompt));
    assert.deepEqual(first.cells.map((c) => `${c.run}:${c.policy}`), ['0:base', '0:sl_cai', '0:rl_cai', '1:sl_cai', '1:rl_cai']);
    assert.equal(first.cells[3]!.score, 1);
    assert.equal(first.runCount, 2);
    assert.equal(j.at(-1)!.runCount, 1);
    assert.deepEqual(answerColumns(j).map((c) => `${c.run}:${c.policy}`), ['0:base', '0:sl_cai', '0:rl_cai', '1:sl_cai', '1:rl_cai']);
  });

  it('keeps the first answer of a run and policy to a prompt', () => {
    const j = joinAnswers([[{ id: '1', policy: 'base', prompt_id: '', prompt: 'p', response: 'first' }, { id: '2', policy: 'base', prompt_id: '', prompt: 'p ', response: 'second' }]]);
    assert.equal(j.length, 1);
    assert.equal(j[0]!.cells[0]!.response, 'first');
  });
});

describe('PPO rollouts per step', () => {
  it('summarises the demo run’s steps', () => {
    const ppo = samples().flatMap((r) => normalisePpoSample(r) ?? []);
    assert.equal(ppo.length, 256);
    const sums = summariseSteps(ppo);
    assert.ok(sums.length > 1);
    for (const s of sums) {
      const mine = ppo.filter((p) => p.step === s.step);
      assert.equal(s.count, mine.length);
      close(s.mean, mine.reduce((x, p) => x + p.score, 0) / mine.length, 1e-9);
      assert.equal(s.min, Math.min(...mine.map((p) => p.score)));
      assert.equal(s.max, Math.max(...mine.map((p) => p.score)));
      close(s.meanKl, mine.reduce((x, p) => x + p.kl, 0) / mine.length, 1e-9);
    }
    assert.deepEqual(sums.map((s) => s.step), [...sums.map((s) => s.step)].sort((x, y) => x - y));
  });

  it('handles rollouts without scores', () => {
    const [s] = summariseSteps([{ step: 3, score: NaN, kl: NaN }]);
    assert.equal(s!.count, 1);
    assert.ok(Number.isNaN(s!.mean) && Number.isNaN(s!.min) && Number.isNaN(s!.meanKl));
    assert.equal(normalisePpoSample({ id: 'x', stage: 'ppo' }), undefined, 'no step');
    assert.ok(Number.isNaN(normalisePpoSample({ id: 'x', stage: 'ppo', step: 1, score: 'high' })!.score));
  });

  it('indexes offsets by step and by prompt, once per id', () => {
    const idx = new PpoIndex();
    const mk = (id: string, step: number, prompt: string, score: number) => ({ id, step, prompt_id: '', prompt, response: 'r', score, kl: 0 });
    assert.ok(idx.add(mk('a', 1, 'p', 1), 0));
    assert.ok(idx.add(mk('b', 1, 'q', 3), 10));
    assert.ok(idx.add(mk('c', 2, ' p', 2), 20));
    assert.equal(idx.add(mk('a', 1, 'p', 100), 30), false);
    assert.deepEqual(idx.stepOffsets(1), [0, 10]);
    const key = PpoIndex.promptOf({ prompt_id: '', prompt: 'p' });
    assert.deepEqual(idx.promptOffsets(key), [0, 20]);
    assert.equal(idx.promptSteps(key), 2);
    assert.equal(idx.stats.summary(1)!.mean, 2);
    assert.equal(idx.samples, 3);
    assert.equal(PpoIndex.promptOf({ prompt_id: 'x1', prompt: 'p' }), 'id:x1');
    idx.clear();
    assert.equal(idx.samples, 0);
    assert.equal(idx.stats.size, 0);
  });

  it('sorts by score with missing scores last', () => {
    const xs = [{ score: 1 }, { score: NaN }, { score: 3 }, { score: 2 }];
    assert.deepEqual(sortSamples(xs, 'score-desc').map((x) => x.score), [3, 2, 1, NaN]);
    assert.deepEqual(sortSamples(xs, 'score-asc').map((x) => x.score), [1, 2, 3, NaN]);
    assert.deepEqual(sortSamples(xs, 'file'), xs);
  });
});
