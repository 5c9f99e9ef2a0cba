/**
 * The page of the "Completions over training" panel: a run's PPO rollouts step by step, with each
 * step's reward summary (mean, min, max, mean KL), a small chart of the mean reward and its
 * min–max band over steps, the step's rollouts sortable by score, and one prompt followed across
 * the steps it was rolled out in. New steps arrive while the run trains.
 *
 * Every string is model output or run data, so hostile: text nodes only, through el().
 */
import type { CompletionSample, CompletionsHostToPage, CompletionsPageToHost, CompletionsPanelState, CompletionsSort, StepSummaryWire } from '../../src/protocol/panels/completions.js';
import { el, fmtInt, fmtNum, longText, notice, plural, revealInvisible, setChildren, statusLine } from '../shared/dom.js';
import { connect } from '../shared/host.js';

// --- the host --------------------------------------------------------------------------------

const conn = connect<CompletionsHostToPage, CompletionsPageToHost, CompletionsPanelState>(['completions/'], (m) => onMessage(m));
const host = {
  requestStep: (step: number): void => conn.post({ type: 'completions/requestStep', payload: { step } }),
  requestPrompt: (key: string): void => conn.post({ type: 'completions/requestPrompt', payload: { key } }),
};

// --- state -----------------------------------------------------------------------------------

const saved = conn.getState();
let state: CompletionsPanelState = saved && Array.isArray(saved.runDirs) ? saved : { runDirs: [], followLatest: true };
/** Step summaries by step, and the steps in order. */
const summaries = new Map<number, StepSummaryWire>();
let steps: number[] = [];
let loaded = false;
let badLines = 0;
let sampleCount = 0;
/** The rollouts of the step shown (when they have arrived). */
let shown: { step: number; samples: CompletionSample[]; total: number; count: number } | undefined;
let followed: { key: string; samples: CompletionSample[]; total: number } | undefined;
/** The step whose rollouts were asked for last. */
let requested: number | undefined;

function save(patch: Partial<CompletionsPanelState>): void {
  state = { ...state, ...patch };
  conn.setState(state);
}

// --- layout ----------------------------------------------------------------------------------

const title = el('h1', {}, 'Completions over training');
const prev = el('button', { type: 'button', class: 'secondary', id: 'prev', 'aria-label': 'Previous step', title: 'Previous step (←)' }, '◀');
const next = el('button', { type: 'button', class: 'secondary', id: 'next', 'aria-label': 'Next step', title: 'Next step (→)' }, '▶');
const slider = el('input', { type: 'range', id: 'step-slider', min: '0', max: '0', step: '1', value: '0', 'aria-label': 'PPO step' });
const stepLabel = el('output', { id: 'step-label', for: 'step-slider', 'aria-live': 'polite' });
const follow = el('input', { type: 'checkbox', id: 'follow' });
const sortSelect = el(
  'select',
  { id: 'sort', 'aria-label': 'Order of rollouts' },
  el('option', { value: 'file' }, 'In rollout order'),
  el('option', { value: 'score-desc' }, 'Score, highest first'),
  el('option', { value: 'score-asc' }, 'Score, lowest first'),
);
const status = statusLine('status');
const topNotice = el('div', { id: 'top-notice' });
const chartBox = el('div', { id: 'chart', class: 'chart' });
const summaryBox = el('div', { id: 'summary', class: 'summary', 'aria-label': 'Reward summary of the step' });
const samplesBox = el('section', { id: 'samples', 'aria-label': 'Rollouts of the step' });
const promptBox = el('section', { id: 'prompt-follow', 'aria-label': 'A prompt across steps' });
promptBox.hidden = true;

setChildren(
  document.getElementById('app')!,
  title,
  el(
    'div',
    { class: 'toolbar', role: 'toolbar', 'aria-label': 'Steps' },
    el('span', { class: 'stepper' }, prev, slider, next, stepLabel),
    el('label', {}, follow, 'Follow latest step'),
    el('label', {}, 'Sort', sortSelect),
    status,
  ),
  topNotice,
  el('div', { class: 'overview' }, chartBox, summaryBox),
  promptBox,
  samplesBox,
);
follow.checked = state.followLatest !== false;
sortSelect.value = state.sort ?? 'file';

