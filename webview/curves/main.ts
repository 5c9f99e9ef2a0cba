/**
 * The page of the "Training curves" panel: a grid of small charts, one per metric, grouped by
 * stage (SL-CAI, preference model, PPO), with every run overlaid. Each curve is smoothed with
 * TensorBoard's debiased EMA, the raw values drawn faintly behind it and a rolling min/max
 * envelope around it. A toolbar sets the smoothing, the x axis (step, episode, tokens, epoch)
 * and filters; the legend toggles runs; hovering (or the arrow keys on a focused chart) shows
 * every run's value at that x. Rows arrive from the host as the runs log them.
 *
 * Metric, stage and run names come from files: they go into the page as text only.
 */
import {
  MAX_SMOOTHING,
  RunMetrics,
  STAGE_GROUPS,
  X_AXES,
  axisValues,
  checkRow,
  clampSmoothing,
  compareMetrics,
  isXAxis,
  metricInfo,
  outOfRange,
  seriesCsv,
  seriesOf,
  smooth,
  stageGroup,
  tagChanges,
  type CsvSeries,
  type MetricInfo,
  type Series,
  type StageGroup,
  type XAxis,
} from '../../src/core/runs/metrics.js';
import type { CurvesHostToPage, CurvesPageToHost, CurvesPanelState, CurvesRun, ExportFile } from '../../src/protocol/panels/curves.js';
import { Chart, announceWhileFocused, onThemeChange, readTheme, slug, type AlignedData, type ChartTheme } from '../shared/chart.js';
import { clip, el, fmtInt, notice, perFrame, plural, revealInvisible, setChildren, statusLine } from '../shared/dom.js';
import { curveValueAt, fmtSignificant, smoothedCurves, swatch } from '../shared/curves.js';
import { connect } from '../shared/host.js';

// --- the host --------------------------------------------------------------------------------

const conn = connect<CurvesHostToPage, CurvesPageToHost, CurvesPanelState>(['curves/'], (m) => receive(m));
const host = {
  exportFile: (file: ExportFile): void => conn.post({ type: 'curves/export', payload: file }),
  saveState: (s: CurvesPanelState): void => conn.setState(s),
  savedState: (): CurvesPanelState | undefined => conn.getState(),
  ready: (): void => conn.ready(),
};

// --- state -----------------------------------------------------------------------------------

interface Run {
  info: CurvesRun;
  metrics: RunMetrics;
  status?: string;
  warning?: string;
}

const saved = host.savedState();
const settings = {
  smoothing: clampSmoothing(saved?.smoothing ?? 0.6),
  xAxis: (isXAxis(saved?.xAxis) ? saved.xAxis : 'step') as XAxis,
  hiddenStages: new Set<string>(Array.isArray(saved?.hiddenStages) ? saved.hiddenStages.filter((s) => typeof s === 'string') : []),
  filter: typeof saved?.filter === 'string' ? saved.filter : '',
  hiddenRuns: new Set<string>(Array.isArray(saved?.hiddenRuns) ? saved.hiddenRuns.filter((s) => typeof s === 'string') : []),
};
let runs: Run[] | undefined;
let theme: ChartTheme = readTheme();
let themeEpoch = 0;

function saveState(): void {
  if (!runs) return;
  host.saveState({
    runDirs: runs.map((r) => r.info.dir),
    smoothing: settings.smoothing,
    xAxis: settings.xAxis,
    hiddenStages: [...settings.hiddenStages],
    filter: settings.filter,
    hiddenRuns: [...settings.hiddenRuns],
  });
}

const runColor = (r: Run): string => theme.palette[r.info.index % theme.palette.length]!;
const visibleRuns = (): Run[] => (runs ?? []).filter((r) => !settings.hiddenRuns.has(r.info.dir));
const groupLabel = (g: StageGroup): string => STAGE_GROUPS.find((x) => x.id === g)?.label ?? g;
const axisLabel = (a: XAxis): string => X_AXES.find((x) => x.id === a)?.label ?? a;

/** A number for a readout: up to five significant digits, exponent form for very large or small values. */
const fmtVal = (v: number | null | undefined): string => fmtSignificant(v, 5);

// --- layout ----------------------------------------------------------------------------------

const app = document.getElementById('app') ?? document.body;

