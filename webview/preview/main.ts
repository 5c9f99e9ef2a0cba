/**
 * The page of the "Prompt Preview" panel: the exact critique, revision and comparison prompts of
 * one principle / comparison and one conversation, as the language server renders them.
 *
 * Every string in a message is text written by whoever wrote the constitution, so it is treated
 * as hostile: the DOM is built with createElement + textContent only, never parsed from markup.
 * The page runs under the host's CSP (no inline script or style), so styling goes through classes
 * in media/preview.css and the `hidden` attribute.
 */
import type { PromptSegment, RenderedPrompt } from '../../src/core/constitution/render.js';
import type { PreviewChoice, PreviewConversation, PreviewPromptsResult } from '../../src/protocol/lsp.js';
import {
  MessageTypes,
  type PreviewHostToPage,
  type PreviewPageToHost,
  type PreviewPanelState,
  type PreviewSelectMessage,
} from '../../src/protocol/webview.js';

// --- the host --------------------------------------------------------------------------------

interface VsCodeApi<State> {
  postMessage(message: unknown): void;
  getState(): State | undefined;
  setState(state: State): State;
}

declare function acquireVsCodeApi(): VsCodeApi<PreviewPanelState>;

const vscode = acquireVsCodeApi();

/** Everything the page says to the extension goes through here. */
const post = (message: PreviewPageToHost): void => vscode.postMessage(message);
const host = {
  ready: (): void => post({ type: MessageTypes.ready, payload: {} }),
  /** Only the keys that are set travel (the host spreads the payload over its state). */
  select: (change: PreviewSelectMessage['payload']): void => {
    const payload: PreviewSelectMessage['payload'] = {};
    if (change.principle !== undefined) payload.principle = change.principle;
    if (change.comparison !== undefined) payload.comparison = change.comparison;
    if (change.conversation !== undefined) payload.conversation = change.conversation;
    post({ type: MessageTypes.previewSelect, payload });
  },
  copy: (text: string): void => post({ type: MessageTypes.previewCopy, payload: { text } }),
  saveState: (state: PreviewPanelState): void => void vscode.setState(state),
};

// --- small helpers ---------------------------------------------------------------------------

type Attrs = Record<string, string>;

/** An element with attributes and text or children; text always goes in as text. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

const numberFormat = new Intl.NumberFormat();
const plural = (n: number, one: string, many: string) => `${numberFormat.format(n)} ${n === 1 ? one : many}`;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isConversation(v: unknown): v is PreviewConversation {
  if (!isObject(v)) return false;
  if (v.kind === 'sample') return true;
  return (
    v.kind === 'example' &&
    (v.group === 'critique_revision' || v.group === 'comparison' || v.group === 'cot_comparison') &&
    typeof v.index === 'number' &&
    Number.isInteger(v.index) &&
    v.index >= 0
  );
}

/** Two conversations are the same choice (whatever the key order of their JSON). */
function conversationKey(c: PreviewConversation): string {
  return c.kind === 'sample' ? 'sample' : `example:${c.group}:${c.index}`;
}

function isState(v: unknown): v is PreviewPanelState {
  return (
    isObject(v) &&
    typeof v.uri === 'string' &&
    (v.principle === undefined || typeof v.principle === 'string') &&
    (v.comparison === undefined || typeof v.comparison === 'string') &&
    (v.conversation === undefined || isConversation(v.conversation))
  );
}

function isHostMessage(v: unknown): v is PreviewHostToPage {
  if (!isObject(v) || !isObject(v.payload)) return false;
  if (v.type === MessageTypes.previewError) return typeof v.payload.message === 'string';
  if (v.type === MessageTypes.previewUpdate) return typeof v.payload.uri === 'string' && isObject(v.payload.preview);
  return false;
}

function fileName(uri: string): string {
  const last = uri.split(/[\\/]/).pop() ?? uri;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

// --- prompt sections -------------------------------------------------------------------------

interface SectionView {
  readonly root: HTMLElement;
  update(prompt: RenderedPrompt | undefined): void;
}

let sectionCount = 0;

/** A polite live region, for what a screen reader would otherwise not hear (a copy). */
const announcer = el('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', id: 'announcer' });
function announce(text: string): void {
  announcer.textContent = '';
  // a fresh text node after a tick, so the same message twice is announced twice
  setTimeout(() => (announcer.textContent = text), 50);
}

/**
 * One prompt: heading, character and token counts, a few-shot toggle, a copy button, and the
 * text in a <pre> where each segment is a span (examples muted and labelled, the prompt marked).
 * The <pre>'s textContent is exactly the prompt text; labels are CSS generated content.
 */
