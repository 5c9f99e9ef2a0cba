/**
 * A thin wrapper around uPlot for the curves and preference-model pages: colours from VS Code's
 * theme (the --vscode-charts-* variables, read with getComputedStyle, so light, dark and high
 * contrast all work and a theme change redraws), width that follows the container, a cursor that
 * reports the hovered index (for a readout the page builds as text) and moves with the arrow keys,
 * vertical markers, and PNG export through a canvas.
 *
 * uPlot draws on canvas and writes labels with textContent; its own legend is off (the pages build
 * theirs with el()), so no data string is ever parsed as markup.
 */
import uPlot from 'uplot';

export type AlignedData = uPlot.AlignedData;

// --- theme -----------------------------------------------------------------------------------

export interface ChartTheme {
  fg: string;
  muted: string;
  grid: string;
  bg: string;
  /** Series colours, in order: blue, orange, green, purple, red, yellow. */
  palette: string[];
  font: string;
  highContrast: boolean;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v || fallback;
}

export function readTheme(): ChartTheme {
  const s = getComputedStyle(document.documentElement);
  const fg = cssVar(s, '--vscode-charts-foreground', cssVar(s, '--vscode-foreground', '#808080'));
  const family = cssVar(s, '--vscode-font-family', 'sans-serif');
  return {
    fg,
    muted: cssVar(s, '--vscode-descriptionForeground', fg),
    grid: cssVar(s, '--vscode-charts-lines', withAlpha(fg, 0.3)),
    bg: cssVar(s, '--vscode-editor-background', '#ffffff'),
    palette: ['blue', 'orange', 'green', 'purple', 'red', 'yellow'].map((c) => cssVar(s, `--vscode-charts-${c}`, fg)),
    font: family,
    highContrast: document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light'),
  };
}

let probe: CanvasRenderingContext2D | null | undefined;

/** A colour with an alpha channel (any CSS colour the canvas understands). */
export function withAlpha(color: string, alpha: number): string {
  probe ??= document.createElement('canvas').getContext('2d');
  let c = color.trim();
  if (probe) {
    probe.fillStyle = '#000000';
    probe.fillStyle = c;
    c = String(probe.fillStyle);
  }
  const a = Math.max(0, Math.min(1, alpha));
  const hex = /^#([0-9a-f]{6})$/i.exec(c);
  if (hex) {
    const v = parseInt(hex[1]!, 16);
    return `rgba(${(v >> 16) & 255}, ${(v >> 8) & 255}, ${v & 255}, ${a})`;
  }
  const rgba = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$/.exec(c);
  if (rgba) return `rgba(${rgba[1]}, ${rgba[2]}, ${rgba[3]}, ${a * (rgba[4] === undefined ? 1 : Number(rgba[4]))})`;
  return c;
}

/**
 * A chart's value readout speaks to screen readers only while the chart has the keyboard focus
 * (moving the mouse over a chart would otherwise flood them).
 */
export function announceWhileFocused(chartBox: HTMLElement, readout: HTMLElement): void {
  readout.setAttribute('aria-live', 'off');
  chartBox.addEventListener('focusin', () => readout.setAttribute('aria-live', 'polite'));
  chartBox.addEventListener('focusout', () => readout.setAttribute('aria-live', 'off'));
}

/** Calls `fn` (once per frame) when VS Code switches theme: it rewrites <html>'s style and <body>'s class. */
export function onThemeChange(fn: () => void): () => void {
  let pending = false;
  const run = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  };
  const mo = new MutationObserver(run);
  mo.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  mo.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  return () => mo.disconnect();
}

// --- charts ----------------------------------------------------------------------------------

export interface LineSpec {
  label: string;
  color: string;
  /** line: the main curve; faint: thin and pale (raw values behind a smoothed curve); dashed; points: markers only; hidden: not drawn (a band's edge). */
  style: 'line' | 'faint' | 'dashed' | 'points' | 'hidden';
  width?: number;
  /** Marker size in CSS pixels for `points`. */
  pointSize?: number;
}

