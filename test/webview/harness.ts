/**
 * A harness for panel tests: a built webview bundle loaded in Debian's Chromium (playwright-core)
 * from 127.0.0.1, in the panel's real HTML shell (src/extension/panels/html.ts: the same strict
 * CSP with a nonce, media/panel.css, any shared stylesheets, then the panel's stylesheet, then the bundle), with a stub of
 * `acquireVsCodeApi` that records what the page posts and saves, and VS Code's theme variables
 * for light, dark and high-contrast themes.
 *
 * Run `node scripts/build.mjs` first. Chromium must be at /usr/bin/chromium (CI installs it).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { panelHtml } from '../../src/extension/panels/html.js';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'webview');

const FONT = {
  '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
  '--vscode-font-size': '13px',
  '--vscode-font-weight': 'normal',
  '--vscode-editor-font-family': '"Droid Sans Mono", "monospace", monospace',
  '--vscode-editor-font-size': '13px',
};

/** Colours of VS Code's default light, dark and high-contrast themes, set on <html> as VS Code sets them. */
export const THEMES = {
  light: {
    bodyClass: 'vscode-light',
    vars: {
      ...FONT,
      '--vscode-foreground': '#616161', '--vscode-editor-foreground': '#000000', '--vscode-editor-background': '#ffffff',
      '--vscode-descriptionForeground': '#717171', '--vscode-textBlockQuote-background': '#f2f2f2', '--vscode-textBlockQuote-border': '#007acc80',
      '--vscode-textCodeBlock-background': '#dcdcdc66', '--vscode-textLink-foreground': '#006ab1',
      '--vscode-button-background': '#007acc', '--vscode-button-foreground': '#ffffff', '--vscode-button-hoverBackground': '#0062a3',
      '--vscode-button-secondaryBackground': '#5f6a79', '--vscode-button-secondaryForeground': '#ffffff', '--vscode-button-secondaryHoverBackground': '#4c5561',
      '--vscode-dropdown-background': '#ffffff', '--vscode-dropdown-border': '#cecece', '--vscode-dropdown-foreground': '#616161',
      '--vscode-input-background': '#ffffff', '--vscode-input-foreground': '#616161', '--vscode-input-border': '#cecece',
      '--vscode-inputValidation-errorBackground': '#f2dede', '--vscode-inputValidation-errorBorder': '#be1100',
      '--vscode-inputValidation-warningBackground': '#f6f5d2', '--vscode-inputValidation-warningBorder': '#b89500',
      '--vscode-errorForeground': '#a1260d', '--vscode-focusBorder': '#0090f1', '--vscode-panel-border': '#80808059',
      '--vscode-list-activeSelectionBackground': '#0060c0', '--vscode-list-activeSelectionForeground': '#ffffff', '--vscode-list-hoverBackground': '#e8e8e8',
      '--vscode-charts-foreground': '#616161', '--vscode-charts-lines': '#61616180', '--vscode-charts-red': '#e51400', '--vscode-charts-blue': '#1a85ff',
      '--vscode-charts-yellow': '#bf8803', '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#388a34', '--vscode-charts-purple': '#652d90',
      '--vscode-diffEditor-insertedTextBackground': '#9ccc2c40', '--vscode-diffEditor-removedTextBackground': '#ff000033',
      '--vscode-badge-background': '#c4c4c4', '--vscode-badge-foreground': '#333333',
    },
  },
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      ...FONT,
      '--vscode-foreground': '#cccccc', '--vscode-editor-foreground': '#d4d4d4', '--vscode-editor-background': '#1e1e1e',
      '--vscode-descriptionForeground': '#ccccccb3', '--vscode-textBlockQuote-background': '#7f7f7f1a', '--vscode-textBlockQuote-border': '#007acc80',
      '--vscode-textCodeBlock-background': '#0a0a0a66', '--vscode-textLink-foreground': '#3794ff',
      '--vscode-button-background': '#0e639c', '--vscode-button-foreground': '#ffffff', '--vscode-button-hoverBackground': '#1177bb',
      '--vscode-button-secondaryBackground': '#3a3d41', '--vscode-button-secondaryForeground': '#ffffff', '--vscode-button-secondaryHoverBackground': '#45494e',
      '--vscode-dropdown-background': '#3c3c3c', '--vscode-dropdown-border': '#3c3c3c', '--vscode-dropdown-foreground': '#f0f0f0',
      '--vscode-input-background': '#3c3c3c', '--vscode-input-foreground': '#cccccc', '--vscode-input-border': '#3c3c3c',
      '--vscode-inputValidation-errorBackground': '#5a1d1d', '--vscode-inputValidation-errorBorder': '#be1100',
      '--vscode-inputValidation-warningBackground': '#352a05', '--vscode-inputValidation-warningBorder': '#b89500',
      '--vscode-errorForeground': '#f48771', '--vscode-focusBorder': '#007fd4', '--vscode-panel-border': '#80808059',
      '--vscode-list-activeSelectionBackground': '#04395e', '--vscode-list-activeSelectionForeground': '#ffffff', '--vscode-list-hoverBackground': '#2a2d2e',
      '--vscode-charts-foreground': '#cccccc', '--vscode-charts-lines': '#cccccc80', '--vscode-charts-red': '#f14c4c', '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-yellow': '#cca700', '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-diffEditor-insertedTextBackground': '#9ccc2c33', '--vscode-diffEditor-removedTextBackground': '#ff000033',
      '--vscode-badge-background': '#4d4d4d', '--vscode-badge-foreground': '#ffffff',
    },
  },
  'high-contrast': {
    bodyClass: 'vscode-high-contrast',
    vars: {
      ...FONT,
      '--vscode-foreground': '#ffffff', '--vscode-editor-foreground': '#ffffff', '--vscode-editor-background': '#000000',
      '--vscode-descriptionForeground': '#ffffffb3', '--vscode-textBlockQuote-background': '#000000', '--vscode-textBlockQuote-border': '#ffffff',
      '--vscode-textCodeBlock-background': '#000000', '--vscode-textLink-foreground': '#21a6ff',
      '--vscode-button-background': '#000000', '--vscode-button-foreground': '#ffffff', '--vscode-button-border': '#6fc3df', '--vscode-button-hoverBackground': '#000000',
      '--vscode-button-secondaryBackground': '#000000', '--vscode-button-secondaryForeground': '#ffffff', '--vscode-button-secondaryHoverBackground': '#000000',
      '--vscode-dropdown-background': '#000000', '--vscode-dropdown-border': '#6fc3df', '--vscode-dropdown-foreground': '#ffffff',
      '--vscode-input-background': '#000000', '--vscode-input-foreground': '#ffffff', '--vscode-input-border': '#6fc3df',
      '--vscode-inputValidation-errorBackground': '#000000', '--vscode-inputValidation-errorBorder': '#f38518',
      '--vscode-inputValidation-warningBackground': '#000000', '--vscode-inputValidation-warningBorder': '#f38518',
      '--vscode-errorForeground': '#f48771', '--vscode-focusBorder': '#f38518', '--vscode-panel-border': '#6fc3df',
      '--vscode-contrastBorder': '#6fc3df', '--vscode-contrastActiveBorder': '#f38518',
      '--vscode-list-activeSelectionBackground': '#000000', '--vscode-list-activeSelectionForeground': '#ffffff', '--vscode-list-hoverBackground': '#000000',
      '--vscode-charts-foreground': '#ffffff', '--vscode-charts-lines': '#ffffff80', '--vscode-charts-red': '#f14c4c', '--vscode-charts-blue': '#3794ff',
      '--vscode-charts-yellow': '#ffd700', '--vscode-charts-orange': '#f38518', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-diffEditor-insertedTextBackground': '#33ff2e33', '--vscode-diffEditor-removedTextBackground': '#ff000033',
      '--vscode-badge-background': '#000000', '--vscode-badge-foreground': '#ffffff',
    },
  },
} as const;

