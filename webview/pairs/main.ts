/**
 * The page of the "Preference Pairs" panel: every labelled pair of a run in a virtualised table
 * (the host streams light rows in batches; full texts come one pair at a time for the detail
 * view), with filters, sorting, per-principle aggregates and keyboard review of the labels.
 *
 * Keys: ↑ ↓ PageUp PageDown Home End move the selection; Enter opens the detail; A accept,
 * F flip, X flag, U clear the review of the selected pair; / goes to the search box; Escape
 * returns to the table.
 *
 * All text from the run is hostile: the DOM is built with el()/textContent only.
 */
import {
  aggregatePairs,
  applyReviews,
  chosenSide,
  confidence,
  DEFAULT_FILTER,
  DEFAULT_SORT,
  isDefaultFilter,
  orderOutcome,
  viewRows,
  type PairFilter,
  type PairRow,
  type PairSort,
  type ReviewDecision,
  type ReviewStatus,
  type SortKey,
} from '../../src/core/runs/pairs.js';
import type { PairRecord } from '../../src/core/runs/records.js';
import { parsePairsPanelState, type PairsHostToPage, type PairsPageToHost, type PairsPanelState, type PairsRunInfo } from '../../src/protocol/panels/pairs.js';
import { clip, el, fmtInt, notice, perFrame, plural, revealInvisible, setChildren, statusLine } from '../shared/dom.js';
import { connect } from '../shared/host.js';
import { navigationTarget, VirtualList } from '../shared/virtualList.js';
import { DetailView, fmtP, ORDER_TEXT, ORDER_TITLE, STATUS_TEXT } from './detail.js';
import { renderStats } from './stats.js';

// --- the host --------------------------------------------------------------------------------

const conn = connect<PairsHostToPage, PairsPageToHost, PairsPanelState>(['pairs/'], (m) => onMessage(m));

/** Everything the page says to the extension goes through here. */
const host = {
  openPair: (pairId: string) => conn.post({ type: 'pairs/open', payload: { pairId } }),
  review: (pairId: string, decision: ReviewDecision) => conn.post({ type: 'pairs/review', payload: { pairId, decision } }),
  search: (query: string) => conn.post({ type: 'pairs/search', payload: { query } }),
  exportDataset: () => conn.post({ type: 'pairs/export', payload: {} }),
  save: (s: PairsPanelState) => conn.setState(s),
};

// --- state -----------------------------------------------------------------------------------

const saved = parsePairsPanelState(conn.getState());
let run: PairsRunInfo | undefined;
let rows: PairRow[] = [];
const rowById = new Map<string, number>();
const statuses = new Map<string, ReviewStatus>();
/** Positions in `rows` of the pairs shown, in order. */
let view: number[] = [];
let indexed = false;
let fatal = false;
let filter: PairFilter = { ...(saved?.filter ?? DEFAULT_FILTER) };
let sort: PairSort = { ...(saved?.sort ?? DEFAULT_SORT) };
let selectedId: string | undefined = saved?.selected;
/** The selected pair's position in `view`, or -1. */
let selPos = -1;
let detailOpen = saved?.detailOpen ?? true;
let statsOpen = saved?.statsOpen ?? true;
let advance = saved?.advance ?? true;
/** Scroll position to restore once enough rows are there. */
let pendingScroll: number | undefined = saved?.scrollTop || undefined;
/** A pair the host asked to show, once it has arrived. */
let pendingSelect: string | undefined;
/** Ids whose full texts contain `query` (the host's answer to pairs/search). */
let fullText: { query: string; ids: Set<string> } | undefined;
let searching = false;
const details = new Map<string, PairRecord>();
const detailErrors = new Map<string, string>();
let statsDirty = true;
let principleCounts = new Map<string, number>();

const ROW_HEIGHT = 26;

// --- layout ----------------------------------------------------------------------------------

