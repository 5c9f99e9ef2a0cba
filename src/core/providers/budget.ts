// Budgets on what a run asks of its model providers (`budgets.maxRequests`, `budgets.maxTokens`
// in the run configuration). A BudgetCounter holds the counts of one run; every provider of the
// run is wrapped in a BudgetedProvider sharing that counter, so the limits hold across roles.
//
// What is counted:
// - Requests: every request the pipeline sends, i.e. each CompletionRequest and each
//   ChoiceRequest counts one, whatever it costs underneath (HTTP retries, the extra first-token
//   requests a choice may need, the samples of a sampled choice are not counted separately).
//   `ready()` is not a request.
// - Tokens: generated tokens of completions: `completionTokens` when the provider reports it,
//   otherwise an estimate of ceil(text.length / 4) (about four characters a token in English).
//   Choices generate no text and count no tokens.
//
// When they are enforced:
// - A call is refused before anything is sent when its requests would take the request count
//   over `maxRequests` (a batch is all or nothing), or when the token count has already reached
//   `maxTokens`. Tokens are only known once the answers are in, so the batch (or the calls in
//   flight together) that crosses `maxTokens` completes and the count may end above it; the next
//   call is refused.
// - The refusal is a BudgetExceededError: a ProviderError of kind `retryable`, so the run stops
//   with the stage resumable; raise the budget and resume.

import { type CancelSignal, type ChoiceRequest, type ChoiceResult, type Completion, type CompletionRequest, type Provider, ProviderError } from './types.js';

export interface BudgetLimits {
  /** Most requests (completions and choices) all wrapped providers may send; absent: no limit. */
  maxRequests?: number;
  /** Most generated tokens; absent: no limit. */
  maxTokens?: number;
}

export interface BudgetUsage {
  requests: number;
  tokens: number;
}

export type BudgetField = 'budgets.maxRequests' | 'budgets.maxTokens';

/** A budget of the run would be exceeded; the run stops resumably (kind `retryable`). */
export class BudgetExceededError extends ProviderError {
  constructor(
    /** The run-configuration field whose limit was reached. */
    readonly field: BudgetField,
    readonly limit: number,
    /** Requests sent, or tokens generated, so far. */
    readonly count: number,
    /** Requests the refused call would have added (requests budget only). */
    readonly asked?: number,
  ) {
    const what =
      field === 'budgets.maxRequests'
        ? `${count} request${count === 1 ? '' : 's'} sent${asked !== undefined ? `, ${asked} more asked` : ''}`
        : `${count} token${count === 1 ? '' : 's'} generated`;
    super(`budget exhausted: ${field} is ${limit} (${what}); raise it and resume the run`, 'retryable');
    this.name = 'BudgetExceededError';
  }
}

/** Estimated tokens of a text when the provider does not say: ceil(length / 4). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function checkLimit(name: BudgetField, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** The counts of one run, shared by every BudgetedProvider of it. */
export class BudgetCounter {
  readonly maxRequests: number | undefined;
  readonly maxTokens: number | undefined;
  private requests: number;
  private tokens: number;

  /**
   * `start`: what earlier sessions of the run already used (a resumed run passes the counts it
   * kept), default zero.
   */
  constructor(limits: BudgetLimits = {}, start: Partial<BudgetUsage> = {}) {
    this.maxRequests = checkLimit('budgets.maxRequests', limits.maxRequests);
    this.maxTokens = checkLimit('budgets.maxTokens', limits.maxTokens);
    this.requests = start.requests ?? 0;
    this.tokens = start.tokens ?? 0;
    if (!Number.isInteger(this.requests) || this.requests < 0 || !Number.isInteger(this.tokens) || this.tokens < 0) throw new RangeError('budget usage must be non-negative integers');
  }

  /** Requests sent and tokens generated so far. */
  used(): BudgetUsage {
    return { requests: this.requests, tokens: this.tokens };
  }

  /** What is left of each limit (undefined: no limit). */
  remaining(): { requests: number | undefined; tokens: number | undefined } {
    return {
      requests: this.maxRequests === undefined ? undefined : Math.max(0, this.maxRequests - this.requests),
      tokens: this.maxTokens === undefined ? undefined : Math.max(0, this.maxTokens - this.tokens),
    };
  }

  /** Counts `n` requests about to be sent, or throws BudgetExceededError and counts nothing. */
  reserve(n: number): void {
    if (this.maxTokens !== undefined && this.tokens >= this.maxTokens) throw new BudgetExceededError('budgets.maxTokens', this.maxTokens, this.tokens);
    if (this.maxRequests !== undefined && this.requests + n > this.maxRequests) throw new BudgetExceededError('budgets.maxRequests', this.maxRequests, this.requests, n);
    this.requests += n;
  }

  /** Counts generated tokens (after the answers came). */
  addTokens(n: number): void {
    if (Number.isFinite(n) && n > 0) this.tokens += Math.ceil(n);
  }
}

/** A Provider that counts what it sends against a shared BudgetCounter. */
export class BudgetedProvider implements Provider {
  readonly id: string;

  constructor(
    readonly inner: Provider,
    readonly counter: BudgetCounter,
  ) {
    this.id = inner.id;
  }

  ready(signal?: CancelSignal): Promise<void> {
    return this.inner.ready(signal);
  }

  async complete(requests: CompletionRequest[], signal?: CancelSignal): Promise<Completion[]> {
    if (requests.length === 0) return this.inner.complete(requests, signal);
    this.counter.reserve(requests.length);
    const out = await this.inner.complete(requests, signal);
    let tokens = 0;
    for (const c of out) tokens += c.completionTokens ?? estimateTokens(c.text);
    this.counter.addTokens(tokens);
    return out;
  }

  async choose(requests: ChoiceRequest[], signal?: CancelSignal): Promise<ChoiceResult[]> {
    if (requests.length === 0) return this.inner.choose(requests, signal);
    this.counter.reserve(requests.length);
    return this.inner.choose(requests, signal);
  }

  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}
