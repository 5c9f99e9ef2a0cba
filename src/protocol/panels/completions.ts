// Messages of the Completions panel (issue 6 §4e): a run's PPO rollouts (samples.jsonl,
// `stage: "ppo"`) by step with their rewards, browsable in time while the run trains.
import type { ReadyMessage } from '../webview.js';

interface Msg<T extends string, P> {
  type: T;
  payload: P;
}

/** One step's reward summary; numbers that are not finite travel as null (JSON has no NaN). */
export interface StepSummaryWire {
  step: number;
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  meanKl: number | null;
}

/** One rollout. */
export interface CompletionSample {
  id: string;
  step: number;
  prompt_id: string;
  prompt: string;
  response: string;
  score: number | null;
  kl: number | null;
  /** The key its prompt is followed by (core PpoIndex.promptOf). */
  key: string;
  /** In how many steps this prompt was rolled out (so far). */
  promptSteps: number;
}

/** host → page: which run is shown; the page clears what it has (steps follow). `step`: show this step (show's options). */
export type CompletionsInitMessage = Msg<'completions/init', { runDir: string; runName: string; step?: number }>;
/** host → page: summaries of steps that are new or grew; `loaded` once the initial scan is through. */
export type CompletionsStepsMessage = Msg<'completions/steps', { steps: StepSummaryWire[]; samples: number; loaded: boolean; badLines: number }>;
/** host → page: samples.jsonl was rewritten; the page drops its steps (new ones follow). */
export type CompletionsResetMessage = Msg<'completions/reset', Record<string, never>>;
/** host → page: the rollouts of a step the page asked for (at most `limit`; `total` there are). */
export type CompletionsStepMessage = Msg<'completions/step', { step: number; samples: CompletionSample[]; total: number }>;
/** host → page: one prompt's rollouts across steps, by step (at most `limit`; `total` there are). */
export type CompletionsPromptMessage = Msg<'completions/prompt', { key: string; samples: CompletionSample[]; total: number }>;
/** host → page: something could not be read. */
export type CompletionsErrorMessage = Msg<'completions/error', { message: string }>;

/** page → host: send the rollouts of this step. */
export type CompletionsRequestStepMessage = Msg<'completions/requestStep', { step: number }>;
/** page → host: send this prompt's rollouts across steps (key from a CompletionSample). */
export type CompletionsRequestPromptMessage = Msg<'completions/requestPrompt', { key: string }>;

export type CompletionsHostToPage = CompletionsInitMessage | CompletionsStepsMessage | CompletionsResetMessage | CompletionsStepMessage | CompletionsPromptMessage | CompletionsErrorMessage;
export type CompletionsPageToHost = ReadyMessage | CompletionsRequestStepMessage | CompletionsRequestPromptMessage;

/** Most rollouts one step or one prompt message carries. */
export const COMPLETIONS_LIMIT = 2000;

export type CompletionsSort = 'file' | 'score-desc' | 'score-asc';

/** What the page saves for restore after a reload. */
export interface CompletionsPanelState {
  runDirs: string[];
  step?: number;
  /** Jump to each new step as it arrives. */
  followLatest?: boolean;
  sort?: CompletionsSort;
  /** The prompt followed across steps. */
  promptKey?: string;
}
