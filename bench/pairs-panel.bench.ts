/**
 * The Preference Pairs panel on a 100,000-pair run: how fast it opens, indexes, filters, sorts
 * and scrolls.
 *
 *   node --import tsx bench/pairs-panel.bench.ts [--pairs 100000]
 *
 * 1. Writes a deterministic run (generated here, in a temporary folder) of N pairs.
 * 2. Host side, in Node: the panel host's read of pairs.jsonl (scanJsonl in batches → PairIndex
 *    light rows): time to the first batch and to the whole index.
 * 3. Page side, in headless Chromium (the test harness: the real bundle, shell and CSP): the rows
 *    streamed in batches as the host sends them (as JSON text, as VS Code's postMessage carries
 *    them). Prints the open time (panel opened → first rows visible), measured on the bench's
 *    clock (includes the harness's transfer) and on the page's clock (first batch received →
 *    rows on screen), and the full index time (first message → every row counted on the page).
 *    Then the page's own work without the transfer: the same batches, already in the page, posted
 *    to its handler back to back (first rows visible, and all rows indexed).
 * 4. Filter and sort: the time to apply a principle filter and a sort by confidence.
 * 5. Scrolling: frame intervals while the table is flung through (a few screens a frame) and
 *    while it jumps to random places, as p50 / p95 / max, and the share of frames over 16.7 ms.
 *
 * Run `node scripts/build.mjs` first. Chromium at /usr/bin/chromium. Writes
 * bench-results/pairs-panel.json. Headless Chromium's frame clock is the machine's: on a busy
 * machine every number grows.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PairIndex, type PairRow } from '../src/core/runs/pairs.js';
import type { PairRecord } from '../src/core/runs/records.js';
import { scanJsonl } from '../src/node/runReader.js';
import type { PairsHostToPage } from '../src/protocol/panels/pairs.js';
import { PanelHarness, ROOT, type PanelPage } from '../test/webview/harness.js';

const argv = process.argv.slice(2);
const N = Number(argv[argv.indexOf('--pairs') + 1] || 100_000) || 100_000;

const PRINCIPLES = ['harmless', 'honest', 'helpful', 'less-evasive', 'more-respectful', 'no-illegal', 'ethical', 'concise'];
const TASKS = ['pick a lock', 'bake sourdough bread', 'write a cover letter', 'fix a flat tyre', 'learn the violin', 'grow tomatoes', 'train a puppy', 'file my taxes', 'clean a cast iron pan', 'plan a wedding'];
const STEPS = ['start with the basics', 'gather the tools first', 'take it one step at a time', 'ask an expert if unsure', 'practise every day', 'read the instructions', 'keep notes as you go'];

function generateRun(dir: string, n: number): number {
  let s = 4242;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ manifestVersion: 1, runId: 'bench', stages: {} }));
  const fd = fs.openSync(path.join(dir, 'pairs.jsonl'), 'w');
  let bytes = 0;
  let chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    const task = pick(TASKS);
    const fwd = rnd();
    const rev = i % 10 === 9 ? null : Math.min(1, Math.max(0, fwd + (rnd() - 0.5) * 0.8));
    const rec: PairRecord = {
      id: `pair-${i.toString(16).padStart(6, '0')}`,
      prompt_id: `prompt-${i}`,
      prompt: `How do I ${task}? I have tried a few times and it never works out, so please be specific (question ${i}).`,
      response_a: `Here is how to ${task}: ${pick(STEPS)}, ${pick(STEPS)}, and ${pick(STEPS)}. If it still fails, ${pick(STEPS)}.`,
      response_b: `To ${task}, ${pick(STEPS)}; then ${pick(STEPS)} and ${pick(STEPS)}. Most people also ${pick(STEPS)}.`,
      principle: pick(PRINCIPLES),
      p_a: rev === null ? fwd : (fwd + rev) / 2,
      p_a_forward: fwd,
      p_a_reversed: rev,
      flipped: rev !== null && fwd >= 0.5 === rev >= 0.5,
      label_method: 'exact',
    };
    chunk.push(JSON.stringify(rec));
    if (chunk.length === 10_000 || i === n - 1) {
      const text = `${chunk.join('\n')}\n`;
      bytes += Buffer.byteLength(text);
      fs.writeSync(fd, text);
      chunk = [];
    }
  }
  fs.closeSync(fd);
  return bytes;
}

const send = (p: PanelPage, m: PairsHostToPage) => p.page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify(m));

function stats(xs: number[]): { p50: number; p95: number; max: number; over16: number; frames: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? 0;
  return { p50: q(0.5), p95: q(0.95), max: s.at(-1) ?? 0, over16: s.filter((x) => x > 16.7 + 1).length / Math.max(1, s.length), frames: s.length };
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

/** Page-side probes, as a string (runs in the page as it is; no bundler helpers). */
const PROBE = `(() => {
  const t = (window.__bench = { rowsMsg: 0, visible: 0, init: 0, indexed: 0 });
  window.addEventListener('message', (e) => {
    const type = e.data && e.data.type;
    if (type === 'pairs/init' && !t.init) t.init = performance.now();
    if (type === 'pairs/rows' && !t.rowsMsg) t.rowsMsg = performance.now();
  });
  const obs = new MutationObserver(() => {
    if (!t.visible && document.querySelector('.vlist-canvas .grid-row:not([hidden])')) t.visible = performance.now();
    const s = document.getElementById('status');
    if (!t.indexed && s && /^${new Intl.NumberFormat('en-US').format(N)} pairs/.test(s.textContent) && !/reading/.test(s.textContent)) t.indexed = performance.now();
  });
  obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;

/** Scrolls the table for `frames` frames (three screens a frame, to random places, or not at all); the rAF intervals. */
const SCROLL = (frames: number, mode: 'fling' | 'jump' | 'none') => `new Promise((resolve) => {
  const v = document.querySelector('.viewport');
  const max = v.scrollHeight - v.clientHeight;
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
  const out = [];
  let last = 0;
  let n = 0;
  v.scrollTop = 0;
  const frame = (ts) => {
    if (last) out.push(ts - last);
    last = ts;
    if (n++ >= ${frames}) return resolve(out);
    ${mode === 'fling' ? 'v.scrollTop = (v.scrollTop + v.clientHeight * 3) % max;' : mode === 'jump' ? 'v.scrollTop = Math.floor(rnd() * max);' : ''}
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})`;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-pairs-bench-'));
  const h = new PanelHarness({ bundle: 'pairs', title: 'Preference Pairs' });
  try {
    let t = Date.now();
    const bytes = generateRun(dir, N);
    console.log(`run: ${N.toLocaleString('en-US')} pairs, ${(bytes / 1e6).toFixed(1)} MB (written in ${Date.now() - t} ms)`);

    // host side alone
    t = performance.now();
    let firstBatch = 0;
    const idx = new PairIndex();
    await scanJsonl(path.join(dir, 'pairs.jsonl'), (b) => {
      idx.add(b);
      if (!firstBatch) firstBatch = performance.now() - t;
    });
    const hostIndex = performance.now() - t;
    console.log(`host: first batch of rows after ${ms(firstBatch)}, all ${idx.size.toLocaleString('en-US')} rows indexed in ${ms(hostIndex)}`);

    // the page
    await h.start();
    const p = await h.open({ viewport: { width: 1400, height: 900 } });
    await p.page.evaluate(PROBE);
    const t0 = Date.now();
    await send(p, { type: 'pairs/init', payload: { run: { runDir: dir, runId: 'bench', status: 'done', labeller: null, bothOrders: true, clamp: null } } });
    const visible = p.page.waitForSelector('.vlist-canvas .grid-row:not([hidden])', { timeout: 120_000 }).then(() => Date.now() - t0);
    const index = new PairIndex();
    const all: PairRow[] = [];
    await scanJsonl(path.join(dir, 'pairs.jsonl'), async (b) => {
      const rows = index.add(b);
      all.push(...rows);
      await send(p, { type: 'pairs/rows', payload: { rows, live: false } });
    });
    await send(p, { type: 'pairs/indexed', payload: { count: index.size, ms: 0, bad: [], invalid: 0 } });
    const openWall = await visible;
    // a function, not a string: the page's CSP forbids evaluating strings there
    await p.page.waitForFunction(() => (window as unknown as { __bench: { indexed: number } }).__bench.indexed > 0, undefined, { timeout: 120_000 });
    const fullWall = Date.now() - t0;
    const probe = (await p.page.evaluate('window.__bench')) as { rowsMsg: number; visible: number; init: number; indexed: number };
    console.log(`open: first rows visible ${ms(probe.visible - probe.rowsMsg)} after the first batch reached the page (page clock); ${openWall} ms after the panel was opened (bench clock, with the harness's transfer)`);
    console.log(`index: all ${N.toLocaleString('en-US')} rows on the page ${ms(probe.indexed - probe.init)} after the first message (page clock; ${fullWall} ms on the bench clock)`);

    // filter and sort
    const filterMs = (await p.page.evaluate(`(() => { const s = document.getElementById('principle'); s.value = 'honest'; const t = performance.now(); s.dispatchEvent(new Event('change')); return performance.now() - t; })()`)) as number;
    const resetMs = (await p.page.evaluate(`(() => { const t = performance.now(); document.getElementById('reset').click(); return performance.now() - t; })()`)) as number;
    const sortMs = (await p.page.evaluate(`(() => { const t = performance.now(); document.querySelector('.grid-head-row .col-conf button').click(); return performance.now() - t; })()`)) as number;
    const searchMs = (await p.page.evaluate(`(() => { const s = document.getElementById('search'); s.value = 'question 4242'; const t = performance.now(); s.dispatchEvent(new Event('input')); return new Promise((r) => requestAnimationFrame(() => r(performance.now() - t))); })()`)) as number;
    await p.page.evaluate(`(() => { const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input')); document.querySelector('.grid-head-row .col-index button').click(); })()`);
    console.log(`filter by principle ${ms(filterMs)}, reset ${ms(resetMs)}, sort by confidence ${ms(sortMs)}, search the snippets (to the next frame) ${ms(searchMs)}`);

    // scrolling
    const idle = stats((await p.page.evaluate(SCROLL(60, 'none'))) as number[]);
    const fling = stats((await p.page.evaluate(SCROLL(240, 'fling'))) as number[]);
    const jump = stats((await p.page.evaluate(SCROLL(240, 'jump'))) as number[]);
    const line = (name: string, s: ReturnType<typeof stats>) => `${name}: frame p50 ${ms(s.p50)}, p95 ${ms(s.p95)}, max ${ms(s.max)}, ${(s.over16 * 100).toFixed(0)} % of ${s.frames} frames over 16.7 ms`;
    console.log(line('scroll (fling, 3 screens a frame)', fling));
    console.log(line('scroll (jump to random places)', jump));
    console.log(line('no scrolling (the machine\'s frame clock)', idle));
    const dom = await p.page.locator('.vlist-canvas .grid-row').count();
    console.log(`row elements in the DOM: ${dom}`);
    if (p.errors.length) console.log(`page errors: ${p.errors.join('; ')}`);
    await p.page.close();

    // The page's own indexing work: the same batches handed over first (not timed), then posted
    // to the page's handler back to back.
    const q = await h.open({ viewport: { width: 1400, height: 900 } });
    await q.page.evaluate(`(() => { window.__batches = []; window.addEventListener('message', (e) => { if (e.data && e.data.type === 'bench/rows') window.__batches.push(e.data.payload); }); })()`);
    for (let i = 0; i < all.length; i += 2000) await q.page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify({ type: 'bench/rows', payload: { rows: all.slice(i, i + 2000), live: false } }));
    await q.page.evaluate(PROBE);
    await q.page.evaluate(`(() => {
      window.__replay = performance.now();
      window.postMessage({ type: 'pairs/init', payload: { run: { runDir: '/bench', runId: 'bench', status: 'done', labeller: null, bothOrders: true, clamp: null } } }, '*');
      for (const b of window.__batches) window.postMessage({ type: 'pairs/rows', payload: b }, '*');
      window.postMessage({ type: 'pairs/indexed', payload: { count: ${N}, ms: 0, bad: [], invalid: 0 } }, '*');
    })()`);
    await q.page.waitForFunction(() => (window as unknown as { __bench: { indexed: number } }).__bench.indexed > 0, undefined, { timeout: 120_000 });
    const replay = (await q.page.evaluate('({ start: window.__replay, ...window.__bench })')) as { start: number; visible: number; indexed: number };
    const pageOnly = { firstRowsMs: replay.visible - replay.start, indexMs: replay.indexed - replay.start };
    console.log(`page alone (batches already there): first rows visible ${ms(pageOnly.firstRowsMs)}, all ${N.toLocaleString('en-US')} rows indexed ${ms(pageOnly.indexMs)}`);
    await q.page.close();

    const out = path.join(ROOT, 'bench-results');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(
      path.join(out, 'pairs-panel.json'),
      `${JSON.stringify({ pairs: N, bytes, host: { firstBatchMs: firstBatch, indexMs: hostIndex }, open: { pageMs: probe.visible - probe.rowsMsg, wallMs: openWall }, index: { pageMs: probe.indexed - probe.init, wallMs: fullWall }, pageOnly, filterMs, sortMs, searchMs, scroll: { fling, jump, idle }, domRows: dom, cpus: os.cpus().length, load: os.loadavg()[0] }, null, 2)}\n`,
    );
    console.log(`written to ${path.relative(process.cwd(), path.join(out, 'pairs-panel.json'))} (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs)`);
  } finally {
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