// --- steps -----------------------------------------------------------------------------------

const currentIndex = (): number => (state.step === undefined ? -1 : steps.indexOf(state.step));

function goTo(step: number | undefined, o: { fromUser?: boolean } = {}): void {
  if (step === undefined || !summaries.has(step)) return;
  if (o.fromUser && step !== steps[steps.length - 1] && follow.checked) {
    // the user went back in time: stop jumping to new steps
    follow.checked = false;
    save({ followLatest: false });
  }
  const changed = state.step !== step;
  save({ step });
  showStepper();
  drawChart();
  showSummary();
  if (followed && changed) showFollowed();
  if (changed || !shown || shown.step !== step) {
    shown = undefined;
    requested = step;
    setChildren(samplesBox, el('p', { class: 'muted', role: 'status' }, `Loading the rollouts of step ${fmtInt(step)}…`));
    host.requestStep(step);
  }
}

function showStepper(): void {
  const i = currentIndex();
  slider.max = String(Math.max(0, steps.length - 1));
  slider.value = String(Math.max(0, i));
  slider.disabled = steps.length === 0;
  prev.disabled = i <= 0;
  next.disabled = i < 0 || i >= steps.length - 1;
  const label = i < 0 ? 'No step' : `Step ${fmtInt(steps[i]!)} (${fmtInt(i + 1)} of ${fmtInt(steps.length)})`;
  stepLabel.textContent = label;
  slider.setAttribute('aria-valuetext', label);
}

function showStatus(): void {
  const parts = [`${plural(sampleCount, 'rollout')} in ${plural(steps.length, 'step')}`];
  if (!loaded) parts.push('loading…');
  if (badLines > 0) parts.push(`${plural(badLines, 'damaged line')} skipped`);
  status.textContent = parts.join(' · ');
}

slider.addEventListener('input', () => goTo(steps[Number(slider.value)], { fromUser: true }));
prev.addEventListener('click', () => goTo(steps[currentIndex() - 1], { fromUser: true }));
next.addEventListener('click', () => goTo(steps[currentIndex() + 1], { fromUser: true }));
follow.addEventListener('change', () => {
  save({ followLatest: follow.checked });
  if (follow.checked) goTo(steps[steps.length - 1]);
});
sortSelect.addEventListener('change', () => {
  save({ sort: sortSelect.value as CompletionsSort });
  showSamples();
});
// ← and → step through time from anywhere but a text field or a control that uses them itself
document.addEventListener('keydown', (e) => {
  if (e.altKey || e.ctrlKey || e.metaKey) return;
  const t = e.target as Element | null;
  if (t && t !== document.body && t.closest('input, select, textarea, [role="region"], details')) return;
  if (e.key === 'ArrowLeft') goTo(steps[currentIndex() - 1], { fromUser: true });
  else if (e.key === 'ArrowRight') goTo(steps[currentIndex() + 1], { fromUser: true });
  else return;
  e.preventDefault();
});

// --- the chart: mean reward with its min–max band, one point per step -----------------------