export type ThemeName = keyof typeof THEMES;

export interface Recorder<ToHost = unknown, State = unknown> {
  messages: ToHost[];
  states: State[];
  violations: { directive: string; blocked: string }[];
}


/** The stub of the webview API: records messages, states and CSP violations; like VS Code's, acquirable once. */
export const STUB = `(() => {
  const rec = { messages: [], states: [], violations: [] };
  window.__vscode = rec;
  document.addEventListener('securitypolicyviolation', (e) => rec.violations.push({ directive: e.violatedDirective, blocked: String(e.blockedURI) }));
  const initial = new URLSearchParams(location.search).get('state');
  let state = initial ? JSON.parse(initial) : undefined;
  let acquired = false;
  window.acquireVsCodeApi = () => {
    if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
    acquired = true;
    return Object.freeze({
      postMessage: (m) => rec.messages.push(structuredClone(m)),
      getState: () => state,
      setState: (s) => { state = structuredClone(s); rec.states.push(state); return s; },
    });
  };
})();`;

export interface PanelHarnessOptions {
  /** The bundle's name: dist/webview/<bundle>.js and media/<bundle>.css. */
  bundle: string;
  title: string;
  /** Shared stylesheets of media/ the panel loads between media/panel.css and its own (as its WebviewHost options say). */
  extraStyles?: string[];
  /** Source files the bundle is built from: the test refuses a bundle older than any of them. */
  sources?: string[];
}

