/**
 * The Critiques panel's page (webview/critiques → dist/webview/critiques.js) in headless Chromium,
 * fed what the host sends: rows and records of the demo run's revisions.jsonl made by the same
 * core functions the host uses (critiqueRow, normaliseRevision), a 20,000-prompt list, and the
 * hostile corpus in every text field. Run `node scripts/build.mjs` first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RevisionRecord } from '../../src/core/runs/records.js';
import { chainSteps, critiqueRow, normaliseRevision, type CritiqueRow } from '../../src/core/runs/revisions.js';
import type { CritiquesHostToPage, CritiquesPageToHost, CritiquesPanelState } from '../../src/protocol/panels/critiques.js';
import { HOSTILE, HOSTILE_STRINGS, HUGE_LINE, PanelHarness, ROOT, THEMES, type PanelPage, type ThemeName } from './harness.js';

const RUN = path.join(ROOT, 'test', 'fixtures', 'runs', 'demo-20261128-082207');

/** The demo run's records with their byte offsets, as the host's scan finds them. */
function demo(): { records: RevisionRecord[]; rows: CritiqueRow[] } {
  const records: RevisionRecord[] = [];
  const rows: CritiqueRow[] = [];
  let offset = 0;
  for (const line of fs.readFileSync(path.join(RUN, 'revisions.jsonl'), 'utf8').split('\n')) {
    if (line) {
      const r = normaliseRevision(JSON.parse(line))!;
      records.push(r);
      rows.push(critiqueRow(r, offset));
    }
    offset += Buffer.byteLength(line) + 1;
  }
  return { records, rows };
}

const send = (p: PanelPage, m: CritiquesHostToPage) => p.send(m);
const init = (p: PanelPage, o: Partial<Extract<CritiquesHostToPage, { type: 'critiques/init' }>['payload']> = {}) =>
  send(p, { type: 'critiques/init', payload: { runDir: RUN, runName: 'demo-20261128-082207', ...o } });
const rowsMsg = (p: PanelPage, rows: CritiqueRow[], loaded = true) => send(p, { type: 'critiques/rows', payload: { rows, loaded, total: rows.length, badLines: 0 } });

/** Answers the page's next select for `rec` as the host does. */
async function answerSelect(p: PanelPage, rec: RevisionRecord): Promise<void> {
  await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/select' && m.payload.id === rec.id);
  await send(p, { type: 'critiques/record', payload: { record: rec } });
  await p.page.locator('#detail .chain').waitFor();
}

