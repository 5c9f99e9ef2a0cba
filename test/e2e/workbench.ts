import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';
import { startCodeServer, type CodeServer } from './codeServer.js';

export const REPO = path.resolve(__dirname, '..', '..');
export const VSIX = path.join(REPO, 'constitution-studio.vsix');
export const RESULTS = path.join(REPO, 'test-results', 'e2e');
const CHROMIUM = '/usr/bin/chromium';

/**
 * The packaged extension in code-server with `workspace` open, in headless Chromium, and the
 * moves a user makes: open a file from the Explorer, run a command from the palette, look inside
 * the active webview. Every journey file starts one of these.
 */
export class Workbench {
  private constructor(
    readonly server: CodeServer,
    private readonly browser: Browser,
    readonly page: Page,
  ) {}

  static async open(workspace: string, opts: { untrusted?: boolean } = {}): Promise<Workbench> {
    assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run npm run package first`);
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
    const server = await startCodeServer(workspace, VSIX, opts);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(server.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('div.monaco-workbench', { timeout: 120_000 });
    return new Workbench(server, browser, page);
  }

  async close(): Promise<void> {
    await this.browser.close();
    await this.server.stop();
  }

  /** Runs a journey; on failure saves a screenshot and the extension's logs under test-results/e2e. */
  async journey<T>(name: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (e) {
      fs.mkdirSync(RESULTS, { recursive: true });
      await this.page.screenshot({ path: path.join(RESULTS, `${name}.png`) }).catch(() => undefined);
      fs.writeFileSync(path.join(RESULTS, `${name}.log`), this.server.log());
      throw e;
    }
  }

  async screenshot(name: string): Promise<void> {
    fs.mkdirSync(RESULTS, { recursive: true });
    await this.page.screenshot({ path: path.join(RESULTS, `${name}.png`) });
  }

  async openFile(name: string): Promise<void> {
    const page = this.page;
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first().click({ timeout: 60_000 });
    await page.locator(`.tabs-container .tab[aria-label*="${name}"]`).first().waitFor({ timeout: 30_000 });
  }

  /** Runs a command by its exact title from the command palette. */
  async runCommand(title: string): Promise<void> {
    const page = this.page;
    // contributed commands appear once the extension host has scanned the extensions
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 15_000 });
      await input.fill(`>${title}`);
      // the row whose label is exactly the title (others may contain it)
      const row = page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) }).first();
      if (await row.isVisible({ timeout: 1_000 }).catch(() => false)) {
        await row.click();
        return;
      }
      await page.keyboard.press('Escape');
      await page.waitForTimeout(1_000);
    }
    throw new Error(`command not in the palette: ${title}`);
  }

  /** The content frame of the visible webview panel. */
  activeWebview(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready >> visible=true').frameLocator('#active-frame');
  }
}
