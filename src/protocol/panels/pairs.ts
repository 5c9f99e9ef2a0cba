// Messages of the Preference Pairs panel (src/extension/panels/pairsPanel.ts ↔ webview/pairs):
// the host streams light rows of pairs.jsonl in batches (no full texts), the review decisions of
// reviews.jsonl, and one pair's full record when the page asks for it; the page asks for details,
// full-text searches and exports, and posts review decisions, which only the host writes.

import type { PairRecord } from '../../core/runs/records.js';
import {
  isReviewDecision,
  SORT_KEYS,
  type PairFilter,
  type PairRow,
  type PairSort,
  type ReviewDecision,
} from '../../core/runs/pairs.js';

interface Msg<T extends string, P> {
  type: T;
  payload: P;
}

/** What the page shows about the run in its header and detail view. */
export interface PairsRunInfo {
  /** The run directory (absolute), as the panel was opened on it. */
  runDir: string;
  runId: string;
  /** `running` while a run is training: rows keep arriving. */
  status: 'running' | 'done' | 'failed' | 'stopped' | 'pending';
  /** The feedback model: role name, provider and model, e.g. `judge (openai: gpt-4o-mini)`; null when unknown. */
  labeller: string | null;
  /** Both orders were asked (`stages.feedback.bothOrders`); null when unknown. */
  bothOrders: boolean | null;
  /** `stages.feedback.clamp` when the run used chain of thought; null otherwise. */
  clamp: [number, number] | null;
  /** Restricted Mode (an untrusted workspace): the panel only shows; reviews and exports are not written. */
  readOnly?: boolean;
}

/** A line of pairs.jsonl that could not be read. */
export interface PairsBadLine {
  line: number;
  error: string;
}

// --- host → page ---------------------------------------------------------------------------

/** host → page: (re)start on a run: forget rows and reviews; rows and reviews follow. `select`: a pair to show once it arrives. */
export type PairsInitMessage = Msg<'pairs/init', { run: PairsRunInfo; select?: string }>;
/** host → page: a batch of rows in file order: the first read (`live: false`) or pairs appended while the run trains. */
export type PairsRowsMessage = Msg<'pairs/rows', { rows: PairRow[]; live: boolean }>;
/** host → page: the first read of pairs.jsonl is complete (`ms`: how long it took on the host). */
export type PairsIndexedMessage = Msg<'pairs/indexed', { count: number; ms: number; bad: PairsBadLine[]; invalid: number }>;
/** host → page: review decisions in file order (the latest per pair wins); `reset`: forget the earlier ones first. */
export type PairsReviewsMessage = Msg<'pairs/reviews', { reviews: { pair_id: string; decision: ReviewDecision }[]; reset: boolean }>;
/** host → page: one pair's full record, for the detail view (answers pairs/open). */
export type PairsDetailMessage = Msg<'pairs/detail', { pair: PairRecord }>;
/** host → page: a pair's record could not be read (answers pairs/open). */
export type PairsDetailErrorMessage = Msg<'pairs/detailError', { pairId: string; message: string }>;
/** host → page: select this pair and show its detail (e.g. from the editor's inline annotations). */
export type PairsSelectMessage = Msg<'pairs/select', { pairId: string }>;
/** host → page: ids of the pairs whose texts contain the query (answers pairs/search). */
export type PairsSearchResultMessage = Msg<'pairs/searchResult', { query: string; ids: string[] }>;
/** host → page: something went wrong (`fatal`: the run cannot be shown at all) or a note for the user (`error: false`). */
export type PairsNoticeMessage = Msg<'pairs/notice', { message: string; error: boolean; fatal?: boolean }>;

export type PairsHostToPage =
  | PairsInitMessage
  | PairsRowsMessage
  | PairsIndexedMessage
  | PairsReviewsMessage
  | PairsDetailMessage
  | PairsDetailErrorMessage
  | PairsSelectMessage
  | PairsSearchResultMessage
  | PairsNoticeMessage;

// --- page → host ---------------------------------------------------------------------------

/** page → host, every panel: the page has loaded and listens. */
export type PairsReadyMessage = Msg<'ready', Record<string, never>>;
/** page → host: send the full record of this pair (answered by pairs/detail or pairs/detailError). */
export type PairsOpenMessage = Msg<'pairs/open', { pairId: string }>;
/** page → host: a reviewer's decision about a pair's label; the host appends it to reviews.jsonl and the page hears it back as pairs/reviews. */
export type PairsReviewMessage = Msg<'pairs/review', { pairId: string; decision: ReviewDecision }>;
/** page → host: find the pairs whose prompt, responses or chain of thought contain this text (answered by pairs/searchResult). */
export type PairsSearchMessage = Msg<'pairs/search', { query: string }>;
/** page → host: export the labelled pairs with their reviews applied (the host asks for the format and the file). */
export type PairsExportMessage = Msg<'pairs/export', Record<string, never>>;

