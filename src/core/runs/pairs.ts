// The preference pairs of a run as a viewer and an exporter see them: a light row per pair (no
// full texts, so 100,000 pairs fit in a page), filters, sorting, per-principle aggregates, and
// human review of the AI labels (reviews.jsonl: accept / flip / flag / clear, the latest decision
// per pair wins) applied to labels and to exported datasets. Pure: no I/O; src/node/reviews.ts
// reads and writes the review file, the pairs panel and `cai export-dataset` use what is here.

import type { PairRecord } from './records.js';

// --- reviews ---------------------------------------------------------------------------------

export const REVIEW_DECISIONS = ['accept', 'flip', 'flag', 'clear'] as const;
/** A reviewer's decision about one AI label; `clear` withdraws the earlier ones. */
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];
/** Where a pair stands after its reviews (absent: not reviewed). */
export type ReviewStatus = Exclude<ReviewDecision, 'clear'>;

export function isReviewDecision(x: unknown): x is ReviewDecision {
  return typeof x === 'string' && (REVIEW_DECISIONS as readonly string[]).includes(x);
}

/** One line of `reviews.jsonl`: one decision, appended when it is made. */
export interface ReviewRecord {
  /** Unique per decision (the same decision made twice is two records). */
  id: string;
  pair_id: string;
  decision: ReviewDecision;
  /** ISO 8601. */
  time: string;
  reviewer?: string;
}

export function isReviewRecord(x: unknown): x is ReviewRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return typeof r['id'] === 'string' && typeof r['pair_id'] === 'string' && isReviewDecision(r['decision']) && typeof r['time'] === 'string' && (r['reviewer'] === undefined || typeof r['reviewer'] === 'string');
}

/** Applies decisions in order to `statuses` (the latest per pair wins; `clear` removes the pair's status). */
export function applyReviews(statuses: Map<string, ReviewStatus>, decisions: Iterable<{ pair_id: string; decision: ReviewDecision }>): Map<string, ReviewStatus> {
  for (const d of decisions) {
    if (d.decision === 'clear') statuses.delete(d.pair_id);
    else statuses.set(d.pair_id, d.decision);
  }
  return statuses;
}

/** The status of every reviewed pair, from the decisions in file order. */
export function latestReviews(decisions: Iterable<{ pair_id: string; decision: ReviewDecision }>): Map<string, ReviewStatus> {
  return applyReviews(new Map(), decisions);
}

/** The label after review: a flipped label is 1 − P(A); other reviews keep it. */
export function reviewedP(p_a: number, status: ReviewStatus | undefined): number {
  return status === 'flip' ? 1 - p_a : p_a;
}

// --- rows ------------------------------------------------------------------------------------

/** What the table shows of one pair: its numbers and a snippet of the prompt, never the full texts. */
export interface PairRow {
  id: string;
  /** 0-based position in pairs.jsonl (later copies of an id are not counted). */
  index: number;
  principle: string;
  p_a: number;
  p_a_forward: number;
  p_a_reversed: number | null;
  flipped: boolean;
  label_method: string;
  /** A chain-of-thought label that sits on a bound of the run's clamp range in either order. */
  clamped: boolean;
  /** The prompt's start, on one line. */
  prompt: string;
  /** The record has a chain of thought. */
  reasoning: boolean;
}

export interface RowOptions {
  /** The run's chain-of-thought clamp range (`stages.feedback.clamp`), when the run used chain of thought. */
  clamp?: readonly [number, number] | null;
  /** Characters of prompt kept in the row (default 160). */
  snippet?: number;
}

/** Longest principle id kept in a row (ids are short; a hostile one must not be copied into every row). */
export const MAX_PRINCIPLE = 200;

const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : Number.NaN);
const str = (x: unknown): string => (typeof x === 'string' ? x : '');

