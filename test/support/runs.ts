// Shared by the `cai run` tests: a scratch folder holding the example constitution and datasets
// (so a run file written there can name them), and the CLI run synchronously with a clean
// environment (no backend override, no fault injection unless asked).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '../..');
export const CLI = path.join(REPO, 'dist', 'cli.js');

/** The environment for a `cai` child: CAI_BACKEND cleared, CAI_INJECT_NAN only when given. */
export function caiEnv(injectNan?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CAI_BACKEND: '' };
  delete env['CAI_INJECT_NAN'];
  if (injectNan) env['CAI_INJECT_NAN'] = injectNan;
  return env;
}

export function caiSync(args: string[], opts: { injectNan?: string; timeoutMs?: number } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8', env: caiEnv(opts.injectNan), timeout: opts.timeoutMs ?? 300_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A new temporary folder with `harmless-helpful.constitution.yaml` and `data/` from examples/. */
export function runWorkspace(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.cpSync(path.join(REPO, 'examples', 'data'), path.join(dir, 'data'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'examples', 'harmless-helpful.constitution.yaml'), path.join(dir, 'harmless-helpful.constitution.yaml'));
  return dir;
}
