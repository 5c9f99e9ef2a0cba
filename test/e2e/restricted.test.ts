import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { REPO, Workbench } from './workbench.js';

/**
 * Restricted Mode: the same extension in a folder the user has not trusted. Starting a run is
 * refused with a message that says why; diagnostics still come, and a run's panels still open,
 * read-only. Needs test/e2e/setup.sh and `npm run package` first (`npm run test:e2e` does both).
 */

const DEMO_RUN = path.join(REPO, 'test', 'fixtures', 'runs', 'demo-20261128-082207');

describe('Restricted Mode (an untrusted folder) in VS Code (code-server)', () => {
  let wb: Workbench;
  let page: Page;
  let workspace: string;
  let runDir: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-e2e-untrusted-'));
    fs.cpSync(path.join(REPO, 'examples'), workspace, { recursive: true });
    fs.copyFileSync(path.join(REPO, 'test', 'fixtures', 'lsp', 'broken.constitution.yaml'), path.join(workspace, 'broken.constitution.yaml'));
    runDir = path.join(workspace, 'runs', path.basename(DEMO_RUN));
    fs.cpSync(DEMO_RUN, runDir, { recursive: true });
    wb = await Workbench.open(workspace, { untrusted: true });
    page = wb.page;
    // VS Code asks whether to trust the folder's authors: the user says no
    const no = page.locator('.monaco-dialog-box .monaco-button', { hasText: /No, I don.t trust the authors|Don.t Trust/ }).first();
    if (await no.waitFor({ timeout: 30_000 }).then(() => true, () => false)) await no.click();
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30_000 });
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('still validates a constitution: its mistakes are in the Problems panel', () =>
    wb.journey('restricted-diagnostics', async () => {
      await wb.openFile('broken.constitution.yaml');
      await page.keyboard.press('Control+Shift+M');
      await page.locator('.markers-panel').getByText("Unknown key 'revison' in a principle").waitFor({ timeout: 90_000 });
      assert.match(await page.locator('.markers-panel').innerText(), /Unknown principle 'harmfull'[\s\S]*?\[Ln 14, Col 18\]/);
    }));

  it('refuses to start a run, with a message that says why and how to trust the folder', () =>
    wb.journey('restricted-start', async () => {
      await wb.runCommand('Constitution: Start Run');
      const message = wb.notification('Constitution: Start Run needs a trusted workspace');
      await message.waitFor({ timeout: 30_000 });
      assert.match(await message.innerText(), /Manage Workspace Trust/);
      assert.equal(fs.readdirSync(path.join(workspace, 'runs')).length, 1, 'no run folder was made');
      await wb.screenshot('restricted-start-refused');
    }));

  it("opens a run's panels read-only: curves draw, pairs list, and a review key writes nothing", () =>
    wb.journey('restricted-panels', async () => {
      await wb.runCommand('Constitution: Show Training Curves');
      await wb.activeWebview().locator('.card canvas').first().waitFor({ timeout: 60_000 });
      await wb.runCommand('Constitution: Show Preference Pairs');
      const pairs = wb.activeWebview();
      await pairs.locator('.notices', { hasText: 'Restricted Mode: read-only' }).waitFor({ timeout: 60_000 });
      const row = pairs.locator('#grid [role=row]').nth(1);
      await row.click();
      await page.keyboard.press('f');
      await pairs.getByText('Read-only in Restricted Mode: reviews are not stored.').waitFor({ state: 'attached', timeout: 15_000 });
      assert.equal(fs.existsSync(path.join(runDir, 'reviews.jsonl')), false, 'no review was written');
      await wb.screenshot('restricted-pairs');
    }));
});