const app = document.getElementById('app')!;
const title = el('h1', {}, 'Preference pairs');
const status = statusLine('status');
const header = el('header', { class: 'pairs-header' }, title, status);

const search = el('input', { id: 'search', type: 'search', placeholder: 'Search prompts, responses, ids…', 'aria-label': 'Search pairs', 'aria-keyshortcuts': '/', size: 28, spellcheck: 'false' });
const principleSel = el('select', { id: 'principle', 'aria-label': 'Principle' });
const cmin = el('input', { id: 'cmin', type: 'number', min: 0.5, max: 1, step: 0.05, 'aria-label': 'Lowest confidence', class: 'num-input' });
const cmax = el('input', { id: 'cmax', type: 'number', min: 0.5, max: 1, step: 0.05, 'aria-label': 'Highest confidence', class: 'num-input' });
const orderSel = el(
  'select',
  { id: 'order', 'aria-label': 'Position flip' },
  el('option', { value: 'any' }, 'any'),
  el('option', { value: 'flipped', title: ORDER_TITLE.flipped }, 'flipped (by content)'),
  el('option', { value: 'same', title: ORDER_TITLE.same }, 'same letter (position bias)'),
  el('option', { value: 'one-order', title: ORDER_TITLE['one-order'] }, 'one order only'),
);
const reviewSel = el(
  'select',
  { id: 'review', 'aria-label': 'Review' },
  el('option', { value: 'any' }, 'any'),
  el('option', { value: 'unreviewed' }, 'not reviewed'),
  el('option', { value: 'reviewed' }, 'reviewed'),
  el('option', { value: 'accept' }, 'accepted'),
  el('option', { value: 'flip' }, 'flipped'),
  el('option', { value: 'flag' }, 'flagged'),
);
const resetBtn = el('button', { type: 'button', class: 'secondary', id: 'reset' }, 'Reset filters');
const advanceBox = el('input', { type: 'checkbox', id: 'advance' });
const exportBtn = el('button', { type: 'button', class: 'secondary', id: 'export', title: 'Write the labelled pairs as a TRL or HH-RLHF dataset, with the reviews applied' }, 'Export dataset…');
const toolbar = el(
  'div',
  { class: 'toolbar', role: 'search', 'aria-label': 'Filter pairs' },
  search,
  el('label', {}, 'Principle', principleSel),
  el('span', { class: 'range', role: 'group', 'aria-label': 'Confidence range' }, el('label', { for: 'cmin' }, 'Confidence'), cmin, el('span', { 'aria-hidden': 'true' }, '–'), cmax),
  el('label', {}, 'Orders', orderSel),
  el('label', {}, 'Review', reviewSel),
  resetBtn,
  el('span', { class: 'spacer' }),
  el('label', { title: 'Move to the next pair after a review decision' }, advanceBox, 'Next after review'),
  exportBtn,
);
const notices = el('div', { class: 'notices', 'aria-live': 'polite' });

const statsTable = el('table', { class: 'data stats-table', id: 'stats-table' });
const stats = el('details', { class: 'stats', id: 'stats' }, el('summary', {}, 'Per-principle summary'), el('div', { class: 'stats-wrap' }, statsTable));
stats.open = statsOpen;

/** The table columns: key, heading, sort key, tooltip. */
const COLUMNS: { key: string; label: string; sort?: SortKey; title?: string; num?: boolean }[] = [
  { key: 'index', label: '#', sort: 'index', title: 'Position in pairs.jsonl', num: true },
  { key: 'principle', label: 'Principle', sort: 'principle' },
  { key: 'pa', label: 'P(A)', sort: 'p_a', title: 'The soft label: P(A is better)', num: true },
  { key: 'conf', label: 'Confidence', sort: 'confidence', title: 'max(P(A), 1 − P(A))' },
  { key: 'chosen', label: 'Chosen', title: 'The preferred response (after review)' },
  { key: 'fwd', label: 'A first', sort: 'forward', title: 'P(A) with A shown first', num: true },
  { key: 'rev', label: 'A second', sort: 'reversed', title: 'P(A) with A shown second', num: true },
  { key: 'order', label: 'Orders', sort: 'order', title: 'What the labeller did when the responses were swapped' },
  { key: 'method', label: 'Method', sort: 'method', title: 'How the label was made' },
  { key: 'review', label: 'Review', sort: 'review' },
  { key: 'prompt', label: 'Prompt' },
];

