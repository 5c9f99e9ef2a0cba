/**
 * Messages of the training-curves panel (issue 6 §4a): the host reads metrics.jsonl of each run
 * (or a TRL output folder's trainer_state.json) and sends rows as they are logged; the page draws
 * them and asks the host to save exports. The file-export message is shared with the preference
 * model report.
 */
import type { MetricRow, XAxis } from '../../core/runs/metrics.js';

interface Msg<T extends string, P> {
  type: T;
  payload: P;
}

/** One run shown in the panel. `index` is its place in the panel's list (messages name runs by it). */
export interface CurvesRun {
  index: number;
  /** The folder's name (text from the file system: shown as text). */
  name: string;
  /** Absolute path of the run directory or TRL output folder. */
  dir: string;
  kind: 'run' | 'trl';
}

/** What a page asks the host to save: CSV text or a PNG data URL, with a suggested file name. */
export interface ExportFile {
  format: 'csv' | 'png';
  /** A bare file name (the host keeps only safe characters and the right extension). */
  fileName: string;
  /** CSV text, or `data:image/png;base64,…`. */
  data: string;
}

/** Largest export the host accepts (characters of `data`). */
export const MAX_EXPORT_CHARS = 64 * 1024 * 1024;

/** host → page: the runs shown, in order; the page drops any rows it had. */
export type CurvesRunsMessage = Msg<'curves/runs', { runs: CurvesRun[] }>;
/** host → page: rows of one run in file order (new ones as the run logs them); `reset`: drop that run's rows first. */
export type CurvesRowsMessage = Msg<'curves/rows', { run: number; rows: MetricRow[]; reset?: boolean }>;
/** host → page: a run's state (`running`, `done`, `step 40 / 100`…) or a problem reading it. */
export type CurvesStatusMessage = Msg<'curves/status', { run: number; status?: string; warning?: string }>;
/** page → host: save an export (CSV of the visible series, or a chart as PNG). */
export type CurvesExportMessage = Msg<'curves/export', ExportFile>;

export type CurvesHostToPage = CurvesRunsMessage | CurvesRowsMessage | CurvesStatusMessage;
export type CurvesPageToHost = CurvesExportMessage;

/** What the page saves for a reload (and the serializer restores the panel from). */
export interface CurvesPanelState {
  runDirs: string[];
  smoothing?: number;
  xAxis?: XAxis;
  /** Stage groups hidden by the filter (`sft`, `pm`, `ppo`, `other`). */
  hiddenStages?: string[];
  /** Metric-name filter text. */
  filter?: string;
  /** Run directories toggled off in the legend. */
  hiddenRuns?: string[];
}

/** Checks an export a page sent (it is untrusted input); undefined when it is not one. */
export function parseExportFile(p: unknown): ExportFile | undefined {
  if (typeof p !== 'object' || p === null) return undefined;
  const { format, fileName, data } = p as Record<string, unknown>;
  if ((format !== 'csv' && format !== 'png') || typeof fileName !== 'string' || typeof data !== 'string') return undefined;
  if (data.length === 0 || data.length > MAX_EXPORT_CHARS || fileName.length > 1000) return undefined;
  if (format === 'png' && !/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/.test(data)) return undefined;
  return { format, fileName, data };
}

/** A bare file name of safe characters with the format's extension (no folders, no dot files). */
export function safeExportName(name: string, format: ExportFile['format']): string {
  const base = name
    .replace(/\.(csv|png)$/i, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 120);
  return `${base || 'export'}.${format}`;
}

export const CurvesMessageTypes = {
  runs: 'curves/runs',
  rows: 'curves/rows',
  status: 'curves/status',
  export: 'curves/export',
} as const;
