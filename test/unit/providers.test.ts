import assert from 'node:assert/strict';
import * as http from 'node:http';
import { type AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { CancelledError, type Clock, endpointOf, HttpClient, type HttpClientOptions, redact, systemClock } from '../../src/core/providers/http.js';
import { choiceKey, OpenAiProvider, type OpenAiProviderOptions, scoreFromSamples } from '../../src/core/providers/openai.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter, retryPolicy } from '../../src/core/providers/retry.js';
import { ProviderError } from '../../src/core/providers/types.js';
import { NodeHttpTransport, transportKind } from '../../src/trainer/nodeHttp.js';

// ---------------------------------------------------------------------------------------------
// Loopback servers

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown> | undefined;
}

type Handler = (seen: Seen, res: http.ServerResponse, req: http.IncomingMessage) => void;

interface TestServer {
  base: string;
  origin: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(handler: Handler): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> | undefined;
      try {
        json = body ? (JSON.parse(body) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      const s: Seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json };
      seen.push(s);
      handler(s, res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const ts: TestServer = {
    base: `http://127.0.0.1:${port}/v1`,
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: async () => {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  servers.push(ts);
  return ts;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(text);
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A clock whose sleeps return at once (unless cancelled), recording each wait. */
function recordingClock(): { clock: Clock; delays: number[] } {
  const delays: number[] = [];
  let t = 1_700_000_000_000;
  const clock: Clock = {
    now: () => t,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw new CancelledError();
      delays.push(ms);
      t += ms;
    },
  };
  return { clock, delays };
}

function client(extra: Partial<HttpClientOptions> = {}): HttpClient {
  return new HttpClient({ transport: new NodeHttpTransport(), random: () => 0.5, ...extra });
}

function provider(server: TestServer, options: Partial<OpenAiProviderOptions> = {}, http: HttpClient | Partial<HttpClientOptions> = {}): OpenAiProvider {
  const c = http instanceof HttpClient ? http : client({ clock: recordingClock().clock, ...http });
  return new OpenAiProvider({ baseUrl: server.base, model: 'm', api: 'completions', ...options }, c);
}

const completion = (text: string, finish = 'stop'): unknown => ({ choices: [{ index: 0, text, finish_reason: finish }], usage: { completion_tokens: 3 } });

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error);
    return e;
  }
  assert.fail('expected a rejection');
}

const LN10 = Math.log(10);
const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

// ---------------------------------------------------------------------------------------------

describe('retry policy', () => {
  it('retries 408, 409, 429 and 5xx only', () => {
    for (const s of [408, 409, 429, 500, 502, 503, 504, 599]) assert.ok(isRetryableStatus(s), String(s));
    for (const s of [200, 301, 400, 401, 403, 404, 410, 422, 600]) assert.ok(!isRetryableStatus(s), String(s));
  });

  it('backs off exponentially with full jitter, capped', () => {
    assert.equal(backoffDelay(0, { jitter: () => 0.999999 }), 499);
    assert.equal(backoffDelay(3, { baseMs: 100, jitter: () => 0.5 }), 400);
    assert.equal(backoffDelay(40, { baseMs: 500, maxMs: 30_000, jitter: () => 0.5 }), 15_000);
    assert.equal(backoffDelay(2000, { jitter: () => 0.999999 }), 29_999);
    assert.equal(backoffDelay(5, { jitter: () => 0 }), 0);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(2);
      assert.ok(d >= 0 && d <= 2000);
    }
  });

  it('reads Retry-After as seconds or an HTTP date, capped', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter('1', now), 1000);
    assert.equal(parseRetryAfter(' 2.5 ', now), 2500);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:07 GMT', now), 7000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
    assert.equal(parseRetryAfter('3600', now), 30_000);
    assert.equal(parseRetryAfter('3600', now, 5000), 5000);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
  });

  it('fills a policy from defaults and rejects nonsense', () => {
    assert.deepEqual(retryPolicy({ maxRetries: 2 }), { maxRetries: 2, baseMs: 500, maxMs: 30_000, connectTimeoutMs: 10_000, requestTimeoutMs: 120_000 });
    assert.throws(() => retryPolicy({ baseMs: -1 }), RangeError);
  });
});

