import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';

/**
 * Messages between a parent (the extension host or `cai`) and the trainer, a separate Node
 * process started with `child_process.fork()` and spoken to over its IPC channel.
 *
 * The trainer runs one job at a time: training, generation, scoring (later the whole RLAIF
 * pipeline). The parent initializes it once (choosing the compute backend), starts jobs, asks
 * them to stop, and listens for progress, logs, heartbeats and the end of each job.
 */

/** Bumped whenever a message changes shape; `trainer/initialize` refuses a different version. */
export const TRAINER_PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Backends and initialization

/** The compute backends, fastest first; `auto` tries them in that order. */
export type BackendName = 'tfjs-node-gpu' | 'webgpu' | 'tfjs-node' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface InitializeParams {
  /** Must equal the trainer's TRAINER_PROTOCOL_VERSION. */
  protocolVersion: number;
  backend: BackendChoice;
  /** Threads for the wasm backend (its default: the number of cores). */
  wasmThreads?: number;
  /** The least severe `trainer/log` level the parent wants to receive. */
  logLevel: LogLevel;
}

/** What initialization chose and why, shown to the user as is. */
export interface BackendReport {
  /** The backend in use. */
  backend: BackendName;
  requested: BackendChoice;
  /** One sentence: why this backend (e.g. "auto: tfjs-node-gpu found no CUDA device"). */
  reason: string;
  /** Backends tried before this one, each with why it failed. */
  fallbacks: { backend: BackendName; error: string }[];
  tfjsVersion: string;
  nodeVersion: string;
  platform: string;
  /** Threads the backend computes with. */
  threads: number;
  /** A small computation run after start-up, checked against known values. */
  selfTest: { ok: boolean; seconds: number };
  /** The GPU adapter, when the backend is webgpu. */
  adapter?: GpuAdapterInfo;
}

/** A WebGPU adapter as Dawn describes it. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (e.g. Mesa's lavapipe/llvmpipe, SwiftShader) rather than a GPU. */
  software: boolean;
}

// ---------------------------------------------------------------------------------------------
// Jobs

/** The kinds of job the trainer knows. */
export const JobKind = {
  trainLm: 'train-lm',
  generate: 'generate',
  score: 'score',
  pipeline: 'pipeline',
  evalHhh: 'eval-hhh',
  tryPrinciple: 'try-principle',
} as const;
export type JobKind = (typeof JobKind)[keyof typeof JobKind];

/** A built-in model by preset name, or a model folder / file on disk. */
export type ModelRef = { preset: string } | { path: string };

/** Learning rate over the run (constant, linear warm-up, or warm-up then cosine decay). */
export type { LrSchedule } from '../core/training/schedule';
import type { LrSchedule } from '../core/training/schedule';

/** Language-model training (pre-training or supervised fine-tuning on text). */
export interface TrainLmParams {
  model: ModelRef;
  /** `jsonl-text`: one JSON object with a `text` field per line; `text`: the file as one document. */
  data: { path: string; format: 'jsonl-text' | 'text' };
  /** Optimizer steps (each of `accumulate` micro-batches). */
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  schedule: LrSchedule;
  weightDecay: number;
  /** Global gradient-norm clip; 0 turns clipping off. */
  clipNorm: number;
  /** Micro-batches whose gradients are summed per optimizer step. */
  accumulate: number;
  seed: number;
  /** Where checkpoints go; a run resumes from the newest complete one found there. */
  checkpointDir: string;
  /** Steps between checkpoints; 0: only at the end and when stopped with `checkpoint`. */
  checkpointEvery: number;
  /** Complete checkpoints kept in checkpointDir. */
  keepLast: number;
  /** Where the final model is written (a model folder), if anywhere. */
  saveTo?: string;
}

export interface TrainLmResult {
  /** Optimizer steps done, counting steps done before a resume. */
  steps: number;
  finalLoss: number;
  /** The last checkpoint written. */
  checkpoint?: string;
  savedTo?: string;
}

export interface GenerateParams {
  model: ModelRef;
  prompts: string[];
  maxNewTokens: number;
  /** 0: greedy. */
  temperature: number;
  topK?: number;
  topP?: number;
  /** Generation of a prompt ends at the first of these strings (not included in the text). */
  stop?: string[];
  seed: number;
}

export interface GenerateOutput {
  /** The generated text only, without the prompt. */
  text: string;
  tokens: number[];
  /** Log-probability of each generated token under the model (before temperature, top-k and top-p). */
  logprobs: number[];
  finishReason: 'length' | 'eos' | 'stop';
}

