import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** The repository (the extension under development): the compiled suite lives in <repo>/.vscode-test/suite. */
export const REPO = path.resolve(__dirname, '..', '..');

/** The extension's id, `publisher.name` of its package.json. */
export function extensionId(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { publisher: string; name: string };
  return `${pkg.publisher}.${pkg.name}`;
}

/** The folder the test window has open (the runners' copy of a test workspace). */
export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the test window has no folder open: the runner passes a test workspace');
  return folder.uri.fsPath;
}

/**
 * Polls `probe` until it returns something other than undefined/false, or fails after
 * `timeoutMs` with `what` and the last thing `describe` says. A wait on a condition, not a sleep.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs: number, describe?: () => string, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      const v = probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${describe ? `\n${describe()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Resolves with the diagnostics of `uri` once `ok` accepts them: checked now and on every
 * onDidChangeDiagnostics for that document; rejects after `timeoutMs` listing what there was.
 */
export function waitForDiagnostics(uri: vscode.Uri, ok: (d: readonly vscode.Diagnostic[]) => boolean, timeoutMs: number): Promise<vscode.Diagnostic[]> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const d = vscode.languages.getDiagnostics(uri);
      if (!ok(d)) return false;
      done();
      resolve(d);
      return true;
    };
    const sub = vscode.languages.onDidChangeDiagnostics((e) => {
      if (e.uris.some((u) => u.toString() === uri.toString())) check();
    });
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the diagnostics of ${uri.fsPath}; it has:\n${formatDiagnostics(vscode.languages.getDiagnostics(uri))}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      sub.dispose();
    };
    check();
  });
}

/** `Ln 8, Col 5  message` lines, 1-based like the Problems panel. */
export function formatDiagnostics(ds: readonly vscode.Diagnostic[]): string {
  return ds.map((d) => `  Ln ${d.range.start.line + 1}, Col ${d.range.start.character + 1}  ${d.message}`).join('\n') || '  (none)';
}

interface Proc {
  pid: number;
  ppid: number;
  command: string;
}

function processTable(): Proc[] | undefined {
  if (process.platform === 'linux') {
    const out: Proc[] = [];
    for (const e of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'
        const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const command = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ');
        out.push({ pid: Number(e), ppid, command });
      } catch {
        // the process ended while we looked
      }
    }
    return out;
  }
  if (process.platform === 'darwin') {
    return execFileSync('ps', ['-A', '-o', 'pid=,ppid=,command='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), command: m[3]! }));
  }
  return undefined; // Windows: not checked
}

/**
 * Trainer processes (dist/trainer.js, and whatever they started) below this extension host, or
 * undefined where the process table cannot be read (Windows).
 */
export function trainerProcesses(): Proc[] | undefined {
  const table = processTable();
  if (!table) return undefined;
  const children = new Map<number, Proc[]>();
  for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found: Proc[] = [];
  const walk = (pid: number, underTrainer: boolean) => {
    for (const c of children.get(pid) ?? []) {
      const trainer = underTrainer || /[\\/]dist[\\/]trainer\.js\b/.test(c.command);
      if (trainer) found.push(c);
      walk(c.pid, trainer);
    }
  };
  walk(process.pid, false);
  return found;
}
