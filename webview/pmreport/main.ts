/**
 * The page of the "Preference model report" panel, four views of one run's preference model:
 *  1. training: loss (and the LM loss of pretraining), batch accuracy and margin, live, with the
 *     PMP → finetune phase marked;
 *  2. reliability diagram of a held-out set with its expected calibration error;
 *  3. accuracy against the score difference |r_a − r_b| beside the logistic curve σ(Δ) that a
 *     calibrated model follows;
 *  4. win rates of the policies under the preference model as Elo differences, with the
 *     Elo-equivalent of their mean-score differences.
 *
 * Dataset names and the run's name come from files: they go into the page as text only.
 */
import { RunMetrics, checkRow, clampSmoothing, MAX_SMOOTHING, seriesCsv, seriesOf, alignSeries, tagChanges, type CsvSeries, type Series } from '../../src/core/runs/metrics.js';
import { eloFromWinRate, eloRows, logisticCurve, marginRows, reliability, reportCsv, type PmDataset, type PmEvalReport } from '../../src/core/runs/pmReport.js';
import type { ExportFile } from '../../src/protocol/panels/curves.js';
import type { PmReportHostToPage, PmReportPageToHost, PmReportPanelState } from '../../src/protocol/panels/pmReport.js';
import { Chart, announceWhileFocused, onThemeChange, readTheme, slug, type AlignedData, type ChartTheme, type LineSpec } from '../shared/chart.js';
import { clip, el, fmtInt, fmtNum, fmtPct, notice, perFrame, plural, revealInvisible, setChildren, statusLine } from '../shared/dom.js';
import { curveValueAt, fmtSignificant, smoothedCurves, swatch } from '../shared/curves.js';
import { connect } from '../shared/host.js';

// --- the host --------------------------------------------------------------------------------

const conn = connect<PmReportHostToPage, PmReportPageToHost, PmReportPanelState>(['pmReport/'], (m) => receive(m));
const host = {
  exportFile: (file: ExportFile): void => conn.post({ type: 'pmReport/export', payload: file }),
  saveState: (s: PmReportPanelState): void => conn.setState(s),
  savedState: (): PmReportPanelState | undefined => conn.getState(),
  ready: (): void => conn.ready(),
};

// --- state -----------------------------------------------------------------------------------

const saved = host.savedState();
let run: { name: string; dir: string; kind: 'run' | 'trl' } | undefined;
const metrics = new RunMetrics();
let report: PmEvalReport | null | undefined;
let evalError: string | undefined;
let dataset: string | undefined = typeof saved?.dataset === 'string' ? saved.dataset : undefined;
let smoothing = clampSmoothing(saved?.smoothing ?? 0.6);
let theme: ChartTheme = readTheme();

function saveState(): void {
  if (!run) return;
  host.saveState({ runDir: run.dir, ...(dataset !== undefined ? { dataset } : {}), smoothing });
}

const fmtVal = (v: number | null | undefined): string => fmtSignificant(v, 4);

const signed = (v: number, digits = 0): string => (Number.isFinite(v) ? `${v > 0 ? '+' : v < 0 ? '−' : '±'}${Math.abs(v).toFixed(digits)}` : '–');

// --- layout ----------------------------------------------------------------------------------

const app = document.getElementById('app') ?? document.body;
const title = el('h1', {}, 'Preference model');
const datasetSelect = el('select', { id: 'dataset', 'aria-label': 'Held-out set shown in the reliability and accuracy views' });
const smoothingInput = el('input', { type: 'range', id: 'smoothing', min: 0, max: MAX_SMOOTHING, step: 0.01, value: smoothing, 'aria-label': 'Smoothing of the training curves' });
const smoothingOut = el('output', { for: 'smoothing', class: 'smoothing-value' }, smoothing.toFixed(2));
const exportTables = el('button', { type: 'button', class: 'secondary', title: "The report's tables (reliability bins, accuracy by score difference, Elo) as CSV" }, 'Export tables (CSV)');
const status = statusLine('pm-status');
const summary = el('div', { class: 'summary' });