const smoothingInput = el('input', { type: 'range', id: 'smoothing', min: 0, max: MAX_SMOOTHING, step: 0.01, value: settings.smoothing, 'aria-describedby': 'smoothing-help' });
const smoothingOut = el('output', { for: 'smoothing', class: 'smoothing-value' }, settings.smoothing.toFixed(2));
const axisSelect = el('select', { id: 'x-axis', 'aria-label': 'X axis' }, ...X_AXES.map((a) => el('option', { value: a.id, title: a.about, selected: a.id === settings.xAxis }, a.label)));
const filterInput = el('input', { type: 'search', id: 'metric-filter', placeholder: 'Filter metrics', 'aria-label': 'Filter metrics by name', value: settings.filter, spellcheck: 'false' });
const stageBoxes = new Map<StageGroup, HTMLInputElement>();
const stageFieldset = el(
  'fieldset',
  { class: 'stage-filter' },
  el('legend', { class: 'visually-hidden' }, 'Stages shown'),
  ...STAGE_GROUPS.map((g) => {
    const box = el('input', { type: 'checkbox', value: g.id, checked: !settings.hiddenStages.has(g.id) });
    stageBoxes.set(g.id, box);
    return el('label', {}, box, g.label);
  }),
);
const exportAllButton = el('button', { type: 'button', class: 'secondary', title: 'Every visible curve as CSV: raw, smoothed and envelope values' }, 'Export CSV');
const status = statusLine('curves-status');
const legend = el('div', { class: 'legend', role: 'group', 'aria-label': 'Runs (toggle to show or hide)' });
const warnings = el('div', { class: 'warnings' });
const content = el('div', { class: 'groups' }, notice('Loading the runs…'));

setChildren(
  app,
  el('h1', {}, 'Training curves'),
  el(
    'div',
    { class: 'toolbar', role: 'toolbar', 'aria-label': 'Curve settings' },
    el('label', { class: 'smoothing' }, 'Smoothing', smoothingInput, smoothingOut),
    el('label', {}, 'X axis', axisSelect),
    stageFieldset,
    filterInput,
    exportAllButton,
  ),
  el('p', { id: 'smoothing-help', class: 'visually-hidden' }, 'Debiased exponential moving average weight, 0 (raw) to 0.99; the raw values stay faintly behind each curve, with a band of their recent minimum and maximum.'),
  legend,
  warnings,
  status,
  content,
);

// --- cards -----------------------------------------------------------------------------------

interface Card {
  key: string;
  stage: string;
  metric: string;
  group: StageGroup;
  info: MetricInfo | undefined;
  root: HTMLElement;
  box: HTMLElement;
  readout: HTMLElement;
  latest: HTMLElement;
  badge: HTMLElement;
  chart?: Chart;
  /** What the chart was built from: lines (structure) and data. */
  linesSig: string;
  dataSig: string;
  /** The runs with values for this metric, in order, with their series (kept current). */
  drawn: { run: Run; series: Series }[];
  /** What the chart shows (the columns of `data`): `drawn` when it was last plotted. */
  plotted: { run: Run; series: Series }[];
  plotSig: string;
  onScreen: boolean;
  axis: XAxis;
  data?: AlignedData;
}

const cards = new Map<string, Card>();
const cardOfRoot = new WeakMap<Element, Card>();
const cardKey = (stage: string, metric: string): string => `${stage}\u0000${metric}`;

function makeCard(stage: string, metric: string): Card {
  const group = stageGroup(stage);
  const info = metricInfo(stage, metric);
  const shown = revealInvisible(clip(metric, 160));
  const title = el('h3', { class: 'card-title', title: clip(metric, 2000) }, shown);
  const sub = group === 'other' ? el('span', { class: 'card-stage muted', title: clip(stage, 2000) }, `stage: ${revealInvisible(clip(stage, 60))}`) : null;
  const badge = el('span', { class: 'badge', hidden: true });
  const png = el('button', { type: 'button', class: 'secondary small', 'aria-label': `Export ${clip(metric, 80)} as PNG` }, 'PNG');
  const csv = el('button', { type: 'button', class: 'secondary small', 'aria-label': `Export ${clip(metric, 80)} as CSV` }, 'CSV');
  const about = info
    ? el(
        'details',
        { class: 'about' },
        el('summary', {}, 'What is this?'),
        el('p', {}, info.about),
        info.healthy ? el('p', {}, el('strong', {}, 'Healthy: '), info.healthy) : null,
      )
    : null;
  const box = el('div', { class: 'chart-box' });
  const readout = el('div', { class: 'readout' });
  announceWhileFocused(box, readout);
  const latest = el('div', { class: 'latest muted' });
  const root = el('section', { class: 'card', 'aria-label': `${clip(metric, 120)}, ${groupLabel(group)}` }, el('header', {}, title, sub, badge, el('span', { class: 'card-actions' }, png, csv)), about, box, readout, latest);
  const card: Card = { key: cardKey(stage, metric), stage, metric, group, info, root, box, readout, latest, badge, linesSig: '', dataSig: '', drawn: [], plotted: [], plotSig: '', onScreen: false, axis: 'step' };
  cardOfRoot.set(root, card);
  onScreen.observe(root);
  png.addEventListener('click', () => exportPng(card));
  csv.addEventListener('click', () => exportCsv([card], `${slug(metric)}`));
  return card;
}

