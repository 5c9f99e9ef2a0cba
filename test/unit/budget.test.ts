/**
 * Request and token budgets (src/core/providers/budget.ts): one BudgetCounter shared by several
 * wrapped providers, requests counted per completion and per choice, tokens from the provider's
 * count or estimated from the text, refusals that name the budget field, its limit and the count,
 * are retryable ProviderErrors, and send nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BudgetCounter, BudgetedProvider, BudgetExceededError, estimateTokens } from '../../src/core/providers/budget.js';
import { type ChoiceRequest, type ChoiceResult, type Completion, type CompletionRequest, type Provider, ProviderError } from '../../src/core/providers/types.js';

/** A provider that answers every prompt with `text` and records the requests it got. */
class FakeProvider implements Provider {
  readonly sent: (CompletionRequest | ChoiceRequest)[] = [];
  readyCalls = 0;
  disposed = false;
  constructor(
    readonly id: string,
    private readonly text: string,
    private readonly reportTokens?: number,
  ) {}
  async ready(): Promise<void> {
    this.readyCalls++;
  }
  async complete(requests: CompletionRequest[]): Promise<Completion[]> {
    this.sent.push(...requests);
    return requests.map(() => ({ text: this.text, finishReason: 'stop' as const, ...(this.reportTokens !== undefined ? { completionTokens: this.reportTokens } : {}) }));
  }
  async choose(requests: ChoiceRequest[]): Promise<ChoiceResult[]> {
    this.sent.push(...requests);
    return requests.map((r) => ({ logprobs: r.options.map(() => Math.log(0.5)), method: 'exact' as const }));
  }
  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

const req = (prompt = 'p'): CompletionRequest => ({ prompt, maxTokens: 8, temperature: 0 });
const choice = (prompt = 'q'): ChoiceRequest => ({ prompt, options: [' (A)', ' (B)'] });

async function refusal(p: Promise<unknown>): Promise<BudgetExceededError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BudgetExceededError, `a BudgetExceededError, got ${String(e)}`);
    return e;
  }
  assert.fail('the call was not refused');
}