const trainingBody = el('div', { class: 'training' });
const reliabilityBody = el('div', { class: 'view-body' });
const marginBody = el('div', { class: 'view-body' });
const eloBody = el('div', { class: 'view-body' });

function view(id: string, heading: string, intro: string, body: HTMLElement, wide = false): HTMLElement {
  return el('section', { class: `view${wide ? ' wide' : ''}`, 'aria-labelledby': id }, el('h2', { id }, heading), el('p', { class: 'muted intro' }, intro), body);
}

setChildren(
  app,
  title,
  el(
    'div',
    { class: 'toolbar', role: 'toolbar', 'aria-label': 'Report settings' },
    el('label', {}, 'Held-out set', datasetSelect),
    el('label', { class: 'smoothing' }, 'Smoothing', smoothingInput, smoothingOut),
    exportTables,
  ),
  status,
  summary,
  el(
    'div',
    { class: 'views' },
    view('v-training', 'Training', 'Loss, batch accuracy and margin of the preference model as it trained (smoothed, raw values faint behind). The dashed line marks where preference-model pretraining (PMP) gives way to finetuning on the AI labels.', trainingBody, true),
    view('v-reliability', 'Calibration', 'Reliability diagram: predicted P(A better) = σ(r_a − r_b) against how often A was preferred, per bin. A calibrated model sits on the diagonal; the expected calibration error (ECE) is the pair-weighted mean distance from it.', reliabilityBody),
    view('v-margin', 'Accuracy by score difference', 'Share of pairs ranked right, by |r_a − r_b|, beside σ(Δ): the accuracy a calibrated model has on pairs it scores Δ apart.', marginBody),
    view('v-elo', 'Elo-equivalent differences', 'Win rates of the policies under the preference model as Elo differences, ΔElo = 400 · log10(w / (1 − w)), and the Elo-equivalent of their mean-score difference, 400 · Δ / ln 10 (P(win) = σ(Δ)).', eloBody, true),
  ),
);

// --- training view -----------------------------------------------------------------------------

interface TrainChart {
  name: string;
  metrics: string[];
  box: HTMLElement;
  readout: HTMLElement;
  chart?: Chart;
  drawn: { metric: string; series: Series }[];
  data?: AlignedData;
  sig: string;
}

const trainCharts: TrainChart[] = [
  { name: 'Loss', metrics: ['loss', 'lm_loss', 'eval_loss'] },
  { name: 'Batch accuracy', metrics: ['accuracy', 'eval_accuracy'] },
  { name: 'Margin', metrics: ['margin'] },
].map((c) => {
  const box = el('div', { class: 'chart-box' });
  const readout = el('div', { class: 'readout' });
  announceWhileFocused(box, readout);
  return { ...c, box, readout, drawn: [], sig: '' };
});

const trainingGrid = el(
  'div',
  { class: 'train-grid' },
  ...trainCharts.map((c) => {
    const png = el('button', { type: 'button', class: 'secondary small', 'aria-label': `Export the ${c.name.toLowerCase()} chart as PNG` }, 'PNG');
    const csv = el('button', { type: 'button', class: 'secondary small', 'aria-label': `Export the ${c.name.toLowerCase()} curves as CSV` }, 'CSV');
    png.addEventListener('click', () => c.chart && exportPng(c.chart, c.name, c.drawn.map((d, i) => ({ label: d.metric, color: metricColor(i) }))));
    csv.addEventListener('click', () => exportTrainingCsv(c));
    return el('figure', { class: 'card' }, el('header', {}, el('h3', {}, c.name), el('span', { class: 'card-actions' }, png, csv)), c.box, c.readout);
  }),
);

const metricColor = (i: number): string => theme.palette[[0, 2, 1, 3][i % 4]!]!;

