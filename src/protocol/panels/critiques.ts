// Messages of the Critiques panel (issue 6 §4c): a run's revisions.jsonl as a list of prompts,
// each prompt's initial response → critique/revision rounds, and the diff editor on any two steps.
import type { CritiqueRow } from '../../core/runs/revisions.js';
import type { RevisionRecord } from '../../core/runs/records.js';
import type { ReadyMessage } from '../webview.js';

interface Msg<T extends string, P> {
  type: T;
  payload: P;
}

/** host → page: which run is shown; the page clears its list (rows follow). `select` asks the page to select a record (show's options). */
export type CritiquesInitMessage = Msg<'critiques/init', { runDir: string; runName: string; select?: { id?: string; promptId?: string } }>;
/** host → page: rows for the list (the initial scan in batches, then records appended while the run trains); `loaded` once the initial scan is through. */
export type CritiquesRowsMessage = Msg<'critiques/rows', { rows: CritiqueRow[]; loaded: boolean; total: number; badLines: number }>;
/** host → page: revisions.jsonl was rewritten; the page drops its rows (new rows follow). */
export type CritiquesResetMessage = Msg<'critiques/reset', Record<string, never>>;
/** host → page: the full chain of the record the page selected. */
export type CritiquesRecordMessage = Msg<'critiques/record', { record: RevisionRecord }>;
/** host → page: something could not be read (`id`: the record the page asked for). */
export type CritiquesErrorMessage = Msg<'critiques/error', { message: string; id?: string }>;

/** page → host: read this record's full chain. */
export type CritiquesSelectMessage = Msg<'critiques/select', { id: string }>;
/** page → host: open two steps of a record (step keys of core/runs/revisions.ts, e.g. `initial`, `revision-2`) in VS Code's diff editor. */
export type CritiquesDiffMessage = Msg<'critiques/diff', { id: string; left: string; right: string }>;

export type CritiquesHostToPage = CritiquesInitMessage | CritiquesRowsMessage | CritiquesResetMessage | CritiquesRecordMessage | CritiquesErrorMessage;
export type CritiquesPageToHost = ReadyMessage | CritiquesSelectMessage | CritiquesDiffMessage;

/** Which rows the list shows. */
export type CritiquesFlagFilter = 'all' | 'evasive-final' | 'evasive-initial' | 'boilerplate' | 'unchanged';

/** What the page saves for restore after a reload. */
export interface CritiquesPanelState {
  runDirs: string[];
  selectedId?: string;
  query?: string;
  flag?: CritiquesFlagFilter;
  principle?: string;
  /** The two steps chosen for the diff. */
  left?: string;
  right?: string;
}
