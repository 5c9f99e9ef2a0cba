/**
 * The detail view of one pair: the label's numbers (P(A) in each order, the averaged soft label,
 * the clamp, the labeller), the review buttons, the prompt, both responses side by side with a
 * word diff, and the chain of thought. Every text is model output or a prompt: it goes in as text
 * nodes, with invisible and direction-changing characters made visible.
 */
import { diffWordsWithSpace } from 'diff';
import { chosenSide, confidence, orderGap, orderOutcome, reviewedP, type PairRow, type ReviewDecision, type ReviewStatus } from '../../src/core/runs/pairs.js';
import type { PairRecord } from '../../src/core/runs/records.js';
import type { PairsRunInfo } from '../../src/protocol/panels/pairs.js';
import { el, fmtNum, notice, revealInvisible } from '../shared/dom.js';

/** A probability with three decimals ('–' when missing). */
export const fmtP = (p: number | null | undefined): string => (typeof p === 'number' && Number.isFinite(p) ? p.toFixed(3) : '–');

/** Longest pair of responses given a word diff (longer ones are shown as plain text). */
export const MAX_DIFF_CHARS = 60_000;

export interface WordDiff {
  a: Node[];
  b: Node[];
  /** Words changed on each side (for the summary line). */
  removed: number;
  added: number;
}

const words = (s: string) => (s.match(/\S+/g) ?? []).length;

/**
 * The two responses as text with the words only in A marked `diff-del` and the words only in B
 * marked `diff-ins`; undefined when they are too long, or the diff takes too long.
 */
export function wordDiff(a: string, b: string): WordDiff | undefined {
  if (a.length + b.length > MAX_DIFF_CHARS) return undefined;
  // With whitespace as tokens every part is verbatim text of its side, so each column reads exactly as written.
  const parts = diffWordsWithSpace(a, b, { timeout: 300 });
  if (!parts) return undefined;
  const out: WordDiff = { a: [], b: [], removed: 0, added: 0 };
  for (const p of parts) {
    const text = revealInvisible(p.value);
    if (p.added) {
      out.b.push(el('span', { class: 'diff-ins' }, text));
      out.added += words(p.value);
    } else if (p.removed) {
      out.a.push(el('span', { class: 'diff-del' }, text));
      out.removed += words(p.value);
    } else {
      out.a.push(document.createTextNode(text));
      out.b.push(document.createTextNode(text));
    }
  }
  return out;
}

/** Characters of one text shown at first; the rest is a click away (laying out megabytes of text stalls the page). */
export const MAX_SHOWN = 50_000;

/** A text block of model output or prompt: shown as text, long ones cut with a button to show the rest. */
export function textBlock(cls: string, text: string, nodes?: Node[]): HTMLElement {
  const block = el('div', { class: `text-block ${cls}` });
  if (nodes) {
    block.append(...nodes);
    return block;
  }
  if (text.length <= MAX_SHOWN) {
    block.append(revealInvisible(text));
    return block;
  }
  const more = el('button', { type: 'button', class: 'secondary show-all' }, `Show all ${new Intl.NumberFormat('en-US').format(text.length)} characters`);
  more.addEventListener('click', () => block.replaceChildren(revealInvisible(text)));
  block.append(revealInvisible(text.slice(0, MAX_SHOWN)), el('span', { class: 'cut-mark' }, ` … (${new Intl.NumberFormat('en-US').format(text.length - MAX_SHOWN)} more characters) `), more);
  return block;
}

export const DECISION_KEYS: Record<ReviewStatus | 'clear', string> = { accept: 'a', flip: 'f', flag: 'x', clear: 'u' };
export const STATUS_TEXT: Record<ReviewStatus, string> = { accept: 'Accepted', flip: 'Label flipped', flag: 'Flagged' };
export const ORDER_TEXT = { flipped: 'flipped', same: 'same letter', 'one-order': 'one order' } as const;
export const ORDER_TITLE = {
  flipped: 'Both orders preferred the same response: the preferred position changed when the responses were swapped.',
  same: 'The labeller answered the same letter in both orders (position bias).',
  'one-order': 'Only one order was asked.',
} as const;

