// CodeLenses on a constitution's principles and comparisons: the statistics of each in the latest
// run of the workspace that used this constitution ("312 labels · mean confidence 0.71 · flips 9 %"),
// and "Try on sample prompts". Runs are found by their manifest.json; their pairs.jsonl and
// revisions.jsonl are read incrementally (only what was appended since) and kept per run, and
// watchers refresh both while a run trains. Nothing is searched or read before a constitution is
// shown. Ids and their places come from the project's own parser (analyzeFile), not from patterns.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { analyzeFile } from '../../core/constitution/validate.js';
import { LabelStatsAccumulator, principleLensText, RoundStatsAccumulator } from '../../core/runs/inline.js';
import { scanJsonl } from '../../node/runReader.js';
import type { CommandId } from '../../protocol/commands.js';
import { log } from '../log.js';
import { SHOW_CRITIQUES_COMMAND, SHOW_PAIRS_COMMAND } from './jsonlInspection.js';

/** Runs one critique → revision (principle) or one label (comparison) on sample prompts: arguments `[constitutionUri, principleId]`. */
export const TRY_PRINCIPLE_COMMAND: CommandId = 'constitution.tryPrinciple';

/** What the lenses need of a run's manifest (never its snapshot). */
export interface RunSummary {
  runDir: string;
  runId: string;
  /** Milliseconds since the epoch (updatedAt, else createdAt, else 0). */
  updated: number;
  updatedAt: string;
  /** Where the run's constitution may be: `constitution.path` resolved every way it may have been meant. */
  constitutionPaths: string[];
  sha256: string | undefined;
}

const samePath = (a: string, b: string) => {
  const n = (p: string) => (process.platform === 'win32' || process.platform === 'darwin' ? path.normalize(p).toLowerCase() : path.normalize(p));
  return n(a) === n(b);
};

/**
 * Reads what the lenses need from a manifest, or undefined when the file is not a run manifest.
 * `constitution.path` is as the run file gave it: absolute, or relative to the run file's folder
 * (`configFile`'s, itself absolute or relative to where the run started; by default the run
 * directory sits in `runs/` beside the run file).
 */
export function summarizeManifest(runDir: string, value: unknown, workspaceDir?: string): RunSummary | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  const c = m['constitution'] as Record<string, unknown> | undefined;
  if (typeof m['runId'] !== 'string' || typeof m['stages'] !== 'object' || typeof c !== 'object' || c === null || typeof c['path'] !== 'string') return undefined;
  const cPath = c['path'];
  const candidates: string[] = [];
  if (path.isAbsolute(cPath)) candidates.push(cPath);
  else {
    const bases: string[] = [];
    const cfg = m['configFile'];
    if (typeof cfg === 'string' && cfg !== '') {
      if (path.isAbsolute(cfg)) bases.push(path.dirname(cfg));
      else {
        bases.push(path.dirname(path.resolve(path.dirname(path.dirname(runDir)), cfg)));
        if (workspaceDir) bases.push(path.dirname(path.resolve(workspaceDir, cfg)));
      }
    }
    bases.push(path.dirname(path.dirname(runDir)));
    for (const b of bases) candidates.push(path.resolve(b, cPath));
  }
  const stamp = typeof m['updatedAt'] === 'string' ? m['updatedAt'] : typeof m['createdAt'] === 'string' ? m['createdAt'] : '';
  const t = Date.parse(stamp);
  return {
    runDir,
    runId: m['runId'],
    updated: Number.isFinite(t) ? t : 0,
    updatedAt: stamp,
    constitutionPaths: [...new Set(candidates)],
    sha256: typeof c['sha256'] === 'string' ? c['sha256'] : undefined,
  };
}