describe('messages', () => {
  it('redacts secrets and bearer tokens, and names endpoints without credentials or queries', () => {
    assert.equal(redact('key sk-abc and sk-abc again; Authorization: Bearer xyz123', ['sk-abc']), 'key *** and *** again; Authorization: Bearer ***');
    assert.equal(endpointOf('https://user:pw@API.example.com:443/v1/models?key=1#x'), 'https://api.example.com/v1/models');
    assert.equal(endpointOf('http://127.0.0.1:8000/v1/completions'), 'http://127.0.0.1:8000/v1/completions');
  });

  it('matches options to tokens by their first word', () => {
    for (const t of [' (A)', ' A', 'A', '(A', 'A)', '\u2581A', '\u0120A']) assert.equal(choiceKey(t), 'A', JSON.stringify(t));
    assert.equal(choiceKey(' ('), '');
    assert.equal(choiceKey(' Yes, because'), 'Yes');
    assert.notEqual(choiceKey('a'), choiceKey('A'));
  });
});

describe('Node transport', () => {
  it('maps Node errors to transport error kinds', () => {
    const err = (code: string, message = code): Error => Object.assign(new Error(message), { code });
    assert.equal(transportKind(err('ECONNREFUSED')), 'connect');
    assert.equal(transportKind(err('ENOTFOUND')), 'connect');
    assert.equal(transportKind(err('ECONNRESET')), 'reset');
    assert.equal(transportKind(new Error('socket hang up')), 'reset');
    assert.equal(transportKind(err('ETIMEDOUT')), 'timeout');
    assert.equal(transportKind(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })), 'aborted');
  });

  it('reads a UTF-8 body split across chunks and lower-cases header names', async () => {
    const s = await serve((_seen, res) => {
      const bytes = Buffer.from(JSON.stringify({ text: 'héllo → 世界' }), 'utf8');
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Thing': 'v' });
      for (let i = 0; i < bytes.length; i += 3) res.write(bytes.subarray(i, i + 3));
      res.end();
    });
    const t = new NodeHttpTransport();
    const out = await t.request({ method: 'POST', url: `${s.base}/x`, headers: {}, body: '{"a":"ü"}', connectTimeoutMs: 1000, timeoutMs: 2000 });
    assert.equal(out.status, 200);
    assert.equal(out.headers['x-thing'], 'v');
    assert.deepEqual(JSON.parse(out.text), { text: 'héllo → 世界' });
    assert.equal(s.seen[0]!.body, '{"a":"ü"}');
    assert.equal(s.seen[0]!.headers['content-length'], String(Buffer.byteLength('{"a":"ü"}')));
    t.dispose();
  });
});

