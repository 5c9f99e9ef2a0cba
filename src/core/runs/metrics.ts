// Training curves from metric records: rows per stage and step, series of one metric against a
// chosen x axis, TensorBoard-style debiased EMA smoothing with a rolling min/max envelope,
// alignment of several runs on one x axis, CSV export, TRL's trainer_state.json, and what each
// metric means (with the range it usually stays in). Pure: no DOM, no Node. Used by the curves
// and preference-model panels (host and page) and by tests.

import type { MetricRecord } from './records.js';

// ---------------------------------------------------------------------------------------------
// Rows.

/** One logged step of one stage: numeric metrics and string tags (e.g. the PM's `phase`) as name/value pairs (never object keys, so any name is safe). */
export interface MetricRow {
  stage: string;
  step: number;
  /** Milliseconds since the epoch. */
  time?: number;
  values: [string, number][];
  tags?: [string, string][];
}

/** Fields of a metric record that are not metrics. */
const NOT_METRICS = new Set(['id', 'stage', 'step', 'time']);
/** Longest tag value kept (tags are labels such as `pmp`/`finetune`). */
const MAX_TAG = 200;

/** A record of metrics.jsonl as a row; undefined when it has no string stage or no finite step. Non-finite numbers and nulls are left out. */
export function rowFromRecord(rec: unknown): MetricRow | undefined {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return undefined;
  const r = rec as Partial<MetricRecord> & Record<string, unknown>;
  if (typeof r.stage !== 'string' || typeof r.step !== 'number' || !Number.isFinite(r.step)) return undefined;
  const values: [string, number][] = [];
  const tags: [string, string][] = [];
  for (const [k, v] of Object.entries(r)) {
    if (NOT_METRICS.has(k)) continue;
    if (typeof v === 'number' && Number.isFinite(v)) values.push([k, v]);
    else if (typeof v === 'string') tags.push([k, v.length > MAX_TAG ? `${v.slice(0, MAX_TAG)}…` : v]);
  }
  const row: MetricRow = { stage: r.stage, step: r.step, values };
  if (typeof r.time === 'number' && Number.isFinite(r.time)) row.time = r.time;
  if (tags.length) row.tags = tags;
  return row;
}

/** Checks the shape of a row that crossed a message boundary; undefined when it is not one. */
export function checkRow(x: unknown): MetricRow | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const r = x as Partial<MetricRow>;
  if (typeof r.stage !== 'string' || typeof r.step !== 'number' || !Number.isFinite(r.step) || !Array.isArray(r.values)) return undefined;
  const values: [string, number][] = [];
  for (const p of r.values as unknown[]) {
    if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'number' && Number.isFinite(p[1])) values.push([p[0], p[1]]);
  }
  const row: MetricRow = { stage: r.stage, step: r.step, values };
  if (typeof r.time === 'number' && Number.isFinite(r.time)) row.time = r.time;
  if (Array.isArray(r.tags)) {
    const tags = (r.tags as unknown[]).filter((p): p is [string, string] => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');
    if (tags.length) row.tags = tags;
  }
  return row;
}

// ---------------------------------------------------------------------------------------------
// A run's metrics, by stage, in step order.

/** One stage's rows as columns aligned with `steps` (NaN where a row did not log the metric). */
export interface StageTable {
  stage: string;
  steps: number[];
  cols: Map<string, number[]>;
  tags: Map<string, (string | undefined)[]>;
  /** Bumped on every change (for redrawing only what changed). */
  version: number;
}

/**
 * The metrics of one run. Rows arrive in file order; a step already there is merged into (the
 * values it has win: readers keep the first record of each id, and TRL logs evaluation metrics as
 * a second entry of the same step).
 */
export class RunMetrics {
  readonly stages = new Map<string, StageTable>();
  version = 0;

  add(rows: readonly MetricRow[]): void {
    for (const row of rows) this.addRow(row);
  }

  clear(): void {
    this.stages.clear();
    this.version++;
  }

  private table(stage: string): StageTable {
    let t = this.stages.get(stage);
    if (!t) {
      t = { stage, steps: [], cols: new Map(), tags: new Map(), version: 0 };
      this.stages.set(stage, t);
    }
    return t;
  }

