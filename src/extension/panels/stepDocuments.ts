import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RevisionRecord } from '../../core/runs/records.js';
import { isStepKey, normaliseRevision, stepLabel, stepText } from '../../core/runs/revisions.js';
import { readRecordAt, resolveInRun, runFolderKind, scanJsonl } from '../../node/runReader.js';

/**
 * Read-only documents for the steps of a critique → revision chain, so that VS Code's own diff
 * editor can compare any two of them (the Critiques panel opens `vscode.diff` on two such URIs).
 *
 * `constitution-step:/<run folder name>/<record id>/<step>.txt?run=<run dir>&id=<record id>&step=<step>[&offset=<byte offset>]`
 *
 * The query names the run directory (absolute), the record's id in its revisions.jsonl and the
 * step key (`initial`, `critique-N`, `revision-N`, `final`); `offset` is a hint where the
 * record's line starts (checked against the id; the file is searched when it does not match).
 * The provider only ever reads `revisions.jsonl` of a folder that is a run directory.
 */
export const STEP_SCHEME = 'constitution-step';
const FILE = 'revisions.jsonl';

export function stepUri(runDir: string, id: string, step: string, offset?: number): vscode.Uri {
  const q = new URLSearchParams({ run: runDir, id, step });
  if (offset !== undefined) q.set('offset', String(offset));
  const seg = (s: string) => s.replace(/[/\\?#%]/g, '_');
  return vscode.Uri.from({ scheme: STEP_SCHEME, path: `/${seg(path.basename(runDir))}/${seg(id)}/${seg(step)}.txt`, query: q.toString() });
}

/** Where the record is, and the record, for a run dir and id; remembers offsets it found. */
class RecordFinder {
  /** Recently used: run dir → (id → offset). */
  private readonly offsets = new Map<string, Map<string, number>>();

  async find(runDir: string, id: string, hint: number | undefined, token: vscode.CancellationToken): Promise<RevisionRecord> {
    if (runFolderKind(runDir) !== 'run') throw new Error(`${runDir} is not a run directory`);
    const file = resolveInRun(runDir, FILE);
    const known = this.offsets.get(runDir)?.get(id) ?? hint;
    if (known !== undefined) {
      const r = await readRecordAt(file, known).then(normaliseRevision, () => undefined);
      if (r?.id === id) return r;
    }
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    let found: number | undefined;
    try {
      await scanJsonl<{ id?: unknown }>(
        file,
        (batch) => {
          for (const b of batch) {
            if (b.record.id === id) {
              found = b.offset;
              ac.abort();
              return;
            }
          }
        },
        { signal: ac.signal },
      );
    } finally {
      sub.dispose();
    }
    if (found === undefined) throw new Error(`${FILE} of ${path.basename(runDir)} has no record ${id}`);
    let m = this.offsets.get(runDir);
    if (!m) {
      if (this.offsets.size >= 8) this.offsets.delete(this.offsets.keys().next().value as string);
      this.offsets.set(runDir, (m = new Map()));
    }
    m.set(id, found);
    const r = normaliseRevision(await readRecordAt(file, found));
    if (!r) throw new Error(`${FILE}: record ${id} is not a revision record`);
    return r;
  }
}

class StepDocuments implements vscode.TextDocumentContentProvider {
  private readonly finder = new RecordFinder();

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    const q = new URLSearchParams(uri.query);
    const run = q.get('run');
    const id = q.get('id');
    const step = q.get('step');
    const off = q.get('offset');
    if (!run || !path.isAbsolute(run) || !id || !isStepKey(step)) throw new Error(`${uri.toString()}: not a critique step (run, id and step are needed)`);
    const hint = off !== null && /^\d{1,15}$/.test(off) ? Number(off) : undefined;
    const rec = await this.finder.find(run, id, hint, token);
    const t = stepText(rec, step);
    if (t === undefined) throw new Error(`record ${id} has no step "${stepLabel(step)}"`);
    return t;
  }
}

/** Registers the `constitution-step:` documents (call once at activation); disposed with the extension. */
export function registerStepDocuments(context: vscode.ExtensionContext): vscode.Disposable {
  const d = vscode.workspace.registerTextDocumentContentProvider(STEP_SCHEME, new StepDocuments());
  context.subscriptions.push(d);
  return d;
}

/** A diff editor tab title: one line, at most ~100 characters. */
export function diffTitle(prompt: string, left: string, right: string): string {
  const p = prompt.replace(/\s+/g, ' ').trim();
  const short = p.length > 48 ? `${p.slice(0, 47)}…` : p;
  return `${short ? `${short}: ` : ''}${stepLabel(left)} ↔ ${stepLabel(right)}`;
}
