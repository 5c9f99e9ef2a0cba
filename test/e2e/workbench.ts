import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';
import { CHROMIUM, startCodeServer, type CodeServer } from './codeServer.js';

export const REPO = path.resolve(__dirname, '..', '..');
export const VSIX = path.join(REPO, 'constitution-studio.vsix');
export const RESULTS = path.join(REPO, 'test-results', 'e2e');

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
    const explorer = page.locator('.explorer-folders-view');
    if (!(await explorer.isVisible().catch(() => false))) await this.runCommand('View: Show Explorer');
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

  /** Opens a file by (part of) its path with Quick Open (Ctrl+P), as a user does for a file deep in a folder. */
  async quickOpen(name: string, tabLabel = path.basename(name)): Promise<void> {
    const page = this.page;
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 15_000 });
    await input.fill(name);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: tabLabel }).first().waitFor({ timeout: 30_000 });
    await page.keyboard.press('Enter');
    await page.locator(`.tabs-container .tab[aria-label*="${tabLabel}"]`).first().waitFor({ timeout: 30_000 });
  }

  /**
   * When a command asks "which one?" with a quick pick titled `title` (every quick pick of the
   * extension has a title; the Command Palette has none), types `filter` into it and takes the
   * first row left, by keyboard (the list re-renders as it fills, so a click can miss). Does
   * nothing when no such quick pick comes within `ms`.
   */
  async pickIfAsked(title: string | RegExp, filter: string, ms = 3_000): Promise<void> {
    const page = this.page;
    const widget = page.locator('.quick-input-widget:visible', { has: page.locator('.quick-input-title', { hasText: title }) });
    if (!(await widget.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: ms }).then(() => true, () => false))) return;
    // the quick pick has the keyboard focus when it shows
    await page.keyboard.type(filter);
    await widget.locator('.quick-input-list .monaco-list-row', { hasText: filter }).first().waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    await widget.waitFor({ state: 'hidden', timeout: 15_000 });
  }

  /** A notification toast with this text. */
  notification(text: string | RegExp) {
    return this.page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  }

  /** The text of VS Code's own "Running Extensions" view (activation times), closed again afterwards. */
  async runningExtensions(): Promise<string> {
    await this.runCommand('Developer: Show Running Extensions');
    const view = this.page.locator('.runtime-extensions-editor');
    await view.locator('.monaco-list-row').first().waitFor({ timeout: 30_000 });
    const text = await view.innerText();
    await this.page.keyboard.press('Escape');
    await this.runCommand('View: Close Editor');
    await view.waitFor({ state: 'detached', timeout: 15_000 }).catch(() => undefined);
    return text;
  }

  /** Waits until the server's or the extension hosts' logs say something matching `re`; returns the match. */
  async waitForLog(re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.server.log());
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`the logs never matched ${re} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Picks a colour theme with "Preferences: Color Theme", as a user does; `cls` is the class the workbench then has (vs, vs-dark, hc-black). */
  async setColorTheme(theme: string, cls: string): Promise<void> {
    const page = this.page;
    await this.runCommand('Preferences: Color Theme');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 15_000 });
    await input.fill(theme);
    await page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${theme}$`) }) }).first().click({ timeout: 15_000 });
    await page.locator(`.monaco-workbench.${cls}`).waitFor({ timeout: 30_000 });
  }

  /** The content frame of the visible webview panel. */
  activeWebview(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready >> visible=true').frameLocator('#active-frame');
  }
}