const headRow = el('div', { class: 'grid-row grid-head-row', role: 'row', 'aria-rowindex': 1 });
const headCells = new Map<SortKey, HTMLElement>();
for (const c of COLUMNS) {
  const cell = el('div', { class: `cell col-${c.key}${c.num ? ' num' : ''}`, role: 'columnheader', title: c.title });
  if (c.sort) {
    const key = c.sort;
    const b = el('button', { type: 'button', class: 'sort-button', title: `Sort by ${c.label}` }, c.label, el('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
    b.addEventListener('click', () => setSort(key));
    cell.append(b);
    headCells.set(key, cell);
  } else cell.append(c.label);
  headRow.append(cell);
}
const viewport = el('div', { class: 'viewport', role: 'rowgroup' });
const grid = el('div', { class: 'grid', id: 'grid', role: 'grid', tabindex: 0, 'aria-label': 'Preference pairs', 'aria-colcount': COLUMNS.length, 'aria-rowcount': 1, 'aria-multiselectable': 'false' }, el('div', { class: 'grid-head', role: 'rowgroup' }, headRow), viewport);
const empty = el('div', { class: 'grid-empty' });
const gridWrap = el('section', { class: 'grid-wrap', 'aria-label': 'Pairs table' }, grid, empty);
const detailRoot = el('section', { class: 'detail', id: 'detail', 'aria-label': 'Pair detail' });
const main = el('div', { class: 'pairs-main' }, gridWrap, detailRoot);
setChildren(app, header, toolbar, notices, stats, main);

const detail = new DetailView(detailRoot, {
  review: (d) => review(d),
  close: () => setDetailOpen(false, true),
});

// --- the table -------------------------------------------------------------------------------

const REVIEW_MARK: Record<ReviewStatus, string> = { accept: '✓ accepted', flip: '⇄ flipped', flag: '⚑ flagged' };

function createRow(): HTMLElement {
  const row = el('div', { class: 'grid-row', role: 'row' });
  for (const c of COLUMNS) {
    const cell = el('div', { class: `cell col-${c.key}${c.num ? ' num' : ''}`, role: 'gridcell' });
    if (c.key === 'conf') cell.append(el('span', { class: 'conf-track', 'aria-hidden': 'true' }, el('span', { class: 'conf-bar' })), el('span', { class: 'conf-num' }));
    row.append(cell);
  }
  return row;
}

function renderRow(rowEl: HTMLElement, i: number): void {
  const r = rows[view[i]!];
  if (!r) return;
  const st = statuses.get(r.id);
  rowEl.id = `pair-row-${i}`;
  rowEl.setAttribute('aria-rowindex', String(i + 2));
  rowEl.setAttribute('aria-selected', String(i === selPos));
  rowEl.dataset['pos'] = String(i);
  rowEl.className = `grid-row${st ? ` review-${st}` : ''}${i % 2 ? ' odd' : ''}`;
  const cells = rowEl.children;
  const text = (k: number, t: string) => {
    const c = cells[k] as HTMLElement;
    if (c.textContent !== t) c.textContent = t;
  };
  text(0, fmtInt(r.index + 1));
  text(1, revealInvisible(clip(r.principle, 60)));
  (cells[1] as HTMLElement).title = revealInvisible(r.principle);
  text(2, fmtP(r.p_a));
  const conf = confidence(r.p_a);
  const confCell = cells[3] as HTMLElement;
  (confCell.querySelector('.conf-bar') as HTMLElement).style.setProperty('width', `${Number.isFinite(conf) ? Math.round((conf - 0.5) * 200) : 0}%`);
  (confCell.querySelector('.conf-num') as HTMLElement).textContent = Number.isFinite(conf) ? conf.toFixed(2) : '–';
  const side = chosenSide(r.p_a, st);
  text(4, side === 'tie' ? 'tie' : st === 'flip' ? `${side} ⇄` : side);
  text(5, fmtP(r.p_a_forward));
  text(6, fmtP(r.p_a_reversed));
  const outcome = orderOutcome(r);
  text(7, ORDER_TEXT[outcome]);
  (cells[7] as HTMLElement).title = ORDER_TITLE[outcome];
  text(8, `${revealInvisible(r.label_method) || '–'}${r.clamped ? ' ⊓' : ''}`);
  (cells[8] as HTMLElement).title = r.clamped ? 'Chain-of-thought label on a clamp bound' : '';
  text(9, st ? REVIEW_MARK[st] : '');
  text(10, revealInvisible(r.prompt));
}

const list = new VirtualList({
  viewport,
  rowHeight: ROW_HEIGHT,
  createRow,
  renderRow,
  onRender: () => saveStateSoon(),
});

viewport.addEventListener('click', (e) => {
  const rowEl = (e.target as HTMLElement).closest<HTMLElement>('.grid-row');
  const pos = Number(rowEl?.dataset['pos']);
  if (!rowEl || !Number.isInteger(pos)) return;
  selectPos(pos, { open: true });
  grid.focus({ preventScroll: true });
});

grid.addEventListener('keydown', (e) => {
  if (e.altKey || e.ctrlKey || e.metaKey || e.target !== grid) return;
  if (e.key === 'Enter') {
    e.preventDefault();
    if (selPos < 0 && view.length) selectPos(0);
    setDetailOpen(true, false);
    detail.focusHeading();
    return;
  }
  const last = view.length - 1;
  const to = navigationTarget(e.key, selPos < 0 ? -1 : selPos, list.pageSize, last);
  if (to === undefined) return;
  e.preventDefault();
  if (view.length) selectPos(Math.max(0, Math.min(last, to)));
});

function setSort(key: SortKey): void {
  sort = sort.key === key ? { key, desc: !sort.desc } : { key, desc: false };
  rebuild({ keepScroll: false });
}

function markSort(): void {
  for (const [key, cell] of headCells) {
    const on = sort.key === key;
    cell.setAttribute('aria-sort', on ? (sort.desc ? 'descending' : 'ascending') : 'none');
    const mark = cell.querySelector('.sort-mark');
    if (mark) mark.textContent = on ? (sort.desc ? ' ▼' : ' ▲') : '';
  }
}

// --- selection and detail --------------------------------------------------------------------

let detailTimer: ReturnType<typeof setTimeout> | undefined;
/** What the detail view shows now (it is redrawn only when this changes). */
let detailShown: string | undefined;
/** The pair whose detail will be asked for when the selection rests, and those asked for and not answered yet. */
let detailWanted: string | undefined;
const requested = new Set<string>();

function selectPos(pos: number, o: { open?: boolean; align?: 'nearest' | 'center' } = {}): void {
  if (!view.length) return;
  pos = Math.max(0, Math.min(view.length - 1, pos));
  const prev = selPos;
  selPos = pos;
  selectedId = rows[view[pos]!]!.id;
  list.scrollToIndex(pos, o.align ?? 'nearest');
  if (prev >= 0) list.rowElement(prev)?.setAttribute('aria-selected', 'false');
  list.rowElement(pos)?.setAttribute('aria-selected', 'true');
  grid.setAttribute('aria-activedescendant', `pair-row-${pos}`);
  if (o.open) detailOpen = true;
  showDetail();
  saveStateSoon();
}

function setDetailOpen(open: boolean, focusGrid: boolean): void {
  detailOpen = open;
  showDetail();
  if (focusGrid) grid.focus();
  saveStateSoon();
}

/** Shows the selected pair in the detail view, asking the host for its texts (debounced while keys repeat). */
function showDetail(): void {
  main.classList.toggle('with-detail', detailOpen);
  detailRoot.hidden = !detailOpen;
  if (!detailOpen) return;
  const idx = selectedId !== undefined ? rowById.get(selectedId) : undefined;
  const row = idx !== undefined ? rows[idx] : undefined;
  if (!row || selPos < 0) {
    detailShown = undefined;
    detail.clear(rows.length ? 'Select a pair to see both responses side by side (↑ ↓ to move, Enter to open).' : undefined);
    return;
  }
  const id = row.id;
  const pair = details.get(id);
  const st = statuses.get(id);
  const error = detailErrors.get(id);
  const signature = `${id}\u0000${selPos}\u0000${st ?? ''}\u0000${pair ? 1 : 0}\u0000${error ?? ''}\u0000${run?.runDir ?? ''}`;
  if (signature !== detailShown) {
    detailShown = signature;
    detail.render({ run, row, position: selPos, status: st, pair, error });
  }
  // One request per pair at a time, sent once the selection rests for a moment (keys may be repeating).
  if (!pair && error === undefined && !requested.has(id) && detailWanted !== id) {
    detailWanted = id;
    if (detailTimer) clearTimeout(detailTimer);
    detailTimer = setTimeout(() => {
      detailWanted = undefined;
      if (selectedId === id && !details.has(id) && !requested.has(id)) {
        requested.add(id);
        host.openPair(id);
      }
    }, 60);
  }
}

function review(decision: ReviewDecision): void {
  if (selectedId === undefined || selPos < 0) return;
  if (run?.readOnly) {
    announce('Read-only in Restricted Mode: reviews are not stored.');
    return;
  }
  host.review(selectedId, decision);
  announce(`${decision === 'clear' ? 'Clearing the review of' : `${STATUS_TEXT[decision]}:`} pair ${fmtInt(selPos + 1)}`);
  if (advance && decision !== 'clear' && selPos < view.length - 1) selectPos(selPos + 1);
}

// --- keys for the whole page -----------------------------------------------------------------

const KEY_DECISIONS: Record<string, ReviewDecision> = { a: 'accept', f: 'flip', x: 'flag', u: 'clear' };

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
  const t = e.target as HTMLElement;
  if (t.closest('input, select, textarea')) {
    if (e.key === 'Escape' && t === search) {
      e.preventDefault();
      grid.focus();
    }
    return;
  }
  if (e.key === '/') {
    e.preventDefault();
    search.focus();
    search.select();
    return;
  }
  if (e.key === 'Escape' && detailRoot.contains(t)) {
    e.preventDefault();
    grid.focus();
    return;
  }
  const d = KEY_DECISIONS[e.key];
  if (d && !e.shiftKey) {
    e.preventDefault();
    review(d);
  }
});