export interface ChartSpec {
  /** What a screen reader hears for the chart. */
  ariaLabel: string;
  xLabel?: string;
  yLabel?: string;
  height: number;
  lines: LineSpec[];
  /** Filled areas between two lines (indices into `lines`). */
  bands?: { upper: number; lower: number; color: string }[];
  xRange?: [number, number];
  yRange?: [number, number];
  /** Charts with the same key move their cursors together (by x value). */
  syncKey?: string;
  /** Vertical lines with a label (e.g. where a training phase starts). */
  markers?: { x: number; label: string }[];
  /** The hovered data index, or null when the cursor leaves. */
  onCursor?: (idx: number | null) => void;
  formatX?: (v: number) => string;
  formatY?: (v: number) => string;
}

const MIN_WIDTH = 160;

export function compactNumber(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toPrecision(4));
}

export class Chart {
  private u: uPlot;
  private readonly ro: ResizeObserver;
  private markers: { x: number; label: string }[];
  /** The index the keyboard put the cursor on: points a pixel apart are still told apart. */
  private forced: number | undefined;
  private current: number | null = null;

  constructor(
    readonly container: HTMLElement,
    private spec: ChartSpec,
    data: AlignedData,
    private theme: ChartTheme,
  ) {
    this.markers = spec.markers ?? [];
    container.classList.add('chart');
    container.tabIndex = 0;
    container.setAttribute('role', 'img');
    container.setAttribute('aria-label', spec.ariaLabel);
    container.setAttribute('aria-roledescription', 'chart');
    this.u = new uPlot(this.options(), data, container);
    container.addEventListener('keydown', (e) => this.key(e));
    container.addEventListener('blur', () => this.u.setCursor({ left: -10, top: -10 }));
    let lastWidth = this.width();
    this.ro = new ResizeObserver((entries) => {
      // the observed size, not clientWidth: reading layout here would force a reflow per chart
      const w = Math.max(MIN_WIDTH, Math.floor(entries[0]?.contentRect.width ?? lastWidth));
      if (w !== lastWidth) {
        lastWidth = w;
        this.u.setSize({ width: w, height: this.spec.height });
      }
    });
    this.ro.observe(container);
  }

  private width(): number {
    return Math.max(MIN_WIDTH, Math.floor(this.container.clientWidth || 400));
  }

  private options(): uPlot.Options {
    const t = this.theme;
    const s = this.spec;
    const font = `11px ${t.font}`;
    const labelFont = `12px ${t.font}`;
    const grid = { stroke: withAlpha(t.grid, t.highContrast ? 0.6 : 0.35), width: 1 };
    const fmt = (f: ((v: number) => string) | undefined) => (_u: uPlot, vals: number[]) => vals.map((v) => (v === null || v === undefined ? '' : (f ?? compactNumber)(v)));
    const series: uPlot.Series[] = [{ label: s.xLabel ?? 'x' }];
    for (const l of s.lines) {
      const faint = l.style === 'faint';
      const ser: uPlot.Series = {
        label: l.label,
        stroke: l.style === 'hidden' ? 'transparent' : faint ? withAlpha(l.color, t.highContrast ? 0.5 : 0.3) : l.color,
        width: l.style === 'hidden' ? 0 : (l.width ?? (faint ? 1 : 1.75)),
        spanGaps: true,
        points: { show: l.style === 'points' ? true : l.style === 'line' ? (u: uPlot, si: number) => pointsWhenFew(u, si) : false, size: l.pointSize ?? 5, fill: l.color, stroke: l.color },
      };
      if (l.style === 'dashed') ser.dash = [5, 4];
      if (l.style === 'points') ser.paths = () => null;
      series.push(ser);
    }
    const opts: uPlot.Options = {
      width: this.width(),
      height: s.height,
      series,
      legend: { show: false },
      scales: {
        x: { time: false, range: s.xRange ?? ((_u, min, max) => padRange(min, max, 0)) },
        y: s.yRange ? { range: s.yRange } : { range: (_u, min, max) => padRange(min, max) },
      },
      axes: [
        { stroke: t.fg, font, labelFont, grid, ticks: grid, values: fmt(s.formatX), ...(s.xLabel ? { label: s.xLabel, labelSize: 18 } : {}), size: 30 },
        { stroke: t.fg, font, labelFont, grid, ticks: grid, values: fmt(s.formatY), size: axisSize, ...(s.yLabel ? { label: s.yLabel, labelSize: 18 } : {}) },
      ],
      cursor: {
        ...(s.syncKey ? { sync: { key: s.syncKey, setSeries: false } } : {}),
        points: { size: 6 },
        drag: { x: true, y: false, setScale: true },
        focus: { prox: -1 },
      },
      hooks: {
        setCursor: [
          (u) => {
            this.current = this.forced ?? u.cursor.idx ?? null;
            s.onCursor?.(this.current);
          },
        ],
        draw: [(u) => this.drawMarkers(u)],
      },
    };
    if (s.bands?.length) opts.bands = s.bands.map((b) => ({ series: [b.upper + 1, b.lower + 1], fill: withAlpha(b.color, t.highContrast ? 0.25 : 0.14) }));
    return opts;
  }