/** One browser and one local server for a panel's test file. */
export class PanelHarness {
  private browser!: Browser;
  private server!: Server;
  origin = '';

  constructor(private readonly o: PanelHarnessOptions) {}

  async start(): Promise<void> {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}. The webview tests need it: install it with "sudo apt-get install chromium" (CI installs it).`);
    const bundle = path.join(ROOT, 'dist', 'webview', `${this.o.bundle}.js`);
    if (!existsSync(bundle)) throw new Error(`${path.relative(ROOT, bundle)} is missing: run "node scripts/build.mjs" first.`);
    const { statSync } = await import('node:fs');
    for (const s of this.o.sources ?? []) {
      if (statSync(bundle).mtimeMs < statSync(path.join(ROOT, s)).mtimeMs) throw new Error(`${path.relative(ROOT, bundle)} is older than ${s}: run "node scripts/build.mjs" again.`);
    }
    const extraStyles = this.o.extraStyles ?? [];
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const origin = `http://${req.headers.host}`;
      const send = (type: string, body: string | Buffer) => {
        res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      if (url.pathname === '/') {
        const extraStyleUris = extraStyles.map((f) => `${origin}/extra/${encodeURIComponent(f)}`);
        const html = panelHtml({ cspSource: origin, scriptUri: `${origin}/bundle.js`, styleUri: `${origin}/panel-own.css`, baseStyleUri: `${origin}/panel.css`, ...(extraStyleUris.length ? { extraStyleUris } : {}), nonce: randomBytes(16).toString('hex'), title: this.o.title });
        send('text/html; charset=utf-8', url.searchParams.get('csp') === '0' ? html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>\n/, '') : html);
      } else if (url.pathname === '/bundle.js') send('text/javascript; charset=utf-8', readFileSync(bundle));
      else if (url.pathname === '/panel.css') send('text/css; charset=utf-8', readFileSync(path.join(ROOT, 'media', 'panel.css')));
      else if (extraStyles.some((f) => url.pathname === `/extra/${encodeURIComponent(f)}`)) send('text/css; charset=utf-8', readFileSync(path.join(ROOT, 'media', decodeURIComponent(url.pathname.slice('/extra/'.length)))));
      else if (url.pathname === '/panel-own.css') send('text/css; charset=utf-8', readFileSync(path.join(ROOT, 'media', `${this.o.bundle}.css`)));
      else {
        res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }

  async stop(): Promise<void> {
    await this.browser?.close();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }

  /** Opens the page (with a saved state, as after a reload) and waits for its first message (ready). */
  async open<State = unknown>(o: { state?: State; theme?: ThemeName; viewport?: { width: number; height: number } } = {}): Promise<PanelPage> {
    const page = await this.browser.newPage({ viewport: o.viewport ?? { width: 1200, height: 900 } });
    await page.addInitScript({ content: STUB });
    const p = new PanelPage(page);
    const q = new URLSearchParams();
    if (o.state !== undefined) q.set('state', JSON.stringify(o.state));
    await page.goto(`${this.origin}/?${q}`);
    await page.waitForFunction(() => ((window as unknown as { __vscode?: Recorder }).__vscode?.messages.length ?? 0) > 0);
    await p.setTheme(o.theme ?? 'light');
    return p;
  }
}

/** A panel page in the browser, with what it posted and any script errors. */
export class PanelPage {
  readonly errors: string[] = [];

  constructor(readonly page: Page) {
    page.on('pageerror', (e) => this.errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') this.errors.push(m.text());
    });
  }

  async setTheme(name: ThemeName): Promise<void> {
    // element.style (CSSOM) is what VS Code uses too; the CSP does not block it
    await this.page.evaluate((t) => {
      for (const [k, v] of Object.entries(t.vars)) document.documentElement.style.setProperty(k, v);
      document.body.className = t.bodyClass;
    }, THEMES[name]);
  }

  recorder<ToHost = unknown, State = unknown>(): Promise<Recorder<ToHost, State>> {
    return this.page.evaluate(() => structuredClone((window as unknown as { __vscode: Recorder }).__vscode)) as Promise<Recorder<ToHost, State>>;
  }

  async messages<ToHost = unknown>(): Promise<ToHost[]> {
    return (await this.recorder<ToHost>()).messages;
  }

  /** Posts a message from the "host" to the page (as VS Code delivers webview.postMessage). */
  async send(message: unknown): Promise<void> {
    await this.page.evaluate((m) => window.postMessage(m, '*'), message);
  }

  /** Waits until the page has posted a message matching `pred` (checked in the test process). */
  async waitForMessage<ToHost = unknown>(pred: (m: ToHost) => boolean, timeoutMs = 10_000): Promise<ToHost> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = (await this.messages<ToHost>()).find(pred);
      if (found !== undefined) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the page did not post the expected message in time');
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: false });
    return file;
  }

  /** Asserts no script ran from content (window.__pwned unset), no CSP violation, no page error; then closes. */
  async close(): Promise<void> {
    const pwned = await this.page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned);
    const rec = await this.recorder();
    const errors = [...this.errors];
    await this.page.close();
    assert.equal(pwned, undefined, 'no script from content ran');
    assert.deepEqual(rec.violations, [], 'no CSP violations');
    assert.deepEqual(errors, [], 'no script errors or console errors');
  }
}

/**
 * Hostile strings every panel is fed (as prompts, responses, principle names, metric names…):
 * markup that would run script if parsed as HTML, `javascript:` links, a closing script tag,
 * bidi and zero-width tricks, and a 1 MB line.
 */
export const HOSTILE = {
  img: '<img src=x onerror="window.__pwned=1">',
  script: '<script>window.__pwned=1</script>',
  closeScript: '</script><script>window.__pwned=1</script>',
  handler: '" onmouseover="window.__pwned=1" x="',
  link: '<a href="javascript:window.__pwned=1">click</a>',
  svg: '<svg onload="window.__pwned=1"></svg>',
  rtl: 'harmless \u202Eevil\u202C text',
  zeroWidth: 'sa\u200Bfe\u200D wo\uFEFFrd',
  style: '<style>body{display:none}</style>',
} as const;

export const HOSTILE_STRINGS: readonly string[] = Object.values(HOSTILE);
/** One line of about a megabyte. */
export const HUGE_LINE = `${'A very long line. '.repeat(58_255)}end`;
