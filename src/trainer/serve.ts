// `cai serve`: an OpenAI-compatible HTTP server over one model held in this process (node:http,
// no framework). Endpoints:
//
//   GET  /health                → {"status":"ok"}
//   GET  /v1/models             → the one model, as OpenAI lists models
//   GET  /v1/models/{id}        → that model
//   POST /v1/completions        → text completions: prompt (a string, strings, token ids, or lists
//                                 of token ids), max_tokens (16), temperature (1), top_p, top_k (an
//                                 extension, as vLLM has), stop, seed, n, logprobs (k: the k most
//                                 likely tokens at each generated token, and the token itself when
//                                 it is not among them, as vLLM does), echo (the prompt before
//                                 the completion; with logprobs the prompt's tokens are scored too,
//                                 the first one null, as vLLM does)
//   POST /v1/chat/completions   → chat: messages rendered with CHAT_TEMPLATE (below), the same
//                                 sampling fields, max_completion_tokens or max_tokens (default:
//                                 what fits in the context), logprobs: true with top_logprobs: k
//
// Computations run one at a time on the current backend, in the order asked for; completions of
// different requests with the same sampling settings are decoded together in one batch (up to
// `maxBatch` sequences). The top log-probabilities come from a second pass over the prompt and
// the generated tokens (`ServeModel.tokenLogprobs`). Errors are OpenAI's error objects: 400 for a
// bad body (naming the field), 404 for an unknown path or model, 405 for a wrong method, 413 for
// a body over 1 MiB, 500 for a failure of our own; no request can stop the server.

import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Generation } from '../core/model/generate';
import { Rng } from '../core/training/rng';
import type { BackendChoice, BackendReport, ModelRef } from '../protocol/trainer';
import { currentBackend, initializeBackend } from './backend';
import { ServeModel, type PositionLogprobs, type ServeSampling } from './serveModel';

export interface ServeOptions {
  model: ModelRef;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default): any free port. */
  port?: number;
  /** The backend to compute on (default `auto`); kept when one is already current and fits. */
  backend?: BackendChoice;
  /** Milliseconds added to every completions and chat answer, after the computation (benchmarks of slow endpoints). */
  latencyMs?: number;
  /** Most sequences decoded in one batch (default 8). */
  maxBatch?: number;
  /** Weights of a preset, and the sampling of requests that name no seed. Default 0. */
  seed?: number;
  /** The name clients give as `model` (default: the preset's name or the folder's base name). */
  name?: string;
  /** One line per request: method, path, status, milliseconds. */
  log?: (line: string) => void;
}

export interface ServerHandle {
  /** `http://HOST:PORT` (no trailing slash). */
  url: string;
  /** `url` + `/v1`: the base URL OpenAI clients take. */
  baseUrl: string;
  port: number;
  host: string;
  /** The model's name in requests and in /v1/models. */
  model: string;
  backend: BackendReport;
  /** Stops accepting connections, closes open ones, fails queued work, frees the model. */
  close(): Promise<void>;
}

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 1 << 20;
/** Most `top_logprobs` / `logprobs` entries a request may ask for. */
export const MAX_TOP_LOGPROBS = 20;
/** Most sequences one request may ask for (prompts × n). */
export const MAX_SEQUENCES = 128;

/**
 * How chat messages become one prompt: the system messages' text first (joined by blank lines),
 * then each turn as "\n\nHuman: {content}" (user) or "\n\nAssistant: {content}" (assistant), and
 * "\n\nAssistant:" last, for the model to continue.
 */
export const CHAT_TEMPLATE = 'SYSTEM\\n\\nHuman: USER\\n\\nAssistant: ASSISTANT…\\n\\nAssistant:';

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string;
}

export function renderChat(messages: readonly ChatMessage[]): string {
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.content);
  let out = system.join('\n\n');
  for (const m of messages) {
    if (m.role === 'user') out += `\n\nHuman: ${m.content}`;
    else if (m.role === 'assistant') out += `\n\nAssistant: ${m.content}`;
  }
  return `${out}\n\nAssistant:`;
}

type ErrorType = 'invalid_request_error' | 'server_error';