/** Text cut to `max` characters, on one line. */
export function snippet(s: string, max: number): string {
  const one = s.slice(0, max * 3).replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The light row of a pairs.jsonl record; undefined when it has no string id. */
export function pairRow(record: unknown, index: number, opts: RowOptions = {}): PairRow | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const r = record as Record<string, unknown>;
  const id = r['id'];
  if (typeof id !== 'string') return undefined;
  const p_a_forward = num(r['p_a_forward']);
  const rev = r['p_a_reversed'];
  const p_a_reversed = rev === null || rev === undefined ? null : num(rev);
  const label_method = str(r['label_method']).slice(0, 40);
  const clamp = opts.clamp;
  const onBound = (p: number | null) => clamp !== undefined && clamp !== null && p !== null && (Math.abs(p - clamp[0]) < 1e-9 || Math.abs(p - clamp[1]) < 1e-9);
  let principle = str(r['principle']);
  if (principle.length > MAX_PRINCIPLE) principle = `${principle.slice(0, MAX_PRINCIPLE - 1)}…`;
  return {
    id,
    index,
    principle,
    p_a: num(r['p_a']),
    p_a_forward,
    p_a_reversed,
    flipped: r['flipped'] === true,
    label_method,
    clamped: label_method === 'cot' && (onBound(p_a_forward) || onBound(p_a_reversed)),
    prompt: snippet(str(r['prompt']), opts.snippet ?? 160),
    reasoning: typeof r['reasoning'] === 'string' && r['reasoning'] !== '',
  };
}

/** A pair record with every field in its expected type (records are read from files anyone can edit). */
export function pairDetail(record: unknown): PairRecord | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const r = record as Record<string, unknown>;
  if (typeof r['id'] !== 'string') return undefined;
  const rev = r['p_a_reversed'];
  return {
    id: r['id'],
    ...(typeof r['prompt_id'] === 'string' ? { prompt_id: r['prompt_id'] } : {}),
    prompt: str(r['prompt']),
    response_a: str(r['response_a']),
    response_b: str(r['response_b']),
    principle: str(r['principle']),
    p_a: num(r['p_a']),
    p_a_forward: num(r['p_a_forward']),
    p_a_reversed: rev === null || rev === undefined ? null : num(rev),
    flipped: r['flipped'] === true,
    label_method: str(r['label_method']) as PairRecord['label_method'],
    ...(typeof r['reasoning'] === 'string' ? { reasoning: r['reasoning'] } : {}),
  };
}

/** How sure the label is: max(P(A), 1 − P(A)), from 0.5 (a coin toss) to 1; NaN when the label is missing. */
export function confidence(p_a: number): number {
  return Number.isFinite(p_a) ? Math.max(p_a, 1 - p_a) : Number.NaN;
}

export type Side = 'A' | 'B' | 'tie';

/** The response the label prefers (after review). */
export function chosenSide(p_a: number, status?: ReviewStatus): Side {
  const p = reviewedP(p_a, status);
  if (!Number.isFinite(p) || p === 0.5) return 'tie';
  return p > 0.5 ? 'A' : 'B';
}

/** Whether both orders were asked and what the labeller did when the responses were swapped. */
export type OrderOutcome = 'flipped' | 'same' | 'one-order';

export function orderOutcome(row: Pick<PairRow, 'p_a_reversed' | 'flipped'>): OrderOutcome {
  if (row.p_a_reversed === null) return 'one-order';
  return row.flipped ? 'flipped' : 'same';
}

/** How far the two orders disagree: |P(A) forward − P(A) reversed|; NaN with one order. */
export function orderGap(row: Pick<PairRow, 'p_a_forward' | 'p_a_reversed'>): number {
  return row.p_a_reversed === null ? Number.NaN : Math.abs(row.p_a_forward - row.p_a_reversed);
}

// --- an index of pairs.jsonl -----------------------------------------------------------------

/**
 * Rows of pairs.jsonl as they are read (in batches, from the start or appended later), with each
 * pair's byte offset so its full record can be read again on demand. Later copies of an id are
 * skipped, as every reader of a run does; records without a string id are counted.
 */
