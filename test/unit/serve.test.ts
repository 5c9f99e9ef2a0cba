/**
 * `cai serve`'s OpenAI-compatible server (src/trainer/serve.ts), started in this process on WASM
 * and asked over real HTTP: greedy completions equal the engine's own generation, top
 * log-probabilities agree with the generated tokens, echo scores the prompt as
 * scoreContinuations does, chat with top_logprobs, stop strings, seeded n > 1, concurrent
 * requests batched, every error answered as OpenAI's error object, latency and context limits,
 * and the `cai serve` command on the built bundle.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { generate, scoreContinuations } from '../../src/core/model/generate';
import { CausalLM } from '../../src/core/model/transformer';
import { Rng } from '../../src/core/training/rng';
import type { ModelRef } from '../../src/protocol/trainer';
import { initializeBackend } from '../../src/trainer/backend';
import { loadModel, type LoadedModel } from '../../src/trainer/engine';
import { renderChat, startServer, type ServerHandle } from '../../src/trainer/serve';

const repoRoot = path.resolve(__dirname, '../..');
const LLAMA = path.join(repoRoot, 'test', 'fixtures', 'models', 'llama-tiny');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Reference {
  loaded: LoadedModel;
  model: CausalLM;
  greedy(prompt: string, maxNew: number): Promise<{ text: string; tokens: number[]; logprobs: number[] }>;
}

async function reference(ref: ModelRef): Promise<Reference> {
  const loaded = await loadModel(ref, 0);
  const model = CausalLM.fromWeights(loaded.config, loaded.weights, false);
  return {
    loaded,
    model,
    async greedy(prompt, maxNew) {
      const ids = loaded.tokenizer.encode(prompt, { addSpecialTokens: true });
      const [g] = await generate(model, [ids], { maxNewTokens: maxNew, temperature: 0, eosTokenIds: [...loaded.config.eosTokenIds], rng: new Rng(0) });
      return { text: loaded.tokenizer.decode(g!.tokens, { skipSpecialTokens: true }), tokens: g!.tokens, logprobs: g!.logprobs };
    },
  };
}

async function post(url: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; json: Json; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
  return { status: r.status, json: (await r.json()) as Json, ms: performance.now() - t0 };
}

function assertError(r: { status: number; json: Json }, status: number, param?: string | null): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  const e = r.json['error'] as Json;
  assert.ok(e, 'an error object');
  assert.equal(typeof e['message'], 'string');
  assert.ok((e['message'] as string).length > 0);
  assert.equal(e['type'], status >= 500 ? 'server_error' : 'invalid_request_error');
  assert.ok('param' in e && 'code' in e);
  if (param !== undefined) assert.equal(e['param'], param);
}

const close = (a: number, b: number, tol = 1e-4): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('serve: OpenAI-compatible server', () => {
  let nano: ServerHandle;
  let llama: ServerHandle;
  let nanoRef: Reference;
  let llamaRef: Reference;

  before(async () => {
    await initializeBackend({ backend: 'wasm' });
    nano = await startServer({ model: { preset: 'nano' }, backend: 'wasm' });
    llama = await startServer({ model: { path: LLAMA }, backend: 'wasm' });
    nanoRef = await reference({ preset: 'nano' });
    llamaRef = await reference({ path: LLAMA });
  });

  after(async () => {
    await nano?.close();
    await llama?.close();
    nanoRef?.model.dispose();
    llamaRef?.model.dispose();
  });

  it('/health and /v1/models', async () => {
    const h = await fetch(`${nano.url}/health`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });
    const m = (await (await fetch(`${nano.baseUrl}/models`)).json()) as Json;
    assert.equal(m['object'], 'list');
    assert.equal(m['data'].length, 1);
    assert.deepEqual({ id: m['data'][0].id, object: m['data'][0].object, owned_by: m['data'][0].owned_by }, { id: 'nano', object: 'model', owned_by: 'constitution-studio' });
    const l = (await (await fetch(`${llama.baseUrl}/models`)).json()) as Json;
    assert.equal(l['data'][0].id, 'llama-tiny');
  });

  for (const which of ['nano', 'llama-tiny'] as const) {
    it(`${which}: greedy completion equals the engine's greedy generation`, async () => {
      const [server, ref] = which === 'nano' ? [nano, nanoRef] : [llama, llamaRef];
      const prompt = 'Human: is the sky blue?\n\nAssistant:';
      const want = await ref.greedy(prompt, 12);
      const r = await post(`${server.baseUrl}/completions`, { model: which, prompt, max_tokens: 12, temperature: 0 });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json['object'], 'text_completion');
      assert.equal(r.json['model'], which);
      assert.match(r.json['id'], /^cmpl-/);
      assert.equal(typeof r.json['created'], 'number');
      const c = r.json['choices'][0];
      assert.equal(c.text, want.text);
      assert.equal(c.index, 0);
      assert.equal(c.logprobs, null);
      assert.equal(c.finish_reason, 'length');
      const promptTokens = ref.loaded.tokenizer.encode(prompt, { addSpecialTokens: true }).length;
      assert.deepEqual(r.json['usage'], { prompt_tokens: promptTokens, completion_tokens: 12, total_tokens: promptTokens + 12 });
    });
  }

  it('logprobs: k entries per token; the chosen token is listed with its own logprob, the largest when greedy', async () => {
    const prompt = 'The assistant should be helpful';
    const want = await nanoRef.greedy(prompt, 8);
    const r = await post(`${nano.baseUrl}/completions`, { prompt, max_tokens: 8, temperature: 0, logprobs: 5 });
    assert.equal(r.status, 200);
    const lp = r.json['choices'][0].logprobs as Json;
    assert.equal(lp['tokens'].length, 8);
    assert.equal(lp['token_logprobs'].length, 8);
    assert.equal(lp['top_logprobs'].length, 8);
    assert.equal(lp['text_offset'].length, 8);
    assert.deepEqual(lp['text_offset'], want.tokens.map((_, i) => nanoRef.loaded.tokenizer.decode(want.tokens.slice(0, i), { skipSpecialTokens: true }).length));
    for (let i = 0; i < 8; i++) {
      const top = lp['top_logprobs'][i] as Record<string, number>;
      assert.equal(Object.keys(top).length, 5);
      const own = lp['token_logprobs'][i] as number;
      assert.equal(top[lp['tokens'][i]], own);
      assert.ok(own >= Math.max(...Object.values(top)) - 1e-6, `token ${i} is the most likely`);
      assert.ok(close(own, want.logprobs[i]!), `token ${i}: ${own} vs the engine's ${want.logprobs[i]}`);
    }
  });

  it('echo with max_tokens 0 scores the prompt (first token null) as scoreContinuations does', async () => {
    for (const [server, ref] of [[nano, nanoRef], [llama, llamaRef]] as const) {
      const prompt = 'the cat sat on the mat';
      const r = await post(`${server.baseUrl}/completions`, { prompt, max_tokens: 0, echo: true, logprobs: 1 });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const c = r.json['choices'][0];
      assert.equal(c.text, prompt);
      assert.equal(c.finish_reason, 'length');
      const ids = ref.loaded.tokenizer.encode(prompt, { addSpecialTokens: true });
      assert.equal(r.json['usage'].completion_tokens, 0);
      assert.equal(r.json['usage'].prompt_tokens, ids.length);
      const [want] = await scoreContinuations(ref.model, ids.slice(0, 1), [ids.slice(1)]);
      const got = c.logprobs.token_logprobs as (number | null)[];
      assert.equal(got.length, ids.length);
      assert.equal(got[0], null);
      assert.equal(c.logprobs.top_logprobs[0], null);
      got.slice(1).forEach((x, i) => assert.ok(close(x!, want!.logprobs[i]!), `prompt token ${i + 1}: ${x} vs ${want!.logprobs[i]}`));
    }
  });

  it('chat completion with top_logprobs', async () => {
    const messages = [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hello?' }];
    const rendered = renderChat(messages as never);
    assert.equal(rendered, 'Be kind.\n\nHuman: Hello?\n\nAssistant:');
    const want = await nanoRef.greedy(rendered, 6);
    const r = await post(`${nano.baseUrl}/chat/completions`, { model: 'nano', messages, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json['object'], 'chat.completion');
    assert.match(r.json['id'], /^chatcmpl-/);
    const c = r.json['choices'][0];
    assert.deepEqual(c.message, { role: 'assistant', content: want.text });
    assert.equal(c.finish_reason, 'length');
    const content = c.logprobs.content as Json[];
    assert.equal(content.length, 6);
    content.forEach((e, i) => {
      assert.ok(close(e['logprob'], want.logprobs[i]!));
      assert.ok(Array.isArray(e['bytes']));
      assert.equal(e['top_logprobs'].length, 3);
      assert.equal(e['top_logprobs'][0].token, e['token']);
      assert.equal(e['top_logprobs'][0].logprob, e['logprob']);
    });
    assert.equal(r.json['usage'].completion_tokens, 6);
    const plain = await post(`${nano.baseUrl}/chat/completions`, { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });
    assert.equal(plain.status, 200);
    assert.equal(plain.json['choices'][0].logprobs, null);
  });

  it('stop strings cut the text before the first one', async () => {
    const prompt = 'Human: tell me a story';
    const full = await llamaRef.greedy(prompt, 24);
    const tok = llamaRef.loaded.tokenizer;
    // a stop string the greedy text holds, after its start: one generated token's text
    const stop = full.tokens.map((t) => tok.decode([t], { skipSpecialTokens: true })).find((s, i) => i > 0 && s.trim() !== '' && !s.includes('\uFFFD') && full.text.indexOf(s) > 0);
    assert.ok(stop, `no usable stop string in ${JSON.stringify(full.text)}`);
    const r = await post(`${llama.baseUrl}/completions`, { prompt, max_tokens: 24, temperature: 0, stop: ['never appears 12345', stop], logprobs: 0 });
    assert.equal(r.status, 200);
    const c = r.json['choices'][0];
    assert.equal(c.text, full.text.slice(0, full.text.indexOf(stop)));
    assert.equal(c.finish_reason, 'stop');
    assert.ok(r.json['usage'].completion_tokens < 24);
    assert.equal(c.logprobs.tokens.length, r.json['usage'].completion_tokens);
    const single = await post(`${llama.baseUrl}/completions`, { prompt, max_tokens: 24, temperature: 0, stop });
    assert.equal(single.json['choices'][0].text, c.text);
  });

  it('n = 2 with a seed: two choices, the same again for the same seed', async () => {
    const body = { prompt: ['Once upon a time', 'Hello'], max_tokens: 10, temperature: 1, top_k: 50, top_p: 0.95, n: 2, seed: 42 };
    const a = await post(`${nano.baseUrl}/completions`, body);
    const b = await post(`${nano.baseUrl}/completions`, body);
    assert.equal(a.status, 200);
    assert.deepEqual(a.json['choices'].map((c: Json) => c['index']), [0, 1, 2, 3]);
    assert.deepEqual(a.json['choices'].map((c: Json) => c['text']), b.json['choices'].map((c: Json) => c['text']));
    assert.notEqual(a.json['choices'][0].text, a.json['choices'][1].text);
    assert.equal(a.json['usage'].completion_tokens, 40);
    const other = await post(`${nano.baseUrl}/completions`, { ...body, seed: 43 });
    assert.notDeepEqual(other.json['choices'].map((c: Json) => c['text']), a.json['choices'].map((c: Json) => c['text']));
  });

  it('concurrent requests give what each gives alone, with no tensors left behind', async () => {
    const prompts = ['a', 'Human: why?', 'The quick brown fox jumps', 'ok then, what next'];
    const alone: string[] = [];
    for (const p of prompts) alone.push((await nanoRef.greedy(p, 8)).text);
    const round = (): Promise<{ json: Json }[]> => Promise.all(prompts.map((prompt) => post(`${nano.baseUrl}/completions`, { prompt, max_tokens: 8, temperature: 0, logprobs: 1 })));
    const first = await round();
    assert.deepEqual(first.map((r) => r.json['choices'][0].text), alone);
    // the model keeps a few tensors it reuses (masks); a second round adds none
    const before = tf.memory().numTensors;
    const second = await round();
    assert.deepEqual(second.map((r) => r.json['choices'][0].text), alone);
    assert.equal(tf.memory().numTensors, before);
  });

  it('bad requests get the right status and error object; the server answers afterwards', async () => {
    const url = `${nano.baseUrl}/completions`;
    assertError(await post(url, { max_tokens: 4 }), 400, 'prompt');
    assertError(await post(url, { prompt: 'x', max_tokens: -1 }), 400, 'max_tokens');
    assertError(await post(url, { prompt: 'x', temperature: 'hot' }), 400, 'temperature');
    assertError(await post(url, { prompt: 'x', logprobs: 99 }), 400, 'logprobs');
    assertError(await post(url, { prompt: 'x', stream: true }), 400, 'stream');
    assertError(await post(url, { prompt: 7 }), 400, 'prompt');
    assertError(await post(url, [1, 2]), 400);
    const unknown = await post(url, { model: 'gpt-9', prompt: 'x' });
    assertError(unknown, 404, 'model');
    assert.equal(unknown.json['error'].code, 'model_not_found');
    assertError(await post(url, '{"prompt": "x",'), 400);
    assertError(await post(`${nano.baseUrl}/chat/completions`, { messages: [] }), 400, 'messages');
    assertError(await post(`${nano.baseUrl}/chat/completions`, { messages: [{ role: 'robot', content: 'x' }] }), 400, 'messages[0].role');
    const get = await fetch(url);
    assert.equal(get.status, 405);
    assertError({ status: get.status, json: (await get.json()) as Json }, 405);
    const missing = await fetch(`${nano.url}/v1/embeddings`, { method: 'POST', body: '{}' });
    assertError({ status: missing.status, json: (await missing.json()) as Json }, 404);
    const huge = await post(url, JSON.stringify({ prompt: 'x'.repeat(2 << 20) }));
    assertError(huge, 413);
    const ok = await post(url, { prompt: 'still here', max_tokens: 2, temperature: 0 });
    assert.equal(ok.status, 200);
    assert.equal((await fetch(`${nano.url}/health`)).status, 200);
  });

  it('a prompt longer than the context is refused; max_tokens is clipped to what fits', async () => {
    const long = await post(`${nano.baseUrl}/completions`, { prompt: 'x'.repeat(200), max_tokens: 4 });
    assertError(long, 400, 'prompt');
    assert.match(long.json['error'].message, /128/);
    assert.equal(long.json['error'].code, 'context_length_exceeded');
    const edge = await post(`${nano.baseUrl}/completions`, { prompt: 'y'.repeat(120), max_tokens: 50, temperature: 0 });
    assert.equal(edge.status, 200);
    assert.equal(edge.json['usage'].completion_tokens, 128 - 121);
    assert.equal(edge.json['choices'][0].finish_reason, 'length');
  });

  it('latencyMs adds at least that much to each completion', async () => {
    const slow = await startServer({ model: { preset: 'nano' }, backend: 'wasm', latencyMs: 300 });
    try {
      const r = await post(`${slow.baseUrl}/completions`, { prompt: 'x', max_tokens: 1 });
      assert.equal(r.status, 200);
      assert.ok(r.ms >= 295, `took ${r.ms} ms`);
      const t0 = performance.now();
      await fetch(`${slow.url}/health`);
      assert.ok(performance.now() - t0 < 250, '/health is not delayed');
    } finally {
      await slow.close();
    }
  });
});

describe('cai serve (built bundle)', () => {
  it('prints its URL, answers, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'serve', '--model', 'nano', '--port', '0', '--backend', 'wasm'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL line within 20 s; stderr: ${stderr}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('\n')) {
            clearTimeout(timer);
            resolve(stdout.split('\n')[0]!);
          }
        });
        void exited.then((code) => reject(new Error(`cai serve exited with ${code}: ${stderr}`)));
      });
      const m = /^serving nano at (http:\/\/127\.0\.0\.1:\d+\/v1)$/.exec(line);
      assert.ok(m, line);
      const r = await post(`${m[1]}/completions`, { prompt: 'hi', max_tokens: 3, temperature: 0 });
      assert.equal(r.status, 200);
      assert.equal(r.json['usage'].completion_tokens, 3);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a bad flag is one cai: line and exit 2', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'serve', '--model', 'nano', '--port', 'eighty'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 2);
    assert.match(stderr, /^cai: --port takes an integer/);
    assert.equal(stderr.trim().split('\n').length, 1);
  });
});