describe('budgets', () => {
  it('counts each completion and each choice request as one, across providers sharing a counter', async () => {
    const counter = new BudgetCounter({ maxRequests: 100 });
    const a = new BudgetedProvider(new FakeProvider('a', 'abcdefgh', 3), counter);
    const b = new BudgetedProvider(new FakeProvider('b', 'xyz'), counter);
    await a.complete([req(), req(), req()]);
    await b.choose([choice(), choice()]);
    await b.complete([req()]);
    await a.ready();
    assert.deepEqual(counter.used(), { requests: 6, tokens: 3 * 3 + estimateTokens('xyz') });
    assert.deepEqual(counter.remaining(), { requests: 94, tokens: undefined });
    assert.equal(a.id, 'a');
  });

  it('estimates tokens as ceil(length / 4) when the provider does not report them', async () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('abcd'), 1);
    assert.equal(estimateTokens('abcde'), 2);
    const counter = new BudgetCounter();
    const p = new BudgetedProvider(new FakeProvider('p', 'x'.repeat(17)), counter);
    await p.complete([req(), req()]);
    assert.deepEqual(counter.used(), { requests: 2, tokens: 10 });
    // the provider's own count wins, even when it is zero
    const q = new BudgetedProvider(new FakeProvider('q', 'x'.repeat(40), 0), counter);
    await q.complete([req()]);
    assert.deepEqual(counter.used(), { requests: 3, tokens: 10 });
  });

  it('refuses the request that would exceed maxRequests, sends nothing, and names the field, limit and count', async () => {
    const counter = new BudgetCounter({ maxRequests: 3 });
    const inner = new FakeProvider('p', 'ok');
    const p = new BudgetedProvider(inner, counter);
    await p.complete([req(), req()]);
    // a batch of two no longer fits: all or nothing
    const e = await refusal(p.choose([choice(), choice()]));
    assert.ok(e instanceof ProviderError);
    assert.equal(e.kind, 'retryable');
    assert.equal(e.field, 'budgets.maxRequests');
    assert.equal(e.limit, 3);
    assert.equal(e.count, 2);
    assert.match(e.message, /budgets\.maxRequests/);
    assert.match(e.message, /\b3\b/);
    assert.match(e.message, /2 requests sent/);
    assert.equal(inner.sent.length, 2, 'the refused batch was not sent');
    assert.equal(counter.used().requests, 2, 'the refused batch was not counted');
    // one still fits, then nothing
    await p.choose([choice()]);
    assert.equal(counter.used().requests, 3);
    const e2 = await refusal(p.complete([req()]));
    assert.equal(e2.count, 3);
    assert.equal(inner.sent.length, 3);
  });

  it('shares one limit between providers: what one spends the other cannot', async () => {
    const counter = new BudgetCounter({ maxRequests: 2 });
    const a = new BudgetedProvider(new FakeProvider('a', 'ok'), counter);
    const b = new BudgetedProvider(new FakeProvider('b', 'ok'), counter);
    await a.complete([req()]);
    await b.choose([choice()]);
    await refusal(a.complete([req()]));
    await refusal(b.choose([choice()]));
  });

  it('stops once the generated tokens reach maxTokens (the call that crosses it completes)', async () => {
    const counter = new BudgetCounter({ maxTokens: 10 });
    const inner = new FakeProvider('p', 'ignored', 4);
    const p = new BudgetedProvider(inner, counter);
    await p.complete([req()]); // 4
    await p.complete([req()]); // 8
    await p.complete([req()]); // 12: crosses, answered
    assert.equal(counter.used().tokens, 12);
    const e = await refusal(p.complete([req()]));
    assert.equal(e.field, 'budgets.maxTokens');
    assert.equal(e.limit, 10);
    assert.equal(e.count, 12);
    assert.equal(e.kind, 'retryable');
    assert.match(e.message, /budgets\.maxTokens is 10 \(12 tokens generated\)/);
    // choices generate no text but are requests: refused too once the tokens are spent
    await refusal(p.choose([choice()]));
    assert.equal(inner.sent.length, 3);
    assert.equal(counter.used().requests, 3);
  });

  it('starts from the usage of an earlier session (a resumed run)', async () => {
    const counter = new BudgetCounter({ maxRequests: 5, maxTokens: 100 }, { requests: 4, tokens: 20 });
    const p = new BudgetedProvider(new FakeProvider('p', 'ok', 1), counter);
    await p.complete([req()]);
    await refusal(p.complete([req()]));
    assert.deepEqual(counter.used(), { requests: 5, tokens: 21 });
  });

  it('without limits counts but never refuses; empty batches are free', async () => {
    const counter = new BudgetCounter();
    const p = new BudgetedProvider(new FakeProvider('p', 'ok', 1), counter);
    for (let i = 0; i < 50; i++) await p.complete([req(), req()]);
    assert.deepEqual(await p.complete([]), []);
    assert.deepEqual(await p.choose([]), []);
    assert.deepEqual(counter.used(), { requests: 100, tokens: 100 });
  });

  it('passes ready and dispose through; counts a request the provider fails on', async () => {
    const inner = new FakeProvider('p', 'ok');
    const counter = new BudgetCounter({ maxRequests: 10 });
    const p = new BudgetedProvider(inner, counter);
    await p.ready();
    assert.equal(inner.readyCalls, 1);
    const failing: Provider = { ...inner, id: 'f', ready: async () => undefined, dispose: async () => undefined, choose: async () => [], complete: async () => { throw new ProviderError('POST http://x/v1/completions failed', 'retryable'); } };
    await assert.rejects(new BudgetedProvider(failing, counter).complete([req()]), /failed/);
    assert.equal(counter.used().requests, 1);
    await p.dispose();
    assert.ok(inner.disposed);
  });

  it('checks its limits', () => {
    assert.throws(() => new BudgetCounter({ maxRequests: 0 }), /budgets\.maxRequests must be a positive integer/);
    assert.throws(() => new BudgetCounter({ maxTokens: 1.5 }), /budgets\.maxTokens must be a positive integer/);
    assert.throws(() => new BudgetCounter({}, { requests: -1 }), RangeError);
  });
});