export class PairIndex {
  private readonly offsets = new Map<string, number>();
  invalid = 0;

  constructor(private readonly opts: RowOptions = {}) {}

  add(batch: readonly { record: unknown; offset: number }[]): PairRow[] {
    const rows: PairRow[] = [];
    for (const { record, offset } of batch) {
      const row = pairRow(record, this.offsets.size, this.opts);
      if (!row) {
        this.invalid++;
        continue;
      }
      if (this.offsets.has(row.id)) continue;
      this.offsets.set(row.id, offset);
      rows.push(row);
    }
    return rows;
  }

  offsetOf(id: string): number | undefined {
    return this.offsets.get(id);
  }

  has(id: string): boolean {
    return this.offsets.has(id);
  }

  get size(): number {
    return this.offsets.size;
  }
}

/** Whether a record's texts (prompt, responses, chain of thought, principle, id) contain `needle` (lower case). */
export function pairContains(record: unknown, needle: string): boolean {
  if (typeof record !== 'object' || record === null || needle === '') return false;
  const r = record as Record<string, unknown>;
  for (const k of ['prompt', 'response_a', 'response_b', 'reasoning', 'principle', 'id']) {
    const v = r[k];
    if (typeof v === 'string' && v.toLowerCase().includes(needle)) return true;
  }
  return false;
}

// --- filters and sorting ---------------------------------------------------------------------

export type OrderFilter = 'any' | OrderOutcome;
export type ReviewFilter = 'any' | 'unreviewed' | 'reviewed' | ReviewStatus;

export interface PairFilter {
  /** Principle id; '' for all. */
  principle: string;
  /** Confidence range, inclusive, within [0.5, 1]. */
  minConfidence: number;
  maxConfidence: number;
  order: OrderFilter;
  review: ReviewFilter;
  /** Case-insensitive text: matches the id, principle, label method or prompt snippet (and, via `fullText`, any text of the pair). */
  search: string;
}

export const DEFAULT_FILTER: Readonly<PairFilter> = Object.freeze({ principle: '', minConfidence: 0.5, maxConfidence: 1, order: 'any', review: 'any', search: '' });

export function isDefaultFilter(f: PairFilter): boolean {
  return f.principle === '' && f.minConfidence <= 0.5 && f.maxConfidence >= 1 && f.order === 'any' && f.review === 'any' && f.search.trim() === '';
}

/**
 * A predicate for a filter. `fullText`: ids of pairs whose full texts contain the search text
 * (found by the host, which has the texts); a row matches the search when its own fields do or
 * its id is in the set.
 */
export function pairPredicate(f: PairFilter, fullText?: ReadonlySet<string>): (row: PairRow, status: ReviewStatus | undefined) => boolean {
  const needle = f.search.trim().toLowerCase();
  const rangeSet = f.minConfidence > 0.5 || f.maxConfidence < 1;
  return (row, status) => {
    if (f.principle !== '' && row.principle !== f.principle) return false;
    if (rangeSet) {
      const c = confidence(row.p_a);
      if (!(c >= f.minConfidence - 1e-12 && c <= f.maxConfidence + 1e-12)) return false;
    }
    if (f.order !== 'any' && orderOutcome(row) !== f.order) return false;
    if (f.review !== 'any') {
      if (f.review === 'unreviewed' ? status !== undefined : f.review === 'reviewed' ? status === undefined : status !== f.review) return false;
    }
    if (needle !== '') {
      const own = row.id.toLowerCase().includes(needle) || row.principle.toLowerCase().includes(needle) || row.prompt.toLowerCase().includes(needle) || row.label_method.toLowerCase().includes(needle);
      if (!own && !fullText?.has(row.id)) return false;
    }
    return true;
  };
}