/** Which axis a card uses: the chosen one when every run drawn has it, else step. */
function cardAxis(stage: string, rs: Run[]): XAxis {
  if (settings.xAxis === 'step') return 'step';
  for (const r of rs) {
    const t = r.metrics.stages.get(stage);
    if (t && !axisValues(t, settings.xAxis)) return 'step';
  }
  return settings.xAxis;
}

/**
 * Brings a card up to date when its runs, the settings or its rows changed. The text (latest
 * values, range badge, the chart's description) always follows; the plot itself is redrawn only
 * while the card is on screen (or near it), and catches up when it scrolls into view.
 */
function updateCard(card: Card): void {
  const rs = visibleRuns().filter((r) => r.metrics.stages.get(card.stage)?.cols.has(card.metric));
  const axis = cardAxis(card.stage, rs);
  const dataSig = JSON.stringify([rs.map((r) => [r.info.index, r.metrics.stages.get(card.stage)!.version]), axis, settings.smoothing, themeEpoch]);
  if (dataSig !== card.dataSig) {
    card.dataSig = dataSig;
    card.axis = axis;
    card.drawn = [];
    for (const r of rs) {
      const s = seriesOf(r.metrics.stages.get(card.stage)!, card.metric, axis);
      if (s && s.x.length) card.drawn.push({ run: r, series: s });
    }
    showLatest(card);
    card.chart?.setAriaLabel(ariaFor(card));
  }
  if (card.onScreen && card.plotSig !== card.dataSig) plot(card);
}

/** Draws a card's chart from its current series (smoothed, raw behind, min/max band). */
function plot(card: Card): void {
  card.plotSig = card.dataSig;
  card.plotted = card.drawn;
  const { data, lines, bands } = smoothedCurves(
    card.plotted.map(({ run: r, series }) => ({ label: r.info.name, color: runColor(r), series })),
    settings.smoothing,
  );
  card.data = data;
  const axis = card.axis;
  const linesSig = JSON.stringify([lines.map((l) => [l.style, l.color]), axis, themeEpoch]);
  const first = card.plotted[0]?.run;
  const markers = axis === 'step' && card.group === 'pm' && first ? tagChanges(first.metrics.stages.get(card.stage)!, 'phase').map((c) => ({ x: c.step, label: c.value })) : [];
  if (card.plotted.length === 0) {
    card.chart?.destroy();
    card.chart = undefined;
    card.linesSig = '';
    setChildren(card.box, el('p', { class: 'muted empty' }, 'No values for the runs shown.'));
  } else if (!card.chart || linesSig !== card.linesSig) {
    card.chart?.destroy();
    setChildren(card.box);
    card.linesSig = linesSig;
    card.chart = new Chart(
      card.box,
      {
        ariaLabel: ariaFor(card),
        xLabel: axisLabel(axis),
        height: 170,
        lines,
        bands,
        syncKey: 'curves',
        markers,
        onCursor: (idx) => showReadout(card, idx),
      },
      data,
      theme,
    );
  } else {
    card.chart.setData(data);
    card.chart.setMarkers(markers);
  }
  showReadout(card, null);
}

/** Cards near the viewport draw; the others wait until they scroll into view. */
const onScreen = new IntersectionObserver(
  (entries) => {
    for (const e of entries) {
      const card = cardOfRoot.get(e.target);
      if (!card) continue;
      card.onScreen = e.isIntersecting;
      if (card.onScreen && card.plotSig !== card.dataSig) plot(card);
    }
  },
  { rootMargin: '300px 0px' },
);

