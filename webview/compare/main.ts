/**
 * The page of the "Compare runs" panel: two or more runs' evaluation answers joined by prompt
 * text, one column per run × policy (base, sl_cai, rl_cai), with each run's mean preference-model
 * scores, win rates (and the Elo difference they imply) and, where the world's oracle measured,
 * its harmless / evasive / helpful rates. Filter by prompt text; new answers arrive while runs
 * evaluate.
 *
 * Every string is model output or run data, so hostile: text nodes only, through el().
 */
import { answerColumns, comparePolicies, eloDelta, joinAnswers, type EvalAnswer, type EvalSummary, type JoinedPrompt } from '../../src/core/runs/compare.js';
import type { CompareHostToPage, ComparePageToHost, ComparePanelState, CompareRunInfo, CompareSummaryMessage } from '../../src/protocol/panels/compare.js';
import { el, fmtInt, fmtNum, fmtPct, longText, notice, perFrame, plural, revealInvisible, setChildren, statusLine } from '../shared/dom.js';
import { connect } from '../shared/host.js';

// --- the host (the page only listens) ---------------------------------------------------------

const conn = connect<CompareHostToPage, ComparePageToHost, ComparePanelState>(['compare/'], (m) => onMessage(m));

// --- state -----------------------------------------------------------------------------------

const saved = conn.getState();
let state: ComparePanelState = saved && Array.isArray(saved.runDirs) ? saved : { runDirs: [] };
let runs: CompareRunInfo[] = [];
let answers: EvalAnswer[][] = [];
let loadedRuns: boolean[] = [];
let summaries: (CompareSummaryMessage['payload'] | undefined)[] = [];
let joined: JoinedPrompt[] = [];
/** Prompts shown before "Show more". */
const PAGE = 40;
let limit = PAGE;

function save(patch: Partial<ComparePanelState>): void {
  state = { ...state, ...patch };
  conn.setState(state);
}

// --- layout ----------------------------------------------------------------------------------

const title = el('h1', {}, 'Compare runs');
const topNotice = el('div', { id: 'top-notice' });
const summaryBox = el('section', { id: 'summary', 'aria-label': 'Run summaries' });
const search = el('input', { type: 'search', id: 'filter', placeholder: 'Filter prompts', 'aria-label': 'Filter prompts by text', spellcheck: 'false' });
const policyBox = el('span', { class: 'policies', role: 'group', 'aria-label': 'Policies shown' });
const common = el('input', { type: 'checkbox', id: 'common' });
const status = statusLine('status');
const promptsBox = el('section', { id: 'prompts', 'aria-label': 'Answers by prompt' });

setChildren(
  document.getElementById('app')!,
  title,
  topNotice,
  summaryBox,
  el('h2', {}, 'Answers side by side'),
  el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Filters' }, search, policyBox, el('label', { title: 'Only prompts that every run answered' }, common, 'In every run'), status),
  promptsBox,
);
search.value = state.query ?? '';
common.checked = state.commonOnly === true;

let searchTimer: number | undefined;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = window.setTimeout(() => {
    save({ query: search.value });
    limit = PAGE;
    showPrompts();
  }, 120);
});
common.addEventListener('change', () => {
  save({ commonOnly: common.checked });
  limit = PAGE;
  showPrompts();
});

// --- summaries -------------------------------------------------------------------------------

const runName = (i: number): string => runs[i]?.name ?? `run ${i + 1}`;

function eloText(d: number | undefined): string {
  if (d === undefined) return '';
  if (!Number.isFinite(d)) return d > 0 ? ' (+∞ Elo)' : ' (−∞ Elo)';
  return ` (${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(0)} Elo)`;
}

function table(caption: string, id: string, head: string[], body: (Node | string)[][]): HTMLElement {
  return el(
    'table',
    { class: 'data summary-table', id },
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head.map((h, i) => el('th', { scope: 'col', class: i > 0 ? 'num' : undefined }, h)))),
    el('tbody', {}, ...body.map((r) => el('tr', {}, ...r.map((c, i) => (i === 0 ? el('th', { scope: 'row' }, c) : el('td', { class: 'num' }, c)))))),
  );
}