function promptSection(title: string, description: string): SectionView {
  const n = ++sectionCount;
  const headingId = `prompt-${n}-heading`;
  const preId = `prompt-${n}-text`;
  const heading = el('h3', { id: headingId }, title);
  const meta = el('p', { class: 'meta' });
  const toggle = el('button', { type: 'button', class: 'secondary', 'aria-controls': preId });
  const copy = el('button', { type: 'button', 'aria-label': `Copy ${title.toLowerCase()}` }, 'Copy');
  const note = el('p', { class: 'fewshot-note', hidden: '' });
  const pre = el('pre', { id: preId, class: 'prompt' });
  const root = el(
    'section',
    { class: 'prompt-section', 'aria-labelledby': headingId },
    el('div', { class: 'section-head' }, heading, el('div', { class: 'actions' }, toggle, copy)),
    el('p', { class: 'description' }, description),
    meta,
    note,
    pre,
  );

  let prompt: RenderedPrompt | undefined;
  let fewShotHidden = false;
  let copiedTimer: ReturnType<typeof setTimeout> | undefined;

  const examples = () => (prompt && Array.isArray(prompt.segments) ? prompt.segments.filter((s) => isObject(s) && s.kind === 'example').length : 0);

  const applyFewShot = () => {
    const count = examples();
    toggle.hidden = count === 0;
    toggle.textContent = fewShotHidden ? 'Show few-shot' : 'Hide few-shot';
    toggle.setAttribute('aria-label', `${fewShotHidden ? 'Show' : 'Hide'} few-shot examples of the ${title.toLowerCase()}`);
    toggle.setAttribute('aria-expanded', String(!fewShotHidden));
    for (const span of pre.querySelectorAll<HTMLElement>('.seg-example, .seg-separator')) span.hidden = fewShotHidden;
    pre.classList.toggle('fewshot-hidden', fewShotHidden);
    note.hidden = !(fewShotHidden && count > 0);
    note.textContent = `${plural(count, 'few-shot example', 'few-shot examples')} hidden; Copy still copies the whole prompt.`;
  };

  toggle.addEventListener('click', () => {
    fewShotHidden = !fewShotHidden;
    applyFewShot();
  });
  copy.addEventListener('click', () => {
    if (!prompt) return;
    host.copy(prompt.text);
    announce(`${title} copied to the clipboard`);
    copy.textContent = 'Copied';
    if (copiedTimer) clearTimeout(copiedTimer);
    copiedTimer = setTimeout(() => (copy.textContent = 'Copy'), 1500);
  });

  return {
    root,
    update(p) {
      prompt = p;
      root.hidden = !p;
      if (!p) {
        pre.replaceChildren();
        return;
      }
      pre.replaceChildren(...segmentNodes(p));
      const count = examples();
      meta.textContent = [
        plural(p.text.length, 'character', 'characters'),
        `≈ ${plural(Math.ceil(p.text.length / 4), 'token', 'tokens')}`,
        count === 0 ? 'no few-shot examples' : plural(count, 'few-shot example', 'few-shot examples'),
      ].join(' · ');
      applyFewShot();
    },
  };
}