describe('OpenAI-compatible provider: completions', () => {
  it('sends a completions request and maps the answer', async () => {
    const s = await serve((_seen, res) => send(res, 200, completion(' the rest', 'length')));
    const p = provider(s);
    const [out] = await p.complete([{ prompt: 'Hello', maxTokens: 7, temperature: 0.7, topP: 0.9, stop: ['\n\n'], seed: 42 }]);
    assert.deepEqual(out, { text: ' the rest', finishReason: 'length', completionTokens: 3 });
    const req = s.seen[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/completions');
    assert.match(String(req.headers['content-type']), /^application\/json/);
    assert.equal(req.headers['authorization'], undefined);
    assert.deepEqual(req.json, { model: 'm', prompt: 'Hello', max_tokens: 7, temperature: 0.7, top_p: 0.9, stop: ['\n\n'], seed: 42 });
    assert.equal(p.id, `openai:${s.base} model=m`);
    await p.dispose();
  });

  it('sends chat messages and maps finish reasons', async () => {
    const s = await serve((_seen, res) => send(res, 200, { choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop' }] }));
    const p = provider(s, { api: 'chat' });
    const outs = await p.complete([
      { prompt: 'Human: hi', maxTokens: 5, temperature: 0 },
      { prompt: 'second', maxTokens: 5, temperature: 1 },
    ]);
    assert.deepEqual(outs, [
      { text: 'Hi!', finishReason: 'stop' },
      { text: 'Hi!', finishReason: 'stop' },
    ]);
    const bodies = s.seen.map((x) => x.json);
    assert.ok(s.seen.every((x) => x.path === '/v1/chat/completions'));
    assert.deepEqual(
      bodies.find((b) => (b?.['messages'] as { content: string }[])[0]?.content === 'Human: hi'),
      { model: 'm', messages: [{ role: 'user', content: 'Human: hi' }], max_tokens: 5, temperature: 0 },
    );

    const templated = provider(s, { api: 'chat', chatTemplate: (prompt) => [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: prompt }] });
    await templated.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }]);
    assert.deepEqual(s.seen.at(-1)!.json?.['messages'], [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'x' }]);
    await p.dispose();
    await templated.dispose();
  });

  it('reads choices from top_logprobs on the completions API', async () => {
    const s = await serve((_seen, res) =>
      send(res, 200, { choices: [{ text: ' A', logprobs: { tokens: [' A'], token_logprobs: [-0.2], top_logprobs: [{ ' A': -0.2, ' B': -1.9, ' The': -3.5 }] }, finish_reason: 'length' }] }),
    );
    const p = provider(s);
    const [r] = await p.choose([{ prompt: 'Which is kinder?', options: [' (A)', ' (B)', ' (C)'] }]);
    assert.equal(r!.method, 'top-logprobs');
    assert.ok(close(r!.logprobs[0]!, -0.2));
    assert.ok(close(r!.logprobs[1]!, -1.9));
    assert.ok(close(r!.logprobs[2]!, -3.5 - LN10), 'a missing option gets the lowest listed value minus ln 10');
    assert.deepEqual(s.seen[0]!.json, { model: 'm', prompt: 'Which is kinder?', max_tokens: 1, temperature: 0, logprobs: 5 });
    await p.dispose();
  });

  it('adds up tokens that spell the same option, and looks past a shared " (" token', async () => {
    const s = await serve((seen, res) => {
      const prompt = String(seen.json?.['prompt']);
      if (prompt === 'Q') send(res, 200, { choices: [{ text: ' (', logprobs: { top_logprobs: [{ ' (': -0.05, ' The': -4 }] } }] });
      else if (prompt === 'Q (') send(res, 200, { choices: [{ text: 'B', logprobs: { top_logprobs: [{ B: -0.5, ' B': -1.5, A: -2 }] } }] });
      else send(res, 400, { error: { message: `unexpected prompt ${prompt}` } });
    });
    const p = provider(s, { topLogprobs: 3 });
    const [r] = await p.choose([{ prompt: 'Q', options: [' (A)', ' (B)'] }]);
    assert.equal(r!.method, 'top-logprobs');
    assert.ok(close(r!.logprobs[0]!, -2));
    assert.ok(close(r!.logprobs[1]!, Math.log(Math.exp(-0.5) + Math.exp(-1.5))));
    assert.deepEqual(s.seen.map((x) => x.json?.['prompt']), ['Q', 'Q (']);
    await p.dispose();
  });

  it('reads choices from top_logprobs on the chat API', async () => {
    const s = await serve((_seen, res) =>
      send(res, 200, {
        choices: [{ message: { role: 'assistant', content: 'A' }, logprobs: { content: [{ token: 'A', logprob: -0.1, top_logprobs: [{ token: 'A', logprob: -0.1 }, { token: ' B', logprob: -2.5 }] }] } }],
      }),
    );
    const p = provider(s, { api: 'chat', topLogprobs: 2 });
    const [r] = await p.choose([{ prompt: 'Which?', options: ['(A)', '(B)', '(C)'] }]);
    assert.equal(r!.method, 'top-logprobs');
    assert.deepEqual(r!.logprobs.map((x) => Number(x.toFixed(9))), [-0.1, -2.5, Number((-2.5 - LN10).toFixed(9))]);
    assert.deepEqual(s.seen[0]!.json, { model: 'm', messages: [{ role: 'user', content: 'Which?' }], max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: 2 });
    await p.dispose();
  });

  it('falls back to sampling when the endpoint returns no logprobs', async () => {
    const samples = [' (A) is', ' (A)', 'A', ' (B) because', ' The', ' (A)', ' (B)', 'B)'];
    const s = await serve((seen, res) => {
      if (seen.json?.['n'] === undefined) send(res, 200, { choices: [{ text: ' (', logprobs: null, finish_reason: 'length' }] });
      else send(res, 200, { choices: samples.map((text, index) => ({ index, text, finish_reason: 'length' })) });
    });
    const p = provider(s);
    const [r] = await p.choose([{ prompt: 'Q', options: [' (A)', ' (B)'] }]);
    assert.equal(r!.method, 'sampled');
    // A: 4, B: 3, neither: 1 → add-one over 8 samples and 2 options
    assert.ok(close(r!.logprobs[0]!, Math.log(5 / 10)));
    assert.ok(close(r!.logprobs[1]!, Math.log(4 / 10)));
    const sampling = s.seen[1]!.json!;
    assert.equal(sampling['max_tokens'], 3);
    assert.equal(sampling['temperature'], 1);
    assert.equal(sampling['n'], 8);
    // learned: the next choice samples straight away
    await p.choose([{ prompt: 'Q2', options: [' (A)', ' (B)'] }]);
    assert.equal(s.seen.length, 3);
    assert.equal(s.seen[2]!.json?.['n'], 8);
    await p.dispose();
  });

  it('tops up samples from a server that ignores n, and samples on request', async () => {
    let i = 0;
    const s = await serve((_seen, res) => send(res, 200, { choices: [{ text: i++ % 2 === 0 ? ' Yes' : ' No', finish_reason: 'length' }] }));
    const p = provider(s, { choiceMethod: 'sampled', samples: 4 });
    const [r] = await p.choose([{ prompt: 'Q', options: [' Yes', ' No'] }]);
    assert.equal(r!.method, 'sampled');
    assert.equal(s.seen.length, 4);
    assert.ok(close(r!.logprobs[0]!, Math.log(3 / 6)) && close(r!.logprobs[1]!, Math.log(3 / 6)));
    assert.deepEqual(scoreFromSamples([' (A)', ' (B)'], []), [Math.log(1 / 2), Math.log(1 / 2)]);
    await p.dispose();
  });

  it('refuses when top-logprobs is required and the endpoint gives none', async () => {
    const s = await serve((_seen, res) => send(res, 200, { choices: [{ text: 'A', logprobs: null }] }));
    const p = provider(s, { choiceMethod: 'top-logprobs' });
    const e = await rejects(p.choose([{ prompt: 'Q', options: ['A', 'B'] }]));
    assert.ok(e instanceof ProviderError && e.kind === 'fatal');
    assert.match(e.message, /no log-probabilities/);
    await p.dispose();
  });
});