export interface GenerateResult {
  /** One per prompt, in order. */
  outputs: GenerateOutput[];
}

/** Log-probabilities of continuations given a prompt (used by AI feedback and evaluation). */
export interface ScoreParams {
  model: ModelRef;
  prompt: string;
  continuations: string[];
}

export interface ScoreResult {
  /** One per continuation, in order: its tokens, each token's log-probability, and their sum. */
  scores: { tokens: number[]; logprobs: number[]; total: number }[];
}

/** Parameters and result of each job kind; a new kind is one more entry here. */
export interface JobCatalog {
  'train-lm': { params: TrainLmParams; result: TrainLmResult };
  generate: { params: GenerateParams; result: GenerateResult };
  score: { params: ScoreParams; result: ScoreResult };
  pipeline: { params: PipelineParams; result: PipelineResult };
  'eval-hhh': { params: EvalHhhParams; result: HhhReport };
  'try-principle': { params: TryPrincipleParams; result: TryPrincipleResult };
}

/** A model to ask, outside a run: one loaded in the trainer, or an OpenAI-compatible endpoint. */
export type ProviderSpec =
  | { provider: 'embedded'; model: ModelRef }
  | { provider: 'openai'; baseUrl: string; model: string; api: 'chat' | 'completions'; apiKeyEnv?: string }
  | { provider: 'llama-cpp'; path: string; threads?: number; contextSize?: number; gpu?: 'off' | 'auto' | 'cuda' | 'vulkan' | 'metal' };

/** A multiple-choice evaluation (Anthropic's HHH file shape) of one model. */
export interface EvalHhhParams {
  file: string;
  provider: ProviderSpec;
  /** The first N items only. */
  limit?: number;
  /** Requests in flight at once. */
  concurrency: number;
}

export interface HhhReport {
  items: number;
  /** Share of items whose right answer got the higher probability. */
  accuracy: number;
  /** Mean probability given to the right answer (normalised over the two). */
  mean_p_correct: number;
  /** Expected calibration error of P(answer A) against "A is right", 10 bins. */
  ece: number;
  bins: { lo: number; hi: number; count: number; confidence: number; observed: number }[];
  /** How the probabilities were read (`exact`, `top-logprobs`, `sampled`). */
  method: string;
}

/**
 * One principle of a constitution tried on a few prompts ("Try on sample prompts"): a critique
 * principle answers, critiques and revises each prompt once; a comparison principle samples two
 * answers and labels them in both orders.
 */
export interface TryPrincipleParams {
  constitutionFile: string;
  /** A principle id (critique → revision) or a comparison id (one label). */
  principle: string;
  prompts: string[];
  provider: ProviderSpec;
  maxTokens: number;
  temperature: number;
  seed: number;
}

export type TryPrincipleItem =
  | { kind: 'critique'; prompt: string; initial_response: string; critique_request: string; critique: string; revision_request: string; revision: string }
  | { kind: 'comparison'; prompt: string; response_a: string; response_b: string; p_a: number; p_a_forward: number; p_a_reversed?: number; label_method: string };

export interface TryPrincipleResult {
  principle: string;
  kind: 'critique' | 'comparison';
  model: string;
  items: TryPrincipleItem[];
}

/** A pipeline run from a run configuration (`*.run.yaml`), new or resumed. */
export interface PipelineParams {
  runFile: string;
  /** Parent folder of a new run directory (default: the config's `out`). */
  out?: string;
  /** Continue this run directory. */
  resume?: string;
  /** Only these stages (default: every enabled stage). */
  stages?: ('critique' | 'sft' | 'pairs' | 'feedback' | 'pm' | 'ppo' | 'eval')[];
  studioVersion: string;
}

export interface PipelineResult {
  /** The run directory. */
  dir: string;
}

export type JobParams<K extends JobKind = JobKind> = JobCatalog[K]['params'];
export type JobResult<K extends JobKind = JobKind> = JobCatalog[K]['result'];

/** A job to run: its kind and that kind's parameters (a union discriminated by `kind`). */
export type JobSpec<K extends JobKind = JobKind> = { [P in K]: { kind: P; params: JobParams<P> } }[K];

/** Why a job failed: `config` (bad parameters; fix and retry), `nonfinite` (loss or gradients became NaN/Infinity), `model-file` (a model or checkpoint file cannot be read or written), `internal` (a bug, or the trainer died), `cancelled`. */
export type JobErrorCode = 'config' | 'nonfinite' | 'model-file' | 'internal' | 'cancelled';

