/**
 * Training curves as the chart panels draw them (webview/curves and webview/pmreport): each
 * series smoothed with the debiased EMA, its raw values faint behind it and a band of their
 * recent minimum and maximum around it; the readout's values; the colour swatches.
 */
import { alignSeries, smooth, type Series } from '../../src/core/runs/metrics.js';
import { nearestValue, type AlignedData, type ChartSpec, type LineSpec } from './chart.js';
import { el } from './dom.js';

/** One curve to draw. */
export interface Curve {
  label: string;
  color: string;
  series: Series;
}

/** Data columns per curve: smoothed, raw, max and min when smoothing; the raw values alone when not. */
const columnsPerCurve = (beta: number): number => (beta > 0 ? 4 : 1);

/** A chart's data, lines and bands for these curves, smoothed with weight `beta` (0: raw). */
export function smoothedCurves(curves: readonly Curve[], beta: number): { data: AlignedData; lines: LineSpec[]; bands: NonNullable<ChartSpec['bands']> } {
  const parts: { x: number[]; ys: number[][] }[] = [];
  const lines: LineSpec[] = [];
  const bands: NonNullable<ChartSpec['bands']> = [];
  for (const { label, color, series: s } of curves) {
    if (beta > 0) {
      const sm = smooth(s.y, beta);
      parts.push({ x: s.x, ys: [sm.smoothed, s.y, sm.max, sm.min] });
      const base = lines.length;
      lines.push({ label, color, style: 'line' }, { label: `${label} (raw)`, color, style: 'faint' }, { label: 'max', color, style: 'hidden' }, { label: 'min', color, style: 'hidden' });
      bands.push({ upper: base + 2, lower: base + 3, color });
    } else {
      parts.push({ x: s.x, ys: [s.y] });
      lines.push({ label, color, style: 'line' });
    }
  }
  const aligned = alignSeries(parts);
  return { data: [aligned.x, ...aligned.ys] as unknown as AlignedData, lines, bands };
}

/**
 * Curve `i`'s value at data index `idx` of `smoothedCurves`' data, or at the nearest point it has
 * (`at`): the value drawn, and the raw value when smoothed. Undefined when the curve has none.
 */
export function curveValueAt(data: AlignedData, i: number, idx: number, beta: number): { at: number; value: number | null | undefined; raw: number | null | undefined } | undefined {
  const per = columnsPerCurve(beta);
  const col = data[1 + i * per] as (number | null)[];
  const at = nearestValue(col, idx);
  if (at === undefined) return undefined;
  return { at, value: col[at], raw: per > 1 ? (data[2 + i * per] as (number | null)[])[at] : undefined };
}

/** A colour swatch (its colour a custom property set through the CSSOM, which the CSP allows). */
export function swatch(color: string): HTMLElement {
  const s = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  s.style.setProperty('--swatch', color);
  return s;
}

/** A number for a readout: up to `digits` significant digits, exponent form for very large or small values. */
export function fmtSignificant(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
  return String(+v.toPrecision(digits));
}