function lastOf(card: Card, d: { run: Run; series: Series }): { v: number; raw: number; step: number } {
  const n = d.series.y.length;
  const raw = d.series.y[n - 1]!;
  // the smoothed value at the end is what the badge judges (one noisy point is not a trend)
  const v = settings.smoothing > 0 ? smooth(d.series.y.slice(Math.max(0, n - 2000)), settings.smoothing).smoothed.at(-1)! : raw;
  return { v, raw, step: d.series.steps[n - 1]! };
}

function ariaFor(card: Card): string {
  const parts = card.drawn.map((d) => {
    const l = lastOf(card, d);
    return `${clip(d.run.info.name, 60)}: ${fmtVal(l.v)} at step ${fmtInt(l.step)}, ${plural(d.series.x.length, 'point')}`;
  });
  return `${clip(card.metric, 120)} (${groupLabel(card.group)}) against ${axisLabel(card.axis).toLowerCase()}. ${parts.join('; ')}. Arrow keys move along the curve.`;
}

function showLatest(card: Card): void {
  const items: (Node | string)[] = [];
  let flag: 'low' | 'high' | undefined;
  for (const d of card.drawn) {
    const l = lastOf(card, d);
    flag ??= outOfRange(card.info, l.v);
    items.push(el('span', { class: 'latest-item' }, swatch(runColor(d.run)), `${fmtVal(l.v)} at step ${fmtInt(l.step)}`));
  }
  setChildren(card.latest, ...(items.length ? [el('span', { class: 'visually-hidden' }, 'Latest: '), ...items] : []));
  if (flag && card.info?.range) {
    const [lo, hi] = card.info.range;
    card.badge.textContent = flag === 'high' ? 'above usual range' : 'below usual range';
    card.badge.title = `Usually ${lo !== null && hi !== null ? `between ${lo} and ${hi}` : lo !== null ? `above ${lo}` : `below ${hi}`}. ${card.info.healthy ?? ''}`;
    card.badge.hidden = false;
  } else card.badge.hidden = true;
}

/** Every drawn run's value at the hovered x (or the nearest point it has). */
function showReadout(card: Card, idx: number | null): void {
  const data = card.data;
  if (idx === null || !data || card.plotted.length === 0) {
    setChildren(card.readout, el('span', { class: 'muted' }, card.plotted.length ? 'Hover or use the arrow keys for values.' : ''));
    return;
  }
  const x = data[0][idx];
  const items: (Node | string)[] = [el('span', { class: 'readout-x' }, `${axisLabel(card.axis)} ${fmtVal(x)}`)];
  card.plotted.forEach((d, i) => {
    const p = curveValueAt(data, i, idx, settings.smoothing);
    if (!p) return;
    const at = p.at !== idx ? ` (at ${fmtVal(data[0][p.at])})` : '';
    items.push(el('span', { class: 'readout-item' }, swatch(runColor(d.run)), el('span', { class: 'run-name' }, revealInvisible(clip(d.run.info.name, 40))), ` ${fmtVal(p.value)}`, p.raw !== undefined ? el('span', { class: 'muted' }, ` raw ${fmtVal(p.raw)}`) : null, at));
  });
  setChildren(card.readout, ...items);
}

// --- the grid ----------------------------------------------------------------------------------

const groupSections = new Map<StageGroup, { root: HTMLElement; grid: HTMLElement; heading: HTMLElement }>();

function section(g: StageGroup): { root: HTMLElement; grid: HTMLElement; heading: HTMLElement } {
  let s = groupSections.get(g);
  if (!s) {
    const heading = el('h2', { id: `group-${g}` }, groupLabel(g));
    const grid = el('div', { class: 'grid' });
    s = { root: el('section', { class: 'group', 'aria-labelledby': `group-${g}` }, heading, grid), grid, heading };
    groupSections.set(g, s);
  }
  return s;
}

function matchesFilter(stage: string, metric: string): boolean {
  const f = settings.filter.trim().toLowerCase();
  if (!f) return true;
  return metric.toLowerCase().includes(f) || stage.toLowerCase().includes(f);
}

