/**
 * Messages of the preference-model report panel (issue 6 §4d): the host sends the run's `pm`
 * metric rows as they are logged and the preference-model parts of eval.json whenever it changes;
 * the page draws the four views and asks the host to save exports.
 */
import type { MetricRow } from '../../core/runs/metrics.js';
import type { PmEvalReport } from '../../core/runs/pmReport.js';
import type { ExportFile } from './curves.js';

interface Msg<T extends string, P> {
  type: T;
  payload: P;
}

/** host → page: the run shown; the page drops what it had. */
export type PmReportRunMessage = Msg<'pmReport/run', { name: string; dir: string; kind: 'run' | 'trl' }>;
/** host → page: preference-model metric rows (stage `pm`) in file order; `reset`: drop earlier rows first. */
export type PmReportRowsMessage = Msg<'pmReport/rows', { rows: MetricRow[]; reset?: boolean }>;
/** host → page: the preference-model parts of eval.json (null: no eval.json yet), or why it could not be read. */
export type PmReportEvalMessage = Msg<'pmReport/eval', { report: PmEvalReport | null; error?: string }>;
/** page → host: save an export (a chart as PNG, or the report's tables as CSV). */
export type PmReportExportMessage = Msg<'pmReport/export', ExportFile>;

export type PmReportHostToPage = PmReportRunMessage | PmReportRowsMessage | PmReportEvalMessage;
export type PmReportPageToHost = PmReportExportMessage;

/** What the page saves for a reload (and the serializer restores the panel from). */
export interface PmReportPanelState {
  runDir: string;
  /** Key of the dataset shown in the reliability and margin views. */
  dataset?: string;
  smoothing?: number;
}

export const PmReportMessageTypes = {
  run: 'pmReport/run',
  rows: 'pmReport/rows',
  eval: 'pmReport/eval',
  export: 'pmReport/export',
} as const;