function renderTraining(): void {
  const t = metrics.stages.get('pm');
  if (!t || t.steps.length === 0) {
    for (const c of trainCharts) {
      c.chart?.destroy();
      c.chart = undefined;
      c.sig = '';
    }
    setChildren(trainingBody, notice(run?.kind === 'trl' ? 'No steps in trainer_state.json yet.' : 'The preference model has not logged a step yet. Its curves appear here while it trains.'));
    return;
  }
  if (trainingGrid.parentElement !== trainingBody) setChildren(trainingBody, trainingGrid);
  const phase = tagChanges(t, 'phase').map((p) => ({ x: p.step, label: p.value }));
  for (const c of trainCharts) {
    const sig = JSON.stringify([t.version, smoothing, themeEpoch]);
    if (sig === c.sig && c.chart) continue;
    c.sig = sig;
    c.drawn = [];
    for (const m of c.metrics) {
      const s = seriesOf(t, m, 'step');
      if (s && s.x.length) c.drawn.push({ metric: m, series: s });
    }
    if (!c.drawn.length) {
      c.chart?.destroy();
      c.chart = undefined;
      setChildren(c.box, el('p', { class: 'muted empty' }, `No ${c.name.toLowerCase()} logged.`));
      setChildren(c.readout);
      continue;
    }
    const { data, lines, bands } = smoothedCurves(
      c.drawn.map((d, i) => ({ label: d.metric, color: metricColor(i), series: d.series })),
      smoothing,
    );
    c.data = data;
    const structure = JSON.stringify(lines.map((l) => l.style + l.color));
    if (!c.chart || c.box.dataset['structure'] !== structure) {
      c.chart?.destroy();
      setChildren(c.box);
      c.box.dataset['structure'] = structure;
      c.chart = new Chart(c.box, { ariaLabel: '', xLabel: 'Step', height: 180, lines, bands, markers: phase, syncKey: 'pm-training', onCursor: (idx) => trainReadout(c, idx) }, c.data, theme);
    } else {
      c.chart.setData(c.data);
      c.chart.setMarkers(phase);
    }
    c.chart.setAriaLabel(`${c.name} against step: ${c.drawn.map((d) => `${d.metric} ${fmtVal(d.series.y.at(-1))} at step ${fmtInt(d.series.steps.at(-1)!)}`).join('; ')}. Arrow keys move along the curve.`);
    trainReadout(c, null);
  }
}

/** A legend for a chart's lines, as text with swatches that show each line's style. */
function chartLegend(lines: LineSpec[]): HTMLElement {
  return el(
    'div',
    { class: 'chart-legend' },
    ...lines
      .filter((l) => l.style !== 'hidden' && l.style !== 'faint')
      .map((l) => {
        const s = swatch(l.color);
        s.classList.add(`swatch-${l.style}`);
        return el('span', { class: 'legend-item' }, s, l.label);
      }),
  );
}

function trainReadout(c: TrainChart, idx: number | null): void {
  const data = c.data;
  if (!data) return;
  const at = idx ?? data[0].length - 1;
  const items: (Node | string)[] = [el('span', { class: 'readout-x' }, `${idx === null ? 'Latest · ' : ''}step ${fmtVal(data[0][at])}`)];
  c.drawn.forEach((d, i) => {
    const p = curveValueAt(data, i, at, smoothing);
    if (!p) return;
    items.push(el('span', { class: 'readout-item' }, swatch(metricColor(i)), `${d.metric} ${fmtVal(p.value)}`, p.raw !== undefined ? el('span', { class: 'muted' }, ` raw ${fmtVal(p.raw)}`) : null));
  });
  setChildren(c.readout, ...items);
}

// --- summary and dataset choice ----------------------------------------------------------------

const sourceLabel = (d: PmDataset): string => (d.source === 'pm' ? 'preference-model stage' : 'evaluation stage');

function currentDataset(): PmDataset | undefined {
  const list = report?.datasets ?? [];
  return list.find((d) => d.key === dataset) ?? list.find((d) => d.bins.length || d.byMargin.length) ?? list[0];
}