const SVG = 'http://www.w3.org/2000/svg';
function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function drawChart(): void {
  const data = steps.map((s) => summaries.get(s)!).filter((s) => s.mean !== null);
  if (data.length < 2) {
    setChildren(chartBox);
    chartBox.hidden = true;
    return;
  }
  chartBox.hidden = false;
  const W = 600;
  const H = 120;
  const pad = { l: 40, r: 8, t: 8, b: 18 };
  const lo = Math.min(...data.map((d) => d.min ?? d.mean!));
  const hi = Math.max(...data.map((d) => d.max ?? d.mean!));
  const span = hi - lo || 1;
  const s0 = data[0]!.step;
  const s1 = data[data.length - 1]!.step;
  const x = (step: number) => pad.l + ((step - s0) / (s1 - s0 || 1)) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - lo) / span) * (H - pad.t - pad.b);
  const band = [...data.map((d) => `${x(d.step).toFixed(1)},${y(d.max ?? d.mean!).toFixed(1)}`), ...[...data].reverse().map((d) => `${x(d.step).toFixed(1)},${y(d.min ?? d.mean!).toFixed(1)}`)].join(' ');
  const line = data.map((d) => `${x(d.step).toFixed(1)},${y(d.mean!).toFixed(1)}`).join(' ');
  const last = data[data.length - 1]!;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', preserveAspectRatio: 'none' });
  root.setAttribute('aria-label', `Mean reward by step, from ${fmtNum(data[0]!.mean)} at step ${s0} to ${fmtNum(last.mean)} at step ${s1}; band: min to max`);
  root.append(
    svg('line', { x1: pad.l, x2: W - pad.r, y1: H - pad.b, y2: H - pad.b, class: 'axis' }),
    svg('polygon', { points: band, class: 'band' }),
    svg('polyline', { points: line, class: 'mean' }),
  );
  const cur = state.step;
  if (cur !== undefined && summaries.has(cur)) root.append(svg('line', { x1: x(cur), x2: x(cur), y1: pad.t, y2: H - pad.b, class: 'cursor' }));
  const ticks = el('div', { class: 'chart-ticks muted', 'aria-hidden': 'true' }, el('span', {}, `step ${fmtInt(s0)}`), el('span', {}, `max ${fmtNum(hi)} · min ${fmtNum(lo)}`), el('span', {}, `step ${fmtInt(s1)}`));
  root.addEventListener('click', (e) => {
    const r = root.getBoundingClientRect();
    const sx = ((e.clientX - r.left) / r.width) * W;
    const target = s0 + ((sx - pad.l) / (W - pad.l - pad.r)) * (s1 - s0);
    let best = steps[0]!;
    for (const s of steps) if (Math.abs(s - target) < Math.abs(best - target)) best = s;
    goTo(best, { fromUser: true });
  });
  setChildren(chartBox, el('div', { class: 'chart-title muted' }, 'Mean reward by step (band: min–max)'), root, ticks);
}

function showSummary(): void {
  const s = state.step === undefined ? undefined : summaries.get(state.step);
  if (!s) {
    setChildren(summaryBox);
    return;
  }
  const i = steps.indexOf(s.step);
  const before = i > 0 ? summaries.get(steps[i - 1]!) : undefined;
  const delta = before && before.mean !== null && s.mean !== null ? s.mean - before.mean : null;
  const item = (k: string, v: string, id: string) => el('div', { class: 'stat' }, el('dt', {}, k), el('dd', { id }, v));
  setChildren(
    summaryBox,
    el('h2', {}, `Step ${fmtInt(s.step)}`),
    el(
      'dl',
      { class: 'stats' },
      item('Rollouts', fmtInt(s.count), 'stat-count'),
      item('Mean reward', fmtNum(s.mean), 'stat-mean'),
      item('Min', fmtNum(s.min), 'stat-min'),
      item('Max', fmtNum(s.max), 'stat-max'),
      item('Mean KL', fmtNum(s.meanKl), 'stat-kl'),
      item('Δ mean vs previous', delta === null ? '–' : `${delta >= 0 ? '+' : ''}${fmtNum(delta)}`, 'stat-delta'),
    ),
  );
}

// --- the rollouts of a step ------------------------------------------------------------------

function sorted(samples: readonly CompletionSample[]): CompletionSample[] {
  const sort = state.sort ?? 'file';
  if (sort === 'file') return [...samples];
  const sign = sort === 'score-desc' ? -1 : 1;
  return [...samples].sort((a, b) => {
    if ((a.score === null) !== (b.score === null)) return a.score === null ? 1 : -1;
    return a.score === null || b.score === null ? 0 : sign * (a.score - b.score);
  });
}

/** A table cell's text, cut at SHOWN_CHARS with "Show all" (a megabyte of text in a cell would stall layout). */
function textCell(t: string, label: string): HTMLElement {
  return longText(el('div', { class: 'cell-text', tabindex: '0', role: 'region', 'aria-label': label }), t, '(empty)');
}

