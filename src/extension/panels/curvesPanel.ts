import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Located } from '../../node/runReader.js';
import { JsonlTail, readJsonFile, readManifest, resolveInRun, runFolderKind, runStatus, trlTrainerState } from '../../node/runReader.js';
import { rowFromRecord, trlRows, type MetricRow } from '../../core/runs/metrics.js';
import { parseExportFile, safeExportName, type CurvesHostToPage, type CurvesPageToHost, type CurvesRun, type ExportFile } from '../../protocol/panels/curves.js';
import { log } from '../log.js';
import type { PanelServices, RunPanelKind } from './registry.js';
import { createRunWebviewPanel, restoreOrDispose, RunPanel, runName, savedDirs } from './runPanel.js';

export const CURVES_VIEW_TYPE = 'constitution.curves';
const METRICS = 'metrics.jsonl';
/** Rows per message when (re)sending a whole run. */
const ROWS_PER_MESSAGE = 5000;
/** How often a running run's manifest and a TRL folder's trainer_state.json are looked at again. */
const POLL_MS = 2000;

// ---------------------------------------------------------------------------------------------
// Exports (shared with the preference-model report).

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Asks where to save an export (beside `dir`) and writes it. */
export async function saveExport(file: ExportFile, dir: string | undefined, title: string): Promise<void> {
  let bytes: Uint8Array;
  if (file.format === 'png') {
    const buf = Buffer.from(file.data.slice(file.data.indexOf(',') + 1), 'base64');
    if (buf.length < PNG_SIGNATURE.length || !buf.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) throw new Error('the image to export is not a PNG');
    bytes = buf;
  } else {
    bytes = Buffer.from(file.data, 'utf8');
  }
  const name = safeExportName(file.fileName, file.format);
  const target = await vscode.window.showSaveDialog({
    title,
    saveLabel: 'Export',
    ...(dir ? { defaultUri: vscode.Uri.file(path.join(dir, name)) } : {}),
    filters: file.format === 'csv' ? { 'CSV': ['csv'] } : { 'PNG image': ['png'] },
  });
  if (!target) return;
  await vscode.workspace.fs.writeFile(target, bytes);
  vscode.window.setStatusBarMessage(`Exported ${path.basename(target.fsPath)}`, 3000);
}

// ---------------------------------------------------------------------------------------------
// One run's rows, followed while it trains.

/** One panel per set of folders, in any order. */
const keyOf = (dirs: readonly string[]): string => JSON.stringify([...dirs].sort());

interface RunSource {
  info: CurvesRun;
  rows: MetricRow[];
  status?: string;
  warning?: string;
  dispose(): void;
}

