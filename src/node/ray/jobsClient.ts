// Client for the Ray Jobs REST API served by a Ray cluster's dashboard (default port 8265):
// working_dir package upload, job submission, status, list, logs (whole or followed), stop and
// delete. Shared by `cai` and the extension host; the caller supplies the token (from
// SecretStorage) and this module never stores it.
//
// HTTP goes through node:http / node:https rather than the global fetch: Node's fetch always
// sends `Sec-Fetch-Mode: cors`, and the dashboard refuses POST/PUT requests that carry any
// Sec-Fetch-* / Origin / Referer header or a `Mozilla…` User-Agent as browser traffic (405).
// The log tail is a WebSocket, through the `ws` package (Node 20 has no global WebSocket).
import { isTerminalStatus } from '../../core/scaleout/clusters';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { WebSocket, type RawData } from 'ws';

export type RayJobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

export { isTerminalStatus };

/** `GET /api/version`. `version` is the Jobs API version ("4" adds DELETE). */
export interface RayVersion {
  version: string;
  ray_version: string;
  ray_commit?: string;
  session_name?: string;
}

/** A job as the server reports it (field names as Ray sends them; times in Unix ms). */
export interface RayJobDetails {
  type: 'SUBMISSION' | 'DRIVER';
  job_id: string | null;
  submission_id: string | null;
  status: RayJobStatus;
  entrypoint: string;
  message?: string | null;
  error_type?: string | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata?: Record<string, string> | null;
  runtime_env?: Record<string, unknown> | null;
  driver_exit_code?: number | null;
}

export type RayPip = string[] | { packages: string[]; pip_check?: boolean; pip_version?: string };

export interface RayRuntimeEnvSpec {
  /** A URI: the `gcs://_ray_pkg_….zip` from uploadPackage, or a remote archive (s3://, gs://, https://). */
  workingDir?: string;
  /** Python packages installed for the job (not together with imageUri). */
  pip?: RayPip;
  /** Container image the job's workers run in (not together with pip). */
  imageUri?: string;
  envVars?: Record<string, string>;
}

export interface RaySubmitSpec {
  /** Shell command run by the job's driver, e.g. `python -m openrlhf.cli.train_ppo_ray …`. */
  entrypoint: string;
  /** Chosen by the server (`raysubmit_…`) when absent; reusing an existing one is refused. */
  submissionId?: string;
  runtimeEnv?: RayRuntimeEnvSpec;
  /** Setting any entrypoint resource places the driver on a node that has it (not the head). */
  entrypointNumGpus?: number;
  entrypointNumCpus?: number;
  /** Bytes (Ray ≥ 2.8). */
  entrypointMemory?: number;
  entrypointResources?: Record<string, number>;
  metadata?: Record<string, string>;
}

