// The parent's side of the trainer: forks the trainer process, speaks src/protocol/trainer.ts to
// it and makes sure it ends. Used by `cai` and by the extension host (no editor API here).
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { IPCMessageReader, IPCMessageWriter, type MessageConnection, createMessageConnection } from 'vscode-jsonrpc/node';
import {
  type BackendReport,
  type HeartbeatParams,
  type InitializeParams,
  type JobEndParams,
  type JobKind,
  type JobSpec,
  type LogLevel,
  type ProgressParams,
  type StatusResult,
  type StopMode,
  HeartbeatNotification,
  InitializeRequest,
  JobEndNotification,
  LogNotification,
  ProgressNotification,
  ShutdownRequest,
  StartRequest,
  StatusRequest,
  StopRequest,
  TRAINER_PROTOCOL_VERSION,
} from '../protocol/trainer.js';

export interface TrainerLogEntry {
  level: LogLevel;
  message: string;
  /** `trainer`: a `trainer/log` message; `stdout`/`stderr`: a line the process printed (native libraries print there). */
  source: 'trainer' | 'stdout' | 'stderr';
}

export interface ForkOptions {
  /** Node options of the trainer (e.g. `['--max-old-space-size=8192']`, or `['--import', 'tsx']` in tests). */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onLog?: (entry: TrainerLogEntry) => void;
  /** The trainer process ended, for whatever reason. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface StopOptions {
  /** How long the job gets to end after the stop request, and again after SIGTERM (default 30 s). */
  timeoutMs?: number;
}

export interface RunOptions {
  /** Chosen for the caller when absent. */
  jobId?: string;
  /** Aborting stops the job with a checkpoint (`trainer/stop` mode `checkpoint`). */
  signal?: AbortSignal;
  onProgress?: (p: ProgressParams) => void;
  stopTimeoutMs?: number;
}

export type JobEnd<K extends JobKind = JobKind> = JobEndParams<K>;

export interface Disposable {
  dispose(): void;
}

type InitializeOptions = Omit<InitializeParams, 'protocolVersion'>;

/** One trainer process and the connection to it. */
export class TrainerClient {
  private readonly progressListeners = new Set<(p: ProgressParams) => void>();
  private readonly jobEndListeners = new Set<(e: JobEnd) => void>();
  private readonly heartbeatListeners = new Set<(h: HeartbeatParams) => void>();
  private readonly exitListeners = new Set<(code: number | null, signal: NodeJS.Signals | null) => void>();
  /** Jobs started and not yet ended, by id, with their kind. */
  private readonly running = new Map<string, JobKind>();
  /** Ends that arrived, kept so a wait that starts late still gets them. */
  private readonly ended = new Map<string, JobEnd>();
  private readonly waiters = new Map<string, ((e: JobEnd) => void)[]>();
  /** Jobs asked to stop: if the process dies before they end, they end `cancelled`, not `failed`. */
  private readonly stopping = new Set<string>();
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  /** The last heartbeat's time on this side's clock, to notice a trainer whose event loop is stuck. */
  lastHeartbeatAt = Date.now();

