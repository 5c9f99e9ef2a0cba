// The HTTP client the remote providers share. It is pure: the bytes travel through an injected
// HttpTransport (src/trainer/nodeHttp.ts in Node), and time through an injected Clock, so tests
// can record every wait. The client adds what every endpoint needs: retries with backoff that
// honour Retry-After, a cap on requests in flight, a rate limit, cancellation, counters, and
// error messages that name the endpoint but never a secret.

import { backoffDelay, isRetryableStatus, parseRetryAfter, retryPolicy, type RetryPolicy } from './retry.js';
import { type CancelSignal, ProviderError } from './types.js';

export type HttpMethod = 'GET' | 'POST';

export interface HttpRequest {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** How long opening the connection may take. */
  connectTimeoutMs: number;
  /** How long the whole exchange may take, until the last byte of the body. */
  timeoutMs: number;
  signal?: CancelSignal;
}

export interface HttpResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body, decoded as UTF-8. */
  text: string;
}

/** Moves one request and its response; rejects with a TransportError when no response came. */
export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** Closes idle connections (optional). */
  dispose?(): void;
}

/**
 * `connect`: no connection (refused, unknown host, connect timeout); `timeout`: the exchange
 * took longer than its limit; `reset`: the connection broke before the response was complete;
 * `aborted`: the caller's signal fired.
 */
export type TransportErrorKind = 'connect' | 'timeout' | 'reset' | 'aborted';

export class TransportError extends Error {
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** The caller's CancelSignal fired; nothing went wrong with the endpoint. */
export class CancelledError extends Error {
  constructor(message = 'The request was cancelled.') {
    super(message);
    this.name = 'CancelledError';
  }
}

/** Time as the client sees it; tests inject one that records waits. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with CancelledError as soon as `signal` fires. */
  sleep(ms: number, signal?: CancelSignal): Promise<void>;
}

// src/core has no DOM or Node typings; every runtime the core runs in has these two.
interface TimerHost {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
const timers = globalThis as unknown as TimerHost;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new CancelledError());
        return;
      }
      const onAbort = (): void => {
        timers.clearTimeout(handle);
        reject(new CancelledError());
      };
      const handle = timers.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

// ---------------------------------------------------------------------------------------------
// URLs and secrets in messages