export const SORT_KEYS = ['index', 'principle', 'p_a', 'confidence', 'forward', 'reversed', 'gap', 'order', 'method', 'review'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface PairSort {
  key: SortKey;
  desc: boolean;
}

export const DEFAULT_SORT: Readonly<PairSort> = Object.freeze({ key: 'index', desc: false });

const ORDER_RANK: Record<OrderOutcome, number> = { flipped: 0, same: 1, 'one-order': 2 };
const REVIEW_RANK: Record<ReviewStatus, number> = { flag: 0, flip: 1, accept: 2 };

function numericKey(key: SortKey, row: PairRow, status: ReviewStatus | undefined): number {
  switch (key) {
    case 'p_a':
      return row.p_a;
    case 'confidence':
      return confidence(row.p_a);
    case 'forward':
      return row.p_a_forward;
    case 'reversed':
      return row.p_a_reversed ?? Number.NaN;
    case 'gap':
      return orderGap(row);
    case 'order':
      return ORDER_RANK[orderOutcome(row)];
    case 'review':
      return status === undefined ? 3 : REVIEW_RANK[status];
    default:
      return row.index;
  }
}

/**
 * The rows that pass the filter, in the sort's order: positions in `rows`. Missing numbers sort
 * last in either direction; ties keep file order.
 */
export function viewRows(rows: readonly PairRow[], statuses: ReadonlyMap<string, ReviewStatus>, filter: PairFilter, sort: PairSort, fullText?: ReadonlySet<string>): number[] {
  const keep = pairPredicate(filter, fullText);
  const out: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (keep(r, statuses.get(r.id))) out.push(i);
  }
  const dir = sort.desc ? -1 : 1;
  if (sort.key === 'principle' || sort.key === 'method') {
    const field = sort.key === 'principle' ? 'principle' : 'label_method';
    out.sort((a, b) => {
      const x = rows[a]![field];
      const y = rows[b]![field];
      return x < y ? -dir : x > y ? dir : a - b;
    });
  } else if (sort.key === 'index') {
    if (sort.desc) out.sort((a, b) => rows[b]!.index - rows[a]!.index);
    else out.sort((a, b) => rows[a]!.index - rows[b]!.index);
  } else {
    const keys = new Float64Array(rows.length);
    for (const i of out) keys[i] = numericKey(sort.key, rows[i]!, statuses.get(rows[i]!.id));
    out.sort((a, b) => {
      const x = keys[a]!;
      const y = keys[b]!;
      const xn = Number.isNaN(x);
      const yn = Number.isNaN(y);
      if (xn || yn) return xn && yn ? a - b : xn ? 1 : -1;
      return x === y ? a - b : (x - y) * dir;
    });
  }
  return out;
}

// --- aggregates ------------------------------------------------------------------------------

export interface PairStats {
  /** Principle id; '' for the row of all principles. */
  principle: string;
  count: number;
  /** Mean max(P(A), 1 − P(A)) over pairs with a label; NaN without one. */
  meanConfidence: number;
  meanP_a: number;
  /** Pairs asked in both orders. */
  bothOrders: number;
  /** Of those, how many changed the preferred position with the swap. */
  flipped: number;
  /** flipped / bothOrders; NaN when no pair was asked in both orders. */
  flipRate: number;
  /** Pairs by confidence, in equal bins over [0.5, 1] (the last bin includes 1). */
  histogram: number[];
  /** Chain-of-thought labels on a clamp bound. */
  clamped: number;
  reviewed: number;
  accepted: number;
  /** Labels a reviewer flipped. */
  reversed: number;
  flagged: number;
}

export interface PairAggregates {
  all: PairStats;
  /** One per principle, by principle id. */
  principles: PairStats[];
}

function emptyStats(principle: string, bins: number): PairStats & { sumC: number; sumP: number; labelled: number } {
  return { principle, count: 0, meanConfidence: Number.NaN, meanP_a: Number.NaN, bothOrders: 0, flipped: 0, flipRate: Number.NaN, histogram: new Array<number>(bins).fill(0), clamped: 0, reviewed: 0, accepted: 0, reversed: 0, flagged: 0, sumC: 0, sumP: 0, labelled: 0 };
}

