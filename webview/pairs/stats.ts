/**
 * The per-principle summary: pairs, mean confidence, flip rate, a confidence histogram and the
 * review counts, for all pairs and for each principle. Principle names are text from the run
 * (hostile), shown clipped with invisible characters made visible.
 */
import type { PairAggregates, PairStats } from '../../src/core/runs/pairs.js';
import { clip, el, fmtInt, fmtNum, fmtPct, revealInvisible } from '../shared/dom.js';

const BIN_WIDTH = 0.5;

/** A small bar chart of the confidence histogram, with its counts in words for screen readers. */
function histogram(s: PairStats): HTMLElement {
  const bins = s.histogram.length;
  const max = Math.max(1, ...s.histogram);
  const label = s.histogram.map((n, i) => `${fmtNum(0.5 + (i * BIN_WIDTH) / bins, 2)}–${fmtNum(0.5 + ((i + 1) * BIN_WIDTH) / bins, 2)}: ${n}`).join(', ');
  const chart = el('div', { class: 'hist', role: 'img', 'aria-label': `Confidence histogram: ${label}`, title: label });
  for (const n of s.histogram) {
    const bar = el('span', { class: 'bar' });
    bar.style.setProperty('height', `${n === 0 ? 0 : Math.max(4, Math.round((n / max) * 100))}%`);
    chart.append(bar);
  }
  return chart;
}

const HEADERS: [string, string?][] = [
  ['Principle'],
  ['Pairs', 'num'],
  ['Mean confidence', 'num'],
  ['Flip rate', 'num'],
  ['Confidence 0.5 → 1'],
  ['Reviewed', 'num'],
  ['Accepted', 'num'],
  ['Flipped', 'num'],
  ['Flagged', 'num'],
];

export function renderStats(table: HTMLTableElement, agg: PairAggregates, current: string, pick: (principle: string) => void): void {
  const thead = el('thead', {}, el('tr', {}, ...HEADERS.map(([h, cls]) => el('th', { scope: 'col', class: cls, title: h === 'Flip rate' ? 'Share of the pairs asked in both orders whose preferred position changed with the swap (judged by content, not position)' : undefined }, h))));
  const tbody = el('tbody');
  const line = (s: PairStats, all: boolean) => {
    const name = all ? 'All principles' : revealInvisible(clip(s.principle, 80)) || '(none)';
    const button = el('button', { type: 'button', class: 'link-button', title: all ? 'Show every principle' : `Show only ${clip(s.principle, 200)}`, 'aria-pressed': String(all ? current === '' : current === s.principle) }, name);
    button.addEventListener('click', () => pick(all ? '' : s.principle));
    const tr = el(
      'tr',
      { class: all ? 'stats-all' : undefined },
      el('th', { scope: 'row' }, button),
      el('td', { class: 'num' }, fmtInt(s.count)),
      el('td', { class: 'num' }, fmtNum(s.meanConfidence)),
      el('td', { class: 'num', title: s.bothOrders ? `${fmtInt(s.flipped)} of ${fmtInt(s.bothOrders)} pairs asked in both orders` : 'No pair was asked in both orders' }, fmtPct(s.flipRate)),
      el('td', {}, histogram(s)),
      el('td', { class: 'num' }, `${fmtInt(s.reviewed)}${s.count ? ` (${fmtPct(s.reviewed / s.count, 0)})` : ''}`),
      el('td', { class: 'num' }, fmtInt(s.accepted)),
      el('td', { class: 'num' }, fmtInt(s.reversed)),
      el('td', { class: 'num' }, fmtInt(s.flagged)),
    );
    if (!all && current === s.principle) tr.classList.add('selected');
    tbody.append(tr);
  };
  line(agg.all, true);
  for (const s of agg.principles) line(s, false);
  table.replaceChildren(el('caption', { class: 'visually-hidden' }, 'Labels by principle'), thead, tbody);
}