// --- filters ---------------------------------------------------------------------------------

function syncControls(): void {
  if (search.value !== filter.search) search.value = filter.search;
  cmin.value = String(filter.minConfidence);
  cmax.value = String(filter.maxConfidence);
  orderSel.value = filter.order;
  reviewSel.value = filter.review;
  principleSel.value = filter.principle;
  advanceBox.checked = advance;
  resetBtn.disabled = isDefaultFilter(filter);
}

let searchTimer: ReturnType<typeof setTimeout> | undefined;
search.addEventListener('input', () => {
  filter = { ...filter, search: search.value };
  rebuildSoon();
  if (searchTimer) clearTimeout(searchTimer);
  const q = search.value.trim();
  if (q.length < 2) {
    searching = false;
    return;
  }
  searchTimer = setTimeout(() => {
    if (fullText?.query === q) return;
    searching = true;
    host.search(q);
    renderStatus();
  }, 250);
});
principleSel.addEventListener('change', () => setFilter({ principle: principleSel.value }));
const range = (input: HTMLInputElement, d: number) => {
  const v = Number(input.value);
  return Number.isFinite(v) && input.value !== '' ? Math.min(1, Math.max(0.5, v)) : d;
};
cmin.addEventListener('change', () => setFilter({ minConfidence: range(cmin, 0.5) }));
cmax.addEventListener('change', () => setFilter({ maxConfidence: range(cmax, 1) }));
orderSel.addEventListener('change', () => setFilter({ order: orderSel.value as PairFilter['order'] }));
reviewSel.addEventListener('change', () => setFilter({ review: reviewSel.value as PairFilter['review'] }));
resetBtn.addEventListener('click', () => {
  setFilter({ ...DEFAULT_FILTER });
  search.value = '';
});
advanceBox.addEventListener('change', () => {
  advance = advanceBox.checked;
  saveStateSoon();
});
exportBtn.addEventListener('click', () => host.exportDataset());
stats.addEventListener('toggle', () => {
  statsOpen = stats.open;
  if (statsOpen) renderStatsNow();
  saveStateSoon();
});