describe('HTTP client: retries', () => {
  it('honours Retry-After on 429 (the larger of it and the backoff)', async () => {
    let n = 0;
    const s = await serve((_seen, res) => (n++ === 0 ? send(res, 429, { error: { message: 'slow down' } }, { 'Retry-After': '1' }) : send(res, 200, completion('ok'))));
    const { clock, delays } = recordingClock();
    const c = client({ clock });
    const p = provider(s, {}, c);
    const [out] = await p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }]);
    assert.equal(out!.text, 'ok');
    assert.deepEqual(delays, [1000]);
    assert.deepEqual(c.counters, { requests: 2, retries: 1, failures: 0, inFlight: 0 });
    await p.dispose();
  });

  it('retries 500, 408 and 409, then succeeds', async () => {
    const statuses = [500, 408, 409];
    const s = await serve((_seen, res) => {
      const st = statuses.shift();
      if (st) send(res, st, { error: 'transient' });
      else send(res, 200, completion('fine'));
    });
    const { clock, delays } = recordingClock();
    const p = provider(s, {}, client({ clock }));
    const [out] = await p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }]);
    assert.equal(out!.text, 'fine');
    assert.equal(s.seen.length, 4);
    // random 0.5 with base 500: 250, 500, 1000
    assert.deepEqual(delays, [250, 500, 1000]);
    await p.dispose();
  });

  it('retries a dropped connection', async () => {
    let n = 0;
    const s = await serve((_seen, res, req) => {
      if (n++ === 0) req.socket.destroy();
      else send(res, 200, completion('again'));
    });
    const c = client({ clock: recordingClock().clock });
    const p = provider(s, {}, c);
    const [out] = await p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }]);
    assert.equal(out!.text, 'again');
    assert.equal(c.counters.retries, 1);
    await p.dispose();
  });

  it('reports a closed port as a connection failure after the budget', async () => {
    const port = await closedPort();
    const { clock, delays } = recordingClock();
    const c = client({ clock, retry: { maxRetries: 2 } });
    const e = await rejects(c.request({ method: 'POST', url: `http://127.0.0.1:${port}/v1/completions?x=1`, body: '{}' }));
    assert.ok(e instanceof ProviderError);
    assert.equal(e.kind, 'retryable');
    assert.match(e.message, new RegExp(`POST http://127\\.0\\.0\\.1:${port}/v1/completions failed after 3 attempts; last: could not connect`));
    assert.ok(!e.message.includes('x=1'));
    assert.equal(delays.length, 2);
    assert.deepEqual(c.counters, { requests: 3, retries: 2, failures: 1, inFlight: 0 });
    c.dispose();
  });

  it('times out a server that never answers', async () => {
    const s = await serve(() => undefined);
    const c = client({ clock: recordingClock().clock, retry: { maxRetries: 1, requestTimeoutMs: 150, connectTimeoutMs: 100 } });
    const t0 = Date.now();
    const e = await rejects(c.request({ method: 'GET', url: `${s.base}/models` }));
    assert.ok(e instanceof ProviderError && e.kind === 'retryable');
    assert.match(e.message, /failed after 2 attempts; last: timed out/);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(s.seen.length, 2);
    c.dispose();
  });

  it('does not retry 400, 401 or 404, and quotes the server', async () => {
    for (const status of [400, 401, 404]) {
      const s = await serve((_seen, res) => send(res, status, { error: { message: `  no good:\n  status ${status}  ` } }));
      const { clock, delays } = recordingClock();
      const p = provider(s, {}, client({ clock }));
      const e = await rejects(p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }]));
      assert.ok(e instanceof ProviderError);
      assert.equal(e.kind, 'fatal');
      assert.equal(e.status, status);
      assert.equal(e.message, `POST ${s.base}/completions answered HTTP ${status}: no good: status ${status}`);
      assert.equal(s.seen.length, 1);
      assert.equal(delays.length, 0);
      await p.dispose();
    }
  });

  it('gives up after the budget with a retryable error naming the endpoint', async () => {
    const s = await serve((_seen, res) => send(res, 503, { object: 'error', message: 'overloaded' }));
    const { clock, delays } = recordingClock();
    const p = provider(s, {}, client({ clock, retry: { maxRetries: 3 } }));
    const e = await rejects(p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }]));
    assert.ok(e instanceof ProviderError);
    assert.equal(e.kind, 'retryable');
    assert.equal(e.status, 503);
    assert.equal(e.message, `POST ${s.base}/completions failed after 4 attempts; last: HTTP 503: overloaded`);
    assert.equal(s.seen.length, 4);
    assert.deepEqual(delays, [250, 500, 1000]);
    await p.dispose();
  });

  it('retries a malformed JSON body, then says so', async () => {
    let n = 0;
    const s = await serve((_seen, res) => (n++ === 0 ? send(res, 200, '{"choices": [') : send(res, 200, completion('parsed'))));
    const p = provider(s);
    const [out] = await p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }]);
    assert.equal(out!.text, 'parsed');

    const bad = await serve((_seen, res) => send(res, 200, '<html>gateway</html>'));
    const q = provider(bad, {}, { retry: { maxRetries: 2 } });
    const e = await rejects(q.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }]));
    assert.ok(e instanceof ProviderError && e.kind === 'retryable');
    assert.match(e.message, /failed after 3 attempts; last: malformed JSON in a 200 response \(starts "<html>gateway<\/html>"\)/);
    await p.dispose();
    await q.dispose();
  });
});

