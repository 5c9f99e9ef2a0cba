// The `llama-cpp` provider: a local GGUF file run by llama.cpp through `node-llama-cpp`
// (exactly 3.21.1, an optional dependency: never bundled, loaded at run time from the user's
// installation like the native TensorFlow.js backends). CPU only unless `gpu` says otherwise.
//
// Completions are generated token by token on one context sequence; a prompt that shares a
// prefix with the previous request reuses its evaluated state (few-shot prefixes). Answer
// probabilities are exact: each option is scored as a continuation of the prompt from llama.cpp's
// full next-token distributions (`controlledEvaluate` with `generateNext.probabilities`, the
// softmax of the raw logits), so `method` is 'exact'. Requests are served one at a time.
//
// Like the embedded provider, a prompt that does not fit the context loses its oldest tokens
// (BOS kept), and `truncatedPrompts` counts how often that happened.

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CancelSignal, ChoiceRequest, ChoiceResult, Completion, CompletionRequest, Provider } from '../core/providers/types';
import { ProviderError } from '../core/providers/types';

/** The version this provider is written and tested against. */
export const NODE_LLAMA_CPP_VERSION = '3.21.1';
export const NOT_INSTALLED_MESSAGE = `node-llama-cpp is not installed; npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`;

// The part of node-llama-cpp's API used here (its types are not imported: the package is optional).
type Token = number;
interface NlcLlama {
  loadModel(opts: { modelPath: string; gpuLayers?: number | 'auto' | 'max'; useMmap?: boolean }): Promise<NlcModel>;
  dispose(): Promise<void>;
}
interface NlcModel {
  readonly trainContextSize: number;
  readonly tokens: { readonly bos: Token | null; readonly shouldPrependBosToken: boolean };
  tokenize(text: string, specialTokens?: boolean): Token[];
  detokenize(tokens: readonly Token[], specialTokens?: boolean): string;
  isEogToken(token: Token | undefined): boolean;
  createContext(opts: { contextSize?: number; sequences?: number; threads?: number; batchSize?: number; flashAttention?: boolean; experimentalKvCacheKeyType?: 'F32' | 'F16'; experimentalKvCacheValueType?: 'F32' | 'F16' }): Promise<NlcContext>;
  dispose(): Promise<void>;
}
interface NlcContext {
  readonly contextSize: number;
  getSequence(): NlcSequence;
  dispose(): Promise<void>;
}
interface NlcSampleOptions {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  seed?: number;
}
type NlcControlledItem = Token | [Token, { generateNext?: { probabilities?: boolean; options?: NlcSampleOptions } }];
interface NlcSequence {
  readonly nextTokenIndex: number;
  adaptStateToTokens(tokens: Token[], allowShift?: boolean): Promise<void>;
  evaluate(tokens: Token[], opts?: NlcSampleOptions & { yieldEogToken?: boolean }): AsyncGenerator<Token, void, void | Token | Token[]>;
  controlledEvaluate(input: NlcControlledItem[]): Promise<Array<undefined | { next: { probabilities?: Map<Token, number> } }>>;
}
interface NlcModule {
  getLlama(opts: {
    gpu?: false | 'auto' | 'cuda' | 'vulkan' | 'metal';
    build?: 'never' | 'auto';
    logLevel?: 'disabled' | 'fatal' | 'error' | 'warn' | 'info' | 'log' | 'debug';
    logger?: (level: string, message: string) => void;
    progressLogs?: boolean;
    skipDownload?: boolean;
    maxThreads?: number;
  }): Promise<NlcLlama>;
}

/** Folders searched for node-llama-cpp, in order: as for the native TensorFlow.js backends. */
export function defaultSearchPaths(): string[] {
  return [process.cwd(), __dirname, path.join(os.homedir(), '.constitution-studio')];
}

/**
 * Imports node-llama-cpp from the first search path whose node_modules (or a parent's) has it.
 * Throws a fatal ProviderError with NOT_INSTALLED_MESSAGE when none does.
 */
export async function importNodeLlamaCpp(searchPaths: readonly string[] = defaultSearchPaths()): Promise<{ module: NlcModule; version: string; file: string }> {
  const resolved = findNodeLlamaCpp(searchPaths);
  if (resolved) {
    let version = 'unknown';
    try {
      // dist/index.js → the package folder
      const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(resolved), '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'node-llama-cpp' && pkg.version) version = pkg.version;
    } catch {
      // the version is informational
    }
    let module: NlcModule;
    try {
      module = (await import(pathToFileURL(resolved).href)) as NlcModule;
    } catch (e) {
      throw new ProviderError(`node-llama-cpp (${resolved}) failed to load: ${String((e as Error).message ?? e).split('\n')[0]}`, 'fatal');
    }
    if (typeof module.getLlama !== 'function') throw new ProviderError(`node-llama-cpp (${resolved}) has no getLlama(): not a 3.x release (npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION})`, 'fatal');
    return { module, version, file: resolved };
  }
  throw new ProviderError(NOT_INSTALLED_MESSAGE, 'fatal');
}