const render = perFrame(() => {
  if (!runs) return;
  renderLegend();
  if (runs.length === 0) {
    setChildren(content, notice('No run to show.'));
    return;
  }
  // every (stage, metric) any run logged
  const keys = new Map<string, { stage: string; metric: string }>();
  for (const r of runs) for (const t of r.metrics.stages.values()) for (const m of t.cols.keys()) keys.set(cardKey(t.stage, m), { stage: t.stage, metric: m });
  const total = keys.size;
  if (total === 0) {
    setChildren(content, notice('No metrics logged yet. Curves appear here as the run logs them.'));
    status.textContent = '';
    return;
  }
  const shown = [...keys.values()].filter((k) => !settings.hiddenStages.has(stageGroup(k.stage)) && matchesFilter(k.stage, k.metric));
  shown.sort((a, b) => {
    const ga = STAGE_GROUPS.findIndex((g) => g.id === stageGroup(a.stage));
    const gb = STAGE_GROUPS.findIndex((g) => g.id === stageGroup(b.stage));
    if (ga !== gb) return ga - gb;
    if (a.stage !== b.stage) return a.stage < b.stage ? -1 : 1;
    return compareMetrics(a.stage, a.metric, b.metric);
  });
  // cards no longer shown are dropped (their charts freed)
  const wanted = new Set(shown.map((k) => cardKey(k.stage, k.metric)));
  for (const [k, c] of cards) {
    if (!wanted.has(k)) {
      c.chart?.destroy();
      onScreen.unobserve(c.root);
      cards.delete(k);
    }
  }
  const byGroup = new Map<StageGroup, Card[]>();
  for (const k of shown) {
    const key = cardKey(k.stage, k.metric);
    let c = cards.get(key);
    if (!c) {
      c = makeCard(k.stage, k.metric);
      cards.set(key, c);
    }
    const g = byGroup.get(c.group) ?? [];
    g.push(c);
    byGroup.set(c.group, g);
  }
  const sections: HTMLElement[] = [];
  for (const g of STAGE_GROUPS) {
    const list = byGroup.get(g.id);
    if (!list) continue;
    const s = section(g.id);
    s.heading.textContent = `${g.label} · ${plural(list.length, 'metric')}`;
    const current = [...s.grid.children];
    if (current.length !== list.length || current.some((n, i) => n !== list[i]!.root)) setChildren(s.grid, ...list.map((c) => c.root));
    sections.push(s.root);
  }
  if (sections.length === 0) sections.push(notice(settings.filter ? 'No metric matches the filter.' : 'Every stage is filtered out.'));
  const cur = [...content.children];
  if (cur.length !== sections.length || cur.some((n, i) => n !== sections[i])) setChildren(content, ...sections);
  // charts are sized from their box, so they are built once the card is in the page
  for (const list of byGroup.values()) for (const c of list) updateCard(c);
  const points = (runs ?? []).reduce((a, r) => a + [...r.metrics.stages.values()].reduce((b, t) => b + t.steps.length, 0), 0);
  status.textContent = `${plural(shown.length, 'chart')} of ${fmtInt(total)} · ${plural(points, 'logged step')}`;
});

function renderLegend(): void {
  if (!runs) return;
  const items = runs.map((r) => {
    const pressed = !settings.hiddenRuns.has(r.info.dir);
    const b = el(
      'button',
      { type: 'button', class: 'run-toggle', 'aria-pressed': String(pressed), title: clip(r.info.dir, 2000) },
      swatch(runColor(r)),
      el('span', { class: 'run-name' }, revealInvisible(clip(r.info.name, 80))),
      r.info.kind === 'trl' ? el('span', { class: 'tag' }, 'TRL') : null,
      r.status ? el('span', { class: `run-status status-${r.status === 'running' ? 'running' : 'other'}` }, clip(r.status, 40)) : null,
    );
    b.addEventListener('click', () => {
      if (settings.hiddenRuns.has(r.info.dir)) settings.hiddenRuns.delete(r.info.dir);
      else settings.hiddenRuns.add(r.info.dir);
      saveState();
      render();
    });
    return b;
  });
  // keep focus on the toggle the user pressed
  const focused = legend.contains(document.activeElement) ? [...legend.children].indexOf(document.activeElement as Element) : -1;
  setChildren(legend, ...items);
  if (focused >= 0) (legend.children[focused] as HTMLElement | undefined)?.focus();
  setChildren(warnings, ...runs.filter((r) => r.warning).map((r) => notice(`${clip(r.info.name, 80)}: ${clip(r.warning!, 500)}`, 'error')));
}