  private addRow(row: MetricRow): void {
    const t = this.table(row.stage);
    const n = t.steps.length;
    let i: number;
    let fresh = true;
    if (n === 0 || row.step > t.steps[n - 1]!) {
      i = n;
    } else {
      // binary search for the first step ≥ row.step (resumed or hand-edited files)
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (t.steps[mid]! < row.step) lo = mid + 1;
        else hi = mid;
      }
      i = lo;
      fresh = t.steps[i] !== row.step;
    }
    if (fresh) {
      t.steps.splice(i, 0, row.step);
      for (const c of t.cols.values()) c.splice(i, 0, NaN);
      for (const c of t.tags.values()) c.splice(i, 0, undefined);
    }
    const len = t.steps.length;
    for (const [k, v] of row.values) {
      let c = t.cols.get(k);
      if (!c) {
        c = new Array<number>(len).fill(NaN);
        t.cols.set(k, c);
      }
      if (Number.isNaN(c[i]!)) c[i] = v;
    }
    for (const [k, v] of row.tags ?? []) {
      let c = t.tags.get(k);
      if (!c) {
        c = new Array<string | undefined>(len).fill(undefined);
        t.tags.set(k, c);
      }
      if (c[i] === undefined) c[i] = v;
    }
    t.version++;
    this.version++;
  }
}

// ---------------------------------------------------------------------------------------------
// X axes.

export type XAxis = 'step' | 'episode' | 'tokens' | 'epoch';

export const X_AXES: readonly { id: XAxis; label: string; about: string }[] = [
  { id: 'step', label: 'Step', about: 'the logged step (an optimizer step; a PPO iteration)' },
  { id: 'episode', label: 'Episode', about: 'rollouts generated so far (PPO `episode`)' },
  { id: 'tokens', label: 'Tokens', about: 'tokens trained on so far (SL-CAI `tokens`; PPO response tokens)' },
  { id: 'epoch', label: 'Epoch', about: 'passes over the data (TRL `epoch`)' },
];

export function isXAxis(x: unknown): x is XAxis {
  return x === 'step' || x === 'episode' || x === 'tokens' || x === 'epoch';
}

/**
 * The x value of each row of a stage for an axis (NaN where unknown), or undefined when the stage
 * has none. Tokens: the logged `tokens`, as they are when they never decrease (cumulative), else
 * summed; for PPO, the mean response length times the rollouts of each iteration, summed.
 */
export function axisValues(t: StageTable, axis: XAxis): number[] | undefined {
  if (axis === 'step') return t.steps;
  if (axis === 'episode' || axis === 'epoch') {
    const c = t.cols.get(axis);
    return c && c.some(Number.isFinite) ? c : undefined;
  }
  const tok = t.cols.get('tokens');
  if (tok && tok.some(Number.isFinite)) {
    let last = -Infinity;
    let cumulative = true;
    for (const v of tok) {
      if (!Number.isFinite(v)) continue;
      if (v < last) {
        cumulative = false;
        break;
      }
      last = v;
    }
    if (cumulative) return tok;
    let sum = 0;
    return tok.map((v) => (Number.isFinite(v) ? (sum += v) : NaN));
  }
  const len = t.cols.get('response_tokens');
  const ep = t.cols.get('episode');
  if (len && ep && len.some(Number.isFinite)) {
    let sum = 0;
    let prevEp = 0;
    return len.map((l, i) => {
      const e = ep[i]!;
      if (!Number.isFinite(l) || !Number.isFinite(e)) return NaN;
      sum += l * Math.max(0, e - prevEp);
      prevEp = e;
      return sum;
    });
  }
  return undefined;
}

/** One metric of one stage against an x axis: the points where both are known, in x order. */
export interface Series {
  x: number[];
  y: number[];
  /** The step of each point. */
  steps: number[];
  /** The axis used: the one asked for, or `step` when the stage has no values for it. */
  axis: XAxis;
}

export function seriesOf(t: StageTable, metric: string, axis: XAxis): Series | undefined {
  const col = t.cols.get(metric);
  if (!col) return undefined;
  let xs = axisValues(t, axis);
  let used = axis;
  if (!xs) {
    xs = t.steps;
    used = 'step';
  }
  const x: number[] = [];
  const y: number[] = [];
  const steps: number[] = [];
  let sorted = true;
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!;
    const xv = xs[i]!;
    if (!Number.isFinite(v) || !Number.isFinite(xv)) continue;
    if (x.length && xv < x[x.length - 1]!) sorted = false;
    x.push(xv);
    y.push(v);
    steps.push(t.steps[i]!);
  }
  if (!sorted) {
    const order = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
    return { x: order.map((i) => x[i]!), y: order.map((i) => y[i]!), steps: order.map((i) => steps[i]!), axis: used };
  }
  return { x, y, steps, axis: used };
}

