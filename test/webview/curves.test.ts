/**
 * The training-curves page (webview/curves → dist/webview/curves.js) in headless Chromium, fed
 * what the host sends: rows read from fixture runs written to a temporary folder (metrics.jsonl of
 * SL-CAI, preference-model and PPO steps; a TRL output folder's trainer_state.json) by the same
 * functions the host uses (scanJsonl + rowFromRecord, runFolderKind + trlTrainerState + trlRows),
 * the demo run for the screenshots, three 10,000-step runs, and the hostile corpus as run, stage
 * and metric names. Run `node scripts/build.mjs` first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rowFromRecord, trlRows, type MetricRow } from '../../src/core/runs/metrics.js';
import { recordId, type MetricRecord } from '../../src/core/runs/records.js';
import { readJsonFile, runFolderKind, scanJsonl, trlTrainerState } from '../../src/node/runReader.js';
import type { CurvesHostToPage, CurvesPageToHost, CurvesPanelState, CurvesRun } from '../../src/protocol/panels/curves.js';
import { HOSTILE, HOSTILE_STRINGS, HUGE_LINE, PanelHarness, ROOT, THEMES, type PanelPage, type ThemeName } from './harness.js';

const DEMO = path.join(ROOT, 'test', 'fixtures', 'runs', 'demo-20261128-082207');

// --- fixtures ----------------------------------------------------------------------------------

const PPO_METRICS = ['objective/kl', 'objective/entropy', 'objective/scores', 'objective/rlhf_reward', 'objective/non_score_reward', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'val/ratio_var', 'lr', 'episode'];

/** Records a run of every stage writes (deterministic noise per seed). */
function records(seed: number, o: { sft?: number; pm?: number; ppo?: number; from?: number } = {}): MetricRecord[] {
  const noise = (i: number) => Math.sin(i * 12.9898 + seed * 78.233) * 0.5;
  const out: MetricRecord[] = [];
  const from = o.from ?? 1;
  for (let s = from; s <= (o.sft ?? 0); s++) out.push({ id: recordId(['sft', String(s)]), stage: 'sft', step: s, loss: 2 * Math.exp(-s / 30) + 0.3 + noise(s) * 0.1, lr: 3e-4, grad_norm: 1 + noise(s + 1), tokens: s * 4096 });
  for (let s = from; s <= (o.pm ?? 0); s++) out.push({ id: recordId(['pm', String(s)]), stage: 'pm', step: s, loss: 0.7 * Math.exp(-s / 40) + 0.2 + noise(s) * 0.1, accuracy: Math.min(1, 0.5 + s / 100 + noise(s) * 0.2), margin: s / 20 + noise(s), phase: s <= 10 ? 'pmp' : 'finetune' });
  for (let s = from; s <= (o.ppo ?? 0); s++) {
    const kl = s * 0.05 + noise(s) * 0.02;
    out.push({
      id: recordId(['ppo', String(s)]),
      stage: 'ppo',
      step: s,
      'objective/kl': kl,
      'objective/entropy': 6 - s * 0.01,
      'objective/scores': 1 + s * 0.02 + noise(s) * 0.3,
      'objective/rlhf_reward': 1 + s * 0.02 - 0.1 * kl + noise(s) * 0.3,
      'objective/non_score_reward': -0.1 * kl,
      'policy/approxkl_avg': 0.01 + noise(s) * 0.005,
      'policy/clipfrac_avg': 0.05,
      'loss/policy_avg': noise(s) * 0.01,
      'loss/value_avg': 10 * Math.exp(-s / 10),
      'val/clipfrac_avg': 0.4,
      'val/ratio': 1 + noise(s) * 0.01,
      'val/ratio_var': 0.01,
      lr: 3e-5,
      episode: s * 16,
      response_tokens: 40 + noise(s) * 5,
    });
  }
  return out;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curves-test-'));

/** Writes a run directory's metrics.jsonl and reads it back as the host does. */
async function runRows(name: string, recs: MetricRecord[]): Promise<{ dir: string; rows: MetricRow[] }> {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ runId: name, stages: {} }));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  assert.equal(runFolderKind(dir), 'run');
  return { dir, rows: await readRows(dir) };
}

async function readRows(dir: string): Promise<MetricRow[]> {
  const rows: MetricRow[] = [];
  await scanJsonl(path.join(dir, 'metrics.jsonl'), (batch) => {
    for (const b of batch) {
      const r = rowFromRecord(b.record);
      if (r) rows.push(r);
    }
  });
  return rows;
}

