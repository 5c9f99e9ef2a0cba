/**
 * DOM helpers for every panel. Everything a panel shows may be hostile (model output, prompts,
 * constitution text): it goes into the page as text nodes and attribute values only, never parsed
 * as markup, and no panel uses innerHTML, insertAdjacentHTML or document.write.
 */

export type Attrs = Record<string, string | number | boolean | undefined>;

/** An element with attributes and text or children; strings always go in as text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined | false)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

/** Replaces an element's children. */
export function setChildren(parent: Element, ...children: (Node | string | null | undefined | false)[]): void {
  parent.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing`);
  return e as T;
}

const numberFormat = new Intl.NumberFormat('en-US');
export const fmtInt = (n: number): string => numberFormat.format(n);
export const plural = (n: number, one: string, many = `${one}s`): string => `${fmtInt(n)} ${n === 1 ? one : many}`;

/** A number for a table cell: fixed digits, or '–' when missing or not finite. */
export function fmtNum(n: number | null | undefined, digits = 3): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a !== 0 && (a >= 1e5 || a < 10 ** -digits)) return n.toExponential(2);
  return n.toFixed(digits);
}

export const fmtPct = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined || !Number.isFinite(n) ? '–' : `${(n * 100).toFixed(digits)} %`);

/** Text cut to `max` characters with an ellipsis (for table cells; the full text stays in a title or detail view). */
export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * Makes invisible and direction-changing characters (zero-width spaces and joiners, bidi
 * overrides and isolates, the BOM) visible as ⟨U+XXXX⟩ marks, so hostile text cannot hide words
 * or reorder what a reviewer reads.
 */
export function revealInvisible(s: string): string {
  return s.replace(/[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

/** An element that reads as a live status to screen readers. */
export function statusLine(id: string): HTMLElement {
  return el('div', { id, role: 'status', 'aria-live': 'polite', class: 'status-line' });
}

/** A message shown in place of content (empty state or error), as text. */
export function notice(text: string, kind: 'info' | 'error' = 'info'): HTMLElement {
  return el('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'note' }, text);
}

/** Runs `fn` at most once per animation frame (for scroll and resize handlers). */
export function perFrame(fn: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  };
}

/** Characters of a text shown before "Show all" (a megabyte of text would stall the page's layout). */
export const SHOWN_CHARS = 4000;

/** Appends text (invisible characters revealed) to `target`, cut at `limit` characters with a button that shows the rest; `empty` stands in for no text. */
export function longText<T extends HTMLElement>(target: T, t: string, empty: string, limit = SHOWN_CHARS): T {
  if (t.length <= limit) {
    target.append(revealInvisible(t) || empty);
    return target;
  }
  const all = el('button', { type: 'button', class: 'link-button show-all' }, `Show all ${fmtInt(t.length)} characters`);
  all.addEventListener('click', () => setChildren(target, revealInvisible(t)));
  target.append(`${revealInvisible(t.slice(0, limit))}… `, all);
  return target;
}