describe('HTTP client: the API key', () => {
  const KEY = 'sk-test-5ecret-KEY-0123456789';

  it('is sent as a bearer token to the base URL and never appears in an error', async () => {
    const s = await serve((seen, res) => {
      if (seen.path === '/v1/models') send(res, 404, 'not here');
      else if (seen.path === '/health') send(res, 200, 'ok');
      else if (String(seen.json?.['prompt']) === 'fatal') send(res, 401, { error: { message: `Incorrect API key provided: ${KEY}` } });
      else send(res, 503, `upstream rejected Authorization: Bearer ${KEY}`);
    });
    const p = provider(s, { apiKey: KEY }, { retry: { maxRetries: 1 } });
    await p.ready();
    assert.ok(s.seen.every((x) => x.headers['authorization'] === `Bearer ${KEY}`));
    assert.ok(!p.id.includes(KEY));
    for (const prompt of ['fatal', 'retryable']) {
      const e = await rejects(p.complete([{ prompt, maxTokens: 1, temperature: 0 }]));
      assert.ok(e instanceof ProviderError);
      assert.ok(!e.message.includes(KEY), e.message);
      assert.ok(!String(e.stack).includes(KEY));
      assert.match(e.message, /\*\*\*/);
    }
    await p.dispose();
  });

  it('is kept out of connection errors too', async () => {
    const port = await closedPort();
    const p = new OpenAiProvider({ baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm', api: 'chat', apiKey: KEY }, client({ clock: recordingClock().clock, retry: { maxRetries: 0 } }));
    for (const call of [() => p.ready(), () => p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }])]) {
      const e = await rejects(call());
      assert.ok(!e.message.includes(KEY));
    }
    await p.dispose();
  });
});

