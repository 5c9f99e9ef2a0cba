import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, Workbench } from './workbench.js';

/**
 * Runs from the editor, in a real VS Code (code-server) with the packaged extension: Start Run
 * on a small run file shows progress in a notification and the status bar, the run appears in
 * the Runs view and finishes, and the panels open on it (training curves, preference pairs).
 * Needs test/e2e/setup.sh and `npm run package` first (`npm run test:e2e` does both).
 */

/** Every stage, on the nano preset and a handful of prompts: about a minute on two cores. */
const RUN_FILE = [
  'name: e2e',
  'constitution: harmless-helpful.constitution.yaml',
  'seed: 4',
  'backend: auto',
  'out: runs/',
  'models:',
  '  nano: { provider: embedded, model: nano }',
  'roles:',
  '  policy: nano',
  'datasets:',
  '  redTeam: { path: data/red-team.jsonl, limit: 12 }',
  '  evalPairs: { path: data/eval-pairs.jsonl, format: pairs, limit: 6 }',
  'stages:',
  '  critique: { rounds: 2, maxTokens: 32, fewShot: false }',
  '  sft: { steps: 4, batchSize: 2, seqLen: 64 }',
  '  pairs: { maxTokens: 12 }',
  '  feedback: { fewShot: false }',
  '  pm: { pmpSteps: 0, steps: 6, batchSize: 2 }',
  '  ppo: { steps: 6, batchSize: 4, minibatches: 2, epochs: 1, maxNewTokens: 16 }',
  '  eval: { maxTokens: 12 }',
  '',
].join('\n');

describe('Runs in VS Code (code-server)', () => {
  let wb: Workbench;
  let workspace: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-e2e-runs-'));
    fs.cpSync(path.join(REPO, 'examples', 'data'), path.join(workspace, 'data'), { recursive: true });
    fs.copyFileSync(path.join(REPO, 'examples', 'harmless-helpful.constitution.yaml'), path.join(workspace, 'harmless-helpful.constitution.yaml'));
    fs.writeFileSync(path.join(workspace, 'e2e.run.yaml'), RUN_FILE);
    wb = await Workbench.open(workspace);
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('starts a run from the command palette, shows progress, lists it in the Runs view, and finishes it', () =>
    wb.journey('start-run', async () => {
      const page = wb.page;
      await wb.openFile('e2e.run.yaml');
      await wb.runCommand('Constitution: Start Run');
      // progress: the status bar item with the stage, and a notification
      await page.locator('.statusbar-item', { hasText: /e2e · / }).first().waitFor({ timeout: 60_000 });
      await page.locator('.notifications-toasts', { hasText: 'Constitution run e2e' }).first().waitFor({ timeout: 30_000 });
      // the Runs view lists the run while it trains
      await wb.runCommand('Constitution Studio: Focus on Runs View');
      await page.locator('.pane', { hasText: 'Runs' }).locator('.monaco-list-row', { hasText: /^e2e-/ }).first().waitFor({ timeout: 60_000 });
      await page.locator('.notifications-toasts', { hasText: 'Run e2e finished.' }).first().waitFor({ timeout: 600_000 });
      const runs = fs.readdirSync(path.join(workspace, 'runs'));
      assert.equal(runs.length, 1);
      const manifest = JSON.parse(fs.readFileSync(path.join(workspace, 'runs', runs[0]!, 'manifest.json'), 'utf8')) as { stages: Record<string, { status: string }> };
      assert.ok(Object.values(manifest.stages).every((s) => s.status === 'done'), JSON.stringify(manifest.stages));
      await wb.screenshot('run-finished');
    }));

  it('opens the finished run in the training curves and preference pairs panels', () =>
    wb.journey('panels', async () => {
      await wb.runCommand('Constitution: Show Training Curves');
      await wb.activeWebview().getByText(/objective\/kl/).first().waitFor({ timeout: 60_000 });
      await wb.screenshot('curves');
      await wb.runCommand('Constitution: Show Preference Pairs');
      await wb.activeWebview().getByRole('row').nth(1).waitFor({ timeout: 60_000 });
      await wb.screenshot('pairs');
    }));
});
