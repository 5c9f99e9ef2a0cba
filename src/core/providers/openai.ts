// A Provider over an OpenAI-compatible HTTP endpoint: vLLM, llama.cpp's server, Ollama, TGI,
// LM Studio or a hosted API. Completions go to /completions (plain prompts) or /chat/completions
// (the prompt as chat messages); choices are read from the first generated token's top
// log-probabilities, or estimated from samples when the endpoint gives none.

import { endpointOf, HttpClient, type HttpClientOptions, originOf } from './http.js';
import {
  type CancelSignal,
  type ChoiceRequest,
  type ChoiceResult,
  type Completion,
  type CompletionRequest,
  type Provider,
  ProviderError,
} from './types.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface OpenAiProviderOptions {
  /** Up to and including the version segment, e.g. `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  model: string;
  /** `completions`: POST /completions with the prompt as is; `chat`: POST /chat/completions. */
  api: 'completions' | 'chat';
  /** Sent as `Authorization: Bearer …`, and only to the base URL's origin. Never in messages. */
  apiKey?: string;
  /** Extra headers on every request (an Authorization here is also kept off other origins). */
  headers?: Record<string, string>;
  /** How many alternatives to ask for at the first token (default 5). */
  topLogprobs?: number;
  /**
   * How `choose` scores options. `auto` (default): top log-probabilities when the endpoint
   * returns them, otherwise sampling; `top-logprobs`: fail when none come back; `sampled`:
   * always sample.
   */
  choiceMethod?: 'auto' | 'top-logprobs' | 'sampled';
  /** Samples per choice when sampling (default 8). */
  samples?: number;
  /** How a prompt becomes chat messages (default: the whole prompt as one user message). */
  chatTemplate?: (prompt: string) => ChatMessage[];
}

const LN10 = Math.log(10);
/** A choice whose top token is a shared prefix of every option (" (") is asked again once per level. */
const MAX_PREFIX_STEPS = 2;

/** One alternative at the first generated position. */
export interface TokenLogprob {
  token: string;
  logprob: number;
}

/**
 * The text an option or token is matched by: leading whitespace (including the SentencePiece
 * `▁` and GPT-2 `Ġ` markers some servers leave in token strings) and opening parentheses or
 * brackets removed, then the leading run of letters and digits. `' (A)'`, `' A'`, `'A'`, `'(A'`
 * and `'A)'` all give `A`; `' Yes, because'` gives `Yes`; `' ('` gives the empty string, which
 * matches nothing. Case-sensitive.
 */
