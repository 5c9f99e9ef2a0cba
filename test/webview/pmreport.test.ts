/**
 * The preference-model report page (webview/pmreport → dist/webview/pmreport.js) in headless
 * Chromium, fed what the host sends: the demo run's `pm` rows and eval.json read by the same
 * functions the host uses (scanJsonl + rowFromRecord, readEval + parsePmEval), a fixture run
 * written to a temporary folder while it "trains", and the hostile corpus as run, dataset and
 * policy names. Run `node scripts/build.mjs` first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rowFromRecord, type MetricRow } from '../../src/core/runs/metrics.js';
import { parsePmEval, type PmEvalReport } from '../../src/core/runs/pmReport.js';
import { recordId } from '../../src/core/runs/records.js';
import { readEval, scanJsonl } from '../../src/node/runReader.js';
import type { PmReportHostToPage, PmReportPageToHost, PmReportPanelState } from '../../src/protocol/panels/pmReport.js';
import { HOSTILE, HOSTILE_STRINGS, HUGE_LINE, PanelHarness, ROOT, THEMES, type PanelPage, type ThemeName } from './harness.js';

const DEMO = path.join(ROOT, 'test', 'fixtures', 'runs', 'demo-20261128-082207');
const DEMO_NAME = 'demo-20261128-082207';

/** The run's `pm` rows and the PM parts of its eval.json, as the host reads them. */
async function hostView(dir: string): Promise<{ rows: MetricRow[]; report: PmEvalReport | null }> {
  const rows: MetricRow[] = [];
  await scanJsonl(path.join(dir, 'metrics.jsonl'), (batch) => {
    for (const b of batch) {
      if ((b.record as { stage?: unknown }).stage !== 'pm') continue;
      const r = rowFromRecord(b.record);
      if (r) rows.push(r);
    }
  });
  const json = readEval(dir);
  return { rows, report: json === undefined ? null : parsePmEval(json) };
}

const send = (p: PanelPage, m: PmReportHostToPage) => p.send(m);
const runMsg = (p: PanelPage, name = DEMO_NAME, dir = DEMO, kind: 'run' | 'trl' = 'run') => send(p, { type: 'pmReport/run', payload: { name, dir, kind } });
const rowsMsg = (p: PanelPage, rows: MetricRow[], reset?: boolean) => send(p, { type: 'pmReport/rows', payload: { rows, ...(reset ? { reset } : {}) } });
const evalMsg = (p: PanelPage, report: PmEvalReport | null, error?: string) => send(p, { type: 'pmReport/eval', payload: { report, ...(error ? { error } : {}) } });

/** Posts a large message as JSON text (faster than Playwright's own argument serialisation; VS Code's postMessage is JSON too). */
const sendJson = (p: PanelPage, m: PmReportHostToPage) => p.page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify(m));

const view = (p: PanelPage, heading: string) => p.page.locator('section.view', { has: p.page.locator('h2', { hasText: heading }) });

async function lastState(p: PanelPage): Promise<PmReportPanelState | undefined> {
  return (await p.recorder<PmReportPageToHost, PmReportPanelState>()).states.at(-1);
}