/** The confidence histogram bin of a label, or -1 without one. */
export function confidenceBin(p_a: number, bins: number): number {
  const c = confidence(p_a);
  if (Number.isNaN(c)) return -1;
  // a small tolerance keeps 0.6 (0.0999… above 0.5 in floating point) in the bin it starts
  return Math.min(bins - 1, Math.max(0, Math.floor(((c - 0.5) / 0.5) * bins + 1e-9)));
}

/** Count, mean confidence, flip rate, confidence histogram and review counts, for all pairs and per principle. */
export function aggregatePairs(rows: Iterable<PairRow>, statuses: ReadonlyMap<string, ReviewStatus>, bins = 10): PairAggregates {
  const all = emptyStats('', bins);
  const by = new Map<string, ReturnType<typeof emptyStats>>();
  for (const r of rows) {
    let s = by.get(r.principle);
    if (!s) by.set(r.principle, (s = emptyStats(r.principle, bins)));
    const status = statuses.get(r.id);
    const bin = confidenceBin(r.p_a, bins);
    for (const t of [all, s]) {
      t.count++;
      if (bin >= 0) {
        t.labelled++;
        t.sumC += confidence(r.p_a);
        t.sumP += r.p_a;
        t.histogram[bin]!++;
      }
      if (r.p_a_reversed !== null) {
        t.bothOrders++;
        if (r.flipped) t.flipped++;
      }
      if (r.clamped) t.clamped++;
      if (status !== undefined) {
        t.reviewed++;
        if (status === 'accept') t.accepted++;
        else if (status === 'flip') t.reversed++;
        else t.flagged++;
      }
    }
  }
  const finish = (t: ReturnType<typeof emptyStats>): PairStats => {
    const { sumC, sumP, labelled, ...stats } = t;
    return { ...stats, meanConfidence: labelled ? sumC / labelled : Number.NaN, meanP_a: labelled ? sumP / labelled : Number.NaN, flipRate: t.bothOrders ? t.flipped / t.bothOrders : Number.NaN };
  };
  return { all: finish(all), principles: [...by.values()].sort((a, b) => (a.principle < b.principle ? -1 : a.principle > b.principle ? 1 : 0)).map(finish) };
}

// --- export ----------------------------------------------------------------------------------

export type DatasetFormat = 'trl' | 'hh';

export type ExportOutcome = { row: Record<string, unknown> } | { skipped: 'tie' | 'flagged' | 'invalid' };

/**
 * One dataset row of a labelled pair after review. The chosen response is the one with the
 * (reviewed) label ≥ 0.5 and `score` is that probability; a flipped label is 1 − P(A), so chosen
 * and rejected swap; flagged pairs and labels of exactly 0.5 are left out. TRL rows carry
 * `review` for reviewed pairs. A record without a numeric label is left out as `invalid`.
 */
export function exportPair(p: PairRecord, status: ReviewStatus | undefined, format: DatasetFormat): ExportOutcome {
  if (status === 'flag') return { skipped: 'flagged' };
  if (typeof p.p_a !== 'number' || !Number.isFinite(p.p_a)) return { skipped: 'invalid' };
  const pa = reviewedP(p.p_a, status);
  if (pa === 0.5) return { skipped: 'tie' };
  const aBetter = pa > 0.5;
  const chosen = aBetter ? p.response_a : p.response_b;
  const rejected = aBetter ? p.response_b : p.response_a;
  if (format === 'hh') return { row: { chosen: `\n\nHuman: ${p.prompt}\n\nAssistant: ${chosen}`, rejected: `\n\nHuman: ${p.prompt}\n\nAssistant: ${rejected}` } };
  return { row: { prompt: p.prompt, chosen, rejected, score: aBetter ? pa : 1 - pa, id: p.id, principle: p.principle, ...(status ? { review: status } : {}) } };
}