function setFilter(change: Partial<PairFilter>): void {
  filter = { ...filter, ...change };
  rebuild({ keepScroll: false });
}

function renderPrinciples(): void {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.principle, (counts.get(r.principle) ?? 0) + 1);
  const same = counts.size === principleCounts.size && [...counts].every(([k, v]) => principleCounts.get(k) === v);
  if (same && principleSel.options.length) return;
  principleCounts = counts;
  const names = [...counts.keys()].sort();
  const options = [el('option', { value: '' }, `all (${fmtInt(rows.length)})`)];
  for (const n of names) options.push(el('option', { value: n }, `${revealInvisible(clip(n, 60)) || '(none)'} (${fmtInt(counts.get(n)!)})`));
  // a filter on a principle not (yet) in the run stays visible
  if (filter.principle !== '' && !counts.has(filter.principle)) options.push(el('option', { value: filter.principle }, `${revealInvisible(clip(filter.principle, 60))} (0)`));
  principleSel.replaceChildren(...options);
  principleSel.value = filter.principle;
}

// --- rebuilding the view ---------------------------------------------------------------------

const rebuildSoon = perFrame(() => rebuild({ keepScroll: true }));

function rebuild(o: { keepScroll: boolean }): void {
  const q = filter.search.trim();
  view = viewRows(rows, statuses, filter, sort, fullText && fullText.query.toLowerCase() === q.toLowerCase() ? fullText.ids : undefined);
  const oldPos = selPos;
  const idx = selectedId !== undefined ? rowById.get(selectedId) : undefined;
  selPos = idx !== undefined ? view.indexOf(idx) : -1;
  // The selected pair left the view as its data changed (e.g. reviewed under "not reviewed"): the one now in its place takes over.
  if (o.keepScroll && selPos < 0 && oldPos >= 0 && view.length && selectedId !== undefined && idx !== undefined) {
    selPos = Math.min(oldPos, view.length - 1);
    selectedId = rows[view[selPos]!]!.id;
  }
  grid.setAttribute('aria-rowcount', String(view.length + 1));
  // the table's size changes with emptiness: set it before the list measures its viewport
  grid.classList.toggle('is-empty', !view.length);
  if (!o.keepScroll) viewport.scrollTop = 0;
  list.setCount(view.length);
  if (selPos >= 0) {
    grid.setAttribute('aria-activedescendant', `pair-row-${selPos}`);
    if (!o.keepScroll) list.scrollToIndex(selPos, 'center');
  } else grid.removeAttribute('aria-activedescendant');
  markSort();
  syncControls();
  if (statsDirty) {
    renderPrinciples();
    if (statsOpen) renderStatsNow();
  }
  takePending();
  renderEmpty();
  renderStatus();
  showDetail();
  saveStateSoon();
}

