import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { rowFromRecord, trlRows, type MetricRow } from '../../core/runs/metrics.js';
import { parsePmEval } from '../../core/runs/pmReport.js';
import { EVAL, JsonlTail, readJsonFile, resolveInRun, runFolderKind, trlTrainerState, type Located } from '../../node/runReader.js';
import { parseExportFile } from '../../protocol/panels/curves.js';
import type { PmReportEvalMessage, PmReportHostToPage, PmReportPageToHost, PmReportPanelState } from '../../protocol/panels/pmReport.js';
import { log } from '../log.js';
import { saveExport } from './curvesPanel.js';
import type { PanelServices, RunPanelKind } from './registry.js';
import { createRunWebviewPanel, RunPanel, runName } from './runPanel.js';

export const PM_REPORT_VIEW_TYPE = 'constitution.pmReport';
const METRICS = 'metrics.jsonl';
const ROWS_PER_MESSAGE = 5000;
const POLL_MS = 2000;

/**
 * "Preference model report" of one run: the PM's loss and accuracy while it trained (live), its
 * reliability diagram with the expected calibration error, accuracy against score difference
 * beside the logistic curve, and the Elo-equivalent differences of the policies it scored.
 * Refreshed when metrics.jsonl grows or eval.json is rewritten.
 */
class PmReportPanel extends RunPanel<PmReportHostToPage, PmReportPageToHost> {
  private readonly rows: MetricRow[] = [];
  private evalMessage: PmReportEvalMessage['payload'] = { report: null };
  private readonly kind: 'run' | 'trl';
  private readonly name: string;

  static show(services: PanelServices, runDir: string): void {
    const dir = path.resolve(runDir);
    if (PmReportPanel.revealOpen(dir)) return;
    new PmReportPanel(createRunWebviewPanel(PM_REPORT_VIEW_TYPE, 'Preference model'), services, dir);
  }

  constructor(panel: vscode.WebviewPanel, services: PanelServices, readonly runDir: string) {
    super(panel, services, { key: runDir, bundle: 'pmreport', title: 'Preference model report', extraStyles: ['charts.css'] });
    this.kind = runFolderKind(runDir) === 'trl' ? 'trl' : 'run';
    this.name = this.kind === 'trl' ? path.basename(runDir) : runName(runDir);
    panel.title = `Preference model: ${this.name}`.slice(0, 120);
    if (this.kind === 'trl') this.followTrl();
    else this.followRun();
  }

  private pushRows(fresh: MetricRow[]): void {
    if (!fresh.length) return;
    this.rows.push(...fresh);
    if (this.listening) this.post({ type: 'pmReport/rows', payload: { rows: fresh } });
  }

  private followRun(): void {
    const seen = new Set<string>();
    let metrics: string;
    let evalFile: string;
    try {
      metrics = resolveInRun(this.runDir, METRICS);
      evalFile = resolveInRun(this.runDir, EVAL);
    } catch (e) {
      this.evalMessage = { report: null, error: (e as Error).message };
      return;
    }
    const tail = new JsonlTail(
      metrics,
      (batch: Located[]) => {
        const fresh: MetricRow[] = [];
        for (const b of batch) {
          const rec = b.record as { id?: unknown; stage?: unknown };
          if (rec.stage !== 'pm') continue;
          if (typeof rec.id === 'string') {
            if (seen.has(rec.id)) continue;
            seen.add(rec.id);
          }
          const row = rowFromRecord(rec);
          if (row) fresh.push(row);
        }
        this.pushRows(fresh);
      },
      {
        onReset: () => {
          seen.clear();
          this.rows.length = 0;
          if (this.listening) this.post({ type: 'pmReport/rows', payload: { rows: [], reset: true } });
        },
      },
    );
    tail.start().catch((e: Error) => log.warn(`Preference model report: ${metrics}: ${e.message}`));
    let stamp = '';
    const readEval = (): void => {
      let st = 'none';
      try {
        const s = fs.statSync(evalFile);
        st = `${s.size}:${s.mtimeMs}`;
      } catch {
        // not written yet
      }
      if (st === stamp) return;
      stamp = st;
      try {
        const json = readJsonFile(evalFile);
        this.evalMessage = { report: json === undefined ? null : parsePmEval(json) };
      } catch (e) {
        // eval.json is rewritten atomically, so this is a damaged file, not a half-written one
        this.evalMessage = { report: null, error: (e as Error).message };
      }
      if (this.listening) this.post({ type: 'pmReport/eval', payload: this.evalMessage });
    };
    readEval();
    const timer = setInterval(readEval, POLL_MS);
    timer.unref?.();
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(this.runDir, (_e, name) => {
        if (!name || name.toString() === EVAL) readEval();
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      // the poll still runs
    }
    this.disposables.push({
      dispose: () => {
        tail.dispose();
        clearInterval(timer);
        watcher?.close();
      },
    });
  }

  /** A TRL reward-model folder: its trainer_state.json as the PM's curves; no evaluation. */
  private followTrl(): void {
    let stamp = '';
    const read = (): void => {
      const file = trlTrainerState(this.runDir);
      if (!file) return;
      let st: string;
      try {
        const s = fs.statSync(file);
        st = `${file}:${s.size}:${s.mtimeMs}`;
      } catch {
        return;
      }
      if (st === stamp) return;
      let state: unknown;
      try {
        state = readJsonFile(file);
      } catch {
        return; // being written: next poll
      }
      stamp = st;
      const { rows } = trlRows(state, 'pm');
      this.rows.length = 0;
      this.rows.push(...rows);
      if (this.listening) this.post({ type: 'pmReport/rows', payload: { rows, reset: true } });
    };
    read();
    const timer = setInterval(read, POLL_MS);
    timer.unref?.();
    this.disposables.push({ dispose: () => clearInterval(timer) });
  }

  protected override onReady(): void {
    super.onReady();
    this.post({ type: 'pmReport/run', payload: { name: this.name, dir: this.runDir, kind: this.kind } });
    for (let i = 0; i < this.rows.length; i += ROWS_PER_MESSAGE) this.post({ type: 'pmReport/rows', payload: { rows: this.rows.slice(i, i + ROWS_PER_MESSAGE) } });
    this.post({ type: 'pmReport/eval', payload: this.evalMessage });
  }

  protected parse(m: { type: string } & Record<string, unknown>): PmReportPageToHost | undefined {
    if (m.type !== 'pmReport/export') return undefined;
    const payload = parseExportFile(m['payload']);
    return payload ? { type: 'pmReport/export', payload } : undefined;
  }

  protected async onMessage(m: PmReportPageToHost): Promise<void> {
    if (m.type === 'pmReport/export') await saveExport(m.payload, this.runDir, 'Export preference model report');
  }
}

export const pmReportPanel: RunPanelKind = {
  viewType: PM_REPORT_VIEW_TYPE,
  /** One panel per run. */
  show: (services, runDirs) => {
    for (const d of new Set(runDirs)) PmReportPanel.show(services, d);
  },
  restore: (services, panel, state) => {
    const dir = (state as Partial<PmReportPanelState> | undefined)?.runDir;
    if (typeof dir !== 'string' || !path.isAbsolute(dir)) {
      panel.dispose();
      return;
    }
    new PmReportPanel(panel, services, dir);
  },
};