export type PairsPageToHost = PairsReadyMessage | PairsOpenMessage | PairsReviewMessage | PairsSearchMessage | PairsExportMessage;

/** State the page keeps across reloads (restored by the panel serializer). */
export interface PairsPanelState {
  /** The run shown (one; a list for the serializer shared by run panels). */
  runDirs: string[];
  filter: PairFilter;
  sort: PairSort;
  /** Id of the selected pair. */
  selected?: string;
  detailOpen: boolean;
  /** The per-principle summary is expanded. */
  statsOpen: boolean;
  /** Move to the next pair after a review decision. */
  advance: boolean;
  scrollTop: number;
}

export const PairsMessageTypes = {
  init: 'pairs/init',
  rows: 'pairs/rows',
  indexed: 'pairs/indexed',
  reviews: 'pairs/reviews',
  detail: 'pairs/detail',
  detailError: 'pairs/detailError',
  select: 'pairs/select',
  searchResult: 'pairs/searchResult',
  notice: 'pairs/notice',
  open: 'pairs/open',
  review: 'pairs/review',
  search: 'pairs/search',
  export: 'pairs/export',
} as const;

/** Longest pair id or search text a page may send. */
export const MAX_PAGE_STRING = 4096;

const shortString = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= MAX_PAGE_STRING;

/**
 * Checks a message from the page: the typed message (a fresh object holding only the known
 * fields), or undefined. `ready` is the base class's; it is not accepted here.
 */
export function parsePairsPageMessage(m: unknown): Exclude<PairsPageToHost, PairsReadyMessage> | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const type = (m as { type?: unknown }).type;
  const p = (m as { payload?: unknown }).payload;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return undefined;
  const payload = p as Record<string, unknown>;
  switch (type) {
    case 'pairs/open':
      return shortString(payload['pairId']) ? { type, payload: { pairId: payload['pairId'] } } : undefined;
    case 'pairs/review':
      return shortString(payload['pairId']) && isReviewDecision(payload['decision']) ? { type, payload: { pairId: payload['pairId'], decision: payload['decision'] } } : undefined;
    case 'pairs/search':
      return typeof payload['query'] === 'string' && payload['query'].length <= MAX_PAGE_STRING ? { type, payload: { query: payload['query'] } } : undefined;
    case 'pairs/export':
      return { type, payload: {} };
    default:
      return undefined;
  }
}

/** A saved page state, or undefined when it is not one (restore after a reload). Filter and sort fall back to defaults field by field. */
export function parsePairsPanelState(s: unknown): PairsPanelState | undefined {
  if (typeof s !== 'object' || s === null) return undefined;
  const o = s as Record<string, unknown>;
  const dirs = o['runDirs'];
  if (!Array.isArray(dirs) || dirs.length === 0 || !dirs.every((d) => typeof d === 'string' && d !== '')) return undefined;
  const f = (typeof o['filter'] === 'object' && o['filter'] !== null ? o['filter'] : {}) as Record<string, unknown>;
  const n = (x: unknown, d: number) => (typeof x === 'number' && Number.isFinite(x) ? Math.min(1, Math.max(0.5, x)) : d);
  const oneOf = <T extends string>(x: unknown, all: readonly T[], d: T): T => (typeof x === 'string' && (all as readonly string[]).includes(x) ? (x as T) : d);
  const sort = (typeof o['sort'] === 'object' && o['sort'] !== null ? o['sort'] : {}) as Record<string, unknown>;
  return {
    runDirs: dirs as string[],
    filter: {
      principle: typeof f['principle'] === 'string' ? f['principle'] : '',
      minConfidence: n(f['minConfidence'], 0.5),
      maxConfidence: n(f['maxConfidence'], 1),
      order: oneOf(f['order'], ['any', 'flipped', 'same', 'one-order'] as const, 'any'),
      review: oneOf(f['review'], ['any', 'unreviewed', 'reviewed', 'accept', 'flip', 'flag'] as const, 'any'),
      search: typeof f['search'] === 'string' ? f['search'].slice(0, MAX_PAGE_STRING) : '',
    },
    sort: { key: oneOf(sort['key'], SORT_KEYS, 'index'), desc: sort['desc'] === true },
    ...(typeof o['selected'] === 'string' ? { selected: o['selected'] } : {}),
    detailOpen: o['detailOpen'] !== false,
    statsOpen: o['statsOpen'] !== false,
    advance: o['advance'] !== false,
    scrollTop: typeof o['scrollTop'] === 'number' && Number.isFinite(o['scrollTop']) && o['scrollTop'] >= 0 ? o['scrollTop'] : 0,
  };
}
