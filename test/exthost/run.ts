import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadAndUnzipVSCode, type ProgressReport, type ProgressReporter, ProgressReportStage, runTests } from '@vscode/test-electron';
import { bundleSuite, makeTestWorkspace, makeUserDataDir, missingBuild, REPO, removeAll } from './workspace.js';

/**
 * The extension-host suite in desktop VS Code (@vscode/test-electron): activation, commands,
 * diagnostics, trainer start/stop/resume, asserted through the extension API (test/exthost/suite).
 *
 *   node --import tsx test/exthost/run.ts        (after npm run build; npm run test:exthost does both)
 *
 * VS Code: VSCODE_EXECUTABLE when set, else @vscode/test-electron downloads one into .vscode-test/
 * (or reuses one there). Where neither is possible — no path given and update.code.visualstudio.com
 * unreachable — it prints one line saying so and exits 0: the code-server suite (test/e2e, and
 * test/exthost/runCodeServer.ts for this same suite) is what CI relies on.
 * Environment: EXTHOST_GREP runs only the matching tests.
 */

const SKIP = 'exthost suite: skipped — no desktop VS Code (set VSCODE_EXECUTABLE=/path/to/code, or allow downloads from update.code.visualstudio.com)';
const CACHE = path.join(REPO, '.vscode-test');
/** How long finding out which VS Code to download may take; an unreachable server fails by then. */
const RESOLVE_DEADLINE_MS = 20_000;
/** @vscode/test-electron's idle timeout per request. */
const IDLE_TIMEOUT_MS = 8_000;

/**
 * A VS Code to test with: the given executable, else a download (or an earlier one in the cache).
 * Undefined when there is none and none can be had.
 */
async function vscodeExecutable(): Promise<string | undefined> {
  const given = process.env.VSCODE_EXECUTABLE;
  if (given) {
    if (!fs.existsSync(given)) throw new Error(`VSCODE_EXECUTABLE=${given} does not exist`);
    return given;
  }
  // Quiet until the version is known: an offline machine gets the one skip line, not a stack trace.
  let resolved = false;
  const reporter: ProgressReporter = {
    report(r: ProgressReport) {
      switch (r.stage) {
        case ProgressReportStage.ResolvedVersion:
          resolved = true;
          console.log(`exthost suite: VS Code ${r.version}`);
          break;
        case ProgressReportStage.FoundMatchingInstall:
          console.log(`exthost suite: using ${r.downloadedPath}`);
          break;
        case ProgressReportStage.Downloading:
          if (r.bytesSoFar === 0) console.log(`exthost suite: downloading VS Code (${(r.totalBytes / 2 ** 20).toFixed(0)} MB) into ${CACHE}`);
          break;
        case ProgressReportStage.Retrying:
          console.warn(`exthost suite: download failed, retrying (${r.attempt} of ${r.totalAttempts}): ${r.error.message}`);
          break;
        case ProgressReportStage.NewInstallComplete:
          console.log(`exthost suite: downloaded VS Code into ${r.downloadedPath}`);
          break;
      }
    },
    error(e: unknown) {
      if (resolved) console.error(`exthost suite: ${e instanceof Error ? e.message : String(e)}`);
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(function check() {
      // past the deadline only while still resolving the version: a download under way may take minutes
      if (!resolved) resolve(undefined);
      else timer = setTimeout(check, 1000);
    }, RESOLVE_DEADLINE_MS);
  });
  // the library also writes to the console when the version lookup fails (a JSON parse error, a
  // fallback): held back until the version is known, so the skip stays one line
  const { error, warn } = console;
  const held: unknown[][] = [];
  console.error = console.warn = (...args: unknown[]) => void (resolved ? error(...args) : held.push(args));
  try {
    return await Promise.race([downloadAndUnzipVSCode({ cachePath: CACHE, extensionDevelopmentPath: REPO, timeout: IDLE_TIMEOUT_MS, reporter }), deadline]);
  } catch (e) {
    if (resolved) throw e; // a download that started and failed is an error, not "no VS Code"
    return undefined;
  } finally {
    clearTimeout(timer);
    Object.assign(console, { error, warn });
    if (resolved) for (const args of held) warn(...args);
  }
}

async function main(): Promise<number> {
  const missing = missingBuild();
  if (missing.length) {
    console.error(`exthost suite: ${missing.join(', ')} missing: run npm run build first`);
    return 1;
  }
  const executable = await vscodeExecutable();
  if (!executable) {
    console.log(SKIP);
    return 0;
  }
  // Electron needs a display: on Linux without one, run again under xvfb-run when it is installed
  // (else go on; VS Code then fails to open its window and says so).
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY && !process.env.EXTHOST_UNDER_XVFB) {
    if (spawnSync('sh', ['-c', 'command -v xvfb-run'], { stdio: 'ignore' }).status === 0) {
      const r = spawnSync('xvfb-run', ['-a', process.execPath, ...process.execArgv, __filename], {
        stdio: 'inherit',
        env: { ...process.env, EXTHOST_UNDER_XVFB: '1', VSCODE_EXECUTABLE: executable },
      });
      return r.status ?? 1;
    }
    console.warn('exthost suite: no DISPLAY and no xvfb-run; trying without a display');
  }
  const indexJs = await bundleSuite();
  const ws = makeTestWorkspace();
  const user = makeUserDataDir();
  const exts = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-exthost-ext-'));
  const started = Date.now();
  try {
    await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: REPO,
      extensionTestsPath: indexJs,
      extensionTestsEnv: process.env.EXTHOST_GREP ? { EXTHOST_GREP: process.env.EXTHOST_GREP } : {},
      launchArgs: [
        ws,
        // only the extension under test: no other installed extension can activate or interfere
        '--disable-extensions',
        '--extensions-dir',
        exts,
        '--user-data-dir',
        user,
        // Workspace Trust off: the trainer tests start runs, which Restricted Mode refuses (the
        // settings turn it off too; the flag also covers a VS Code that prompts before reading them)
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
        '--disable-gpu',
      ],
    });
    console.log(`exthost suite: passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return 0;
  } catch (e) {
    console.error(`exthost suite: ${(e as Error).message}`);
    return 1;
  } finally {
    removeAll([ws, user, exts]);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`exthost suite: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