/** node-llama-cpp's entry file as found from the first search path that has it, or undefined. */
export function findNodeLlamaCpp(searchPaths: readonly string[] = defaultSearchPaths()): string | undefined {
  for (const base of searchPaths) {
    try {
      return createRequire(path.join(path.resolve(base), 'noop.js')).resolve('node-llama-cpp');
    } catch {
      // try the next folder
    }
  }
  return undefined;
}

export interface LlamaCppProviderOptions {
  /**
   * Tokens of context (prompt and completion together). Default: the model's training context,
   * at most 4096. Never more than the training context.
   */
  readonly contextSize?: number;
  /** llama.cpp's compute: `false` (default) is the CPU only; 'auto', 'cuda', 'vulkan' or 'metal' use a GPU build. */
  readonly gpu?: false | 'auto' | 'cuda' | 'vulkan' | 'metal';
  /** Layers offloaded to the GPU when `gpu` is set (default 'auto'). */
  readonly gpuLayers?: number | 'auto' | 'max';
  /**
   * Float32 attention: a float32 KV cache and no flash attention (llama.cpp's defaults are a
   * float16 cache and flash attention where supported, which move log-probabilities by ~1e-4
   * relative). Costs twice the cache memory. Default false.
   */
  readonly precise?: boolean;
  /** CPU threads (default: node-llama-cpp's choice, the machine's math cores; 1 is fastest for tiny models). */
  readonly threads?: number;
  /** Folders to look for node-llama-cpp in (default: the current folder, the bundle's folder, ~/.constitution-studio). */
  readonly searchPaths?: readonly string[];
  /** llama.cpp's log lines (warnings and errors); default: dropped. */
  readonly log?: (line: string) => void;
}

const LOG_FLOOR = Math.log(1.401298464324817e-45); // the smallest float32: a probability that underflowed