describe('Preference model report page', { timeout: 120_000 }, () => {
  const h = new PanelHarness({ bundle: 'pmreport', title: 'Preference model report', extraStyles: ['charts.css'], sources: ['webview/pmreport/main.ts', 'webview/shared/chart.ts', 'src/core/runs/pmReport.ts', 'src/core/runs/metrics.ts', 'media/charts.css', 'media/pmreport.css'] });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pmreport-test-'));
  let demo: { rows: MetricRow[]; report: PmEvalReport | null };

  before(async () => {
    await h.start();
    demo = await hostView(DEMO);
    assert.equal(demo.rows.length, 80);
  });
  after(async () => {
    await h.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('says what is missing before the preference model trains and before eval.json', async () => {
    const p = await h.open();
    assert.deepEqual(await p.messages(), [{ type: 'ready', payload: {} }]);
    await runMsg(p);
    await evalMsg(p, null);
    await p.page.getByText('The preference model has not logged a step yet.', { exact: false }).waitFor();
    await p.page.getByText('No held-out results yet', { exact: false }).waitFor();
    await view(p, 'Calibration').getByText('No held-out set to show.').waitFor();
    await view(p, 'Elo-equivalent differences').getByText('No evaluation yet', { exact: false }).waitFor();
    assert.equal(await p.page.locator('#dataset').isDisabled(), true);
    await evalMsg(p, null, 'eval.json: not valid JSON (Unexpected token)');
    await p.page.locator('.notice-error', { hasText: 'eval.json could not be read: eval.json: not valid JSON' }).waitFor();
    // a TRL reward-model folder has curves but no evaluation
    await runMsg(p, 'trl-rm', '/tmp/trl-rm', 'trl');
    await evalMsg(p, null);
    await p.page.getByText('A TRL folder has no held-out evaluation', { exact: false }).waitFor();
    await p.close();
  });

  it('shows the four views of the demo run: training, calibration with ECE, accuracy by score difference, Elo', async () => {
    const p = await h.open({ viewport: { width: 1280, height: 1000 } });
    await runMsg(p);
    await rowsMsg(p, demo.rows);
    await evalMsg(p, demo.report);
    await p.page.locator('h1', { hasText: `Preference model · ${DEMO_NAME}` }).waitFor();
    // summary of every held-out set, first with bins selected
    const rows = p.page.locator('.summary-table tbody tr');
    await rows.first().waitFor();
    assert.deepEqual(await rows.locator('th').allTextContents(), ['Held-out AI labels', 'Held-out helpfulness pairs', 'Evaluation pairs', 'Evaluation pairs', 'HHH alignment pairs']);
    assert.deepEqual(await rows.first().locator('td').allTextContents(), ['preference-model stage', '12', '85.7 %', '0.043', '0.91']);
    assert.equal(await rows.first().getAttribute('aria-selected'), 'true');
    // 1. training: three charts, latest values read out
    const training = view(p, 'Training');
    assert.equal(await training.locator('canvas').count() >= 3, true);
    assert.match((await training.locator('.readout').first().textContent()) ?? '', /^Latest · step 80.*loss .*lm_loss/);
    // 2. calibration: ECE recomputed from the bins
    const cal = view(p, 'Calibration');
    assert.match((await cal.locator('.headline').textContent()) ?? '', /^ECE 0\.043 · largest gap 0\.125 · 12 pairs in 4 bins$/);
    await cal.locator('canvas').first().waitFor();
    assert.match((await cal.locator('.chart').getAttribute('aria-label')) ?? '', /Reliability diagram of Held-out AI labels: ECE 0\.043/);
    assert.deepEqual(await cal.locator('.chart-legend').textContent(), 'Perfect calibrationObserved');
    // 3. accuracy by score difference beside σ(Δ)
    const margin = view(p, 'Accuracy by score difference');
    const mrows = margin.locator('tbody tr');
    assert.equal(await mrows.count(), 6);
    assert.deepEqual(await mrows.first().locator('td').allTextContents(), ['0.00–0.25', '4', '100.0 %', '53.1 %', '+46.9 pt']);
    assert.deepEqual(await mrows.last().locator('td').allTextContents(), ['≥ 4.00', '1', '100.0 %', '≥ 98.2 %', '+1.8 pt']);
    // 4. Elo: the recorded deltas, and the score differences' Elo-equivalent
    const elo = view(p, 'Elo-equivalent differences');
    const erows = elo.locator('tbody tr');
    assert.equal(await erows.count(), 3);
    assert.deepEqual(await erows.first().locator('th, td').allTextContents(), ['rl_cai vs sl_cai', '47.4 %', '−18', '', '+0.37', '+65', '–']);
    assert.deepEqual(await erows.nth(1).locator('td').allTextContents(), ['65.6 %', '+112', '', '+0.97', '+169', '–']);
    assert.match((await elo.textContent()) ?? '', /base 1\.109 · sl_cai 1\.712 · rl_cai 2\.084/);
    await p.close();
  });

  it('switches the held-out set from the select and the keyboard, and keeps it for a reload', async () => {
    const p = await h.open();
    await runMsg(p);
    await rowsMsg(p, demo.rows);
    await evalMsg(p, demo.report);
    const cal = view(p, 'Calibration');
    await cal.locator('.headline', { hasText: 'ECE 0.043' }).waitFor();
    await p.page.selectOption('#dataset', 'pm:held_out_helpfulness');
    await cal.locator('.headline', { hasText: /^ECE 0\.185/ }).waitFor();
    // arrow keys in the summary table
    const rows = p.page.locator('.summary-table tbody tr');
    await rows.nth(1).focus();
    await p.page.keyboard.press('ArrowDown');
    await cal.locator('.headline', { hasText: /^ECE 0\.143/ }).waitFor();
    await p.page.keyboard.press('End');
    await cal.locator('.headline', { hasText: /^ECE 0\.090/ }).waitFor();
    assert.equal(await p.page.locator('#dataset').inputValue(), 'evaluation:hhh');
    assert.equal(await p.page.evaluate(() => document.activeElement?.getAttribute('data-key')), 'evaluation:hhh');
    await p.page.locator('#smoothing').evaluate((e) => {
      (e as HTMLInputElement).value = '0.2';
      e.dispatchEvent(new Event('input', { bubbles: true }));
    });
    const st = await lastState(p);
    assert.deepEqual(st, { runDir: DEMO, dataset: 'evaluation:hhh', smoothing: 0.2 });
    await p.close();

    const q = await h.open({ state: st });
    assert.equal(await q.page.locator('#smoothing').inputValue(), '0.2');
    await runMsg(q);
    await rowsMsg(q, demo.rows);
    await evalMsg(q, demo.report);
    await view(q, 'Calibration').locator('.headline', { hasText: /^ECE 0\.090/ }).waitFor();
    assert.equal(await q.page.locator('#dataset').inputValue(), 'evaluation:hhh');
    await q.close();
  });

  it('follows a training run live: rows extend the curves, a new eval.json fills the views', async () => {
    // a run directory the "trainer" appends to; the test reads it back as the host's tail would
    const dir = path.join(tmp, 'live');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'metrics.jsonl');
    const rec = (s: number) => ({ id: recordId(['pm', String(s)]), stage: 'pm', step: s, loss: 0.7 / s + 0.2, accuracy: Math.min(1, 0.5 + s / 50), margin: s / 10, phase: s <= 5 ? 'pmp' : 'finetune', lm_loss: 0.3 });
    let read = 0;
    const more = async (): Promise<MetricRow[]> => {
      const out: MetricRow[] = [];
      const r = await scanJsonl(file, (b) => void out.push(...b.map((x) => rowFromRecord(x.record)!)), { from: read });
      read = r.end;
      return out;
    };
    fs.writeFileSync(file, Array.from({ length: 10 }, (_, i) => JSON.stringify(rec(i + 1))).join('\n') + '\n');
    const p = await h.open();
    await runMsg(p, 'live', dir);
    await evalMsg(p, null);
    await rowsMsg(p, await more());
    const loss = view(p, 'Training').locator('figure', { hasText: 'Loss' });
    await loss.locator('.readout', { hasText: /^Latest · step 10/ }).waitFor();
    fs.appendFileSync(file, Array.from({ length: 10 }, (_, i) => JSON.stringify(rec(i + 11))).join('\n') + '\n');
    const fresh = await more();
    assert.equal(fresh.length, 10);
    await rowsMsg(p, fresh);
    await loss.locator('.readout', { hasText: /^Latest · step 20/ }).waitFor();
    assert.match((await loss.locator('.chart').getAttribute('aria-label')) ?? '', /loss 0\.2\d* at step 20/);
    // the stage finishes: eval.json appears
    const report = parsePmEval({ preference_model: { held_out_ai_labels: { pairs: 4, accuracy: 0.75, ece: 0.1, mean_margin: 1, bins: [{ lo: 0.6, hi: 0.7, count: 2, confidence: 0.65, observed: 0.5 }, { lo: 0.9, hi: 1, count: 2, confidence: 0.95, observed: 1 }], accuracy_by_margin: [{ lo: 0, hi: 1, count: 2, accuracy: 0.5 }, { lo: 1, hi: null, count: 2, accuracy: 1 }] } } });
    await evalMsg(p, report);
    await view(p, 'Calibration').locator('.headline', { hasText: /^ECE 0\.100 · largest gap 0\.150 · 4 pairs in 2 bins$/ }).waitFor();
    await view(p, 'Accuracy by score difference').locator('canvas').first().waitFor();
    // the file was rewritten: start over
    await rowsMsg(p, [], true);
    await view(p, 'Training').getByText('The preference model has not logged a step yet.', { exact: false }).waitFor();
    await p.close();
  });

  it('reads out a hovered bin, and exports charts as PNG and the tables as CSV', async () => {
    const p = await h.open({ viewport: { width: 1280, height: 1000 } });
    await runMsg(p);
    await rowsMsg(p, demo.rows);
    await evalMsg(p, demo.report);
    const cal = view(p, 'Calibration');
    await cal.locator('canvas').first().waitFor();
    // keyboard on the chart: the first real bin after the diagonal's start
    await cal.locator('.chart').focus();
    await p.page.keyboard.press('Home');
    await p.page.keyboard.press('ArrowRight');
    await cal.locator('.readout', { hasText: /^Bin 0\.0–0\.1: 1 pair, predicted 2\.93e-5, observed 5\.12e-4, gap 4\.83e-4$/ }).waitFor();
    // the mouse over the margin chart
    const over = view(p, 'Accuracy by score difference').locator('.u-over');
    await over.scrollIntoViewIfNeeded();
    const box = (await over.boundingBox())!;
    await p.page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await view(p, 'Accuracy by score difference').locator('.readout', { hasText: /^Δ \d/ }).waitFor();
    // exports
    await cal.getByRole('button', { name: 'Export the reliability diagram as PNG' }).click();
    const png = await p.waitForMessage<PmReportPageToHost>((m) => m.type === 'pmReport/export' && m.payload.format === 'png');
    assert.match(png.payload.data, /^data:image\/png;base64,/);
    assert.equal(png.payload.fileName, `pm-${DEMO_NAME}-Reliability-Held-out-AI-labels-ECE-0.043.png`);
    await p.page.getByRole('button', { name: 'Export tables (CSV)' }).click();
    const csv = await p.waitForMessage<PmReportPageToHost>((m) => m.type === 'pmReport/export' && m.payload.format === 'csv');
    assert.match(csv.payload.data, /^table,dataset,lo,hi,count/);
    assert.equal(csv.payload.data.split('\n').filter((l) => l.startsWith('elo,')).length, 3);
    await view(p, 'Training').getByRole('button', { name: 'Export the loss curves as CSV' }).click();
    const train = await p.waitForMessage<PmReportPageToHost>((m) => m.type === 'pmReport/export' && m.payload.format === 'csv' && m.payload.data.startsWith('run,'));
    assert.equal(train.payload.data.trimEnd().split('\n').length, 1 + 80 + 20, 'loss at 80 steps and lm_loss at 20');
    await p.close();
  });

  it('takes hostile run, dataset and policy names (and a 1 MB one) as text, and nothing runs', async () => {
    const p = await h.open({ viewport: { width: 900, height: 900 } });
    await sendJson(p, { type: 'pmReport/run', payload: { name: `${HOSTILE.img}${HUGE_LINE}`, dir: '/tmp/x', kind: 'run' } });
    await sendJson(p, { type: 'pmReport/rows', payload: { rows: demo.rows.slice(0, 30).map((r) => ({ ...r, tags: [['phase', r.step > 10 ? HOSTILE.script : HUGE_LINE]] as [string, string][] })) } });
    const sets: Record<string, unknown> = {};
    const base = (demo.report!.datasets[0]!);
    for (const n of [...HOSTILE_STRINGS, HUGE_LINE]) sets[n] = { pairs: 1, accuracy: 0.5, ece: 0.1, bins: base.bins, accuracy_by_margin: base.byMargin };
    const policies: Record<string, unknown> = {};
    const win: Record<string, unknown> = {};
    HOSTILE_STRINGS.forEach((n, i) => {
      policies[n] = { mean_pm_score: i };
      if (i) win[`${n}_vs_${HOSTILE_STRINGS[i - 1]}`] = { pm: { win_rate: 0.6, delta_elo: 70 }, judge: { model: HOSTILE.svg, win_rate: 0.5 } };
    });
    policies[HUGE_LINE] = { mean_pm_score: 1 };
    win[`${HUGE_LINE}_vs_x`] = { pm: { win_rate: 0.9 } };
    await sendJson(p, { type: 'pmReport/eval', payload: { report: parsePmEval({ preference_model: sets, evaluation: { policies, win_rates: win } }) } });
    await p.page.locator('.summary-table tbody tr').nth(9).waitFor();
    const names = await p.page.locator('.summary-table tbody th').allTextContents();
    assert.ok(names.includes(HOSTILE.img) && names.includes(HOSTILE.closeScript));
    assert.ok(names.some((n) => n.includes('⟨U+202E⟩')), 'bidi override shown, not obeyed');
    assert.ok(names.every((n) => n.length < 200), 'long names clipped');
    // pick the hostile sets, hover, export
    await p.page.selectOption('#dataset', `pm:${HOSTILE.script}`);
    await view(p, 'Calibration').locator('canvas').first().waitFor();
    assert.equal(await view(p, 'Elo-equivalent differences').locator('tbody tr').count(), HOSTILE_STRINGS.length);
    assert.equal(await p.page.locator('main img, main script, main svg, main a, main style, #app img, #app svg, #app a, #app style').count(), 0);
    assert.ok(await p.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling');
    await p.page.getByRole('button', { name: 'Export tables (CSV)' }).click();
    const csv = await p.waitForMessage<PmReportPageToHost>((m) => m.type === 'pmReport/export');
    assert.ok(csv.payload.data.includes(HUGE_LINE));
    assert.match(csv.payload.fileName, /^[A-Za-z0-9._-]+\.csv$/);
    await p.close();
  });

  it('follows the theme and saves screenshots in light, dark and high contrast', async () => {
    const p = await h.open({ viewport: { width: 1280, height: 1100 } });
    await runMsg(p);
    await rowsMsg(p, demo.rows);
    await evalMsg(p, demo.report);
    const cal = view(p, 'Calibration');
    await cal.locator('canvas').first().waitFor();
    const pngs: string[] = [];
    for (const theme of Object.keys(THEMES) as ThemeName[]) {
      await p.setTheme(theme);
      await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await cal.locator('canvas').first().waitFor();
      await p.screenshot(`pmreport-${theme}`);
      await cal.getByRole('button', { name: 'Export the reliability diagram as PNG' }).click();
      const m = await p.waitForMessage<PmReportPageToHost>((x) => x.type === 'pmReport/export' && x.payload.format === 'png' && !pngs.includes(x.payload.data));
      pngs.push(m.payload.data);
    }
    assert.equal(new Set(pngs).size, 3);
    await p.close();
  });
});
