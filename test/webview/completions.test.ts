/**
 * The Completions panel's page (webview/completions → dist/webview/completions.js) in headless
 * Chromium, fed what the host sends: the demo run's PPO rollouts indexed and summarised by the
 * same core code the host uses (PpoIndex), live steps, and the hostile corpus in every text field.
 * Run `node scripts/build.mjs` first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { normalisePpoSample, PpoIndex, type PpoSample, type StepSummary } from '../../src/core/runs/compare.js';
import type { CompletionSample, CompletionsHostToPage, CompletionsPageToHost, CompletionsPanelState, StepSummaryWire } from '../../src/protocol/panels/completions.js';
import { HOSTILE, HOSTILE_STRINGS, HUGE_LINE, PanelHarness, ROOT, THEMES, type PanelPage, type ThemeName } from './harness.js';

const RUN = path.join(ROOT, 'test', 'fixtures', 'runs', 'demo-20261128-082207');
const fin = (n: number) => (Number.isFinite(n) ? n : null);
const wire = (s: StepSummary): StepSummaryWire => ({ step: s.step, count: s.count, mean: fin(s.mean), min: fin(s.min), max: fin(s.max), meanKl: fin(s.meanKl) });

/** The demo run's rollouts and the host's index of them. */
function demo(): { index: PpoIndex; samples: PpoSample[] } {
  const index = new PpoIndex();
  const samples: PpoSample[] = [];
  let offset = 0;
  for (const line of fs.readFileSync(path.join(RUN, 'samples.jsonl'), 'utf8').split('\n')) {
    const s = line ? normalisePpoSample(JSON.parse(line)) : undefined;
    if (s && index.add(s, offset)) samples.push(s);
    offset += Buffer.byteLength(line) + 1;
  }
  return { index, samples };
}

const { index, samples } = demo();
const STEPS = index.stats.summaries();
const LAST = STEPS.at(-1)!.step;
const asSample = (s: PpoSample): CompletionSample => {
  const key = PpoIndex.promptOf(s);
  return { id: s.id, step: s.step, prompt_id: s.prompt_id, prompt: s.prompt, response: s.response, score: fin(s.score), kl: fin(s.kl), key, promptSteps: index.promptSteps(key) };
};

const send = (p: PanelPage, m: CompletionsHostToPage) => p.send(m);
const init = (p: PanelPage, o: { step?: number; runName?: string } = {}) => send(p, { type: 'completions/init', payload: { runDir: RUN, runName: o.runName ?? 'demo-20261128-082207', ...(o.step !== undefined ? { step: o.step } : {}) } });
const steps = (p: PanelPage, s: StepSummary[] = STEPS, loaded = true) => send(p, { type: 'completions/steps', payload: { steps: s.map(wire), samples: samples.length, loaded, badLines: 0 } });

/** Waits for the page to ask for `step` (its n-th such request) and answers as the host does. */
async function answerStep(p: PanelPage, step: number, nth = 1): Promise<CompletionSample[]> {
  await p.page.waitForFunction(
    ([s, n]) => (window as unknown as { __vscode: { messages: { type: string; payload: { step?: number } }[] } }).__vscode.messages.filter((m) => m.type === 'completions/requestStep' && m.payload.step === s).length >= n,
    [step, nth] as const,
  );
  const mine = samples.filter((s) => s.step === step).map(asSample);
  await send(p, { type: 'completions/step', payload: { step, samples: mine, total: mine.length } });
  await p.page.locator(`table.samples[aria-label="Rollouts of step ${step}"]`).waitFor();
  return mine;
}

const fmt3 = (n: number) => n.toFixed(3);

