/**
 * The Compare panel's page (webview/compare → dist/webview/compare.js) in headless Chromium, fed
 * what the host sends for two runs: the demo run (with the world oracle's numbers) and a second
 * run made from it (other answers for two policies, PM scores per answer, a judge, no oracle),
 * summarised by the same core code the host uses (evalSummary, normaliseEvalAnswer); live answers;
 * and the hostile corpus in every text field. Run `node scripts/build.mjs` first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eloDelta, evalSummary, joinAnswers, normaliseEvalAnswer, normalisePpoSample, summariseSteps, type EvalAnswer, type EvalSummary } from '../../src/core/runs/compare.js';
import type { CompareHostToPage, ComparePanelState } from '../../src/protocol/panels/compare.js';
import { HOSTILE, HOSTILE_STRINGS, HUGE_LINE, PanelHarness, ROOT, THEMES, type PanelPage, type ThemeName } from './harness.js';

const RUN_A = path.join(ROOT, 'test', 'fixtures', 'runs', 'demo-20261128-082207');
const RUN_B = '/tmp/runs/other-20261201-000000';
const records = fs.readFileSync(path.join(RUN_A, 'samples.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
const evalA = JSON.parse(fs.readFileSync(path.join(RUN_A, 'eval.json'), 'utf8')) as Record<string, unknown>;
const answersA: EvalAnswer[] = records.flatMap((r) => normaliseEvalAnswer(r) ?? []);
const ppoA = summariseSteps(records.flatMap((r) => normalisePpoSample(r) ?? []));
/** Run B answered the first 60 prompts with sl_cai and rl_cai only, with a PM score each, and one prompt of its own. */
const firstPrompts = new Set([...new Set(answersA.map((a) => a.prompt))].slice(0, 60));
const answersB: EvalAnswer[] = [
  ...answersA.filter((a) => a.policy !== 'base' && firstPrompts.has(a.prompt)).map((a, i) => ({ ...a, id: `b-${a.id}`, response: `B says: ${a.response}`, score: i / 10 })),
  { id: 'b-own', policy: 'rl_cai', prompt_id: 'own', prompt: 'A prompt only run B has', response: 'Only B answered this.' },
];
const evalB = {
  evaluation: {
    policies: { sl_cai: { prompts: 60, mean_pm_score: 0.25, mean_length: 100 }, rl_cai: { prompts: 61, mean_pm_score: 0.5, mean_length: 120 } },
    win_rates: { rl_cai_vs_sl_cai: { pm: { win_rate: 0.75 }, judge: { model: 'judge-1', soft_win_rate: 0.7, win_rate: 0.8, flip_rate: 0.9 } } },
  },
};
const JOINED = joinAnswers([answersA, answersB]);

const send = (p: PanelPage, m: CompareHostToPage) => p.send(m);
const summaryMsg = (run: number, summary: EvalSummary | null, ppo = { steps: 0, lastStep: null as number | null, lastMean: null as number | null }, error?: string): CompareHostToPage => ({
  type: 'compare/summary',
  payload: { run, summary, ppo, ...(error !== undefined ? { error } : {}) },
});

async function load(p: PanelPage, o: { names?: [string, string] } = {}): Promise<void> {
  await send(p, { type: 'compare/init', payload: { runs: [{ runDir: RUN_A, name: o.names?.[0] ?? 'demo' }, { runDir: RUN_B, name: o.names?.[1] ?? 'other' }] } });
  await send(p, summaryMsg(0, evalSummary(evalA), { steps: ppoA.length, lastStep: ppoA.at(-1)!.step, lastMean: ppoA.at(-1)!.mean }));
  await send(p, summaryMsg(1, evalSummary(evalB)));
  await send(p, { type: 'compare/answers', payload: { run: 0, answers: answersA, loaded: true } });
  await send(p, { type: 'compare/answers', payload: { run: 1, answers: answersB, loaded: true } });
  await p.page.locator('#status', { hasText: `of ${JOINED.length} prompts` }).waitFor();
}