export interface RayJobsClientOptions {
  /** Dashboard address, `http(s)://host:8265` (a path prefix behind a proxy is kept). */
  address: string;
  /** Sent as `Authorization: Bearer <token>` on every request and on the log-tail handshake. */
  token?: string;
  /** Permit plain http:// to a non-loopback host without a token. */
  allowInsecure?: boolean;
  /** Per-call limit (default 30 s; package uploads get at least 10 minutes). */
  timeoutMs?: number;
  /** Extra TLS settings for https:// (e.g. a private CA). */
  tls?: Pick<https.RequestOptions, 'ca' | 'rejectUnauthorized'>;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface UploadResult {
  /** `gcs://_ray_pkg_<sha1>.zip`, ready for `runtimeEnv.workingDir`. */
  uri: string;
  /** False when the cluster already had this exact package. */
  uploaded: boolean;
}

export interface FollowOptions {
  /** First reconnect delay (default 500 ms), doubled up to maxBackoffMs (default 10 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface FollowResult {
  status: RayJobStatus;
  /** Lines handed to onText (a final line without newline counts). */
  lines: number;
  reconnects: number;
}

export type RayJobsErrorKind =
  | 'badAddress' // not an http(s):// dashboard address
  | 'insecure' // open plain-http cluster refused before any request
  | 'unauthorized' // 401: token missing or not recognised
  | 'forbidden' // 403: token not allowed
  | 'notFound' // 404: unknown job / not a Jobs API
  | 'duplicateSubmission' // submission id already used
  | 'jobNotTerminal' // delete of a job still running
  | 'browserBlocked' // 405: request looked like browser traffic
  | 'badRequest' // other 400
  | 'server' // 5xx
  | 'http' // any other non-2xx
  | 'timeout'
  | 'network'
  | 'protocol'; // unexpected answer shape

/** Every failure of this client except a caller's abort (which rejects with the signal's reason). */
export class RayJobsError extends Error {
  override readonly name = 'RayJobsError';
  constructor(
    readonly kind: RayJobsErrorKind,
    message: string,
    /** HTTP status; 0 when no response came. */
    readonly status: number,
    readonly method: string,
    readonly path: string,
    /** The first meaningful line of Ray's plain-text body (the exception line of a traceback). */
    readonly detail: string,
  ) {
    super(message);
  }
}

const MAX_PACKAGE_BYTES = 100 * 1024 * 1024; // the dashboard's request body limit
const DEFAULT_TIMEOUT_MS = 30_000;
const UPLOAD_TIMEOUT_MS = 600_000;
const USER_AGENT = 'constitution-studio-ray-client';

/** The line of a plain-text error body worth showing: for a Python traceback, its exception line. */
export function meaningfulLine(body: string): string {
  const lines = body.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  if (lines.length === 0) return '';
  let pick = lines[0] ?? '';
  if (lines.some((l) => l.startsWith('Traceback (most recent call last)'))) {
    const exceptionLines = lines.filter(
      (l) => !/^\s/.test(l) && !l.startsWith('Traceback') && !l.startsWith('During handling') && !l.startsWith('The above exception'),
    );
    pick = exceptionLines[exceptionLines.length - 1] ?? pick;
  }
  return pick.length > 500 ? `${pick.slice(0, 500)}…` : pick;
}

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || h.startsWith('::ffff:127.');
  return false;
}

interface Response {
  status: number;
  body: Buffer;
}

/** Rejects with the caller's abort reason, or a RayJobsError('timeout'), whichever comes first. */
function guard(method: string, path: string, opts: CallOptions | undefined, defaultMs: number): {
  signal: AbortSignal;
  outcome: (err: unknown) => unknown;
} {
  const ms = opts?.timeoutMs ?? defaultMs;
  const timeout = AbortSignal.timeout(ms);
  const signal = opts?.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  return {
    signal,
    outcome: (err) => {
      if (opts?.signal?.aborted) return opts.signal.reason as unknown;
      if (timeout.aborted) return new RayJobsError('timeout', `Ray cluster did not answer ${method} ${path} within ${ms} ms`, 0, method, path, '');
      return err;
    },
  };
}

export class RayJobsClient {
  private readonly base: URL;
  private readonly prefix: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly tls: RayJobsClientOptions['tls'];