function showSummaries(): void {
  const sums = summaries.map((s) => s?.summary ?? null);
  const policies = [...new Set(sums.flatMap((s) => s?.policies.map((p) => p.policy) ?? []))].sort(comparePolicies);
  const parts: Node[] = [];
  const errors = summaries.flatMap((s, i) => (s?.error ? [notice(`${runName(i)}: eval.json could not be read: ${s.error}`, 'error')] : []));
  parts.push(...errors);

  if (sums.every((s) => s === null)) {
    parts.push(notice('No run has an evaluation yet (eval.json is written by the evaluation stage). Answers appear below as the runs write them.'));
  } else {
    // mean PM score by policy
    const rows = runs.map((_, i) => {
      const s = sums[i];
      const ppo = summaries[i]?.ppo;
      return [
        revealInvisible(runName(i)),
        ...policies.map((p) => {
          const x = s?.policies.find((q) => q.policy === p);
          return x?.mean_pm_score === undefined ? '–' : `${fmtNum(x.mean_pm_score)}${x.prompts !== undefined ? ` (${fmtInt(x.prompts)})` : ''}`;
        }),
        ppo && ppo.lastStep !== null ? `${fmtNum(ppo.lastMean)} @ ${fmtInt(ppo.lastStep)}` : '–',
      ];
    });
    parts.push(table('Mean preference-model score by policy (prompts)', 'pm-scores', ['Run', ...policies.map((p) => revealInvisible(p)), 'PPO mean reward @ last step'], rows));

    // win rates
    const keys = [...new Set(sums.flatMap((s) => s?.winRates.map((w) => w.key) ?? []))];
    const winOf = (s: EvalSummary | null, key: string) => s?.winRates.find((w) => w.key === key);
    const sortedKeys = keys.sort((a, b) => {
      const wa = sums.map((s) => winOf(s, a)).find(Boolean)!;
      const wb = sums.map((s) => winOf(s, b)).find(Boolean)!;
      return comparePolicies(wb.a, wa.a) || comparePolicies(wb.b, wa.b);
    });
    if (sortedKeys.length) {
      const hasJudge = sortedKeys.some((k) => sums.some((s) => winOf(s, k)?.judge));
      const head = ['Run', ...sortedKeys.map((k) => {
        const w = sums.map((s) => winOf(s, k)).find(Boolean)!;
        return w.b ? `${w.a} vs ${w.b}` : k;
      })];
      const pmRows = runs.map((_, i) => [
        revealInvisible(runName(i)),
        ...sortedKeys.map((k) => {
          const w = winOf(sums[i] ?? null, k)?.pm;
          return w?.win_rate === undefined ? '–' : `${fmtPct(w.win_rate)}${eloText(w.delta_elo ?? eloDelta(w.win_rate))}`;
        }),
      ]);
      parts.push(table('Win rates under the preference model (ties count half; Elo difference 400·log10(w/(1−w)))', 'win-rates', head.map((h) => revealInvisible(h)), pmRows));
      if (hasJudge) {
        const judgeRows = runs.map((_, i) => [
          revealInvisible(runName(i)),
          ...sortedKeys.map((k) => {
            const j = winOf(sums[i] ?? null, k)?.judge;
            if (!j || j.win_rate === undefined) return '–';
            return `${fmtPct(j.win_rate)}${j.soft_win_rate !== undefined ? ` · soft ${fmtPct(j.soft_win_rate)}` : ''}${j.flip_rate !== undefined ? ` · flips ${fmtPct(j.flip_rate)}` : ''}`;
          }),
        ]);
        parts.push(table('Win rates under the judge (soft: mean P(first wins); flips: preferred position changed with the order)', 'judge-rates', head.map((h) => revealInvisible(h)), judgeRows));
      }
    }

    // the oracle, when one measured
    const oracleRuns = sums.map((s, i) => ({ s, i })).filter(({ s }) => s && (s.oracle !== undefined || s.oracleMetrics.length || s.policies.some((p) => p.oracle?.length)));
    if (oracleRuns.length) {
      const metricNames = [...new Set(oracleRuns.flatMap(({ s }) => s!.policies.flatMap((p) => p.oracle?.map((o) => o.name) ?? [])))];
      const rates = new Set(['harmless_rate', 'evasive_rate', 'benign_helpfulness', 'unparseable_rate']);
      const fmtMetric = (name: string, v: number) => (rates.has(name) || name.endsWith('_rate') || name.endsWith('_accuracy') || name === 'ai_label_agreement' ? fmtPct(v) : fmtNum(v));
      const body: (Node | string)[][] = [];
      for (const { s, i } of oracleRuns) {
        for (const p of s!.policies) {
          if (!p.oracle?.length) continue;
          body.push([`${runName(i)} · ${p.policy}`, ...metricNames.map((n) => {
            const v = p.oracle!.find((o) => o.name === n);
            return v === undefined ? '–' : fmtMetric(n, v.value);
          })]);
        }
      }
      const oracleName = oracleRuns.map(({ s }) => s!.oracle).find((o) => o !== undefined);
      if (body.length) parts.push(table(`What the ${oracleName ? `${oracleName} ` : ''}oracle measured, per policy`, 'oracle-policies', ['Run · policy', ...metricNames.map((n) => n.replace(/_/g, ' '))], body.map((r) => r.map((c) => (typeof c === 'string' ? revealInvisible(c) : c)))));
      const runMetricNames = [...new Set(oracleRuns.flatMap(({ s }) => s!.oracleMetrics.map((m) => m.name)))];
      if (runMetricNames.length) {
        const rows2 = oracleRuns.map(({ s, i }) => [revealInvisible(runName(i)), ...runMetricNames.map((n) => {
          const v = s!.oracleMetrics.find((m) => m.name === n);
          return v === undefined ? '–' : fmtMetric(n, v.value);
        })]);
        parts.push(table('The oracle on the run', 'oracle-run', ['Run', ...runMetricNames.map((n) => n.replace(/_/g, ' '))], rows2));
      }
    }
  }
  setChildren(summaryBox, ...parts);
}

