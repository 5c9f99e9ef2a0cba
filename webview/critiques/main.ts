/**
 * The page of the "Critiques and revisions" panel: a run's red-team prompts in a virtual list
 * (thousands stay responsive), and the selected prompt's chain — initial response, each round's
 * critique and revision with its principle — with evasive refusals and boilerplate phrases marked
 * where they occur. Any two steps open in VS Code's diff editor (the host does that).
 *
 * Every string here is model output or run data, so hostile: text nodes only, through el().
 */
import { BOILERPLATE_RULES, chainSteps, findFlags, segmentByFlags, type ChainStep, type CritiqueRow, type TextFlag } from '../../src/core/runs/revisions.js';
import type { RevisionRecord } from '../../src/core/runs/records.js';
import type { CritiquesFlagFilter, CritiquesHostToPage, CritiquesPageToHost, CritiquesPanelState } from '../../src/protocol/panels/critiques.js';
import { el, fmtInt, notice, plural, revealInvisible, setChildren, statusLine } from '../shared/dom.js';
import { connect } from '../shared/host.js';
import { VirtualList } from './virtualList.js';

// --- the host --------------------------------------------------------------------------------

const conn = connect<CritiquesHostToPage, CritiquesPageToHost, CritiquesPanelState>(['critiques/'], (m) => onMessage(m));
const host = {
  select: (id: string): void => conn.post({ type: 'critiques/select', payload: { id } }),
  diff: (id: string, left: string, right: string): void => conn.post({ type: 'critiques/diff', payload: { id, left, right } }),
};

// --- state -----------------------------------------------------------------------------------

const saved = conn.getState();
let state: CritiquesPanelState = saved && Array.isArray(saved.runDirs) ? saved : { runDirs: [] };
let runName = '';
const rows: CritiqueRow[] = [];
const seen = new Set<string>();
let filtered: CritiqueRow[] = [];
let loaded = false;
let total = 0;
let badLines = 0;
/** A record to select once its row arrives (restored selection, or the host's `select`). */
let pending: { id?: string; promptId?: string } | undefined = state.selectedId ? { id: state.selectedId } : undefined;

function save(patch: Partial<CritiquesPanelState>): void {
  state = { ...state, ...patch };
  conn.setState(state);
}

// --- layout ----------------------------------------------------------------------------------

const ROW_HEIGHT = 46;
const FLAG_FILTERS: { value: CritiquesFlagFilter; label: string }[] = [
  { value: 'all', label: 'All prompts' },
  { value: 'evasive-final', label: 'Final answer evasive' },
  { value: 'evasive-initial', label: 'Initial answer evasive' },
  { value: 'boilerplate', label: 'Boilerplate phrases' },
  { value: 'unchanged', label: 'Unchanged by revision' },
];

const search = el('input', { type: 'search', id: 'filter', placeholder: 'Filter prompts', 'aria-label': 'Filter prompts by text or prompt id', spellcheck: 'false' });
const flagSelect = el('select', { id: 'flag', 'aria-label': 'Show prompts' }, ...FLAG_FILTERS.map((f) => el('option', { value: f.value }, f.label)));
const principleSelect = el('select', { id: 'principle', 'aria-label': 'Principle' }, el('option', { value: '' }, 'Any principle'));
const status = statusLine('status');
const title = el('h1', {}, 'Critiques and revisions');
const topNotice = el('div', { id: 'top-notice' });
const listBox = el('div', { id: 'list', 'aria-label': 'Prompts' });
const listEmpty = el('div', { id: 'list-empty' });
const detail = el('section', { id: 'detail', class: 'detail', 'aria-label': 'Critique and revision chain', tabindex: '-1' });

setChildren(
  document.getElementById('app')!,
  el('header', { class: 'head' }, title),
  el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Filters' }, search, el('label', {}, 'Show', flagSelect), el('label', {}, 'Principle', principleSelect), status),
  topNotice,
  el('div', { class: 'split' }, el('section', { class: 'list-pane', 'aria-label': 'Prompts' }, listBox, listEmpty), detail),
);

search.value = state.query ?? '';
flagSelect.value = state.flag ?? 'all';