describe('HTTP client: concurrency, rate and cancellation', () => {
  it('keeps at most maxConcurrency requests in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const s = await serve((_seen, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        send(res, 200, completion('x'));
      }, 30);
    });
    const c = client({ maxConcurrency: 2 });
    const p = provider(s, {}, c);
    const outs = await p.complete(Array.from({ length: 10 }, (_, i) => ({ prompt: `p${i}`, maxTokens: 1, temperature: 0 })));
    assert.equal(outs.length, 10);
    assert.equal(most, 2);
    assert.equal(c.counters.requests, 10);
    await p.dispose();
  });

  it('spaces requests to the rate limit', async () => {
    const s = await serve((_seen, res) => send(res, 200, completion('x')));
    const p = provider(s, {}, client({ requestsPerSecond: 20, maxConcurrency: 10 }));
    const t0 = Date.now();
    await p.complete(Array.from({ length: 10 }, () => ({ prompt: 'p', maxTokens: 1, temperature: 0 })));
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 440, `10 requests at 20/s took ${elapsed} ms`);
    assert.ok(elapsed < 3000, `10 requests at 20/s took ${elapsed} ms`);
    await p.dispose();
  });

  it('spaces requests to the rate limit (recorded clock)', async () => {
    const s = await serve((_seen, res) => send(res, 200, completion('x')));
    const { clock, delays } = recordingClock();
    const p = provider(s, {}, client({ clock, requestsPerSecond: 4, maxConcurrency: 1 }));
    await p.complete(Array.from({ length: 4 }, () => ({ prompt: 'p', maxTokens: 1, temperature: 0 })));
    // the recorded clock only advances by sleeping, so each request waits its full interval
    assert.deepEqual(delays, [250, 250, 250]);
    await p.dispose();
  });

  it('cancels during a backoff wait', async () => {
    const s = await serve((_seen, res) => send(res, 503, 'busy', { 'Retry-After': '20' }));
    const c = client({ clock: systemClock });
    const p = provider(s, {}, c);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const e = await rejects(p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }], ac.signal));
    assert.ok(e instanceof CancelledError, String(e));
    assert.ok(Date.now() - t0 < 1500);
    assert.equal(s.seen.length, 1);
    await p.dispose();
  });

  it('cancels a request in flight, and one cancelled before it starts', async () => {
    const s = await serve(() => undefined);
    const p = provider(s, {}, client({ clock: systemClock }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const e = await rejects(p.choose([{ prompt: 'x', options: ['A', 'B'] }], ac.signal));
    assert.ok(e instanceof CancelledError, String(e));
    assert.ok(Date.now() - t0 < 1500);

    const seen = s.seen.length;
    const e2 = await rejects(p.complete([{ prompt: 'x', maxTokens: 1, temperature: 0 }], ac.signal));
    assert.ok(e2 instanceof CancelledError);
    assert.equal(s.seen.length, seen);
    await p.dispose();
  });

  it('cancels a request queued behind the concurrency cap', async () => {
    const s = await serve((_seen, res) => setTimeout(() => send(res, 200, completion('x')), 300));
    const p = provider(s, {}, client({ maxConcurrency: 1 }));
    const first = p.complete([{ prompt: 'a', maxTokens: 1, temperature: 0 }]);
    const ac = new AbortController();
    const second = p.complete([{ prompt: 'b', maxTokens: 1, temperature: 0 }], ac.signal);
    setTimeout(() => ac.abort(), 50);
    assert.ok((await rejects(second)) instanceof CancelledError);
    assert.equal((await first)[0]!.text, 'x');
    assert.equal(s.seen.length, 1);
    await p.dispose();
  });
});