/** The newest run whose constitution is this file (by path; else by the SHA-256 of its text, for runs copied from elsewhere). */
export function latestRunFor(runs: Iterable<RunSummary>, file: string, sha256: string): RunSummary | undefined {
  let byPath: RunSummary | undefined;
  let bySha: RunSummary | undefined;
  for (const r of runs) {
    if (r.constitutionPaths.some((p) => samePath(p, file))) {
      if (!byPath || r.updated > byPath.updated) byPath = r;
    } else if (r.sha256 === sha256 && (!bySha || r.updated > bySha.updated)) bySha = r;
  }
  return byPath ?? bySha;
}

/**
 * The extension's own index of runs (src/extension/runs/runIndex.ts), when it is shared with the
 * lenses: they then neither search nor watch manifests themselves.
 */
export interface SharedRunIndex {
  /** Finds the runs the first time; resolves when they are known. */
  ready(): Promise<void>;
  all(): Iterable<{ dir: string; manifest?: unknown }>;
  readonly onDidChange: vscode.Event<void>;
}

/** Where the lenses learn of runs. */
interface RunSource extends vscode.Disposable {
  /** Starts finding runs (once). */
  ensure(): void;
  readonly isReady: boolean;
  all(): Iterable<RunSummary>;
}

/** Runs from the shared index, summarised once per change. */
class SharedRuns implements RunSource {
  private summaries: RunSummary[] = [];
  private loaded = false;
  private started = false;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly shared: SharedRunIndex,
    private readonly onChange: () => void,
    private readonly onRunGone: (runDir: string) => void,
  ) {
    this.subscription = shared.onDidChange(() => {
      if (this.loaded) this.refresh();
    });
  }

  ensure(): void {
    if (this.started) return;
    this.started = true;
    void this.shared.ready().then(
      () => {
        this.loaded = true;
        this.refresh();
      },
      (e: Error) => log.warn(`Finding runs: ${e.message}`),
    );
  }

  private refresh(): void {
    const before = new Set(this.summaries.map((s) => s.runDir));
    this.summaries = [];
    for (const e of this.shared.all()) {
      const s = e.manifest ? summarizeManifest(e.dir, e.manifest, vscode.workspace.getWorkspaceFolder(vscode.Uri.file(e.dir))?.uri.fsPath) : undefined;
      if (s) {
        this.summaries.push(s);
        before.delete(s.runDir);
      }
    }
    for (const gone of before) this.onRunGone(gone);
    this.onChange();
  }

  get isReady(): boolean {
    return this.loaded;
  }

  all(): Iterable<RunSummary> {
    return this.summaries;
  }

  dispose(): void {
    this.subscription.dispose();
  }
}

/** The workspace's run directories, found by manifest.json and kept current by a watcher. */
class RunIndex implements RunSource {
  private readonly runs = new Map<string, RunSummary>();
  private ready: Promise<void> | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private disposed = false;

  constructor(
    private readonly onChange: () => void,
    private readonly onRunGone: (runDir: string) => void,
  ) {}

  private loaded = false;

  /** Starts the search the first time (watching manifests from then on). */
  ensure(): void {
    void this.search();
  }

  private search(): Promise<void> {
    if (!this.ready) {
      const watcher = vscode.workspace.createFileSystemWatcher('**/manifest.json');
      this.subscriptions.push(
        watcher,
        watcher.onDidCreate((u) => this.later(u)),
        watcher.onDidChange((u) => this.later(u)),
        watcher.onDidDelete((u) => {
          const dir = path.dirname(u.fsPath);
          if (this.runs.delete(dir)) {
            this.onRunGone(dir);
            this.onChange();
          }
        }),
      );
      this.ready = (async () => {
        try {
          const found = await vscode.workspace.findFiles('**/manifest.json', '**/node_modules/**');
          await Promise.all(found.map((u) => this.read(u)));
        } catch (e) {
          log.warn(`Finding runs: ${(e as Error).message}`);
        }
        this.loaded = true;
        this.onChange();
      })();
    }
    return this.ready;
  }

  /** True once the first search is done. */
  get isReady(): boolean {
    return this.loaded;
  }

