// When and how long to wait before asking an endpoint again. Pure: the caller supplies the
// clock's reading and, for tests, the random source.

/** How persistent a client is with a failing endpoint, and how long it waits for one answer. */
export interface RetryPolicy {
  /** Retries after the first attempt (so at most maxRetries + 1 requests). */
  maxRetries: number;
  /** The first backoff's ceiling; each retry doubles it. */
  baseMs: number;
  /** No wait (backoff or Retry-After) is longer than this. */
  maxMs: number;
  /** How long opening a connection may take. */
  connectTimeoutMs: number;
  /** How long one request may take, connection included, until its whole body has arrived. */
  requestTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 5,
  baseMs: 500,
  maxMs: 30_000,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
});

/** The defaults with the given fields replaced (undefined fields keep their default). */
export function retryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY };
  for (const key of Object.keys(p) as (keyof RetryPolicy)[]) {
    const v = partial[key];
    if (v !== undefined) {
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`retry policy: ${key} must be a non-negative number, got ${v}`);
      p[key] = v;
    }
  }
  return p;
}

/**
 * Statuses worth asking again: 408 (request timeout), 409 (conflict, e.g. a model still
 * loading), 429 (rate limited) and every 5xx. Any other 4xx is the request's own fault.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || (status >= 500 && status <= 599);
}

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** A number in [0, 1); Math.random unless given. */
  jitter?: () => number;
}

/**
 * The wait before retry number `attempt` (0 for the first retry): a uniformly random time
 * between 0 and min(maxMs, baseMs · 2^attempt) ("full jitter"), so clients that failed together
 * do not come back together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const baseMs = options.baseMs ?? DEFAULT_RETRY_POLICY.baseMs;
  const maxMs = options.maxMs ?? DEFAULT_RETRY_POLICY.maxMs;
  const jitter = options.jitter ?? Math.random;
  // 2^attempt overflows to Infinity for large attempts; min() keeps it at the cap
  const ceiling = Math.min(maxMs, baseMs * Math.pow(2, Math.max(0, attempt)));
  const r = Math.min(Math.max(jitter(), 0), 1);
  return Math.floor(ceiling * r);
}

/**
 * A Retry-After header as a wait in milliseconds from `nowMs`: either a number of seconds
 * ("120", fractions accepted) or an HTTP date. A date in the past gives 0; the result never
 * exceeds `capMs`. Undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(header: string | undefined, nowMs: number, capMs: number = DEFAULT_RETRY_POLICY.maxMs): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    // IMF-fixdate is the form servers send; Date.parse also reads the obsolete forms
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  if (!Number.isFinite(ms)) return capMs;
  return Math.min(Math.max(0, Math.ceil(ms)), capMs);
}
