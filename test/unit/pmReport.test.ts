import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  eloFromScoreDiff,
  eloFromWinRate,
  eloRows,
  expectedAccuracy,
  logisticCurve,
  marginRows,
  parsePmEval,
  reliability,
  reportCsv,
  sigmoid,
  softplus,
  winRateFromElo,
} from '../../src/core/runs/pmReport.js';
import { accuracyByMargin, calibration } from '../../src/core/training/preference.js';

const REPO = path.resolve(__dirname, '..', '..');
const DEMO_EVAL = path.join(REPO, 'test', 'fixtures', 'runs', 'demo-20261128-082207', 'eval.json');
const demo = (): unknown => JSON.parse(fs.readFileSync(DEMO_EVAL, 'utf8'));

const close = (a: number, b: number, eps = 1e-9, what = ''): void => assert.ok(Math.abs(a - b) <= eps, `${what} ${a} ≠ ${b}`);

describe('eval.json', () => {
  it('reads the preference-model sets of both stages, the win rates and the policies (demo run)', () => {
    const r = parsePmEval(demo());
    assert.deepEqual(
      r.datasets.map((d) => d.key),
      ['pm:held_out_ai_labels', 'pm:held_out_helpfulness', 'pm:eval_pairs', 'evaluation:eval_pairs', 'evaluation:hhh'],
    );
    const ai = r.datasets[0]!;
    assert.equal(ai.label, 'Held-out AI labels');
    assert.equal(ai.pairs, 12);
    assert.equal(ai.bins.length, 10);
    assert.equal(ai.byMargin.length, 6);
    // JSON has no Infinity: the open last bin comes back with hi null
    assert.equal(ai.byMargin.at(-1)!.hi, null);
    assert.deepEqual(r.winRates.map((w) => [w.key, w.a, w.b]), [
      ['rl_cai_vs_sl_cai', 'rl_cai', 'sl_cai'],
      ['rl_cai_vs_base', 'rl_cai', 'base'],
      ['sl_cai_vs_base', 'sl_cai', 'base'],
    ]);
    assert.deepEqual(r.policies.map((p) => p.name), ['base', 'sl_cai', 'rl_cai']);
    assert.equal(r.finishedAt, '2026-11-28T08:29:05.959Z');
  });

  it('leaves out what is missing or malformed, and keeps hostile names as data', () => {
    for (const x of [null, undefined, 3, 'x', [], {}, { preference_model: [] }, { evaluation: { win_rates: 'x', policies: [1] } }]) {
      assert.deepEqual(parsePmEval(x), { datasets: [], winRates: [], policies: [] });
    }
    const hostile = JSON.parse(
      '{"preference_model":{"__proto__":{"pairs":3,"accuracy":0.5},"<img src=x onerror=1>":{"pairs":1,"bins":[{"lo":0,"hi":1,"count":"3"},{"lo":0,"hi":1,"count":2,"confidence":0.4,"observed":0.5}],"accuracy_by_margin":[{"lo":1,"hi":2,"count":1,"accuracy":1},{"lo":0,"hi":1,"count":0,"accuracy":null}]},"empty":{}},"evaluation":{"win_rates":{"a_vs_b":{"pm":{"win_rate":"0.5"}},"x":{"judge":{"model":"<b>","win_rate":0.7}}}}}',
    ) as unknown;
    const r = parsePmEval(hostile);
    assert.deepEqual(r.datasets.map((d) => d.name), ['__proto__', '<img src=x onerror=1>']);
    assert.equal(r.datasets[0]!.label, '__proto__');
    const h = r.datasets[1]!;
    assert.equal(h.bins.length, 1, 'a bin with a string count is dropped');
    assert.deepEqual(h.byMargin.map((b) => b.lo), [0, 1], 'margin bins sorted');
    assert.equal(h.byMargin[0]!.accuracy, null);
    assert.deepEqual(r.winRates, [{ key: 'x', judge: { model: '<b>', winRate: 0.7 } }]);
    assert.equal(({} as Record<string, unknown>)['pairs'], undefined, 'no prototype pollution');
  });
});

describe('reliability diagram', () => {
  it('recomputes the ECE eval.json holds from its bins (demo run, every set)', () => {
    const r = parsePmEval(demo());
    for (const d of r.datasets) {
      const rel = reliability(d.bins);
      close(rel.ece, d.ece!, 1e-12, d.key);
      assert.equal(rel.total, rel.points.reduce((a, p) => a + p.count, 0));
      assert.ok(rel.points.every((p) => p.count > 0));
    }
  });

  it('matches the trainer’s own calibration on made-up margins', () => {
    const margins = Array.from({ length: 300 }, (_, i) => Math.sin(i * 12.9898) * 6);
    const labels = margins.map((m, i) => ((i * 7) % 10 < 8 ? (m > 0 ? 1 : 0) : m > 0 ? 0 : 1));
    const cal = calibration(margins, labels);
    const rel = reliability(cal.bins);
    close(rel.ece, cal.ece, 1e-12);
    const gaps = rel.points.map((p) => p.gap);
    close(rel.maxGap, Math.max(...gaps), 0);
    // points come in order of confidence
    assert.deepEqual(rel.points.map((p) => p.confidence), [...rel.points.map((p) => p.confidence)].sort((a, b) => a - b));
  });

  it('is empty without bins', () => {
    assert.deepEqual(reliability([]), { points: [], ece: 0, total: 0, maxGap: 0 });
  });
});