  all(): Iterable<RunSummary> {
    return this.runs.values();
  }

  private later(u: vscode.Uri): void {
    const key = u.fsPath;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.read(u).then(() => this.onChange());
      }, 500),
    );
  }

  private async read(u: vscode.Uri): Promise<void> {
    if (this.disposed || u.scheme !== 'file') return;
    const dir = path.dirname(u.fsPath);
    try {
      const value: unknown = JSON.parse(await fs.promises.readFile(u.fsPath, 'utf8'));
      const s = summarizeManifest(dir, value, vscode.workspace.getWorkspaceFolder(u)?.uri.fsPath);
      if (s) this.runs.set(dir, s);
      else this.runs.delete(dir);
    } catch {
      // not JSON, or being rewritten (manifests are renamed into place, so the next event reads it whole)
    }
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    for (const s of this.subscriptions) s.dispose();
  }
}

/** One run's label and round statistics, read incrementally from its pairs.jsonl and revisions.jsonl. */
class RunStats {
  labels = new LabelStatsAccumulator();
  rounds = new RoundStatsAccumulator();
  private readonly pos = { pairs: { end: 0, lines: 0 }, revisions: { end: 0, lines: 0 } };
  loaded = false;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly abort = new AbortController();

  constructor(readonly runDir: string) {}

  /** Reads what was appended since the last update (from the start when a file shrank); one update at a time. */
  update(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.read('pairs');
        await this.read('revisions');
        this.loaded = true;
      } while (this.again && !this.abort.signal.aborted);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async read(which: 'pairs' | 'revisions'): Promise<void> {
    const file = path.join(this.runDir, `${which}.jsonl`);
    const pos = this.pos[which];
    const size = await fs.promises.stat(file).then((st) => st.size, () => 0);
    if (size < pos.end || (size === 0 && pos.end > 0)) {
      pos.end = 0;
      pos.lines = 0;
      if (which === 'pairs') this.labels = new LabelStatsAccumulator();
      else this.rounds = new RoundStatsAccumulator();
    }
    if (size <= pos.end) return;
    const acc = which === 'pairs' ? this.labels : this.rounds;
    const r = await scanJsonl(file, (batch) => {
      for (const x of batch) acc.add(x.record);
    }, { from: pos.end, lineBase: pos.lines, signal: this.abort.signal });
    pos.end = r.end;
    pos.lines = r.lines;
  }

  dispose(): void {
    this.abort.abort();
  }
}

interface Analysis {
  version: number;
  sha256: string;
  items: Array<{ id: string; kind: 'principle' | 'comparison'; line: number }>;
}