describe('Completions panel page', { timeout: 120_000 }, () => {
  const h = new PanelHarness({ bundle: 'completions', title: 'Completions', sources: ['webview/completions/main.ts', 'media/completions.css'] });
  before(() => h.start());
  after(() => h.stop());

  it('shows the latest step with its reward summary and rollouts', async () => {
    const p = await h.open();
    assert.deepEqual(await p.messages(), [{ type: 'ready', payload: {} }]);
    await init(p);
    await steps(p);
    const mine = await answerStep(p, LAST);
    const s = STEPS.at(-1)!;
    assert.equal(await p.page.textContent('#step-label'), `Step ${LAST} (${STEPS.length} of ${STEPS.length})`);
    assert.equal(await p.page.textContent('#stat-count'), String(s.count));
    assert.equal(await p.page.textContent('#stat-mean'), fmt3(s.mean));
    assert.equal(await p.page.textContent('#stat-min'), fmt3(s.min));
    assert.equal(await p.page.textContent('#stat-max'), fmt3(s.max));
    assert.equal(await p.page.locator('table.samples tbody tr').count(), mine.length);
    assert.ok(await p.page.locator('#chart svg polyline.mean').count(), 'the mean-reward chart is drawn');
    assert.match((await p.page.textContent('#status'))!, /256 rollouts in 16 steps/);
    await p.close();
  });

  it('steps through time with buttons, the slider and the keyboard', async () => {
    const p = await h.open();
    await init(p);
    await steps(p);
    await answerStep(p, LAST);
    await p.page.click('#prev');
    await answerStep(p, LAST - 1);
    assert.equal(await p.page.isChecked('#follow'), false, 'going back stops following the latest step');
    await p.page.focus('#step-slider');
    await p.page.keyboard.press('Home');
    await answerStep(p, STEPS[0]!.step);
    assert.equal(await p.page.locator('#prev').isDisabled(), true);
    await p.page.keyboard.press('ArrowRight');
    await answerStep(p, STEPS[1]!.step);
    // ← and → from the page body too
    await p.page.locator('h1').click();
    await p.page.keyboard.press('ArrowRight');
    await answerStep(p, STEPS[2]!.step);
    const states = (await p.recorder<unknown, CompletionsPanelState>()).states;
    assert.equal(states.at(-1)!.step, STEPS[2]!.step);
    assert.equal(states.at(-1)!.followLatest, false);
    await p.close();
  });

  it('sorts a step’s rollouts by score', async () => {
    const p = await h.open();
    await init(p);
    await steps(p);
    const mine = await answerStep(p, LAST);
    await p.page.selectOption('#sort', 'score-desc');
    const shown = (await p.page.locator('table.samples tbody td.score').allTextContents()).map(Number);
    assert.deepEqual(shown, mine.map((m) => Number(fmt3(m.score!))).sort((a, b) => b - a));
    await p.page.selectOption('#sort', 'score-asc');
    const asc = (await p.page.locator('table.samples tbody td.score').allTextContents()).map(Number);
    assert.deepEqual(asc, [...shown].reverse());
    await p.close();
  });

  it('follows one prompt across the steps it was rolled out in', async () => {
    const p = await h.open();
    await init(p);
    await steps(p);
    await answerStep(p, LAST);
    const button = p.page.locator('button.follow-prompt').first();
    const key = (await button.getAttribute('data-key'))!;
    await button.click();
    await p.waitForMessage<CompletionsPageToHost>((m) => m.type === 'completions/requestPrompt' && m.payload.key === key);
    const across = samples.filter((s) => PpoIndex.promptOf(s) === key).map(asSample);
    assert.ok(across.length > 1);
    await send(p, { type: 'completions/prompt', payload: { key, samples: across, total: across.length } });
    await p.page.locator('table.follow tbody tr').nth(across.length - 1).waitFor();
    assert.deepEqual((await p.page.locator('table.follow tbody button.goto-step').allTextContents()).map(Number), across.map((s) => s.step));
    await p.page.locator('table.follow button.goto-step').first().click();
    await answerStep(p, across[0]!.step);
    assert.equal(await p.page.locator('table.follow tr.selected button.goto-step').textContent(), String(across[0]!.step));
    await p.page.click('#close-follow');
    assert.equal(await p.page.locator('#prompt-follow').isHidden(), true);
    await p.close();
  });

  it('follows new steps live, and stays put when the user went back', async () => {
    const p = await h.open();
    await init(p);
    await steps(p, STEPS.slice(0, 10), false);
    await answerStep(p, STEPS[9]!.step);
    await steps(p, STEPS.slice(10, 12), false);
    await answerStep(p, STEPS[11]!.step);
    await p.page.click('#prev');
    await answerStep(p, STEPS[10]!.step);
    await steps(p, STEPS.slice(12), true);
    await p.page.locator('#step-label', { hasText: `(11 of ${STEPS.length})` }).waitFor();
    assert.equal(await p.page.textContent('#stat-count'), String(STEPS[10]!.count));
    await p.page.check('#follow');
    await answerStep(p, LAST);
    await p.close();
  });

  it('restores its step, sort and followed prompt after a reload', async () => {
    const key = PpoIndex.promptOf(samples[0]!);
    const state: CompletionsPanelState = { runDirs: [RUN], step: 3, followLatest: false, sort: 'score-asc', promptKey: key };
    const p = await h.open({ state });
    assert.equal(await p.page.inputValue('#sort'), 'score-asc');
    await init(p);
    await p.waitForMessage<CompletionsPageToHost>((m) => m.type === 'completions/requestPrompt' && m.payload.key === key);
    await steps(p);
    await answerStep(p, 3);
    assert.equal(await p.page.isChecked('#follow'), false);
    await p.close();
  });

  it('shows an empty run and errors as text', async () => {
    const p = await h.open();
    await init(p);
    await send(p, { type: 'completions/steps', payload: { steps: [], samples: 0, loaded: true, badLines: 2 } });
    await p.page.locator('#samples .notice', { hasText: 'No PPO rollouts in this run yet' }).waitFor();
    assert.match((await p.page.textContent('#status'))!, /0 rollouts in 0 steps · 2 damaged lines skipped/);
    assert.equal(await p.page.locator('#step-slider').isDisabled(), true);
    await send(p, { type: 'completions/error', payload: { message: 'samples.jsonl: EACCES' } });
    await p.page.locator('#top-notice [role="alert"]', { hasText: 'EACCES' }).waitFor();
    await p.close();
  });

  it('shows hostile text in every field as text', async () => {
    const p = await h.open();
    await init(p, { runName: HOSTILE.closeScript });
    const s1: StepSummary = { step: 1, count: HOSTILE_STRINGS.length + 1, mean: 0.5, min: -1, max: 2, meanKl: 0.1 };
    await steps(p, [s1]);
    await p.waitForMessage<CompletionsPageToHost>((m) => m.type === 'completions/requestStep' && m.payload.step === 1);
    const hostile: CompletionSample[] = HOSTILE_STRINGS.map((s, i) => ({ id: `${s}${i}`, step: 1, prompt_id: s, prompt: s, response: s, score: i, kl: null, key: `text:${s}`, promptSteps: 2 }));
    hostile.push({ id: 'huge', step: 1, prompt_id: 'x', prompt: HUGE_LINE, response: HUGE_LINE, score: null, kl: 1, key: `text:${HUGE_LINE}`, promptSteps: 1 });
    await send(p, { type: 'completions/step', payload: { step: 1, samples: hostile, total: hostile.length } });
    await p.page.locator('table.samples tbody tr').nth(hostile.length - 1).waitFor();
    assert.equal(await p.page.locator('img, script:not([src]), a, style, #samples svg').count(), 0, 'no element came from content');
    const cells = await p.page.locator('table.samples tbody td.col-prompt').allTextContents();
    assert.equal(cells[0], HOSTILE.img);
    assert.ok(cells.some((c) => c.includes('⟨U+202E⟩')));
    // a megabyte of text is cut in the cell, whole on request
    const hugeCell = p.page.locator('table.samples tbody td.col-prompt').last();
    assert.ok(cells.at(-1)!.endsWith(`… Show all ${HUGE_LINE.length.toLocaleString('en-US')} characters`));
    await hugeCell.locator('button.show-all').click();
    assert.equal((await hugeCell.textContent())!.length, HUGE_LINE.length);
    assert.ok((await p.page.textContent('h1'))!.includes(HOSTILE.closeScript));
    await p.page.locator('button.follow-prompt').nth(1).click();
    await p.waitForMessage<CompletionsPageToHost>((m) => m.type === 'completions/requestPrompt' && m.payload.key === `text:${HOSTILE_STRINGS[1]}`);
    await send(p, { type: 'completions/prompt', payload: { key: `text:${HOSTILE_STRINGS[1]}`, samples: [hostile[1]!], total: 1 } });
    await p.page.locator('#prompt-follow .text-block', { hasText: HOSTILE.script }).waitFor();
    await p.page.locator('table.samples tbody tr').first().hover();
    await p.close();
  });

  it('takes screenshots in three themes', async () => {
    const p = await h.open({ viewport: { width: 1100, height: 800 } });
    await init(p);
    await steps(p);
    await answerStep(p, LAST);
    for (const theme of Object.keys(THEMES) as ThemeName[]) {
      await p.setTheme(theme);
      await p.screenshot(`completions-${theme}`);
    }
    await p.close();
  });
});