describe('accuracy against score difference', () => {
  it('draws σ(Δ) from 0 to the largest difference', () => {
    const c = logisticCurve(4, 5);
    assert.deepEqual(c.x, [0, 1, 2, 3, 4]);
    close(c.y[0]!, 0.5);
    close(c.y[4]!, 1 / (1 + Math.exp(-4)));
    assert.equal(logisticCurve(NaN).x.at(-1), 1);
  });

  it('expects the mean of σ over a bin (checked by numeric integration), σ(lo) for an open bin', () => {
    for (const [lo, hi] of [[0, 0.25], [0.5, 1], [2, 4], [0, 10]] as const) {
      let sum = 0;
      const n = 100_000;
      for (let i = 0; i < n; i++) sum += sigmoid(lo + ((i + 0.5) / n) * (hi - lo));
      close(expectedAccuracy(lo, hi), sum / n, 1e-8, `[${lo}, ${hi}]`);
    }
    close(expectedAccuracy(4, null), sigmoid(4));
    close(expectedAccuracy(1, 1), sigmoid(1));
    close(softplus(100), 100);
    close(softplus(-100), Math.exp(-100));
    close(sigmoid(-800), 0);
  });

  it('places bins at their middle (open ones at their start) beside the trainer’s bins', () => {
    const margins = [0.1, -0.3, 0.7, 1.5, -3, 5, 8];
    const labels = [1, 1, 1, 0, 0, 1, 1];
    const bins = JSON.parse(JSON.stringify(accuracyByMargin(margins, labels))) as Parameters<typeof marginRows>[0];
    const rows = marginRows(bins);
    assert.deepEqual(rows.map((r) => r.x), [0.125, 0.375, 0.75, 1.5, 3, 4]);
    assert.equal(rows.at(-1)!.open, true);
    assert.deepEqual(rows.map((r) => r.count), [1, 1, 1, 1, 1, 2]);
    assert.deepEqual(rows.map((r) => r.accuracy), [1, 0, 1, 0, 1, 1]);
  });
});

describe('Elo', () => {
  it('converts win rates and back', () => {
    close(eloFromWinRate(0.5), 0);
    close(eloFromWinRate(10 / 11), 400, 1e-9);
    close(eloFromWinRate(0.64), 100, 1);
    assert.ok(Number.isFinite(eloFromWinRate(1)) && eloFromWinRate(1) > 2000);
    assert.ok(Number.isFinite(eloFromWinRate(0)) && eloFromWinRate(0) < -2000);
    for (const e of [-300, -50, 0, 85, 400]) close(eloFromWinRate(winRateFromElo(e)), e, 1e-9);
  });

  it('gives a PM score difference the Elo its win probability σ(Δ) stands for', () => {
    close(eloFromScoreDiff(1), 173.7177927613007, 1e-9);
    for (const d of [-2, -0.3, 0, 0.5, 3]) close(winRateFromElo(eloFromScoreDiff(d)), sigmoid(d), 1e-12);
  });

  it('agrees with the ΔElo the evaluation stage wrote (demo run)', () => {
    const rows = eloRows(parsePmEval(demo()));
    assert.equal(rows.length, 3);
    for (const r of rows) close(r.deltaElo, r.recorded!, 1e-9, r.key);
    const rl = rows.find((r) => r.key === 'rl_cai_vs_base')!;
    close(rl.scoreDiff!, 2.0836197635314115 - 1.1094009377993643, 1e-12);
    close(rl.scoreElo!, eloFromScoreDiff(rl.scoreDiff!));
  });
});

describe('report CSV', () => {
  it('lists every table of the report, names defused', () => {
    const r = parsePmEval(demo());
    const csv = reportCsv(r);
    const lines = csv.trimEnd().split('\n');
    assert.equal(lines[0], 'table,dataset,lo,hi,count,confidence_or_accuracy,observed_or_expected,extra');
    assert.equal(lines.filter((l) => l.startsWith('reliability,')).length, r.datasets.reduce((a, d) => a + d.bins.length, 0));
    assert.equal(lines.filter((l) => l.startsWith('elo,')).length, 3);
    assert.ok(lines.some((l) => /^accuracy_by_margin,pm:eval_pairs,4,,/.test(l)), 'the open bin has an empty hi');
    const h = parsePmEval({ preference_model: { '=1+1': { pairs: 1 } } });
    // dataset keys start with their stage, so no cell can start a formula
    assert.match(reportCsv(h), /\nsummary,pm:=1\+1,,,1,,,\n$/);
  });
});
