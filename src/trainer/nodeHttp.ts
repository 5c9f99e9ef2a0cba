// The HttpTransport of Node processes: node:http and node:https rather than fetch, so that
// opening a connection has its own limit apart from the whole exchange's, and every failure
// can be told apart (no connection, dropped connection, timeout, cancelled).

import * as http from 'node:http';
import * as https from 'node:https';
import { type HttpRequest, type HttpResponse, type HttpTransport, TransportError, type TransportErrorKind } from '../core/providers/http.js';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ECONNABORTED']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'HPE_INVALID_CONSTANT', 'HPE_INVALID_CHUNK_SIZE']);

/** The TransportError kind of a Node socket or HTTP error. */
export function transportKind(err: unknown): TransportErrorKind {
  if (err instanceof TransportError) return err.kind;
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (e?.name === 'AbortError' || code === 'ABORT_ERR') return 'aborted';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') return 'timeout';
  if (RESET_CODES.has(code) || /socket hang up|aborted/i.test(message)) return 'reset';
  return 'reset';
}

export interface NodeHttpTransportOptions {
  /** Reuse connections between requests (default true). */
  keepAlive?: boolean;
  /** Sockets per origin (default 64; the client's concurrency cap is the real limit). */
  maxSockets?: number;
}

export class NodeHttpTransport implements HttpTransport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(options: NodeHttpTransportOptions = {}) {
    const agentOptions = { keepAlive: options.keepAlive ?? true, maxSockets: options.maxSockets ?? 64 };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        reject(new TransportError('connect', `not a valid URL: ${req.url.replace(/[?#].*$/s, '')}`));
        return;
      }
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') {
        reject(new TransportError('connect', `unsupported protocol ${url.protocol}`));
        return;
      }
      if (req.signal?.aborted) {
        reject(new TransportError('aborted', 'cancelled before sending'));
        return;
      }

      const headers: Record<string, string> = { Accept: 'application/json', ...req.headers };
      let payload: Buffer | undefined;
      if (req.body !== undefined) {
        payload = Buffer.from(req.body, 'utf8');
        if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(payload.length);
      }

      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        clearTimeout(overallTimer);
        if (connectTimer) clearTimeout(connectTimer);
        req.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: TransportError): void => {
        if (settled) return;
        settled = true;
        cleanup();
        reject(err);
        outgoing.destroy();
      };
      const onAbort = (): void => fail(new TransportError('aborted', 'cancelled'));

      const outgoing = (secure ? https : http).request(url, {
        method: req.method,
        headers,
        agent: secure ? this.httpsAgent : this.httpAgent,
      });

      const overallTimer = setTimeout(() => fail(new TransportError('timeout', `no complete response within ${req.timeoutMs} ms`)), req.timeoutMs);
      req.signal?.addEventListener('abort', onAbort, { once: true });

      outgoing.on('socket', (socket) => {
        // a reused keep-alive socket is already connected
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => fail(new TransportError('connect', `no connection within ${req.connectTimeoutMs} ms`)), req.connectTimeoutMs);
        socket.once(secure ? 'secureConnect' : 'connect', () => {
          if (connectTimer) clearTimeout(connectTimer);
          connectTimer = undefined;
        });
      });

      outgoing.on('error', (err: Error & { code?: string }) => {
        const kind = transportKind(err);
        fail(new TransportError(kind, err.code ? `${err.code}: ${err.message}` : err.message));
      });

      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('aborted', () => fail(new TransportError('reset', 'the connection closed before the response was complete')));
        res.on('error', (err: Error & { code?: string }) => fail(new TransportError(transportKind(err) === 'aborted' ? 'aborted' : 'reset', err.message)));
        res.on('end', () => {
          if (settled) return;
          if (!res.complete) {
            fail(new TransportError('reset', 'the connection closed before the response was complete'));
            return;
          }
          settled = true;
          cleanup();
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined) continue;
            out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
          }
          resolve({ status: res.statusCode ?? 0, headers: out, text: Buffer.concat(chunks).toString('utf8') });
        });
      });

      outgoing.end(payload);
    });
  }

  dispose(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