function showSamples(): void {
  if (!shown) return;
  if (shown.samples.length === 0) {
    setChildren(samplesBox, notice(`Step ${fmtInt(shown.step)} has no rollouts that could be read.`));
    return;
  }
  const rowsEls = sorted(shown.samples).map((s, i) =>
    el(
      'tr',
      { 'data-id': s.id, class: followed?.key === s.key ? 'selected' : undefined },
      el('td', { class: 'num' }, String(i + 1)),
      el('td', { class: 'col-prompt' }, textCell(s.prompt, 'Prompt')),
      el('td', { class: 'col-response' }, textCell(s.response, 'Response')),
      el('td', { class: 'num score' }, fmtNum(s.score)),
      el('td', { class: 'num' }, fmtNum(s.kl)),
      el(
        'td',
        { class: 'across' },
        s.promptSteps > 1
          ? el('button', { type: 'button', class: 'secondary follow-prompt', 'data-key': s.key, title: 'Show this prompt in every step it was rolled out in' }, `Follow (${fmtInt(s.promptSteps)} steps)`)
          : el('span', { class: 'muted' }, 'this step only'),
      ),
    ),
  );
  const table = el(
    'table',
    { class: 'data samples', 'aria-label': `Rollouts of step ${shown.step}` },
    el('thead', {}, el('tr', {}, el('th', { class: 'num', scope: 'col' }, '#'), el('th', { scope: 'col' }, 'Prompt'), el('th', { scope: 'col' }, 'Response'), el('th', { class: 'num', scope: 'col' }, 'Score'), el('th', { class: 'num', scope: 'col' }, 'KL'), el('th', { scope: 'col' }, 'Across steps'))),
    el('tbody', {}, ...rowsEls),
  );
  table.addEventListener('click', (e) => {
    const b = (e.target as Element).closest<HTMLButtonElement>('button.follow-prompt');
    const key = b?.dataset['key'];
    if (key === undefined) return;
    save({ promptKey: key });
    followed = undefined;
    promptBox.hidden = false;
    setChildren(promptBox, el('p', { class: 'muted', role: 'status' }, 'Loading the prompt across steps…'));
    host.requestPrompt(key);
  });
  const more = shown.total > shown.samples.length ? el('p', { class: 'muted' }, `Showing the first ${fmtInt(shown.samples.length)} of ${fmtInt(shown.total)} rollouts of this step.`) : null;
  setChildren(samplesBox, el('h2', {}, `Rollouts of step ${fmtInt(shown.step)}`), more, table);
}

function showFollowed(): void {
  if (!followed) return;
  const f = followed;
  const first = f.samples[0];
  const close = el('button', { type: 'button', class: 'secondary', id: 'close-follow' }, 'Close');
  close.addEventListener('click', () => {
    followed = undefined;
    save({ promptKey: undefined });
    promptBox.hidden = true;
    setChildren(promptBox);
    showSamples();
  });
  if (!first) {
    setChildren(promptBox, el('div', { class: 'follow-head' }, el('h2', {}, 'Prompt across steps'), close), notice('This prompt has no rollouts any more.'));
    return;
  }
  const rowsEls = f.samples.map((s) =>
    el(
      'tr',
      { class: s.step === state.step ? 'selected' : undefined },
      el('td', { class: 'num' }, el('button', { type: 'button', class: 'link-button goto-step', 'data-step': s.step, title: `Show step ${s.step}` }, fmtInt(s.step))),
      el('td', { class: 'num score' }, fmtNum(s.score)),
      el('td', { class: 'num' }, fmtNum(s.kl)),
      el('td', { class: 'col-response' }, textCell(s.response, `Response at step ${s.step}`)),
    ),
  );
  const table = el(
    'table',
    { class: 'data follow', 'aria-label': 'The prompt across steps' },
    el('thead', {}, el('tr', {}, el('th', { class: 'num', scope: 'col' }, 'Step'), el('th', { class: 'num', scope: 'col' }, 'Score'), el('th', { class: 'num', scope: 'col' }, 'KL'), el('th', { scope: 'col' }, 'Response'))),
    el('tbody', {}, ...rowsEls),
  );
  table.addEventListener('click', (e) => {
    const b = (e.target as Element).closest<HTMLButtonElement>('button.goto-step');
    if (b?.dataset['step'] !== undefined) goTo(Number(b.dataset['step']), { fromUser: true });
  });
  setChildren(
    promptBox,
    el('div', { class: 'follow-head' }, el('h2', {}, `Prompt across ${plural(new Set(f.samples.map((s) => s.step)).size, 'step')}`), close),
    el('div', { class: 'text-block', role: 'region', 'aria-label': 'Prompt text', tabindex: '0' }, revealInvisible(first.prompt) || '(empty prompt)'),
    f.total > f.samples.length ? el('p', { class: 'muted' }, `Showing the first ${fmtInt(f.samples.length)} of ${fmtInt(f.total)} rollouts.`) : null,
    table,
  );
}

