import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

/** Shared by the two runners of the extension-host suite: the desktop one (run.ts) and code-server (runCodeServer.ts). */

export const REPO = path.resolve(__dirname, '..', '..');
const SUITE_SRC = path.join(REPO, 'test', 'exthost', 'suite');
/** Where the compiled suite goes; `.vscode-test/` also holds @vscode/test-electron's downloads. */
export const SUITE_OUT = path.join(REPO, '.vscode-test', 'suite');

/** The build outputs the suite needs: the extension, its language server and its trainer. */
export function missingBuild(): string[] {
  return ['dist/extension.js', 'dist/server.js', 'dist/trainer.js'].filter((f) => !fs.existsSync(path.join(REPO, f)));
}

/**
 * A fresh folder the suite's editor opens: the example constitution and prompt data, the LSP
 * fixtures with known mistakes, and the small run file of the trainer tests. A copy, because the
 * tests write runs into it.
 */
export function makeTestWorkspace(): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-exthost-ws-'));
  fs.cpSync(path.join(REPO, 'examples', 'data'), path.join(ws, 'data'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'examples', 'harmless-helpful.constitution.yaml'), path.join(ws, 'harmless-helpful.constitution.yaml'));
  for (const f of ['base.constitution.yaml', 'broken.constitution.yaml']) fs.copyFileSync(path.join(REPO, 'test', 'fixtures', 'lsp', f), path.join(ws, f));
  fs.copyFileSync(path.join(REPO, 'test', 'exthost', 'fixtures', 'exthost.run.yaml'), path.join(ws, 'exthost.run.yaml'));
  return ws;
}

/**
 * A user-data folder with the settings of a quiet test window: no welcome page, no telemetry,
 * and Workspace Trust off (the trainer tests start runs, which Restricted Mode refuses).
 */
export function makeUserDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-exthost-user-'));
  fs.mkdirSync(path.join(dir, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'chat.disableAIFeatures': true,
      },
      null,
      2,
    ),
  );
  return dir;
}

/**
 * The extension host loads plain CommonJS: compiles the suite (index.ts and every *.test.ts, each
 * bundled with what it imports from src/) into .vscode-test/suite. `vscode` comes from the host;
 * mocha is resolved at run time from the repository's node_modules. Returns the index file.
 */
export async function bundleSuite(): Promise<string> {
  fs.rmSync(SUITE_OUT, { recursive: true, force: true });
  const entryPoints = fs
    .readdirSync(SUITE_SRC)
    .filter((f) => f === 'index.ts' || f.endsWith('.test.ts'))
    .map((f) => path.join(SUITE_SRC, f));
  await esbuild.build({
    entryPoints,
    outdir: SUITE_OUT,
    outbase: SUITE_SRC,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return path.join(SUITE_OUT, 'index.js');
}

/** Removes the temporary folders of a run (best effort: a process may still hold a file). */
export function removeAll(dirs: string[]): void {
  for (const d of dirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // left in the temp folder
    }
  }
}
