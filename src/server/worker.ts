import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { ConstitutionWorkspace, type AnalysisOptions } from '../core/constitution/resolve.js';
import { readFileOrUndefined, resolveInclude } from './files.js';
import type { FromWorker, ToWorker } from './workerProtocol.js';

/** The diagnostics worker: resolves files on request, newest text only. */
const port = parentPort;
if (!port) throw new Error('worker.ts runs as a worker thread');

const open = new Map<string, { version: number | null; text: string }>();
let roots: string[] = [];
let options: AnalysisOptions = {};

const display = (file: string) => {
  for (const r of roots) {
    const rel = path.relative(r, file);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
  }
  return path.basename(file);
};
const ws = new ConstitutionWorkspace({ read: (f) => open.get(f)?.text ?? readFileOrUndefined(f), resolve: resolveInclude, display });

const pending = new Set<string>();
let scheduled = false;

function drain(): void {
  scheduled = false;
  for (const file of [...pending]) {
    pending.delete(file);
    const t = performance.now();
    const res = ws.resolve(file, options);
    const msg: FromWorker = {
      kind: 'diagnostics',
      file,
      version: open.get(file)?.version ?? null,
      diagnostics: res?.diagnostics ?? [],
      files: res ? [...res.files.keys()] : [file],
      elapsedMs: performance.now() - t,
    };
    port?.postMessage(msg);
    // let newer messages in before the next file
    if (pending.size) return schedule();
  }
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(drain);
}

port.on('message', (m: ToWorker) => {
  switch (m.kind) {
    case 'configure':
      roots = m.roots;
      options = m.options;
      break;
    case 'sync':
      if (m.text === null) open.delete(m.file);
      else open.set(m.file, { version: m.version, text: m.text });
      ws.forget(m.file);
      break;
    case 'invalidate':
      ws.forget(m.file);
      break;
    case 'validate':
      pending.add(m.file);
      schedule();
      break;
  }
});
