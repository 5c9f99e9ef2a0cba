import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, Workbench } from './workbench.js';

/**
 * Runs from the editor, in a real VS Code (code-server) with the packaged extension, driven like a
 * user: Start Run with live progress, the Runs view, the panels live and finished, a label
 * reviewed by keyboard, inline inspection of the run's files, Stop then Resume, and every panel
 * in the dark and high-contrast themes. Needs test/e2e/setup.sh and `npm run package` first
 * (`npm run test:e2e` does both).
 */

/** Every stage, on the nano preset and a handful of prompts: well under a minute on two cores. */
const runFile = (name: string, prompts: number, ppoSteps: number) =>
  [
    `name: ${name}`,
    'constitution: harmless-helpful.constitution.yaml',
    'seed: 4',
    'backend: auto',
    'out: runs/',
    'models:',
    '  nano: { provider: embedded, model: nano }',
    'roles:',
    '  policy: nano',
    'datasets:',
    `  redTeam: { path: data/red-team.jsonl, limit: ${prompts} }`,
    '  evalPairs: { path: data/eval-pairs.jsonl, format: pairs, limit: 6 }',
    'stages:',
    '  critique: { rounds: 2, maxTokens: 32, fewShot: false }',
    '  sft: { steps: 8, batchSize: 2, seqLen: 64 }',
    '  pairs: { maxTokens: 12 }',
    '  feedback: { fewShot: false }',
    '  pm: { pmpSteps: 0, steps: 8, batchSize: 2 }',
    `  ppo: { steps: ${ppoSteps}, batchSize: 4, minibatches: 2, epochs: 1, maxNewTokens: 16 }`,
    '  eval: { maxTokens: 12 }',
    '',
  ].join('\n');

const STOP_PROMPTS = 24;