  constructor(opts: RayJobsClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.address);
    } catch {
      throw new RayJobsError('badAddress', `Not a URL: '${opts.address}'. Give the Ray dashboard address, e.g. http://127.0.0.1:8265`, 0, '', '', '');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RayJobsError(
        'badAddress',
        `Unsupported address scheme '${url.protocol}': the Jobs API is the dashboard's http(s):// address (port 8265), not a ray:// client address`,
        0, '', '', '',
      );
    }
    const token = opts.token ? opts.token : undefined;
    if (url.protocol === 'http:' && !isLoopback(url.hostname) && token === undefined && opts.allowInsecure !== true) {
      throw new RayJobsError(
        'insecure',
        `Refusing plain http:// to ${url.host} without a token: an open Ray cluster runs anyone's code. ` +
          'Use https://, set a cluster token (Ray token auth), or explicitly allow insecure access.',
        0, '', '', '',
      );
    }
    this.base = url;
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.token = token;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.tls = opts.tls;
  }

  async version(opts?: CallOptions): Promise<RayVersion> {
    const v = await this.json('GET', '/api/version', undefined, opts);
    if (!isRecord(v) || typeof v['version'] !== 'string') throw this.protocolError('GET', '/api/version', 'no version field');
    return v as unknown as RayVersion;
  }

  /**
   * Makes a zip available to the cluster as a working_dir and returns its `gcs://` URI. The name
   * is content-addressed: `_ray_pkg_` + the SHA-1 hex of the zip bytes, the name Ray's Python SDK
   * gives a pre-built zip (`get_uri_for_package`). The server treats the name only as a storage
   * key and never recomputes it, so identical bytes map to the same package and the upload is
   * skipped when the cluster already has it (the GET also pins it there for a while).
   */
  async uploadPackage(zip: Uint8Array, opts?: CallOptions): Promise<UploadResult> {
    if (zip.byteLength >= MAX_PACKAGE_BYTES) {
      throw new RayJobsError('badRequest', `Package is ${zip.byteLength} bytes; the Ray dashboard accepts uploads under 100 MiB. Use a remote working_dir URI for larger ones.`, 0, 'PUT', '/api/packages/gcs/', '');
    }
    const name = `_ray_pkg_${createHash('sha1').update(zip).digest('hex')}.zip`;
    const uri = `gcs://${name}`;
    const path = `/api/packages/gcs/${name}`;
    const head = await this.send('GET', path, undefined, opts);
    if (head.status === 200) return { uri, uploaded: false };
    if (head.status !== 404) throw this.httpError('GET', path, head);
    const put = await this.send('PUT', path, { data: Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength), type: 'application/zip' }, {
      ...opts,
      timeoutMs: Math.max(opts?.timeoutMs ?? this.timeoutMs, UPLOAD_TIMEOUT_MS),
    });
    if (put.status !== 200) throw this.httpError('PUT', path, put);
    return { uri, uploaded: true };
  }

  /** Returns the submission id. Fields left undefined are not sent (older servers refuse unknown keys). */
  async submit(spec: RaySubmitSpec, opts?: CallOptions): Promise<string> {
    const body = submitBody(spec);
    const r = await this.json('POST', '/api/jobs/', body, opts, spec.submissionId);
    const id = isRecord(r) ? (r['submission_id'] ?? r['job_id']) : undefined;
    if (typeof id !== 'string') throw this.protocolError('POST', '/api/jobs/', 'no submission_id in the answer');
    return id;
  }

  async status(id: string, opts?: CallOptions): Promise<RayJobDetails> {
    const path = `/api/jobs/${encodeURIComponent(id)}`;
    const r = await this.json('GET', path, undefined, opts, id);
    if (!isJobDetails(r)) throw this.protocolError('GET', path, 'not a job');
    return r;
  }

  async list(opts?: CallOptions): Promise<RayJobDetails[]> {
    const r = await this.json('GET', '/api/jobs/', undefined, opts);
    if (!Array.isArray(r)) throw this.protocolError('GET', '/api/jobs/', 'expected a list of jobs');
    return r.filter(isJobDetails);
  }

  /** The whole driver log so far ("" while the job is still pending). */
  async logs(id: string, opts?: CallOptions): Promise<string> {
    const path = `/api/jobs/${encodeURIComponent(id)}/logs`;
    const r = await this.json('GET', path, undefined, opts, id);
    if (!isRecord(r) || typeof r['logs'] !== 'string') throw this.protocolError('GET', path, 'no logs field');
    return r['logs'];
  }

  /** True when the job was running and is now being stopped; false when it had already ended. */
  async stop(id: string, opts?: CallOptions): Promise<boolean> {
    const path = `/api/jobs/${encodeURIComponent(id)}/stop`;
    const r = await this.json('POST', path, undefined, opts, id);
    return isRecord(r) && r['stopped'] === true;
  }

  /** Deletes a finished job's record and logs; a job still running is refused (stop it first). */
  async delete(id: string, opts?: CallOptions): Promise<boolean> {
    const path = `/api/jobs/${encodeURIComponent(id)}`;
    const r = await this.json('DELETE', path, undefined, opts, id);
    return isRecord(r) && r['deleted'] === true;
  }

  /**
   * Streams the job's driver log to onText as whole lines (each ending in "\n"); a last line
   * without a newline is delivered only once the job has ended. The server's tail replays the
   * log from the start on every connection, so after a dropped connection the client reconnects
   * (with backoff, while the job is not terminal) and skips what it already delivered. Resolves
   * when the job is terminal and the tail has closed normally; rejects with the signal's reason
   * when aborted.
   */
  async followLogs(id: string, onText: (text: string) => void, signal?: AbortSignal, options?: FollowOptions): Promise<FollowResult> {
    const minBackoff = options?.minBackoffMs ?? 500;
    const maxBackoff = options?.maxBackoffMs ?? 10_000;
    const path = `/api/jobs/${encodeURIComponent(id)}/logs/tail`;
    let delivered = 0; // characters of complete lines already handed to onText
    let lines = 0;
    let reconnects = 0;
    let backoff = minBackoff;
    let terminalDrops = 0;
    for (;;) {
      signal?.throwIfAborted();
      let seen = 0; // characters of complete lines received on this connection
      let carry = '';
      const onMessage = (text: string): void => {
        carry += text;
        const cut = carry.lastIndexOf('\n');
        if (cut < 0) return;
        const whole = carry.slice(0, cut + 1);
        carry = carry.slice(cut + 1);
        const start = seen;
        seen += whole.length;
        if (seen <= delivered) return;
        const fresh = whole.slice(Math.max(0, delivered - start));
        delivered = seen;
        lines += fresh.split('\n').length - 1;
        onText(fresh);
        backoff = minBackoff;
      };
      let closedNormally = false;
      try {
        const code = await this.tail(path, id, onMessage, signal);
        closedNormally = code !== 1006;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof RayJobsError) || (err.kind !== 'network' && err.kind !== 'timeout' && err.kind !== 'server')) throw err;
      }
      let job: RayJobDetails | undefined;
      try {
        job = await this.status(id, { signal });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof RayJobsError) || (err.kind !== 'network' && err.kind !== 'timeout' && err.kind !== 'server')) throw err;
      }
      if (job && isTerminalStatus(job.status)) {
        if (closedNormally || terminalDrops >= 2) {
          if (!closedNormally) {
            // The tail keeps dropping after the end: take the rest from the whole log.
            const all = await this.logs(id, { signal });
            const rest = all.slice(delivered);
            if (rest) {
              lines += rest.split('\n').length - (rest.endsWith('\n') ? 1 : 0);
              onText(rest);
            }
          } else if (carry && seen >= delivered) {
            lines += 1;
            onText(carry);
          }
          return { status: job.status, lines, reconnects };
        }
        terminalDrops += 1;
      }
      reconnects += 1;
      await sleep(backoff, signal);
      backoff = Math.min(maxBackoff, backoff * 2);
    }
  }

  // ---- HTTP --------------------------------------------------------------------------------

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: 'application/json' };
    if (this.token !== undefined) h['Authorization'] = `Bearer ${this.token}`;
    return h;
  }

  private requestOptions(method: string, path: string, headers: Record<string, string>): https.RequestOptions {
    return {
      protocol: this.base.protocol,
      hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
      port: this.base.port || (this.base.protocol === 'https:' ? 443 : 80),
      path: this.prefix + path,
      method,
      headers,
      ...(this.base.protocol === 'https:' ? this.tls : {}),
    };
  }

  private send(method: string, path: string, body: { data: Buffer; type: string } | undefined, opts?: CallOptions): Promise<Response> {
    const { signal, outcome } = guard(method, path, opts, this.timeoutMs);
    return new Promise<Response>((resolve, reject) => {
      if (signal.aborted) {
        reject(outcome(signal.reason));
        return;
      }
      const headers = this.headers();
      if (body) {
        headers['Content-Type'] = body.type;
        headers['Content-Length'] = String(body.data.byteLength);
      }
      const lib = this.base.protocol === 'https:' ? https : http;
      const req = lib.request(this.requestOptions(method, path, headers), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          signal.removeEventListener('abort', onAbort);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
        res.on('error', fail);
      });
      function fail(err: Error): void {
        signal.removeEventListener('abort', onAbort);
        const e = outcome(err);
        reject(e instanceof Error && !(e instanceof RayJobsError) && !signal.aborted
          ? new RayJobsError('network', `Cannot reach the Ray cluster (${method} ${path}): ${e.message}`, 0, method, path, e.message)
          : e);
      }
      const onAbort = (): void => {
        req.destroy(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', fail);
      req.end(body?.data);
    });
  }

  private async json(method: string, path: string, body: unknown, opts?: CallOptions, jobId?: string): Promise<unknown> {
    const r = await this.send(method, path, body === undefined ? undefined : { data: Buffer.from(JSON.stringify(body)), type: 'application/json' }, opts);
    if (r.status < 200 || r.status > 299) throw this.httpError(method, path, r, jobId);
    try {
      return JSON.parse(r.body.toString('utf8')) as unknown;
    } catch {
      throw this.protocolError(method, path, 'the answer is not JSON');
    }
  }

  private httpError(method: string, path: string, r: Response, jobId?: string): RayJobsError {
    const text = r.body.toString('utf8');
    const detail = meaningfulLine(text);
    const where = `${method} ${path}`;
    const s = r.status;
    const err = (kind: RayJobsErrorKind, msg: string): RayJobsError => new RayJobsError(kind, msg, s, method, path, detail);
    if (s === 401) return err('unauthorized', `Ray cluster requires a token: the token is missing or not recognised (401 on ${where}). Set the cluster token.`);
    if (s === 403) return err('forbidden', `Ray cluster refused the token: it is not allowed (403 on ${where}). Check the cluster token.`);
    if (/Please use a different submission_id|already exists\. Please use/i.test(text)) {
      return err('duplicateSubmission', `A job with submission id '${jobId ?? '?'}' already exists on the Ray cluster; choose a different submission id.`);
    }
    if (s === 404) {
      if (path === '/api/version') return err('notFound', `No Ray Jobs API at ${this.base.origin}${this.prefix} (404 on ${where}); give the dashboard address (port 8265).`);
      if (jobId !== undefined) return err('notFound', `Unknown Ray job '${jobId}' (404 on ${where}).`);
      return err('notFound', `Not found: ${where}${detail ? ` — ${detail}` : ''}`);
    }
    if (/non-terminal state/.test(text)) return err('jobNotTerminal', `Ray job '${jobId ?? '?'}' is still running and cannot be deleted; stop it first.`);
    if (s === 405) return err('browserBlocked', `Ray cluster refused ${where} as browser traffic (405): ${detail}`);
    if (s === 400) return err('badRequest', `Ray cluster rejected ${where} (400): ${detail}`);
    if (s >= 500) return err('server', `Ray cluster failed on ${where} (${s}): ${detail}`);
    return err('http', `Ray cluster answered ${s} to ${where}: ${detail}`);
  }

  private protocolError(method: string, path: string, why: string): RayJobsError {
    return new RayJobsError('protocol', `Unexpected answer from the Ray cluster to ${method} ${path}: ${why}`, 200, method, path, why);
  }

  // ---- WebSocket log tail ------------------------------------------------------------------

  /** One connection to the tail; resolves with the close code (1006: dropped without a close frame). */
  private tail(path: string, jobId: string, onMessage: (text: string) => void, outer?: AbortSignal): Promise<number> {
    const { signal: connectSignal, outcome } = guard('GET', path, { signal: outer }, this.timeoutMs);
    return new Promise<number>((resolve, reject) => {
      const url = new URL(this.prefix + path, this.base);
      url.protocol = this.base.protocol === 'https:' ? 'wss:' : 'ws:';
      const ws = new WebSocket(url, { headers: this.headers(), perMessageDeflate: false, ...(this.base.protocol === 'https:' ? this.tls : {}) });
      let open = false;
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        connectSignal.removeEventListener('abort', onConnectAbort);
        outer?.removeEventListener('abort', onAbort);
        fn();
      };
      const onConnectAbort = (): void => {
        if (open) return;
        ws.terminate();
        finish(() => reject(outcome(new Error('aborted'))));
      };
      const onAbort = (): void => {
        ws.terminate();
        finish(() => reject(outer?.reason));
      };
      connectSignal.addEventListener('abort', onConnectAbort, { once: true });
      outer?.addEventListener('abort', onAbort, { once: true });
      ws.on('open', () => {
        open = true;
      });
      ws.on('message', (data: RawData) => onMessage(rawText(data)));
      ws.on('close', (code) => finish(() => resolve(code)));
      // An HTTP answer instead of the upgrade: Ray's plain-text error (unknown job, auth).
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(() => reject(this.httpError('GET', path, { status: res.statusCode ?? 0, body: Buffer.concat(chunks) }, jobId))));
      });
      ws.on('error', (e) => {
        if (open) return; // 'close' follows with 1006 and the caller reconnects
        finish(() => reject(new RayJobsError('network', `Cannot reach the Ray cluster (GET ${path}): ${e.message}`, 0, 'GET', path, e.message)));
      });
    });
  }
}