export class ConstitutionLens implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly index: RunSource;
  private readonly stats = new Map<string, RunStats>();
  private readonly analyses = new Map<string, Analysis>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private watching = false;
  private disposed = false;

  /** `shared`: the extension's run index, to use instead of searching and watching manifests here. */
  constructor(shared?: SharedRunIndex) {
    const changed = () => this.fire();
    const gone = (dir: string) => {
      this.stats.get(dir)?.dispose();
      this.stats.delete(dir);
    };
    this.index = shared ? new SharedRuns(shared, changed, gone) : new RunIndex(changed, gone);
    this.subscriptions.push(
      this.changed,
      this.index,
      vscode.workspace.onDidCloseTextDocument((d) => this.analyses.delete(d.uri.toString())),
    );
  }

  private fire(): void {
    if (!this.disposed) this.changed.fire();
  }

  /** Watches the runs' record files once lenses are first asked for. */
  private watch(): void {
    if (this.watching) return;
    this.watching = true;
    const w = vscode.workspace.createFileSystemWatcher('**/{pairs,revisions}.jsonl');
    const touched = (u: vscode.Uri) => {
      const dir = path.dirname(u.fsPath);
      if (!this.stats.has(dir)) return;
      clearTimeout(this.timers.get(dir));
      this.timers.set(
        dir,
        setTimeout(() => {
          this.timers.delete(dir);
          void this.stats.get(dir)?.update().then(() => this.fire(), (e: Error) => log.warn(`Reading ${dir}: ${e.message}`));
        }, 1000),
      );
    };
    this.subscriptions.push(w, w.onDidCreate(touched), w.onDidChange(touched), w.onDidDelete(touched));
  }

  private analyze(doc: vscode.TextDocument): Analysis {
    const key = doc.uri.toString();
    const cached = this.analyses.get(key);
    if (cached && cached.version === doc.version) return cached;
    const text = doc.getText();
    const model = analyzeFile(doc.uri.fsPath, text).model;
    const items: Analysis['items'] = [];
    for (const d of model.definitions) {
      if (d.kind === 'principle' || d.kind === 'comparison') items.push({ id: d.id, kind: d.kind, line: doc.positionAt(d.itemSpan.start).line });
    }
    const a = { version: doc.version, sha256: createHash('sha256').update(text).digest('hex'), items };
    this.analyses.set(key, a);
    return a;
  }

  /** The statistics of a run, starting to read them the first time (lenses refresh when they arrive). */
  private statsOf(runDir: string): RunStats {
    let s = this.stats.get(runDir);
    if (!s) {
      const created = new RunStats(runDir);
      this.stats.set(runDir, created);
      void created.update().then(() => this.fire(), (e: Error) => log.warn(`Reading ${runDir}: ${e.message}`));
      s = created;
    }
    return s;
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const lenses: vscode.CodeLens[] = [];
    try {
      const a = this.analyze(doc);
      if (a.items.length === 0) return lenses;
      this.watch();
      this.index.ensure();
      const run = this.index.isReady ? latestRunFor(this.index.all(), doc.uri.fsPath, a.sha256) : undefined;
      const stats = run ? this.statsOf(run.runDir) : undefined;
      for (const item of a.items) {
        const range = new vscode.Range(item.line, 0, item.line, 0);
        if (run && stats) {
          if (!stats.loaded) lenses.push(new vscode.CodeLens(range, { title: 'statistics loading…', command: '' }));
          else {
            const labels = stats.labels.get(item.id);
            const rounds = stats.rounds.get(item.id);
            const title = principleLensText(item.kind, labels, rounds);
            const from = `From run ${run.runId}${run.updatedAt ? ` (updated ${run.updatedAt})` : ''}, the latest in this workspace that used this constitution.`;
            if (labels && labels.labels > 0) {
              const tooltip = `${from} Mean confidence: the mean of max(p, 1 − p) over the labels. Flips: the share of the labels asked in both orders whose preferred position changed with the swap (judged by content, not position). Click to open the run's pairs.`;
              lenses.push(new vscode.CodeLens(range, { title, tooltip, command: SHOW_PAIRS_COMMAND, arguments: [run.runDir, { principle: item.id }] }));
            } else if (rounds && rounds.rounds > 0) {
              lenses.push(new vscode.CodeLens(range, { title, tooltip: `${from} Click to open the run's critiques.`, command: SHOW_CRITIQUES_COMMAND, arguments: [run.runDir, { principle: item.id }] }));
            } else lenses.push(new vscode.CodeLens(range, { title, tooltip: from, command: '' }));
          }
        }
        lenses.push(new vscode.CodeLens(range, {
          title: 'Try on sample prompts',
          tooltip: item.kind === 'principle' ? 'Run one critique → revision with this principle and the configured provider' : 'Label one pair with this comparison and the configured provider',
          command: TRY_PRINCIPLE_COMMAND,
          arguments: [doc.uri.toString(), item.id],
        }));
      }
    } catch (e) {
      log.warn(`CodeLenses for ${doc.uri.fsPath}: ${(e as Error).message}`);
    }
    return lenses;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    for (const s of this.stats.values()) s.dispose();
    this.stats.clear();
    for (const s of this.subscriptions) s.dispose();
  }
}