function jsonl<T>(file: string): T[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

function runDirs(workspace: string, prefix: string): string[] {
  const root = path.join(workspace, 'runs');
  return fs.existsSync(root) ? fs.readdirSync(root).filter((d) => d.startsWith(`${prefix}-`) && /\d$/.test(d)).map((d) => path.join(root, d)) : [];
}

/** Polls `probe` (sync or async) until it gives a value; fails naming `what` after `timeoutMs`. */
async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Runs in VS Code (code-server)', () => {
  let wb: Workbench;
  let workspace: string;
  let runDir: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-e2e-runs-'));
    fs.cpSync(path.join(REPO, 'examples', 'data'), path.join(workspace, 'data'), { recursive: true });
    fs.copyFileSync(path.join(REPO, 'examples', 'harmless-helpful.constitution.yaml'), path.join(workspace, 'harmless-helpful.constitution.yaml'));
    fs.writeFileSync(path.join(workspace, 'e2e.run.yaml'), runFile('e2e', 12, 48));
    fs.writeFileSync(path.join(workspace, 'e2e-stop.run.yaml'), runFile('e2e-stop', STOP_PROMPTS, 6));
    wb = await Workbench.open(workspace);
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('starts a run from the command palette: progress, the Runs view, live training curves, and the end', () =>
    wb.journey('start-run', async () => {
      const page = wb.page;
      await wb.openFile('e2e.run.yaml');
      await wb.runCommand('Constitution: Start Run');
      // progress: the status bar item with the stage, and a notification
      await page.locator('.statusbar-item', { hasText: /e2e · / }).first().waitFor({ timeout: 60_000 });
      await wb.notification('Constitution run e2e').waitFor({ timeout: 30_000 });
      runDir = await until('the run folder', () => runDirs(workspace, 'e2e')[0], 30_000);

      // the curves panel, opened while the run trains, draws charts and takes new steps as they come
      await wb.runCommand('Constitution: Show Training Curves');
      const curves = wb.activeWebview();
      const status = curves.locator('#curves-status');
      await status.filter({ hasText: /[1-9][\d,]* logged steps?/ }).waitFor({ timeout: 120_000 });
      await curves.locator('.card canvas').first().waitFor({ timeout: 30_000 });
      const steps = (t: string | null) => Number(/([\d,]+) logged step/.exec(t ?? '')?.[1]?.replace(/,/g, '') ?? 0);
      const first = steps(await status.textContent());
      const manifest = () => JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8')) as { stages: Record<string, { status: string }> };
      assert.notEqual(manifest().stages['ppo']?.status, 'done', 'the run was still training when the panel drew');
      const later = await until('more logged steps in the open panel', async () => {
        const n = steps(await status.textContent());
        return n > first ? n : undefined;
      }, 300_000);
      console.log(`# live curves: ${first} logged step${first === 1 ? '' : 's'} when first drawn, then ${later} while the run trained`);
      await wb.screenshot('curves-live');

      // the Runs view lists the run while it trains
      await wb.runCommand('Constitution Studio: Focus on Runs View');
      await page.locator('.pane', { hasText: 'Runs' }).locator('.monaco-list-row', { hasText: /^e2e-/ }).first().waitFor({ timeout: 60_000 });

      await wb.notification('Run e2e finished.').waitFor({ timeout: 600_000 });
      assert.ok(Object.values(manifest().stages).every((s) => s.status === 'done'), JSON.stringify(manifest().stages));
      await wb.screenshot('run-finished');
    }));

  it('lists the preference pairs, opens a pair, and records a label flipped by keyboard in reviews.jsonl', () =>
    wb.journey('pairs-review', async () => {
      await wb.runCommand('Constitution: Show Preference Pairs');
      const pairs = wb.activeWebview();
      const firstRow = pairs.locator('#grid [role=row]').nth(1);
      await firstRow.waitFor({ timeout: 60_000 });
      await firstRow.click();
      await wb.page.keyboard.press('Enter');
      const texts = pairs.locator('#detail .response-text');
      await texts.nth(1).waitFor({ timeout: 30_000 });
      const records = jsonl<{ id: string; response_a: string; response_b: string }>(path.join(runDir, 'pairs.jsonl'));
      const ids = new Set(records.map((p) => p.id));
      const [a, b] = await texts.allTextContents();
      assert.ok(records.some((p) => p.response_a === a && p.response_b === b), 'the detail shows both responses of a pair of the run');
      await wb.page.keyboard.press('f');
      const reviews = await until(
        'reviews.jsonl',
        () => {
          const f = path.join(runDir, 'reviews.jsonl');
          return fs.existsSync(f) && fs.readFileSync(f, 'utf8').trim() ? jsonl<{ pair_id: string; decision: string }>(f) : undefined;
        },
        30_000,
      );
      assert.equal(reviews.length, 1);
      assert.equal(reviews[0]!.decision, 'flip');
      assert.ok(ids.has(reviews[0]!.pair_id), 'the review names a pair of the run');
      await pairs.locator('#status', { hasText: /1 reviewed/ }).waitFor({ timeout: 30_000 });
      await wb.screenshot('pairs-reviewed');
    }));

  it("shows a pair's label inline in pairs.jsonl (hint and hover), and per-principle label statistics on the constitution", () =>
    wb.journey('inline', async () => {
      const page = wb.page;
      await wb.quickOpen(`${path.basename(runDir)}/pairs.jsonl`, 'pairs.jsonl');
      // the inlay hint before each line: the chosen response and its probability
      await page.locator('.view-lines', { hasText: /chosen\s[AB]\s·\sp\s=\s0\.\d\d\s·\sprinciple\s/ }).first().waitFor({ timeout: 60_000 });
      await page.locator('.monaco-editor textarea').first().focus();
      await page.keyboard.press('Control+Home');
      await page.keyboard.press('End');
      await wb.runCommand('Show or Focus Hover');
      const hover = page.locator('.monaco-hover:visible', { hasText: 'Labelled pair' }).first();
      await hover.waitFor({ timeout: 30_000 });
      const text = await hover.innerText();
      assert.match(text, /P\(A better\)/);
      assert.match(text, /Open in Pairs panel/);
      await wb.screenshot('inline-pairs-hover');
      await page.keyboard.press('Escape');

      await wb.openFile('harmless-helpful.constitution.yaml');
      // a code lens above each comparison principle: its labels in the latest run
      // the comparison principles sit at the end of the file: go there, where the lenses render
      const lens = page.locator('.codelens-decoration', { hasText: /\d+ labels? · mean confidence/ }).first();
      await page.locator('.monaco-editor textarea').first().focus();
      await page.keyboard.press('Control+End');
      await wb.runCommand('Go to Symbol in Editor...');
      await page.keyboard.type('less-harmful');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'less-harmful' }).first().waitFor({ timeout: 30_000 });
      await page.keyboard.press('Enter');
      await lens.waitFor({ timeout: 30_000 });
      await wb.screenshot('inline-constitution-stats');
    }));

  it('stops a run at a checkpoint, resumes it, and the run finishes with no record written twice', () =>
    wb.journey('stop-resume', async () => {
      const page = wb.page;
      await wb.openFile('e2e-stop.run.yaml');
      await wb.runCommand('Constitution: Start Run');
      const dir = await until('the second run folder', () => runDirs(workspace, 'e2e-stop')[0], 60_000);
      const revisions = path.join(dir, 'revisions.jsonl');
      // stop while the critique stage is writing records
      await until('some critique records', () => (fs.existsSync(revisions) && jsonl(revisions).length >= 2 ? true : undefined), 300_000);
      await wb.runCommand('Constitution: Stop Run');
      await wb.notification(/Run e2e-stop stopped at a checkpoint/).waitFor({ timeout: 120_000 });
      const atStop = jsonl<{ id: string }>(revisions).length;
      assert.ok(atStop < STOP_PROMPTS, `stopped before the critique stage ended (${atStop} of ${STOP_PROMPTS})`);
      await page.locator('.statusbar-item', { hasText: /e2e-stop · / }).waitFor({ state: 'detached', timeout: 30_000 }).catch(() => undefined);

      await wb.runCommand('Constitution: Resume Run');
      await wb.pickIfAsked('Resume which run?', 'e2e-stop');
      await wb.notification('Run e2e-stop finished.').waitFor({ timeout: 600_000 });
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { stages: Record<string, { status: string }> };
      assert.ok(Object.values(manifest.stages).every((s) => s.status === 'done'), JSON.stringify(manifest.stages));
      for (const file of ['revisions.jsonl', 'pairs.jsonl']) {
        const recs = jsonl<{ id: string; prompt_id?: string }>(path.join(dir, file));
        assert.equal(new Set(recs.map((r) => r.id)).size, recs.length, `${file}: no id twice`);
        assert.equal(new Set(recs.map((r) => r.prompt_id)).size, STOP_PROMPTS, `${file}: every prompt once`);
        assert.equal(recs.length, STOP_PROMPTS, `${file}: one record per prompt`);
      }
      console.log(`# stop/resume: stopped with ${atStop} of ${STOP_PROMPTS} critique records; resumed to ${STOP_PROMPTS}, no duplicates`);
    }));

  it('shows every panel in the dark and high-contrast themes (screenshots saved)', () =>
    wb.journey('themes', async () => {
      const page = wb.page;
      const panels: { command: string; ready: (f: ReturnType<Workbench['activeWebview']>) => Promise<void> }[] = [
        { command: 'Constitution: Show Training Curves', ready: (f) => f.locator('.card canvas').first().waitFor({ timeout: 60_000 }) },
        { command: 'Constitution: Show Preference Pairs', ready: (f) => f.locator('#grid [role=row]').nth(1).waitFor({ timeout: 60_000 }) },
        { command: 'Constitution: Show Critiques and Revisions', ready: (f) => f.locator('#status', { hasText: /of \d+ prompts/ }).waitFor({ timeout: 60_000 }) },
        { command: 'Constitution: Show Preference Model Report', ready: (f) => f.locator('h2').first().waitFor({ timeout: 60_000 }) },
        { command: 'Constitution: Show Completions over Training', ready: (f) => f.locator('#step-label', { hasText: /of \d+/ }).waitFor({ timeout: 60_000 }) },
      ];
      for (const [theme, cls] of [
        ['Dark Modern', 'vs-dark'],
        ['Dark High Contrast', 'hc-black'],
      ] as const) {
        await wb.setColorTheme(theme, cls);
        const slug = cls === 'vs-dark' ? 'dark' : 'high-contrast';
        // the run selected in the Runs view is the one the panel commands open
        await wb.runCommand('Constitution Studio: Focus on Runs View');
        await page.locator('.pane', { hasText: 'Runs' }).locator('.monaco-list-row', { hasText: /^e2e-2/ }).first().click();
        for (const p of panels) {
          await wb.runCommand(p.command);
          await wb.pickIfAsked(/which run/i, 'e2e-2', 3_000);
          await p.ready(wb.activeWebview());
          await wb.screenshot(`theme-${slug}-${p.command.replace(/^Constitution: Show /, '').toLowerCase().replace(/\W+/g, '-')}`);
        }
        // "Compare which runs?": tick both rows, then OK. The pick keeps focus-outs from closing it;
        // should it still go (the workbench replaced it), it is asked for again, and the log says so.
        const picks = page.locator('.quick-input-widget:visible .quick-input-list .monaco-list-row', { hasText: /^e2e-/ });
        for (let attempt = 1; ; attempt++) {
          await wb.runCommand('Constitution: Compare Runs');
          await picks.nth(1).waitFor({ timeout: 30_000 });
          const ticked = await (async () => {
            for (let i = 0; i < 2; i++) await picks.nth(i).click({ timeout: 10_000 });
            await page.locator('.quick-input-widget:visible', { hasText: '2 Selected' }).waitFor({ timeout: 15_000 });
          })().then(() => true, (e: unknown) => (attempt < 3 ? false : Promise.reject(e)));
          if (ticked) break;
          console.log(`# the Compare Runs pick closed before both runs were ticked (${slug} theme); asking again`);
          await page.keyboard.press('Escape');
        }
        await page.keyboard.press('Enter');
        await wb.activeWebview().locator('#summary table, #summary .notice').first().waitFor({ timeout: 60_000 });
        await wb.screenshot(`theme-${slug}-compare`);
        await wb.openFile('harmless-helpful.constitution.yaml');
        await wb.runCommand('Constitution: Preview Rendered Prompts');
        await wb.pickIfAsked('Preview the prompts of which principle?', 'dangerous-advice', 10_000);
        await wb.activeWebview().locator('pre').first().waitFor({ timeout: 60_000 });
        await wb.screenshot(`theme-${slug}-preview`);
        // the preview opened beside the panels: start the next theme with one editor group
        await wb.runCommand('View: Close All Editor Groups');
      }
    }));
});