/** A TRL SFT output folder with its state in a checkpoint folder, read as the host does. */
function trlFolder(): { dir: string; rows: MetricRow[] } {
  const dir = path.join(tmp, 'trl-sft-out');
  const ck = path.join(dir, 'checkpoint-40');
  fs.mkdirSync(ck, { recursive: true });
  const log_history: Record<string, number>[] = [];
  for (let s = 2; s <= 40; s += 2) {
    log_history.push({ epoch: s / 40, grad_norm: 1.2, learning_rate: 2e-5, loss: 2.2 * Math.exp(-s / 25) + 0.4, num_tokens: s * 4000, step: s });
    if (s % 10 === 0) log_history.push({ epoch: s / 40, eval_loss: 2.3 * Math.exp(-s / 25) + 0.5, eval_runtime: 3, step: s });
  }
  log_history.push({ epoch: 1, step: 40, train_loss: 1.1, train_runtime: 100, total_flos: 1e12 });
  fs.writeFileSync(path.join(ck, 'trainer_state.json'), JSON.stringify({ global_step: 40, max_steps: 40, log_history }));
  assert.equal(runFolderKind(dir), 'trl');
  const file = trlTrainerState(dir)!;
  return { dir, rows: trlRows(readJsonFile(file)).rows };
}

// --- page helpers ------------------------------------------------------------------------------

const send = (p: PanelPage, m: CurvesHostToPage) => p.send(m);
const runsMsg = (p: PanelPage, runs: CurvesRun[]) => send(p, { type: 'curves/runs', payload: { runs } });
const rowsMsg = (p: PanelPage, run: number, rows: MetricRow[], reset?: boolean) => send(p, { type: 'curves/rows', payload: { run, rows, ...(reset ? { reset } : {}) } });

const cardTitles = (p: PanelPage) => p.page.locator('.card .card-title').allTextContents();
const card = (p: PanelPage, metric: string) => p.page.locator('.card', { has: p.page.locator('.card-title', { hasText: new RegExp(`^${metric.replace(/[/\\^$*+?.()|[\]{}]/g, '\\$&')}$`) }) });