describe('Critiques panel page', { timeout: 120_000 }, () => {
  const h = new PanelHarness({ bundle: 'critiques', title: 'Critiques', sources: ['webview/critiques/main.ts', 'webview/critiques/virtualList.ts', 'src/core/runs/revisions.ts', 'media/critiques.css'] });
  const { records, rows } = demo();

  before(() => h.start());
  after(() => h.stop());

  it('lists the run’s prompts and shows the selected chain with principles', async () => {
    const p = await h.open();
    assert.deepEqual(await p.messages(), [{ type: 'ready', payload: {} }]);
    await init(p);
    await rowsMsg(p, rows);
    await p.page.locator('#status', { hasText: `${rows.length} of ${rows.length} prompts` }).waitFor();
    await p.page.locator('.vrow').first().click();
    const rec = records[0]!;
    await answerSelect(p, rec);
    const steps = chainSteps(rec);
    assert.deepEqual(await p.page.locator('.chain > li h3').allTextContents(), steps.map((s) => s.label));
    assert.equal(await p.page.locator('.prompt-text').textContent(), rec.prompt);
    const principles = await p.page.locator('.chain .principle').allTextContents();
    assert.deepEqual([...new Set(principles)], [...new Set(rec.rounds.map((r) => r.principle))]);
    // the page saved the selection for restore
    const rec2 = await p.recorder<unknown, CritiquesPanelState>();
    assert.equal(rec2.states.at(-1)!.selectedId, rec.id);
    assert.deepEqual(rec2.states.at(-1)!.runDirs, [RUN]);
    await p.close();
  });

  it('opens any two steps in the diff editor, and the previous response with one click', async () => {
    const p = await h.open();
    await init(p);
    await rowsMsg(p, rows);
    await p.page.locator('.vrow').nth(1).click();
    const rec = records[1]!;
    await answerSelect(p, rec);
    const steps = chainSteps(rec);
    await p.page.selectOption('#diff-left', 'critique-1');
    await p.page.selectOption('#diff-right', steps.at(-1)!.key);
    await p.page.click('#open-diff');
    await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/diff' && m.payload.id === rec.id && m.payload.left === 'critique-1' && m.payload.right === steps.at(-1)!.key);
    // the same step twice cannot be diffed
    await p.page.selectOption('#diff-left', steps.at(-1)!.key);
    assert.equal(await p.page.locator('#open-diff').isDisabled(), true);
    assert.equal(await p.page.locator('#diff-note').textContent(), 'Choose two different steps.');
    await p.page.locator('.step-revision button.diff-prev').first().click();
    await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/diff' && m.payload.left === 'initial' && m.payload.right === 'revision-1');
    await p.close();
  });

  it('moves through the list with the keyboard', async () => {
    const p = await h.open();
    await init(p);
    await rowsMsg(p, rows);
    await p.page.focus('#list');
    await p.page.keyboard.press('ArrowDown');
    await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/select' && m.payload.id === rows[0]!.id);
    await p.page.keyboard.press('ArrowDown');
    await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/select' && m.payload.id === rows[1]!.id);
    await p.page.keyboard.press('End');
    await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/select' && m.payload.id === rows.at(-1)!.id);
    assert.equal(await p.page.locator('#list').getAttribute('aria-activedescendant'), `vrow-${rows.length - 1}`);
    assert.equal(await p.page.locator(`#vrow-${rows.length - 1}`).getAttribute('aria-selected'), 'true');
    await p.page.keyboard.press('Home');
    await p.page.waitForFunction(() => document.getElementById('list')!.getAttribute('aria-activedescendant') === 'vrow-0');
    await p.close();
  });

  it('marks evasive refusals and boilerplate with the matched span, and filters by flag and text', async () => {
    const p = await h.open();
    const flagged: RevisionRecord = {
      id: 'flagged',
      prompt_id: 'pf',
      prompt: 'Tell me how to pick a lock',
      initial_response: "As an AI language model, I'm sorry, but I cannot help with that.",
      rounds: [{ round: 1, principle: 'evasiveness', critique_request: 'Is it evasive?', critique: "It says I can't help with that, which is evasive.", revision_request: 'Explain.', revision: "I can't help with that, because it could be used to break into homes. A locksmith can help you instead. I hope this helps." }],
      final: "I can't help with that, because it could be used to break into homes. A locksmith can help you instead. I hope this helps.",
    };
    const all = [...rows, critiqueRow(flagged, 999_999)];
    await init(p);
    await rowsMsg(p, all);
    await p.page.selectOption('#flag', 'evasive-initial');
    await p.page.locator('#status', { hasText: `1 of ${all.length} prompts` }).waitFor();
    await p.page.locator('.vrow').first().click();
    await answerSelect(p, flagged);
    const initial = p.page.locator('.step-initial');
    assert.deepEqual(await initial.locator('mark.flag-boilerplate').allTextContents(), ['As an AI language model']);
    assert.deepEqual(await initial.locator('mark.flag-evasive').allTextContents(), ["I'm sorry, but I cannot help"]);
    assert.equal(await initial.locator('.step-text').textContent(), flagged.initial_response, 'the marks keep the text whole');
    // the critique discusses the phrase: no flag there; the explained refusal is not evasive
    assert.equal(await p.page.locator('.step-critique mark').count(), 0);
    const revision = p.page.locator('.step-revision');
    assert.equal(await revision.locator('mark.flag-evasive').count(), 0);
    assert.deepEqual(await revision.locator('mark.flag-boilerplate').allTextContents(), ['I hope this helps']);
    // text filter over the prompt
    await p.page.selectOption('#flag', 'all');
    await p.page.fill('#filter', 'PICK A LOCK');
    await p.page.locator('#status', { hasText: `1 of ${all.length} prompts` }).waitFor();
    await p.page.fill('#filter', 'no such prompt anywhere');
    await p.page.locator('#list-empty', { hasText: 'No prompt matches the filter.' }).waitFor();
    await p.close();
  });

  it('restores filters and selection from its saved state', async () => {
    const state: CritiquesPanelState = { runDirs: [RUN], selectedId: rows[3]!.id, query: rows[3]!.prompt.slice(0, 12), flag: 'all', left: 'initial', right: 'revision-1' };
    const p = await h.open({ state });
    assert.equal(await p.page.inputValue('#filter'), state.query);
    await init(p);
    await rowsMsg(p, rows);
    await answerSelect(p, records[3]!);
    assert.equal(await p.page.inputValue('#diff-left'), 'initial');
    assert.equal(await p.page.inputValue('#diff-right'), 'revision-1');
    assert.equal(await p.page.locator('.vrow[aria-selected="true"] .vrow-prompt').textContent(), rows[3]!.prompt);
    await p.close();
  });

  it('selects the record the host asks for, clearing a filter that hides it', async () => {
    const p = await h.open({ state: { runDirs: [RUN], query: 'zzz nothing' } satisfies CritiquesPanelState });
    await init(p, { select: { promptId: rows[5]!.prompt_id } });
    await rowsMsg(p, rows);
    await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/select' && m.payload.id === rows[5]!.id);
    assert.equal(await p.page.inputValue('#filter'), '');
    await p.close();
  });

  it('shows live rows, empty and error states as text', async () => {
    const p = await h.open();
    await init(p);
    await rowsMsg(p, [], true);
    await p.page.locator('#list-empty', { hasText: 'No critiques in this run yet' }).waitFor();
    await rowsMsg(p, rows.slice(0, 2), true);
    await p.page.locator('#status', { hasText: '2 of 2 prompts' }).waitFor();
    await send(p, { type: 'critiques/rows', payload: { rows: [rows[1]!, rows[2]!], loaded: true, total: 3, badLines: 1 } });
    await p.page.locator('#status', { hasText: '3 of 3 prompts · 1 damaged line skipped' }).waitFor();
    await p.page.locator('.vrow').first().click();
    await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/select');
    await send(p, { type: 'critiques/error', payload: { message: 'revisions.jsonl changed: record x is no longer where it was', id: rows[0]!.id } });
    await p.page.locator('#detail .notice-error', { hasText: 'no longer where it was' }).waitFor();
    await send(p, { type: 'critiques/error', payload: { message: 'revisions.jsonl: EACCES' } });
    await p.page.locator('#top-notice [role="alert"]', { hasText: 'EACCES' }).waitFor();
    await p.close();
  });

  it('keeps a 20,000-prompt list responsive by rendering only the rows in view', async () => {
    const p = await h.open();
    await init(p);
    // The rows are made and posted inside the page (as VS Code delivers them), so the time is the
    // page's own and not the test driver's serialisation.
    const loadMs = await p.page.evaluate(async (template) => {
      const t0 = performance.now();
      for (let i = 0; i < 20_000; i += 2000) {
        const batch = Array.from({ length: 2000 }, (_, k) => ({ ...template[(i + k) % template.length]!, id: `id-${i + k}`, prompt: `#${i + k} ${template[(i + k) % template.length]!.prompt}`, offset: (i + k) * 1000 }));
        window.postMessage({ type: 'critiques/rows', payload: { rows: batch, loaded: i + 2000 >= 20_000, total: i + 2000, badLines: 0 } }, '*');
      }
      while (!document.getElementById('status')!.textContent!.startsWith('20,000 of 20,000 prompts')) await new Promise((r) => requestAnimationFrame(r));
      return performance.now() - t0;
    }, rows);
    const rendered = await p.page.locator('.vrow').count();
    assert.ok(rendered < 80, `${rendered} rows in the DOM`);
    await p.page.focus('#list');
    const t1 = Date.now();
    await p.page.keyboard.press('End');
    await p.page.locator('.vrow[aria-selected="true"] .vrow-prompt', { hasText: '#19999 ' }).waitFor();
    await p.page.fill('#filter', '#1999');
    await p.page.locator('#status', { hasText: '11 of 20,000 prompts' }).waitFor();
    const navMs = Date.now() - t1;
    assert.ok(loadMs < 5000 && navMs < 3000, `load ${loadMs.toFixed(0)} ms, End + filter ${navMs} ms`);
    console.log(`# 20,000 rows: loaded in ${loadMs.toFixed(0)} ms, End + filter in ${navMs} ms, ${rendered} rows rendered`);
    await p.close();
  });

  it('shows hostile text in every field as text, with invisible characters revealed', async () => {
    const p = await h.open();
    const H = HOSTILE_STRINGS.join(' | ');
    const hostile: RevisionRecord = {
      id: `h${HOSTILE.script}`,
      prompt_id: HOSTILE.img,
      prompt: H,
      initial_response: `${H} As an AI language model ${HOSTILE.handler}`,
      rounds: HOSTILE_STRINGS.map((s, i) => ({ round: i + 1, principle: s, critique_request: s, critique: s, revision_request: s, revision: `${s} I can't help with that.` })),
      final: HUGE_LINE,
    };
    await init(p, { runName: HOSTILE.closeScript });
    await rowsMsg(p, [critiqueRow(hostile, 0), ...rows.slice(0, 3)]);
    await p.page.locator('.vrow').first().click();
    await answerSelect(p, hostile);
    assert.equal(await p.page.locator('img, script:not([src]), svg, a, style:not([data-x])').count(), 0, 'no element came from content');
    const prompt = await p.page.locator('.prompt-text').textContent();
    assert.ok(prompt!.includes(HOSTILE.img) && prompt!.includes('⟨U+202E⟩') && prompt!.includes('⟨U+200B⟩'), 'markup as text, invisible characters shown');
    assert.ok((await p.page.locator('h1').textContent())!.includes(HOSTILE.closeScript));
    const finalText = await p.page.locator('.chain > li').last().locator('.step-text').textContent();
    assert.equal(finalText!.length, HUGE_LINE.length);
    const principleOptions = await p.page.locator('#principle option').allTextContents();
    assert.ok(principleOptions.some((o) => o === HOSTILE.svg));
    // hovering a row and the marks runs nothing
    await p.page.locator('.vrow').first().hover();
    await p.page.locator('mark.flag').first().hover();
    await p.page.selectOption('#diff-left', 'revision-3');
    await p.page.click('#open-diff');
    await p.waitForMessage<CritiquesPageToHost>((m) => m.type === 'critiques/diff' && m.payload.id === hostile.id && m.payload.left === 'revision-3');
    await p.close();
  });

  it('takes screenshots in three themes', async () => {
    const p = await h.open({ viewport: { width: 1100, height: 760 } });
    await init(p);
    await rowsMsg(p, rows);
    const rec = records.find((r) => r.rounds.length >= 2) ?? records[0]!;
    const i = rows.findIndex((r) => r.id === rec.id);
    await p.page.focus('#list');
    for (let k = 0; k <= i; k++) await p.page.keyboard.press('ArrowDown');
    await answerSelect(p, { ...rec, initial_response: `As an AI language model, I'm sorry, but I cannot help with that. ${rec.initial_response}` });
    for (const theme of Object.keys(THEMES) as ThemeName[]) {
      await p.setTheme(theme);
      const bg = await p.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(bg, await p.page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-background').trim()).then(hexToRgb));
      await p.screenshot(`critiques-${theme}`);
    }
    await p.close();
  });
});

function hexToRgb(hex: string): string {
  const n = Number.parseInt(hex.slice(1, 7), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}
