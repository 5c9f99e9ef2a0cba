import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { evalSummary, normaliseEvalAnswer, normalisePpoSample, StepStats, type EvalAnswer, type EvalSummary } from '../../core/runs/compare.js';
import { EVAL, JsonlTail, readEval, resolveInRun, runFolderKind } from '../../node/runReader.js';
import type { CompareHostToPage, ComparePageToHost, CompareRunInfo, CompareSummaryMessage } from '../../protocol/panels/compare.js';
import type { PanelServices, RunPanelKind } from './registry.js';
import { createRunWebviewPanel, restoreOrDispose, RunPanel, runDirsOf, runName, warnBadLines } from './runPanel.js';

export const COMPARE_VIEW_TYPE = 'constitution.compare';
const SAMPLES = 'samples.jsonl';
/** How often eval.json is checked for a rewrite. */
const EVAL_POLL_MS = 2000;
const ANSWERS_PER_MESSAGE = 1000;

/** One run's state on the host side. */
class RunSide {
  readonly answers: EvalAnswer[] = [];
  readonly ids = new Set<string>();
  readonly ppo = new StepStats();
  loaded = false;
  summary: EvalSummary | null = null;
  error: string | undefined;
  evalMtime = -1;
  tail: JsonlTail | undefined;

  constructor(
    readonly dir: string,
    readonly name: string,
  ) {}

  /** Reads eval.json again when it changed; true when it did. */
  refreshEval(): boolean {
    let mtime: number;
    try {
      mtime = fs.statSync(resolveInRun(this.dir, EVAL)).mtimeMs;
    } catch {
      mtime = 0;
    }
    if (mtime === this.evalMtime) return false;
    this.evalMtime = mtime;
    try {
      const e = readEval(this.dir);
      this.summary = e === undefined ? null : evalSummary(e);
      this.error = undefined;
    } catch (e) {
      this.summary = null;
      this.error = (e as Error).message;
    }
    return true;
  }

  summaryMessage(run: number): CompareSummaryMessage {
    const all = this.ppo.summaries();
    const last = all[all.length - 1];
    return {
      type: 'compare/summary',
      payload: {
        run,
        summary: this.summary,
        ...(this.error !== undefined ? { error: this.error } : {}),
        ppo: { steps: all.length, lastStep: last?.step ?? null, lastMean: last && Number.isFinite(last.mean) ? last.mean : null },
      },
    };
  }
}

/** Names that tell runs apart: the run id, with the parent folder where two runs share one. */
function runInfos(dirs: readonly string[]): CompareRunInfo[] {
  const names = dirs.map(runName);
  return dirs.map((runDir, i) => {
    const n = names[i]!;
    return { runDir, name: names.filter((x) => x === n).length > 1 ? `${n} (${path.basename(path.dirname(runDir))}/#${i + 1})` : n };
  });
}

/**
 * "Compare runs": the evaluation answers of two or more runs joined by prompt (the page joins
 * them with core/runs/compare.ts), each run's eval.json summary, followed while they train.
 */
class ComparePanel extends RunPanel<CompareHostToPage, ComparePageToHost> {
  private readonly runs: RunSide[];
  private timer: NodeJS.Timeout | undefined;

  static show(services: PanelServices, runDirs: string[]): void {
    if (ComparePanel.revealOpen(runDirs.join('\n'))) return;
    new ComparePanel(createRunWebviewPanel(COMPARE_VIEW_TYPE, 'Compare Runs'), services, runDirs);
  }

