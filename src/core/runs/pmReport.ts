// The preference-model report: what eval.json says about the preference model (accuracy,
// calibration bins, accuracy by score difference, win rates of the policies it scores), read
// defensively, and the numbers the report draws from it: the reliability diagram with its
// expected calibration error, the logistic curve σ(Δ) a calibrated model's accuracy follows, and
// Elo-equivalent differences. Pure: no DOM, no Node. docs/run-format.md describes eval.json.

import { csvText } from './metrics.js';

/** One reliability bin: pairs whose predicted P(A) = σ(r_a − r_b) fell in [lo, hi). */
export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted P(A) in the bin. */
  confidence: number;
  /** Mean label in the bin (observed frequency of A). */
  observed: number;
}

/** Pairs whose |r_a − r_b| fell in [lo, hi); `hi` null for the open last bin. */
export interface MarginBin {
  lo: number;
  hi: number | null;
  count: number;
  /** Share right; null when the bin is empty. */
  accuracy: number | null;
}

export interface PmDataset {
  /** Unique within the report, e.g. `pm:eval_pairs` or `evaluation:hhh`. */
  key: string;
  /** The name in eval.json (text from a file: shown as text). */
  name: string;
  /** A readable name for the known sets, else `name`. */
  label: string;
  /** Which stage wrote it. */
  source: 'pm' | 'evaluation';
  pairs?: number;
  accuracy?: number;
  ece?: number;
  meanMargin?: number;
  bins: ReliabilityBin[];
  byMargin: MarginBin[];
}

export interface WinRate {
  /** e.g. `rl_cai_vs_sl_cai`. */
  key: string;
  /** The two policies, when the key reads `<a>_vs_<b>`. */
  a?: string;
  b?: string;
  /** Share of prompts where a's answer scored higher under the preference model (ties half). */
  pmWinRate?: number;
  /** ΔElo as written in eval.json. */
  pmDeltaElo?: number;
  judge?: { model?: string; winRate?: number; softWinRate?: number; flipRate?: number };
}

export interface PolicyScore {
  name: string;
  meanPmScore: number;
  prompts?: number;
}

export interface PmEvalReport {
  datasets: PmDataset[];
  winRates: WinRate[];
  policies: PolicyScore[];
  finishedAt?: string;
}

const LABELS: Record<string, string> = {
  held_out_ai_labels: 'Held-out AI labels',
  held_out_helpfulness: 'Held-out helpfulness pairs',
  eval_pairs: 'Evaluation pairs',
  hhh: 'HHH alignment pairs',
};

/** Most bins kept per list (eval.json is a file anyone can edit). */
const MAX_BINS = 1000;

const obj = (x: unknown): Record<string, unknown> | undefined => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined);
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

function reliabilityBins(x: unknown): ReliabilityBin[] {
  if (!Array.isArray(x)) return [];
  const out: ReliabilityBin[] = [];
  for (const b of x.slice(0, MAX_BINS)) {
    const o = obj(b);
    const lo = num(o?.['lo']);
    const hi = num(o?.['hi']);
    const count = num(o?.['count']);
    if (lo === undefined || hi === undefined || count === undefined || count < 0) continue;
    out.push({ lo, hi, count, confidence: num(o?.['confidence']) ?? NaN, observed: num(o?.['observed']) ?? NaN });
  }
  return out;
}

function marginBins(x: unknown): MarginBin[] {
  if (!Array.isArray(x)) return [];
  const out: MarginBin[] = [];
  for (const b of x.slice(0, MAX_BINS)) {
    const o = obj(b);
    const lo = num(o?.['lo']);
    const count = num(o?.['count']);
    if (lo === undefined || count === undefined || count < 0) continue;
    // JSON has no Infinity: the open last bin's `hi` is written as null
    const hi = num(o?.['hi']) ?? null;
    out.push({ lo, hi, count, accuracy: count > 0 ? (num(o?.['accuracy']) ?? null) : null });
  }
  return out.sort((a, b) => a.lo - b.lo);
}

function datasets(section: unknown, source: PmDataset['source']): PmDataset[] {
  const s = obj(section);
  if (!s) return [];
  const out: PmDataset[] = [];
  for (const [name, v] of Object.entries(s)) {
    const d = obj(v);
    if (!d) continue;
    const ds: PmDataset = {
      key: `${source}:${name}`,
      name,
      label: Object.prototype.hasOwnProperty.call(LABELS, name) ? LABELS[name]! : name,
      source,
      bins: reliabilityBins(d['bins']),
      byMargin: marginBins(d['accuracy_by_margin']),
    };
    const pairs = num(d['pairs']);
    const accuracy = num(d['accuracy']);
    const ece = num(d['ece']);
    const meanMargin = num(d['mean_margin']);
    if (pairs !== undefined) ds.pairs = pairs;
    if (accuracy !== undefined) ds.accuracy = accuracy;
    if (ece !== undefined) ds.ece = ece;
    if (meanMargin !== undefined) ds.meanMargin = meanMargin;
    if (ds.pairs === undefined && ds.accuracy === undefined && !ds.bins.length && !ds.byMargin.length) continue;
    out.push(ds);
  }
  return out;
}

