// One supervised pipeline run: forks the trainer, starts the pipeline job, follows its progress,
// and restarts a crashed trainer (resuming the same run directory) a bounded number of times.
// Deterministic failures — a bad run configuration, a model file that cannot be read, a loss that
// became NaN — are never retried: the same job would fail the same way. No editor API here: the
// extension maps these events to notifications, the status bar and its log; tests drive it directly.

import { randomUUID } from 'node:crypto';
import type { BackendChoice, BackendReport, JobErrorInfo, LogLevel, PipelineParams, PipelineResult, ProgressParams } from '../protocol/trainer.js';
import { type ForkOptions, type JobEnd, TrainerClient, type TrainerLogEntry } from './trainerClient.js';

export type SessionState = 'starting' | 'running' | 'stopping' | 'restarting' | 'completed' | 'stopped' | 'failed';

export interface SessionOptions {
  /** The trainer bundle (dist/trainer.js). */
  trainerEntry: string;
  runFile: string;
  /** Continue this run directory instead of making a new one. */
  resume?: string;
  stages?: PipelineParams['stages'];
  out?: string;
  backend: BackendChoice;
  studioVersion: string;
  /** Extra environment of the trainer (API keys from the editor's secret storage). */
  env?: NodeJS.ProcessEnv;
  /** How often a crashed trainer is started again on the same run directory (default 2). */
  maxRestarts?: number;
  /** How long the job gets to checkpoint and end after a stop, and again after SIGTERM (default 30 s). */
  stopTimeoutMs?: number;
  /** Node options of the trainer (tests: `--import tsx` to run the sources). */
  execArgv?: string[];
  logLevel?: LogLevel;
}

export interface SessionEnd {
  outcome: 'completed' | 'stopped' | 'failed';
  /** The run directory, once the pipeline made or opened one. */
  runDir?: string;
  error?: JobErrorInfo;
  /** Trainer restarts after crashes during this session. */
  restarts: number;
  /** Whether running the same run again (resume) may succeed. */
  resumable: boolean;
}

export interface SessionEvents {
  onProgress?(p: ProgressParams): void;
  onLog?(entry: TrainerLogEntry): void;
  onState?(state: SessionState, detail?: string): void;
  onBackend?(report: BackendReport): void;
  /** The run directory became known (first progress of the pipeline). */
  onRunDir?(dir: string): void;
}

/** Error codes for which a new attempt cannot help. */
const DETERMINISTIC = new Set(['config', 'nonfinite', 'model-file']);

export class RunSession {
  private client: TrainerClient | undefined;
  private jobId: string | undefined;
  private stopAsked = false;
  private _state: SessionState = 'starting';
  private _runDir: string | undefined;
  private restarts = 0;
  private readonly done: Promise<SessionEnd>;

  constructor(
    private readonly o: SessionOptions,
    private readonly ev: SessionEvents = {},
  ) {
    this._runDir = o.resume;
    this.done = this.loop();
  }

  get state(): SessionState {
    return this._state;
  }

  get runDir(): string | undefined {
    return this._runDir;
  }

  /** The trainer's process id (while one runs). */
  get pid(): number | undefined {
    return this.client?.pid;
  }

  /** Resolves when the session has ended (never rejects). */
  whenDone(): Promise<SessionEnd> {
    return this.done;
  }

  /**
   * Stops the run: the job finishes its step, writes a checkpoint and ends; if it does not end in
   * time the trainer gets SIGTERM, then SIGKILL. Resolves with the session's end.
   */
  async stop(): Promise<SessionEnd> {
    if (!this.stopAsked) {
      this.stopAsked = true;
      if (this._state === 'running' || this._state === 'starting' || this._state === 'restarting') this.setState('stopping');
      const c = this.client;
      if (c && this.jobId) await c.stop(this.jobId, 'checkpoint', { timeoutMs: this.o.stopTimeoutMs ?? 30_000 });
      else c?.kill('SIGTERM');
    }
    return this.done;
  }

  /** Kills the trainer at once (a crash, as far as the run is concerned; used by tests and on window close). */
  kill(): void {
    this.client?.kill('SIGKILL');
  }

  private setState(s: SessionState, detail?: string): void {
    this._state = s;
    this.ev.onState?.(s, detail);
  }