/** Serves requests one at a time (one context sequence holds one prompt's state). */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export class LlamaCppProvider implements Provider {
  readonly id: string;
  readonly file: string;
  truncatedPrompts = 0;
  /** node-llama-cpp's version, once ready. */
  version: string | undefined;
  private loading: Promise<void> | undefined;
  private llama: NlcLlama | undefined;
  private model: NlcModel | undefined;
  private context: NlcContext | undefined;
  private sequence: NlcSequence | undefined;
  private limit = 0;
  private disposed = false;
  private readonly queue = new Queue();

  constructor(file: string, private readonly opts: LlamaCppProviderOptions = {}) {
    this.file = path.resolve(file);
    this.id = `llama-cpp:${this.file}`;
  }

  /** A provider that is ready (the model loaded). */
  static async create(file: string, opts: LlamaCppProviderOptions = {}): Promise<LlamaCppProvider> {
    const p = new LlamaCppProvider(file, opts);
    await p.ready();
    return p;
  }

  /** Tokens the prompt and completion share (the context used); 0 before ready(). */
  get contextSize(): number {
    return this.limit;
  }

  async ready(signal?: CancelSignal): Promise<void> {
    if (this.disposed) throw new ProviderError(`${this.id}: the provider was disposed`, 'fatal');
    this.loading ??= this.load().catch(async (e: unknown) => {
      this.loading = undefined;
      await this.release();
      throw e;
    });
    if (signal?.aborted) throw new ProviderError(`${this.id}: cancelled`, 'retryable');
    await this.loading;
  }

  private async load(): Promise<void> {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.file);
    } catch {
      throw new ProviderError(`${this.file}: no such GGUF file`, 'fatal');
    }
    if (!stat.isFile()) throw new ProviderError(`${this.file}: not a file (expected a .gguf model)`, 'fatal');
    const fd = fs.openSync(this.file, 'r');
    try {
      const magic = Buffer.alloc(4);
      fs.readSync(fd, magic, 0, 4, 0);
      if (magic.toString('latin1') !== 'GGUF') throw new ProviderError(`${this.file}: not a GGUF file (it does not start with "GGUF")`, 'fatal');
    } finally {
      fs.closeSync(fd);
    }
    const { module, version } = await importNodeLlamaCpp(this.opts.searchPaths ?? defaultSearchPaths());
    this.version = version;
    if (version !== NODE_LLAMA_CPP_VERSION) this.opts.log?.(`llama-cpp: node-llama-cpp ${version} is installed; this provider is tested with ${NODE_LLAMA_CPP_VERSION}`);
    const log = this.opts.log;
    try {
      this.llama = await module.getLlama({
        gpu: this.opts.gpu ?? false,
        build: 'never',
        progressLogs: false,
        skipDownload: true,
        logLevel: log ? 'warn' : 'error',
        logger: (level, message) => {
          if (log) log(`llama.cpp ${level}: ${message.trimEnd()}`);
        },
      });
    } catch (e) {
      throw new ProviderError(`node-llama-cpp cannot start llama.cpp${this.opts.gpu ? ` with gpu '${this.opts.gpu}'` : ' on the CPU'}: ${firstLine(e)}`, 'fatal');
    }
    try {
      this.model = await this.llama.loadModel({ modelPath: this.file, gpuLayers: this.opts.gpu ? (this.opts.gpuLayers ?? 'auto') : 0 });
    } catch (e) {
      throw new ProviderError(`${this.file}: llama.cpp cannot load this model (${firstLine(e)})`, 'fatal');
    }
    const train = this.model.trainContextSize;
    const want = Math.min(this.opts.contextSize ?? Math.min(train, 4096), train);
    if (!(want >= 2)) throw new ProviderError(`${this.file}: a context of ${want} tokens is too small`, 'fatal');
    try {
      this.context = await this.model.createContext({ contextSize: want, sequences: 1, ...(this.opts.precise ? { flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } : {}), ...(this.opts.threads ? { threads: this.opts.threads } : {}) });
    } catch (e) {
      throw new ProviderError(`${this.file}: llama.cpp cannot create a context of ${want} tokens (${firstLine(e)})`, 'fatal');
    }
    this.limit = Math.min(want, this.context.contextSize);
    this.sequence = this.context.getSequence();
  }

  private async loaded(signal?: CancelSignal): Promise<{ model: NlcModel; seq: NlcSequence }> {
    await this.ready(signal);
    if (!this.model || !this.sequence) throw new ProviderError(`${this.id}: the provider was disposed`, 'fatal');
    return { model: this.model, seq: this.sequence };
  }

  /** Prompt tokens that leave room for `room` more, oldest dropped first (BOS kept). */
  private fit(model: NlcModel, text: string, room: number): Token[] {
    const bos = model.tokens.bos;
    const body = model.tokenize(text, false);
    const ids = model.tokens.shouldPrependBosToken && bos !== null ? [bos, ...body] : body;
    if (ids.length === 0) throw new ProviderError(`${this.id}: the prompt encodes to no tokens (the model adds no BOS)`, 'fatal');
    const limit = this.limit - room;
    if (limit < 1) throw new ProviderError(`${this.id}: the context of ${this.limit} tokens cannot hold ${room} new tokens`, 'fatal');
    if (ids.length <= limit) return ids;
    this.truncatedPrompts++;
    return bos !== null && ids[0] === bos ? [bos, ...ids.slice(ids.length - limit + 1)] : ids.slice(ids.length - limit);
  }

  /** Puts the sequence at `prompt` minus its last token (reusing a shared prefix) and returns what is left to evaluate. */
  private async rest(seq: NlcSequence, prompt: Token[]): Promise<Token[]> {
    await seq.adaptStateToTokens(prompt.slice(0, -1), false);
    return prompt.slice(Math.min(seq.nextTokenIndex, prompt.length - 1));
  }

  async complete(requests: CompletionRequest[], signal?: CancelSignal): Promise<Completion[]> {
    const { model, seq } = await this.loaded(signal);
    return this.queue.run(async () => {
      const out: Completion[] = [];
      for (const [i, r] of requests.entries()) {
        if (signal?.aborted) throw new ProviderError(`${this.id}: cancelled`, 'retryable');
        out.push(await this.completeOne(model, seq, r, i, signal));
      }
      return out;
    });
  }

  private async completeOne(model: NlcModel, seq: NlcSequence, r: CompletionRequest, index: number, signal?: CancelSignal): Promise<Completion> {
    if (!(r.temperature >= 0)) throw new ProviderError(`${this.id}: temperature must be ≥ 0 (got ${r.temperature})`, 'fatal');
    const maxNew = Math.max(1, Math.min(Math.floor(r.maxTokens), this.limit - 1));
    const prompt = this.fit(model, r.prompt, maxNew);
    const stops = (r.stop ?? []).filter((s) => s.length > 0);
    // Requests of one call get distinct seeds, so the same prompt twice gives two samples (repeatably).
    const seed = ((r.seed ?? 0) * 1000003 + index) >>> 0;
    const tokens: Token[] = [];
    let finishReason: Completion['finishReason'] = 'length';
    let cut: number | undefined;
    const gen = seq.evaluate(await this.rest(seq, prompt), {
      temperature: r.temperature,
      // node-llama-cpp's defaults are top-k 40 and top-p 0.95; the interface's default is neither.
      topK: r.topK ?? 0,
      topP: r.topP ?? 1,
      minP: 0,
      seed,
      yieldEogToken: true,
    });
    try {
      for await (const t of gen) {
        if (signal?.aborted) throw new ProviderError(`${this.id}: cancelled`, 'retryable');
        tokens.push(t);
        if (model.isEogToken(t)) {
          finishReason = 'eos';
          break;
        }
        if (stops.length > 0) {
          cut = firstStop(model.detokenize(tokens, false), stops);
          if (cut !== undefined) {
            finishReason = 'stop';
            break;
          }
        }
        if (tokens.length >= maxNew) break;
      }
    } finally {
      await gen.return(undefined);
    }
    const kept = finishReason === 'eos' ? tokens.slice(0, -1) : tokens;
    let text = model.detokenize(kept, false);
    let count = tokens.length;
    if (cut !== undefined) {
      text = text.slice(0, cut);
      // Tokens whose text lies past the cut are not counted (as the embedded provider does).
      while (count > 0 && model.detokenize(tokens.slice(0, count - 1), false).length >= cut) count--;
    }
    return { text, finishReason, completionTokens: count };
  }

  async choose(requests: ChoiceRequest[], signal?: CancelSignal): Promise<ChoiceResult[]> {
    const { model, seq } = await this.loaded(signal);
    return this.queue.run(async () => {
      const results: ChoiceResult[] = [];
      for (const r of requests) {
        if (signal?.aborted) throw new ProviderError(`${this.id}: cancelled`, 'retryable');
        results.push({ logprobs: await this.scoreOptions(model, seq, r), method: 'exact' });
      }
      return results;
    });
  }

  /** Log-probability of each option's tokens as a continuation of the prompt (natural log, summed). */
  private async scoreOptions(model: NlcModel, seq: NlcSequence, r: ChoiceRequest): Promise<number[]> {
    const options = r.options.map((o) => model.tokenize(o, false));
    if (options.some((o) => o.length === 0)) throw new ProviderError(`${this.id}: an answer option encodes to no tokens`, 'fatal');
    const prompt = this.fit(model, r.prompt, Math.max(...options.map((o) => o.length)));
    const withProbs = (t: Token): NlcControlledItem => [t, { generateNext: { probabilities: true } }];
    const rest = await this.rest(seq, prompt);
    const first = await seq.controlledEvaluate(rest.map((t, i) => (i === rest.length - 1 ? withProbs(t) : t)));
    const next = first[rest.length - 1]?.next.probabilities;
    if (!next) throw new ProviderError(`${this.id}: llama.cpp returned no next-token probabilities`, 'fatal');
    const logp = (dist: Map<Token, number>, t: Token): number => {
      const p = dist.get(t) ?? 0;
      return p > 0 ? Math.log(p) : LOG_FLOOR;
    };
    const out: number[] = [];
    for (const o of options) {
      let total = logp(next, o[0]!);
      if (o.length > 1) {
        const evals = await seq.controlledEvaluate(o.slice(0, -1).map(withProbs));
        for (let j = 1; j < o.length; j++) {
          const dist = evals[j - 1]?.next.probabilities;
          if (!dist) throw new ProviderError(`${this.id}: llama.cpp returned no next-token probabilities`, 'fatal');
          total += logp(dist, o[j]!);
        }
        await seq.adaptStateToTokens(prompt, false);
      }
      out.push(total);
    }
    return out;
  }

  private async release(): Promise<void> {
    const { context, model, llama } = this;
    this.sequence = undefined;
    this.context = undefined;
    this.model = undefined;
    this.llama = undefined;
    await context?.dispose().catch(() => undefined);
    await model?.dispose().catch(() => undefined);
    await llama?.dispose().catch(() => undefined);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const loading = this.loading;
    this.loading = undefined;
    await loading?.catch(() => undefined);
    await this.queue.run(() => this.release());
  }
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0] ?? '';
}

function firstStop(text: string, stops: readonly string[]): number | undefined {
  let best: number | undefined;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best === undefined || i < best)) best = i;
  }
  return best;
}
