import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Manifest } from '../../core/runs/records.js';
import { readManifest, runFolderKind, runStatus, type RunFolderKind, type RunStatus } from '../../node/runReader.js';
import { log } from '../log.js';

/** A run the extension knows of: one of ours (a folder with manifest.json) or a TRL output folder. */
export interface RunEntry {
  dir: string;
  kind: RunFolderKind;
  /** The run id, or the folder name of a TRL run. */
  name: string;
  manifest?: Manifest;
  status: RunStatus | 'trl' | 'unreadable';
  /** Milliseconds since the epoch: the manifest's updatedAt, else the folder's mtime. */
  updated: number;
  /** Why the manifest could not be read. */
  error?: string;
}

const OPENED_KEY = 'constitution.openedRuns';
const EXCLUDE = '{**/node_modules/**,**/.git/**,**/.vscode-test/**}';

/**
 * Every run in the workspace, found by its manifest.json (or TRL's trainer_state.json), plus run
 * folders opened from elsewhere with "Open Run…" (remembered per workspace). Kept current by a
 * file watcher; the runs view and the panel commands read it.
 */
export class RunIndex implements vscode.Disposable {
  private readonly runs = new Map<string, RunEntry>();
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private scanned = false;

  constructor(private readonly context: vscode.ExtensionContext) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/{manifest.json,trainer_state.json}');
    const changed = (uri: vscode.Uri) => this.touch(path.dirname(uri.fsPath));
    this.disposables.push(
      watcher,
      watcher.onDidCreate(changed),
      watcher.onDidChange(changed),
      watcher.onDidDelete(changed),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.refresh()),
      this.emitter,
    );
  }

  /** Finds the runs once (first use), then the watcher keeps them current. */
  async ready(): Promise<void> {
    if (!this.scanned) await this.refresh();
  }

  /** Looks for runs again everywhere. */
  refresh(): Promise<void> {
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scan(): Promise<void> {
    const found = new Set<string>();
    const [manifests, states] = await Promise.all([
      vscode.workspace.findFiles('**/manifest.json', EXCLUDE, 5000),
      vscode.workspace.findFiles('**/trainer_state.json', EXCLUDE, 5000),
    ]);
    for (const u of manifests) found.add(path.dirname(u.fsPath));
    for (const u of states) {
      const dir = path.dirname(u.fsPath);
      // TRL writes trainer_state.json into checkpoint-N folders; the run is their parent
      found.add(/^checkpoint-\d+$/.test(path.basename(dir)) ? path.dirname(dir) : dir);
    }
    for (const d of this.context.workspaceState.get<string[]>(OPENED_KEY, [])) found.add(d);
    this.runs.clear();
    for (const d of found) {
      const e = this.read(d);
      if (e) this.runs.set(d, e);
    }
    this.scanned = true;
    this.emitter.fire();
  }

  /** A run folder changed (its manifest was written): read it again, soon. */
  touch(dir: string): void {
    const d = /^checkpoint-\d+$/.test(path.basename(dir)) ? path.dirname(dir) : dir;
    const e = this.read(d);
    if (e) this.runs.set(d, e);
    else this.runs.delete(d);
    if (this.timer) return;
    // manifests are rewritten often while training: one view update per 250 ms at most
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.emitter.fire();
    }, 250);
  }

  /** Adds a run folder from anywhere (Open Run…); remembered for this workspace. */
  async add(dir: string): Promise<RunEntry | undefined> {
    const e = this.read(dir);
    if (!e) return undefined;
    this.runs.set(dir, e);
    const opened = new Set(this.context.workspaceState.get<string[]>(OPENED_KEY, []));
    if (!this.isInWorkspace(dir)) {
      opened.add(dir);
      await this.context.workspaceState.update(OPENED_KEY, [...opened]);
    }
    this.emitter.fire();
    return e;
  }

  private isInWorkspace(dir: string): boolean {
    return (vscode.workspace.workspaceFolders ?? []).some((f) => dir === f.uri.fsPath || dir.startsWith(f.uri.fsPath + path.sep));
  }

  get(dir: string): RunEntry | undefined {
    return this.runs.get(dir);
  }

  /** Newest first. */
  all(): RunEntry[] {
    return [...this.runs.values()].sort((a, b) => b.updated - a.updated);
  }

  private read(dir: string): RunEntry | undefined {
    const kind = runFolderKind(dir);
    if (!kind) return undefined;
    const mtime = (): number => {
      try {
        return fs.statSync(dir).mtimeMs;
      } catch {
        return 0;
      }
    };
    if (kind === 'trl') {
      // a cluster run's pulled output: its run folder (the parent) already shows it
      if (path.basename(dir) === 'artifacts' && fs.existsSync(path.join(path.dirname(dir), 'manifest.json'))) return undefined;
      return { dir, kind, name: path.basename(dir), status: 'trl', updated: mtime() };
    }
    try {
      const m = readManifest(dir);
      if (!m) return undefined;
      const updated = Date.parse(m.updatedAt ?? '') || mtime();
      return { dir, kind, name: m.runId || path.basename(dir), manifest: m, status: runStatus(m), updated };
    } catch (e) {
      // Any project may hold a manifest.json of its own (web apps, browser extensions): only a
      // folder that also has a run's event log is a run whose manifest could not be read.
      if (!fs.existsSync(path.join(dir, 'events.jsonl'))) return undefined;
      log.warn(`${dir}: ${(e as Error).message}`);
      return { dir, kind, name: path.basename(dir), status: 'unreadable', updated: mtime(), error: (e as Error).message };
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