  private drawMarkers(u: uPlot): void {
    if (!this.markers.length) return;
    const ctx = u.ctx;
    const dpr = uPlot.pxRatio;
    ctx.save();
    ctx.strokeStyle = this.theme.muted;
    ctx.fillStyle = this.theme.muted;
    ctx.setLineDash([3 * dpr, 3 * dpr]);
    ctx.lineWidth = dpr;
    ctx.font = `${10 * dpr}px ${this.theme.font}`;
    ctx.textBaseline = 'top';
    for (const m of this.markers) {
      const x = Math.round(u.valToPos(m.x, 'x', true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillText(m.label.length > 24 ? `${m.label.slice(0, 23)}…` : m.label, x + 3 * dpr, u.bbox.top + 2 * dpr);
    }
    ctx.restore();
  }

  private key(e: KeyboardEvent): void {
    const n = this.u.data[0].length;
    if (!n) return;
    const cur = this.current;
    let idx: number | undefined;
    const stepBy = e.shiftKey ? Math.max(1, Math.round(n / 20)) : 1;
    if (e.key === 'ArrowRight') idx = cur === null || cur === undefined ? 0 : Math.min(n - 1, cur + stepBy);
    else if (e.key === 'ArrowLeft') idx = cur === null || cur === undefined ? n - 1 : Math.max(0, cur - stepBy);
    else if (e.key === 'Home') idx = 0;
    else if (e.key === 'End') idx = n - 1;
    else if (e.key === 'Escape') {
      this.u.setCursor({ left: -10, top: -10 });
      return;
    } else return;
    e.preventDefault();
    this.showIndex(idx);
  }

  /** Puts the cursor on a data index (as hovering it would). */
  showIndex(idx: number): void {
    const x = this.u.data[0][idx];
    if (x === undefined || x === null) return;
    let top = this.u.bbox.height / uPlot.pxRatio / 2;
    for (let si = 1; si < this.u.data.length; si++) {
      const y = this.u.data[si]![idx];
      if (y !== null && y !== undefined && this.spec.lines[si - 1]?.style !== 'hidden') {
        top = this.u.valToPos(y, 'y');
        break;
      }
    }
    this.forced = idx;
    try {
      this.u.setCursor({ left: this.u.valToPos(x, 'x'), top });
    } finally {
      this.forced = undefined;
    }
  }

  get data(): AlignedData {
    return this.u.data;
  }

  get cursorIndex(): number | null {
    return this.current;
  }

  /** New data for the same lines (scales fit the new data unless the user zoomed). */
  setData(data: AlignedData): void {
    this.u.setData(data, true);
  }

  setMarkers(markers: { x: number; label: string }[]): void {
    this.markers = markers;
    this.u.redraw(false, false);
  }

  setAriaLabel(label: string): void {
    this.container.setAttribute('aria-label', label);
  }

  /** The chart with a title and a legend on the theme's background, as a PNG data URL. */
  png(title: string, legend: { label: string; color: string }[]): string {
    const t = this.theme;
    const dpr = uPlot.pxRatio;
    const src = this.u.ctx.canvas;
    const pad = 10 * dpr;
    const titleH = 22 * dpr;
    const lineH = 18 * dpr;
    const c = document.createElement('canvas');
    const ctx = c.getContext('2d');
    if (!ctx) throw new Error('no canvas');
    c.width = src.width + 2 * pad;
    // lay the legend out first to know its height
    ctx.font = `${12 * dpr}px ${t.font}`;
    const items: { x: number; y: number; label: string; color: string }[] = [];
    let x = pad;
    let y = 0;
    for (const l of legend) {
      const label = l.label.length > 60 ? `${l.label.slice(0, 59)}…` : l.label;
      const w = 14 * dpr + ctx.measureText(label).width + 14 * dpr;
      if (x + w > c.width - pad && x > pad) {
        x = pad;
        y += lineH;
      }
      items.push({ x, y, label, color: l.color });
      x += w;
    }
    const legendH = legend.length ? y + lineH + 4 * dpr : 0;
    c.height = pad + titleH + src.height + legendH + pad;
    ctx.fillStyle = t.bg;
    ctx.fillRect(0, 0, c.width, c.height);
    ctx.fillStyle = t.fg;
    ctx.textBaseline = 'top';
    ctx.font = `600 ${13 * dpr}px ${t.font}`;
    ctx.fillText(title.length > 120 ? `${title.slice(0, 119)}…` : title, pad, pad);
    ctx.drawImage(src, pad, pad + titleH);
    ctx.font = `${12 * dpr}px ${t.font}`;
    const top = pad + titleH + src.height + 4 * dpr;
    for (const it of items) {
      ctx.fillStyle = it.color;
      ctx.fillRect(it.x, top + it.y + 3 * dpr, 10 * dpr, 10 * dpr);
      ctx.fillStyle = t.fg;
      ctx.fillText(it.label, it.x + 14 * dpr, top + it.y + 1 * dpr);
    }
    return c.toDataURL('image/png');
  }

  destroy(): void {
    this.ro.disconnect();
    this.u.destroy();
  }
}

/** Room for the y axis' longest tick label (11px font: about 6.5px a character). */
function axisSize(_u: uPlot, values: string[] | null): number {
  const longest = (values ?? []).reduce((n, v) => Math.max(n, String(v ?? '').length), 0);
  return Math.max(32, Math.ceil(longest * 6.5) + 14);
}

/** Points on a line only when there are few enough to see apart (and always for a lone point). */
function pointsWhenFew(u: uPlot, si: number): boolean {
  const col = u.data[si];
  if (!col) return false;
  let n = 0;
  for (const v of col) if (v !== null && v !== undefined && ++n > 30) return false;
  return true;
}

/**
 * A y range with a little room. A flat series, or one whose values differ only by rounding
 * (a smoothed constant: 3 and 3.0000000000000004), gets a sensible span: a span of a few ulps
 * would make the axis ask for billions of ticks.
 */
export function padRange(min: number | null, max: number | null, pad = 0.06): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const mag = Math.max(Math.abs(min), Math.abs(max));
  if (max - min <= mag * 1e-9 || max - min < 1e-200) {
    const mid = (min + max) / 2;
    const d = mag * 0.1 || 1;
    return [mid - d, mid + d];
  }
  const d = (max - min) * pad;
  return [min - d, max + d];
}

/** The nearest index to `idx` where `col` has a value (looking at most `reach` places each way). */
export function nearestValue(col: ArrayLike<number | null | undefined>, idx: number, reach = 1_000_000): number | undefined {
  for (let d = 0; d <= reach; d++) {
    const a = idx - d;
    const b = idx + d;
    if (a < 0 && b >= col.length) return undefined;
    if (a >= 0 && col[a] !== null && col[a] !== undefined) return a;
    if (b < col.length && col[b] !== null && col[b] !== undefined) return b;
  }
  return undefined;
}

/** A safe part of a file name made from any text (a run or metric name). */
export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'chart';
}