function rowView(r: CritiqueRow): Node {
  const badges: Node[] = [];
  if (r.evasiveFinal) badges.push(el('span', { class: 'badge badge-evasive', title: 'The final answer is an evasive refusal' }, 'evasive'));
  else if (r.evasiveInitial) badges.push(el('span', { class: 'badge badge-muted', title: 'The initial answer was an evasive refusal; the final one is not' }, 'was evasive'));
  if (r.boilerplate > 0) badges.push(el('span', { class: 'badge badge-boilerplate', title: `${plural(r.boilerplate, 'boilerplate phrase')} in the chain's responses` }, `boilerplate ×${r.boilerplate}`));
  if (!r.changed) badges.push(el('span', { class: 'badge badge-muted', title: 'The final answer equals the initial one' }, 'unchanged'));
  const principles = [...new Set(r.principles)].join(', ');
  return el(
    'div',
    { class: 'vrow-inner' },
    el('div', { class: 'vrow-prompt' }, revealInvisible(r.prompt) || '(empty prompt)'),
    el('div', { class: 'vrow-meta' }, el('span', { class: 'muted' }, `${plural(r.rounds, 'round')}${principles ? ` · ${principles}` : ''}`), ...badges),
  );
}

const list = new VirtualList<CritiqueRow>({
  container: listBox,
  rowHeight: ROW_HEIGHT,
  render: (r) => rowView(r),
  onSelect: (r) => choose(r),
  onActivate: () => detail.focus(),
});

// --- filtering -------------------------------------------------------------------------------

function matches(r: CritiqueRow): boolean {
  const q = (state.query ?? '').trim().toLowerCase();
  if (q && !r.prompt.toLowerCase().includes(q) && !r.prompt_id.toLowerCase().includes(q)) return false;
  if (state.principle && !r.principles.includes(state.principle)) return false;
  switch (state.flag ?? 'all') {
    case 'evasive-final':
      return r.evasiveFinal;
    case 'evasive-initial':
      return r.evasiveInitial;
    case 'boilerplate':
      return r.boilerplate > 0;
    case 'unchanged':
      return !r.changed;
    default:
      return true;
  }
}

function applyFilter(): void {
  filtered = rows.filter(matches);
  const sel = state.selectedId === undefined ? -1 : filtered.findIndex((r) => r.id === state.selectedId);
  list.setItems(filtered, sel);
  showStatus();
}

function showStatus(): void {
  const parts = [`${fmtInt(filtered.length)} of ${plural(rows.length, 'prompt')}`];
  if (!loaded) parts.push(`loading… ${fmtInt(total)}`);
  if (badLines > 0) parts.push(`${plural(badLines, 'damaged line')} skipped`);
  status.textContent = parts.join(' · ');
  if (rows.length === 0 && loaded) setChildren(listEmpty, notice('No critiques in this run yet. revisions.jsonl fills while the critique stage runs; new prompts appear here as they are written.'));
  else if (filtered.length === 0 && rows.length > 0) setChildren(listEmpty, notice('No prompt matches the filter.'));
  else setChildren(listEmpty);
  listBox.hidden = filtered.length === 0;
}

let filterTimer: number | undefined;
search.addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = window.setTimeout(() => {
    save({ query: search.value });
    applyFilter();
  }, 120);
});
flagSelect.addEventListener('change', () => {
  save({ flag: flagSelect.value as CritiquesFlagFilter });
  applyFilter();
});
principleSelect.addEventListener('change', () => {
  save({ principle: principleSelect.value || undefined });
  applyFilter();
});

const principles = new Set<string>();
function addPrinciples(rs: readonly CritiqueRow[]): void {
  let added = false;
  for (const r of rs) {
    for (const p of r.principles) {
      if (principles.has(p)) continue;
      principles.add(p);
      added = true;
    }
  }
  if (!added) return;
  const cur = state.principle ?? '';
  setChildren(principleSelect, el('option', { value: '' }, 'Any principle'), ...[...principles].sort().map((p) => el('option', { value: p }, revealInvisible(p))));
  principleSelect.value = principles.has(cur) ? cur : '';
}

// --- selection and the chain -----------------------------------------------------------------

let selectTimer: number | undefined;
function choose(r: CritiqueRow): void {
  if (state.selectedId !== r.id) save({ selectedId: r.id, left: undefined, right: undefined });
  setChildren(detail, el('p', { class: 'muted', role: 'status' }, 'Loading the chain…'));
  // holding an arrow key moves through many rows: ask for the one the user stops on
  clearTimeout(selectTimer);
  selectTimer = window.setTimeout(() => host.select(r.id), 60);
}