describe('OpenAI-compatible provider: ready()', () => {
  it('accepts a /models list that names the model, or an empty one', async () => {
    let data: unknown[] = [{ id: 'other' }, { id: 'm' }];
    const s = await serve((_seen, res) => send(res, 200, { object: 'list', data }));
    const p = provider(s);
    await p.ready();
    data = [];
    await p.ready();
    data = [{ id: 'm:latest' }];
    await p.ready();
    data = [{ id: 'llama' }, { id: 'qwen' }];
    const e = await rejects(p.ready());
    assert.ok(e instanceof ProviderError && e.kind === 'fatal');
    assert.equal(e.message, `model "m" is not served by ${s.base}/models (it lists: llama, qwen)`);
    assert.ok(s.seen.every((x) => x.method === 'GET' && x.path === '/v1/models'));
    await p.dispose();
  });

  it('falls back to /health when /models is 404', async () => {
    const s = await serve((seen, res) => (seen.path === '/health' ? send(res, 200, { status: 'ok' }) : send(res, 404, { detail: 'Not Found' })));
    const p = provider(s);
    await p.ready();
    assert.deepEqual(s.seen.map((x) => x.path), ['/v1/models', '/health']);

    const dead = await serve((_seen, res) => send(res, 404, 'nope'));
    const q = provider(dead);
    const e = await rejects(q.ready());
    assert.ok(e instanceof ProviderError);
    assert.match(e.message, new RegExp(`${dead.base}/models answered 404 and ${dead.origin}/health failed`));
    await p.dispose();
    await q.dispose();
  });

  it('names the URL when nothing listens', async () => {
    const port = await closedPort();
    const p = new OpenAiProvider({ baseUrl: `http://127.0.0.1:${port}/v1/`, model: 'm', api: 'completions' }, client({ clock: recordingClock().clock }));
    const e = await rejects(p.ready());
    assert.ok(e instanceof ProviderError);
    assert.equal(e.kind, 'retryable');
    assert.match(e.message, new RegExp(`^OpenAI-compatible endpoint not ready: cannot list models at http://127\\.0\\.0\\.1:${port}/v1/models: .*could not connect`));
    await p.dispose();
  });
});
