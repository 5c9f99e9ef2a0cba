/**
 * AI-feedback labelling against a slow OpenAI-compatible endpoint: does the real code path keep
 * the server as busy as plain clients can?
 *
 *   npm run bench:labelling [-- --quick] [-- --latency-ms 200 --concurrency 8 --pairs 48]
 *
 * 1. Starts `cai serve --latency-ms L` on loopback (every answer L ms late, like a remote API).
 * 2. Capacity: C raw HTTP clients send choice-scoring requests back to back (the body the
 *    OpenAI provider sends for one label: the comparison prompt, max_tokens 1, temperature 0,
 *    logprobs 5) for a fixed time; requests answered per second. Measured before and after the
 *    labelling and averaged (`latency_bound`, C / L, is what a server with no compute would do).
 * 3. Labelling: N pairs through `labelPair` (both orders) with an `OpenAiProvider` (Node transport,
 *    maxConcurrency C), driven by `mapConcurrent` with C lanes; the requests it really sent are
 *    the HTTP client's counter.
 * 4. Prints pairs/s, requests/s, the capacity and the ratio (achieved request rate / capacity,
 *    target ≥ 0.9), and writes the row to bench-results/labelling.json.
 *
 * The model is the llama-tiny test fixture with its context raised to 4096 (RoPE: no position
 * table to outgrow), unless --model names another: comparison prompts are 450–550 tokens with
 * the built-in presets' tokenizer, longer than their 128-token context (`cai serve` answers 400).
 * `--quick`: 16 pairs and a 2 s capacity window.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConstitutionWorkspace } from '../src/core/constitution/resolve.js';
import { renderComparisonPrompt } from '../src/core/constitution/render.js';
import { mapConcurrent } from '../src/core/pipeline/concurrent.js';
import { labelPair } from '../src/core/pipeline/stages.js';
import { OpenAiProvider } from '../src/core/providers/openai.js';
import { Rng } from '../src/core/training/rng.js';
import { nodeFileHost } from '../src/trainer/fileHost.js';
import { NodeHttpTransport } from '../src/trainer/nodeHttp.js';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const flag = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} takes a number`);
  return v;
};
const LATENCY_MS = flag('latency-ms', 200);
const C = flag('concurrency', 8);
const N = flag('pairs', quick ? 16 : 48);
const WINDOW_MS = quick ? 2000 : 5000;
const WARMUP_MS = quick ? 1000 : 2000;
const TOP_LOGPROBS = 5;
const modelArg = argv.includes('--model') ? argv[argv.indexOf('--model') + 1] : undefined;

function longContextFixture(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-bench-labelling-'));
  const modelDir = path.join(dir, 'llama-long');
  fs.cpSync(path.join(root, 'test', 'fixtures', 'models', 'llama-tiny'), modelDir, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  config['max_position_embeddings'] = 4096;
  fs.writeFileSync(path.join(modelDir, 'config.json'), JSON.stringify(config, null, 2));
  return modelDir;
}

async function startServe(model: string): Promise<{ child: ChildProcess; url: string; model: string }> {
  const child = spawn(process.execPath, [cli, 'serve', '--model', model, '--port', '0', '--latency-ms', String(LATENCY_MS), '--seed', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving (\S+) at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out);
      if (m) resolve({ child, model: m[1]!, url: m[2]! });
    });
    child.once('exit', (code) => reject(new Error(`cai serve exited with ${code}`)));
  });
}

/** One POST with a keep-alive agent, as the Node transport sends it; resolves with the status. */
function post(agent: http.Agent, url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run node scripts/build.mjs`);
  const res = new ConstitutionWorkspace(nodeFileHost()).resolve(path.join(root, 'examples', 'harmless-helpful.constitution.yaml'));
  if (!res) throw new Error('the example constitution cannot be read');
  const c = res.constitution;
  const source = fs.readFileSync(path.join(root, 'examples', 'data', 'eval-pairs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: string; chosen: string; rejected: string });
  const pairs = Array.from({ length: N }, (_, i) => {
    const p = source[i % source.length]!;
    return { prompt: i < source.length ? p.prompt : `${p.prompt} (${Math.floor(i / source.length) + 1})`, a: p.chosen, b: p.rejected };
  });

  const server = await startServe(modelArg ?? longContextFixture());
  const completionsUrl = `${server.url}/v1/completions`;
  try {
    // -- capacity: C plain clients, back to back ---------------------------------------------
    // the same bodies the provider sends: one comparison prompt per order of each pair
    const bodies = pairs.flatMap((p, i) => {
      const comparison = c.comparisons[i % c.comparisons.length]!;
      return [[p.a, p.b], [p.b, p.a]].map(([x, y]) => JSON.stringify({ model: server.model, prompt: renderComparisonPrompt(c, comparison, [{ role: 'human', text: p.prompt }], x!, y!, { fewShot: false }).text, max_tokens: 1, temperature: 0, logprobs: TOP_LOGPROBS }));
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const measureCapacity = async (windowMs = WINDOW_MS): Promise<number> => {
      let answered = 0;
      let next = 0;
      const t0 = performance.now();
      const until = t0 + windowMs;
      await Promise.all(Array.from({ length: C }, async () => {
        while (performance.now() < until) {
          const status = await post(agent, completionsUrl, bodies[next++ % bodies.length]!);
          if (status !== 200) throw new Error(`the server answered ${status}`);
          answered++;
        }
      }));
      return answered / ((performance.now() - t0) / 1000);
    };
    await measureCapacity(WARMUP_MS); // the server's first requests are slower (JIT, allocations)
    const capacityBefore = await measureCapacity();

    // -- labelling through the real code path ----------------------------------------------------
    const provider = new OpenAiProvider({ baseUrl: `${server.url}/v1`, model: server.model, api: 'completions', topLogprobs: TOP_LOGPROBS }, { transport: new NodeHttpTransport(), maxConcurrency: C });
    await provider.ready();
    const before = provider.counters.requests;
    const t1 = performance.now();
    const labels = await mapConcurrent(pairs, C, (p, i) => labelPair({ constitution: c, prompt: p.prompt, responseA: p.a, responseB: p.b, feedback: provider, rng: new Rng(7).fork(`bench:${i}`), fewShot: false, bothOrders: true }));
    const seconds = (performance.now() - t1) / 1000;
    const requests = provider.counters.requests - before;
    const retries = provider.counters.retries;
    await provider.dispose();
    // measured on both sides of the labelling, so a machine that slows down or speeds up
    // meanwhile (other work, warm-up) biases neither way
    const capacityAfter = await measureCapacity();
    agent.destroy();
    const capacity = (capacityBefore + capacityAfter) / 2;
    if (labels.length !== N) throw new Error(`labelled ${labels.length} of ${N} pairs`);

    const row = {
      model: server.model,
      latency_ms: LATENCY_MS,
      concurrency: C,
      pairs: N,
      requests,
      requests_per_pair: +(requests / N).toFixed(2),
      retries,
      seconds: +seconds.toFixed(2),
      pairs_per_s: +(N / seconds).toFixed(2),
      requests_per_s: +(requests / seconds).toFixed(2),
      capacity_requests_per_s: +capacity.toFixed(2),
      capacity_before: +capacityBefore.toFixed(2),
      capacity_after: +capacityAfter.toFixed(2),
      latency_bound: +((C * 1000) / Math.max(1, LATENCY_MS)).toFixed(2),
      ratio: +(requests / seconds / capacity).toFixed(3),
      target: 0.9,
    };
    const cols = Object.keys(row) as (keyof typeof row)[];
    const table = [cols.map(String), cols.map((k) => String(row[k]))];
    const widths = cols.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const r of table) console.log(r.map((v, i) => v.padEnd(widths[i]!)).join('  '));
    console.log(row.ratio >= row.target ? `ratio ${row.ratio} ≥ ${row.target}` : `ratio ${row.ratio} BELOW the target ${row.target}`);
    fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
    fs.writeFileSync(path.join(root, 'bench-results', 'labelling.json'), `${JSON.stringify(row, null, 2)}\n`);
  } finally {
    server.child.kill('SIGTERM');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
