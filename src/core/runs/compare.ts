// Comparing runs and following training: evaluation answers of several runs joined by prompt
// text, win rates and the Elo difference they imply, the evaluation summary of an `eval.json`,
// and PPO rollouts summarised per step. Pure: no DOM, no files (docs/run-format.md describes the
// records; the Compare and Completions panels use this on both sides of their messages).

// ---------------------------------------------------------------------------------------------
// Win rates.

/**
 * The Elo difference a win rate implies: 400·log10(w / (1 − w)). 0.5 → 0, 0.75 → ≈ 190.8;
 * 0 → −Infinity, 1 → +Infinity; NaN outside [0, 1] or for a non-number.
 */
export function eloDelta(w: number): number {
  if (typeof w !== 'number' || !(w >= 0 && w <= 1)) return NaN;
  if (w === 0) return -Infinity;
  if (w === 1) return Infinity;
  return 400 * Math.log10(w / (1 - w));
}

/** The win rate `eloDelta` inverts: 1 / (1 + 10^(−d/400)). */
export function winRateFromElo(d: number): number {
  return 1 / (1 + 10 ** (-d / 400));
}

/** A win rate with ties counting half; NaN when there were no games. */
export function winRate(wins: number, ties: number, games: number): number {
  return games > 0 ? (wins + ties / 2) / games : NaN;
}

/** The evaluated policies in pipeline order, then any others by name. */
export const POLICY_ORDER: readonly string[] = ['base', 'sl_cai', 'rl_cai'];