// --- answers side by side --------------------------------------------------------------------

function rejoin(): void {
  joined = joinAnswers(answers);
  showPolicies();
  showPrompts();
}
const rejoinSoon = perFrame(rejoin);

function showPolicies(): void {
  const policies = [...new Set(answerColumns(joined).map((c) => c.policy))];
  const hidden = new Set(state.hiddenPolicies ?? []);
  setChildren(
    policyBox,
    ...policies.map((p) => {
      const box = el('input', { type: 'checkbox', 'data-policy': p });
      box.checked = !hidden.has(p);
      box.addEventListener('change', () => {
        const h = new Set(state.hiddenPolicies ?? []);
        if (box.checked) h.delete(p);
        else h.add(p);
        save({ hiddenPolicies: [...h] });
        showPrompts();
      });
      return el('label', {}, box, revealInvisible(p));
    }),
  );
}

function showPrompts(): void {
  const q = (state.query ?? '').trim().toLowerCase();
  const hidden = new Set(state.hiddenPolicies ?? []);
  const cols = answerColumns(joined).filter((c) => !hidden.has(c.policy));
  const match = joined.filter((j) => (!q || j.prompt.toLowerCase().includes(q)) && (!state.commonOnly || j.runCount === runs.length));
  const loading = loadedRuns.some((l) => !l);
  status.textContent = `${fmtInt(match.length)} of ${plural(joined.length, 'prompt')}${loading ? ' · loading…' : ''}`;
  if (joined.length === 0) {
    setChildren(promptsBox, loading ? el('p', { class: 'muted', role: 'status' }, 'Reading the runs’ answers…') : notice('None of these runs has evaluation answers yet (samples.jsonl, stage "eval"). They appear here while the evaluation stage runs.'));
    return;
  }
  if (match.length === 0) {
    setChildren(promptsBox, notice('No prompt matches the filter.'));
    return;
  }
  if (cols.length === 0) {
    setChildren(promptsBox, notice('Every policy is hidden: tick one above.'));
    return;
  }
  // one grid column per visible run × policy, the same in every card, so columns line up down the page
  promptsBox.style.setProperty('--cols', String(cols.length));
  const cards = match.slice(0, limit).map((j, n) => {
    const cells = cols.map((c, k) => {
      const cell = j.cells.find((x) => x.run === c.run && x.policy === c.policy);
      const head = el('div', { class: 'answer-head' }, el('span', { class: 'answer-run' }, revealInvisible(runName(c.run))), el('span', { class: `policy policy-${/^[a-z_]+$/.test(c.policy) ? c.policy : 'other'}` }, revealInvisible(c.policy)), cell?.score !== undefined ? el('span', { class: 'score', title: 'Preference-model score' }, `PM ${fmtNum(cell.score)}`) : null);
      return el(
        'div',
        { class: `answer${cell ? '' : ' missing'}${k > 0 && cols[k - 1]!.run !== c.run ? ' run-start' : ''}`, role: 'group', 'aria-label': `${runName(c.run)}, ${c.policy}` },
        head,
        cell ? longText(el('div', { class: 'answer-text', tabindex: '0' }), cell.response, '(empty answer)') : el('div', { class: 'muted answer-text' }, 'no answer to this prompt'),
      );
    });
    return el(
      'article',
      { class: 'prompt-card', 'aria-labelledby': `p-${n}` },
      longText(el('h3', { id: `p-${n}`, class: 'prompt-text' }), j.prompt, '(empty prompt)'),
      j.runCount < runs.length ? el('p', { class: 'muted partial' }, `answered in ${fmtInt(j.runCount)} of ${plural(runs.length, 'run')}`) : null,
      el('div', { class: 'answers' }, ...cells),
    );
  });
  const rest = match.length - limit;
  const more = rest > 0 ? el('button', { type: 'button', class: 'secondary', id: 'more' }, `Show ${fmtInt(Math.min(PAGE, rest))} more (${fmtInt(rest)} left)`) : null;
  more?.addEventListener('click', () => {
    limit += PAGE;
    const y = window.scrollY;
    showPrompts();
    window.scrollTo(0, y);
    document.querySelectorAll<HTMLElement>('.prompt-card')[limit - PAGE]?.querySelector<HTMLElement>('.answer-text')?.focus();
  });
  setChildren(promptsBox, ...cards, more);
}