function renderStatsNow(): void {
  renderStats(statsTable, aggregatePairs(rows, statuses), filter.principle, (p) => setFilter({ principle: p }));
  statsDirty = false;
}

/** A pair the host asked for, and the scroll position to restore, once their rows are there. */
function takePending(): void {
  if (pendingSelect !== undefined) {
    const idx = rowById.get(pendingSelect);
    if (idx !== undefined) {
      let pos = view.indexOf(idx);
      if (pos < 0) {
        filter = { ...DEFAULT_FILTER };
        view = viewRows(rows, statuses, filter, sort);
        list.setCount(view.length);
        syncControls();
        pos = view.indexOf(idx);
        addNotice('The filters were reset to show the pair you opened.');
      }
      pendingSelect = undefined;
      pendingScroll = undefined;
      selectPos(pos, { open: true, align: 'center' });
    } else if (indexed) {
      addNotice('The pair you opened is not in this run’s pairs.jsonl.', true);
      pendingSelect = undefined;
    }
  }
  if (pendingScroll !== undefined && (indexed || view.length * ROW_HEIGHT >= pendingScroll + viewport.clientHeight)) {
    viewport.scrollTop = pendingScroll;
    pendingScroll = undefined;
    list.render();
  }
}

function renderEmpty(): void {
  let text: string | undefined;
  let reset = false;
  if (fatal) text = undefined;
  else if (!rows.length) {
    if (!indexed) text = 'Reading pairs.jsonl…';
    else text = run?.status === 'running' ? 'No labelled pairs yet. The feedback stage writes them to pairs.jsonl; they appear here as they are labelled.' : 'This run has no labelled pairs (pairs.jsonl is empty or missing: the feedback stage did not run).';
  } else if (!view.length) {
    text = 'No pair matches these filters.';
    reset = true;
  }
  empty.hidden = text === undefined;
  grid.classList.toggle('is-empty', !view.length);
  if (text === undefined) return;
  const n = notice(text);
  if (reset) {
    const b = el('button', { type: 'button', class: 'secondary' }, 'Reset filters');
    b.addEventListener('click', () => {
      search.value = '';
      setFilter({ ...DEFAULT_FILTER });
      grid.focus();
    });
    n.append(' ', b);
  }
  setChildren(empty, n);
}