function flagBadges(flags: readonly TextFlag[]): Node[] {
  const out: Node[] = [];
  const ev = flags.filter((f) => f.kind === 'evasive');
  const bp = flags.filter((f) => f.kind === 'boilerplate');
  if (ev.length) out.push(el('span', { class: 'badge badge-evasive', title: 'Refusal without a reason or an alternative' }, 'evasive'));
  if (bp.length) out.push(el('span', { class: 'badge badge-boilerplate', title: bp.map((f) => f.description).join('\n') }, `boilerplate ×${bp.length}`));
  return out;
}

/** The text with its flags marked; invisible characters made visible segment by segment (offsets stay right). */
function flaggedText(text: string, flags: readonly TextFlag[], label: string): HTMLElement {
  const block = el('div', { class: 'text-block step-text', role: 'region', 'aria-label': label, tabindex: '0' });
  if (text === '') {
    block.append(el('span', { class: 'muted' }, '(empty)'));
    return block;
  }
  for (const s of segmentByFlags(text, flags)) {
    const t = revealInvisible(s.text);
    if (!s.flag) block.append(t);
    else block.append(el('mark', { class: `flag flag-${s.flag.kind}`, title: s.flag.description, 'data-rule': s.flag.rule }, t));
  }
  return block;
}

function flagList(flags: readonly TextFlag[]): Node | null {
  if (!flags.length) return null;
  return el(
    'ul',
    { class: 'flag-list', 'aria-label': 'Flags' },
    ...flags.slice(0, 20).map((f) => el('li', {}, el('span', { class: `badge badge-${f.kind}` }, f.kind), ' ', el('q', {}, revealInvisible(f.match.length > 80 ? `${f.match.slice(0, 79)}…` : f.match)), el('span', { class: 'muted' }, ` — ${f.description}`))),
    flags.length > 20 ? el('li', { class: 'muted' }, `and ${fmtInt(flags.length - 20)} more`) : null,
  );
}

function stepCard(s: ChainStep, prevResponse: ChainStep | undefined): HTMLElement {
  const flags = s.response ? findFlags(s.text) : [];
  const head = el(
    'div',
    { class: 'step-head' },
    el('h3', { id: `h-${s.key}` }, s.label),
    s.principle !== undefined ? el('span', { class: 'principle', title: 'Principle drawn for this round' }, revealInvisible(s.principle || '(no principle)')) : null,
    ...flagBadges(flags),
    el('span', { class: 'spacer' }),
    prevResponse && s.response
      ? el('button', { class: 'secondary diff-prev', type: 'button', 'data-left': prevResponse.key, 'data-right': s.key, title: `Open ${prevResponse.label} ↔ ${s.label} in the diff editor` }, `Diff with ${prevResponse.label.toLowerCase()}`)
      : null,
  );
  const parts: Node[] = [head];
  if (s.request !== undefined && s.request !== '') {
    parts.push(el('details', { class: 'request' }, el('summary', {}, s.kind === 'critique' ? 'Critique request' : 'Revision request'), el('div', { class: 'text-block request-text' }, revealInvisible(s.request))));
  }
  parts.push(flaggedText(s.text, flags, `${s.label} text`));
  const fl = flagList(flags);
  if (fl) parts.push(fl);
  return el('li', { class: `step step-${s.kind}`, 'aria-labelledby': `h-${s.key}`, 'data-step': s.key }, ...parts);
}

function stepOptions(steps: readonly ChainStep[], value: string): HTMLSelectElement {
  const sel = el('select', {}, ...steps.map((s) => el('option', { value: s.key }, s.label)));
  sel.value = steps.some((s) => s.key === value) ? value : (steps[0]?.key ?? '');
  return sel;
}