/** The preference-model parts of eval.json; missing or malformed parts are left out. */
export function parsePmEval(evalJson: unknown): PmEvalReport {
  const root = obj(evalJson) ?? {};
  const evaluation = obj(root['evaluation']) ?? {};
  const report: PmEvalReport = {
    datasets: [...datasets(root['preference_model'], 'pm'), ...datasets(evaluation['preference_model'], 'evaluation')],
    winRates: [],
    policies: [],
  };
  for (const [key, v] of Object.entries(obj(evaluation['win_rates']) ?? {})) {
    const e = obj(v);
    if (!e) continue;
    const w: WinRate = { key };
    const m = /^(.+)_vs_(.+)$/.exec(key);
    if (m) {
      w.a = m[1]!;
      w.b = m[2]!;
    }
    const pm = obj(e['pm']);
    const wr = num(pm?.['win_rate']);
    const elo = num(pm?.['delta_elo']);
    if (wr !== undefined) w.pmWinRate = wr;
    if (elo !== undefined) w.pmDeltaElo = elo;
    const j = obj(e['judge']);
    if (j) {
      const judge: NonNullable<WinRate['judge']> = {};
      if (typeof j['model'] === 'string') judge.model = j['model'];
      const jw = num(j['win_rate']);
      const js = num(j['soft_win_rate']);
      const jf = num(j['flip_rate']);
      if (jw !== undefined) judge.winRate = jw;
      if (js !== undefined) judge.softWinRate = js;
      if (jf !== undefined) judge.flipRate = jf;
      w.judge = judge;
    }
    if (w.pmWinRate !== undefined || w.judge) report.winRates.push(w);
  }
  for (const [name, v] of Object.entries(obj(evaluation['policies']) ?? {})) {
    const p = obj(v);
    const score = num(p?.['mean_pm_score']);
    if (score === undefined) continue;
    const ps: PolicyScore = { name, meanPmScore: score };
    const prompts = num(p?.['prompts']);
    if (prompts !== undefined) ps.prompts = prompts;
    report.policies.push(ps);
  }
  if (typeof evaluation['finishedAt'] === 'string') report.finishedAt = evaluation['finishedAt'];
  return report;
}

// ---------------------------------------------------------------------------------------------
// Calibration.

export interface ReliabilityPoint extends ReliabilityBin {
  /** |confidence − observed|. */
  gap: number;
  /** Share of all pairs in this bin. */
  weight: number;
}

export interface Reliability {
  /** Non-empty bins in order of confidence. */
  points: ReliabilityPoint[];
  /** Expected calibration error: Σ (count / total) · |confidence − observed|. */
  ece: number;
  total: number;
  /** Largest gap of any non-empty bin. */
  maxGap: number;
}

export function reliability(bins: readonly ReliabilityBin[]): Reliability {
  const used = bins.filter((b) => b.count > 0 && Number.isFinite(b.confidence) && Number.isFinite(b.observed));
  const total = used.reduce((a, b) => a + b.count, 0);
  const points = used
    .map((b) => ({ ...b, gap: Math.abs(b.confidence - b.observed), weight: total ? b.count / total : 0 }))
    .sort((a, b) => a.confidence - b.confidence);
  return {
    points,
    ece: points.reduce((a, p) => a + p.weight * p.gap, 0),
    total,
    maxGap: points.reduce((a, p) => Math.max(a, p.gap), 0),
  };
}

// ---------------------------------------------------------------------------------------------
// Accuracy against score difference, beside the logistic curve.

export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** log(1 + eˣ) without overflow. */
export const softplus = (x: number): number => (x > 30 ? x : x < -30 ? Math.exp(x) : Math.log1p(Math.exp(x)));

/** `n` points of σ(Δ) for Δ from 0 to `max`: the accuracy a calibrated model has on pairs it scores Δ apart. */
export function logisticCurve(max: number, n = 101): { x: number[]; y: number[] } {
  const m = Number.isFinite(max) && max > 0 ? max : 1;
  const count = Math.max(2, Math.floor(n));
  const x = Array.from({ length: count }, (_, i) => (m * i) / (count - 1));
  return { x, y: x.map(sigmoid) };
}