export function choiceKey(text: string): string {
  const rest = text.replace(/^[\s\u2581\u0120([{]+/u, '');
  const m = /^[\p{L}\p{N}_]+/u.exec(rest);
  return m ? m[0] : '';
}

function logSumExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/**
 * Log-probabilities of `options` from the alternatives listed at one position. An option takes
 * the probability of every listed token with its key (so `' A'` and `'A'` add up); an option
 * with no listed token gets the lowest listed log-probability minus ln 10. Undefined when the
 * list is empty.
 */
export function scoreFromTopLogprobs(options: readonly string[], top: readonly TokenLogprob[]): number[] | undefined {
  const listed = top.filter((t) => Number.isFinite(t.logprob));
  if (listed.length === 0) return undefined;
  const lowest = Math.min(...listed.map((t) => t.logprob));
  return options.map((option) => {
    const key = choiceKey(option);
    let lp = -Infinity;
    if (key !== '') for (const t of listed) if (choiceKey(t.token) === key) lp = logSumExp(lp, t.logprob);
    return lp === -Infinity ? lowest - LN10 : lp;
  });
}

/**
 * Which option a sampled continuation starts with: the longest option that is a prefix of it
 * (leading whitespace ignored on both), else the first whose key is the sample's key.
 */
export function matchSample(options: readonly string[], sample: string): number | undefined {
  const text = sample.trimStart();
  let best: number | undefined;
  let bestLen = -1;
  options.forEach((o, i) => {
    const opt = o.trimStart();
    if (opt.length > 0 && text.startsWith(opt) && opt.length > bestLen) {
      best = i;
      bestLen = opt.length;
    }
  });
  if (best !== undefined) return best;
  const key = choiceKey(text);
  if (key === '') return undefined;
  const i = options.findIndex((o) => choiceKey(o) === key);
  return i >= 0 ? i : undefined;
}

/** ln of add-one smoothed frequencies: (count + 1) / (samples + options). */
export function scoreFromSamples(options: readonly string[], samples: readonly string[]): number[] {
  const counts = options.map(() => 0);
  for (const s of samples) {
    const i = matchSample(options, s);
    if (i !== undefined) counts[i] = (counts[i] ?? 0) + 1;
  }
  const total = samples.length + options.length;
  return counts.map((c) => Math.log((c + 1) / total));
}

// -- reading response bodies ------------------------------------------------------------------

type Json = Record<string, unknown>;

function asObject(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

function firstChoice(body: unknown): Json | undefined {
  const choices = asObject(body)?.['choices'];
  return Array.isArray(choices) ? asObject(choices[0]) : undefined;
}

function allChoices(body: unknown): Json[] {
  const choices = asObject(body)?.['choices'];
  return Array.isArray(choices) ? choices.map(asObject).filter((c): c is Json => c !== undefined) : [];
}

/** `choices[0].logprobs.top_logprobs[0]` of a completions response: token → logprob. */
function completionsTop(body: unknown): TokenLogprob[] | undefined {
  const top = asObject(firstChoice(body)?.['logprobs'])?.['top_logprobs'];
  if (!Array.isArray(top) || top.length === 0) return undefined;
  const first = top[0];
  // some servers give [{token, logprob}] here too
  if (Array.isArray(first)) return tokenList(first);
  const map = asObject(first);
  if (!map) return undefined;
  return Object.entries(map)
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .map(([token, logprob]) => ({ token, logprob }));
}

/** `choices[0].logprobs.content[0].top_logprobs` of a chat response: [{token, logprob}]. */
function chatTop(body: unknown): TokenLogprob[] | undefined {
  const content = asObject(firstChoice(body)?.['logprobs'])?.['content'];
  if (!Array.isArray(content) || content.length === 0) return undefined;
  const top = asObject(content[0])?.['top_logprobs'];
  return Array.isArray(top) ? tokenList(top) : undefined;
}

function tokenList(items: unknown[]): TokenLogprob[] {
  const out: TokenLogprob[] = [];
  for (const item of items) {
    const o = asObject(item);
    if (o && typeof o['token'] === 'string' && typeof o['logprob'] === 'number') out.push({ token: o['token'], logprob: o['logprob'] });
  }
  return out;
}

function choiceText(choice: Json | undefined, api: 'completions' | 'chat'): string | undefined {
  if (!choice) return undefined;
  if (api === 'completions') return typeof choice['text'] === 'string' ? choice['text'] : undefined;
  const content = asObject(choice['message'])?.['content'];
  if (typeof content === 'string') return content;
  return content === null ? '' : undefined;
}

export class OpenAiProvider implements Provider {
  readonly id: string;
  private readonly http: HttpClient;
  private readonly base: string;
  private readonly origin: string | undefined;
  private readonly topLogprobs: number;
  private readonly samples: number;
  /** Learned in `auto` mode: false once the endpoint answered a choice without log-probabilities. */
  private logprobsAvailable: boolean | undefined;
  private disposed = false;

  constructor(
    private readonly options: OpenAiProviderOptions,
    http: HttpClient | HttpClientOptions,
  ) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.origin = originOf(this.base);
    if (!this.origin) throw new ProviderError(`OpenAI-compatible provider: baseUrl must be an absolute http(s) URL, got "${endpointOf(options.baseUrl)}"`, 'fatal');
    this.id = `openai:${endpointOf(this.base)} model=${options.model}`;
    this.topLogprobs = options.topLogprobs ?? 5;
    this.samples = options.samples ?? 8;
    if (!Number.isInteger(this.topLogprobs) || this.topLogprobs < 1) throw new RangeError(`topLogprobs must be a positive integer, got ${this.topLogprobs}`);
    if (!Number.isInteger(this.samples) || this.samples < 1) throw new RangeError(`samples must be a positive integer, got ${this.samples}`);
    this.http = http instanceof HttpClient ? http : new HttpClient(http);
    this.http.addSecret(options.apiKey);
    const auth = Object.entries(options.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization');
    if (auth) this.http.addSecret(auth[1].replace(/^\s*Bearer\s+/i, ''));
    if (options.choiceMethod === 'sampled') this.logprobsAvailable = false;
  }

  /** The client's counters, for metrics. */
  get counters(): HttpClient['counters'] {
    return this.http.counters;
  }

  async ready(signal?: CancelSignal): Promise<void> {
    this.alive();
    const modelsUrl = `${this.base}/models`;
    // a missing server should be reported before a run, not after a long retry schedule
    const maxRetries = Math.min(this.http.policy.maxRetries, 2);
    let body: unknown;
    try {
      body = await this.http.requestJson({ method: 'GET', url: modelsUrl, headers: this.headersFor(modelsUrl), maxRetries, ...(signal ? { signal } : {}) });
    } catch (e) {
      if (e instanceof ProviderError && e.status === 404) {
        const healthUrl = `${this.origin}/health`;
        try {
          await this.http.request({ method: 'GET', url: healthUrl, headers: this.headersFor(healthUrl), maxRetries, ...(signal ? { signal } : {}) });
          return;
        } catch (e2) {
          throw this.notReady(`${endpointOf(modelsUrl)} answered 404 and ${endpointOf(healthUrl)} failed`, e2);
        }
      }
      throw this.notReady(`cannot list models at ${endpointOf(modelsUrl)}`, e);
    }
    const data = asObject(body)?.['data'];
    if (!Array.isArray(data)) return; // a server that lists models its own way: trust it
    const ids = data.map((m) => asObject(m)?.['id']).filter((id): id is string => typeof id === 'string');
    if (ids.length === 0) return;
    const want = this.options.model;
    if (ids.some((id) => id === want || id === `${want}:latest`)) return;
    const shown = ids.slice(0, 10).join(', ') + (ids.length > 10 ? `, … (${ids.length} in all)` : '');
    throw new ProviderError(this.http.redact(`model "${want}" is not served by ${endpointOf(modelsUrl)} (it lists: ${shown})`), 'fatal');
  }

  async complete(requests: CompletionRequest[], signal?: CancelSignal): Promise<Completion[]> {
    this.alive();
    return Promise.all(requests.map((r) => this.completeOne(r, signal)));
  }

  async choose(requests: ChoiceRequest[], signal?: CancelSignal): Promise<ChoiceResult[]> {
    this.alive();
    return Promise.all(requests.map((r) => this.chooseOne(r, signal)));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.http.dispose();
  }

  // -- completions ----------------------------------------------------------------------------

  private async completeOne(req: CompletionRequest, signal: CancelSignal | undefined): Promise<Completion> {
    const body: Json = { ...this.promptFields(req.prompt), max_tokens: req.maxTokens, temperature: req.temperature };
    if (req.topP !== undefined) body['top_p'] = req.topP;
    // not in OpenAI's own API, but vLLM, llama.cpp, Ollama and TGI read it
    if (req.topK !== undefined && req.topK > 0) body['top_k'] = req.topK;
    if (req.stop && req.stop.length > 0) body['stop'] = req.stop;
    if (req.seed !== undefined) body['seed'] = req.seed;
    const res = await this.post(body, signal);
    const choice = firstChoice(res);
    const text = choiceText(choice, this.options.api);
    if (text === undefined) throw this.badShape('no choices[0].' + (this.options.api === 'chat' ? 'message.content' : 'text'));
    const completion: Completion = { text, finishReason: choice?.['finish_reason'] === 'length' ? 'length' : 'stop' };
    const tokens = asObject(asObject(res)?.['usage'])?.['completion_tokens'];
    if (typeof tokens === 'number') completion.completionTokens = tokens;
    return completion;
  }

  // -- choices --------------------------------------------------------------------------------

  private async chooseOne(req: ChoiceRequest, signal: CancelSignal | undefined): Promise<ChoiceResult> {
    if (req.options.length === 0) return { logprobs: [], method: this.logprobsAvailable === false ? 'sampled' : 'top-logprobs' };
    const mode = this.options.choiceMethod ?? 'auto';
    if (mode !== 'sampled' && this.logprobsAvailable !== false) {
      const scored = await this.fromTopLogprobs(req.prompt, req.options, signal, mode === 'auto');
      if (scored) return { logprobs: scored, method: 'top-logprobs' };
      if (mode === 'top-logprobs') throw new ProviderError(`${this.endpoint()} returned no log-probabilities (choiceMethod is top-logprobs; use auto or sampled)`, 'fatal');
      this.logprobsAvailable = false;
    }
    return { logprobs: await this.fromSamples(req.prompt, req.options, signal), method: 'sampled' };
  }

  /** Undefined when the endpoint gives no log-probabilities (or, in auto mode, refuses to). */
  private async fromTopLogprobs(prompt: string, options: readonly string[], signal: CancelSignal | undefined, lenient: boolean): Promise<number[] | undefined> {
    let text = prompt;
    let opts = [...options];
    for (let step = 0; ; step++) {
      const body: Json = { ...this.promptFields(text), max_tokens: 1, temperature: 0 };
      if (this.options.api === 'chat') {
        body['logprobs'] = true;
        body['top_logprobs'] = this.topLogprobs;
      } else {
        body['logprobs'] = this.topLogprobs;
      }
      let res: unknown;
      try {
        res = await this.post(body, signal);
      } catch (e) {
        // endpoints that do not support log-probabilities often refuse the parameter outright
        if (lenient && step === 0 && e instanceof ProviderError && e.kind === 'fatal' && (e.status === 400 || e.status === 422)) return undefined;
        throw e;
      }
      const top = this.options.api === 'chat' ? chatTop(res) : completionsTop(res);
      if (!top || top.length === 0) return undefined;
      this.logprobsAvailable = true;
      const scored = scoreFromTopLogprobs(opts, top);
      if (!scored) return undefined;
      // the model may spend its first token on a prefix every option shares (' (' before 'A'):
      // when no option matched and the likeliest token is such a prefix, ask about the next token
      const matched = opts.some((o) => {
        const k = choiceKey(o);
        return k !== '' && top.some((t) => choiceKey(t.token) === k);
      });
      if (matched || this.options.api === 'chat' || step >= MAX_PREFIX_STEPS) return scored;
      const best = top.reduce((a, b) => (b.logprob > a.logprob ? b : a));
      if (best.token === '' || !opts.every((o) => o.startsWith(best.token) && o.length > best.token.length)) return scored;
      text += best.token;
      opts = opts.map((o) => o.slice(best.token.length));
    }
  }

  private async fromSamples(prompt: string, options: readonly string[], signal: CancelSignal | undefined): Promise<number[]> {
    const texts: string[] = [];
    const body: Json = { ...this.promptFields(prompt), max_tokens: 3, temperature: 1, n: this.samples };
    const first = await this.post(body, signal);
    for (const c of allChoices(first)) {
      const t = choiceText(c, this.options.api);
      if (t !== undefined) texts.push(t);
    }
    // servers that ignore `n` answer with one choice: ask for the rest one at a time
    const missing = this.samples - Math.min(texts.length, this.samples);
    if (missing > 0) {
      const more = await Promise.all(Array.from({ length: missing }, () => this.post({ ...body, n: 1 }, signal)));
      for (const r of more) {
        const t = choiceText(firstChoice(r), this.options.api);
        if (t !== undefined) texts.push(t);
      }
    }
    if (texts.length === 0) throw this.badShape('no sampled text in the choices');
    return scoreFromSamples(options, texts.slice(0, this.samples));
  }

  // -- plumbing -------------------------------------------------------------------------------

  private url(): string {
    return `${this.base}/${this.options.api === 'chat' ? 'chat/completions' : 'completions'}`;
  }

  private endpoint(): string {
    return `POST ${endpointOf(this.url())}`;
  }

  private promptFields(prompt: string): Json {
    if (this.options.api === 'completions') return { model: this.options.model, prompt };
    const messages = this.options.chatTemplate ? this.options.chatTemplate(prompt) : [{ role: 'user', content: prompt }];
    return { model: this.options.model, messages };
  }

  private post(body: Json, signal: CancelSignal | undefined): Promise<unknown> {
    const url = this.url();
    return this.http.requestJson({ method: 'POST', url, headers: this.headersFor(url), body: JSON.stringify(body), ...(signal ? { signal } : {}) });
  }

  /** The configured headers, with credentials only for the base URL's own origin. */
  private headersFor(url: string): Record<string, string> {
    const sameOrigin = originOf(url) === this.origin;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.options.headers ?? {})) {
      if (!sameOrigin && (k.toLowerCase() === 'authorization' || k.toLowerCase() === 'api-key' || k.toLowerCase() === 'x-api-key')) continue;
      headers[k] = v;
    }
    if (sameOrigin && this.options.apiKey) headers['Authorization'] = `Bearer ${this.options.apiKey}`;
    return headers;
  }

  private badShape(what: string): ProviderError {
    return new ProviderError(`${this.endpoint()} answered 200 but the body has an unexpected shape: ${what}`, 'fatal');
  }

  private notReady(what: string, cause: unknown): Error {
    if (!(cause instanceof ProviderError)) return cause instanceof Error ? cause : new Error(String(cause));
    return new ProviderError(this.http.redact(`OpenAI-compatible endpoint not ready: ${what}: ${cause.message}`), cause.kind, cause.status);
  }

  private alive(): void {
    if (this.disposed) throw new ProviderError(`${this.id} was disposed`, 'fatal');
  }
}