export interface DetailActions {
  review(decision: ReviewDecision): void;
  close(): void;
}

/** What the detail view shows; `pair` is missing while the host reads it. */
export interface DetailInput {
  run: PairsRunInfo | undefined;
  row: PairRow;
  position: number;
  status: ReviewStatus | undefined;
  pair: PairRecord | undefined;
  error: string | undefined;
}

/**
 * Renders the detail view into `root`. The body (texts and diff) is built once per pair and kept
 * while only the review status changes.
 */
export class DetailView {
  private bodyFor: string | undefined;
  private body: HTMLElement | undefined;
  private readonly head = el('div', { class: 'detail-head' });
  private readonly factsSlot = el('div', { class: 'detail-facts' });
  private readonly barSlot = el('div');
  private readonly bodySlot = el('div', { class: 'detail-body-slot' });

  constructor(
    private readonly root: HTMLElement,
    private readonly actions: DetailActions,
  ) {}

  clear(message?: string): void {
    this.bodyFor = undefined;
    this.body = undefined;
    this.root.replaceChildren(...(message ? [notice(message)] : []));
  }

  render(d: DetailInput): void {
    const { row, status } = d;
    // Focus inside the parts redrawn here comes back to the same control afterwards.
    const focused = document.activeElement;
    const active = focused instanceof HTMLElement && this.root.contains(focused) ? focused.dataset['focus'] : undefined;
    const heading = el('h2', { id: 'detail-heading', tabindex: -1, 'data-focus': 'heading' }, `Pair ${d.position + 1}`);
    const close = el('button', { class: 'secondary icon-button', type: 'button', 'aria-label': 'Close the detail view', title: 'Close', 'data-focus': 'close' }, '×');
    close.addEventListener('click', () => this.actions.close());
    this.head.replaceChildren(heading, el('code', { class: 'pair-id', title: 'Pair id' }, revealInvisible(row.id.length > 200 ? `${row.id.slice(0, 199)}…` : row.id)), close);
    this.factsSlot.replaceChildren(this.facts(d));
    this.barSlot.replaceChildren(this.reviewBar(status));

    let body: HTMLElement;
    if (d.error) body = notice(d.error, 'error');
    else if (!d.pair) body = el('p', { class: 'muted', role: 'status' }, 'Reading the pair…');
    else {
      if (this.bodyFor !== d.pair.id || !this.body) {
        this.body = this.textBody(d.pair);
        this.bodyFor = d.pair.id;
      }
      body = this.body;
      this.markSides(body, row, status);
    }
    // The body is kept in place when it is the same (a reader's scroll position and focus stay).
    if (this.bodySlot.firstChild !== body) this.bodySlot.replaceChildren(body);
    if (this.root.firstChild !== this.head) this.root.replaceChildren(this.head, this.factsSlot, this.barSlot, this.bodySlot);
    if (active) this.root.querySelector<HTMLElement>(`[data-focus="${active}"]`)?.focus({ preventScroll: true });
  }

  focusHeading(): void {
    this.root.querySelector<HTMLElement>('#detail-heading')?.focus();
  }

  private facts(d: DetailInput): HTMLElement {
    const { row, run, status } = d;
    const conf = confidence(row.p_a);
    const side = chosenSide(row.p_a, status);
    const outcome = orderOutcome(row);
    const items: [string, string | Node, string?][] = [
      ['Principle', revealInvisible(row.principle) || '–'],
      ['P(A), A shown first', fmtP(row.p_a_forward)],
      ['P(A), A shown second', row.p_a_reversed === null ? 'not asked' : fmtP(row.p_a_reversed)],
      ['Soft label P(A)', `${fmtP(row.p_a)}${row.p_a_reversed !== null ? ' (mean of both orders)' : ''}`],
      ['Preferred', side === 'tie' ? 'neither (0.5)' : `${side} (confidence ${fmtP(conf)})`],
      ['Orders', `${ORDER_TEXT[outcome]}${outcome !== 'one-order' ? `, gap ${fmtP(orderGap(row))}` : ''}`, ORDER_TITLE[outcome]],
      ['Label method', revealInvisible(row.label_method) || '–'],
      ['Clamp', row.label_method === 'cot' ? (run?.clamp ? `[${fmtNum(run.clamp[0], 2)}, ${fmtNum(run.clamp[1], 2)}]${row.clamped ? ', label on a bound' : ''}` : 'chain of thought, range unknown') : 'none (not chain of thought)'],
      ['Labeller', run?.labeller ? revealInvisible(run.labeller) : 'unknown'],
    ];
    if (status === 'flip') items.splice(4, 0, ['Reviewed label P(A)', fmtP(reviewedP(row.p_a, status))]);
    const dl = el('dl', { class: 'facts' });
    for (const [k, v, title] of items) dl.append(el('dt', {}, k), el('dd', title ? { title } : {}, v));
    return dl;
  }

