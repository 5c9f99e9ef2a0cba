import type { Diagnostic } from '../core/constitution/diagnostics.js';
import type { AnalysisOptions } from '../core/constitution/resolve.js';

/**
 * Messages between the language server's main thread and its diagnostics worker thread.
 * The worker owns the slow part (parsing and checking whole files, which takes seconds for
 * constitutions with thousands of principles), so the main thread stays free for completion
 * and hover.
 */
export type ToWorker =
  /** Workspace folders (for how files are named in messages) and analysis options. */
  | { kind: 'configure'; roots: string[]; options: AnalysisOptions }
  /** An open document's text changed (`text: null`: it was closed; read it from disk again). */
  | { kind: 'sync'; file: string; version: number | null; text: string | null }
  /** A file changed on disk. */
  | { kind: 'invalidate'; file: string }
  /** Diagnostics wanted for this file's current text. */
  | { kind: 'validate'; file: string };

export type FromWorker = {
  kind: 'diagnostics';
  file: string;
  /** The document version the diagnostics belong to (null: the file as on disk). */
  version: number | null;
  diagnostics: Diagnostic[];
  /** Every file the resolution read (the file and its includes), to find dependents. */
  files: string[];
  elapsedMs: number;
};
