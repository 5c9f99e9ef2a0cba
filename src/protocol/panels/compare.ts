// Messages of the Compare panel (issue 6 §4f): the same evaluation prompts side by side across
// runs and policies, with each run's mean PM scores, win rates and, when an oracle measured, its
// numbers.
import type { EvalAnswer, EvalSummary } from '../../core/runs/compare.js';
import type { ReadyMessage } from '../webview.js';

interface Msg<T extends string, P> {
  type: T;
  payload: P;
}

/** One run of the comparison (runs are referred to by their index in `compare/init`). */
export interface CompareRunInfo {
  runDir: string;
  name: string;
}

/** host → page: the runs compared, in column order; the page clears what it has. */
export type CompareInitMessage = Msg<'compare/init', { runs: CompareRunInfo[] }>;
/** host → page: a run's eval.json summary (again whenever eval.json changes) and its PPO progress; `error` when eval.json could not be read. */
export type CompareSummaryMessage = Msg<
  'compare/summary',
  { run: number; summary: EvalSummary | null; error?: string; ppo: { steps: number; lastStep: number | null; lastMean: number | null } }
>;
/** host → page: evaluation answers of a run (all there are, then those appended later); `loaded` once the initial scan is through. */
export type CompareAnswersMessage = Msg<'compare/answers', { run: number; answers: EvalAnswer[]; loaded: boolean }>;
/** host → page: a run's samples.jsonl was rewritten; the page drops that run's answers (new ones follow). */
export type CompareResetMessage = Msg<'compare/reset', { run: number }>;
/** host → page: something could not be read. */
export type CompareErrorMessage = Msg<'compare/error', { run?: number; message: string }>;

export type CompareHostToPage = CompareInitMessage | CompareSummaryMessage | CompareAnswersMessage | CompareResetMessage | CompareErrorMessage;
/** The page only listens: it sends nothing but `ready`. */
export type ComparePageToHost = ReadyMessage;

/** What the page saves for restore after a reload. */
export interface ComparePanelState {
  runDirs: string[];
  query?: string;
  /** Policies whose columns are hidden. */
  hiddenPolicies?: string[];
  /** Only prompts every run answered. */
  commonOnly?: boolean;
}
