/**
 * A virtual scroller for long lists of fixed-height rows (100,000 pairs and more): only the rows
 * in view, plus a few either side, exist in the DOM. The viewport scrolls over a canvas as tall as
 * every row together; a small pool of row elements is positioned with CSSOM transforms (allowed
 * under the panels' CSP, unlike style attributes) and refilled as the view moves. Row `i` always
 * uses pool element `i % pool size`, so a scroll refills only the rows that came into view.
 */
import { perFrame } from './dom.js';

export interface VirtualListOptions {
  /** The scrolling element (fixed height, `overflow: auto`). */
  viewport: HTMLElement;
  /** Height of every row in CSS pixels (the stylesheet must give rows this height). */
  rowHeight: number;
  /** Makes an empty row element (called as the pool grows). */
  createRow(): HTMLElement;
  /** Fills a row element with row `index`. */
  renderRow(row: HTMLElement, index: number): void;
  /** Rows kept beyond each edge of the view (default 6). */
  overscan?: number;
  /** Called after each render with the first and last row index in view. */
  onRender?(first: number, last: number): void;
}

/** Browsers cap an element's height (Chromium near 33 million pixels); the canvas is scaled down beyond this. */
const MAX_CANVAS = 15_000_000;

export class VirtualList {
  readonly canvas: HTMLElement;
  private readonly pool: HTMLElement[] = [];
  /** The row index each pool element shows, or -1. */
  private shown: number[] = [];
  private count = 0;
  /** Canvas pixels per row pixel (< 1 only for lists taller than MAX_CANVAS). */
  private scale = 1;
  private readonly schedule: () => void;

  constructor(private readonly o: VirtualListOptions) {
    this.canvas = document.createElement('div');
    this.canvas.className = 'vlist-canvas';
    o.viewport.append(this.canvas);
    this.schedule = perFrame(() => this.render());
    o.viewport.addEventListener('scroll', this.schedule, { passive: true });
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(this.schedule).observe(o.viewport);
  }

  get length(): number {
    return this.count;
  }

  get rowHeight(): number {
    return this.o.rowHeight;
  }

  /** Rows that fit in the viewport. */
  get pageSize(): number {
    return Math.max(1, Math.floor(this.o.viewport.clientHeight / this.o.rowHeight));
  }

  /** Sets the number of rows and redraws every row in view (their data may have changed). */
  setCount(n: number): void {
    this.count = n;
    const full = n * this.o.rowHeight;
    this.scale = full > MAX_CANVAS ? MAX_CANVAS / full : 1;
    this.canvas.style.setProperty('height', `${Math.round(full * this.scale)}px`);
    this.refresh();
  }

  /** Redraws the rows in view now (data changed). */
  refresh(): void {
    this.shown.fill(-1);
    this.render();
  }

  /** Redraws at the next frame. */
  refreshSoon(): void {
    this.shown.fill(-1);
    this.schedule();
  }

  /** The canvas's scroll range, and the row range it maps to (they differ on a scaled canvas). */
  private ranges(): { maxScroll: number; maxTop: number } {
    const h = this.o.rowHeight;
    const client = this.o.viewport.clientHeight;
    return { maxScroll: Math.max(0, Math.round(this.count * h * this.scale) - client), maxTop: Math.max(0, this.count - client / h) };
  }

  /** Row position (fractional) at the viewport's top edge. */
  private topRow(): number {
    const st = this.o.viewport.scrollTop;
    if (this.scale === 1) return st / this.o.rowHeight;
    const { maxScroll, maxTop } = this.ranges();
    return maxScroll > 0 ? (st / maxScroll) * maxTop : 0;
  }

  private scrollToTop(top: number): void {
    if (this.scale === 1) this.o.viewport.scrollTop = Math.max(0, top * this.o.rowHeight);
    else {
      const { maxScroll, maxTop } = this.ranges();
      this.o.viewport.scrollTop = maxTop > 0 ? Math.max(0, (top / maxTop) * maxScroll) : 0;
    }
  }

  /** Scrolls so that row `index` is in view: only as far as needed, or centred. */
  scrollToIndex(index: number, align: 'nearest' | 'center' = 'nearest'): void {
    const rows = this.o.viewport.clientHeight / this.o.rowHeight;
    const top = this.topRow();
    let target = top;
    if (align === 'center') target = index - (rows - 1) / 2;
    else if (index < top) target = index;
    else if (index + 1 > top + rows) target = index + 1 - rows;
    if (Math.abs(target - top) > 1e-6) this.scrollToTop(Math.max(0, target));
    this.render();
  }

  /** Renders the rows in view (called per frame on scroll and resize). */
  render(): void {
    const h = this.o.rowHeight;
    const over = this.o.overscan ?? 6;
    // A viewport is never taller than the window; a momentarily unconstrained one must not grow the pool to every row.
    const height = Math.min(this.o.viewport.clientHeight, Math.max(window.innerHeight, 600));
    const visible = Math.ceil(height / h) + 1;
    const size = visible + 2 * over;
    while (this.pool.length < size) {
      const row = this.o.createRow();
      row.hidden = true;
      this.pool.push(row);
      this.shown.push(-1);
      this.canvas.append(row);
    }
    const scrollTop = this.o.viewport.scrollTop;
    const top = this.topRow();
    const first = Math.max(0, Math.floor(top) - over);
    const last = Math.min(this.count - 1, first + size - 1);
    const n = this.pool.length;
    // Pool elements not needed for rows first..last are hidden.
    for (let k = 0; k < n; k++) {
      const i = first + ((k - (first % n) + n) % n);
      const row = this.pool[k]!;
      if (i > last) {
        if (!row.hidden) row.hidden = true;
        this.shown[k] = -1;
        continue;
      }
      const fresh = this.shown[k] !== i;
      if (fresh) {
        this.o.renderRow(row, i);
        this.shown[k] = i;
      }
      // Rows sit at i × height; on a scaled canvas, at that distance from the row at the top edge.
      if (fresh || this.scale !== 1) row.style.setProperty('transform', `translateY(${this.scale === 1 ? i * h : Math.round(scrollTop + (i - top) * h)}px)`);
      if (row.hidden) row.hidden = false;
    }
    this.o.onRender?.(Math.floor(top), Math.min(this.count - 1, Math.floor(top) + visible - 1));
  }

  /** The pool element showing row `index`, if it is rendered. */
  rowElement(index: number): HTMLElement | undefined {
    const n = this.pool.length;
    if (n === 0) return undefined;
    const k = index % n;
    return this.shown[k] === index ? this.pool[k] : undefined;
  }
}

/**
 * The row a list's navigation key moves the selection to, from row `at` (−1: none selected):
 * arrows by one, Page Up/Down by `page` rows, Home and End to the first and `last` row; undefined
 * for any other key. The caller clamps the row to the list.
 */
export function navigationTarget(key: string, at: number, page: number, last: number): number | undefined {
  switch (key) {
    case 'ArrowDown':
      return at + 1;
    case 'ArrowUp':
      return at < 0 ? 0 : at - 1;
    case 'PageDown':
      return at + page;
    case 'PageUp':
      return at - page;
    case 'Home':
      return 0;
    case 'End':
      return last;
    default:
      return undefined;
  }
}