  private reviewBar(status: ReviewStatus | undefined): HTMLElement {
    const bar = el('div', { class: 'review-bar', role: 'group', 'aria-label': 'Review this label' });
    const state = el('span', { class: `review-state${status ? ` review-${status}` : ''}`, role: 'status' }, status ? STATUS_TEXT[status] : 'Not reviewed');
    bar.append(el('span', { class: 'muted' }, 'Review:'), state);
    const buttons: [ReviewDecision, string, string][] = [
      ['accept', 'Accept', 'The AI label is right'],
      ['flip', 'Flip', 'The other response is better: swap chosen and rejected'],
      ['flag', 'Flag', 'Leave this pair out of the exported dataset'],
      ['clear', 'Clear', 'Withdraw the review'],
    ];
    for (const [decision, label, title] of buttons) {
      const key = DECISION_KEYS[decision];
      const b = el(
        'button',
        {
          type: 'button',
          class: decision === 'clear' ? 'secondary' : status === decision ? '' : 'secondary',
          'aria-keyshortcuts': key,
          'aria-pressed': decision === 'clear' ? undefined : String(status === decision),
          title: `${title} (${key.toUpperCase()})`,
          disabled: decision === 'clear' && status === undefined,
          'data-focus': decision,
        },
        label,
        el('kbd', {}, key.toUpperCase()),
      );
      b.addEventListener('click', () => this.actions.review(decision));
      bar.append(b);
    }
    return bar;
  }

  private textBody(p: PairRecord): HTMLElement {
    const diff = wordDiff(p.response_a, p.response_b);
    const column = (side: 'A' | 'B', text: string, nodes: Node[] | undefined) =>
      el(
        'section',
        { class: 'response', 'aria-label': `Response ${side}` },
        el('h3', {}, `Response ${side} `, el('span', { class: 'side-badge', 'data-side': side })),
        textBlock('response-text', text, nodes),
      );
    const body = el(
      'div',
      { class: 'detail-body' },
      el('h3', {}, 'Prompt'),
      textBlock('prompt-text', p.prompt),
      el(
        'p',
        { class: 'muted diff-legend' },
        diff
          ? diff.added + diff.removed === 0
            ? 'The responses are the same word for word.'
            : `Word diff: ${diff.removed} words only in A (marked in A), ${diff.added} only in B (marked in B).`
          : 'The responses are too long for a word diff; shown as written.',
      ),
      el('div', { class: 'responses' }, column('A', p.response_a, diff?.a), column('B', p.response_b, diff?.b)),
    );
    if (p.reasoning) body.append(el('details', { class: 'reasoning', open: true }, el('summary', {}, 'Chain of thought'), textBlock('reasoning-text', p.reasoning)));
    return body;
  }

  /** Writes chosen / rejected on the response headings for the (reviewed) label. */
  private markSides(body: HTMLElement, row: PairRow, status: ReviewStatus | undefined): void {
    const side = chosenSide(row.p_a, status);
    for (const badge of body.querySelectorAll<HTMLElement>('.side-badge')) {
      const s = badge.dataset['side'];
      const text = side === 'tie' ? 'tie' : s === side ? 'chosen' : 'rejected';
      badge.textContent = status === 'flip' && side !== 'tie' ? `${text} (flipped in review)` : text;
      badge.className = `side-badge side-${text === 'tie' ? 'tie' : s === side ? 'chosen' : 'rejected'}`;
    }
  }
}