// --- messages --------------------------------------------------------------------------------

function onMessage(m: CompareHostToPage): void {
  switch (m.type) {
    case 'compare/init': {
      runs = m.payload.runs;
      const dirs = runs.map((r) => r.runDir);
      if (dirs.join('\n') !== state.runDirs.join('\n')) state = { runDirs: dirs };
      save({ runDirs: dirs });
      answers = runs.map(() => []);
      loadedRuns = runs.map(() => false);
      summaries = runs.map(() => undefined);
      limit = PAGE;
      setChildren(title, 'Compare runs', el('span', { class: 'muted run-name' }, ` · ${runs.map((r) => r.name).join(' · ')}`));
      setChildren(topNotice, runs.length < 2 ? notice('Choose two or more runs to compare.') : null);
      showSummaries();
      rejoin();
      break;
    }
    case 'compare/summary':
      if (m.payload.run < 0 || m.payload.run >= runs.length) break;
      summaries[m.payload.run] = m.payload;
      showSummaries();
      break;
    case 'compare/answers': {
      const r = answers[m.payload.run];
      if (!r) break;
      const ids = new Set(r.map((a) => a.id));
      for (const a of m.payload.answers) if (!ids.has(a.id)) r.push(a);
      loadedRuns[m.payload.run] = m.payload.loaded;
      rejoinSoon();
      break;
    }
    case 'compare/reset':
      if (answers[m.payload.run]) answers[m.payload.run] = [];
      rejoinSoon();
      break;
    case 'compare/error':
      topNotice.append(notice(m.payload.message, 'error'));
      break;
  }
}

conn.ready();