function showRecord(rec: RevisionRecord): void {
  const steps = chainSteps(rec);
  const responses = steps.filter((s) => s.response);
  const lastResponse = responses[responses.length - 1]!;
  const left = stepOptions(steps, state.left ?? 'initial');
  const right = stepOptions(steps, state.right ?? lastResponse.key);
  left.id = 'diff-left';
  right.id = 'diff-right';
  const openDiff = el('button', { type: 'button', id: 'open-diff' }, 'Open in diff editor');
  const sameNote = el('span', { class: 'muted', id: 'diff-note', role: 'status' });
  const sync = () => {
    save({ left: left.value, right: right.value });
    const same = left.value === right.value;
    openDiff.disabled = same;
    sameNote.textContent = same ? 'Choose two different steps.' : '';
  };
  left.addEventListener('change', sync);
  right.addEventListener('change', sync);
  openDiff.addEventListener('click', () => host.diff(rec.id, left.value, right.value));
  sync();

  const cards: HTMLElement[] = [];
  let prevResponse: ChainStep | undefined;
  for (const s of steps) {
    cards.push(stepCard(s, prevResponse));
    if (s.response) prevResponse = s;
  }
  const chain = el('ol', { class: 'chain', 'aria-label': `${plural(steps.length, 'step')}` }, ...cards);
  chain.addEventListener('click', (e) => {
    const b = (e.target as Element).closest<HTMLButtonElement>('button.diff-prev');
    if (b?.dataset['left'] && b.dataset['right']) host.diff(rec.id, b.dataset['left'], b.dataset['right']);
  });
  const rounds = rec.rounds.length;
  setChildren(
    detail,
    el('h2', { class: 'prompt-head' }, 'Prompt', el('span', { class: 'muted' }, ` · ${plural(rounds, 'round')}${rec.prompt_id ? ` · prompt ${rec.prompt_id}` : ''}`)),
    el('div', { class: 'text-block prompt-text', role: 'region', 'aria-label': 'Prompt text', tabindex: '0' }, revealInvisible(rec.prompt) || '(empty prompt)'),
    el('div', { class: 'diffbar', role: 'group', 'aria-label': 'Compare two steps' }, el('label', {}, 'Compare', left), el('label', {}, 'with', right), openDiff, sameNote),
    chain,
    el(
      'details',
      { class: 'legend' },
      el('summary', {}, 'What the flags mean'),
      el(
        'ul',
        {},
        el('li', {}, el('span', { class: 'badge badge-evasive' }, 'evasive'), ' a refusal ("I can\'t help with that", "I\'m sorry, but I cannot …") in a response that gives no reason and offers no alternative.'),
        ...BOILERPLATE_RULES.map((r) => el('li', {}, el('span', { class: 'badge badge-boilerplate' }, 'boilerplate'), ` ${r.description}.`)),
        el('li', { class: 'muted' }, 'Matched case-insensitively on responses only (not on critiques, which discuss such phrases).'),
      ),
    ),
  );
}

// --- messages --------------------------------------------------------------------------------

function takePending(fresh: readonly CritiqueRow[]): void {
  if (!pending) return;
  const p = pending;
  const hit = fresh.find((r) => (p.id !== undefined ? r.id === p.id : r.prompt_id === p.promptId));
  if (!hit) return;
  pending = undefined;
  let i = filtered.indexOf(hit);
  if (i < 0) {
    // the filter hides it: clear the filter rather than hide what was asked for
    save({ query: '', flag: 'all', principle: undefined });
    search.value = '';
    flagSelect.value = 'all';
    principleSelect.value = '';
    applyFilter();
    i = filtered.indexOf(hit);
  }
  list.select(i);
}

function onMessage(m: CritiquesHostToPage): void {
  switch (m.type) {
    case 'critiques/init': {
      const p = m.payload;
      if (state.runDirs[0] !== p.runDir) {
        state = { runDirs: [p.runDir] };
        pending = undefined;
      }
      save({ runDirs: [p.runDir] });
      if (p.select) pending = p.select;
      runName = p.runName;
      setChildren(title, 'Critiques and revisions', el('span', { class: 'muted run-name' }, ` · ${runName}`));
      rows.length = 0;
      seen.clear();
      principles.clear();
      loaded = false;
      setChildren(topNotice);
      setChildren(detail, notice('Select a prompt to see its critique → revision chain.'));
      applyFilter();
      break;
    }
    case 'critiques/rows': {
      const p = m.payload;
      const fresh = p.rows.filter((r) => !seen.has(r.id));
      for (const r of fresh) {
        seen.add(r.id);
        rows.push(r);
      }
      loaded = p.loaded;
      total = p.total;
      badLines = p.badLines;
      addPrinciples(fresh);
      const add = fresh.filter(matches);
      if (add.length) {
        filtered.push(...add);
        list.grew(filtered);
      }
      showStatus();
      takePending(fresh);
      break;
    }
    case 'critiques/reset':
      rows.length = 0;
      seen.clear();
      loaded = false;
      applyFilter();
      break;
    case 'critiques/record':
      if (m.payload.record.id === state.selectedId) showRecord(m.payload.record);
      break;
    case 'critiques/error':
      if (m.payload.id !== undefined) {
        if (m.payload.id === state.selectedId) setChildren(detail, notice(m.payload.message, 'error'));
      } else setChildren(topNotice, notice(m.payload.message, 'error'));
      break;
  }
}

conn.ready();