const URL_PARTS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:[^@/?#]*@)?([^/?#]*)([^?#]*)/;

function splitUrl(url: string): { origin: string; path: string } | undefined {
  const m = URL_PARTS.exec(url.trim());
  if (!m) return undefined;
  const scheme = (m[1] ?? '').toLowerCase();
  let host = (m[2] ?? '').toLowerCase();
  if ((scheme === 'http' && host.endsWith(':80')) || (scheme === 'https' && host.endsWith(':443'))) host = host.slice(0, host.lastIndexOf(':'));
  return { origin: `${scheme}://${host}`, path: m[3] ?? '' };
}

/** `scheme://host[:port]` of a URL, without user info; undefined when it is not an absolute URL. */
export function originOf(url: string): string | undefined {
  return splitUrl(url)?.origin;
}

/** The origin and path of a URL (no user info, query or fragment): how messages name an endpoint. */
export function endpointOf(url: string): string {
  const parts = splitUrl(url);
  if (parts) return parts.origin + parts.path;
  return url.replace(/[?#].*$/s, '');
}

/**
 * `text` with every occurrence of each secret, and any `Bearer <token>`, replaced by `***`.
 * Every message the client and the providers build passes through here.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  const sorted = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  for (const s of sorted) out = out.split(s).join('***');
  return out.replace(/(Bearer\s+)[^\s"',;]+/gi, '$1***');
}

/** The message an endpoint gave with an error status, from the usual JSON shapes or the text. */
export function serverMessage(text: string, limit = 300): string {
  let msg = text;
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === 'object') {
      const o = body as Record<string, unknown>;
      const err = o['error'];
      if (typeof err === 'string') msg = err;
      else if (err && typeof err === 'object' && typeof (err as Record<string, unknown>)['message'] === 'string') msg = (err as Record<string, unknown>)['message'] as string;
      else if (typeof o['message'] === 'string') msg = o['message'];
      else if (typeof o['detail'] === 'string') msg = o['detail'];
      else if (o['detail'] !== undefined) msg = JSON.stringify(o['detail']);
    }
  } catch {
    // not JSON: the text itself
  }
  msg = msg.replace(/\s+/g, ' ').trim();
  return msg.length > limit ? `${msg.slice(0, limit)}…` : msg;
}

// ---------------------------------------------------------------------------------------------
// Concurrency and rate

function cancelled(signal: CancelSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/** Rejects with CancelledError as soon as `signal` fires, whatever `promise` does. */
function raceAbort<T>(promise: Promise<T>, signal: CancelSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new CancelledError());
    if (signal.aborted) {
      onAbort();
      promise.catch(() => undefined);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

class Semaphore {
  private free: number;
  private readonly waiters: { grant: () => void }[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(signal?: CancelSignal): Promise<() => void> {
    cancelled(signal);
    if (this.free > 0) {
      this.free--;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new CancelledError());
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      if (next) next.grant();
      else this.free++;
    };
  }
}

/**
 * A token bucket kept as the time the next token is due (GCRA): `burst` requests may start at
 * once, then one every 1/rate seconds. Each caller reserves its start time, so waiters keep
 * their order without a queue.
 */
class RateLimiter {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  private due = -Infinity;

  constructor(
    perSecond: number,
    burst: number,
    private readonly clock: Clock,
  ) {
    this.intervalMs = 1000 / perSecond;
    this.toleranceMs = (Math.max(1, burst) - 1) * this.intervalMs;
  }

  async take(signal?: CancelSignal): Promise<void> {
    const now = this.clock.now();
    const start = Math.max(now, this.due - this.toleranceMs);
    this.due = Math.max(this.due, now) + this.intervalMs;
    if (start > now) await this.clock.sleep(start - now, signal);
  }
}

// ---------------------------------------------------------------------------------------------
// The client

export interface HttpClientOptions {
  transport: HttpTransport;
  retry?: Partial<RetryPolicy>;
  /** Requests in flight at once (default 4). */
  maxConcurrency?: number;
  /** Requests started per second; 0 or absent: no limit. */
  requestsPerSecond?: number;
  /** Requests that may start at once under the rate limit (default 1). */
  burst?: number;
  clock?: Clock;
  /** [0, 1) random source for backoff jitter (default Math.random). */
  random?: () => number;
  /** Strings no error message may contain (API keys). */
  secrets?: string[];
}

export interface ClientRequest {
  method: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: CancelSignal;
  /** This request's retry budget, if not the policy's. */
  maxRetries?: number;
}

/** Read by metrics: attempts sent, retries made, requests that ended in an error (cancellations aside), attempts now in flight. */
export interface HttpCounters {
  requests: number;
  retries: number;
  failures: number;
  inFlight: number;
}

/** Thrown by a response parser when a 2xx body cannot be used: the client retries it. */
export class MalformedResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedResponseError';
  }
}

type Attempt<T> =
  | { ok: true; value: T }
  | { ok: false; fatal: ProviderError }
  | { ok: false; fatal?: undefined; failure: string; status?: number; retryAfterMs?: number };

export class HttpClient {
  readonly policy: RetryPolicy;
  private readonly transport: HttpTransport;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly semaphore: Semaphore;
  private readonly limiter: RateLimiter | undefined;
  private readonly secrets: string[];
  private readonly stats: HttpCounters = { requests: 0, retries: 0, failures: 0, inFlight: 0 };

  constructor(options: HttpClientOptions) {
    this.policy = retryPolicy(options.retry);
    this.transport = options.transport;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    const cap = options.maxConcurrency ?? 4;
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`maxConcurrency must be a positive integer, got ${cap}`);
    this.semaphore = new Semaphore(cap);
    const rps = options.requestsPerSecond ?? 0;
    if (!Number.isFinite(rps) || rps < 0) throw new RangeError(`requestsPerSecond must be a non-negative number, got ${rps}`);
    this.limiter = rps > 0 ? new RateLimiter(rps, options.burst ?? 1, this.clock) : undefined;
    this.secrets = [...(options.secrets ?? [])];
  }

  /** Adds a string that no error message may contain. */
  addSecret(secret: string | undefined): void {
    if (secret && !this.secrets.includes(secret)) this.secrets.push(secret);
  }

  /** `text` with the client's secrets removed. */
  redact(text: string): string {
    return redact(text, this.secrets);
  }

  get counters(): Readonly<HttpCounters> {
    return { ...this.stats };
  }

  /** A 2xx response; throws ProviderError (or CancelledError) otherwise. */
  request(req: ClientRequest): Promise<HttpResponse> {
    return this.send(req, (res) => res);
  }

  /** The parsed JSON body of a 2xx response; a body that is not JSON is retried like a 5xx. */
  requestJson(req: ClientRequest): Promise<unknown> {
    return this.send(req, (res) => {
      try {
        return JSON.parse(res.text) as unknown;
      } catch {
        const head = res.text.replace(/\s+/g, ' ').trim().slice(0, 80);
        throw new MalformedResponseError(`malformed JSON in a ${res.status} response${head ? ` (starts "${head}")` : ' (empty body)'}`);
      }
    });
  }

  /**
   * Sends `req` until a 2xx response passes `parse` (which may throw MalformedResponseError to
   * ask again), a status refuses it, or the retry budget is spent.
   */
  async send<T>(req: ClientRequest, parse: (res: HttpResponse) => T): Promise<T> {
    const name = `${req.method} ${endpointOf(req.url)}`;
    const budget = req.maxRetries ?? this.policy.maxRetries;
    for (let attempt = 0; ; attempt++) {
      let outcome: Attempt<T>;
      try {
        outcome = await this.attempt(req, name, parse);
      } catch (e) {
        if (!(e instanceof CancelledError)) this.stats.failures++;
        throw e;
      }
      if (outcome.ok) return outcome.value;
      if (outcome.fatal) {
        this.stats.failures++;
        throw outcome.fatal;
      }
      if (attempt >= budget) {
        this.stats.failures++;
        const tries = attempt + 1;
        throw new ProviderError(this.redact(`${name} failed after ${tries} attempt${tries === 1 ? '' : 's'}; last: ${outcome.failure}`), 'retryable', outcome.status);
      }
      this.stats.retries++;
      const backoff = backoffDelay(attempt, { baseMs: this.policy.baseMs, maxMs: this.policy.maxMs, jitter: this.random });
      try {
        await this.clock.sleep(Math.max(backoff, outcome.retryAfterMs ?? 0), req.signal);
      } catch (e) {
        if (!(e instanceof CancelledError)) this.stats.failures++;
        throw e;
      }
    }
  }

  private async attempt<T>(req: ClientRequest, name: string, parse: (res: HttpResponse) => T): Promise<Attempt<T>> {
    const signal = req.signal;
    const release = await this.semaphore.acquire(signal);
    let res: HttpResponse;
    try {
      if (this.limiter) await this.limiter.take(signal);
      cancelled(signal);
      this.stats.requests++;
      this.stats.inFlight++;
      try {
        const sent = this.transport.request({
          method: req.method,
          url: req.url,
          headers: { ...(req.headers ?? {}) },
          ...(req.body !== undefined ? { body: req.body } : {}),
          connectTimeoutMs: this.policy.connectTimeoutMs,
          timeoutMs: this.policy.requestTimeoutMs,
          ...(signal ? { signal } : {}),
        });
        res = await raceAbort(sent, signal);
      } finally {
        this.stats.inFlight--;
      }
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      if (e instanceof TransportError) {
        if (e.kind === 'aborted' || signal?.aborted) throw new CancelledError();
        return { ok: false, failure: this.redact(`${describeKind(e.kind)} (${e.message})`) };
      }
      const message = e instanceof Error ? e.message : String(e);
      return { ok: false, fatal: new ProviderError(this.redact(`${name}: ${message}`), 'fatal') };
    } finally {
      release();
    }

    if (res.status >= 200 && res.status < 300) {
      try {
        return { ok: true, value: parse(res) };
      } catch (e) {
        if (e instanceof MalformedResponseError) return { ok: false, failure: this.redact(e.message), status: res.status };
        if (e instanceof ProviderError) return { ok: false, fatal: new ProviderError(this.redact(e.message), e.kind, e.status) };
        throw e;
      }
    }
    const said = serverMessage(res.text);
    const failure = this.redact(`HTTP ${res.status}${said ? `: ${said}` : ''}`);
    if (isRetryableStatus(res.status)) {
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], this.clock.now(), this.policy.maxMs);
      return { ok: false, failure, status: res.status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    return { ok: false, fatal: new ProviderError(this.redact(`${name} answered ${failure}`), 'fatal', res.status) };
  }

  dispose(): void {
    this.transport.dispose?.();
  }
}

function describeKind(kind: TransportErrorKind): string {
  switch (kind) {
    case 'connect':
      return 'could not connect';
    case 'timeout':
      return 'timed out';
    case 'reset':
      return 'connection dropped';
    case 'aborted':
      return 'aborted';
  }
}
