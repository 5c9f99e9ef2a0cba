/**
 * The Prompt Preview page (webview/preview/main.ts, bundled to dist/webview/preview.js) in a real
 * browser: Debian's Chromium driven by playwright-core.
 *
 * The page is served from 127.0.0.1 in a shell like the extension host's (webviewHost.ts): the
 * same strict CSP with a nonce, the stylesheet and the bundle as separate resources, and a stub of
 * `acquireVsCodeApi` that records what the page posts and saves. The content is what the language
 * server sends: examples/harmless-helpful.constitution.yaml resolved and rendered by the real core.
 *
 * Run `node scripts/build.mjs` first. Chromium must be at /usr/bin/chromium (CI installs it).
 */
import { after, before, beforeEach, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { panelHtml } from '../../src/extension/panels/html.js';
import { previewFor } from '../../src/server/features/preview.js';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { STUB as HARNESS_STUB } from './harness.js';
import type { ConstitutionData } from '../../src/core/constitution/data.js';
import type { RenderedPrompt } from '../../src/core/constitution/render.js';
import { ConstitutionWorkspace, type FileHost } from '../../src/core/constitution/resolve.js';
import type { PreviewPromptsResult } from '../../src/protocol/lsp.js';
import type { PreviewHostToPage, PreviewPageToHost, PreviewPanelState } from '../../src/protocol/webview.js';

const ROOT = path.resolve(__dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const BUNDLE = path.join(ROOT, 'dist', 'webview', 'preview.js');
const SOURCE = path.join(ROOT, 'webview', 'preview', 'main.ts');
const STYLE = path.join(ROOT, 'media', 'preview.css');
const EXAMPLE = path.join(ROOT, 'examples', 'harmless-helpful.constitution.yaml');
const SCREENSHOTS = path.join(ROOT, 'test-results', 'webview');

// --- fixtures: what the language server sends ------------------------------------------------

const fsHost: FileHost = {
  read: (file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
  resolve: (from, rel) => path.resolve(path.dirname(from), rel),
};

function loadExample(): { c: ConstitutionData; errors: number } {
  const res = new ConstitutionWorkspace(fsHost).resolve(EXAMPLE);
  assert.ok(res, `${EXAMPLE} could not be read`);
  return { c: res.constitution, errors: res.diagnostics.filter((d) => d.severity === 'error').length };
}

/** The result of constitution/previewPrompts, built by the server's own code. */
function previewResult(c: ConstitutionData, uri: string, errorCount: number, sel: { principle?: string; comparison?: string } = {}): PreviewPromptsResult {
  return previewFor(c, errorCount, { uri, ...sel });
}

const HOSTILE_IMG = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_SCRIPT = '<script>window.__pwned=1</script>';
const HOSTILE_PRE = '</pre><b>x</b>';
const HOSTILE = `${HOSTILE_IMG} ${HOSTILE_SCRIPT} ${HOSTILE_PRE}`;

/** The example constitution with markup in every place a constitution author controls. */
function hostileResult(base: ConstitutionData): PreviewPromptsResult {
  const c: ConstitutionData = structuredClone(base);
  const id = `p${HOSTILE}`;
  c.name = `name ${HOSTILE}`;
  const p = c.principles[0];
  assert.ok(p);
  Object.assign(p, { id, name: `principle ${HOSTILE}`, critique: `Critique ${HOSTILE}`, revision: `Revise ${HOSTILE_PRE}` });
  const q = c.comparisons[0];
  assert.ok(q);
  Object.assign(q, { id: `q${HOSTILE}`, question: `Which ${HOSTILE}?` });
  const ex = c.examples.critique_revision[0];
  assert.ok(ex);
  ex.principle = id;
  ex.critique = `critique ${HOSTILE}`;
  const turn = ex.conversation[0];
  assert.ok(turn);
  turn.text = `human ${HOSTILE}`;
  c.templates.comparison_answer = ` (${HOSTILE_PRE}{answer})`;
  const r = previewResult(c, `file:///tmp/${encodeURIComponent(HOSTILE)}.constitution.yaml`, 1);
  r.principles[1] = { id: `p2${HOSTILE_SCRIPT}`, label: `label ${HOSTILE}`, detail: `detail ${HOSTILE}` };
  return r;
}

// --- the page: a shell like WebviewHost.html() ----------------------------------------------

/** Light and dark colours of VS Code's default themes, set on <html> as VS Code sets them. */
const THEMES: Record<'light' | 'dark', { bodyClass: string; vars: Record<string, string> }> = {
  light: {
    bodyClass: 'vscode-light',
    vars: {
      '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-editor-font-family': '"Droid Sans Mono", "monospace", monospace',
      '--vscode-editor-font-size': '13px',
      '--vscode-foreground': '#616161',
      '--vscode-editor-foreground': '#000000',
      '--vscode-editor-background': '#ffffff',
      '--vscode-descriptionForeground': '#717171',
      '--vscode-textBlockQuote-background': '#f2f2f2',
      '--vscode-textBlockQuote-border': '#007acc80',
      '--vscode-textCodeBlock-background': '#dcdcdc66',
      '--vscode-textLink-foreground': '#006ab1',
      '--vscode-button-background': '#007acc',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-hoverBackground': '#0062a3',
      '--vscode-button-secondaryBackground': '#5f6a79',
      '--vscode-button-secondaryForeground': '#ffffff',
      '--vscode-button-secondaryHoverBackground': '#4c5561',
      '--vscode-dropdown-background': '#ffffff',
      '--vscode-dropdown-border': '#cecece',
      '--vscode-dropdown-foreground': '#616161',
      '--vscode-inputValidation-errorBackground': '#f2dede',
      '--vscode-inputValidation-errorBorder': '#be1100',
      '--vscode-inputValidation-warningBackground': '#f6f5d2',
      '--vscode-inputValidation-warningBorder': '#b89500',
      '--vscode-errorForeground': '#a1260d',
      '--vscode-focusBorder': '#0090f1',
      '--vscode-panel-border': '#80808059',
    },
  },
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
      '--vscode-font-size': '13px',
      '--vscode-editor-font-family': '"Droid Sans Mono", "monospace", monospace',
      '--vscode-editor-font-size': '13px',
      '--vscode-foreground': '#cccccc',
      '--vscode-editor-foreground': '#d4d4d4',
      '--vscode-editor-background': '#1e1e1e',
      '--vscode-descriptionForeground': '#ccccccb3',
      '--vscode-textBlockQuote-background': '#7f7f7f1a',
      '--vscode-textBlockQuote-border': '#007acc80',
      '--vscode-textCodeBlock-background': '#0a0a0a66',
      '--vscode-textLink-foreground': '#3794ff',
      '--vscode-button-background': '#0e639c',
      '--vscode-button-foreground': '#ffffff',
      '--vscode-button-hoverBackground': '#1177bb',
      '--vscode-button-secondaryBackground': '#3a3d41',
      '--vscode-button-secondaryForeground': '#ffffff',
      '--vscode-button-secondaryHoverBackground': '#45494e',
      '--vscode-dropdown-background': '#3c3c3c',
      '--vscode-dropdown-border': '#3c3c3c',
      '--vscode-dropdown-foreground': '#f0f0f0',
      '--vscode-inputValidation-errorBackground': '#5a1d1d',
      '--vscode-inputValidation-errorBorder': '#be1100',
      '--vscode-inputValidation-warningBackground': '#352a05',
      '--vscode-inputValidation-warningBorder': '#b89500',
      '--vscode-errorForeground': '#f48771',
      '--vscode-focusBorder': '#007fd4',
      '--vscode-panel-border': '#80808059',
    },
  },
};

interface Recorder {
  messages: PreviewPageToHost[];
  states: PreviewPanelState[];
  violations: { directive: string; blocked: string }[];
}

declare global {
  interface Window {
    __vscode: Recorder;
    __pwned?: unknown;
    __inline?: unknown;
  }
}

/** The stub of the webview API (the panel harness's): records messages, states and CSP violations. */
const STUB = HARNESS_STUB;

/** The panel's own HTML shell (src/extension/panels/html.ts); `csp: false` drops its policy. */
function shell(origin: string, nonce: string, csp: boolean): string {
  const html = panelHtml({ cspSource: origin, scriptUri: `${origin}/preview.js`, styleUri: `${origin}/preview.css`, baseStyleUri: `${origin}/panel.css`, nonce, title: 'Prompt Preview' });
  return csp ? html : html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>\n/, '');
}

function startServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const origin = `http://${req.headers.host}`;
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/') send('text/html; charset=utf-8', shell(origin, randomBytes(16).toString('hex'), url.searchParams.get('csp') !== '0'));
    else if (url.pathname === '/preview.js') send('text/javascript; charset=utf-8', readFileSync(BUNDLE));
    else if (url.pathname === '/preview.css') send('text/css; charset=utf-8', readFileSync(STYLE));
    else if (url.pathname === '/panel.css') send('text/css; charset=utf-8', readFileSync(path.join(ROOT, 'media', 'panel.css')));
    else if (url.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

// --- driving the page ------------------------------------------------------------------------

let browser: Browser;
let server: Server;
let origin: string;
let page: Page;
let pageErrors: string[];
let example: { c: ConstitutionData; errors: number };
let fixture: PreviewPromptsResult;

async function open(o: { state?: PreviewPanelState; csp?: boolean; theme?: keyof typeof THEMES } = {}): Promise<void> {
  const q = new URLSearchParams();
  if (o.state) q.set('state', JSON.stringify(o.state));
  if (o.csp === false) q.set('csp', '0');
  await page.goto(`${origin}/?${q}`);
  await page.waitForFunction(() => (window.__vscode?.messages.length ?? 0) > 0);
  await setTheme(o.theme ?? 'light');
}

async function setTheme(name: keyof typeof THEMES): Promise<void> {
  // element.style (CSSOM) is what VS Code uses too; the CSP does not block it
  await page.evaluate((t) => {
    for (const [k, v] of Object.entries(t.vars)) document.documentElement.style.setProperty(k, v);
    document.body.className = t.bodyClass;
  }, THEMES[name]);
}

const recorder = () => page.evaluate(() => structuredClone(window.__vscode));
const messages = async () => (await recorder()).messages;

/** Posts a host message to the page and waits until the page has handled it. */
async function send(m: PreviewHostToPage): Promise<void> {
  const states = (await recorder()).states.length;
  await page.evaluate((msg) => window.postMessage(msg, '*'), m);
  if (m.type === 'preview/update') await page.waitForFunction((n) => window.__vscode.states.length > n, states);
  else await page.locator('#app [role=alert]').filter({ hasText: m.payload.message }).waitFor();
}

const section = (name: string) => page.getByRole('region', { name, exact: true });
const preText = (l: Locator) => l.locator('pre').evaluate((e) => e.textContent);

/** Checks that a <pre> shows a rendered prompt exactly, segment by segment. */
async function assertPrompt(name: string, p: RenderedPrompt): Promise<void> {
  const s = section(name);
  await s.waitFor();
  assert.equal(await preText(s), p.text, `${name}: the <pre> shows the prompt text exactly`);
  const spans = await s.locator('pre .seg').evaluateAll((els) => els.map((e) => ({ kind: (e as HTMLElement).dataset.kind, label: (e as HTMLElement).dataset.label, text: e.textContent })));
  assert.deepEqual(
    spans,
    p.segments.map((g) => ({
      kind: g.kind,
      label: g.kind === 'separator' ? undefined : g.kind === 'prompt' ? `prompt: ${g.label}` : g.label,
      text: p.text.slice(g.start, g.end),
    })),
    `${name}: one span per segment`,
  );
  const meta = await s.locator('.meta').textContent();
  assert.match(meta ?? '', new RegExp(`^${p.text.length.toLocaleString().replace(/\D/g, '\\D?')} characters · ≈ ${Math.ceil(p.text.length / 4).toLocaleString().replace(/\D/g, '\\D?')} tokens`));
}

// --- tests -----------------------------------------------------------------------------------

describe('Prompt Preview webview', { timeout: 120_000 }, () => {
  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not installed at ${CHROMIUM}. The webview tests need it: install it with "sudo apt-get install chromium" (CI installs it).`);
    }
    if (!existsSync(BUNDLE)) throw new Error(`${path.relative(ROOT, BUNDLE)} is missing: run "node scripts/build.mjs" first.`);
    if (statSync(BUNDLE).mtimeMs < statSync(SOURCE).mtimeMs) throw new Error(`${path.relative(ROOT, BUNDLE)} is older than ${path.relative(ROOT, SOURCE)}: run "node scripts/build.mjs" again.`);
    example = loadExample();
    fixture = previewResult(example.c, pathToFileURL(EXAMPLE).href, example.errors);
    ({ server, origin } = await startServer());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
    // VS Code injects its webview API before the page's scripts; so does this stub
    await page.addInitScript({ content: STUB });
    pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });

  afterEach(async () => {
    const errs = pageErrors;
    await page.close();
    assert.deepEqual(errs, [], 'no script errors or console errors');
  });

  it('the fixture is the real example, rendered by the core', () => {
    assert.equal(example.errors, 0);
    assert.ok(fixture.principles.length >= 2 && fixture.comparisons.length >= 2);
    assert.ok(fixture.preview.principle && fixture.preview.comparison);
    assert.ok(fixture.preview.principle.critique.segments.some((s) => s.kind === 'example'), 'the critique prompt has few-shot examples');
  });

  it('posts ready first, and only ready, on load', async () => {
    await open();
    assert.deepEqual(await messages(), [{ type: 'ready', payload: {} }]);
    assert.deepEqual((await recorder()).states, []);
    await page.getByText('Loading prompts…').waitFor();
  });

  it('asks for the restored selection again after ready when it has saved state', async () => {
    const state: PreviewPanelState = { uri: fixture.uri, principle: 'respectful-tone', comparison: 'fairer', conversation: { kind: 'example', group: 'comparison', index: 1 } };
    await open({ state });
    await page.waitForFunction(() => window.__vscode.messages.length >= 2);
    assert.deepEqual(await messages(), [
      { type: 'ready', payload: {} },
      { type: 'preview/select', payload: { principle: 'respectful-tone', comparison: 'fairer', conversation: { kind: 'example', group: 'comparison', index: 1 } } },
    ]);
  });

  it('lists principles, comparisons and conversations in labelled selects', async () => {
    await open();
    await send({ type: 'preview/update', payload: fixture });
    const options = (label: string) => page.getByLabel(label, { exact: true }).locator('option').evaluateAll((os) => os.map((o) => ({ value: (o as HTMLOptionElement).value, text: o.textContent })));
    const principles = await options('Principle');
    assert.deepEqual(principles.map((o) => o.value), fixture.principles.map((p) => p.id));
    assert.deepEqual(principles.map((o) => o.text), fixture.principles.map((p) => (p.detail ? `${p.label} — ${p.detail}` : p.label)));
    assert.deepEqual((await options('Comparison')).map((o) => o.value), fixture.comparisons.map((p) => p.id));
    const convos = await options('Conversation');
    assert.deepEqual(convos.map((o) => JSON.parse(o.value)), fixture.conversations.map((c) => c.value));
    assert.deepEqual(convos.map((o) => o.text), fixture.conversations.map((c) => c.label));
    assert.equal(await page.getByLabel('Principle', { exact: true }).inputValue(), fixture.selected.principle);
    assert.equal(await page.getByLabel('Comparison', { exact: true }).inputValue(), fixture.selected.comparison);
    assert.deepEqual(JSON.parse(await page.getByLabel('Conversation', { exact: true }).inputValue()), { kind: 'sample' });
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), `Prompt preview: ${fixture.name}`);
    assert.equal(await page.getByText('Loading prompts…').isVisible(), false);
  });

  it('shows every prompt exactly, with example segments marked and the prompt segment set apart', async () => {
    await open();
    await send({ type: 'preview/update', payload: fixture });
    const p = fixture.preview.principle;
    const q = fixture.preview.comparison;
    assert.ok(p && q);
    await assertPrompt('Critique prompt', p.critique);
    await assertPrompt('Revision prompt', p.revision);
    await assertPrompt('Direct revision prompt', p.directRevision);
    await assertPrompt('Comparison prompt', q.prompt);
    await assertPrompt('Chain-of-thought comparison prompt', q.chainOfThought);
    assert.equal(await page.getByRole('heading', { level: 2, name: `Critique and revision — principle '${p.id}'` }).count(), 1);
    assert.equal(await page.getByRole('heading', { level: 2, name: `AI feedback — comparison '${q.id}'` }).count(), 1);

    const cont = section('Scored answer continuations');
    assert.deepEqual(await cont.locator('code').allTextContents(), [JSON.stringify(q.continuations.A), JSON.stringify(q.continuations.B)]);

    // examples look different from the prompt, and carry their label as generated content
    const crit = section('Critique prompt');
    const look = (sel: string) =>
      crit.locator(sel).first().evaluate((e) => ({ color: getComputedStyle(e).color, border: getComputedStyle(e).borderLeftColor, label: getComputedStyle(e, '::before').content }));
    const ex = await look('.seg-example');
    const pr = await look('.seg-prompt');
    assert.notEqual(ex.color, pr.color, 'examples are muted');
    assert.notEqual(ex.border, pr.border, 'the prompt is marked differently');
    const firstExample = p.critique.segments.find((s) => s.kind === 'example');
    assert.ok(firstExample);
    assert.match(firstExample.label, /^example 1/);
    assert.equal(ex.label, JSON.stringify(firstExample.label), 'the example label shows');
    assert.equal(pr.label, JSON.stringify(`prompt: critique request of '${p.id}'`));
    // long lines wrap
    assert.deepEqual(await crit.locator('pre').evaluate((e) => [getComputedStyle(e).whiteSpace, getComputedStyle(e).overflowWrap]), ['pre-wrap', 'anywhere']);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing scrolls sideways');
  });

  it('saves the selection with setState after each update', async () => {
    await open();
    await send({ type: 'preview/update', payload: fixture });
    const s = (await recorder()).states;
    assert.deepEqual(s.at(-1), { uri: fixture.uri, principle: fixture.selected.principle, comparison: fixture.selected.comparison, conversation: { kind: 'sample' } });
    const next = previewResult(example.c, fixture.uri, 0, { principle: 'caring-friend', comparison: 'more-caring' });
    next.selected.conversation = { kind: 'example', group: 'critique_revision', index: 2 };
    await send({ type: 'preview/update', payload: next });
    assert.deepEqual((await recorder()).states.at(-1), {
      uri: fixture.uri,
      principle: 'caring-friend',
      comparison: 'more-caring',
      conversation: { kind: 'example', group: 'critique_revision', index: 2 },
    });
    assert.equal(await page.getByLabel('Principle', { exact: true }).inputValue(), 'caring-friend');
    assert.deepEqual(JSON.parse(await page.getByLabel('Conversation', { exact: true }).inputValue()), { kind: 'example', group: 'critique_revision', index: 2 });
    assert.equal(await preText(section('Critique prompt')), next.preview.principle?.critique.text);
  });

  it('posts preview/select with just the change when a select changes', async () => {
    await open();
    await send({ type: 'preview/update', payload: fixture });
    await page.getByLabel('Principle', { exact: true }).selectOption('false-premises');
    await page.getByLabel('Comparison', { exact: true }).selectOption('safer-advice');
    await page.getByLabel('Conversation', { exact: true }).selectOption({ index: 2 });
    const sent = (await messages()).slice(1);
    assert.deepEqual(sent, [
      { type: 'preview/select', payload: { principle: 'false-premises' } },
      { type: 'preview/select', payload: { comparison: 'safer-advice' } },
      { type: 'preview/select', payload: { conversation: fixture.conversations[2]?.value } },
    ]);
    assert.equal(await page.locator('#app').getAttribute('aria-busy'), 'true', 'busy until the update arrives');
    await send({ type: 'preview/update', payload: previewResult(example.c, fixture.uri, 0, { principle: 'false-premises', comparison: 'safer-advice' }) });
    assert.equal(await page.locator('#app').getAttribute('aria-busy'), null);
  });

  it('Copy posts preview/copy with the full prompt, few-shot examples included', async () => {
    await open();
    await send({ type: 'preview/update', payload: fixture });
    const p = fixture.preview.principle;
    const q = fixture.preview.comparison;
    assert.ok(p && q);
    await section('Critique prompt').getByRole('button', { name: 'Copy critique prompt' }).click();
    // hiding the few-shot prefix changes what is shown, not what is copied
    await section('Comparison prompt').getByRole('button', { name: /^Hide few-shot/ }).click();
    await section('Comparison prompt').getByRole('button', { name: 'Copy comparison prompt' }).click();
    await page.locator('#announcer').filter({ hasText: 'Comparison prompt copied to the clipboard' }).waitFor({ state: 'attached' });
    const copies = (await messages()).filter((m) => m.type === 'preview/copy');
    assert.deepEqual(copies, [
      { type: 'preview/copy', payload: { text: p.critique.text } },
      { type: 'preview/copy', payload: { text: q.prompt.text } },
    ]);
  });

  it('the few-shot toggle hides and shows the example segments', async () => {
    await open();
    await send({ type: 'preview/update', payload: fixture });
    const s = section('Revision prompt');
    const examples = fixture.preview.principle?.revision.segments.filter((g) => g.kind === 'example').length ?? 0;
    assert.ok(examples > 0);
    const visible = () => s.locator('pre .seg').evaluateAll((els) => els.map((e) => `${(e as HTMLElement).dataset.kind}:${(e as HTMLElement).checkVisibility()}`));
    assert.ok((await visible()).every((v) => v.endsWith(':true')));
    const toggle = s.getByRole('button', { name: 'Hide few-shot examples of the revision prompt' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await toggle.click();
    const hidden = await visible();
    assert.deepEqual(hidden.filter((v) => v.endsWith(':true')), ['prompt:true'], 'only the prompt segment is visible');
    assert.equal(await s.getByText(`${examples} few-shot examples hidden`).isVisible(), true);
    const show = s.getByRole('button', { name: 'Show few-shot examples of the revision prompt' });
    assert.equal(await show.getAttribute('aria-expanded'), 'false');
    // the other sections keep their own setting, and the choice survives an update
    assert.ok((await section('Critique prompt').locator('.seg-example').evaluateAll((els) => els.map((e) => (e as HTMLElement).checkVisibility()))).every(Boolean));
    await send({ type: 'preview/update', payload: fixture });
    assert.equal(await s.locator('pre .seg-example').first().isVisible(), false);
    await show.click();
    assert.ok((await visible()).every((v) => v.endsWith(':true')));
    // a prompt without examples has no toggle
    assert.equal(await section('Direct revision prompt').getByRole('button', { name: /few-shot/ }).count(), 0);
    assert.match((await section('Direct revision prompt').locator('.meta').textContent()) ?? '', /no few-shot examples/);
  });

  it('shows a banner when the constitution has errors, and preview/error keeps the last content', async () => {
    await open();
    await send({ type: 'preview/update', payload: { ...fixture, errorCount: 3 } });
    assert.equal(await page.getByRole('status').filter({ hasText: 'in this constitution' }).textContent(), '3 errors in this constitution — showing what is valid');
    await send({ type: 'preview/update', payload: { ...fixture, errorCount: 1 } });
    assert.equal(await page.getByRole('status').filter({ hasText: 'in this constitution' }).textContent(), '1 error in this constitution — showing what is valid');

    await send({ type: 'preview/error', payload: { message: '/work/x.constitution.yaml could not be read.' } });
    assert.equal(await page.getByRole('alert').textContent(), '/work/x.constitution.yaml could not be read.');
    assert.equal(await preText(section('Critique prompt')), fixture.preview.principle?.critique.text, 'the last content stays');

    await send({ type: 'preview/update', payload: fixture });
    assert.equal(await page.getByRole('alert').isVisible(), false, 'an update clears the error');
    assert.equal(await page.locator('#constitution-errors').isVisible(), false, 'no errors, no banner');
  });

  it('an error before any content shows the banner instead of the loading text', async () => {
    await open();
    await send({ type: 'preview/error', payload: { message: 'Not a constitution: <b>x</b>' } });
    assert.equal(await page.getByRole('alert').textContent(), 'Not a constitution: <b>x</b>');
    assert.equal(await page.locator('b').count(), 0);
    assert.equal(await page.getByText('Loading prompts…').isVisible(), false);
  });

  it('says so when there are no principles or no comparisons', async () => {
    await open();
    const empty: ConstitutionData = { ...example.c, principles: [], comparisons: [], examples: { critique_revision: [], comparison: [], cot_comparison: [] } };
    await send({ type: 'preview/update', payload: previewResult(empty, fixture.uri, 0) });
    assert.match((await page.getByRole('region', { name: 'Critique and revision' }).textContent()) ?? '', /no principles/);
    assert.match((await page.getByRole('region', { name: 'AI feedback' }).textContent()) ?? '', /no comparisons/);
    assert.equal(await page.locator('pre:visible').count(), 0);
    assert.equal(await page.getByLabel('Principle', { exact: true }).isDisabled(), true);
    assert.equal(await page.getByLabel('Comparison', { exact: true }).isDisabled(), true);

    // only comparisons missing
    const noComparisons: ConstitutionData = { ...example.c, comparisons: [] };
    await send({ type: 'preview/update', payload: previewResult(noComparisons, fixture.uri, 0) });
    assert.equal(await section('Critique prompt').isVisible(), true);
    assert.match((await page.getByRole('region', { name: 'AI feedback' }).textContent()) ?? '', /no comparisons/);
    assert.equal(await page.getByRole('region', { name: 'Comparison prompt', exact: true }).isVisible(), false);
  });

  it('is usable from the keyboard, with labelled regions and named controls', async () => {
    await open();
    await send({ type: 'preview/update', payload: fixture });
    // every visible control is reached by Tab, in document order
    const controls = await page.locator('select:visible, button:visible').evaluateAll((els) => els.map((e) => e.id || e.getAttribute('aria-label')));
    const reached: (string | null)[] = [];
    for (let i = 0; i < controls.length; i++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.getAttribute('aria-label'))));
    }
    assert.deepEqual(reached, controls);
    assert.ok(controls.length >= 3 + 5 + 4, `${controls.length} controls`);
    // focus is visible
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    assert.notEqual(outline, 'none');
    // Enter on a focused Copy button copies
    await section('Direct revision prompt').getByRole('button', { name: 'Copy direct revision prompt' }).focus();
    await page.keyboard.press('Enter');
    assert.deepEqual((await messages()).at(-1), { type: 'preview/copy', payload: { text: fixture.preview.principle?.directRevision.text } });
    // the keyboard changes a select, and the select keeps the focus across the update
    const principle = page.getByLabel('Principle', { exact: true });
    await principle.focus();
    await page.keyboard.press('ArrowDown');
    assert.deepEqual((await messages()).at(-1), { type: 'preview/select', payload: { principle: fixture.principles[1]?.id } });
    await send({ type: 'preview/update', payload: previewResult(example.c, fixture.uri, 0, { principle: fixture.principles[1]?.id }) });
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'select-principle');

    const a11y = await page.evaluate(() => ({
      sections: Array.from(document.querySelectorAll('section')).map((s) => {
        const h = document.getElementById(s.getAttribute('aria-labelledby') ?? '');
        return Boolean(h && /^H[1-6]$/.test(h.tagName) && s.contains(h) && h.textContent);
      }),
      selects: Array.from(document.querySelectorAll('select')).map((s) => s.labels?.length ?? 0),
      buttons: Array.from(document.querySelectorAll('button')).map((b) => (b.getAttribute('aria-label') ?? b.textContent ?? '').trim().length > 0),
    }));
    assert.ok(a11y.sections.length >= 8 && a11y.sections.every(Boolean), 'every section is labelled by its heading');
    assert.deepEqual(a11y.selects, [1, 1, 1]);
    assert.ok(a11y.buttons.every(Boolean), 'every button has a name');
  });

  for (const csp of [true, false]) {
    it(`shows hostile text as text and runs none of it${csp ? ' (with the CSP)' : ' (even without a CSP)'}`, async () => {
      const hostile = hostileResult(example.c);
      await open({ csp });
      const before = await page.evaluate(() => ({ scripts: document.scripts.length }));
      await send({ type: 'preview/update', payload: hostile });
      await page.getByLabel('Principle', { exact: true }).selectOption({ index: 1 });
      await page.waitForTimeout(200); // an <img> with a broken src would have fired onerror by now
      const p = hostile.preview.principle;
      const q = hostile.preview.comparison;
      assert.ok(p && q);
      assert.ok(p.critique.text.includes(HOSTILE_IMG) && p.critique.text.includes(HOSTILE_SCRIPT) && p.critique.text.includes(HOSTILE_PRE));
      await assertPrompt('Critique prompt', p.critique);
      await assertPrompt('Revision prompt', p.revision);
      await assertPrompt('Comparison prompt', q.prompt);
      const dom = await page.evaluate(() => ({
        pwned: window.__pwned,
        img: document.querySelectorAll('img').length,
        b: document.querySelectorAll('b').length,
        scripts: document.scripts.length,
        title: document.querySelector('h1')?.textContent,
        headings: Array.from(document.querySelectorAll('h2')).map((h) => h.textContent),
        options: Array.from(document.querySelectorAll('#select-principle option')).slice(0, 2).map((o) => o.textContent),
        conversation: document.querySelector('#select-conversation option:nth-child(2)')?.textContent,
        label: (document.querySelector('.seg-example') as HTMLElement | null)?.dataset.label,
        continuation: document.querySelector('code.continuation')?.textContent,
      }));
      assert.equal(dom.pwned, undefined);
      assert.equal(dom.img, 0);
      assert.equal(dom.b, 0);
      assert.equal(dom.scripts, before.scripts);
      assert.equal(dom.title, `Prompt preview: ${hostile.name}`);
      assert.deepEqual(dom.headings, [`Critique and revision — principle '${p.id}'`, `AI feedback — comparison '${q.id}'`]);
      assert.deepEqual(dom.options, [`${hostile.principles[0]?.label} — ${hostile.principles[0]?.detail}`, `label ${HOSTILE} — detail ${HOSTILE}`]);
      assert.equal(dom.conversation, hostile.conversations[1]?.label);
      assert.equal(dom.label, `example 1 (principle '${p.id}')`);
      assert.equal(dom.continuation, JSON.stringify(q.continuations.A));
      assert.deepEqual((await messages()).at(-1), { type: 'preview/select', payload: { principle: `p2${HOSTILE_SCRIPT}` } });
      if (csp) assert.deepEqual((await recorder()).violations, [], 'nothing tried to get past the CSP');
    });
  }

  it('works under the strict CSP: the stylesheet applies and nothing is blocked', async () => {
    await open();
    await send({ type: 'preview/update', payload: fixture });
    await section('Critique prompt').getByRole('button', { name: /^Hide few-shot/ }).click();
    await section('Critique prompt').getByRole('button', { name: 'Copy critique prompt' }).click();
    assert.deepEqual((await recorder()).violations, [], 'no CSP violations');
    assert.equal(await page.locator('[style]').count(), 1, 'only <html> has a style attribute (the theme variables, set through CSSOM)');
    assert.equal(await page.locator('#app').evaluate((e) => getComputedStyle(e.querySelector('pre') as Element).whiteSpace), 'pre-wrap', 'media/preview.css is applied');
    // the harness really enforces the policy: an inline script is refused
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
    });
    await page.waitForFunction(() => window.__vscode.violations.length > 0);
    assert.equal(await page.evaluate(() => window.__inline), undefined);
    assert.match((await recorder()).violations[0]?.directive ?? '', /script-src/);
    pageErrors = pageErrors.filter((e) => !/Content Security Policy/.test(e));
  });

  for (const theme of ['light', 'dark'] as const) {
    it(`renders in the ${theme} theme (screenshot test-results/webview/preview-${theme}.png)`, async () => {
      await open({ theme });
      await send({ type: 'preview/update', payload: { ...fixture, errorCount: 2 } });
      await section('Critique prompt').getByRole('button', { name: /^Hide few-shot/ }).click();
      await page.getByLabel('Principle', { exact: true }).focus();
      const colours = await page.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]);
      assert.deepEqual(colours, theme === 'light' ? ['rgb(255, 255, 255)', 'rgb(97, 97, 97)'] : ['rgb(30, 30, 30)', 'rgb(204, 204, 204)']);
      mkdirSync(SCREENSHOTS, { recursive: true });
      const file = path.join(SCREENSHOTS, `preview-${theme}.png`);
      await page.screenshot({ path: file });
      assert.ok(statSync(file).size > 10_000);
    });
  }
});