/** The steps where a tag (e.g. the PM's `phase`) changes value, with the new value. */
export function tagChanges(t: StageTable, tag: string): { step: number; value: string }[] {
  const c = t.tags.get(tag);
  if (!c) return [];
  const out: { step: number; value: string }[] = [];
  let last: string | undefined;
  c.forEach((v, i) => {
    if (v === undefined || v === last) return;
    out.push({ step: t.steps[i]!, value: v });
    last = v;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Smoothing.

/** The largest smoothing weight the panels offer. */
export const MAX_SMOOTHING = 0.99;

export function clampSmoothing(beta: number): number {
  return Number.isFinite(beta) ? Math.min(MAX_SMOOTHING, Math.max(0, beta)) : 0;
}

/**
 * TensorBoard's smoothing: an exponential moving average started at 0 and divided by 1 − β^t, so
 * the first points are not pulled towards 0. Non-finite values pass through unsmoothed and do not
 * count.
 */
export function debiasedEma(y: ArrayLike<number>, beta: number): number[] {
  const b = clampSmoothing(beta);
  const out = new Array<number>(y.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * b + (1 - b) * v;
    n++;
    const debias = 1 - b ** n;
    out[i] = debias > 0 ? last / debias : v;
  }
  return out;
}

/** Points in the envelope's trailing window for a smoothing weight: about the EMA's memory, 1 / (1 − β). */
export function envelopeWindow(beta: number): number {
  return Math.max(1, Math.round(1 / (1 - clampSmoothing(beta))));
}

/** Minimum and maximum of the last `window` values at each point (monotonic deques: linear time). */
export function rollingMinMax(y: ArrayLike<number>, window: number): { min: number[]; max: number[] } {
  const w = Math.max(1, Math.floor(window));
  const min = new Array<number>(y.length);
  const max = new Array<number>(y.length);
  const qMin: number[] = [];
  const qMax: number[] = [];
  let hMin = 0;
  let hMax = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    while (qMin.length > hMin && y[qMin[qMin.length - 1]!]! >= v) qMin.pop();
    qMin.push(i);
    while (qMax.length > hMax && y[qMax[qMax.length - 1]!]! <= v) qMax.pop();
    qMax.push(i);
    while (qMin[hMin]! <= i - w) hMin++;
    while (qMax[hMax]! <= i - w) hMax++;
    min[i] = y[qMin[hMin]!]!;
    max[i] = y[qMax[hMax]!]!;
  }
  return { min, max };
}

export interface Smoothed {
  smoothed: number[];
  min: number[];
  max: number[];
}

export function smooth(y: ArrayLike<number>, beta: number): Smoothed {
  const { min, max } = rollingMinMax(y, envelopeWindow(beta));
  return { smoothed: debiasedEma(y, beta), min, max };
}

// ---------------------------------------------------------------------------------------------
// Several runs on one x axis.

/**
 * Puts series with their own x values on one shared, sorted x axis (what a chart library draws):
 * each part's columns get null where that part has no point. Equal x values within a part keep
 * the last point.
 */
export function alignSeries(parts: readonly { x: readonly number[]; ys: readonly (readonly number[])[] }[]): { x: number[]; ys: (number | null)[][] } {
  const all: number[] = [];
  for (const p of parts) for (const v of p.x) all.push(v);
  all.sort((a, b) => a - b);
  const x: number[] = [];
  for (const v of all) if (x.length === 0 || x[x.length - 1] !== v) x.push(v);
  const ys: (number | null)[][] = [];
  for (const p of parts) {
    const cols = p.ys.map(() => new Array<number | null>(x.length).fill(null));
    let j = 0;
    for (let i = 0; i < p.x.length; i++) {
      const xv = p.x[i]!;
      while (x[j]! < xv) j++;
      p.ys.forEach((col, c) => {
        const v = col[i]!;
        cols[c]![j] = Number.isFinite(v) ? v : null;
      });
    }
    ys.push(...cols);
  }
  return { x, ys };
}

// ---------------------------------------------------------------------------------------------
// CSV.

export interface CsvSeries {
  run: string;
  stage: string;
  metric: string;
  series: Series;
}

/** A CSV text cell: quoted when needed, and a leading =, +, -, @ or control character defused (spreadsheets would run it as a formula). */
export function csvText(s: string): string {
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== safe.trim() ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const csvNum = (n: number): string => (Number.isFinite(n) ? String(n) : '');

/** Long-format CSV of raw and smoothed values: one line per point of every series. */
export function seriesCsv(series: readonly CsvSeries[], beta: number): string {
  const lines = ['run,stage,metric,step,x_axis,x,value,smoothed,envelope_min,envelope_max'];
  for (const s of series) {
    const { smoothed, min, max } = smooth(s.series.y, beta);
    const head = `${csvText(s.run)},${csvText(s.stage)},${csvText(s.metric)}`;
    for (let i = 0; i < s.series.x.length; i++) {
      lines.push(`${head},${csvNum(s.series.steps[i]!)},${s.series.axis},${csvNum(s.series.x[i]!)},${csvNum(s.series.y[i]!)},${csvNum(smoothed[i]!)},${csvNum(min[i]!)},${csvNum(max[i]!)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// TRL's trainer_state.json.

/** TRL/transformers names → ours, where they differ. */
const TRL_NAMES: Record<string, string> = { learning_rate: 'lr', num_tokens: 'tokens' };
/** Run summaries and throughput, not training curves. */
const TRL_SKIP = /(^total_flos$|_runtime$|_per_second$|^train_loss$)/;

/** The stage a TRL trainer's log belongs to, from its metric names: PPO's `objective/…`, a reward model's `accuracy`/`margin`, else SFT. */
export function trlStage(names: Iterable<string>): 'sft' | 'pm' | 'ppo' {
  let pm = false;
  for (const n of names) {
    if (/^(objective|policy|val|loss)\//.test(n)) return 'ppo';
    if (/^(eval_)?(accuracy|margin)$/.test(n)) pm = true;
  }
  return pm ? 'pm' : 'sft';
}

/**
 * TRL's `trainer_state.json` as rows: each `log_history` entry becomes a row at its `step`
 * (transformers' names mapped: `learning_rate` → `lr`, `num_tokens` → `tokens`; `epoch` kept for
 * the epoch axis; evaluation entries keep their `eval_` names). The final summary entry and
 * throughput figures are left out.
 */
export function trlRows(state: unknown, stage?: string): { rows: MetricRow[]; stage: string; globalStep?: number; maxSteps?: number } {
  const s = (typeof state === 'object' && state !== null ? state : {}) as { log_history?: unknown; global_step?: unknown; max_steps?: unknown };
  const history = Array.isArray(s.log_history) ? (s.log_history as unknown[]) : [];
  const entries = history.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null && !Array.isArray(e) && !('train_runtime' in e));
  const names = new Set<string>();
  for (const e of entries) for (const k of Object.keys(e)) names.add(k);
  const st = stage ?? trlStage(names);
  const rows: MetricRow[] = [];
  entries.forEach((e, i) => {
    const step = typeof e['step'] === 'number' && Number.isFinite(e['step']) ? e['step'] : i + 1;
    const values: [string, number][] = [];
    for (const [k0, v] of Object.entries(e)) {
      if (k0 === 'step' || typeof v !== 'number' || !Number.isFinite(v)) continue;
      const k = k0.startsWith('train/') ? k0.slice(6) : k0;
      if (TRL_SKIP.test(k)) continue;
      values.push([TRL_NAMES[k] ?? k, v]);
    }
    if (values.length) rows.push({ stage: st, step, values });
  });
  const out: { rows: MetricRow[]; stage: string; globalStep?: number; maxSteps?: number } = { rows, stage: st };
  if (typeof s.global_step === 'number') out.globalStep = s.global_step;
  if (typeof s.max_steps === 'number') out.maxSteps = s.max_steps;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Stages and what each metric means.

export type StageGroup = 'sft' | 'pm' | 'ppo' | 'other';

export const STAGE_GROUPS: readonly { id: StageGroup; label: string }[] = [
  { id: 'sft', label: 'SL-CAI (supervised)' },
  { id: 'pm', label: 'Preference model' },
  { id: 'ppo', label: 'PPO (RL-CAI)' },
  { id: 'other', label: 'Other stages' },
];

export function stageGroup(stage: string): StageGroup {
  return stage === 'sft' || stage === 'pm' || stage === 'ppo' ? stage : 'other';
}

export interface MetricInfo {
  /** What the number is, in a sentence or two. */
  about: string;
  /** What a healthy run shows. */
  healthy?: string;
  /** Bounds outside which the panel flags the (smoothed) latest value; null: no bound. */
  range?: [number | null, number | null];
}

/** PPO metrics (TRL's names). */
const PPO_INFO: Record<string, MetricInfo> = {
  'objective/rlhf_reward': {
    about: 'The reward PPO maximises: the preference-model score minus the KL penalty (objective/scores + objective/non_score_reward), averaged over the rollouts.',
    healthy: 'Climbs over training, then levels off. This is the number that should go up.',
  },
  'objective/scores': {
    about: "The preference model's mean score of this iteration's rollouts, before any KL penalty.",
    healthy: 'Rises. A sudden jump together with a fast-rising KL often means the policy found a way to game the preference model.',
  },
  'objective/kl': {
    about: 'How far the policy has moved from the reference (SL-CAI) policy: the sum over response tokens of log π − log π_ref, averaged over rollouts.',
    healthy: 'Starts near 0 and grows slowly. It should stay positive; runaway growth means the policy is drifting away from fluent text.',
    range: [-0.5, null],
  },
  'objective/entropy': {
    about: 'Randomness of the policy: the sum of −log π over the sampled response tokens, averaged over rollouts.',
    healthy: 'Drifts down slowly. A collapse towards 0 means repetitive, deterministic answers; a sharp rise means degenerate text.',
    range: [0, null],
  },
  'objective/non_score_reward': {
    about: 'The KL penalty part of the reward: −β × KL (β is objective/kl_coef).',
    healthy: 'At or below 0, and small next to the scores. It grows more negative as the KL grows.',
    range: [null, 0.01],
  },
  'objective/kl_coef': {
    about: 'β, the weight of the KL penalty: fixed, or moved by the adaptive controller towards a target KL.',
    healthy: 'Steady. A coefficient that keeps climbing often comes before numerical trouble.',
  },
  'policy/approxkl_avg': {
    about: "Approximate KL between the policy before and after this iteration's updates (not the KL to the reference), averaged over the minibatch updates.",
    healthy: 'Small, typically below about 0.02. Large values mean the updates are too big: lower the learning rate or the PPO epochs.',
    range: [null, 0.1],
  },
  'policy/clipfrac_avg': {
    about: "Share of tokens whose probability ratio left PPO's clipping window [1 − ε, 1 + ε], so their update was clipped.",
    healthy: 'Mostly below 0.2. A high clip fraction, with high approxkl, means the updates are too drastic.',
    range: [null, 0.3],
  },
  'policy/entropy_avg': {
    about: 'Mean entropy of the policy during the updates (TRL), a measure of how varied its choices are.',
    healthy: 'Declines slowly; a collapse towards 0 is a warning sign.',
  },
  'loss/policy_avg': {
    about: 'The clipped surrogate policy loss, averaged over the minibatch updates.',
    healthy: 'Hovers around 0 and is noisy; it is not a measure of progress on its own.',
  },
  'loss/value_avg': {
    about: "The value head's regression loss against the returns, averaged over the minibatch updates.",
    healthy: 'Falls, then settles. Spikes (or a missing value: NaN) mean training is going wrong.',
  },
  'val/clipfrac_avg': {
    about: 'Share of value predictions that were clipped to stay near the previous value estimates.',
    healthy: 'Often high at first, lower once the value head has learnt the returns.',
  },
  'val/ratio': {
    about: 'Mean ratio of new to old probability of the sampled tokens: how much the policy changed within the iteration.',
    healthy: 'Floats around 1.0. Values like 2 or 0.1 mean the updates between consecutive policies are far too large.',
    range: [0.8, 1.25],
  },
  'val/ratio_var': {
    about: 'Variance of the probability ratio over tokens.',
    healthy: 'Small, well under 0.1; spikes mean a few tokens changed drastically.',
    range: [null, 0.5],
  },
  'val/num_eos_tokens': {
    about: 'Rollouts that ended with an end-of-sequence token before the length limit.',
    healthy: 'Stays well above 0. If it falls to 0, answers run to the length limit.',
  },
  'val/mean': { about: "Mean of the value head's estimates over the rollout tokens." },
  response_tokens: {
    about: 'Mean response length of the rollouts, in tokens.',
    healthy: 'Roughly steady. Steady growth can mean the policy is winning reward through length.',
  },
  lr: { about: "The optimizer's learning rate at this step (warm-up and decay schedule)." },
  episode: { about: 'Rollouts generated so far (prompts × responses); the x axis TRL plots PPO against.' },
  eps: { about: 'Episodes per second (TRL): throughput.' },
};

const SFT_INFO: Record<string, MetricInfo> = {
  loss: { about: 'Cross-entropy of the revised responses under the policy (SL-CAI fine-tuning), per token.', healthy: 'Falls quickly, then slowly. A rise late in training suggests overfitting or a too-high learning rate.' },
  lr: { about: "The optimizer's learning rate at this step (warm-up and decay schedule)." },
  grad_norm: { about: 'Norm of the gradient before clipping.', healthy: 'Noisy but bounded; repeated large spikes point at instability.' },
  tokens: { about: 'Tokens trained on (cumulative, or per step as logged).' },
  eval_loss: { about: 'Loss on held-out data (TRL).', healthy: 'Falls with the training loss; rising while the training loss falls means overfitting.' },
  mean_token_accuracy: { about: 'Share of tokens predicted exactly (TRL).' },
};

const PM_INFO: Record<string, MetricInfo> = {
  loss: { about: 'Preference-model loss of the batch: cross-entropy of σ(r_a − r_b) against the soft AI label (plus the LM loss during pretraining when weighted).', healthy: 'Falls. With soft labels its floor is the labels’ own entropy, not 0.' },
  accuracy: { about: "Share of the batch's pairs where the higher reward is on the label's side.", healthy: 'Rises above 0.5 (chance) and levels off.' },
  margin: { about: "Mean reward difference r_a − r_b on the label's side.", healthy: 'Grows from 0; very large margins with flat accuracy mean overconfidence.' },
  lm_loss: { about: 'Language-modelling loss mixed in during preference-model pretraining (PMP).', healthy: 'Stays flat or falls: the model keeps its language skills.' },
  grad_norm: { about: 'Norm of the gradient before clipping.', healthy: 'Noisy but bounded.' },
  lr: { about: "The optimizer's learning rate at this step." },
};

const OTHER_INFO: Record<string, MetricInfo> = {
  flip_rate: { about: 'Share of pairs whose preferred position changed when the responses were swapped: judged by content.', healthy: 'High. A low flip rate means the feedback model prefers a position, not an answer.' },
  position_bias: { about: '1 − flip rate: share of pairs where the feedback model kept the same letter in both orders.', healthy: 'Low.' },
  mean_p_a: { about: 'Mean label P(A better).', healthy: 'Near 0.5 when A and B are sampled the same way.' },
};

/** What a metric means, by stage (TRL's reward and SFT names included); undefined when unknown. */
export function metricInfo(stage: string, metric: string): MetricInfo | undefined {
  const own = (o: Record<string, MetricInfo>): MetricInfo | undefined => (Object.prototype.hasOwnProperty.call(o, metric) ? o[metric] : undefined);
  if (stage === 'ppo') return own(PPO_INFO);
  if (stage === 'pm') return own(PM_INFO);
  if (stage === 'sft') return own(SFT_INFO);
  return own(OTHER_INFO);
}

/** Whether a value is outside the metric's usual range. */
export function outOfRange(info: MetricInfo | undefined, v: number): 'low' | 'high' | undefined {
  if (!info?.range || !Number.isFinite(v)) return undefined;
  const [lo, hi] = info.range;
  if (lo !== null && v < lo) return 'low';
  if (hi !== null && v > hi) return 'high';
  return undefined;
}

/** Preferred chart order within a stage (the most telling metrics first); others follow by name. */
const ORDER: Record<string, readonly string[]> = {
  sft: ['loss', 'eval_loss', 'lr', 'grad_norm', 'tokens'],
  pm: ['loss', 'accuracy', 'margin', 'lm_loss', 'eval_loss', 'eval_accuracy', 'grad_norm', 'lr'],
  ppo: ['objective/rlhf_reward', 'objective/scores', 'objective/kl', 'objective/entropy', 'objective/non_score_reward', 'objective/kl_coef', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'val/ratio_var', 'val/num_eos_tokens', 'val/mean', 'response_tokens', 'lr', 'episode'],
};

export function compareMetrics(stage: string, a: string, b: string): number {
  const o = ORDER[stage] ?? [];
  const ia = o.indexOf(a);
  const ib = o.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? Infinity : ia) - (ib < 0 ? Infinity : ib) || 0;
  return a < b ? -1 : a > b ? 1 : 0;
}