/** An error answered as OpenAI's error object. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: ErrorType = status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }
}

const bad = (param: string, message: string, code: string | null = 'invalid_value'): HttpError => new HttpError(400, message, param, code);

// ---- the queue ----

interface GenTask {
  kind: 'generate';
  prompts: number[][];
  sampling: ServeSampling;
  /** Tasks with equal keys may be decoded in one batch; none: alone. */
  mergeKey: string | undefined;
  resolve(g: Generation[]): void;
  reject(e: unknown): void;
}

interface FnTask {
  kind: 'fn';
  fn: () => unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** One model computation at a time, in order; compatible generations are batched. */
class Scheduler {
  private readonly queue: (GenTask | FnTask)[] = [];
  private pumping = false;
  private closed = false;

  constructor(
    private readonly model: ServeModel,
    private readonly maxBatch: number,
  ) {}

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.push({ kind: 'fn', fn, resolve: resolve as (v: unknown) => void, reject }));
  }

  generate(prompts: number[][], sampling: ServeSampling, mergeKey: string | undefined): Promise<Generation[]> {
    return new Promise<Generation[]>((resolve, reject) => this.push({ kind: 'generate', prompts, sampling, mergeKey, resolve, reject }));
  }

  close(): void {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new HttpError(503, 'the server is shutting down', null, 'shutting_down'));
  }

  private push(t: GenTask | FnTask): void {
    if (this.closed) return t.reject(new HttpError(503, 'the server is shutting down', null, 'shutting_down'));
    this.queue.push(t);
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        // let requests that arrived during the last computation reach the queue first
        await new Promise<void>((r) => setImmediate(r));
        const head = this.queue.shift();
        if (!head) break;
        if (head.kind === 'fn') {
          try {
            head.resolve(await head.fn());
          } catch (e) {
            head.reject(e);
          }
          continue;
        }
        const batch = [head];
        if (head.mergeKey !== undefined) {
          let size = head.prompts.length;
          let longest = Math.max(...head.prompts.map((p) => p.length));
          for (let i = 0; i < this.queue.length && size < this.maxBatch; ) {
            const t = this.queue[i]!;
            const tLongest = t.kind === 'generate' ? Math.max(...t.prompts.map((p) => p.length)) : 0;
            // merged prompts are padded to the longest; never let that shorten anyone's budget
            if (t.kind === 'generate' && t.mergeKey === head.mergeKey && size + t.prompts.length <= this.maxBatch && Math.max(longest, tLongest) + head.sampling.maxNewTokens <= this.model.config.maxPositions) {
              batch.push(t);
              size += t.prompts.length;
              longest = Math.max(longest, tLongest);
              this.queue.splice(i, 1);
            } else i++;
          }
        }
        try {
          const all = await this.model.generate(batch.flatMap((t) => t.prompts), head.sampling);
          let at = 0;
          for (const t of batch) {
            t.resolve(all.slice(at, at + t.prompts.length));
            at += t.prompts.length;
          }
        } catch (e) {
          for (const t of batch) t.reject(e);
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}

// ---- request bodies ----

type Json = Record<string, unknown>;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    let size = 0;
    let tooLarge = Number.isFinite(declared) && declared > MAX_BODY_BYTES;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      if (tooLarge) {
        chunks.length = 0;
        // read what the client sends (so it can read our answer), but not without end
        if (size > 64 * MAX_BODY_BYTES) req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => (tooLarge ? reject(new HttpError(413, `the request body is larger than ${MAX_BODY_BYTES} bytes (1 MiB)`, null, 'request_too_large')) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

function parseJson(buf: Buffer): Json {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `the request body is not valid JSON (${(e as Error).message})`, null, 'invalid_json');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'the request body must be a JSON object', null, 'invalid_json');
  return v as Json;
}

const present = (body: Json, k: string): boolean => body[k] !== undefined && body[k] !== null;

function int(body: Json, k: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!present(body, k)) return dflt;
  const v = body[k];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(k, `'${k}' must be an integer (got ${JSON.stringify(v)})`);
  if (v < min || v > max) throw bad(k, `'${k}' must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`} (got ${v})`);
  return v;
}

function number(body: Json, k: string, dflt: number, ok: (x: number) => boolean, what: string): number {
  if (!present(body, k)) return dflt;
  const v = body[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw bad(k, `'${k}' must be ${what} (got ${JSON.stringify(v)})`);
  return v;
}

function bool(body: Json, k: string): boolean {
  if (!present(body, k)) return false;
  if (typeof body[k] !== 'boolean') throw bad(k, `'${k}' must be true or false (got ${JSON.stringify(body[k])})`);
  return body[k];
}

interface Sampling {
  temperature: number;
  topP?: number;
  topK?: number;
  stop: string[];
  seed?: number;
  n: number;
}

function sampling(body: Json): Sampling {
  if (body['stream'] === true) throw bad('stream', "streaming is not supported: leave 'stream' out or set it to false", 'unsupported_value');
  for (const k of ['frequency_penalty', 'presence_penalty']) {
    if (present(body, k) && body[k] !== 0) throw bad(k, `'${k}' is not supported (only 0)`, 'unsupported_value');
  }
  if (present(body, 'logit_bias') && (typeof body['logit_bias'] !== 'object' || Object.keys(body['logit_bias'] as object).length > 0)) throw bad('logit_bias', "'logit_bias' is not supported", 'unsupported_value');
  if (present(body, 'best_of') && body['best_of'] !== 1 && body['best_of'] !== body['n']) throw bad('best_of', "'best_of' is not supported", 'unsupported_value');
  const temperature = number(body, 'temperature', 1, (x) => x >= 0, 'a number ≥ 0');
  const topP = present(body, 'top_p') ? number(body, 'top_p', 1, (x) => x > 0 && x <= 1, 'a number in (0, 1]') : undefined;
  const topKRaw = present(body, 'top_k') ? int(body, 'top_k', 0, -1) : undefined;
  let stop: string[] = [];
  if (present(body, 'stop')) {
    const s = body['stop'];
    if (typeof s === 'string') stop = [s];
    else if (Array.isArray(s) && s.every((x) => typeof x === 'string')) stop = s as string[];
    else throw bad('stop', "'stop' must be a string or an array of strings");
    if (stop.length > 16) throw bad('stop', "'stop' may name at most 16 strings");
  }
  const seed = present(body, 'seed') ? int(body, 'seed', 0, Number.MIN_SAFE_INTEGER) : undefined;
  const n = int(body, 'n', 1, 1, MAX_SEQUENCES);
  return { temperature, ...(topP !== undefined ? { topP } : {}), ...(topKRaw !== undefined && topKRaw > 0 ? { topK: topKRaw } : {}), stop: stop.filter((x) => x !== ''), ...(seed !== undefined ? { seed } : {}), n };
}

function isTokenList(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isInteger(x));
}

// ---- the server ----

interface Choice {
  prompt: number[];
  promptText: string;
  gen: Generation;
  /** Scored positions (filled when log-probabilities were asked for). */
  scored?: PositionLogprobs[];
}

const finishReason = (g: Generation): 'stop' | 'length' => (g.finishReason === 'length' ? 'length' : 'stop');

export async function startServer(opts: ServeOptions): Promise<ServerHandle> {
  const requested = opts.backend ?? 'auto';
  let report = currentBackend();
  if (!report || (requested !== 'auto' && report.backend !== requested)) report = await initializeBackend({ backend: requested });
  const model = await ServeModel.load(opts.model, { ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.name ? { id: opts.name } : {}) });
  const ctx = model.config.maxPositions;
  const maxBatch = Math.max(1, Math.floor(opts.maxBatch ?? 8));
  const latency = Math.max(0, opts.latencyMs ?? 0);
  const scheduler = new Scheduler(model, maxBatch);
  const requestRng = new Rng(opts.seed ?? 0).fork('requests');
  const names = new Set([model.id, model.source]);
  let counter = 0;
  const newId = (prefix: string): string => `${prefix}-${randomBytes(6).toString('hex')}${(counter++).toString(16)}`;

  const started = Math.floor(Date.now() / 1000);
  const modelObject = (): Json => ({ id: model.id, object: 'model', created: started, owned_by: 'constitution-studio', max_model_len: ctx });

  function checkModel(body: Json): void {
    if (!present(body, 'model')) return;
    if (typeof body['model'] !== 'string') throw bad('model', "'model' must be a string");
    if (!names.has(body['model'])) throw new HttpError(404, `the model '${body['model']}' does not exist; this server serves '${model.id}'`, 'model', 'model_not_found');
  }

  function tooLong(len: number, param: string): HttpError {
    return new HttpError(400, `This model's maximum context length is ${ctx} tokens; the prompt has ${len} tokens`, param, 'context_length_exceeded');
  }

  /** Generates n continuations of each prompt; max_tokens is clipped to what fits in the context. */
  async function complete(prompts: { ids: number[]; text: string }[], maxTokens: number, s: Sampling): Promise<Choice[][]> {
    return Promise.all(prompts.map(async (p) => {
      const maxNew = Math.max(0, Math.min(maxTokens, ctx - p.ids.length));
      const greedy = !(s.temperature > 1e-6);
      const seed = s.seed ?? requestRng.nextUint32();
      const sp: ServeSampling = { maxNewTokens: maxNew, temperature: s.temperature, ...(s.topK !== undefined ? { topK: s.topK } : {}), ...(s.topP !== undefined ? { topP: s.topP } : {}), stop: s.stop, seed };
      const key = greedy
        ? JSON.stringify(['greedy', maxNew, s.stop])
        : s.seed === undefined ? JSON.stringify(['sample', maxNew, s.temperature, s.topK ?? 0, s.topP ?? 1, s.stop]) : undefined;
      const gens = await scheduler.generate(Array.from({ length: s.n }, () => p.ids), sp, key);
      return gens.map((gen) => ({ prompt: p.ids, promptText: p.text, gen }));
    }));
  }

  /** Scores the generated tokens (and the prompt's, from its second token, with `withPrompt`). */
  async function score(choices: Choice[], k: number, withPrompt: boolean): Promise<void> {
    for (const c of choices) {
      const ids = [...c.prompt, ...c.gen.tokens];
      c.scored = await scheduler.run(() => model.tokenLogprobs(ids, withPrompt ? 1 : c.prompt.length, k));
    }
  }

  function usage(prompts: { ids: number[] }[], choices: Choice[]): Json {
    const prompt_tokens = prompts.reduce((a, p) => a + p.ids.length, 0);
    const completion_tokens = choices.reduce((a, c) => a + c.gen.tokens.length, 0);
    return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
  }

  async function completions(body: Json): Promise<Json> {
    checkModel(body);
    const s = sampling(body);
    if (!present(body, 'prompt')) throw bad('prompt', "'prompt' is required (a string or an array of strings)", 'missing_required_parameter');
    const raw = body['prompt'];
    let items: (string | number[])[];
    if (typeof raw === 'string') items = [raw];
    else if (isTokenList(raw)) items = [raw];
    else if (Array.isArray(raw) && raw.length > 0 && raw.every((x) => typeof x === 'string' || isTokenList(x))) items = raw as (string | number[])[];
    else throw bad('prompt', "'prompt' must be a string, a non-empty array of strings, or token ids");
    const maxTokens = int(body, 'max_tokens', 16, 0);
    const k = present(body, 'logprobs') ? int(body, 'logprobs', 0, 0, MAX_TOP_LOGPROBS) : undefined;
    const echo = bool(body, 'echo');
    if (items.length * s.n > MAX_SEQUENCES) throw bad('n', `at most ${MAX_SEQUENCES} sequences per request (prompts × n)`);
    const V = model.config.vocabSize;
    const prompts = items.map((it) => {
      const ids = typeof it === 'string' ? model.encode(it) : it;
      if (ids.length === 0) throw bad('prompt', 'the prompt encodes to no tokens');
      if (ids.some((t) => t < 0 || t >= V)) throw bad('prompt', `token ids must lie in [0, ${V})`);
      if (ids.length > ctx) throw tooLong(ids.length, 'prompt');
      return { ids, text: typeof it === 'string' ? it : model.decode(it) };
    });
    const choices = (await complete(prompts, maxTokens, s)).flat();
    if (k !== undefined) await score(choices, k, echo);
    return {
      id: newId('cmpl'),
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      choices: choices.map((c, index) => ({
        text: echo ? c.promptText + (c.gen.text ?? '') : c.gen.text ?? '',
        index,
        logprobs: k === undefined ? null : completionLogprobs(c, echo),
        finish_reason: finishReason(c.gen),
      })),
      usage: usage(prompts, choices),
    };
  }

  /** The legacy completions `logprobs` object; `text_offset` indexes the choice's `text`. */
  function completionLogprobs(c: Choice, echo: boolean): Json {
    const shown = echo ? [...c.prompt, ...c.gen.tokens] : c.gen.tokens;
    const scored = c.scored ?? [];
    const lead = shown.length - scored.length; // 1 with echo (the first prompt token), else 0
    const P = c.prompt.length;
    const promptChars = echo ? model.decode(c.prompt).length : 0;
    const offset = (i: number): number => (echo && i <= P ? model.decode(c.prompt.slice(0, i)).length : promptChars + model.decode(c.gen.tokens.slice(0, echo ? i - P : i)).length);
    const tokens: string[] = [];
    const token_logprobs: (number | null)[] = [];
    const top_logprobs: (Record<string, number> | null)[] = [];
    const text_offset: number[] = [];
    shown.forEach((id, i) => {
      tokens.push(model.tokenText(id));
      text_offset.push(offset(i));
      const sc = i >= lead ? scored[i - lead] : undefined;
      if (!sc) {
        token_logprobs.push(null);
        top_logprobs.push(null);
        return;
      }
      token_logprobs.push(sc.logprob);
      const top: Record<string, number> = {};
      for (const t of sc.top) {
        const name = model.tokenText(t.token);
        if (!(name in top)) top[name] = t.logprob;
      }
      // as vLLM does: the token itself is listed too, when it is not among the k most likely
      if (sc.top.length > 0 && !sc.top.some((t) => t.token === id)) top[model.tokenText(id)] ??= sc.logprob;
      top_logprobs.push(top);
    });
    return { tokens, token_logprobs, top_logprobs, text_offset };
  }

  async function chat(body: Json): Promise<Json> {
    checkModel(body);
    const s = sampling(body);
    if (!present(body, 'messages')) throw bad('messages', "'messages' is required (an array of {role, content})", 'missing_required_parameter');
    const raw = body['messages'];
    if (!Array.isArray(raw) || raw.length === 0) throw bad('messages', "'messages' must be a non-empty array of {role, content}");
    const messages: ChatMessage[] = raw.map((m: unknown, i) => {
      const param = `messages[${i}]`;
      if (typeof m !== 'object' || m === null) throw bad(param, `'${param}' must be an object with 'role' and 'content'`);
      const role = (m as Json)['role'];
      if (role !== 'system' && role !== 'developer' && role !== 'user' && role !== 'assistant') throw bad(`${param}.role`, `'${param}.role' must be system, user or assistant (got ${JSON.stringify(role)})`);
      const content = (m as Json)['content'];
      let text: string;
      if (typeof content === 'string') text = content;
      else if (content === null || content === undefined) {
        if (role !== 'assistant') throw bad(`${param}.content`, `'${param}.content' is required`, 'missing_required_parameter');
        text = '';
      } else if (Array.isArray(content) && content.every((p) => typeof p === 'object' && p !== null && (p as Json)['type'] === 'text' && typeof (p as Json)['text'] === 'string')) {
        text = content.map((p) => (p as Json)['text'] as string).join('');
      } else throw bad(`${param}.content`, `'${param}.content' must be a string or an array of text parts`);
      return { role, content: text };
    });
    const wantLogprobs = bool(body, 'logprobs');
    const k = present(body, 'top_logprobs') ? int(body, 'top_logprobs', 0, 0, MAX_TOP_LOGPROBS) : 0;
    if (present(body, 'top_logprobs') && !wantLogprobs) throw bad('top_logprobs', "'top_logprobs' needs 'logprobs': true");
    const maxTokens = present(body, 'max_completion_tokens') ? int(body, 'max_completion_tokens', 0, 0) : int(body, 'max_tokens', ctx, 0);
    const text = renderChat(messages);
    const ids = model.encode(text);
    if (ids.length > ctx) throw tooLong(ids.length, 'messages');
    const prompts = [{ ids, text }];
    const choices = (await complete(prompts, maxTokens, s)).flat();
    if (wantLogprobs) await score(choices, k, false);
    return {
      id: newId('chatcmpl'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      choices: choices.map((c, index) => ({
        index,
        message: { role: 'assistant', content: c.gen.text ?? '' },
        logprobs: wantLogprobs
          ? {
              content: (c.scored ?? []).map((sc) => ({
                token: model.tokenText(sc.token),
                logprob: sc.logprob,
                bytes: model.tokenBytes(sc.token),
                top_logprobs: sc.top.map((t) => ({ token: model.tokenText(t.token), logprob: t.logprob, bytes: model.tokenBytes(t.token) })),
              })),
            }
          : null,
        finish_reason: finishReason(c.gen),
      })),
      usage: usage(prompts, choices),
    };
  }

  const routes: Record<string, Partial<Record<string, (req: http.IncomingMessage) => Promise<Json>>>> = {
    '/health': { GET: async () => ({ status: 'ok' }) },
    '/v1/models': { GET: async () => ({ object: 'list', data: [modelObject()] }) },
    '/v1/completions': { POST: async (req) => completions(parseJson(await readBody(req))) },
    '/v1/chat/completions': { POST: async (req) => chat(parseJson(await readBody(req))) },
  };
  const slow = new Set(['/v1/completions', '/v1/chat/completions']);

  function send(res: http.ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
    const pathname = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    let route = routes[pathname];
    if (!route && pathname.startsWith('/v1/models/')) {
      const id = decodeURIComponent(pathname.slice('/v1/models/'.length));
      route = { GET: async () => { if (!names.has(id)) throw new HttpError(404, `the model '${id}' does not exist; this server serves '${model.id}'`, 'model', 'model_not_found'); return modelObject(); } };
    }
    if (!route) req.resume();
    if (!route) throw new HttpError(404, `no such endpoint: ${req.method ?? ''} ${pathname} (endpoints: /health, /v1/models, /v1/completions, /v1/chat/completions)`, null, 'not_found');
    const handler = route[req.method ?? ''];
    if (!handler) {
      req.resume();
      throw new HttpError(405, `${pathname} takes ${Object.keys(route).join(', ')}, not ${req.method ?? ''}`, null, 'method_not_allowed');
    }
    const body = await handler(req);
    // a slow network in front of the model: the delay comes on top of the computation
    if (slow.has(pathname) && latency > 0) await new Promise((r) => setTimeout(r, latency));
    send(res, 200, body);
    return 200;
  }

  const server = http.createServer((req, res) => {
    const began = performance.now();
    handle(req, res).then(
      (status) => opts.log?.(`${req.method} ${req.url} ${status} ${Math.round(performance.now() - began)}ms`),
      (e: unknown) => {
        const err = e instanceof HttpError ? e : new HttpError(500, (e as Error)?.message ?? String(e), null, null, 'server_error');
        const headers: Record<string, string> = {};
        if (err.status === 405) headers['allow'] = Object.keys(routes[(req.url ?? '').split('?')[0]!.replace(/\/+$/, '')] ?? {}).join(', ') || 'GET';
        if (err.status === 413) headers['connection'] = 'close';
        send(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: err.code } }, headers);
        opts.log?.(`${req.method} ${req.url} ${err.status} ${Math.round(performance.now() - began)}ms ${err.message}`);
      },
    );
  });
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  const host = opts.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    scheduler.close();
    model.dispose();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    baseUrl: `${url}/v1`,
    port,
    host,
    model: model.id,
    backend: report,
    close() {
      closing ??= new Promise<void>((resolve) => {
        scheduler.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(async () => {
        // a computation already started finishes first (run() is queued behind it)
        await new Promise<void>((r) => setImmediate(r));
        model.dispose();
      });
      return closing;
    },
  };
}