// --- messages --------------------------------------------------------------------------------

function onMessage(m: CompletionsHostToPage): void {
  switch (m.type) {
    case 'completions/init': {
      const p = m.payload;
      if (state.runDirs[0] !== p.runDir) state = { runDirs: [p.runDir], followLatest: true };
      save({ runDirs: [p.runDir], ...(p.step !== undefined ? { step: p.step, followLatest: false } : {}) });
      follow.checked = state.followLatest !== false;
      setChildren(title, 'Completions over training', el('span', { class: 'muted run-name' }, ` · ${p.runName}`));
      summaries.clear();
      steps = [];
      loaded = false;
      shown = undefined;
      requested = undefined;
      followed = undefined;
      setChildren(topNotice);
      setChildren(samplesBox);
      if (state.promptKey !== undefined) {
        promptBox.hidden = false;
        setChildren(promptBox, el('p', { class: 'muted', role: 'status' }, 'Loading the prompt across steps…'));
        host.requestPrompt(state.promptKey);
      }
      break;
    }
    case 'completions/steps': {
      const p = m.payload;
      const before = steps[steps.length - 1];
      for (const s of p.steps) summaries.set(s.step, s);
      steps = [...summaries.keys()].sort((a, b) => a - b);
      loaded = p.loaded;
      badLines = p.badLines;
      sampleCount = p.samples;
      showStatus();
      const latest = steps[steps.length - 1];
      const cur = state.step;
      if (latest === undefined) {
        if (loaded) setChildren(samplesBox, notice('No PPO rollouts in this run yet. samples.jsonl gets each PPO iteration\'s rollouts while the RL-CAI stage trains; they appear here step by step.'));
        showStepper();
        break;
      }
      if (cur === undefined || !summaries.has(cur) || (follow.checked && latest !== before)) goTo(follow.checked || cur === undefined || !summaries.has(cur) ? latest : cur);
      else if (requested !== cur) goTo(cur);
      else {
        showStepper();
        drawChart();
        showSummary();
        // the step shown got more rollouts: read it again
        const grown = p.steps.find((s) => s.step === cur);
        if (grown && shown && shown.step === cur && grown.count !== shown.count) host.requestStep(cur);
      }
      if (followed && p.steps.length) host.requestPrompt(followed.key);
      break;
    }
    case 'completions/reset':
      summaries.clear();
      steps = [];
      shown = undefined;
      requested = undefined;
      showStepper();
      drawChart();
      showSummary();
      setChildren(samplesBox);
      break;
    case 'completions/step':
      if (m.payload.step !== state.step) break;
      shown = { step: m.payload.step, samples: m.payload.samples, total: m.payload.total, count: summaries.get(m.payload.step)?.count ?? m.payload.total };
      showSamples();
      break;
    case 'completions/prompt':
      if (m.payload.key !== state.promptKey) break;
      followed = { key: m.payload.key, samples: m.payload.samples, total: m.payload.total };
      promptBox.hidden = false;
      showFollowed();
      showSamples();
      break;
    case 'completions/error':
      setChildren(topNotice, notice(m.payload.message, 'error'));
      break;
  }
}

showStepper();
conn.ready();
