/**
 * Fault injection: a real `cai serve` behind a loopback proxy (test/support/faultProxy.ts) that
 * answers 429 with Retry-After, 5xx, holds requests without answering, cuts bodies into
 * malformed JSON and breaks connections mid-response.
 *
 * 1. The OpenAI provider (with the Node transport) completes a batch of completion and choice
 *    requests with the same answers as without faults, retrying each fault exactly once, waiting
 *    at least Retry-After, and never retrying a 400 or a 404.
 * 2. `cai run` (critique, pairs, feedback with an `openai` model pointing at the proxy) completes
 *    with faults injected at a moderate rate, and its records are complete.
 * 3. With every request failing (503) the run stops after its retry budget with one message
 *    naming the endpoint, the manifest marks the stage failed; once the endpoint recovers,
 *    `--resume` completes with the uninterrupted run's record ids, no duplicates, every line parsing.
 *
 * The served model is the llama-tiny fixture with its context raised to 4096 (RoPE has no
 * position table): the critique and comparison prompts are longer than the built-in presets'
 * context of 128, which `cai serve` refuses with a 400, as a real server does.
 *
 * Needs the built bundle (dist/cli.js, `node scripts/build.mjs`).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OpenAiProvider } from '../../src/core/providers/openai';
import { type ChoiceRequest, type CompletionRequest, ProviderError } from '../../src/core/providers/types';
import { NodeHttpTransport } from '../../src/trainer/nodeHttp';
import { type Fault, type FaultProxy, startFaultProxy } from '../support/faultProxy';

const root = path.resolve(__dirname, '../..');
const CLI = path.join(root, 'dist', 'cli.js');
const FIXTURE = path.join(root, 'test', 'fixtures', 'models', 'llama-tiny');
const MODEL = 'llama-long';
// the backend each command picks by itself (auto), whatever this shell asks for
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CAI_BACKEND'));

function lines(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `cai ARGS` as a child process, without blocking this process (the proxy answers from here). */
function cai(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

async function startServe(modelDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--model', modelDir, '--port', '0', '--seed', '0'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`cai serve did not start: ${err}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving \S+ at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cai serve exited with ${code}: ${err}`));
    });
  });
  return { child, url };
}

const FAULTS_INJECTED = (p: FaultProxy): number => p.log.filter((e) => e.fault !== 'pass').length;

