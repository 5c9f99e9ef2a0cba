import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CODE_SERVER_ENTRY, launchCodeServer, NODE24, profileLogs, type LaunchedServer } from '../e2e/codeServer.js';
import { bundleSuite, makeTestWorkspace, makeUserDataDir, missingBuild, REPO, removeAll } from './workspace.js';

/**
 * The extension-host suite (test/exthost/suite) in code-server's real Node extension host, which
 * runs where no desktop VS Code can be had. The workbench in headless Chromium is opened the way
 * @vscode/test-web opens one: its URL's `payload` names the extension under development (this
 * repository, not the packaged .vsix) and the tests; the extension host runs them and exits, and
 * the workbench hands the exit status to `window.codeAutomationExit`, which this runner provides.
 *
 *   node --import tsx test/exthost/runCodeServer.ts     (after npm run build and test/e2e/setup.sh)
 *
 * Exits with the suite's status. Environment: E2E_DIR (where test/e2e/setup.sh installed
 * code-server), EXTHOST_GREP (run only matching tests), EXTHOST_TIMEOUT_S (whole run, default 900),
 * EXTHOST_DEBUG=1 (show the workbench's console).
 */

const RESULTS = path.join(REPO, 'test-results', 'exthost');
const say = (s: string) => console.log(`exthost suite (code-server): ${s}`);

async function main(): Promise<number> {
  const missing = missingBuild();
  if (missing.length) {
    console.error(`exthost suite (code-server): ${missing.join(', ')} missing: run npm run build first`);
    return 1;
  }
  for (const [file, fix] of [
    [CODE_SERVER_ENTRY, 'run test/e2e/setup.sh'],
    [NODE24, 'run test/e2e/setup.sh'],
    [CHROMIUM, 'apt-get install chromium'],
  ] as const) {
    if (!fs.existsSync(file)) {
      console.error(`exthost suite (code-server): ${file} is missing: ${fix}`);
      return 1;
    }
  }
  const timeoutMs = Number(process.env.EXTHOST_TIMEOUT_S ?? 900) * 1000;
  const started = Date.now();
  const indexJs = await bundleSuite();
  const ws = makeTestWorkspace();
  const user = makeUserDataDir();
  const exts = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-exthost-ext-'));
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-exthost-state-'));
  const serverLog = path.join(state, 'server.log');
  const report = path.join(state, 'report.txt');
  const automationLog: string[] = [];
  let server: LaunchedServer | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  let shown = 0;
  // the report the suite writes (mocha's spec reporter), shown as it grows
  const showReport = () => {
    if (!fs.existsSync(report)) return;
    const text = fs.readFileSync(report, 'utf8');
    if (text.length > shown) process.stdout.write(text.slice(shown));
    shown = text.length;
  };
  const follow = setInterval(showReport, 500);
  let code = 1;
  try {
    // a built workbench reads the extension-development entries of the URL's payload only with the smoke-test driver on
    const s = await launchCodeServer({ workspace: ws, userDataDir: user, extensionsDir: exts, logFile: serverLog, extraArgs: ['--disable-workspace-trust', '--vscode-option', 'enable-smoke-test-driver'] });
    server = s;
    const remote = (p: string) => `vscode-remote://127.0.0.1:${s.port}${p.split(path.sep).join('/')}`;
    const env = { EXTHOST_REPORT: report, ...(process.env.EXTHOST_GREP ? { EXTHOST_GREP: process.env.EXTHOST_GREP } : {}) };
    const payload = [
      ['extensionDevelopmentPath', remote(REPO)],
      ['extensionTestsPath', remote(indexJs)],
      ['extensionEnvironment', JSON.stringify(env)],
    ];
    const url = `http://127.0.0.1:${s.port}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    let exited: (code: number) => void = () => undefined;
    const exit = new Promise<number>((resolve) => (exited = resolve));
    // the workbench's console (extension host messages included), for the failure log; EXTHOST_DEBUG=1 shows it
    page.on('console', (m) => {
      automationLog.push(`[${m.type()}] ${m.text()}`);
      if (process.env.EXTHOST_DEBUG) console.log(`[workbench ${m.type()}] ${m.text()}`);
    });
    await page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => void automationLog.push(args.map(String).join(' ')));
    await page.exposeFunction('codeAutomationExit', (c: number) => exited(c));
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs - (Date.now() - started)))));
    const result = await Promise.race([exit, timeout]);
    clearTimeout(timer);
    showReport();
    if (result === 'timeout') {
      say(`no result within ${timeoutMs / 1000} s`);
      fs.mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: path.join(RESULTS, 'timeout.png') }).catch(() => undefined);
    } else code = result;
    say(`${code === 0 ? 'passed' : `failed (extension host exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (e) {
    showReport();
    console.error(`exthost suite (code-server): ${(e as Error).message}`);
  } finally {
    clearInterval(follow);
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (code !== 0) {
      // what the server and the extension host logged, for the failure
      fs.mkdirSync(RESULTS, { recursive: true });
      const logs: string[] = [fs.existsSync(serverLog) ? fs.readFileSync(serverLog, 'utf8') : '', '== workbench', ...automationLog, ...profileLogs(user)];
      fs.writeFileSync(path.join(RESULTS, 'code-server.log'), logs.join('\n'));
      say(`logs in ${path.relative(REPO, path.join(RESULTS, 'code-server.log'))}`);
    }
    removeAll([ws, user, exts, state]);
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`exthost suite (code-server): ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