  private constructor(
    readonly child: ChildProcess,
    private readonly connection: MessageConnection,
    opts: ForkOptions,
  ) {
    const onLog = opts.onLog;
    if (opts.onExit) this.exitListeners.add(opts.onExit);
    connection.onNotification(ProgressNotification, (p) => {
      for (const cb of this.progressListeners) cb(p);
    });
    connection.onNotification(LogNotification, (p) => onLog?.({ level: p.level, message: p.message, source: 'trainer' }));
    connection.onNotification(HeartbeatNotification, (h) => {
      this.lastHeartbeatAt = Date.now();
      for (const cb of this.heartbeatListeners) cb(h);
    });
    connection.onNotification(JobEndNotification, (e) => this.jobEnded(e));
    for (const [stream, source, level] of [
      [child.stdout, 'stdout', 'info'],
      [child.stderr, 'stderr', 'warn'],
    ] as const) {
      if (!stream) continue;
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (line) => onLog?.({ level, message: line, source }));
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        connection.dispose();
        // every job still running ends now: the process that ran it is gone
        for (const [jobId, kind] of [...this.running]) {
          const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
          this.jobEnded({
            jobId,
            kind,
            outcome: this.stopping.has(jobId) ? 'cancelled' : 'failed',
            error: { message: `The trainer process ${how} before the job ended.`, code: this.stopping.has(jobId) ? 'cancelled' : 'internal', retryable: true },
          } as JobEnd);
        }
        for (const cb of this.exitListeners) cb(code, signal);
        resolve();
      });
    });
    child.on('error', (error) => onLog?.({ level: 'error', message: `trainer process: ${error.message}`, source: 'stderr' }));
    connection.listen();
  }

  /** Starts the trainer bundle (`dist/trainer.js`, or any entry calling startTrainerProcess). */
  static fork(entryPath: string, opts: ForkOptions = {}): TrainerClient {
    const child = fork(entryPath, [], {
      execArgv: opts.execArgv ?? [],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    return new TrainerClient(child, connection, opts);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process has ended. */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  initialize(p: InitializeOptions): Promise<BackendReport> {
    return this.connection.sendRequest(InitializeRequest, { protocolVersion: TRAINER_PROTOCOL_VERSION, ...p });
  }

  async start<K extends JobKind>(jobId: string, job: JobSpec<K>): Promise<void> {
    // registered before the request: a job that fails at once may end before the answer is read
    this.running.set(jobId, job.kind);
    this.ended.delete(jobId);
    try {
      await this.connection.sendRequest(StartRequest, { jobId, job: job as JobSpec });
    } catch (error) {
      this.running.delete(jobId);
      throw error;
    }
  }

  /**
   * Asks a job to stop and waits for its end. If the trainer has not ended it within
   * `timeoutMs` (a stuck kernel, a blocked event loop), the process gets SIGTERM, and SIGKILL
   * after another `timeoutMs`; the job then ends `cancelled`. Resolves with the job's end, or
   * undefined when no such job was running.
   */
  async stop(jobId: string, mode: StopMode, opts: StopOptions = {}): Promise<JobEnd | undefined> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const done = this.ended.get(jobId);
    if (done) return done;
    if (!this.running.has(jobId)) return undefined;
    this.stopping.add(jobId);
    const end = this.waitForJobEnd(jobId);
    // the answer only says the request arrived; a trainer too busy to answer is handled by the timeouts
    this.connection.sendRequest(StopRequest, { jobId, mode }).catch(() => undefined);
    if (await settlesWithin(end, timeoutMs)) return end;
    this.child.kill('SIGTERM');
    if (await settlesWithin(end, timeoutMs)) return end;
    this.child.kill('SIGKILL');
    return end;
  }

  status(): Promise<StatusResult> {
    return this.connection.sendRequest(StatusRequest);
  }

  onProgress(cb: (p: ProgressParams) => void): Disposable {
    this.progressListeners.add(cb);
    return { dispose: () => void this.progressListeners.delete(cb) };
  }

  onJobEnd(cb: (e: JobEnd) => void): Disposable {
    this.jobEndListeners.add(cb);
    return { dispose: () => void this.jobEndListeners.delete(cb) };
  }

  onHeartbeat(cb: (h: HeartbeatParams) => void): Disposable {
    this.heartbeatListeners.add(cb);
    return { dispose: () => void this.heartbeatListeners.delete(cb) };
  }

  onExit(cb: (code: number | null, signal: NodeJS.Signals | null) => void): Disposable {
    this.exitListeners.add(cb);
    return { dispose: () => void this.exitListeners.delete(cb) };
  }

  /** The end of a job started through this client (resolves at once if it already ended). */
  waitForJobEnd<K extends JobKind = JobKind>(jobId: string): Promise<JobEnd<K>> {
    const done = this.ended.get(jobId);
    if (done) return Promise.resolve(done as JobEnd<K>);
    if (!this.running.has(jobId)) return Promise.reject(new Error(`No job '${jobId}' was started through this trainer.`));
    return new Promise((resolve) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push(resolve as (e: JobEnd) => void);
      this.waiters.set(jobId, list);
    });
  }

  /**
   * Starts a job and resolves with its end. Aborting `signal` stops it with a checkpoint (and
   * kills the process if it does not end in time, see `stop`).
   */
  async run<K extends JobKind>(job: JobSpec<K>, opts: RunOptions = {}): Promise<JobEnd<K>> {
    const jobId = opts.jobId ?? randomUUID();
    const progress = opts.onProgress;
    const sub = progress ? this.onProgress((p) => p.jobId === jobId && progress(p)) : undefined;
    const onAbort = (): void => void this.stop(jobId, 'checkpoint', { timeoutMs: opts.stopTimeoutMs });
    try {
      if (opts.signal?.aborted) throw new Error('The job was cancelled before it started.');
      await this.start(jobId, job);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      return await this.waitForJobEnd<K>(jobId);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      sub?.dispose();
    }
  }

  /** Asks the trainer to exit (cancelling any job) and waits for the process to end; kills it after `timeoutMs`. */
  async shutdown(timeoutMs = 5000): Promise<void> {
    if (this.exitInfo) return;
    this.connection.sendRequest(ShutdownRequest).catch(() => undefined);
    if (await settlesWithin(this.exited, timeoutMs)) return;
    this.kill('SIGKILL');
    await this.exited;
  }

  /** Kills the process now (its running job ends `failed`, or `cancelled` if a stop was asked). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exitInfo) this.child.kill(signal);
  }

  /** Resolves when the process has ended. */
  whenExited(): Promise<void> {
    return this.exited;
  }

  /** Ends the trainer: a shutdown request, then SIGKILL if it does not exit within 2 s. */
  async dispose(): Promise<void> {
    await this.shutdown(2000);
  }

  private jobEnded(e: JobEnd): void {
    if (!this.running.has(e.jobId)) return;
    this.running.delete(e.jobId);
    this.stopping.delete(e.jobId);
    this.ended.set(e.jobId, e);
    for (const resolve of this.waiters.get(e.jobId) ?? []) resolve(e);
    this.waiters.delete(e.jobId);
    for (const cb of this.jobEndListeners) cb(e);
  }
}

/** Whether `p` settles within `ms` (the timer does not keep the process alive). */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    p.then(
      () => (clearTimeout(timer), resolve(true)),
      () => (clearTimeout(timer), resolve(true)),
    );
  });
}
