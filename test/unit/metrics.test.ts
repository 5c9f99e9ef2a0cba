import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  alignSeries,
  axisValues,
  checkRow,
  clampSmoothing,
  compareMetrics,
  csvText,
  debiasedEma,
  envelopeWindow,
  metricInfo,
  outOfRange,
  rollingMinMax,
  rowFromRecord,
  RunMetrics,
  seriesCsv,
  seriesOf,
  smooth,
  stageGroup,
  tagChanges,
  trlRows,
  trlStage,
  type MetricRow,
} from '../../src/core/runs/metrics.js';
import { parseExportFile, safeExportName, MAX_EXPORT_CHARS } from '../../src/protocol/panels/curves.js';

const REPO = path.resolve(__dirname, '..', '..');
const DEMO = path.join(REPO, 'test', 'fixtures', 'runs', 'demo-20261128-082207');

const row = (stage: string, step: number, values: Record<string, number>, tags?: Record<string, string>): MetricRow => ({
  stage,
  step,
  values: Object.entries(values),
  ...(tags ? { tags: Object.entries(tags) } : {}),
});

/** TensorBoard's smoothing, written out as its source does (the reference for debiasedEma). */
function tensorboardSmoothing(ys: number[], weight: number): number[] {
  let last = 0;
  let numAccum = 0;
  return ys.map((y) => {
    if (!Number.isFinite(y)) return y;
    last = last * weight + (1 - weight) * y;
    numAccum++;
    const debias = weight === 1 ? 1 : 1 - Math.pow(weight, numAccum);
    return last / debias;
  });
}

