/**
 * A loopback HTTP proxy that injects faults in front of a real server (e.g. `cai serve`), for
 * testing clients against what real endpoints do: rate limits with Retry-After, server errors,
 * requests that never get an answer, bodies that are not JSON, and connections that break.
 *
 * Which fault a request gets, first match wins:
 *   1. `rule(seq, request)`, when it returns a fault;
 *   2. `always`;
 *   3. the next entry of `schedule` (faultable requests only, in arrival order);
 *   4. a draw from `rates` with a seeded PRNG (faultable requests only);
 *   5. `pass`: forwarded unchanged.
 * By default only POSTs (completions, chat) are faultable, so a client's readiness check passes.
 * Everything can be changed while the proxy runs with `set()`.
 *
 * Every request is logged with its arrival time, the fault it got and a hash of its body, so a
 * test can match a retry to the attempt before it (clients resend the same body).
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * - `pass`: forwarded, answered as the server answered.
 * - `429`: answered 429 with `Retry-After: retryAfterSeconds` (not forwarded).
 * - `500`, `502`, `503`: answered with that status and an OpenAI error object, no Retry-After.
 * - `400`, `404`: answered with that status (a client error: must not be retried).
 * - `timeout`: held without an answer until the client gives up (or the proxy closes).
 * - `stall`: held `stallMs`, then the connection is closed without an answer.
 * - `reset`: the connection is destroyed as soon as the request has arrived.
 * - `malformed`: forwarded; the server's 200 answer is cut in half (Content-Length matching the
 *   cut), so the body is not valid JSON.
 * - `drop`: forwarded; the headers and half the body are sent, then the connection is destroyed.
 */
export type Fault = 'pass' | '429' | '500' | '502' | '503' | '400' | '404' | 'timeout' | 'stall' | 'reset' | 'malformed' | 'drop';

export const FAULTS: readonly Fault[] = ['429', '500', '502', '503', '400', '404', 'timeout', 'stall', 'reset', 'malformed', 'drop'];

export interface ProxiedRequest {
  method: string;
  path: string;
  body: string;
}

export interface FaultSettings {
  /** Overrides everything when it returns a fault; `seq` counts every request from 0. */
  rule?: ((seq: number, req: ProxiedRequest) => Fault | undefined) | undefined;
  /** Every request gets this fault (a persistently failing endpoint). */
  always?: Fault | undefined;
  /** Faults for the next faultable requests, in arrival order (consumed). */
  schedule?: Fault[];
  /** Probability of each fault per faultable request once the schedule is spent (sum ≤ 1). */
  rates?: Partial<Record<Fault, number>>;
  /** Seed of the draws from `rates` (default 1); setting it restarts the stream. */
  seed?: number;
  /** Which requests the schedule and the rates apply to (default: POST). */
  faultable?: (req: ProxiedRequest) => boolean;
  /** Retry-After of `429` answers, in seconds (default 1). */
  retryAfterSeconds?: number;
  /** How long `stall` holds a request (default 1000 ms). */
  stallMs?: number;
}

export interface LogEntry {
  seq: number;
  method: string;
  path: string;
  fault: Fault;
  /** SHA-256 of the request body, first 16 hex digits. */
  bodyHash: string;
  /** performance.now() when the request had arrived in full. */
  at: number;
  /** The status sent, when one was. */
  status?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `url` + `/v1`. */
  baseUrl: string;
  readonly log: LogEntry[];
  /** Changes settings (absent keys keep their value; a key given as undefined clears it). */
  set(settings: FaultSettings): void;
  /** How many requests got each fault (pass included). */
  counts(): Partial<Record<Fault, number>>;
  close(): Promise<void>;
}

