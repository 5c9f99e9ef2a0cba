// What the pipeline asks of a language model, whoever serves it: the embedded engine, an
// OpenAI-compatible endpoint (vLLM, llama.cpp, Ollama, TGI, hosted APIs) or a local GGUF file.

/** Plain-text completion of a prompt (the pipeline renders its own prompts, chat turns included). */
export interface CompletionRequest {
  prompt: string;
  maxTokens: number;
  /** 0: greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  /** The completion ends before the first of these strings. */
  stop?: string[];
  /** Makes sampling repeatable where the server supports it. */
  seed?: number;
}

export interface Completion {
  text: string;
  finishReason: 'length' | 'stop' | 'eos';
  /** Tokens generated, when the server says. */
  completionTokens?: number;
}

/**
 * Log-probabilities of a fixed set of continuations of one prompt, e.g. [' (A)', ' (B)'] after
 * a multiple-choice question: what AI-feedback soft labels are made of.
 */
export interface ChoiceRequest {
  prompt: string;
  options: string[];
}

/**
 * `exact`: each option scored as a continuation (embedded models; `echo` on completions APIs).
 * `top-logprobs`: read from the first generated token's `top_logprobs` (an option missing from
 * the list gets the lowest listed value minus ln 10, and the label is marked as such).
 * `sampled`: no log-probabilities from the endpoint: the frequency of each option over several
 * samples (the documented fallback; labels are marked).
 */
export type ChoiceMethod = 'exact' | 'top-logprobs' | 'sampled';

export interface ChoiceResult {
  /** One per option, in order (natural log). */
  logprobs: number[];
  method: ChoiceMethod;
}

/** The part of AbortSignal providers use (src/core has no DOM or Node types; AbortSignal fits). */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface Provider {
  /** For logs and manifests, e.g. `embedded:preset:tiny` or `openai:http://127.0.0.1:8000/v1 model=m`. */
  readonly id: string;
  /** Throws a ProviderError naming the endpoint when it cannot serve (checked before a run starts). */
  ready(signal?: CancelSignal): Promise<void>;
  complete(requests: CompletionRequest[], signal?: CancelSignal): Promise<Completion[]>;
  choose(requests: ChoiceRequest[], signal?: CancelSignal): Promise<ChoiceResult[]>;
  dispose(): Promise<void>;
}

/** A provider failure the run can report and resume from. */
export class ProviderError extends Error {
  constructor(
    message: string,
    /** `retryable`: the budget of retries ran out on a transient failure (resume later); `fatal`: a request the endpoint refuses. */
    readonly kind: 'retryable' | 'fatal',
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