describe('metric rows', () => {
  it('reads a metrics.jsonl record: numbers as values, strings as tags, the rest left out', () => {
    const r = rowFromRecord({ id: 'x', stage: 'pm', step: 3, time: 1700, loss: 0.5, accuracy: 1, phase: 'pmp', broken: null, inf: 'Infinity', nested: { a: 1 } });
    assert.deepEqual(r, { stage: 'pm', step: 3, time: 1700, values: [['loss', 0.5], ['accuracy', 1]], tags: [['phase', 'pmp'], ['inf', 'Infinity']] });
    assert.equal(rowFromRecord({ stage: 'pm' }), undefined, 'no step');
    assert.equal(rowFromRecord({ step: 1 }), undefined, 'no stage');
    assert.equal(rowFromRecord({ stage: 'pm', step: NaN }), undefined);
    assert.equal(rowFromRecord([1, 2]), undefined);
    assert.equal(rowFromRecord('x'), undefined);
  });

  it('keeps any metric name as data, including __proto__ and markup', () => {
    const rec = JSON.parse('{"id":"a","stage":"ppo","step":1,"__proto__":2,"<img src=x onerror=alert(1)>":3}') as unknown;
    const r = rowFromRecord(rec)!;
    assert.deepEqual(r.values, [['__proto__', 2], ['<img src=x onerror=alert(1)>', 3]]);
    const m = new RunMetrics();
    m.add([r]);
    assert.deepEqual([...m.stages.get('ppo')!.cols.keys()], ['__proto__', '<img src=x onerror=alert(1)>']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('checks rows that crossed a message boundary', () => {
    assert.deepEqual(checkRow({ stage: 'sft', step: 1, values: [['loss', 1], ['bad', 'x'], ['nan', null], 'junk'], tags: [['phase', 'pmp'], [1, 2]] }), {
      stage: 'sft',
      step: 1,
      values: [['loss', 1]],
      tags: [['phase', 'pmp']],
    });
    assert.equal(checkRow({ stage: 'sft', step: '1', values: [] }), undefined);
    assert.equal(checkRow({ stage: 'sft', step: 1 }), undefined);
    assert.equal(checkRow(null), undefined);
  });

  it('keeps rows in step order, merges a repeated step (first value wins) and inserts late ones', () => {
    const m = new RunMetrics();
    m.add([row('sft', 1, { loss: 3 }), row('sft', 2, { loss: 2 }), row('sft', 4, { loss: 1 })]);
    const v0 = m.version;
    m.add([row('sft', 2, { loss: 99, lr: 0.1 }), row('sft', 3, { loss: 1.5 })]);
    const t = m.stages.get('sft')!;
    assert.deepEqual(t.steps, [1, 2, 3, 4]);
    assert.deepEqual(t.cols.get('loss'), [3, 2, 1.5, 1]);
    assert.deepEqual(t.cols.get('lr'), [NaN, 0.1, NaN, NaN]);
    assert.ok(m.version > v0);
    m.clear();
    assert.equal(m.stages.size, 0);
  });

  it('finds the steps where a tag changes (the PM phases)', () => {
    const m = new RunMetrics();
    m.add([row('pm', 1, { loss: 1 }, { phase: 'pmp' }), row('pm', 2, { loss: 1 }, { phase: 'pmp' }), row('pm', 3, { loss: 1 }, { phase: 'finetune' })]);
    assert.deepEqual(tagChanges(m.stages.get('pm')!, 'phase'), [
      { step: 1, value: 'pmp' },
      { step: 3, value: 'finetune' },
    ]);
    assert.deepEqual(tagChanges(m.stages.get('pm')!, 'none'), []);
  });
});

describe('x axes', () => {
  it('uses PPO episodes, and falls back to step for a stage without them', () => {
    const m = new RunMetrics();
    m.add([row('ppo', 1, { 'objective/kl': 0.1, episode: 16 }), row('ppo', 2, { 'objective/kl': 0.2, episode: 32 }), row('sft', 1, { loss: 2 })]);
    const s = seriesOf(m.stages.get('ppo')!, 'objective/kl', 'episode')!;
    assert.deepEqual(s, { x: [16, 32], y: [0.1, 0.2], steps: [1, 2], axis: 'episode' });
    const f = seriesOf(m.stages.get('sft')!, 'loss', 'episode')!;
    assert.equal(f.axis, 'step');
    assert.deepEqual(f.x, [1]);
  });

  it('takes cumulative tokens as logged and sums per-step counts', () => {
    const m = new RunMetrics();
    m.add([row('sft', 1, { loss: 3, tokens: 100 }), row('sft', 2, { loss: 2, tokens: 200 }), row('sft', 3, { loss: 1, tokens: 300 })]);
    assert.deepEqual(axisValues(m.stages.get('sft')!, 'tokens'), [100, 200, 300]);
    const p = new RunMetrics();
    p.add([row('sft', 1, { loss: 3, tokens: 100 }), row('sft', 2, { loss: 2, tokens: 90 }), row('sft', 3, { loss: 1, tokens: 110 })]);
    assert.deepEqual(axisValues(p.stages.get('sft')!, 'tokens'), [100, 190, 300]);
  });

  it('counts PPO tokens as mean response length × new episodes', () => {
    const m = new RunMetrics();
    m.add([row('ppo', 1, { response_tokens: 10, episode: 16 }), row('ppo', 2, { response_tokens: 20, episode: 32 })]);
    assert.deepEqual(axisValues(m.stages.get('ppo')!, 'tokens'), [160, 480]);
    assert.equal(axisValues(m.stages.get('ppo')!, 'epoch'), undefined);
  });

  it('leaves out points without a value and sorts an axis that goes backwards', () => {
    const m = new RunMetrics();
    m.add([row('x', 1, { a: 1, epoch: 0.5 }), row('x', 2, { epoch: 0.6 }), row('x', 3, { a: 3, epoch: 0.2 })]);
    const s = seriesOf(m.stages.get('x')!, 'a', 'epoch')!;
    assert.deepEqual(s.x, [0.2, 0.5]);
    assert.deepEqual(s.y, [3, 1]);
    assert.deepEqual(s.steps, [3, 1]);
    assert.equal(seriesOf(m.stages.get('x')!, 'missing', 'step'), undefined);
  });
});

describe('smoothing', () => {
  it('is TensorBoard’s debiased EMA', () => {
    const ys = Array.from({ length: 200 }, (_, i) => Math.sin(i / 7) + ((i * 7919) % 13) / 13);
    for (const w of [0, 0.3, 0.6, 0.9, 0.99]) {
      const got = debiasedEma(ys, w);
      const want = tensorboardSmoothing(ys, w);
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-12, `w=${w} i=${i}`));
    }
    // worked example: 0 then 10 with β = 0.5 → 0, then 5 / 0.75
    assert.deepEqual(debiasedEma([0, 10], 0.5), [0, 10 * 0.5 / 0.75]);
  });

  it('is not pulled towards zero at the start, and passes non-finite values through', () => {
    assert.deepEqual(debiasedEma([5, 5, 5], 0.9).map((v) => +v.toFixed(12)), [5, 5, 5]);
    const s = debiasedEma([1, NaN, 1], 0.9);
    assert.ok(Number.isNaN(s[1]!));
    assert.ok(Math.abs(s[2]! - 1) < 1e-12);
    assert.deepEqual(debiasedEma([1, 2, 3], 0), [1, 2, 3]);
    assert.equal(clampSmoothing(5), 0.99);
    assert.equal(clampSmoothing(-1), 0);
    assert.equal(clampSmoothing(NaN), 0);
  });

  it('has a rolling min/max envelope equal to a brute-force window', () => {
    const ys = Array.from({ length: 500 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 11)));
    for (const w of [1, 2, 5, 37, 1000]) {
      const { min, max } = rollingMinMax(ys, w);
      ys.forEach((_, i) => {
        const win = ys.slice(Math.max(0, i - w + 1), i + 1);
        assert.equal(min[i], Math.min(...win));
        assert.equal(max[i], Math.max(...win));
      });
    }
    assert.equal(envelopeWindow(0), 1);
    assert.equal(envelopeWindow(0.9), 10);
    assert.equal(envelopeWindow(0.99), 100);
  });

  it('handles 10k-point series quickly (smoothing, envelope and three runs aligned)', () => {
    const n = 10_000;
    const parts = [0, 1, 2].map((r) => {
      const x = Array.from({ length: n }, (_, i) => i * (r + 1));
      const y = x.map((v) => Math.exp(-v / 5000) + Math.sin(v) * 0.1);
      return { x, y };
    });
    const t0 = performance.now();
    const a = alignSeries(parts.map((p) => {
      const s = smooth(p.y, 0.95);
      return { x: p.x, ys: [s.smoothed, p.y, s.max, s.min] };
    }));
    const ms = performance.now() - t0;
    assert.equal(a.ys.length, 12);
    assert.ok(a.x.length >= n && a.x.length <= 3 * n);
    assert.ok(ms < 500, `took ${ms.toFixed(0)} ms`);
  });
});