function manifestStatus(dir: string): string | undefined {
  try {
    const m = readManifest(dir);
    return m ? runStatus(m) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * "Training curves": every metric of SL-CAI, the preference model and PPO for one or more runs
 * overlaid (our run directories, or TRL output folders through their trainer_state.json), drawn
 * live as metrics.jsonl grows.
 */
class CurvesPanel extends RunPanel<CurvesHostToPage, CurvesPageToHost> {
  private readonly sources: RunSource[] = [];

  static show(services: PanelServices, runDirs: string[]): void {
    const dirs = [...new Set(runDirs.map((d) => path.resolve(d)))];
    if (dirs.length === 0) return;
    if (CurvesPanel.revealOpen(keyOf(dirs))) return;
    new CurvesPanel(createRunWebviewPanel(CURVES_VIEW_TYPE, 'Training curves'), services, dirs);
  }

  constructor(panel: vscode.WebviewPanel, services: PanelServices, readonly runDirs: string[]) {
    super(panel, services, { key: keyOf(runDirs), bundle: 'curves', title: 'Training curves', extraStyles: ['charts.css'] });
    this.disposables.push({ dispose: () => this.sources.forEach((s) => s.dispose()) });
    runDirs.forEach((dir, index) => this.sources.push(this.follow(dir, index)));
    panel.title = `Curves: ${this.sources.map((s) => s.info.name).join(', ')}`.slice(0, 120);
  }

  private follow(dir: string, index: number): RunSource {
    const kind = runFolderKind(dir);
    if (kind === 'trl') return this.followTrl(dir, index);
    const src: RunSource = { info: { index, name: runName(dir), dir, kind: 'run' }, rows: [], dispose: () => undefined };
    if (kind === undefined) {
      src.warning = `${dir} is neither a run directory (no manifest.json) nor a TRL output folder (no trainer_state.json).`;
      return src;
    }
    const seen = new Set<string>();
    let file: string;
    try {
      file = resolveInRun(dir, METRICS);
    } catch (e) {
      src.warning = (e as Error).message;
      return src;
    }
    const tail = new JsonlTail(
      file,
      (batch: Located[]) => {
        const fresh: MetricRow[] = [];
        for (const b of batch) {
          const id = (b.record as { id?: unknown }).id;
          if (typeof id === 'string') {
            if (seen.has(id)) continue;
            seen.add(id);
          }
          const row = rowFromRecord(b.record);
          if (row) fresh.push(row);
        }
        if (!fresh.length) return;
        src.rows.push(...fresh);
        if (this.listening) this.post({ type: 'curves/rows', payload: { run: index, rows: fresh } });
      },
      {
        onReset: () => {
          seen.clear();
          src.rows.length = 0;
          if (this.listening) this.post({ type: 'curves/rows', payload: { run: index, rows: [], reset: true } });
        },
        onBad: (bad) => {
          src.warning = `${METRICS}: ${bad.length === 1 ? `line ${bad[0]!.line} is` : `${bad.length} lines are`} not valid JSON and ${bad.length === 1 ? 'was' : 'were'} skipped.`;
          if (this.listening) this.post({ type: 'curves/status', payload: { run: index, warning: src.warning } });
        },
      },
    );
    tail.start().catch((e: Error) => log.warn(`Training curves: ${file}: ${e.message}`));
    src.status = manifestStatus(dir);
    const timer = setInterval(() => {
      if (src.status !== 'running') return;
      const s = manifestStatus(dir);
      if (s !== src.status) {
        src.status = s;
        if (this.listening) this.post({ type: 'curves/status', payload: { run: index, ...(s ? { status: s } : {}) } });
      }
    }, POLL_MS);
    timer.unref?.();
    src.dispose = () => {
      tail.dispose();
      clearInterval(timer);
    };
    return src;
  }

  /** A TRL output folder: its trainer_state.json (or its latest checkpoint's), read again when it changes. */
  private followTrl(dir: string, index: number): RunSource {
    const src: RunSource = { info: { index, name: path.basename(dir), dir, kind: 'trl' }, rows: [], dispose: () => undefined };
    let lastFile = '';
    let lastStamp = '';
    const read = (): void => {
      const file = trlTrainerState(dir);
      if (!file) return;
      let stamp: string;
      try {
        const st = fs.statSync(file);
        stamp = `${st.size}:${st.mtimeMs}`;
      } catch {
        return;
      }
      if (file === lastFile && stamp === lastStamp) return;
      let state: unknown;
      try {
        state = readJsonFile(file);
      } catch (e) {
        // a trainer in the middle of writing it: try again at the next poll
        src.warning = (e as Error).message;
        return;
      }
      lastFile = file;
      lastStamp = stamp;
      src.warning = undefined;
      const { rows, globalStep, maxSteps } = trlRows(state);
      // log_history only grows; when the new one extends the old, send the new entries only
      const extends_ = rows.length >= src.rows.length && src.rows.every((r, i) => r.step === rows[i]!.step && r.values.length === rows[i]!.values.length);
      const fresh = extends_ ? rows.slice(src.rows.length) : rows;
      if (!extends_) src.rows.length = 0;
      src.rows.push(...fresh);
      src.status = globalStep !== undefined ? `step ${globalStep}${maxSteps ? ` / ${maxSteps}` : ''}` : undefined;
      if (this.listening) {
        if (!extends_ || fresh.length) this.post({ type: 'curves/rows', payload: { run: index, rows: fresh, ...(extends_ ? {} : { reset: true }) } });
        this.post({ type: 'curves/status', payload: { run: index, ...(src.status ? { status: src.status } : {}) } });
      }
    };
    read();
    const timer = setInterval(read, POLL_MS);
    timer.unref?.();
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(dir, () => read());
      watcher.on('error', () => watcher?.close());
    } catch {
      // the poll still runs
    }
    src.dispose = () => {
      clearInterval(timer);
      watcher?.close();
    };
    return src;
  }

  /** The page (re)loaded: send it everything. */
  protected override onReady(): void {
    super.onReady();
    this.post({ type: 'curves/runs', payload: { runs: this.sources.map((s) => s.info) } });
    for (const s of this.sources) {
      for (let i = 0; i < s.rows.length; i += ROWS_PER_MESSAGE) this.post({ type: 'curves/rows', payload: { run: s.info.index, rows: s.rows.slice(i, i + ROWS_PER_MESSAGE) } });
      if (s.status || s.warning) this.post({ type: 'curves/status', payload: { run: s.info.index, ...(s.status ? { status: s.status } : {}), ...(s.warning ? { warning: s.warning } : {}) } });
    }
  }

  protected parse(m: { type: string } & Record<string, unknown>): CurvesPageToHost | undefined {
    if (m.type !== 'curves/export') return undefined;
    const payload = parseExportFile(m['payload']);
    return payload ? { type: 'curves/export', payload } : undefined;
  }

  protected async onMessage(m: CurvesPageToHost): Promise<void> {
    if (m.type === 'curves/export') await saveExport(m.payload, this.runDirs[0], 'Export training curves');
  }
}

export const curvesPanel: RunPanelKind = {
  viewType: CURVES_VIEW_TYPE,
  show: (services, runDirs) => CurvesPanel.show(services, runDirs),
  // the saved folders need not be run directories: TRL output folders are shown too
  restore: (services, panel, state) => restoreOrDispose(panel, savedDirs(state), (dirs) => new CurvesPanel(panel, services, dirs)),
};