  constructor(panel: vscode.WebviewPanel, services: PanelServices, runDirs: string[]) {
    super(panel, services, { key: runDirs.join('\n'), bundle: 'compare', title: 'Compare Runs' });
    const infos = runInfos(runDirs);
    this.runs = infos.map((r) => new RunSide(r.runDir, r.name));
    panel.title = `Compare: ${infos.map((r) => r.name).join(' · ')}`;
    this.disposables.push(
      { dispose: () => this.runs.forEach((r) => r.tail?.dispose()) },
      { dispose: () => this.timer && clearInterval(this.timer) },
    );
    this.runs.forEach((r, i) => {
      r.refreshEval();
      this.startTail(r, i);
    });
    this.timer = setInterval(() => {
      this.runs.forEach((r, i) => {
        if (r.refreshEval() && this.listening) this.post(r.summaryMessage(i));
      });
    }, EVAL_POLL_MS);
    this.timer.unref?.();
  }

  private startTail(r: RunSide, run: number): void {
    let ppoChanged = false;
    r.tail = new JsonlTail(
      resolveInRun(r.dir, SAMPLES),
      (batch) => {
        const fresh: EvalAnswer[] = [];
        for (const b of batch) {
          const a = normaliseEvalAnswer(b.record);
          if (a) {
            if (r.ids.has(a.id)) continue;
            r.ids.add(a.id);
            r.answers.push(a);
            fresh.push(a);
            continue;
          }
          const s = normalisePpoSample(b.record);
          if (s && !r.ids.has(s.id)) {
            r.ids.add(s.id);
            r.ppo.add(s);
            ppoChanged = true;
          }
        }
        if (!this.listening) return;
        if (fresh.length) this.post({ type: 'compare/answers', payload: { run, answers: fresh, loaded: r.loaded } });
        if (ppoChanged && r.loaded) this.post(r.summaryMessage(run));
        ppoChanged = false;
      },
      {
        onReset: () => {
          r.answers.length = 0;
          r.ids.clear();
          if (this.listening) this.post({ type: 'compare/reset', payload: { run } });
        },
        onBad: (bad) => warnBadLines(SAMPLES, r.dir, bad),
      },
    );
    r.tail.start().then(
      () => {
        r.loaded = true;
        if (!this.listening) return;
        this.post({ type: 'compare/answers', payload: { run, answers: [], loaded: true } });
        this.post(r.summaryMessage(run));
      },
      (e: Error) => this.post({ type: 'compare/error', payload: { run, message: `${r.name}: ${SAMPLES}: ${e.message}` } }),
    );
  }

  protected override onReady(): void {
    super.onReady();
    this.post({ type: 'compare/init', payload: { runs: this.runs.map((r) => ({ runDir: r.dir, name: r.name })) } });
    this.runs.forEach((r, run) => {
      this.post(r.summaryMessage(run));
      for (let i = 0; i < r.answers.length || i === 0; i += ANSWERS_PER_MESSAGE) {
        this.post({ type: 'compare/answers', payload: { run, answers: r.answers.slice(i, i + ANSWERS_PER_MESSAGE), loaded: r.loaded && i + ANSWERS_PER_MESSAGE >= r.answers.length } });
      }
    });
  }

  protected parse(_m: { type: string } & Record<string, unknown>): ComparePageToHost | undefined {
    // The page sends nothing but `ready` (handled by the base class).
    return undefined;
  }

  protected onMessage(_m: ComparePageToHost): void {}
}

export const comparePanel: RunPanelKind = {
  viewType: COMPARE_VIEW_TYPE,
  /** One panel for all the runs given (two or more; the same set reveals the panel already open). */
  show(services, runDirs) {
    const dirs = [...new Set(runDirs)];
    const bad = dirs.filter((d) => runFolderKind(d) !== 'run');
    if (bad.length) {
      void vscode.window.showErrorMessage(`Compare Runs: not a run directory (no manifest.json): ${bad.join(', ')}`);
      return;
    }
    if (dirs.length < 2) {
      void vscode.window.showErrorMessage('Compare Runs: choose two or more runs.');
      return;
    }
    ComparePanel.show(services, dirs);
  },
  restore(services, panel, state) {
    const dirs = runDirsOf(state);
    restoreOrDispose(panel, dirs && dirs.length >= 2 ? dirs : undefined, (d) => new ComparePanel(panel, services, d));
  },
};