describe('alignment of several runs', () => {
  it('puts series on one sorted x axis with nulls where a run has no point', () => {
    const a = alignSeries([
      { x: [1, 2, 4], ys: [[10, 20, 40]] },
      { x: [2, 3], ys: [[200, 300], [2, 3]] },
    ]);
    assert.deepEqual(a.x, [1, 2, 3, 4]);
    assert.deepEqual(a.ys, [
      [10, 20, null, 40],
      [null, 200, 300, null],
      [null, 2, 3, null],
    ]);
    assert.deepEqual(alignSeries([]), { x: [], ys: [] });
  });
});

describe('CSV export', () => {
  it('writes raw and smoothed values, one line per point', () => {
    const m = new RunMetrics();
    m.add([row('sft', 1, { loss: 2 }), row('sft', 2, { loss: 1 })]);
    const csv = seriesCsv([{ run: 'run-a', stage: 'sft', metric: 'loss', series: seriesOf(m.stages.get('sft')!, 'loss', 'step')! }], 0.5);
    const lines = csv.trimEnd().split('\n');
    assert.equal(lines[0], 'run,stage,metric,step,x_axis,x,value,smoothed,envelope_min,envelope_max');
    assert.equal(lines[1], 'run-a,sft,loss,1,step,1,2,2,2,2');
    const smoothed = (0.5 * 2 * 0.5 + 0.5 * 1) / 0.75;
    assert.equal(lines[2], `run-a,sft,loss,2,step,2,1,${smoothed},1,2`);
  });

  it('quotes text and defuses spreadsheet formulas in names', () => {
    assert.equal(csvText('plain'), 'plain');
    assert.equal(csvText('a,b'), '"a,b"');
    assert.equal(csvText('say "hi"\n'), '"say ""hi""\n"');
    assert.equal(csvText('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
    assert.equal(csvText('+1'), "'+1");
    assert.equal(csvText('-1'), "'-1");
    assert.equal(csvText('@cmd'), "'@cmd");
    const m = new RunMetrics();
    m.add([row('ppo', 1, { '=cmd|"/c calc"!A1': -1 })]);
    const csv = seriesCsv([{ run: '<script>', stage: 'ppo', metric: '=cmd|"/c calc"!A1', series: seriesOf(m.stages.get('ppo')!, '=cmd|"/c calc"!A1', 'step')! }], 0);
    assert.match(csv, /\n<script>,ppo,"'=cmd\|""\/c calc""!A1",1,step,1,-1,-1,-1,-1\n$/);
  });
});

describe("TRL's trainer_state.json", () => {
  const sft = {
    global_step: 20,
    max_steps: 100,
    log_history: [
      { epoch: 0.1, grad_norm: 1.5, learning_rate: 2e-5, loss: 2.5, num_tokens: 1024, step: 10 },
      { epoch: 0.1, eval_loss: 2.4, eval_runtime: 1.2, eval_samples_per_second: 50, step: 10 },
      { epoch: 0.2, grad_norm: 1.1, learning_rate: 1.8e-5, loss: 2.1, num_tokens: 2048, step: 20 },
      { epoch: 0.2, step: 20, total_flos: 1e12, train_loss: 2.3, train_runtime: 30, train_samples_per_second: 10 },
      'junk',
    ],
  };

  it('maps log_history to rows (learning_rate → lr, num_tokens → tokens), leaving out summaries', () => {
    const r = trlRows(sft);
    assert.equal(r.stage, 'sft');
    assert.equal(r.globalStep, 20);
    assert.equal(r.maxSteps, 100);
    assert.deepEqual(r.rows, [
      { stage: 'sft', step: 10, values: [['epoch', 0.1], ['grad_norm', 1.5], ['lr', 2e-5], ['loss', 2.5], ['tokens', 1024]] },
      { stage: 'sft', step: 10, values: [['epoch', 0.1], ['eval_loss', 2.4]] },
      { stage: 'sft', step: 20, values: [['epoch', 0.2], ['grad_norm', 1.1], ['lr', 1.8e-5], ['loss', 2.1], ['tokens', 2048]] },
    ]);
    // a training entry and an evaluation entry of the same step merge into one step
    const m = new RunMetrics();
    m.add(r.rows);
    const t = m.stages.get('sft')!;
    assert.deepEqual(t.steps, [10, 20]);
    assert.deepEqual(t.cols.get('eval_loss'), [2.4, NaN]);
    assert.deepEqual(seriesOf(t, 'loss', 'tokens')!.x, [1024, 2048]);
    assert.deepEqual(seriesOf(t, 'loss', 'epoch')!.x, [0.1, 0.2]);
  });

  it('recognises PPO and reward-model logs, and survives anything else', () => {
    const ppo = trlRows({ log_history: [{ 'objective/kl': 0.1, 'objective/scores': 1, episode: 64, eps: 3, lr: 3e-6, step: 1 }, { 'train/objective/kl': 0.2, episode: 128 }] });
    assert.equal(ppo.stage, 'ppo');
    assert.deepEqual(ppo.rows[1], { stage: 'ppo', step: 2, values: [['objective/kl', 0.2], ['episode', 128]] });
    assert.equal(trlStage(['loss', 'accuracy', 'margin']), 'pm');
    assert.equal(trlStage(['loss', 'learning_rate']), 'sft');
    assert.deepEqual(trlRows(null).rows, []);
    assert.deepEqual(trlRows({ log_history: 'x' }).rows, []);
    assert.equal(trlRows(sft, 'pm').stage, 'pm');
  });
});

describe('metric explanations', () => {
  it('explain every PPO metric the trainer logs and every one TRL documents', () => {
    const ppo = fs
      .readFileSync(path.join(DEMO, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r['stage'] === 'ppo');
    const names = new Set(ppo.flatMap((r) => Object.keys(r)).filter((k) => !['id', 'stage', 'step', 'time'].includes(k)));
    for (const k of ['objective/kl', 'objective/entropy', 'objective/scores', 'objective/rlhf_reward', 'objective/non_score_reward', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'val/ratio_var', 'val/num_eos_tokens', 'lr', 'episode', 'eps', 'policy/entropy_avg']) names.add(k);
    for (const n of names) {
      const info = metricInfo('ppo', n);
      assert.ok(info && info.about.length > 20, `no explanation for ${n}`);
    }
    for (const n of ['objective/rlhf_reward', 'objective/kl', 'objective/entropy', 'val/ratio', 'policy/clipfrac_avg', 'loss/value_avg']) assert.ok(metricInfo('ppo', n)!.healthy, `no healthy range for ${n}`);
    assert.ok(metricInfo('sft', 'loss'));
    assert.ok(metricInfo('pm', 'accuracy'));
    assert.ok(metricInfo('feedback', 'flip_rate'));
    assert.equal(metricInfo('ppo', 'toString'), undefined);
    assert.equal(metricInfo('ppo', '__proto__'), undefined);
  });

  it('flag values outside the usual range', () => {
    const ratio = metricInfo('ppo', 'val/ratio');
    assert.equal(outOfRange(ratio, 1.0), undefined);
    assert.equal(outOfRange(ratio, 2.0), 'high');
    assert.equal(outOfRange(ratio, 0.1), 'low');
    assert.equal(outOfRange(metricInfo('ppo', 'objective/kl'), -3), 'low');
    assert.equal(outOfRange(metricInfo('ppo', 'loss/policy_avg'), 1e9), undefined);
    assert.equal(outOfRange(undefined, 1), undefined);
  });

  it('order charts with the telling metrics first and group stages', () => {
    const names = ['val/ratio', 'zeta', 'objective/kl', 'alpha', 'objective/rlhf_reward'];
    assert.deepEqual([...names].sort((a, b) => compareMetrics('ppo', a, b)), ['objective/rlhf_reward', 'objective/kl', 'val/ratio', 'alpha', 'zeta']);
    assert.equal(stageGroup('sft'), 'sft');
    assert.equal(stageGroup('feedback'), 'other');
    assert.equal(stageGroup('<b>x</b>'), 'other');
  });
});

describe('export messages from a page', () => {
  it('accept CSV text and PNG data URLs only, within the size limit', () => {
    assert.deepEqual(parseExportFile({ format: 'csv', fileName: 'a.csv', data: 'x,y\n' }), { format: 'csv', fileName: 'a.csv', data: 'x,y\n' });
    assert.ok(parseExportFile({ format: 'png', fileName: 'a.png', data: 'data:image/png;base64,iVBORw0KGgo=' }));
    assert.equal(parseExportFile({ format: 'png', fileName: 'a.png', data: 'data:text/html;base64,PHNjcmlwdD4=' }), undefined);
    assert.equal(parseExportFile({ format: 'png', fileName: 'a.png', data: 'data:image/png;base64,<script>' }), undefined);
    assert.equal(parseExportFile({ format: 'exe', fileName: 'a', data: 'x' }), undefined);
    assert.equal(parseExportFile({ format: 'csv', fileName: 3, data: 'x' }), undefined);
    assert.equal(parseExportFile({ format: 'csv', fileName: 'a', data: '' }), undefined);
    assert.equal(parseExportFile({ format: 'csv', fileName: 'a', data: 'x'.repeat(MAX_EXPORT_CHARS + 1) }), undefined);
    assert.equal(parseExportFile(null), undefined);
  });

  it('make safe file names', () => {
    assert.equal(safeExportName('curves-run-loss.csv', 'csv'), 'curves-run-loss.csv');
    assert.equal(safeExportName('../../etc/passwd', 'csv'), 'etc-passwd.csv');
    assert.equal(safeExportName('.bashrc', 'png'), 'bashrc.png');
    assert.equal(safeExportName('<img src=x>', 'png'), 'img-src-x.png');
    assert.equal(safeExportName('', 'csv'), 'export.csv');
    assert.equal(safeExportName('x.png', 'csv'), 'x.csv');
    assert.ok(safeExportName('a'.repeat(5000), 'csv').length <= 124);
  });
});
