// The trainer process: answers the requests of src/protocol/trainer.ts over its IPC channel, runs
// one job at a time through the JobRegistry, and sends progress, logs, heartbeats and job ends.
// It exits on `trainer/shutdown` and whenever its parent is gone, so no orphaned trainer keeps a
// GPU busy after the editor or `cai` died.
import { type Message, type MessageReader, type MessageWriter, AbstractMessageWriter, ErrorCodes, IPCMessageReader, ResponseError, createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node';
import {
  type BackendReport,
  type HeartbeatParams,
  type InitializeParams,
  type JobEndParams,
  type JobErrorInfo,
  type JobKind,
  type JobSpec,
  type LogLevel,
  type StatusResult,
  type StopMode,
  HEARTBEAT_INTERVAL_MS,
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
  TrainerErrorCodes,
} from '../protocol/trainer.js';
import { type JobContext, type JobRegistry, JobCancellationSource, JobCancelledError, toJobErrorInfo, unknownKindError } from './jobs.js';
import { isAlive } from './pids.js';

export interface TrainerOptions {
  registry: JobRegistry;
  /** Loads the chosen backend, runs its self-test and says what it chose. */
  initializeBackend: (params: InitializeParams) => Promise<BackendReport>;
  /** Fields the engine adds to each heartbeat (e.g. its live tensor count). */
  heartbeatExtras?: () => Pick<HeartbeatParams, 'tensors'>;
  heartbeatIntervalMs?: number;
  /** How long shutdown waits for a cancelled job to end before answering (default 5 s). */
  shutdownGraceMs?: number;
}

export interface ServeOptions extends TrainerOptions {
  /** Called once when the trainer is done (shutdown, parent gone, fatal error); the process exits here. */
  exit?: (code: number) => void;
}

export interface TrainerServer {
  readonly connection: MessageConnection;
  status(): StatusResult;
  /** Ends the running job as failed (`internal`) and sends that before resolving. */
  failCurrentJob(error: unknown): Promise<void>;
  log(level: LogLevel, message: string): void;
  /** Ends serving: stops the heartbeat, closes the connection, calls `exit`. */
  close(code: number): Promise<void>;
  /** Resolves with the exit code once the trainer is done. */
  readonly closed: Promise<number>;
}

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

interface RunningJob {
  jobId: string;
  kind: JobKind;
  cancel: JobCancellationSource;
  stopMode?: StopMode;
  stage?: string;
  step?: number;
  totalSteps?: number;
  ended: boolean;
  /** Resolves when the job's jobEnd has been sent. */
  done: Promise<void>;
  markDone: () => void;
}

/** The trainer over any message transport (an IPC channel, or in-memory pipes in tests). */
export function serveTrainer(reader: MessageReader, writer: MessageWriter, opts: ServeOptions): TrainerServer {
  // every write is tracked, so that shutdown and fatal errors can wait until what was sent has left
  const pendingWrites = new Set<Promise<void>>();
  const tracked: MessageWriter = {
    onError: writer.onError,
    onClose: writer.onClose,
    end: () => writer.end(),
    dispose: () => writer.dispose(),
    write: (msg: Message) => {
      const p = writer.write(msg);
      const settled = p.then(
        () => undefined,
        () => undefined,
      );
      pendingWrites.add(settled);
      void settled.then(() => pendingWrites.delete(settled));
      return p;
    },
  };
  const flush = async (): Promise<void> => {
    while (pendingWrites.size > 0) await Promise.all([...pendingWrites]);
  };

  const connection = createMessageConnection(reader, tracked);
  let report: BackendReport | undefined;
  let initializing: Promise<BackendReport> | undefined;
  let logLevel: LogLevel = 'info';
  let current: RunningJob | undefined;
  let finished = false;
  let shuttingDown = false;
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));

  const notify = (send: () => Promise<void>): void => {
    if (finished) return;
    try {
      void send().catch(() => undefined);
    } catch {
      // the connection is closed: nobody is listening any more
    }
  };

  const log = (level: LogLevel, message: string): void => {
    if (LEVELS.indexOf(level) < LEVELS.indexOf(logLevel)) return;
    notify(() => connection.sendNotification(LogNotification, { level, message }));
  };

  const status = (): StatusResult => {
    if (!current) return { state: 'idle', backend: report?.backend };
    return {
      state: current.stopMode ? 'stopping' : 'running',
      jobId: current.jobId,
      stage: current.stage,
      step: current.step,
      totalSteps: current.totalSteps,
      backend: report?.backend,
    };
  };

  /** Sends the job's end, once; later calls (a runner finishing after a fatal error) do nothing. */
  const endJob = (job: RunningJob, end: Omit<JobEndParams, 'jobId' | 'kind'>): void => {
    if (job.ended) return;
    job.ended = true;
    if (current === job) current = undefined;
    job.cancel.cancel();
    notify(() => connection.sendNotification(JobEndNotification, { jobId: job.jobId, kind: job.kind, ...end } as JobEndParams));
    job.markDone();
  };

  const runJob = async (job: RunningJob, spec: JobSpec): Promise<void> => {
    const ctx: JobContext = {
      jobId: job.jobId,
      token: job.cancel.token,
      stopRequested: () => job.stopMode,
      throwIfCancelled: () => {
        if (job.cancel.token.isCancellationRequested) throw new JobCancelledError();
      },
      progress: (p) => {
        if (job.ended) return;
        job.stage = p.stage;
        job.step = p.step;
        job.totalSteps = p.totalSteps;
        notify(() => connection.sendNotification(ProgressNotification, { jobId: job.jobId, ...p }));
      },
      log: (level, message) => {
        if (!job.ended) log(level, message);
      },
    };
    try {
      const result = await opts.registry.run(spec, ctx);
      endJob(job, { outcome: job.stopMode ? 'stopped' : 'completed', result });
    } catch (error) {
      let info: JobErrorInfo = toJobErrorInfo(error);
      // a job that dies of its own cancellation (an aborted read, say) was cancelled, not broken
      if (info.code === 'internal' && job.cancel.token.isCancellationRequested) info = { ...info, code: 'cancelled' };
      if (info.code === 'internal') log('error', `job ${job.jobId} failed: ${error instanceof Error ? (error.stack ?? error.message) : info.message}`);
      endJob(job, { outcome: info.code === 'cancelled' ? 'cancelled' : 'failed', error: info });
    }
  };

  connection.onRequest(InitializeRequest, async (params) => {
    if (params?.protocolVersion !== TRAINER_PROTOCOL_VERSION) {
      throw new ResponseError(
        TrainerErrorCodes.protocolVersion,
        `The trainer speaks protocol version ${TRAINER_PROTOCOL_VERSION}, the parent ${String(params?.protocolVersion)}: the extension and its trainer bundle are out of step; reinstall.`,
      );
    }
    if (report && report.requested !== params.backend) {
      throw new ResponseError(ErrorCodes.InvalidRequest, `The trainer is already initialized with backend '${report.backend}'; start a new trainer for '${params.backend}'.`);
    }
    logLevel = LEVELS.includes(params.logLevel) ? params.logLevel : 'info';
    if (report) return report;
    initializing ??= opts.initializeBackend(params);
    try {
      report = await initializing;
      for (const f of report.fallbacks) log('warn', `backend ${f.backend} not used: ${f.error}`);
      log('info', `backend ${report.backend}: ${report.reason} (tfjs ${report.tfjsVersion}, Node ${report.nodeVersion}, self-test ${report.selfTest.seconds.toFixed(2)} s)`);
      return report;
    } catch (error) {
      initializing = undefined;
      const info = toJobErrorInfo(error);
      throw new ResponseError(ErrorCodes.InternalError, `The backend could not be initialized: ${info.message}`, info);
    }
  });

  connection.onRequest(StartRequest, (params) => {
    if (!report) throw new ResponseError(TrainerErrorCodes.notInitialized, 'The trainer is not initialized: send trainer/initialize first.');
    if (shuttingDown || finished) throw new ResponseError(ErrorCodes.InvalidRequest, 'The trainer is shutting down.');
    if (current) throw new ResponseError(TrainerErrorCodes.busy, `The trainer is running job '${current.jobId}'; stop it or wait for its end.`);
    const jobId = params?.jobId;
    if (typeof jobId !== 'string' || jobId === '') {
      const info: JobErrorInfo = { message: 'trainer/start needs a non-empty jobId.', code: 'config', retryable: false };
      throw new ResponseError(TrainerErrorCodes.jobRefused, info.message, info);
    }
    const spec = params.job;
    const kind = (spec as { kind?: unknown } | undefined)?.kind;
    if (typeof kind !== 'string' || !opts.registry.has(kind)) {
      const info = toJobErrorInfo(unknownKindError(kind, opts.registry.kinds()));
      throw new ResponseError(TrainerErrorCodes.jobRefused, info.message, info);
    }
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const job: RunningJob = { jobId, kind: kind as JobKind, cancel: new JobCancellationSource(), ended: false, done, markDone };
    current = job;
    // the job begins after the answer has been written, so its first progress follows `accepted`
    setImmediate(() => void runJob(job, spec));
    return { accepted: true as const };
  });

  connection.onRequest(StopRequest, (params) => {
    const job = current;
    if (!job || job.jobId !== params?.jobId) return { stopped: false };
    const mode: StopMode = params.mode === 'now' ? 'now' : 'checkpoint';
    if (job.stopMode !== 'now') job.stopMode = mode;
    if (mode === 'now') job.cancel.cancel();
    log('info', `job ${job.jobId}: stop requested (${mode})`);
    return { stopped: true };
  });

  connection.onRequest(StatusRequest, () => status());

  connection.onRequest(ShutdownRequest, async () => {
    shuttingDown = true;
    const job = current;
    if (job) {
      job.stopMode = 'now';
      job.cancel.cancel();
      const grace = opts.shutdownGraceMs ?? 5000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([job.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, grace)))]);
      clearTimeout(timer);
      // a job that ignores cancellation still gets its end, so the parent never waits forever
      endJob(job, { outcome: 'cancelled', error: { message: 'The trainer shut down.', code: 'cancelled', retryable: true } });
    }
    // exit once the answer has been written (it is written in a microtask after this returns)
    setTimeout(() => void close(0), 0);
  });

  const heartbeat = setInterval(() => {
    const extras = opts.heartbeatExtras?.() ?? {};
    notify(() => connection.sendNotification(HeartbeatNotification, { time: Date.now(), rssBytes: process.memoryUsage.rss(), ...extras }));
  }, opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();

  const close = async (code: number): Promise<void> => {
    if (finished) return;
    // whatever is on its way out (the shutdown answer, a last jobEnd) leaves first
    await Promise.race([flush(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    if (finished) return;
    finished = true;
    clearInterval(heartbeat);
    current?.cancel.cancel();
    connection.dispose();
    resolveClosed(code);
    opts.exit?.(code);
  };

  const failCurrentJob = async (error: unknown): Promise<void> => {
    const job = current;
    if (!job) return;
    const info = toJobErrorInfo(error);
    endJob(job, { outcome: 'failed', error: { ...info, code: info.code === 'cancelled' ? 'internal' : info.code } });
    await Promise.race([flush(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  };

  // the parent closed its end: nobody will read what this trainer computes
  connection.onClose(() => void close(0));
  connection.listen();

  return { connection, status, failCurrentJob, log, close, closed };
}

/** Writes to the parent over the IPC channel; a write resolves once Node has handed it on, so it can be awaited before exiting. */
class FlushingIpcWriter extends AbstractMessageWriter implements MessageWriter {
  write(msg: Message): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => {
        this.fireError(error, msg, 1);
        reject(error);
      };
      try {
        if (!process.send || !process.connected) return fail(new Error('The IPC channel to the parent is closed.'));
        process.send(msg, undefined, undefined, (error: Error | null) => (error ? fail(error) : resolve()));
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }
  end(): void {}
}


/** Exit codes of the trainer besides 0. */
export const TrainerExitCodes = { fatal: 70, parentGone: 3 } as const;

/**
 * Starts the trainer in this process, which must have been started with `child_process.fork()`.
 * Ties the process's life to its parent's: it exits when the IPC channel disconnects, when the
 * parent's pid is gone (checked every second, for parents killed without closing the channel
 * cleanly), and after `trainer/shutdown`.
 */
export function startTrainerProcess(opts: TrainerOptions & { parentCheckMs?: number }): TrainerServer {
  if (typeof process.send !== 'function') {
    throw new Error('The trainer talks to its parent over an IPC channel: start it with child_process.fork().');
  }
  const server = serveTrainer(new IPCMessageReader(process), new FlushingIpcWriter(), {
    ...opts,
    exit: (code) => process.exit(code),
  });

  process.on('disconnect', () => void server.close(TrainerExitCodes.parentGone));
  const parent = process.ppid;
  const watch = setInterval(() => {
    // once the parent dies the process is re-parented, so a changed ppid means the same
    if (process.ppid !== parent || !isAlive(parent)) void server.close(TrainerExitCodes.parentGone);
  }, opts.parentCheckMs ?? 1000);
  watch.unref();

  // an error nothing caught: report it as the running job's failure, then exit (the state of the
  // engine is unknown after it; the parent starts a fresh trainer)
  let dying = false;
  const fatal = (error: unknown): void => {
    if (dying) return;
    dying = true;
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    try {
      process.stderr.write(`trainer: uncaught error: ${text}\n`);
    } catch {
      // stderr may be gone with the parent
    }
    server.log('error', `uncaught error: ${text}`);
    void server.failCurrentJob(error).finally(() => void server.close(TrainerExitCodes.fatal));
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  return server;
}