  private async loop(): Promise<SessionEnd> {
    const maxRestarts = this.o.maxRestarts ?? 2;
    while (true) {
      const end = await this.attempt();
      if (this.stopAsked) {
        const outcome = end.outcome === 'completed' ? 'completed' : 'stopped';
        this.setState(outcome);
        return { outcome, runDir: this._runDir, restarts: this.restarts, resumable: outcome !== 'completed' && this._runDir !== undefined };
      }
      if (end.outcome === 'completed') {
        this.setState('completed');
        return { outcome: 'completed', runDir: this._runDir, restarts: this.restarts, resumable: false };
      }
      if (end.outcome === 'stopped') {
        this.setState('stopped');
        return { outcome: 'stopped', runDir: this._runDir, restarts: this.restarts, resumable: this._runDir !== undefined };
      }
      const error = end.error ?? { message: `the run ended ${end.outcome}`, code: 'internal' as const, retryable: true };
      const deterministic = DETERMINISTIC.has(error.code) || !error.retryable;
      // A crash before the run directory existed cannot be resumed; one after it can.
      if (deterministic || this.restarts >= maxRestarts || this._runDir === undefined) {
        this.setState('failed', error.message);
        return { outcome: 'failed', runDir: this._runDir, error, restarts: this.restarts, resumable: !deterministic && this._runDir !== undefined };
      }
      this.restarts++;
      this.setState('restarting', `${error.message} — restarting the trainer (${this.restarts} of ${maxRestarts}) and resuming ${this._runDir}`);
    }
  }

  /** One trainer process running the pipeline job once (new or resumed). */
  private async attempt(): Promise<JobEnd<'pipeline'> | { outcome: 'failed'; error: JobErrorInfo }> {
    const forkOpts: ForkOptions = {
      env: { ...process.env, ...this.o.env },
      ...(this.o.execArgv ? { execArgv: this.o.execArgv } : {}),
      onLog: (e) => this.ev.onLog?.(e),
    };
    let client: TrainerClient;
    try {
      client = TrainerClient.fork(this.o.trainerEntry, forkOpts);
    } catch (e) {
      return { outcome: 'failed', error: { message: `the trainer could not be started: ${(e as Error).message}`, code: 'internal', retryable: false } };
    }
    this.client = client;
    const jobId = randomUUID();
    try {
      const report = await client.initialize({ backend: this.o.backend, logLevel: this.o.logLevel ?? 'info' });
      this.ev.onBackend?.(report);
      if (this.stopAsked) return { outcome: 'failed', error: { message: 'stopped before the run started', code: 'cancelled', retryable: true } };
      const params: PipelineParams = {
        runFile: this.o.runFile,
        studioVersion: this.o.studioVersion,
        ...(this._runDir ? { resume: this._runDir } : {}),
        ...(this.o.out && !this._runDir ? { out: this.o.out } : {}),
        ...(this.o.stages ? { stages: this.o.stages } : {}),
      };
      const sub = client.onProgress((p) => {
        if (p.jobId !== jobId) return;
        if (p.runDir && p.runDir !== this._runDir) {
          this._runDir = p.runDir;
          this.ev.onRunDir?.(p.runDir);
        }
        if (!p.runDir) this.ev.onProgress?.(p);
      });
      this.jobId = jobId;
      this.setState('running');
      try {
        await client.start(jobId, { kind: 'pipeline', params });
        const end = await client.waitForJobEnd<'pipeline'>(jobId);
        const dir = (end.result as PipelineResult | undefined)?.dir;
        if (dir) this._runDir = dir;
        return end;
      } finally {
        sub.dispose();
        this.jobId = undefined;
      }
    } catch (e) {
      // the process died during initialize/start, or refused the job
      const msg = (e as Error).message;
      const data = (e as { data?: unknown }).data as JobErrorInfo | undefined;
      return { outcome: 'failed', error: data && typeof data.code === 'string' ? data : { message: msg, code: 'internal', retryable: !client.hasExited || !this.stopAsked } };
    } finally {
      await client.shutdown(5000).catch(() => client.kill());
      if (this.client === client) this.client = undefined;
    }
  }
}