function renderSummary(): void {
  if (report === undefined) {
    setChildren(summary, notice('Reading eval.json…'));
    return;
  }
  if (evalError) {
    setChildren(summary, notice(`eval.json could not be read: ${clip(evalError, 500)}`, 'error'));
  } else if (!report || report.datasets.length === 0) {
    setChildren(summary, notice(run?.kind === 'trl' ? 'A TRL folder has no held-out evaluation: only the training curves are shown.' : 'No held-out results yet: the preference-model stage writes them to eval.json when it finishes.'));
  } else {
    const cur = currentDataset();
    const rows = report.datasets.map((d) => {
      const tr = el(
        'tr',
        { 'aria-selected': String(d === cur), tabindex: d === cur ? 0 : -1, 'data-key': d.key },
        el('th', { scope: 'row', class: 'ds-name', title: clip(d.name, 2000) }, revealInvisible(clip(d.label, 80))),
        el('td', {}, sourceLabel(d)),
        el('td', { class: 'num' }, d.pairs === undefined ? '–' : fmtInt(d.pairs)),
        el('td', { class: 'num' }, fmtPct(d.accuracy)),
        el('td', { class: 'num' }, fmtNum(d.ece, 3)),
        el('td', { class: 'num' }, fmtNum(d.meanMargin, 2)),
      );
      tr.addEventListener('click', () => selectDataset(d.key));
      return tr;
    });
    const table = el(
      'table',
      { class: 'data summary-table', 'aria-label': 'Held-out sets (choose one for the calibration and accuracy views)' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Held-out set'), el('th', {}, 'Written by'), el('th', { class: 'num' }, 'Pairs'), el('th', { class: 'num' }, 'Accuracy'), el('th', { class: 'num' }, 'ECE'), el('th', { class: 'num' }, 'Mean margin'))),
      el('tbody', {}, ...rows),
    );
    table.addEventListener('keydown', (e) => {
      const i = rows.findIndex((r) => r === document.activeElement);
      if (i < 0) return;
      let j: number;
      if (e.key === 'ArrowDown') j = Math.min(rows.length - 1, i + 1);
      else if (e.key === 'ArrowUp') j = Math.max(0, i - 1);
      else if (e.key === 'Home') j = 0;
      else if (e.key === 'End') j = rows.length - 1;
      else return;
      e.preventDefault();
      selectDataset(report!.datasets[j]!.key);
    });
    // the table is rebuilt on every change: keep the keyboard on the selected row
    const hadFocus = summary.contains(document.activeElement);
    setChildren(summary, table);
    if (hadFocus) rows.find((r) => r.getAttribute('aria-selected') === 'true')?.focus();
  }
  const list = report?.datasets ?? [];
  const cur = currentDataset();
  setChildren(datasetSelect, ...list.map((d) => el('option', { value: d.key, selected: d === cur }, `${clip(d.label, 60)} (${d.source === 'pm' ? 'PM stage' : 'evaluation'})`)));
  datasetSelect.disabled = list.length === 0;
}

function selectDataset(key: string): void {
  dataset = key;
  saveState();
  render();
}

datasetSelect.addEventListener('change', () => selectDataset(datasetSelect.value));

// --- calibration view --------------------------------------------------------------------------

let reliabilityChart: Chart | undefined;
let marginChart: Chart | undefined;

function renderReliability(d: PmDataset | undefined): void {
  reliabilityChart?.destroy();
  reliabilityChart = undefined;
  if (!d || !d.bins.length) {
    setChildren(reliabilityBody, notice(d ? 'This set has no reliability bins.' : 'No held-out set to show.'));
    return;
  }
  const r = reliability(d.bins);
  if (!r.points.length) {
    setChildren(reliabilityBody, notice('Every reliability bin is empty.'));
    return;
  }
  const x = [0, ...r.points.map((p) => p.confidence), 1];
  const lines: LineSpec[] = [
    { label: 'Perfect calibration', color: theme.muted, style: 'dashed', width: 1 },
    { label: 'Observed', color: theme.palette[0]!, style: 'line', width: 2 },
  ];
  const data = [x, x.slice(), [null, ...r.points.map((p) => p.observed), null]] as unknown as AlignedData;
  const box = el('div', { class: 'chart-box square' });
  const readout = el('div', { class: 'readout' });
  announceWhileFocused(box, readout);
  const recorded = d.ece !== undefined && Math.abs(d.ece - r.ece) > 0.005 ? el('span', { class: 'muted' }, ` (eval.json says ${fmtNum(d.ece, 3)})`) : null;
  const head = el('p', { class: 'headline' }, el('span', { class: 'big' }, `ECE ${fmtNum(r.ece, 3)}`), recorded, el('span', { class: 'muted' }, ` · largest gap ${fmtNum(r.maxGap, 3)} · ${plural(r.total, 'pair')} in ${plural(r.points.length, 'bin')}`));
  const png = el('button', { type: 'button', class: 'secondary small', 'aria-label': 'Export the reliability diagram as PNG' }, 'PNG');
  const bins = el(
    'details',
    { class: 'bins' },
    el('summary', {}, 'Bins'),
    el(
      'table',
      { class: 'data' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Predicted P(A)'), el('th', { class: 'num' }, 'Pairs'), el('th', { class: 'num' }, 'Mean predicted'), el('th', { class: 'num' }, 'Observed'), el('th', { class: 'num' }, 'Gap'))),
      el('tbody', {}, ...r.points.map((p) => el('tr', {}, el('td', {}, `${fmtNum(p.lo, 1)}–${fmtNum(p.hi, 1)}`), el('td', { class: 'num' }, fmtInt(p.count)), el('td', { class: 'num' }, fmtNum(p.confidence, 3)), el('td', { class: 'num' }, fmtNum(p.observed, 3)), el('td', { class: 'num' }, fmtNum(p.gap, 3))))),
    ),
  );
  setChildren(reliabilityBody, el('div', { class: 'view-head' }, head, png), box, chartLegend(lines), readout, bins);
  reliabilityChart = new Chart(
    box,
    {
      ariaLabel: `Reliability diagram of ${clip(d.label, 80)}: ECE ${fmtNum(r.ece, 3)}. ${r.points.map((p) => `predicted ${fmtNum(p.confidence, 2)}, observed ${fmtNum(p.observed, 2)} (${p.count})`).join('; ')}.`,
      xLabel: 'Predicted P(A better)',
      yLabel: 'Observed share A',
      height: 260,
      lines,
      xRange: [0, 1],
      yRange: [0, 1],
      onCursor: (idx) => {
        const p = idx !== null && idx > 0 && idx <= r.points.length ? r.points[idx - 1] : undefined;
        setChildren(readout, p ? `Bin ${fmtNum(p.lo, 1)}–${fmtNum(p.hi, 1)}: ${plural(p.count, 'pair')}, predicted ${fmtNum(p.confidence, 3)}, observed ${fmtNum(p.observed, 3)}, gap ${fmtNum(p.gap, 3)}` : el('span', { class: 'muted' }, 'Hover a point for its bin.'));
      },
    },
    data,
    theme,
  );
  setChildren(readout, el('span', { class: 'muted' }, 'Hover a point for its bin.'));
  png.addEventListener('click', () => reliabilityChart && exportPng(reliabilityChart, `Reliability: ${d.label} (ECE ${fmtNum(r.ece, 3)})`, lines.map((l) => ({ label: l.label, color: l.color }))));
}

function renderMargin(d: PmDataset | undefined): void {
  marginChart?.destroy();
  marginChart = undefined;
  if (!d || !d.byMargin.length) {
    setChildren(marginBody, notice(d ? 'This set has no accuracy-by-margin bins.' : 'No held-out set to show.'));
    return;
  }
  const rows = marginRows(d.byMargin);
  const used = rows.filter((r) => r.count > 0 && r.accuracy !== null);
  const last = rows[rows.length - 1]!;
  const xMax = Math.max(1, last.open ? last.lo * 1.25 : (last.hi ?? last.lo));
  const curve = logisticCurve(xMax, 121);
  const a = alignSeries([
    { x: curve.x, ys: [curve.y] },
    { x: used.map((r) => r.x), ys: [used.map((r) => r.expected), used.map((r) => r.accuracy!)] },
  ]);
  const data = [a.x, ...a.ys] as unknown as AlignedData;
  const lines: LineSpec[] = [
    { label: 'σ(Δ), calibrated', color: theme.palette[1]!, style: 'dashed', width: 1.5 },
    { label: 'Calibrated, bin mean', color: theme.palette[1]!, style: 'points', pointSize: 6 },
    { label: 'Observed accuracy', color: theme.palette[0]!, style: 'line', width: 2 },
  ];
  const box = el('div', { class: 'chart-box square' });
  const readout = el('div', { class: 'readout' });
  announceWhileFocused(box, readout);
  const png = el('button', { type: 'button', class: 'secondary small', 'aria-label': 'Export the accuracy chart as PNG' }, 'PNG');
  const binLabel = (r: (typeof rows)[number]): string => (r.open ? `≥ ${fmtNum(r.lo, 2)}` : `${fmtNum(r.lo, 2)}–${fmtNum(r.hi, 2)}`);
  const table = el(
    'table',
    { class: 'data' },
    el('thead', {}, el('tr', {}, el('th', {}, '|r_a − r_b|'), el('th', { class: 'num' }, 'Pairs'), el('th', { class: 'num' }, 'Accuracy'), el('th', { class: 'num' }, 'Calibrated'), el('th', { class: 'num' }, 'Difference'))),
    el(
      'tbody',
      {},
      ...rows.map((r) =>
        el(
          'tr',
          {},
          el('td', {}, binLabel(r)),
          el('td', { class: 'num' }, fmtInt(r.count)),
          el('td', { class: 'num' }, r.accuracy === null ? '–' : fmtPct(r.accuracy)),
          el('td', { class: 'num', title: r.open ? 'σ at the start of the open bin: a lower bound' : 'mean of σ over the bin' }, `${r.open ? '≥ ' : ''}${fmtPct(r.expected)}`),
          el('td', { class: 'num' }, r.accuracy === null ? '–' : `${signed((r.accuracy - r.expected) * 100, 1)} pt`),
        ),
      ),
    ),
  );
  setChildren(marginBody, el('div', { class: 'view-head' }, el('p', { class: 'headline' }, el('span', { class: 'big' }, `Accuracy ${fmtPct(d.accuracy)}`), el('span', { class: 'muted' }, ` · mean margin ${fmtNum(d.meanMargin, 2)}`)), png), box, chartLegend(lines), readout, table);
  marginChart = new Chart(
    box,
    {
      ariaLabel: `Accuracy by score difference for ${clip(d.label, 80)}: ${used.map((r) => `${binLabel(r)}: ${fmtPct(r.accuracy)} (calibrated ${fmtPct(r.expected)})`).join('; ')}.`,
      xLabel: '|r_a − r_b|',
      yLabel: 'Accuracy',
      height: 260,
      lines,
      xRange: [0, xMax],
      yRange: [0, 1],
      onCursor: (idx) => {
        if (idx === null) return setChildren(readout, el('span', { class: 'muted' }, 'Hover for values.'));
        const xv = data[0][idx]!;
        const r = used.find((u) => u.x === xv);
        setChildren(readout, `Δ ${fmtVal(xv)}: σ(Δ) ${fmtPct(1 / (1 + Math.exp(-xv)))}`, r ? ` · bin ${binLabel(r)}: accuracy ${fmtPct(r.accuracy)} of ${plural(r.count, 'pair')}, calibrated ${fmtPct(r.expected)}` : '');
      },
    },
    data,
    theme,
  );
  setChildren(readout, el('span', { class: 'muted' }, 'Hover for values.'));
  png.addEventListener('click', () => marginChart && exportPng(marginChart, `Accuracy by score difference: ${d.label}`, lines.map((l) => ({ label: l.label, color: l.color }))));
}

// --- Elo view ----------------------------------------------------------------------------------

function renderElo(): void {
  if (!report) {
    setChildren(eloBody, notice('No evaluation yet: the evaluation stage writes the policies’ win rates to eval.json.'));
    return;
  }
  const rows = eloRows(report);
  const judged = report.winRates.filter((w) => w.judge);
  if (!rows.length && !judged.length) {
    setChildren(eloBody, notice('No win rates yet: the evaluation stage writes them to eval.json.'));
    return;
  }
  const maxAbs = Math.max(50, ...rows.map((r) => Math.abs(r.deltaElo)), ...rows.map((r) => Math.abs(r.scoreElo ?? 0)));
  const bar = (v: number | undefined, cls: string): HTMLElement => {
    const b = el('span', { class: 'elo-bar', 'aria-hidden': 'true' });
    if (v === undefined || !Number.isFinite(v)) return b;
    const fill = el('span', { class: `elo-fill ${cls} ${v >= 0 ? 'pos' : 'neg'}` });
    fill.style.setProperty('--w', `${Math.min(50, (Math.abs(v) / maxAbs) * 50)}%`);
    b.append(fill);
    return b;
  };
  const name = (s: string | undefined, fallback: string) => revealInvisible(clip(s ?? fallback, 40));
  const judgeByKey = new Map(report.winRates.map((w) => [w.key, w.judge]));
  const table = el(
    'table',
    { class: 'data elo-table' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', {}, 'Comparison'),
        el('th', { class: 'num' }, 'PM win rate'),
        el('th', { class: 'num' }, 'ΔElo'),
        el('th', {}, el('span', { class: 'visually-hidden' }, 'ΔElo bar')),
        el('th', { class: 'num', title: 'Mean PM score of the first policy minus the second' }, 'Δ mean score'),
        el('th', { class: 'num' }, 'Elo-equivalent'),
        el('th', { class: 'num' }, 'Judge win rate'),
      ),
    ),
    el(
      'tbody',
      {},
      ...rows.map((r) => {
        const j = judgeByKey.get(r.key);
        const mismatch = r.recorded !== undefined && Math.abs(r.recorded - r.deltaElo) > 1;
        return el(
          'tr',
          {},
          el('th', { scope: 'row', title: clip(r.key, 500) }, r.a !== undefined ? el('span', {}, name(r.a, ''), el('span', { class: 'muted' }, ' vs '), name(r.b, '')) : name(r.key, '')),
          el('td', { class: 'num' }, fmtPct(r.winRate)),
          el('td', { class: 'num', title: mismatch ? `eval.json says ${fmtNum(r.recorded, 1)}` : `${fmtPct(r.winRate)} win rate` }, signed(r.deltaElo), mismatch ? ' *' : ''),
          el('td', { class: 'bar-cell' }, bar(r.deltaElo, 'win')),
          el('td', { class: 'num' }, r.scoreDiff === undefined ? '–' : signed(r.scoreDiff, 2)),
          el('td', { class: 'num' }, r.scoreElo === undefined ? '–' : signed(r.scoreElo)),
          el('td', { class: 'num' }, j?.winRate !== undefined ? `${fmtPct(j.winRate)} (${signed(eloFromWinRate(j.winRate))})` : '–'),
        );
      }),
    ),
  );
  const policies = report.policies.length
    ? el('p', { class: 'muted' }, 'Mean PM score of each policy on the evaluation prompts: ', ...report.policies.flatMap((p, i) => [i ? ' · ' : '', el('span', { class: 'policy' }, revealInvisible(clip(p.name, 40))), ` ${fmtNum(p.meanPmScore, 3)}`]))
    : null;
  setChildren(eloBody, table, policies, el('p', { class: 'muted note' }, 'A win rate of 64 % is about +100 Elo; a PM score difference of 1 is about +174 Elo.'));
}

// --- exports -----------------------------------------------------------------------------------

function exportPng(chart: Chart, name: string, legend: { label: string; color: string }[]): void {
  host.exportFile({ format: 'png', fileName: `pm-${slug(run?.name ?? 'run')}-${slug(name)}.png`, data: chart.png(`${name} · ${run?.name ?? ''}`, legend) });
  status.textContent = 'Exporting the chart as PNG…';
}

function exportTrainingCsv(c: TrainChart): void {
  const series: CsvSeries[] = c.drawn.map((d) => ({ run: run?.name ?? '', stage: 'pm', metric: d.metric, series: d.series }));
  if (!series.length) return;
  host.exportFile({ format: 'csv', fileName: `pm-${slug(run?.name ?? 'run')}-${slug(c.name)}.csv`, data: seriesCsv(series, smoothing) });
  status.textContent = 'Exporting the curves as CSV…';
}

exportTables.addEventListener('click', () => {
  if (!report) {
    status.textContent = 'Nothing to export: there is no evaluation yet.';
    return;
  }
  host.exportFile({ format: 'csv', fileName: `pm-report-${slug(run?.name ?? 'run')}.csv`, data: reportCsv(report) });
  status.textContent = 'Exporting the report tables as CSV…';
});

smoothingInput.addEventListener('input', () => {
  smoothing = clampSmoothing(Number(smoothingInput.value));
  smoothingOut.textContent = smoothing.toFixed(2);
  saveState();
  renderTrainingSoon();
});

// --- rendering ---------------------------------------------------------------------------------

let themeEpoch = 0;
let evalVersion = 0;
let drawnEval = -1;
let drawnDataset: string | undefined;

const renderTrainingSoon = perFrame(renderTraining);
const render = perFrame(() => {
  title.textContent = run ? `Preference model · ${revealInvisible(clip(run.name, 100))}` : 'Preference model';
  renderTraining();
  const cur = currentDataset();
  if (drawnEval !== evalVersion || drawnDataset !== cur?.key) {
    drawnEval = evalVersion;
    drawnDataset = cur?.key;
    renderSummary();
    renderReliability(cur);
    renderMargin(cur);
    renderElo();
  }
  const steps = metrics.stages.get('pm')?.steps.length ?? 0;
  status.textContent = run ? `${plural(steps, 'training step')}${report ? ` · ${plural(report.datasets.length, 'held-out set')}` : ''}` : '';
});

onThemeChange(() => {
  theme = readTheme();
  themeEpoch++;
  evalVersion++;
  render();
});

function receive(m: PmReportHostToPage): void {
  switch (m.type) {
    case 'pmReport/run':
      if (typeof m.payload?.name !== 'string' || typeof m.payload.dir !== 'string') return;
      run = { name: m.payload.name, dir: m.payload.dir, kind: m.payload.kind === 'trl' ? 'trl' : 'run' };
      metrics.clear();
      report = undefined;
      evalVersion++;
      saveState();
      render();
      break;
    case 'pmReport/rows': {
      if (!Array.isArray(m.payload?.rows)) return;
      if (m.payload.reset) metrics.clear();
      const rows = [];
      for (const x of m.payload.rows) {
        const r = checkRow(x);
        if (r && r.stage === 'pm') rows.push(r);
      }
      metrics.add(rows);
      render();
      break;
    }
    case 'pmReport/eval':
      report = m.payload?.report && typeof m.payload.report === 'object' && Array.isArray(m.payload.report.datasets) ? m.payload.report : null;
      evalError = typeof m.payload?.error === 'string' ? m.payload.error : undefined;
      evalVersion++;
      render();
      break;
  }
}

host.ready();