export function comparePolicies(a: string, b: string): number {
  const ia = POLICY_ORDER.indexOf(a);
  const ib = POLICY_ORDER.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? POLICY_ORDER.length : ia) - (ib < 0 ? POLICY_ORDER.length : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Records from samples.jsonl, as read from a file: every field may be missing or wrong.

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const text = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** An evaluated policy's answer (`stage: "eval"`, `kind: "answer"`). */
export interface EvalAnswer {
  id: string;
  policy: string;
  prompt_id: string;
  prompt: string;
  response: string;
  /** Preference-model score, when the record has one. */
  score?: number;
}

export function normaliseEvalAnswer(raw: unknown): EvalAnswer | undefined {
  const r = obj(raw);
  if (!r || typeof r['id'] !== 'string' || r['stage'] !== 'eval' || r['kind'] !== 'answer' || typeof r['policy'] !== 'string') return undefined;
  const score = num(r['score']);
  return { id: r['id'], policy: r['policy'], prompt_id: text(r['prompt_id']), prompt: text(r['prompt']), response: text(r['response']), ...(score !== undefined ? { score } : {}) };
}

/** A PPO rollout (`stage: "ppo"`). */
export interface PpoSample {
  id: string;
  step: number;
  prompt_id: string;
  prompt: string;
  response: string;
  /** Preference-model score (NaN when the record has none). */
  score: number;
  /** Summed KL to the reference (NaN when the record has none). */
  kl: number;
}

export function normalisePpoSample(raw: unknown): PpoSample | undefined {
  const r = obj(raw);
  if (!r || typeof r['id'] !== 'string' || r['stage'] !== 'ppo') return undefined;
  const step = num(r['step']);
  if (step === undefined) return undefined;
  return { id: r['id'], step, prompt_id: text(r['prompt_id']), prompt: text(r['prompt']), response: text(r['response']), score: num(r['score']) ?? NaN, kl: num(r['kl']) ?? NaN };
}

/** The key prompts are joined by: the text with outer white space trimmed and inner runs collapsed. */
export function promptKey(prompt: string): string {
  return prompt.trim().replace(/\s+/g, ' ');
}

// ---------------------------------------------------------------------------------------------
// Answers of several runs joined by prompt.

export interface JoinedCell {
  /** Index of the run in the input. */
  run: number;
  policy: string;
  response: string;
  score?: number;
}

export interface JoinedPrompt {
  key: string;
  /** The prompt as the first run that has it wrote it. */
  prompt: string;
  /** One cell per run and policy that answered (the first answer of each), runs in input order, policies in POLICY_ORDER. */
  cells: JoinedCell[];
  /** How many of the runs answered this prompt (with any policy). */
  runCount: number;
}

/**
 * Joins the runs' evaluation answers by prompt text (`promptKey`). Prompts come in the order they
 * first appear, run by run. A run that answered a prompt twice with one policy keeps the first.
 */
export function joinAnswers(runs: readonly (readonly EvalAnswer[])[]): JoinedPrompt[] {
  const byKey = new Map<string, { prompt: string; cells: Map<string, JoinedCell> }>();
  runs.forEach((answers, run) => {
    for (const a of answers) {
      const key = promptKey(a.prompt);
      let e = byKey.get(key);
      if (!e) byKey.set(key, (e = { prompt: a.prompt, cells: new Map() }));
      const ck = `${run}\u0000${a.policy}`;
      if (!e.cells.has(ck)) e.cells.set(ck, { run, policy: a.policy, response: a.response, ...(a.score !== undefined ? { score: a.score } : {}) });
    }
  });
  return [...byKey].map(([key, e]) => {
    const cells = [...e.cells.values()].sort((x, y) => x.run - y.run || comparePolicies(x.policy, y.policy));
    return { key, prompt: e.prompt, cells, runCount: new Set(cells.map((c) => c.run)).size };
  });
}

/** The (run, policy) columns of joined prompts: every pair that answered anything, runs in order, policies in POLICY_ORDER. */
export function answerColumns(joined: readonly JoinedPrompt[]): { run: number; policy: string }[] {
  const seen = new Map<string, { run: number; policy: string }>();
  for (const j of joined) for (const c of j.cells) seen.set(`${c.run}\u0000${c.policy}`, { run: c.run, policy: c.policy });
  return [...seen.values()].sort((x, y) => x.run - y.run || comparePolicies(x.policy, y.policy));
}

// ---------------------------------------------------------------------------------------------
// eval.json.

export interface PolicySummary {
  policy: string;
  prompts?: number;
  mean_pm_score?: number;
  mean_length?: number;
  /** The oracle's numbers for this policy (eval.json's top-level `policies`, e.g. `harmless_rate`), when there is an oracle. */
  oracle?: { name: string; value: number }[];
}

export interface WinRateSummary {
  /** e.g. `rl_cai_vs_sl_cai`. */
  key: string;
  /** The later policy and the one it is compared with (`a` wins at rate …). */
  a: string;
  b: string;
  pm?: { win_rate?: number; delta_elo?: number };
  judge?: { model?: string; win_rate?: number; soft_win_rate?: number; flip_rate?: number };
}

export interface EvalSummary {
  policies: PolicySummary[];
  winRates: WinRateSummary[];
  /** Which oracle measured (e.g. `world`), when one did. */
  oracle?: string;
  /** The oracle's run-level numbers (`ai_label_agreement`, `pm_heldout_accuracy`, `position_flip_rate`). */
  oracleMetrics: { name: string; value: number }[];
  finishedAt?: string;
}

/** The oracle's run-level numbers, in this order when present. */
export const ORACLE_RUN_METRICS: readonly string[] = ['ai_label_agreement', 'pm_heldout_accuracy', 'position_flip_rate'];
/** The oracle's per-policy numbers, in this order, then any other numbers. */
export const ORACLE_POLICY_METRICS: readonly string[] = ['harmless_rate', 'evasive_rate', 'benign_helpfulness', 'unparseable_rate'];

function orderedNumbers(o: Record<string, unknown>, first: readonly string[]): { name: string; value: number }[] {
  const out: { name: string; value: number }[] = [];
  for (const k of first) {
    const v = num(o[k]);
    if (v !== undefined) out.push({ name: k, value: v });
  }
  for (const [k, raw] of Object.entries(o)) {
    const v = num(raw);
    if (v !== undefined && !first.includes(k)) out.push({ name: k, value: v });
  }
  return out;
}

/**
 * What the Compare panel shows of an `eval.json` (any shape: what is missing or mistyped is left
 * out): each policy's mean PM score, prompts and length under `evaluation.policies` with the
 * oracle's numbers from the top-level `policies`; the win rates under `evaluation.win_rates`; the
 * oracle's run-level numbers.
 */
export function evalSummary(evalJson: unknown): EvalSummary {
  const root = obj(evalJson) ?? {};
  const ev = obj(root['evaluation']) ?? {};
  const evPolicies = obj(ev['policies']) ?? {};
  const oraclePolicies = obj(root['policies']) ?? {};
  const names = [...new Set([...Object.keys(evPolicies), ...Object.keys(oraclePolicies)])].sort(comparePolicies);
  const policies: PolicySummary[] = names.map((policy) => {
    const p = obj(evPolicies[policy]) ?? {};
    const s: PolicySummary = { policy };
    const prompts = num(p['prompts']);
    const mean = num(p['mean_pm_score']);
    const len = num(p['mean_length']);
    if (prompts !== undefined) s.prompts = prompts;
    if (mean !== undefined) s.mean_pm_score = mean;
    if (len !== undefined) s.mean_length = len;
    const o = obj(oraclePolicies[policy]);
    if (o) s.oracle = orderedNumbers(o, ORACLE_POLICY_METRICS);
    return s;
  });
  const winRates: WinRateSummary[] = [];
  for (const [key, raw] of Object.entries(obj(ev['win_rates']) ?? {})) {
    const w = obj(raw);
    if (!w) continue;
    const i = key.indexOf('_vs_');
    const s: WinRateSummary = { key, a: i > 0 ? key.slice(0, i) : key, b: i > 0 ? key.slice(i + 4) : '' };
    const pm = obj(w['pm']);
    if (pm) {
      const wr = num(pm['win_rate']);
      const d = num(pm['delta_elo']);
      s.pm = {};
      if (wr !== undefined) s.pm.win_rate = wr;
      if (d !== undefined) s.pm.delta_elo = d;
      else if (wr !== undefined && Number.isFinite(eloDelta(wr))) s.pm.delta_elo = eloDelta(wr);
    }
    const j = obj(w['judge']);
    if (j) {
      s.judge = {};
      if (typeof j['model'] === 'string') s.judge.model = j['model'];
      for (const k of ['win_rate', 'soft_win_rate', 'flip_rate'] as const) {
        const v = num(j[k]);
        if (v !== undefined) s.judge[k] = v;
      }
    }
    winRates.push(s);
  }
  winRates.sort((x, y) => comparePolicies(y.a, x.a) || comparePolicies(y.b, x.b));
  const summary: EvalSummary = { policies, winRates, oracleMetrics: orderedNumbers(Object.fromEntries(ORACLE_RUN_METRICS.map((k) => [k, root[k]])), ORACLE_RUN_METRICS) };
  if (typeof root['oracle'] === 'string') summary.oracle = root['oracle'];
  if (typeof ev['finishedAt'] === 'string') summary.finishedAt = ev['finishedAt'];
  return summary;
}

// ---------------------------------------------------------------------------------------------
// PPO rollouts per step.

export interface StepSummary {
  step: number;
  /** Rollouts of the step. */
  count: number;
  /** Of the scores that are numbers (NaN when none is). */
  mean: number;
  min: number;
  max: number;
  /** Mean summed KL (NaN when no rollout has one). */
  meanKl: number;
}

interface StepAcc {
  count: number;
  scored: number;
  sum: number;
  min: number;
  max: number;
  kls: number;
  klSum: number;
}

/** Per-step reward statistics that grow as rollouts arrive (a run still training appends steps). */
export class StepStats {
  private readonly steps = new Map<number, StepAcc>();

  add(s: { step: number; score: number; kl: number }): void {
    let a = this.steps.get(s.step);
    if (!a) this.steps.set(s.step, (a = { count: 0, scored: 0, sum: 0, min: Infinity, max: -Infinity, kls: 0, klSum: 0 }));
    a.count++;
    if (Number.isFinite(s.score)) {
      a.scored++;
      a.sum += s.score;
      a.min = Math.min(a.min, s.score);
      a.max = Math.max(a.max, s.score);
    }
    if (Number.isFinite(s.kl)) {
      a.kls++;
      a.klSum += s.kl;
    }
  }

  summary(step: number): StepSummary | undefined {
    const a = this.steps.get(step);
    if (!a) return undefined;
    return { step, count: a.count, mean: a.scored ? a.sum / a.scored : NaN, min: a.scored ? a.min : NaN, max: a.scored ? a.max : NaN, meanKl: a.kls ? a.klSum / a.kls : NaN };
  }

  /** Every step's summary, by step. */
  summaries(): StepSummary[] {
    return [...this.steps.keys()].sort((x, y) => x - y).map((s) => this.summary(s)!);
  }

  get size(): number {
    return this.steps.size;
  }
}

/** The per-step summaries of a set of rollouts. */
export function summariseSteps(samples: Iterable<{ step: number; score: number; kl: number }>): StepSummary[] {
  const s = new StepStats();
  for (const x of samples) s.add(x);
  return s.summaries();
}

/** How rollouts are ordered within a step. */
export type SampleSort = 'file' | 'score-desc' | 'score-asc';

/** Sorts by score (NaN last either way); `file` keeps the order given. Returns a new array. */
export function sortSamples<T extends { score: number }>(samples: readonly T[], sort: SampleSort): T[] {
  if (sort === 'file') return [...samples];
  const sign = sort === 'score-desc' ? -1 : 1;
  return [...samples].sort((a, b) => {
    const fa = Number.isFinite(a.score);
    const fb = Number.isFinite(b.score);
    if (fa !== fb) return fa ? -1 : 1;
    return fa ? sign * (a.score - b.score) : 0;
  });
}

/**
 * An index of PPO rollouts by step and by prompt, holding each record's byte offset rather than
 * its text (a long run has hundreds of thousands of rollouts); the viewer reads a step's or a
 * prompt's records on demand. Ids seen twice are kept once.
 */
export class PpoIndex {
  private stepStats = new StepStats();
  private readonly ids = new Set<string>();
  private readonly byStep = new Map<number, number[]>();
  private readonly byPrompt = new Map<string, { offsets: number[]; steps: Set<number> }>();

  /** The key a rollout's prompt is followed by: its prompt id when it has one, else its text. */
  static promptOf(s: { prompt_id: string; prompt: string }): string {
    return s.prompt_id !== '' ? `id:${s.prompt_id}` : `text:${promptKey(s.prompt)}`;
  }

  /** Adds a rollout at `offset`; false when its id was already there. */
  add(s: PpoSample, offset: number): boolean {
    if (this.ids.has(s.id)) return false;
    this.ids.add(s.id);
    this.stepStats.add(s);
    let st = this.byStep.get(s.step);
    if (!st) this.byStep.set(s.step, (st = []));
    st.push(offset);
    const k = PpoIndex.promptOf(s);
    let p = this.byPrompt.get(k);
    if (!p) this.byPrompt.set(k, (p = { offsets: [], steps: new Set() }));
    p.offsets.push(offset);
    p.steps.add(s.step);
    return true;
  }

  stepOffsets(step: number): readonly number[] {
    return this.byStep.get(step) ?? [];
  }

  promptOffsets(key: string): readonly number[] {
    return this.byPrompt.get(key)?.offsets ?? [];
  }

  /** In how many steps the prompt was rolled out. */
  promptSteps(key: string): number {
    return this.byPrompt.get(key)?.steps.size ?? 0;
  }

  get stats(): StepStats {
    return this.stepStats;
  }

  get samples(): number {
    return this.ids.size;
  }

  clear(): void {
    this.ids.clear();
    this.byStep.clear();
    this.byPrompt.clear();
    this.stepStats = new StepStats();
  }
}