legend.addEventListener('keydown', (e) => {
  const list = [...legend.querySelectorAll<HTMLElement>('button')];
  const i = list.indexOf(document.activeElement as HTMLElement);
  if (i < 0) return;
  const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : -2;
  if (next === -2) return;
  e.preventDefault();
  list[(next + list.length) % list.length]?.focus();
});

// --- exports -----------------------------------------------------------------------------------

function runsSlug(): string {
  return slug(visibleRuns().map((r) => r.info.name).join('_')).slice(0, 60) || 'runs';
}

function exportCsv(list: Card[], name: string): void {
  const series: CsvSeries[] = [];
  for (const c of list) for (const d of c.drawn) series.push({ run: d.run.info.name, stage: c.stage, metric: c.metric, series: d.series });
  if (!series.length) {
    status.textContent = 'Nothing to export: no curve is shown.';
    return;
  }
  host.exportFile({ format: 'csv', fileName: `curves-${runsSlug()}-${name}.csv`, data: seriesCsv(series, settings.smoothing) });
  status.textContent = `Exporting ${plural(series.length, 'series', 'series')} as CSV…`;
}

function exportPng(card: Card): void {
  if (!card.chart) return;
  const title = `${clip(card.metric, 100)} · ${groupLabel(card.group)}${settings.smoothing > 0 ? ` · smoothing ${settings.smoothing.toFixed(2)}` : ''}`;
  const data = card.chart.png(title, card.plotted.map((d) => ({ label: d.run.info.name, color: runColor(d.run) })));
  host.exportFile({ format: 'png', fileName: `curves-${runsSlug()}-${slug(card.metric)}.png`, data });
  status.textContent = 'Exporting the chart as PNG…';
}

exportAllButton.addEventListener('click', () => exportCsv([...cards.values()].filter((c) => c.root.isConnected), 'all'));

// --- toolbar -----------------------------------------------------------------------------------

smoothingInput.addEventListener('input', () => {
  settings.smoothing = clampSmoothing(Number(smoothingInput.value));
  smoothingOut.textContent = settings.smoothing.toFixed(2);
  smoothingInput.setAttribute('aria-valuetext', settings.smoothing === 0 ? 'off' : settings.smoothing.toFixed(2));
  saveState();
  render();
});
axisSelect.addEventListener('change', () => {
  if (isXAxis(axisSelect.value)) settings.xAxis = axisSelect.value;
  saveState();
  render();
});
filterInput.addEventListener('input', () => {
  settings.filter = filterInput.value;
  saveState();
  render();
});
for (const [g, box] of stageBoxes) {
  box.addEventListener('change', () => {
    if (box.checked) settings.hiddenStages.delete(g);
    else settings.hiddenStages.add(g);
    saveState();
    render();
  });
}

onThemeChange(() => {
  theme = readTheme();
  themeEpoch++;
  for (const c of cards.values()) c.dataSig = '';
  render();
});

// --- messages ----------------------------------------------------------------------------------

function receive(m: CurvesHostToPage): void {
  switch (m.type) {
    case 'curves/runs': {
      const list = Array.isArray(m.payload?.runs) ? m.payload.runs : [];
      for (const c of cards.values()) {
        c.chart?.destroy();
        onScreen.unobserve(c.root);
      }
      cards.clear();
      runs = list
        .filter((r) => typeof r?.name === 'string' && typeof r.dir === 'string' && typeof r.index === 'number')
        .map((info) => ({ info, metrics: new RunMetrics() }));
      saveState();
      render();
      break;
    }
    case 'curves/rows': {
      const run = runs?.find((r) => r.info.index === m.payload?.run);
      if (!run || !Array.isArray(m.payload.rows)) return;
      if (m.payload.reset) run.metrics.clear();
      const rows = [];
      for (const x of m.payload.rows) {
        const row = checkRow(x);
        if (row) rows.push(row);
      }
      run.metrics.add(rows);
      render();
      break;
    }
    case 'curves/status': {
      const run = runs?.find((r) => r.info.index === m.payload?.run);
      if (!run) return;
      if (typeof m.payload.status === 'string') run.status = m.payload.status;
      if (typeof m.payload.warning === 'string') run.warning = m.payload.warning;
      render();
      break;
    }
  }
}

host.ready();