function renderStatus(): void {
  if (fatal) return;
  const parts: string[] = [];
  const total = rows.length;
  parts.push(plural(total, 'pair'));
  if (!isDefaultFilter(filter)) parts.push(`${fmtInt(view.length)} shown`);
  const reviewed = rows.reduce((n, r) => n + (statuses.has(r.id) ? 1 : 0), 0);
  parts.push(`${fmtInt(reviewed)} reviewed`);
  if (!indexed) parts.push('reading…');
  else if (run?.status === 'running') parts.push('run is training: new pairs appear as they are labelled');
  if (searching) parts.push('searching the full texts…');
  status.textContent = parts.join(' · ');
}

let announceTimer: ReturnType<typeof setTimeout> | undefined;
function announce(text: string): void {
  status.textContent = text;
  if (announceTimer) clearTimeout(announceTimer);
  announceTimer = setTimeout(renderStatus, 1500);
}

function addNotice(text: string, error = false): void {
  const n = notice(text, error ? 'error' : 'info');
  const close = el('button', { type: 'button', class: 'secondary icon-button', 'aria-label': 'Dismiss' }, '×');
  close.addEventListener('click', () => n.remove());
  n.append(' ', close);
  notices.append(n);
  while (notices.children.length > 3) notices.firstElementChild?.remove();
}

// --- state -----------------------------------------------------------------------------------

let saveTimer: ReturnType<typeof setTimeout> | undefined;
function saveStateSoon(): void {
  if (saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    if (!run) return;
    host.save({
      runDirs: [run.runDir],
      filter,
      sort,
      ...(selectedId !== undefined ? { selected: selectedId } : {}),
      detailOpen,
      statsOpen,
      advance,
      scrollTop: pendingScroll ?? viewport.scrollTop,
    });
  }, 200);
}