/** Spans covering the whole text in order; text the segments do not cover is kept as plain text. */
function segmentNodes(p: RenderedPrompt): Node[] {
  const out: Node[] = [];
  const text = typeof p.text === 'string' ? p.text : '';
  const segments = (Array.isArray(p.segments) ? p.segments : [])
    .filter((s): s is PromptSegment => isObject(s) && typeof s.start === 'number' && typeof s.end === 'number')
    .slice()
    .sort((a, b) => a.start - b.start);
  let at = 0;
  for (const s of segments) {
    const start = Math.max(at, Math.min(s.start, text.length));
    const end = Math.max(start, Math.min(s.end, text.length));
    if (start > at) out.push(document.createTextNode(text.slice(at, start)));
    if (end === start) continue;
    const kind = s.kind === 'example' || s.kind === 'separator' || s.kind === 'prompt' ? s.kind : 'other';
    const span = el('span', { class: `seg seg-${kind}` }, text.slice(start, end));
    span.dataset.kind = kind;
    if (kind === 'example' || kind === 'prompt') span.dataset.label = typeof s.label === 'string' ? (kind === 'prompt' ? `prompt: ${s.label}` : s.label) : kind;
    out.push(span);
    at = end;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

/** The two continuations whose probabilities become the soft label, quoted so whitespace shows. */
function continuationsSection(): { root: HTMLElement; update(c: { A: string; B: string } | undefined): void } {
  const headingId = 'continuations-heading';
  const a = el('code', { class: 'continuation' });
  const b = el('code', { class: 'continuation' });
  const root = el(
    'section',
    { class: 'prompt-section', 'aria-labelledby': headingId },
    el('h3', { id: headingId }, 'Scored answer continuations'),
    el('p', { class: 'description' }, 'The feedback model is not asked to write an answer: the probabilities of these two continuations after the comparison prompt become the soft preference label.'),
    el('dl', { class: 'continuations' }, el('dt', {}, 'Option A'), el('dd', {}, a), el('dt', {}, 'Option B'), el('dd', {}, b)),
  );
  return {
    root,
    update(c) {
      root.hidden = !c;
      a.textContent = c ? JSON.stringify(String(c.A)) : '';
      b.textContent = c ? JSON.stringify(String(c.B)) : '';
    },
  };
}

// --- the page --------------------------------------------------------------------------------

function labelledSelect(id: string, label: string): { wrap: HTMLElement; select: HTMLSelectElement } {
  const select = el('select', { id });
  return { wrap: el('div', { class: 'field' }, el('label', { for: id }, label), select), select };
}

function choiceText(c: PreviewChoice): string {
  const label = String(c.label ?? c.id);
  return c.detail && c.detail !== label ? `${label} — ${c.detail}` : label;
}

/** Replaces a select's options; the element (and the focus, if it has it) stays. */
function setOptions(select: HTMLSelectElement, options: { value: string; text: string }[], selected: string | undefined, empty: string): void {
  select.replaceChildren(...options.map((o) => el('option', { value: o.value }, o.text)));
  if (options.length === 0) select.append(el('option', { value: '' }, empty));
  select.disabled = options.length === 0;
  const i = options.findIndex((o) => o.value === selected);
  select.selectedIndex = i >= 0 ? i : 0;
}

const app = document.getElementById('app') ?? document.body.appendChild(el('div', { id: 'app', role: 'main' }));

const title = el('h1', {}, 'Prompt preview');
const principleField = labelledSelect('select-principle', 'Principle');
const comparisonField = labelledSelect('select-comparison', 'Comparison');
const conversationField = labelledSelect('select-conversation', 'Conversation');
const toolbar = el('div', { class: 'toolbar' }, principleField.wrap, comparisonField.wrap, conversationField.wrap);
const errorBanner = el('div', { class: 'banner banner-error', role: 'alert', id: 'preview-error' });
const warningBanner = el('div', { class: 'banner banner-warning', role: 'status', id: 'constitution-errors' });
const loading = el('p', { class: 'loading' }, 'Loading prompts…');

const critique = promptSection('Critique prompt', 'Asks the model to critique the last assistant turn against the principle; the model continues after it.');
const revision = promptSection('Revision prompt', 'Asks for a rewrite once the critique is written (the critique here is a placeholder).');
const directRevision = promptSection('Direct revision prompt', 'The revision prompt without a critique, used when options.direct_revision is on.');
const principleHeading = el('h2', { id: 'principle-heading' }, 'Critique and revision');
const principleEmpty = el('p', { class: 'empty' }, 'This constitution has no principles, so there are no critique or revision prompts to show. Add an entry under principles.');
const principleGroup = el(
  'section',
  { class: 'group', 'aria-labelledby': 'principle-heading' },
  principleHeading,
  principleEmpty,
  critique.root,
  revision.root,
  directRevision.root,
);

const comparison = promptSection('Comparison prompt', 'The multiple-choice question the feedback model answers.');
const chainOfThought = promptSection('Chain-of-thought comparison prompt', 'The same question when options.chain_of_thought is on: the model reasons before it answers.');
const continuations = continuationsSection();
const comparisonHeading = el('h2', { id: 'comparison-heading' }, 'AI feedback');
const comparisonEmpty = el('p', { class: 'empty' }, 'This constitution has no comparisons, so there is no AI feedback prompt to show. Add an entry under comparisons.');
const comparisonGroup = el(
  'section',
  { class: 'group', 'aria-labelledby': 'comparison-heading' },
  comparisonHeading,
  comparisonEmpty,
  comparison.root,
  chainOfThought.root,
  continuations.root,
);

errorBanner.hidden = true;
warningBanner.hidden = true;
principleGroup.hidden = true;
comparisonGroup.hidden = true;
app.replaceChildren(el('header', { class: 'header' }, title, toolbar), errorBanner, warningBanner, loading, principleGroup, comparisonGroup, announcer);

let state: PreviewPanelState | undefined;
let conversations: PreviewConversation[] = [];

function setBusy(busy: boolean): void {
  if (busy) app.setAttribute('aria-busy', 'true');
  else app.removeAttribute('aria-busy');
}

function select(change: PreviewSelectMessage['payload']): void {
  if (state) {
    state = { ...state, ...change };
    host.saveState(state);
  }
  setBusy(true);
  host.select(change);
}

principleField.select.addEventListener('change', () => {
  if (principleField.select.value) select({ principle: principleField.select.value });
});
comparisonField.select.addEventListener('change', () => {
  if (comparisonField.select.value) select({ comparison: comparisonField.select.value });
});
conversationField.select.addEventListener('change', () => {
  let value: unknown;
  try {
    value = JSON.parse(conversationField.select.value);
  } catch {
    return;
  }
  if (isConversation(value)) select({ conversation: value });
});

function update(r: PreviewPromptsResult): void {
  const principles = Array.isArray(r.principles) ? r.principles : [];
  const comparisons = Array.isArray(r.comparisons) ? r.comparisons : [];
  const convos = (Array.isArray(r.conversations) ? r.conversations : []).filter((c) => isObject(c) && isConversation(c.value));
  const selected = isObject(r.selected) ? r.selected : { conversation: { kind: 'sample' as const } };
  const preview = r.preview;

  title.textContent = `Prompt preview: ${r.name ? String(r.name) : fileName(r.uri)}`;

  setOptions(
    principleField.select,
    principles.map((p) => ({ value: String(p.id), text: choiceText(p) })),
    selected.principle ?? preview.principle?.id,
    'No principles',
  );
  setOptions(
    comparisonField.select,
    comparisons.map((p) => ({ value: String(p.id), text: choiceText(p) })),
    selected.comparison ?? preview.comparison?.id,
    'No comparisons',
  );
  conversations = convos.map((c) => c.value);
  const selectedKey = isConversation(selected.conversation) ? conversationKey(selected.conversation) : 'sample';
  const convoOptions = convos.map((c) => ({ value: JSON.stringify(c.value), text: String(c.label), key: conversationKey(c.value) }));
  setOptions(conversationField.select, convoOptions, convoOptions.find((o) => o.key === selectedKey)?.value, 'Built-in sample conversation');

  const errors = typeof r.errorCount === 'number' ? r.errorCount : 0;
  warningBanner.hidden = errors <= 0;
  warningBanner.textContent = errors > 0 ? `${plural(errors, 'error', 'errors')} in this constitution — showing what is valid` : '';
  errorBanner.hidden = true;
  errorBanner.textContent = '';

  const p = preview.principle;
  principleGroup.hidden = false;
  principleHeading.textContent = p ? `Critique and revision — principle '${String(p.id)}'` : 'Critique and revision';
  principleEmpty.hidden = principles.length > 0 && Boolean(p);
  principleEmpty.textContent =
    principles.length === 0
      ? 'This constitution has no principles, so there are no critique or revision prompts to show. Add an entry under principles.'
      : 'The selected principle has no prompts to show.';
  critique.update(p?.critique);
  revision.update(p?.revision);
  directRevision.update(p?.directRevision);

  const q = preview.comparison;
  comparisonGroup.hidden = false;
  comparisonHeading.textContent = q ? `AI feedback — comparison '${String(q.id)}'` : 'AI feedback';
  comparisonEmpty.hidden = comparisons.length > 0 && Boolean(q);
  comparisonEmpty.textContent =
    comparisons.length === 0
      ? 'This constitution has no comparisons, so there is no AI feedback prompt to show. Add an entry under comparisons.'
      : 'The selected comparison has no prompts to show.';
  comparison.update(q?.prompt);
  chainOfThought.update(q?.chainOfThought);
  continuations.update(q?.continuations);

  loading.hidden = true;
  setBusy(false);

  const next: PreviewPanelState = { uri: r.uri };
  if (typeof selected.principle === 'string') next.principle = selected.principle;
  if (typeof selected.comparison === 'string') next.comparison = selected.comparison;
  const conversation = isConversation(selected.conversation) ? selected.conversation : conversations[0];
  if (conversation) next.conversation = conversation;
  state = next;
  host.saveState(state);
}

function showError(message: string): void {
  errorBanner.textContent = message;
  errorBanner.hidden = false;
  loading.hidden = true;
  setBusy(false);
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const m = event.data;
  if (!isHostMessage(m)) return;
  try {
    if (m.type === MessageTypes.previewUpdate) update(m.payload);
    else showError(m.payload.message);
  } catch (e) {
    showError(`The preview could not be shown: ${(e as Error).message}`);
  }
});

// --- start -----------------------------------------------------------------------------------

const saved = vscode.getState();
if (isState(saved)) state = saved;
host.ready();
// A page that comes back (the panel was hidden, or the window reloaded) asks for its last
// selection again, so it never waits for content that the host sent to the page it replaced.
if (state) host.select({ principle: state.principle, comparison: state.comparison, conversation: state.conversation });