const rowTexts = (p: PanelPage, table: string) => p.page.locator(`#${table} tbody tr`).evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));

describe('Compare panel page', { timeout: 120_000 }, () => {
  const h = new PanelHarness({ bundle: 'compare', title: 'Compare Runs', sources: ['webview/compare/main.ts', 'src/core/runs/compare.ts', 'media/compare.css'] });
  before(() => h.start());
  after(() => h.stop());

  it('shows each run’s mean PM scores, win rates with Elo, and the oracle’s numbers', async () => {
    const p = await h.open();
    assert.deepEqual(await p.messages(), [{ type: 'ready', payload: {} }]);
    await load(p);
    const pm = await rowTexts(p, 'pm-scores');
    assert.deepEqual(pm[0], ['demo', '1.109 (96)', '1.712 (96)', '2.084 (96)', `${ppoA.at(-1)!.mean.toFixed(3)} @ ${ppoA.at(-1)!.step}`]);
    assert.deepEqual(pm[1], ['other', '–', '0.250 (60)', '0.500 (61)', '–']);
    const win = await rowTexts(p, 'win-rates');
    assert.deepEqual(await p.page.locator('#win-rates thead th').allTextContents(), ['Run', 'rl_cai vs sl_cai', 'rl_cai vs base', 'sl_cai vs base']);
    assert.deepEqual(win[0], ['demo', '47.4 % (−18 Elo)', '65.6 % (+112 Elo)', '65.6 % (+112 Elo)']);
    assert.deepEqual(win[1], ['other', `75.0 % (+${eloDelta(0.75).toFixed(0)} Elo)`, '–', '–']);
    assert.deepEqual((await rowTexts(p, 'judge-rates'))[1], ['other', '80.0 % · soft 70.0 % · flips 90.0 %', '–', '–']);
    const oracle = await rowTexts(p, 'oracle-policies');
    assert.deepEqual(oracle.map((r) => r[0]), ['demo · base', 'demo · sl_cai', 'demo · rl_cai'], 'only the run with an oracle');
    assert.equal(oracle[0]![1], '33.3 %', 'harmless rate of the base policy');
    assert.deepEqual((await rowTexts(p, 'oracle-run'))[0], ['demo', '100.0 %', '96.9 %', '14.1 %']);
    await p.close();
  });

  it('puts the same prompt’s answers side by side, one column per run and policy', async () => {
    const p = await h.open();
    await load(p);
    assert.equal(await p.page.textContent('#status'), `${JOINED.length} of ${JOINED.length} prompts`);
    const first = p.page.locator('.prompt-card').first();
    assert.equal(await first.locator('h3').textContent(), JOINED[0]!.prompt);
    assert.deepEqual(await first.locator('.answer-head').evaluateAll((hs) => hs.map((x) => [...x.children].slice(0, 2).map((c) => c.textContent).join(' · '))), ['demo · base', 'demo · sl_cai', 'demo · rl_cai', 'other · base', 'other · sl_cai', 'other · rl_cai'].filter((c) => c !== 'other · base'));
    const texts = await first.locator('.answer-text').allTextContents();
    assert.equal(texts[0], JOINED[0]!.cells[0]!.response);
    assert.ok(texts[3]!.startsWith('B says: '));
    const want = answersB.find((a) => a.prompt === JOINED[0]!.prompt && a.policy === 'sl_cai')!.score!;
    assert.equal(await first.locator('.answer .score').first().textContent(), `PM ${want.toFixed(3)}`);
    assert.equal(await p.page.locator('.prompt-card').count(), 40, 'the first 40 prompts; the rest behind Show more');
    await p.page.click('#more');
    await p.page.locator('.prompt-card').nth(79).waitFor();
    // a prompt only the demo run answered (run B answered the first 60) has empty cells for run B
    const onlyA = p.page.locator('.prompt-card').nth(70);
    assert.equal(await onlyA.locator('.partial').textContent(), 'answered in 1 of 2 runs');
    assert.deepEqual(await onlyA.locator('.answer.missing .answer-run').allTextContents(), ['other', 'other']);
    await p.close();
  });

  it('filters by prompt text, by policy and to prompts every run answered', async () => {
    const p = await h.open();
    await load(p);
    await p.page.fill('#filter', 'ONLY RUN B');
    await p.page.locator('#status', { hasText: `1 of ${JOINED.length} prompts` }).waitFor();
    assert.equal(await p.page.locator('.prompt-card h3').textContent(), 'A prompt only run B has');
    await p.page.fill('#filter', '');
    await p.page.check('#common');
    const common = JOINED.filter((j) => j.runCount === 2).length;
    await p.page.locator('#status', { hasText: `${common} of ${JOINED.length} prompts` }).waitFor();
    await p.page.uncheck('input[data-policy="base"]');
    assert.equal(await p.page.locator('.prompt-card').first().locator('.answer').count(), 4);
    const state = (await p.recorder<unknown, ComparePanelState>()).states.at(-1)!;
    assert.deepEqual(state, { runDirs: [RUN_A, RUN_B], query: '', commonOnly: true, hiddenPolicies: ['base'] });
    await p.page.fill('#filter', 'no prompt has this text');
    await p.page.locator('#prompts .notice', { hasText: 'No prompt matches the filter.' }).waitFor();
    await p.close();
  });

  it('restores its filters after a reload', async () => {
    const p = await h.open({ state: { runDirs: [RUN_A, RUN_B], query: 'only run b', hiddenPolicies: ['sl_cai'], commonOnly: false } satisfies ComparePanelState });
    assert.equal(await p.page.inputValue('#filter'), 'only run b');
    await load(p);
    assert.equal(await p.page.textContent('#status'), `1 of ${JOINED.length} prompts`);
    assert.equal(await p.page.isChecked('input[data-policy="sl_cai"]'), false);
    assert.equal(await p.page.locator('.prompt-card .answer').count(), 3, 'base and rl_cai of run A, rl_cai of run B');
    await p.close();
  });

  it('adds answers that arrive live and shows empty and error states as text', async () => {
    const p = await h.open();
    await send(p, { type: 'compare/init', payload: { runs: [{ runDir: RUN_A, name: 'a' }, { runDir: RUN_B, name: 'b' }] } });
    await send(p, summaryMsg(0, null));
    await send(p, summaryMsg(1, null, undefined, 'eval.json: not valid JSON (Unexpected end)'));
    await send(p, { type: 'compare/answers', payload: { run: 0, answers: [], loaded: true } });
    await send(p, { type: 'compare/answers', payload: { run: 1, answers: [], loaded: true } });
    await p.page.locator('#prompts .notice', { hasText: 'None of these runs has evaluation answers yet' }).waitFor();
    await p.page.locator('#summary .notice-error', { hasText: 'b: eval.json could not be read: eval.json: not valid JSON' }).waitFor();
    await p.page.locator('#summary .notice', { hasText: 'No run has an evaluation yet' }).waitFor();
    await send(p, { type: 'compare/answers', payload: { run: 1, answers: [answersB[0]!], loaded: true } });
    await p.page.locator('.prompt-card').first().waitFor();
    await send(p, { type: 'compare/answers', payload: { run: 0, answers: [answersA.find((a) => a.prompt === answersB[0]!.prompt)!], loaded: true } });
    await p.page.locator('.prompt-card .answer').nth(1).waitFor();
    assert.equal(await p.page.locator('.prompt-card').count(), 1, 'joined into one prompt');
    await send(p, { type: 'compare/error', payload: { run: 1, message: 'b: samples.jsonl: EACCES' } });
    await p.page.locator('#top-notice [role="alert"]', { hasText: 'EACCES' }).waitFor();
    await p.close();
  });

  it('shows hostile text in every field as text', async () => {
    const p = await h.open();
    const H = HOSTILE_STRINGS.join(' | ');
    const hostileAnswers: EvalAnswer[][] = [
      HOSTILE_STRINGS.map((s, i) => ({ id: `a${i}`, policy: i % 2 ? 'base' : s, prompt_id: s, prompt: `${s} ${i}`, response: s })),
      [...HOSTILE_STRINGS.map((s, i) => ({ id: `b${i}`, policy: 'rl_cai', prompt_id: s, prompt: `${s} ${i}`, response: `${H} ${i}`, score: i })), { id: 'huge', policy: 'rl_cai', prompt_id: 'h', prompt: HUGE_LINE, response: HUGE_LINE }],
    ];
    const hostileEval = {
      evaluation: { policies: { [HOSTILE.img]: { mean_pm_score: 1, prompts: 2 } }, win_rates: { [`${HOSTILE.script}_vs_${HOSTILE.svg}`]: { pm: { win_rate: 1 } } } },
      oracle: HOSTILE.link,
      policies: { [HOSTILE.style]: { [HOSTILE.handler]: 0.5 } },
      [HOSTILE.rtl]: 1,
    };
    await send(p, { type: 'compare/init', payload: { runs: [{ runDir: RUN_A, name: HOSTILE.closeScript }, { runDir: RUN_B, name: HOSTILE.zeroWidth }] } });
    await send(p, summaryMsg(0, evalSummary(hostileEval)));
    await send(p, summaryMsg(1, evalSummary(evalB), undefined, HOSTILE.img));
    await send(p, { type: 'compare/answers', payload: { run: 0, answers: hostileAnswers[0]!, loaded: true } });
    await send(p, { type: 'compare/answers', payload: { run: 1, answers: hostileAnswers[1]!, loaded: true } });
    await p.page.locator('#status', { hasText: `of ${HOSTILE_STRINGS.length + 1} prompts` }).waitFor();
    assert.equal(await p.page.locator('img, script:not([src]), svg, a, style').count(), 0, 'no element came from content');
    const heads = await p.page.locator('.prompt-card h3').allTextContents();
    assert.ok(heads.includes(`${HOSTILE.img} 0`));
    assert.ok(heads.some((x) => x.includes('⟨U+202E⟩')));
    const huge = p.page.locator('.prompt-card', { has: p.page.locator('h3 button.show-all') });
    assert.ok((await huge.locator('h3').textContent())!.endsWith(`… Show all ${HUGE_LINE.length.toLocaleString('en-US')} characters`));
    await huge.locator('.answer-text button.show-all').click();
    assert.equal((await huge.locator('.answer-text').last().textContent())!.length, HUGE_LINE.length);
    assert.ok((await p.page.textContent('h1'))!.includes(HOSTILE.closeScript));
    assert.ok((await p.page.textContent('#win-rates thead'))!.includes(`${HOSTILE.script} vs ${HOSTILE.svg}`));
    assert.ok((await p.page.textContent('#win-rates tbody'))!.includes('+∞ Elo'));
    assert.ok((await p.page.textContent('#oracle-policies'))!.includes(HOSTILE.style));
    await p.page.fill('#filter', HOSTILE.handler);
    await p.page.locator('#status', { hasText: `1 of ${HOSTILE_STRINGS.length + 1} prompts` }).waitFor();
    await p.page.locator('.prompt-card .answer').first().hover();
    await p.close();
  });

  it('takes screenshots in three themes', async () => {
    const p = await h.open({ viewport: { width: 1200, height: 860 } });
    await load(p);
    for (const theme of Object.keys(THEMES) as ThemeName[]) {
      await p.setTheme(theme);
      await p.screenshot(`compare-${theme}`);
    }
    await p.close();
  });
});