export interface JobErrorInfo {
  message: string;
  code: JobErrorCode;
  /** Whether running the same job again may succeed (e.g. after a crash of the trainer). */
  retryable: boolean;
}

/**
 * Errors of requests (as JSON-RPC error codes, with a JobErrorInfo as `data` where one applies):
 * the trainer is not initialized, is busy with another job, the protocol versions differ, or a
 * job was refused before it started (unknown kind).
 */
export const TrainerErrorCodes = {
  notInitialized: -32001,
  busy: -32002,
  protocolVersion: -32003,
  jobRefused: -32004,
} as const;

// ---------------------------------------------------------------------------------------------
// Requests

export interface StartParams<K extends JobKind = JobKind> {
  /** Chosen by the parent; names the job in every later message. */
  jobId: string;
  job: JobSpec<K>;
}

export interface StartResult {
  accepted: true;
}

/** `checkpoint`: finish the current step, save a checkpoint and end (outcome `stopped`); `now`: also cancel at once (outcome `cancelled`). */
export type StopMode = 'checkpoint' | 'now';

export interface StopParams {
  jobId: string;
  mode: StopMode;
}

export interface StopResult {
  /** Whether that job was running and has been asked to stop; its end comes as `trainer/jobEnd`. */
  stopped: boolean;
}

export type TrainerState = 'idle' | 'running' | 'stopping';

export interface StatusResult {
  state: TrainerState;
  jobId?: string;
  /** The stage of the running job, as in its last progress. */
  stage?: string;
  step?: number;
  totalSteps?: number;
  /** The backend in use, once initialized. */
  backend?: BackendName;
}

/** parent → trainer: check the protocol version, choose and self-test the backend. Once, before anything else. */
export const InitializeRequest = new RequestType<InitializeParams, BackendReport, void>('trainer/initialize');

/** parent → trainer: start a job; refused while another job runs or before initialize. */
export const StartRequest = new RequestType<StartParams, StartResult, void>('trainer/start');

/** parent → trainer: ask a running job to stop (answers at once; the job ends later with `trainer/jobEnd`). */
export const StopRequest = new RequestType<StopParams, StopResult, void>('trainer/stop');

/** parent → trainer: what the trainer is doing now. */
export const StatusRequest = new RequestType0<StatusResult, void>('trainer/status');

/** parent → trainer: cancel any job and exit once the answer has been sent. */
export const ShutdownRequest = new RequestType0<void, void>('trainer/shutdown');

// ---------------------------------------------------------------------------------------------
// Notifications

export interface ProgressParams {
  jobId: string;
  /** e.g. `load`, `train`, `checkpoint`, `generate`. */
  stage: string;
  step: number;
  totalSteps?: number;
  /** e.g. loss, lr, gradNorm, tokensPerSecond. */
  metrics: Record<string, number>;
  message?: string;
  /** Pipeline jobs: the run directory, sent once it exists (first progress of a new or resumed run). */
  runDir?: string;
}

export interface LogParams {
  level: LogLevel;
  message: string;
}

export interface HeartbeatParams {
  /** Milliseconds since the epoch, on the trainer's clock. */
  time: number;
  rssBytes: number;
  /** Tensors alive in the engine, where it reports them. */
  tensors?: number;
}

export type JobOutcome = 'completed' | 'stopped' | 'failed' | 'cancelled';

/** How a job ended (a union discriminated by `kind`, so `result` has that kind's type). */
export type JobEndParams<K extends JobKind = JobKind> = {
  [P in K]: {
    jobId: string;
    kind: P;
    outcome: JobOutcome;
    /** For `completed` and `stopped`. */
    result?: JobResult<P>;
    /** For `failed` and `cancelled`. */
    error?: JobErrorInfo;
  };
}[K];

/** Milliseconds between heartbeats. */
export const HEARTBEAT_INTERVAL_MS = 2000;

/** trainer → parent: a job's progress (throttled by the job). */
export const ProgressNotification = new NotificationType<ProgressParams>('trainer/progress');

/** trainer → parent: a log line, at or above the level asked for in initialize. */
export const LogNotification = new NotificationType<LogParams>('trainer/log');

/** trainer → parent: the trainer is alive (every HEARTBEAT_INTERVAL_MS while its event loop turns). */
export const HeartbeatNotification = new NotificationType<HeartbeatParams>('trainer/heartbeat');

/** trainer → parent: a job ended, exactly once per started job. */
export const JobEndNotification = new NotificationType<JobEndParams>('trainer/jobEnd');