function submitBody(spec: RaySubmitSpec): Record<string, unknown> {
  const env = spec.runtimeEnv;
  if (env?.pip !== undefined && env.imageUri !== undefined) {
    throw new RayJobsError('badRequest', 'runtimeEnv: give either pip or imageUri, not both (install the packages into the image instead).', 0, 'POST', '/api/jobs/', '');
  }
  if (env?.workingDir !== undefined && !/^[a-z][a-z0-9+.-]*:\/\//i.test(env.workingDir)) {
    throw new RayJobsError('badRequest', `runtimeEnv.workingDir must be a URI (upload the directory first: uploadPackage gives a gcs:// URI), not '${env.workingDir}'.`, 0, 'POST', '/api/jobs/', '');
  }
  const runtimeEnv: Record<string, unknown> = {};
  if (env?.workingDir !== undefined) runtimeEnv['working_dir'] = env.workingDir;
  if (env?.pip !== undefined) runtimeEnv['pip'] = env.pip;
  if (env?.imageUri !== undefined) runtimeEnv['image_uri'] = env.imageUri;
  if (env?.envVars !== undefined) runtimeEnv['env_vars'] = env.envVars;
  const body: Record<string, unknown> = { entrypoint: spec.entrypoint };
  if (spec.submissionId !== undefined) body['submission_id'] = spec.submissionId;
  if (Object.keys(runtimeEnv).length > 0) body['runtime_env'] = runtimeEnv;
  if (spec.metadata !== undefined) body['metadata'] = spec.metadata;
  if (spec.entrypointNumCpus !== undefined) body['entrypoint_num_cpus'] = spec.entrypointNumCpus;
  if (spec.entrypointNumGpus !== undefined) body['entrypoint_num_gpus'] = spec.entrypointNumGpus;
  if (spec.entrypointMemory !== undefined) body['entrypoint_memory'] = spec.entrypointMemory;
  if (spec.entrypointResources !== undefined) body['entrypoint_resources'] = spec.entrypointResources;
  return body;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isJobDetails(v: unknown): v is RayJobDetails {
  return isRecord(v) && typeof v['status'] === 'string' && typeof v['entrypoint'] === 'string';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A WebSocket message as text (a message may arrive as one buffer or as fragments). */
function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
