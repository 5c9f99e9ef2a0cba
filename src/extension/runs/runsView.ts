import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { STAGE_NAMES } from '../../core/runs/config.js';
import type { StageState } from '../../core/runs/records.js';
import { isTerminalStatus } from '../../core/scaleout/clusters.js';
import { describe, type RunController } from '../training/runController.js';
import type { RunEntry, RunIndex } from './runIndex.js';

/** What the view shows of runs on a cluster (src/extension/runs/remoteRuns.ts). */
export interface RemoteFollowing {
  isFollowing(dir: string): boolean;
  problem(dir: string): string | undefined;
  readonly onDidChange: vscode.Event<void>;
}

/** A node of the runs view. */
export type RunNode =
  | { kind: 'run'; run: RunEntry }
  | { kind: 'stage'; run: RunEntry; stage: string; state: StageState }
  | { kind: 'file'; run: RunEntry; rel: string; isDir: boolean };

/** The files a run folder may hold, in the order shown; only those present are listed. */
const ARTEFACTS = ['eval.json', 'revisions.jsonl', 'pairs.jsonl', 'reviews.jsonl', 'metrics.jsonl', 'samples.jsonl', 'events.jsonl', 'driver.log', 'manifest.json', 'models', 'checkpoints', 'job', 'artifacts'];

const STAGE_LABELS: Record<string, string> = {
  critique: 'Critique → revision',
  sft: 'SL-CAI finetune',
  pairs: 'Response pairs',
  feedback: 'AI feedback',
  pm: 'Preference model',
  ppo: 'PPO (RL-CAI)',
  eval: 'Evaluation',
};

/**
 * "Runs" in the Constitution Studio activity bar: every run with its live status, its stages and
 * its files, with context actions (panels, stop, resume, reveal, export). Updates when a
 * manifest changes on disk and as the supervised run makes progress.
 */