/**
 * Expected accuracy of a calibrated model over a margin bin: the mean of σ over [lo, hi]
 * ((softplus(hi) − softplus(lo)) / (hi − lo), since softplus' = σ). An open bin gives σ(lo), a
 * lower bound.
 */
export function expectedAccuracy(lo: number, hi: number | null): number {
  if (hi === null || !Number.isFinite(hi)) return sigmoid(lo);
  if (hi - lo < 1e-9) return sigmoid(lo);
  return (softplus(hi) - softplus(lo)) / (hi - lo);
}

export interface MarginRow extends MarginBin {
  /** Where the bin is drawn: its middle, or its start when open. */
  x: number;
  /** What a calibrated model would score on the bin. */
  expected: number;
  open: boolean;
}

export function marginRows(bins: readonly MarginBin[]): MarginRow[] {
  return bins.map((b) => {
    const open = b.hi === null || !Number.isFinite(b.hi);
    return { ...b, x: open ? b.lo : (b.lo + (b.hi as number)) / 2, expected: expectedAccuracy(b.lo, b.hi), open };
  });
}

// ---------------------------------------------------------------------------------------------
// Elo.

/** Elo difference implied by a win rate: 400 · log10(w / (1 − w)) (w clamped to [1e-6, 1 − 1e-6], as the evaluation stage does). */
export function eloFromWinRate(w: number): number {
  const p = Math.min(1 - 1e-6, Math.max(1e-6, w));
  return 400 * Math.log10(p / (1 - p));
}

/** The win rate an Elo difference stands for. */
export function winRateFromElo(elo: number): number {
  return 1 / (1 + 10 ** (-elo / 400));
}

/** Elo-equivalent of a preference-model score difference: P(win) = σ(Δ) gives 400 · Δ / ln 10 (≈ 174 · Δ). */
export function eloFromScoreDiff(d: number): number {
  return (400 * d) / Math.LN10;
}

export interface EloRow {
  key: string;
  a?: string;
  b?: string;
  winRate: number;
  /** 400 · log10(w / (1 − w)). */
  deltaElo: number;
  /** As written in eval.json, when it was. */
  recorded?: number;
  /** Mean PM score of a minus b, and its Elo-equivalent, when both policies' means are known. */
  scoreDiff?: number;
  scoreElo?: number;
}

/** The Elo table of the report: each PM win rate with its Elo difference, and the Elo-equivalent of the mean-score difference beside it. */
export function eloRows(report: PmEvalReport): EloRow[] {
  const scores = new Map(report.policies.map((p) => [p.name, p.meanPmScore]));
  const out: EloRow[] = [];
  for (const w of report.winRates) {
    if (w.pmWinRate === undefined) continue;
    const row: EloRow = { key: w.key, winRate: w.pmWinRate, deltaElo: eloFromWinRate(w.pmWinRate) };
    if (w.a !== undefined) row.a = w.a;
    if (w.b !== undefined) row.b = w.b;
    if (w.pmDeltaElo !== undefined) row.recorded = w.pmDeltaElo;
    const sa = w.a !== undefined ? scores.get(w.a) : undefined;
    const sb = w.b !== undefined ? scores.get(w.b) : undefined;
    if (sa !== undefined && sb !== undefined) {
      row.scoreDiff = sa - sb;
      row.scoreElo = eloFromScoreDiff(sa - sb);
    }
    out.push(row);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV of the report's tables.

const cell = csvText;
const n = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '' : String(x));

/** The report's numbers as one CSV: a `table` column says which view each line belongs to. */
export function reportCsv(report: PmEvalReport): string {
  const lines = ['table,dataset,lo,hi,count,confidence_or_accuracy,observed_or_expected,extra'];
  for (const d of report.datasets) {
    for (const b of d.bins) lines.push(`reliability,${cell(d.key)},${n(b.lo)},${n(b.hi)},${n(b.count)},${n(b.confidence)},${n(b.observed)},`);
    for (const r of marginRows(d.byMargin)) lines.push(`accuracy_by_margin,${cell(d.key)},${n(r.lo)},${n(r.hi)},${n(r.count)},${n(r.accuracy)},${n(r.expected)},`);
    lines.push(`summary,${cell(d.key)},,,${n(d.pairs)},${n(d.accuracy)},${n(d.ece)},${n(d.meanMargin)}`);
  }
  for (const e of eloRows(report)) lines.push(`elo,${cell(e.key)},,,,${n(e.winRate)},${n(e.deltaElo)},${n(e.scoreElo)}`);
  return `${lines.join('\n')}\n`;
}