/** mulberry32: a small seeded PRNG, [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade', 'te', 'trailer']);

export async function startFaultProxy(target: string, initial: FaultSettings = {}): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const settings: Required<Pick<FaultSettings, 'schedule' | 'rates' | 'seed' | 'retryAfterSeconds' | 'stallMs' | 'faultable'>> & Pick<FaultSettings, 'rule' | 'always'> = {
    schedule: [],
    rates: {},
    seed: 1,
    retryAfterSeconds: 1,
    stallMs: 1000,
    faultable: (r) => r.method === 'POST',
  };
  let random = mulberry32(settings.seed);
  const log: LogEntry[] = [];
  const held = new Set<http.ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;

  function set(s: FaultSettings): void {
    if ('rule' in s) settings.rule = s.rule;
    if ('always' in s) settings.always = s.always;
    if (s.schedule) settings.schedule = [...s.schedule];
    if (s.rates) settings.rates = { ...s.rates };
    if (s.faultable) settings.faultable = s.faultable;
    if (s.retryAfterSeconds !== undefined) settings.retryAfterSeconds = s.retryAfterSeconds;
    if (s.stallMs !== undefined) settings.stallMs = s.stallMs;
    if (s.seed !== undefined) {
      settings.seed = s.seed;
      random = mulberry32(s.seed);
    }
  }
  set(initial);

  function choose(n: number, req: ProxiedRequest): Fault {
    const ruled = settings.rule?.(n, req);
    if (ruled) return ruled;
    if (settings.always) return settings.always;
    if (!settings.faultable(req)) return 'pass';
    const next = settings.schedule.shift();
    if (next) return next;
    const u = random();
    let acc = 0;
    for (const [fault, p] of Object.entries(settings.rates) as [Fault, number][]) {
      acc += p;
      if (u < acc) return fault;
    }
    return 'pass';
  }

  function errorBody(status: number): string {
    const type = status >= 500 ? 'server_error' : 'invalid_request_error';
    const message = status === 429 ? 'rate limited (injected)' : `injected HTTP ${status}`;
    return JSON.stringify({ error: { message, type, param: null, code: null } });
  }

  function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }

  /** Forwards the request; resolves with the server's whole answer. */
  function forward(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'host') headers[k] = v;
      headers['content-length'] = String(body.length);
      const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(chunks) }));
        r.on('error', reject);
      });
      up.on('error', reject);
      up.end(body);
    });
  }

  function passHeaders(h: http.IncomingHttpHeaders, length: number): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    out['content-length'] = String(length);
    return out;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const info: ProxiedRequest = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]!, body: body.toString('utf8') };
    const n = seq++;
    const fault = choose(n, info);
    const entry: LogEntry = { seq: n, method: info.method, path: info.path, fault, bodyHash: createHash('sha256').update(body).digest('hex').slice(0, 16), at: performance.now() };
    log.push(entry);
    switch (fault) {
      case '429':
        entry.status = 429;
        return reply(res, 429, errorBody(429), { 'retry-after': String(settings.retryAfterSeconds) });
      case '500':
      case '502':
      case '503':
      case '400':
      case '404':
        entry.status = Number(fault);
        return reply(res, entry.status, errorBody(entry.status));
      case 'timeout':
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      case 'stall': {
        held.add(res);
        const t = setTimeout(() => {
          timers.delete(t);
          held.delete(res);
          res.socket?.destroy();
        }, settings.stallMs);
        timers.add(t);
        res.on('close', () => {
          clearTimeout(t);
          timers.delete(t);
          held.delete(res);
        });
        return;
      }
      case 'reset':
        res.socket?.destroy();
        return;
      case 'pass':
      case 'malformed':
      case 'drop': {
        let answer: Awaited<ReturnType<typeof forward>>;
        try {
          answer = await forward(req, body);
        } catch (e) {
          entry.status = 502;
          return reply(res, 502, JSON.stringify({ error: { message: `proxy: upstream failed (${(e as Error).message})`, type: 'server_error', param: null, code: null } }));
        }
        if (res.destroyed) return;
        entry.status = answer.status;
        if (fault === 'pass' || answer.status !== 200) {
          res.writeHead(answer.status, passHeaders(answer.headers, answer.body.length));
          res.end(answer.body);
          return;
        }
        const half = answer.body.subarray(0, Math.floor(answer.body.length / 2));
        if (fault === 'malformed') {
          res.writeHead(200, passHeaders(answer.headers, half.length));
          res.end(half);
          return;
        }
        // drop: promise the whole body, send half, then break the connection
        res.writeHead(200, passHeaders(answer.headers, answer.body.length));
        res.write(half, () => setImmediate(() => res.socket?.destroy()));
        return;
      }
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) reply(res, 500, JSON.stringify({ error: { message: `proxy: ${(e as Error).message}`, type: 'server_error', param: null, code: null } }));
    });
  });
  // no idle-connection races with clients that keep connections open: only injected faults break them
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    log,
    set,
    counts() {
      const out: Partial<Record<Fault, number>> = {};
      for (const e of log) out[e.fault] = (out[e.fault] ?? 0) + 1;
      return out;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const res of held) res.socket?.destroy();
      held.clear();
      agent.destroy();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