export class RunsView implements vscode.TreeDataProvider<RunNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<RunNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  readonly tree: vscode.TreeView<RunNode>;

  constructor(
    private readonly index: RunIndex,
    private readonly controller: RunController,
    private readonly remote?: RemoteFollowing,
  ) {
    this.tree = vscode.window.createTreeView('constitution.runs', { treeDataProvider: this, showCollapseAll: true, canSelectMany: true });
    this.disposables.push(
      this.tree,
      this.emitter,
      index.onDidChange(() => this.emitter.fire(undefined)),
      controller.onDidChange(() => this.emitter.fire(undefined)),
      ...(remote ? [remote.onDidChange(() => this.emitter.fire(undefined))] : []),
      this.tree.onDidChangeVisibility((e) => e.visible && void index.ready()),
    );
  }

  /** The run selected in the view, if any. */
  selectedRun(): RunEntry | undefined {
    const n = this.tree.selection[0];
    return n?.run;
  }

  async reveal(dir: string): Promise<void> {
    const run = this.index.get(dir);
    if (run && this.tree.visible) await this.tree.reveal({ kind: 'run', run }, { select: true, focus: false });
  }

  async getChildren(node?: RunNode): Promise<RunNode[]> {
    if (!node) {
      await this.index.ready();
      return this.index.all().map((run) => ({ kind: 'run', run }));
    }
    if (node.kind !== 'run') return [];
    const run = this.index.get(node.run.dir) ?? node.run;
    const out: RunNode[] = [];
    if (run.manifest) {
      for (const s of STAGE_NAMES) {
        const state = run.manifest.stages?.[s];
        if (state && state.status !== 'skipped') out.push({ kind: 'stage', run, stage: s, state });
      }
    }
    for (const rel of run.kind === 'trl' ? ['trainer_state.json'] : ARTEFACTS) {
      try {
        const st = fs.statSync(path.join(run.dir, rel));
        out.push({ kind: 'file', run, rel, isDir: st.isDirectory() });
      } catch {
        // not there (yet)
      }
    }
    return out;
  }

  getParent(node: RunNode): RunNode | undefined {
    return node.kind === 'run' ? undefined : { kind: 'run', run: node.run };
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    switch (node.kind) {
      case 'run':
        return this.runItem(node.run);
      case 'stage': {
        const item = new vscode.TreeItem(STAGE_LABELS[node.stage] ?? node.stage, vscode.TreeItemCollapsibleState.None);
        const live = this.controller.isActive(node.run.dir) ? this.controller.active : undefined;
        const extra = Object.entries(node.state)
          .filter(([k, v]) => !['status', 'startedAt', 'finishedAt', 'seed', 'error'].includes(k) && (typeof v === 'number' || typeof v === 'string'))
          .map(([k, v]) => `${k} ${v}`)
          .join(' · ');
        item.description = live && live.stage === node.stage ? describe(live) : [node.state.status, extra].filter(Boolean).join(' · ');
        item.iconPath = stageIcon(node.state.status, live?.stage === node.stage);
        item.tooltip = node.state.error ? `${node.stage}: ${node.state.error}` : `${node.stage}: ${node.state.status}${node.state.finishedAt ? `, finished ${node.state.finishedAt}` : node.state.startedAt ? `, started ${node.state.startedAt}` : ''}`;
        item.contextValue = `stage.${node.stage}`;
        item.id = `${node.run.dir}#stage:${node.stage}`;
        return item;
      }
      case 'file': {
        const uri = vscode.Uri.file(path.join(node.run.dir, node.rel));
        const item = new vscode.TreeItem(uri, node.isDir ? vscode.TreeItemCollapsibleState.None : vscode.TreeItemCollapsibleState.None);
        item.label = node.rel;
        item.resourceUri = uri;
        item.iconPath = node.isDir ? vscode.ThemeIcon.Folder : vscode.ThemeIcon.File;
        item.contextValue = `file.${node.rel}`;
        item.id = `${node.run.dir}#file:${node.rel}`;
        if (!node.isDir) item.command = { command: 'vscode.open', title: 'Open', arguments: [uri, { preview: true }] };
        else item.command = { command: 'revealInExplorer', title: 'Reveal', arguments: [uri] };
        return item;
      }
    }
  }

  private runItem(run: RunEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(run.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = run.dir;
    const active = this.controller.isActive(run.dir);
    const live = active ? this.controller.active : undefined;
    const when = new Date(run.updated);
    const ago = relativeTime(run.updated);
    const job = run.manifest?.remote;
    const following = job !== undefined && this.remote?.isFollowing(run.dir) === true;
    const liveJob = job !== undefined && !isTerminalStatus(job.status);
    const problem = job ? this.remote?.problem(run.dir) : undefined;
    item.description = live
      ? describe(live)
      : job
        ? `${job.engine} ${job.stage} · ${job.status}${problem ? ' (not followed here)' : ''} on ${hostOf(job.cluster)} · ${ago}`
        : `${run.status === 'trl' ? 'TRL output' : run.status} · ${ago}`;
    const md = new vscode.MarkdownString(undefined, false);
    md.isTrusted = false;
    md.supportHtml = false;
    md.appendText(`${run.name}\n\n`);
    md.appendText(`Folder: ${run.dir}\n\n`);
    if (run.manifest) {
      md.appendText(`Run file: ${run.manifest.configFile}\n\nConstitution: ${run.manifest.constitution?.path ?? '?'}\n\n`);
      const b = run.manifest.backend;
      if (b?.used) md.appendText(`Backend: ${b.used}${b.adapter ? ` on ${b.adapter.description || b.adapter.device || b.adapter.vendor} (${b.adapter.software ? 'software' : 'hardware'} adapter)` : ''}\n\n`);
    }
    if (job) {
      md.appendText(`Cluster: ${job.cluster}${job.profile ? ` (${job.profile})` : ''}\n\nJob: ${job.submissionId}, ${job.status}${job.message ? `: ${job.message}` : ''}\n\n`);
      md.appendText(`Trained from: ${job.source.runId} (${job.stage}, ${job.engine})\n\n`);
      if (job.syncTarget) md.appendText(`Output: ${job.syncTarget}${job.pulledAt ? `, pulled ${new Date(job.pulledAt).toLocaleString()}` : ''}\n\n`);
      if (job.checkpoints?.length) md.appendText(`Checkpoints: ${job.checkpoints.map((c) => c.path).join(', ')}\n\n`);
      if (job.pullError) md.appendText(`Not pulled: ${job.pullError}\n\n`);
      if (problem) md.appendText(`Not followed: ${problem}\n\n`);
    }
    md.appendText(`Updated ${when.toLocaleString()}`);
    if (run.error) md.appendText(`\n\n${run.error}`);
    item.tooltip = md;
    item.iconPath = active || following ? new vscode.ThemeIcon(following ? 'cloud~spin' : 'sync~spin') : liveJob ? new vscode.ThemeIcon('cloud') : runIcon(run.status);
    // a run that is not done and not being supervised can be resumed (a cluster's run is followed instead)
    const resumable = run.kind === 'run' && !active && !job && run.manifest !== undefined && ['failed', 'stopped', 'running', 'pending'].includes(run.status);
    item.contextValue = `${run.kind}${active ? '.active' : ''}${resumable ? '.resumable' : ''}${job ? '.remote' : run.kind === 'run' ? '.submittable' : ''}${liveJob ? '.remoteLive' : ''}`;
    return item;
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function runIcon(status: RunEntry['status']): vscode.ThemeIcon {
  switch (status) {
    case 'done':
      return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'failed':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    case 'unreadable':
      return new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
    case 'running':
      // running on disk but not supervised here: another process, or a crash (resumable)
      return new vscode.ThemeIcon('debug-pause');
    case 'stopped':
      return new vscode.ThemeIcon('debug-pause');
    case 'trl':
      return new vscode.ThemeIcon('graph-line');
    default:
      return new vscode.ThemeIcon('circle-large-outline');
  }
}

function stageIcon(status: string, live: boolean): vscode.ThemeIcon {
  if (live) return new vscode.ThemeIcon('sync~spin');
  switch (status) {
    case 'done':
      return new vscode.ThemeIcon('check');
    case 'failed':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    case 'running':
      return new vscode.ThemeIcon('debug-pause');
    default:
      return new vscode.ThemeIcon('circle-small');
  }
}

function hostOf(address: string): string {
  try {
    return new URL(address).host;
  } catch {
    return address;
  }
}

function relativeTime(ms: number): string {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}
