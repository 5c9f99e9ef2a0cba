// The seam between the trainer process and the engine: the engine registers one runner per job
// kind; the process (process.ts) gives each run a context through which the job reports progress
// and learns that it should stop.
import { ModelFileError } from '../core/model/errors.js';
import { NonFiniteError } from '../core/training/guard.js';
import type { JobErrorCode, JobErrorInfo, JobKind, JobParams, JobResult, JobSpec, LogLevel, ProgressParams, StopMode } from '../protocol/trainer.js';

/** A job failure the parent can act on: the code says whose fault it is and whether to retry. */
export class JobError extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
    readonly retryable = code === 'internal',
  ) {
    super(message);
    this.name = 'JobError';
  }
}

/** The job was cancelled (`trainer/stop` with mode `now`, or shutdown). */
/**
 * A training step's NaN/Inf (NonFiniteError, also as it arrives from a worker thread) as the
 * job's deterministic `nonfinite` error, with `advice` (where the last good state is) appended;
 * any other error unchanged.
 */
export function nonFiniteAsJobError(e: unknown, advice: string): unknown {
  if (e instanceof NonFiniteError || (e as Error | undefined)?.name === 'NonFiniteError') return new JobError('nonfinite', `${(e as Error).message}; ${advice}`, false);
  return e;
}

export class JobCancelledError extends JobError {
  constructor(message = 'The job was cancelled.') {
    super('cancelled', message, true);
    this.name = 'JobCancelledError';
  }
}

/** What a thrown value means for the parent, as sent in `trainer/jobEnd`. */
export function toJobErrorInfo(error: unknown): JobErrorInfo {
  if (error instanceof JobError) return { message: error.message, code: error.code, retryable: error.retryable };
  if (error instanceof ModelFileError) return { message: error.message, code: 'model-file', retryable: false };
  if (error instanceof Error) return { message: error.message, code: 'internal', retryable: true };
  return { message: String(error), code: 'internal', retryable: true };
}

export interface Disposable {
  dispose(): void;
}

/** Cancellation as a job sees it: a flag to poll between steps, or a callback. */
export interface JobCancellation {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(cb: () => void): Disposable;
}

/** The owner's side of a JobCancellation. */
export class JobCancellationSource {
  private cancelled = false;
  private readonly listeners = new Set<() => void>();
  readonly token: JobCancellation;

  constructor() {
    const isCancelled = (): boolean => this.cancelled;
    this.token = {
      get isCancellationRequested() {
        return isCancelled();
      },
      onCancellationRequested: (cb) => {
        if (this.cancelled) {
          queueMicrotask(cb);
          return { dispose: () => undefined };
        }
        this.listeners.add(cb);
        return { dispose: () => void this.listeners.delete(cb) };
      },
    };
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const cb of [...this.listeners]) {
      try {
        cb();
      } catch {
        // a listener's failure must not keep the others from hearing of the cancellation
      }
    }
    this.listeners.clear();
  }
}

/** Progress as a job reports it; the process adds the job id. */
export type JobProgress = Omit<ProgressParams, 'jobId'>;

export interface JobContext {
  readonly jobId: string;
  /** Set for `trainer/stop` with mode `now` and on shutdown: end as soon as possible, no checkpoint. */
  readonly token: JobCancellation;
  /**
   * The stop the parent asked for, if any: `checkpoint` means finish the current step, save a
   * checkpoint and return normally (the job ends `stopped` with its result); `now` also cancels.
   */
  stopRequested(): StopMode | undefined;
  /** Throws JobCancelledError once the token is cancelled. */
  throwIfCancelled(): void;
  /** Report progress; cheap, but jobs should not send more than a few per second. */
  progress(p: JobProgress): void;
  log(level: LogLevel, message: string): void;
}

export type JobRunner<K extends JobKind> = (params: JobParams<K>, ctx: JobContext) => Promise<JobResult<K>>;

/** The runners the trainer can run, one per job kind. */
export class JobRegistry {
  private readonly runners = new Map<string, JobRunner<JobKind>>();

  register<K extends JobKind>(kind: K, runner: JobRunner<K>): this {
    if (this.runners.has(kind)) throw new Error(`A runner for job kind '${kind}' is already registered.`);
    this.runners.set(kind, runner as unknown as JobRunner<JobKind>);
    return this;
  }

  has(kind: string): boolean {
    return this.runners.has(kind);
  }

  kinds(): string[] {
    return [...this.runners.keys()];
  }

  /** Runs a job; an unknown kind (or a spec that is no job at all) is a `config` JobError. */
  run<K extends JobKind>(spec: JobSpec<K>, ctx: JobContext): Promise<JobResult<K>> {
    const kind = (spec as { kind?: unknown } | null)?.kind;
    const runner = typeof kind === 'string' ? this.runners.get(kind) : undefined;
    if (!runner) return Promise.reject(unknownKindError(kind, this.kinds()));
    // a runner that throws synchronously fails its job like one that rejects
    try {
      return runner(spec.params, ctx) as Promise<JobResult<K>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

export function unknownKindError(kind: unknown, known: readonly string[]): JobError {
  const list = known.length > 0 ? known.map((k) => `'${k}'`).join(', ') : 'none';
  return new JobError('config', `Unknown job kind ${typeof kind === 'string' ? `'${kind}'` : String(kind)}; this trainer runs: ${list}.`, false);
}