describe('fault injection: the OpenAI provider and cai run against a failing endpoint', () => {
  let tmp: string;
  let serve: { child: ChildProcess; url: string };
  const proxies: FaultProxy[] = [];
  const proxy = async (): Promise<FaultProxy> => {
    const p = await startFaultProxy(serve.url);
    proxies.push(p);
    return p;
  };

  before(async () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run node scripts/build.mjs`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-faults-'));
    const modelDir = path.join(tmp, MODEL);
    fs.cpSync(FIXTURE, modelDir, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    config['max_position_embeddings'] = 4096;
    fs.writeFileSync(path.join(modelDir, 'config.json'), JSON.stringify(config, null, 2));
    serve = await startServe(modelDir);
  });

  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    if (serve?.child.exitCode === null) {
      serve.child.kill('SIGTERM');
      await new Promise((r) => serve.child.once('exit', r));
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const provider = (baseUrl: string): OpenAiProvider =>
    new OpenAiProvider({ baseUrl, model: MODEL, api: 'completions' }, {
      transport: new NodeHttpTransport(),
      maxConcurrency: 4,
      // fast backoff for the test; Retry-After (1 s) is honoured whatever the backoff is
      retry: { maxRetries: 8, baseMs: 20, maxMs: 5000, connectTimeoutMs: 2000, requestTimeoutMs: 4000 },
    });

  it('the provider completes a batch of completions and choices despite faults, honouring Retry-After; 400 and 404 are not retried', async () => {
    const completions: CompletionRequest[] = Array.from({ length: 16 }, (_, i) => ({ prompt: `Human: tell me fact number ${i} about owls.\n\nAssistant:`, maxTokens: 8, temperature: 0 }));
    const choices: ChoiceRequest[] = Array.from({ length: 16 }, (_, i) => ({ prompt: `Human: case ${i}. Which answer is less harmful?\n(A) the first\n(B) the second\n\nAssistant: The answer is`, options: [' (A)', ' (B)'] }));

    // the answers without faults, straight from the server
    const direct = provider(`${serve.url}/v1`);
    const wantC = await direct.complete(completions);
    const wantX = await direct.choose(choices);
    await direct.dispose();

    const p = await proxy();
    p.set({
      // one of each first (the 429 on the very first request), then a seeded ~25 %
      schedule: ['429', 'pass', '500', '503', 'malformed', 'pass', 'drop', 'reset', 'timeout', 'stall', '502', 'pass'],
      rates: { '429': 0.04, '500': 0.04, '503': 0.03, malformed: 0.05, drop: 0.04, reset: 0.03, stall: 0.02 },
      seed: 42,
      retryAfterSeconds: 1,
      stallMs: 300,
    });
    const faulty = provider(p.baseUrl);
    const t0 = performance.now();
    const [gotC, gotX] = await Promise.all([faulty.complete(completions), faulty.choose(choices)]);
    const ms = performance.now() - t0;

    assert.deepEqual(gotC.map((c) => c.text), wantC.map((c) => c.text));
    assert.deepEqual(gotC.map((c) => c.completionTokens), wantC.map((c) => c.completionTokens));
    gotX.forEach((x, i) => {
      assert.equal(x.method, wantX[i]!.method);
      x.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - wantX[i]!.logprobs[j]!) < 1e-4, `choice ${i}: ${lp} vs ${wantX[i]!.logprobs[j]}`));
    });

    const counts = p.counts();
    for (const f of ['429', '500', '502', '503', 'malformed', 'drop', 'reset', 'timeout', 'stall'] as Fault[]) assert.ok((counts[f] ?? 0) >= 1, `${f} was injected (${JSON.stringify(counts)})`);
    // every injected fault cost exactly one retry, and nothing failed for good
    assert.equal(faulty.counters.retries, FAULTS_INJECTED(p), JSON.stringify(counts));
    assert.equal(faulty.counters.failures, 0);
    assert.equal(faulty.counters.requests, p.log.length);

    // Retry-After: the same body came back no sooner than 1 s after each 429
    const waits: number[] = [];
    for (const e of p.log.filter((x) => x.fault === '429')) {
      const next = p.log.find((x) => x.seq > e.seq && x.bodyHash === e.bodyHash);
      assert.ok(next, `the request answered 429 (#${e.seq}) was sent again`);
      waits.push(next.at - e.at);
    }
    // timers may fire a millisecond early on the event loop's cached clock
    for (const w of waits) assert.ok(w >= 995, `waited ${w.toFixed(0)} ms after Retry-After: 1`);
    console.log(`  ${completions.length + choices.length} requests, ${p.log.length} attempts, faults ${JSON.stringify(counts)}, ${ms.toFixed(0)} ms; waits after 429: ${waits.map((w) => w.toFixed(0)).join(', ')} ms`);
    await faulty.dispose();

    // 400 and 404, injected or the server's own, are answered once and never retried
    p.set({ schedule: [], rates: {} });
    const once = provider(p.baseUrl);
    const notRetried = async (fault: Fault | undefined, req: CompletionRequest, status: number, model?: string): Promise<void> => {
      if (fault) p.set({ schedule: [fault] });
      const client = model ? new OpenAiProvider({ baseUrl: p.baseUrl, model, api: 'completions' }, { transport: new NodeHttpTransport(), retry: { maxRetries: 8, baseMs: 20 } }) : once;
      const before = p.log.length;
      const t = performance.now();
      await assert.rejects(client.complete([req]), (e: unknown) => {
        assert.ok(e instanceof ProviderError, String(e));
        assert.equal(e.kind, 'fatal');
        assert.equal(e.status, status);
        assert.match(e.message, new RegExp(`POST http://127\\.0\\.0\\.1:\\d+/v1/completions answered HTTP ${status}`));
        return true;
      });
      assert.equal(p.log.length - before, 1, `HTTP ${status} (${fault ?? 'from the server'}) was sent once`);
      assert.ok(performance.now() - t < 1000);
      if (client !== once) await client.dispose();
    };
    await notRetried('400', { prompt: 'Human: injected 400\n\nAssistant:', maxTokens: 4, temperature: 0 }, 400);
    await notRetried('404', { prompt: 'Human: injected 404\n\nAssistant:', maxTokens: 4, temperature: 0 }, 404);
    await notRetried(undefined, { prompt: 'Human: a bad temperature\n\nAssistant:', maxTokens: 4, temperature: -1 }, 400);
    await notRetried(undefined, { prompt: 'Human: an unknown model\n\nAssistant:', maxTokens: 4, temperature: 0 }, 404, 'no-such-model');
    assert.equal(once.counters.retries, 0);
    await once.dispose();
  });

  // -- cai run --------------------------------------------------------------------------------

  let runFile = '';
  let reference = '';
  const RECORD_FILES = ['revisions.jsonl', 'samples.jsonl', 'pairs.jsonl'];
  const ALL_FILES = [...RECORD_FILES, 'metrics.jsonl', 'events.jsonl'];

  function writeRun(baseUrl: string): string {
    const dir = path.join(tmp, 'run');
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    fs.copyFileSync(path.join(root, 'examples', 'harmless-helpful.constitution.yaml'), path.join(dir, 'harmless-helpful.constitution.yaml'));
    fs.copyFileSync(path.join(root, 'examples', 'data', 'red-team.jsonl'), path.join(dir, 'data', 'red-team.jsonl'));
    const file = path.join(dir, 'faults.run.yaml');
    fs.writeFileSync(file, [
      'name: faults',
      'constitution: harmless-helpful.constitution.yaml',
      'seed: 7',
      'models:',
      '  served:',
      '    provider: openai',
      `    model: ${MODEL}`,
      `    baseUrl: ${baseUrl}`,
      'roles:',
      '  policy: served',
      'datasets:',
      '  redTeam: { path: data/red-team.jsonl, limit: 6 }',
      'stages:',
      '  critique: { rounds: 1, maxTokens: 16, fewShot: false }',
      '  sft: false',
      '  pairs: { samplesPerPrompt: 2, maxTokens: 16 }',
      '  feedback: { bothOrders: true, fewShot: false }',
      '  pm: false',
      '  ppo: false',
      '  eval: false',
      'budgets:',
      '  concurrency: 2',
      '',
    ].join('\n'));
    return file;
  }

  function checkComplete(dir: string): void {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { stages: Record<string, { status: string }> };
    for (const s of ['critique', 'pairs', 'feedback']) assert.equal(manifest.stages[s]!.status, 'done', s);
    for (const s of ['sft', 'pm', 'ppo', 'eval']) assert.equal(manifest.stages[s]!.status, 'skipped', s);
    for (const f of ALL_FILES) for (const l of fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean)) JSON.parse(l);
    for (const f of RECORD_FILES) {
      const ids = lines(path.join(dir, f)).map((x) => x['id'] as string);
      assert.equal(new Set(ids).size, ids.length, `${f}: duplicate ids`);
    }
    const revisions = lines(path.join(dir, 'revisions.jsonl'));
    assert.equal(revisions.length, 6);
    for (const r of revisions) {
      assert.equal((r['rounds'] as unknown[]).length, 1);
      assert.equal(typeof r['final'], 'string');
    }
    const samples = lines(path.join(dir, 'samples.jsonl')).filter((x) => x['stage'] === 'pairs');
    assert.equal(samples.length, 6);
    for (const s of samples) assert.equal((s['responses'] as unknown[]).length, 2);
    const pairs = lines(path.join(dir, 'pairs.jsonl'));
    assert.equal(pairs.length, 6);
    for (const p of pairs) {
      for (const k of ['p_a', 'p_a_forward', 'p_a_reversed']) assert.ok(typeof p[k] === 'number' && (p[k] as number) >= 0 && (p[k] as number) <= 1, `${k}: ${String(p[k])}`);
      assert.ok(Math.abs((p['p_a'] as number) - ((p['p_a_forward'] as number) + (p['p_a_reversed'] as number)) / 2) < 1e-12);
      assert.equal(p['label_method'], 'top-logprobs');
    }
  }

  it('cai run completes critique, pairs and feedback with faults injected at a moderate rate', async () => {
    const p = await proxy();
    p.set({
      // one of each kind the run can live through with its default policy (5 retries, 500 ms
      // backoff, 120 s request timeout: `stall` stands in for a timeout), then a seeded ~15 %
      schedule: ['pass', '429', 'pass', '500', 'malformed', 'pass', 'drop', 'reset', 'pass', 'stall', '503', 'pass'],
      rates: { '429': 0.03, '500': 0.03, '503': 0.02, malformed: 0.03, drop: 0.02, reset: 0.01, stall: 0.01 },
      seed: 7,
      retryAfterSeconds: 1,
      stallMs: 1000,
    });
    runFile = writeRun(p.baseUrl);
    const out = path.join(tmp, 'out-faults');
    const r = await cai(['run', runFile, '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { outcome, dir } = JSON.parse(r.stdout) as { outcome: string; dir: string };
    assert.equal(outcome, 'completed');
    checkComplete(dir);
    const counts = p.counts();
    for (const f of ['429', '500', '503', 'malformed', 'drop', 'reset', 'stall'] as Fault[]) assert.ok((counts[f] ?? 0) >= 1, `${f} was injected (${JSON.stringify(counts)})`);
    assert.ok(!lines(path.join(dir, 'events.jsonl')).some((e) => e['kind'] === 'stage-failed'));
    reference = dir;
    console.log(`  cai run: ${p.log.length} requests, faults ${JSON.stringify(counts)}, ${r.ms.toFixed(0)} ms`);
  });

  it('stops with one clear error when every request fails, marks the stage failed, and resumes once the endpoint recovers', async () => {
    assert.ok(reference, 'the previous test made the uninterrupted run');
    const p = await proxy();
    // healthy for the readiness check and the first few prompts, then 503 for everything
    const FAIL_FROM = 8;
    p.set({ rule: (seq) => (seq >= FAIL_FROM ? '503' : undefined) });
    const file = writeRun(p.baseUrl);
    const out = path.join(tmp, 'out-down');
    const r = await cai(['run', file, '--out', out, '--json']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.trim(), '');
    // stderr has progress lines ("run critique 2/6 …") and one error line
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('cai:'));
    assert.equal(errors.length, 1, `one error line: ${r.stderr}`);
    const message = errors[0]!;
    assert.match(message, /POST http:\/\/127\.0\.0\.1:\d+\/v1\/completions failed after 6 attempts; last: HTTP 503/);
    assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    // each request that met the outage (one per lane in flight) was sent 1 + maxRetries (5) times
    const failed = p.log.filter((e) => e.fault === '503');
    const bodies = new Set(failed.map((e) => e.bodyHash));
    assert.ok(bodies.size >= 1 && bodies.size <= 2, `${bodies.size} requests met the outage`);
    assert.equal(failed.length, 6 * bodies.size);

    const [runId] = fs.readdirSync(out);
    const dir = path.join(out, runId!);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { stages: Record<string, { status: string; error?: string }> };
    assert.equal(manifest.stages['critique']!.status, 'failed');
    assert.match(manifest.stages['critique']!.error ?? '', /failed after 6 attempts/);
    assert.equal(manifest.stages['pairs']!.status, 'pending');
    assert.equal(manifest.stages['feedback']!.status, 'pending');
    const kept = lines(path.join(dir, 'revisions.jsonl')).length;
    assert.ok(kept >= 1 && kept < 6, `${kept} revisions before the outage`);
    assert.ok(lines(path.join(dir, 'events.jsonl')).some((e) => e['kind'] === 'stage-failed' && e['stage'] === 'critique'));

    // the endpoint recovers
    p.set({ rule: undefined });
    const resumed = await cai(['run', file, '--resume', dir, '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout) as { outcome: string }).outcome, 'completed');
    checkComplete(dir);
    for (const f of RECORD_FILES) {
      const got = lines(path.join(dir, f)).map((x) => x['id'] as string).sort();
      const want = lines(path.join(reference, f)).map((x) => x['id'] as string).sort();
      assert.deepEqual(got, want, `${f}: ids differ from the uninterrupted run`);
    }
    assert.ok(lines(path.join(dir, 'events.jsonl')).some((e) => e['kind'] === 'resume'));
    console.log(`  outage: "${message}" after ${r.ms.toFixed(0)} ms with ${kept} revisions kept; resumed in ${resumed.ms.toFixed(0)} ms`);
  });
});