async function setRange(p: PanelPage, selector: string, value: number): Promise<void> {
  await p.page.locator(selector).evaluate((e, v) => {
    (e as HTMLInputElement).value = String(v);
    e.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

async function lastState(p: PanelPage): Promise<CurvesPanelState | undefined> {
  return (await p.recorder<CurvesPageToHost, CurvesPanelState>()).states.at(-1);
}

/** Waits for `count` cards, and for those on screen to have drawn (the others draw when scrolled to). */
async function chartsDrawn(p: PanelPage, count: number): Promise<void> {
  await p.page.waitForFunction((n) => {
    const cards = [...document.querySelectorAll('.card')];
    const seen = cards.filter((c) => {
      const r = c.getBoundingClientRect();
      return r.bottom > 0 && r.top < window.innerHeight;
    });
    return cards.length === n && seen.length > 0 && seen.every((c) => c.querySelector('canvas') || c.querySelector('.empty'));
  }, count);
}

/** Scrolls a card into view and waits for its chart. */
async function drawn(p: PanelPage, metric: string, nth = 0): Promise<void> {
  const c = card(p, metric).nth(nth);
  await c.scrollIntoViewIfNeeded();
  await c.locator('canvas').first().waitFor();
}

/** Posts a large message as JSON text (Playwright's own argument serialisation is slow for 100,000s of small arrays; VS Code's postMessage is JSON too). */
async function sendJson(p: PanelPage, m: CurvesHostToPage): Promise<void> {
  await p.page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify(m));
}

describe('Training curves page', { timeout: 180_000 }, () => {
  const h = new PanelHarness({ bundle: 'curves', title: 'Training curves', extraStyles: ['charts.css'], sources: ['webview/curves/main.ts', 'webview/shared/chart.ts', 'src/core/runs/metrics.ts', 'media/charts.css', 'media/curves.css'] });
  let a: { dir: string; rows: MetricRow[] };
  let b: { dir: string; rows: MetricRow[] };
  let trl: { dir: string; rows: MetricRow[] };
  let runs: CurvesRun[];

  before(async () => {
    await h.start();
    a = await runRows('run-a', records(1, { sft: 60, pm: 40, ppo: 30 }));
    b = await runRows('run-b', records(2, { sft: 40, pm: 40, ppo: 20 }));
    trl = trlFolder();
    runs = [
      { index: 0, name: 'run-a', dir: a.dir, kind: 'run' },
      { index: 1, name: 'run-b', dir: b.dir, kind: 'run' },
      { index: 2, name: 'trl-sft-out', dir: trl.dir, kind: 'trl' },
    ];
  });
  after(async () => {
    await h.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('says what it shows before and without data', async () => {
    const p = await h.open();
    assert.deepEqual(await p.messages(), [{ type: 'ready', payload: {} }]);
    await p.page.getByText('Loading the runs…').waitFor();
    await runsMsg(p, []);
    await p.page.getByText('No run to show.').waitFor();
    await runsMsg(p, runs.slice(0, 1));
    await p.page.getByText('No metrics logged yet. Curves appear here as the run logs them.').waitFor();
    await send(p, { type: 'curves/status', payload: { run: 0, warning: 'metrics.jsonl: line 3 is not valid JSON and was skipped.' } });
    await p.page.locator('.warnings .notice-error', { hasText: 'line 3 is not valid JSON' }).waitFor();
    await p.close();
  });

  it('draws every metric of SL-CAI, the preference model and PPO, grouped, with several runs overlaid (ours and TRL)', async () => {
    const p = await h.open();
    await runsMsg(p, runs);
    await rowsMsg(p, 0, a.rows);
    await rowsMsg(p, 1, b.rows);
    await rowsMsg(p, 2, trl.rows);
    await send(p, { type: 'curves/status', payload: { run: 0, status: 'running' } });
    await send(p, { type: 'curves/status', payload: { run: 2, status: 'step 40 / 40' } });
    const sftMetrics = ['loss', 'eval_loss', 'lr', 'grad_norm', 'tokens', 'epoch'];
    const pmMetrics = ['loss', 'accuracy', 'margin'];
    const ppoMetrics = ['objective/rlhf_reward', 'objective/scores', 'objective/kl', 'objective/entropy', 'objective/non_score_reward', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'val/ratio_var', 'response_tokens', 'lr', 'episode'];
    await chartsDrawn(p, sftMetrics.length + pmMetrics.length + ppoMetrics.length);
    // charts below the fold draw when they scroll into view
    const all = await p.page.locator('.card').count();
    for (let i = 0; i < all; i++) {
      const c = p.page.locator('.card').nth(i);
      await c.scrollIntoViewIfNeeded();
      await c.locator('canvas').first().waitFor();
    }
    await p.page.evaluate(() => window.scrollTo(0, 0));
    assert.deepEqual(await p.page.locator('.group h2').allTextContents(), ['SL-CAI (supervised) · 6 metrics', 'Preference model · 3 metrics', 'PPO (RL-CAI) · 15 metrics']);
    const titles = await cardTitles(p);
    assert.deepEqual(titles.slice(0, 6), ['loss', 'eval_loss', 'lr', 'grad_norm', 'tokens', 'epoch']);
    assert.deepEqual(titles.slice(9), ppoMetrics);
    for (const m of PPO_METRICS) assert.ok(titles.includes(m), m);
    // legend: one toggle per run, TRL marked, statuses shown
    assert.deepEqual(await p.page.locator('.legend .run-toggle .run-name').allTextContents(), ['run-a', 'run-b', 'trl-sft-out']);
    await p.page.locator('.legend .run-toggle', { hasText: 'trl-sft-out' }).locator('.tag', { hasText: 'TRL' }).waitFor();
    await p.page.locator('.legend .run-toggle', { hasText: 'run-a' }).locator('.run-status', { hasText: 'running' }).waitFor();
    // SFT loss overlays the three runs, PPO metrics the two that ran PPO
    assert.equal(await card(p, 'loss').first().locator('.latest-item').count(), 3);
    assert.equal(await card(p, 'objective/kl').locator('.latest-item').count(), 2);
    assert.match((await card(p, 'loss').first().locator('.latest').textContent()) ?? '', /at step 60.*at step 40.*at step 40/);
    // every PPO chart explains itself with a healthy range
    for (const m of ['objective/kl', 'val/ratio', 'policy/clipfrac_avg', 'objective/rlhf_reward']) {
      const c = card(p, m);
      await c.locator('.about summary').click();
      assert.match((await c.locator('.about').textContent()) ?? '', /Healthy: .{20,}/, m);
    }
    // the PM phase change is marked on the PM charts (drawn on the canvas; the readout says where)
    assert.match(await p.page.locator('#curves-status').textContent() ?? '', /24 charts of 24/);
    await p.close();
  });

  it('extends the charts as rows arrive while the run trains', async () => {
    const p = await h.open();
    await runsMsg(p, runs.slice(0, 1));
    const recs = records(3, { ppo: 100 });
    const first = recs.filter((r) => r.step <= 50).map((r) => rowFromRecord(r)!);
    await rowsMsg(p, 0, first);
    const kl = card(p, 'objective/kl');
    await drawn(p, 'objective/kl');
    await kl.locator('.latest', { hasText: 'at step 50' }).waitFor();
    assert.match((await kl.locator('.chart').getAttribute('aria-label')) ?? '', /50 points/);
    // the next iterations, as JsonlTail delivers them
    for (let s = 51; s <= 100; s += 10) await rowsMsg(p, 0, recs.filter((r) => r.step >= s && r.step < s + 10).map((r) => rowFromRecord(r)!));
    await kl.locator('.latest', { hasText: 'at step 100' }).waitFor();
    assert.match((await kl.locator('.chart').getAttribute('aria-label')) ?? '', /100 points/);
    // a new metric appearing mid-run gets its chart
    await rowsMsg(p, 0, [{ stage: 'ppo', step: 101, values: [['objective/kl', 5], ['val/num_eos_tokens', 3]] }]);
    await drawn(p, 'val/num_eos_tokens');
    // a rewritten file (reset) starts the run over
    await rowsMsg(p, 0, first.slice(0, 5), true);
    await kl.locator('.latest', { hasText: 'at step 5' }).waitFor();
    await p.close();
  });

  it('shows every run’s value at the hovered x, and follows the arrow keys', async () => {
    const p = await h.open();
    await runsMsg(p, runs.slice(0, 2));
    await rowsMsg(p, 0, a.rows);
    await rowsMsg(p, 1, b.rows);
    const kl = card(p, 'objective/kl');
    await drawn(p, 'objective/kl');
    const over = kl.locator('.u-over');
    await over.scrollIntoViewIfNeeded();
    const box = (await over.boundingBox())!;
    await p.page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await kl.locator('.readout .readout-item').nth(1).waitFor();
    const text = (await kl.locator('.readout').textContent()) ?? '';
    assert.match(text, /^Step \d+/);
    assert.match(text, /run-a -?\d.*raw -?\d/);
    assert.match(text, /run-b -?\d.*raw -?\d/);
    // the cursor is synced: another chart shows the same x
    const ent = card(p, 'objective/entropy');
    const stepOf = (t: string | null) => /^Step (\d+)/.exec(t ?? '')?.[1];
    await p.page.waitForFunction(() => [...document.querySelectorAll('.readout-x')].length > 3);
    assert.equal(stepOf(await ent.locator('.readout').textContent()), stepOf(text));
    // keyboard: Home goes to the first point, → to the next
    await p.page.mouse.move(0, 0);
    await kl.locator('.chart').focus();
    await p.page.keyboard.press('Home');
    await kl.locator('.readout-x', { hasText: /^Step 1$/ }).waitFor();
    await p.page.keyboard.press('ArrowRight');
    await kl.locator('.readout-x', { hasText: /^Step 2$/ }).waitFor();
    await p.page.keyboard.press('End');
    await kl.locator('.readout-x', { hasText: /^Step 30$/ }).waitFor();
    await p.close();
  });

  it('smooths, switches the x axis, filters stages and metrics, toggles runs, and keeps all of it for a reload', async () => {
    const p = await h.open();
    await runsMsg(p, runs);
    await rowsMsg(p, 0, a.rows);
    await rowsMsg(p, 1, b.rows);
    await rowsMsg(p, 2, trl.rows);
    const loss = card(p, 'objective/scores');
    await drawn(p, 'objective/scores');
    const lastRaw = a.rows.filter((r) => r.stage === 'ppo').at(-1)!.values.find(([k]) => k === 'objective/scores')![1];
    // smoothing 0: the latest value is the raw one
    await setRange(p, '#smoothing', 0);
    await p.page.locator('.smoothing-value', { hasText: '0.00' }).waitFor();
    await loss.locator('.latest-item').first().filter({ hasText: `${+lastRaw.toPrecision(5)} at step 30` }).waitFor();
    await setRange(p, '#smoothing', 0.9);
    await p.page.locator('.smoothing-value', { hasText: '0.90' }).waitFor();
    await loss.locator('.latest-item').first().filter({ hasNotText: `${+lastRaw.toPrecision(5)} at` }).waitFor();
    // x axis: PPO against episodes, SL-CAI against tokens; a stage without the axis stays on steps
    await p.page.selectOption('#x-axis', 'episode');
    await card(p, 'objective/kl').scrollIntoViewIfNeeded();
    await p.page.waitForFunction(() => /against episode/.test(document.querySelector('.card .chart[aria-label*="objective/kl"]')?.getAttribute('aria-label') ?? ''));
    await drawn(p, 'loss');
    assert.match((await card(p, 'loss').first().locator('.chart').getAttribute('aria-label')) ?? '', /against step/);
    await p.page.selectOption('#x-axis', 'tokens');
    await p.page.waitForFunction(() => /against tokens/.test(document.querySelector('.card .chart')?.getAttribute('aria-label') ?? ''));
    // filters
    await p.page.fill('#metric-filter', 'kl');
    await p.page.waitForFunction(() => document.querySelectorAll('.card').length === 2);
    assert.deepEqual(await cardTitles(p), ['objective/kl', 'policy/approxkl_avg'], 'filtered by name');
    await p.page.fill('#metric-filter', 'zzz-nothing');
    await p.page.getByText('No metric matches the filter.').waitFor();
    await p.page.fill('#metric-filter', '');
    await p.page.locator('.stage-filter label', { hasText: 'PPO' }).locator('input').uncheck();
    await p.page.waitForFunction(() => ![...document.querySelectorAll('.group h2')].some((h) => h.textContent?.startsWith('PPO')));
    // run toggles
    const toggle = p.page.locator('.legend .run-toggle', { hasText: 'run-b' });
    await toggle.click();
    // the legend is rebuilt on the next frame: wait for the new button rather than reading the old one
    await p.page.locator('.legend .run-toggle[aria-pressed="false"]', { hasText: 'run-b' }).waitFor();
    await p.page.waitForFunction(() => document.querySelector('.card')?.querySelectorAll('.latest-item').length === 2);
    const st = await lastState(p);
    assert.deepEqual(st, { runDirs: [a.dir, b.dir, trl.dir], smoothing: 0.9, xAxis: 'tokens', hiddenStages: ['ppo'], filter: '', hiddenRuns: [b.dir] });
    await p.close();

    // a reload: the page starts from its saved state
    const q = await h.open({ state: st });
    assert.equal(await q.page.locator('#smoothing').inputValue(), '0.9');
    assert.equal(await q.page.locator('#x-axis').inputValue(), 'tokens');
    assert.equal(await q.page.locator('.stage-filter label', { hasText: 'PPO' }).locator('input').isChecked(), false);
    await runsMsg(q, runs);
    await rowsMsg(q, 0, a.rows);
    await rowsMsg(q, 1, b.rows);
    await q.page.locator('.legend .run-toggle[aria-pressed="false"]', { hasText: 'run-b' }).waitFor();
    await q.page.locator('.card canvas').first().waitFor();
    assert.ok(!(await q.page.locator('.group h2').allTextContents()).some((t) => t.startsWith('PPO')));
    await q.close();
  });

  it('flags a PPO metric outside its usual range', async () => {
    const p = await h.open();
    await runsMsg(p, runs.slice(0, 1));
    const rows = records(4, { ppo: 20 }).map((r) => rowFromRecord({ ...r, 'val/ratio': 3 })!);
    await rowsMsg(p, 0, rows);
    const badge = card(p, 'val/ratio').locator('.badge');
    await badge.waitFor();
    assert.equal(await badge.textContent(), 'above usual range');
    assert.match((await badge.getAttribute('title')) ?? '', /between 0\.8 and 1\.25/);
    assert.equal(await card(p, 'objective/kl').locator('.badge').isVisible(), false);
    await p.close();
  });

  it('exports CSV (raw and smoothed) and PNG through the host', async () => {
    const p = await h.open();
    await runsMsg(p, runs.slice(0, 2));
    await rowsMsg(p, 0, a.rows);
    await rowsMsg(p, 1, b.rows);
    await drawn(p, 'objective/kl');
    await p.page.getByRole('button', { name: 'Export CSV' }).click();
    const all = await p.waitForMessage<CurvesPageToHost>((m) => m.type === 'curves/export' && m.payload.format === 'csv');
    const lines = all.payload.data.trimEnd().split('\n');
    assert.equal(lines[0], 'run,stage,metric,step,x_axis,x,value,smoothed,envelope_min,envelope_max');
    const points = [...a.rows, ...b.rows].reduce((n, r) => n + r.values.length, 0);
    assert.equal(lines.length - 1, points, 'one line per logged value');
    assert.ok(lines.some((l) => l.startsWith('run-b,ppo,objective/kl,20,step,20,')));
    assert.match(all.payload.fileName, /^curves-run-a_run-b-all\.csv$/);
    // one chart as PNG
    await card(p, 'objective/kl').getByRole('button', { name: 'Export objective/kl as PNG' }).click();
    const png = await p.waitForMessage<CurvesPageToHost>((m) => m.type === 'curves/export' && m.payload.format === 'png');
    assert.match(png.payload.data, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    const bytes = Buffer.from(png.payload.data.split(',')[1]!, 'base64');
    assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.ok(bytes.readUInt32BE(16) > 300 && bytes.readUInt32BE(20) > 150, 'a chart-sized image');
    // one chart as CSV
    await card(p, 'objective/kl').getByRole('button', { name: 'Export objective/kl as CSV' }).click();
    await p.waitForMessage<CurvesPageToHost>((m) => m.type === 'curves/export' && m.payload.format === 'csv' && m.payload.data.split('\n').length === 2 + 30 + 20);
    await p.close();
  });

  it('takes hostile run, stage and metric names (and a 1 MB one) as text, and nothing runs', async () => {
    const p = await h.open({ viewport: { width: 900, height: 900 } });
    const names = [...HOSTILE_STRINGS, HUGE_LINE];
    // four runs with hostile names and a fifth named by the 1 MB line
    await sendJson(p, { type: 'curves/runs', payload: { runs: [...HOSTILE_STRINGS.slice(0, 4), HUGE_LINE].map((name, index) => ({ index, name, dir: `/tmp/${index}`, kind: 'run' as const })) } });
    const rows: MetricRow[] = [];
    for (let s = 1; s <= 5; s++) {
      rows.push({ stage: 'ppo', step: s, values: HOSTILE_STRINGS.map((n, i) => [n, i + s]) as [string, number][], tags: [['phase', HOSTILE.script]] });
      rows.push({ stage: HOSTILE.img, step: s, values: [[HOSTILE.link, s]] });
    }
    for (let r = 0; r < 4; r++) await sendJson(p, { type: 'curves/rows', payload: { run: r, rows } });
    // the 1 MB line as a metric name and as a stage name
    await sendJson(p, { type: 'curves/rows', payload: { run: 4, rows: [{ stage: 'ppo', step: 1, values: [[HUGE_LINE, 1]] }, { stage: HUGE_LINE, step: 1, values: [['loss', 1]] }] } });
    await sendJson(p, { type: 'curves/status', payload: { run: 1, status: HOSTILE.svg, warning: HUGE_LINE } });
    await chartsDrawn(p, names.length + 2);
    const titles = await cardTitles(p);
    for (const n of HOSTILE_STRINGS) assert.ok(titles.some((t) => t === n || t.includes('⟨U+')), `title for ${n}`);
    assert.ok(titles.includes(HOSTILE.img) && titles.includes(HOSTILE.script) && titles.includes(HOSTILE.link));
    // invisible and direction characters are shown, not obeyed
    assert.ok(titles.some((t) => t.includes('⟨U+202E⟩')));
    assert.ok(titles.some((t) => t.includes('⟨U+200B⟩')));
    // nothing became markup
    assert.equal(await p.page.locator('.groups img, .groups script, .groups svg, .groups a, .legend img, .groups style').count(), 0);
    assert.equal(await p.page.evaluate(() => getComputedStyle(document.body).display), 'block');
    // the huge name is clipped in the layout: the page does not scroll sideways
    assert.ok(await p.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    // hover and export with hostile names
    const first = p.page.locator('.card .u-over').first();
    await first.scrollIntoViewIfNeeded();
    const box = (await first.boundingBox())!;
    await p.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await p.page.locator('.card .readout-item').first().waitFor();
    await p.page.getByRole('button', { name: 'Export CSV' }).click();
    const csv = await p.waitForMessage<CurvesPageToHost>((m) => m.type === 'curves/export');
    assert.ok(csv.payload.data.includes(`"${HOSTILE.img.replace(/"/g, '""')}"`));
    assert.ok(csv.payload.data.includes(HUGE_LINE), 'the long name exported whole');
    assert.match(csv.payload.fileName, /^[A-Za-z0-9._-]+\.csv$/);
    await p.close();
  });

  it('stays fast with three runs of 10,000 steps', async () => {
    const p = await h.open();
    const keep = new Set(['objective/kl', 'objective/scores', 'loss/value_avg', 'val/ratio', 'episode']);
    const big = [0, 1, 2].map((seed) => records(seed, { ppo: 10_000 }).map((r) => {
      const row = rowFromRecord(r)!;
      return { ...row, values: row.values.filter(([k]) => keep.has(k)) };
    }));
    await runsMsg(p, [0, 1, 2].map((index) => ({ index, name: `big-${index}`, dir: `/big/${index}`, kind: 'run' })));
    const t0 = Date.now();
    for (let r = 0; r < 3; r++) for (let i = 0; i < big[r]!.length; i += 5000) await sendJson(p, { type: 'curves/rows', payload: { run: r, rows: big[r]!.slice(i, i + 5000) } });
    await card(p, 'objective/kl').locator('.latest', { hasText: /at step 10,000.*at step 10,000.*at step 10,000/ }).waitFor({ timeout: 30_000 });
    await chartsDrawn(p, 5);
    const load = Date.now() - t0;
    const t1 = Date.now();
    await setRange(p, '#smoothing', 0.95);
    await p.page.locator('.smoothing-value', { hasText: '0.95' }).waitFor();
    await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const resmooth = Date.now() - t1;
    const t2 = Date.now();
    await rowsMsg(p, 0, [{ stage: 'ppo', step: 10_001, values: [['objective/kl', 1]] }]);
    await card(p, 'objective/kl').locator('.latest', { hasText: 'at step 10,001' }).waitFor();
    const live = Date.now() - t2;
    console.log(`# 3 runs × 10,000 steps × 5 metrics: shown in ${load} ms; re-smoothed in ${resmooth} ms; one live row in ${live} ms`);
    assert.ok(load < 20_000 && resmooth < 5_000 && live < 5_000, `${load} / ${resmooth} / ${live} ms`);
    await p.close();
  });

  it('follows the theme and saves screenshots in light, dark and high contrast', async () => {
    const demoRows = await readRows(DEMO);
    const p = await h.open({ viewport: { width: 1280, height: 1000 } });
    await runsMsg(p, [
      { index: 0, name: 'demo-20261128-082207', dir: DEMO, kind: 'run' },
      { index: 1, name: 'run-a', dir: a.dir, kind: 'run' },
    ]);
    await rowsMsg(p, 0, demoRows);
    await rowsMsg(p, 1, a.rows.filter((r) => r.stage !== 'sft'));
    await send(p, { type: 'curves/status', payload: { run: 0, status: 'done' } });
    await p.page.locator('.card canvas').first().waitFor();
    const pngs: string[] = [];
    for (const theme of Object.keys(THEMES) as ThemeName[]) {
      await p.setTheme(theme);
      // the charts redraw with the theme's colours: the exported image changes
      await p.page.waitForFunction((bg) => getComputedStyle(document.body).backgroundColor !== bg, theme === 'light' ? '' : 'rgb(255, 255, 255)');
      await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const kl = card(p, 'objective/kl');
      await drawn(p, 'objective/kl');
      // a readout in view: the first chart's last point
      await p.page.locator('.card .chart').first().focus();
      await p.page.keyboard.press('End');
      await p.page.locator('.card .readout-x').first().waitFor();
      await p.page.evaluate(() => window.scrollTo(0, 0));
      await p.screenshot(`curves-${theme}`);
      await kl.getByRole('button', { name: 'Export objective/kl as PNG' }).click();
      const m = await p.waitForMessage<CurvesPageToHost>((x) => x.type === 'curves/export' && x.payload.format === 'png' && !pngs.includes(x.payload.data));
      pngs.push(m.payload.data);
    }
    assert.equal(new Set(pngs).size, 3, 'each theme draws differently');
    await p.close();
  });
});
