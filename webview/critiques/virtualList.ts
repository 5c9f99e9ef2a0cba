/**
 * A keyboard-navigable list box that renders only the rows in view (fixed row height), so a list
 * of 100,000 prompts scrolls and filters without building 100,000 elements. Selection follows
 * focus: arrows, Page Up/Down, Home and End move it, Enter activates; the list keeps
 * aria-activedescendant on the selected row and tells screen readers each row's position.
 */
import { el, perFrame } from '../shared/dom.js';
import { navigationTarget } from '../shared/virtualList.js';

export interface VirtualListOptions<T> {
  /** The scrolling element; becomes the list box. */
  container: HTMLElement;
  /** Row height in CSS pixels (the stylesheet must give rows the same height). */
  rowHeight: number;
  /** Builds one row's content (text only). */
  render: (item: T, index: number) => Node;
  onSelect: (item: T, index: number) => void;
  onActivate?: (item: T, index: number) => void;
  /** Rows rendered above and below the visible ones. */
  overscan?: number;
}

export class VirtualList<T> {
  private items: readonly T[] = [];
  private selected = -1;
  private readonly spacer: HTMLElement;
  private rendered = new Map<number, HTMLElement>();
  private readonly overscan: number;
  private readonly schedule: () => void;

  constructor(private readonly o: VirtualListOptions<T>) {
    this.overscan = o.overscan ?? 8;
    const c = o.container;
    c.setAttribute('role', 'listbox');
    c.setAttribute('tabindex', '0');
    c.classList.add('vlist');
    this.spacer = el('div', { class: 'vlist-spacer', role: 'presentation' });
    c.append(this.spacer);
    this.schedule = perFrame(() => this.paint());
    c.addEventListener('scroll', this.schedule, { passive: true });
    new ResizeObserver(this.schedule).observe(c);
    c.addEventListener('keydown', (e) => this.key(e));
    c.addEventListener('click', (e) => {
      const row = (e.target as Element).closest<HTMLElement>('.vrow');
      if (!row) return;
      const i = Number(row.dataset['index']);
      if (Number.isInteger(i)) this.select(i, { scroll: false });
    });
    c.addEventListener('dblclick', (e) => {
      const row = (e.target as Element).closest<HTMLElement>('.vrow');
      const i = Number(row?.dataset['index']);
      const item = this.items[i];
      if (row && item !== undefined) this.o.onActivate?.(item, i);
    });
  }

  get length(): number {
    return this.items.length;
  }

  get selectedIndex(): number {
    return this.selected;
  }

  /** Replaces the items; `selected` is the index to keep selected (−1: none). Does not call onSelect. */
  setItems(items: readonly T[], selected = -1): void {
    this.items = items;
    this.selected = selected < items.length ? selected : -1;
    this.spacer.style.setProperty('height', `${items.length * this.o.rowHeight}px`);
    for (const r of this.rendered.values()) r.remove();
    this.rendered.clear();
    this.paint();
  }

  /** Items were appended to the same array (live rows): grows the list without re-rendering it. */
  grew(items: readonly T[]): void {
    this.items = items;
    this.spacer.style.setProperty('height', `${items.length * this.o.rowHeight}px`);
    for (const r of this.rendered.values()) r.setAttribute('aria-setsize', String(items.length));
    this.paint();
  }

  select(index: number, o: { scroll?: boolean; silent?: boolean } = {}): void {
    if (this.items.length === 0) return;
    const i = Math.max(0, Math.min(this.items.length - 1, index));
    const prev = this.rendered.get(this.selected);
    prev?.setAttribute('aria-selected', 'false');
    this.selected = i;
    if (o.scroll !== false) this.scrollTo(i);
    this.paint();
    if (!o.silent) this.o.onSelect(this.items[i]!, i);
  }

  private scrollTo(i: number): void {
    const c = this.o.container;
    const top = i * this.o.rowHeight;
    if (top < c.scrollTop) c.scrollTop = top;
    else if (top + this.o.rowHeight > c.scrollTop + c.clientHeight) c.scrollTop = top + this.o.rowHeight - c.clientHeight;
  }

  private pageRows(): number {
    return Math.max(1, Math.floor(this.o.container.clientHeight / this.o.rowHeight) - 1);
  }

  private key(e: KeyboardEvent): void {
    const n = this.items.length;
    if (n === 0) return;
    const cur = this.selected < 0 ? -1 : this.selected;
    if (e.key === 'Enter' || e.key === ' ') {
      if (cur >= 0) this.o.onActivate?.(this.items[cur]!, cur);
      e.preventDefault();
      return;
    }
    const next = navigationTarget(e.key, cur, this.pageRows(), n - 1);
    if (next === undefined) return;
    e.preventDefault();
    this.select(next);
  }

  /** Renders the rows in view (plus overscan), reusing those already there. */
  private paint(): void {
    const c = this.o.container;
    const h = this.o.rowHeight;
    const n = this.items.length;
    const first = Math.max(0, Math.floor(c.scrollTop / h) - this.overscan);
    const last = Math.min(n - 1, Math.ceil((c.scrollTop + Math.max(c.clientHeight, h)) / h) + this.overscan);
    for (const [i, r] of this.rendered) {
      if (i < first || i > last) {
        r.remove();
        this.rendered.delete(i);
      }
    }
    for (let i = first; i <= last; i++) {
      let r = this.rendered.get(i);
      if (!r) {
        r = el('div', { class: 'vrow', role: 'option', id: `vrow-${i}`, 'data-index': i, 'aria-posinset': i + 1, 'aria-setsize': n }, this.o.render(this.items[i]!, i));
        r.style.setProperty('top', `${i * h}px`);
        this.spacer.append(r);
        this.rendered.set(i, r);
      }
      r.setAttribute('aria-selected', i === this.selected ? 'true' : 'false');
    }
    if (this.selected >= 0 && this.rendered.has(this.selected)) c.setAttribute('aria-activedescendant', `vrow-${this.selected}`);
    else c.removeAttribute('aria-activedescendant');
  }
}