// --- messages from the host ------------------------------------------------------------------

function reset(): void {
  rows = [];
  rowById.clear();
  statuses.clear();
  details.clear();
  detailErrors.clear();
  detailShown = undefined;
  detailWanted = undefined;
  requested.clear();
  view = [];
  selPos = -1;
  indexed = false;
  fatal = false;
  fullText = undefined;
  statsDirty = true;
  principleCounts = new Map();
  principleSel.replaceChildren();
  notices.replaceChildren();
  main.hidden = false;
  stats.hidden = false;
}

function onMessage(m: PairsHostToPage): void {
  switch (m.type) {
    case 'pairs/init': {
      reset();
      run = m.payload.run;
      title.replaceChildren('Preference pairs ', el('span', { class: 'run-id' }, revealInvisible(run.runId)));
      document.title = `Pairs: ${run.runId}`;
      if (m.payload.select) pendingSelect = m.payload.select;
      if (run.readOnly) addNotice('Restricted Mode: read-only. Reviews and exports need a trusted workspace.', false);
      exportBtn.disabled = run.readOnly === true;
      rebuild({ keepScroll: true });
      break;
    }
    case 'pairs/rows': {
      for (const r of m.payload.rows) {
        if (rowById.has(r.id)) continue;
        // a missing number travels as null (messages are JSON): it is NaN here, as in the core
        if (typeof r.p_a !== 'number') r.p_a = Number.NaN;
        if (typeof r.p_a_forward !== 'number') r.p_a_forward = Number.NaN;
        if (r.p_a_reversed !== null && typeof r.p_a_reversed !== 'number') r.p_a_reversed = null;
        rowById.set(r.id, rows.length);
        rows.push(r);
      }
      statsDirty = true;
      rebuildSoon();
      break;
    }
    case 'pairs/indexed': {
      indexed = true;
      const { bad, invalid } = m.payload;
      if (bad.length) addNotice(`${plural(bad.length, 'line')} of pairs.jsonl could not be read and ${bad.length === 1 ? 'was' : 'were'} skipped (line ${bad[0]!.line}: ${clip(bad[0]!.error, 200)}).`, true);
      if (invalid) addNotice(`${plural(invalid, 'record')} of pairs.jsonl had no id and ${invalid === 1 ? 'was' : 'were'} skipped.`, true);
      rebuildSoon();
      break;
    }
    case 'pairs/reviews': {
      if (m.payload.reset) statuses.clear();
      applyReviews(statuses, m.payload.reviews);
      statsDirty = true;
      list.refreshSoon();
      rebuildSoon();
      break;
    }
    case 'pairs/detail': {
      const p = m.payload.pair;
      requested.delete(p.id);
      details.set(p.id, p);
      detailErrors.delete(p.id);
      if (details.size > 50) details.delete(details.keys().next().value as string);
      if (p.id === selectedId) showDetail();
      break;
    }
    case 'pairs/detailError': {
      requested.delete(m.payload.pairId);
      detailErrors.set(m.payload.pairId, m.payload.message);
      if (m.payload.pairId === selectedId) showDetail();
      break;
    }
    case 'pairs/select': {
      pendingSelect = m.payload.pairId;
      takePending();
      break;
    }
    case 'pairs/searchResult': {
      if (m.payload.query !== search.value.trim()) break;
      fullText = { query: m.payload.query, ids: new Set(m.payload.ids) };
      searching = false;
      rebuildSoon();
      break;
    }
    case 'pairs/notice': {
      if (m.payload.fatal) {
        fatal = true;
        main.hidden = true;
        stats.hidden = true;
        status.textContent = '';
        notices.replaceChildren(notice(m.payload.message, 'error'));
      } else addNotice(m.payload.message, m.payload.error);
      break;
    }
  }
}

// --- start -----------------------------------------------------------------------------------

syncControls();
markSort();
stats.hidden = true;
renderEmpty();
conn.ready();
