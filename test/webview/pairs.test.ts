/**
 * The Preference Pairs panel's page (webview/pairs → dist/webview/pairs.js) in headless Chromium,
 * driven by a stand-in for the extension host built from the host's own Node code: pairs.jsonl
 * scanned in batches (scanJsonl) into light rows (PairIndex), a pair re-read by its byte offset
 * (readRecordAt), reviews appended to and read back from reviews.jsonl (src/node/reviews.ts), and
 * full-text search over the records. Runs: a deterministic 100,000-pair run generated at test
 * time into a temporary folder (never committed), a copy of the demo run, and the hostile corpus.
 *
 * Run `node scripts/build.mjs` first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_FILTER, DEFAULT_SORT, latestReviews, pairContains, pairDetail, PairIndex, viewRows, type PairFilter, type PairRow } from '../../src/core/runs/pairs.js';
import type { PairRecord } from '../../src/core/runs/records.js';
import { appendReview, readReviews } from '../../src/node/reviews.js';
import { readRecordAt, REVIEWS, scanJsonl } from '../../src/node/runReader.js';
import type { PairsHostToPage, PairsPageToHost, PairsPanelState, PairsRunInfo } from '../../src/protocol/panels/pairs.js';
import { HOSTILE, HOSTILE_STRINGS, HUGE_LINE, PanelHarness, ROOT, type PanelPage, type ThemeName } from './harness.js';

const DEMO = path.join(ROOT, 'test', 'fixtures', 'runs', 'demo-20261128-082207');
const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-pairs-panel-'));
  tmpDirs.push(d);
  return d;
}

// --- a generated run -------------------------------------------------------------------------

const PRINCIPLES = ['harmless', 'honest', 'helpful', 'less-evasive', 'more-respectful', 'no-illegal', 'ethical', 'concise'];
const TASKS = ['pick a lock', 'bake sourdough bread', 'write a cover letter', 'fix a flat tyre', 'learn the violin', 'grow tomatoes', 'train a puppy', 'file my taxes', 'clean a cast iron pan', 'plan a wedding'];
const OPENERS = ['Sure, here is how', 'I can help with that', 'Happy to explain', 'Here is a short guide', 'Good question'];
const STEPS = ['start with the basics', 'gather the tools first', 'take it one step at a time', 'ask an expert if unsure', 'practise every day', 'read the instructions', 'keep notes as you go'];

/** A deterministic run of `n` pairs (LCG-drawn labels; every 10th pair asked in one order; every 50th by chain of thought, clamped to [0.4, 0.6]). */
function generateRun(dir: string, n: number): void {
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ manifestVersion: 1, runId: path.basename(dir), stages: { feedback: { status: 'done' } }, config: { roles: { feedback: 'judge' }, models: { judge: { provider: 'embedded', model: 'tiny' } }, stages: { feedback: { bothOrders: true, chainOfThought: true, clamp: [0.4, 0.6] } } } }));
  const fd = fs.openSync(path.join(dir, 'pairs.jsonl'), 'w');
  let chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    const task = pick(TASKS);
    const cot = i % 50 === 49;
    const clamp = (p: number) => (cot ? Math.min(0.6, Math.max(0.4, p)) : p);
    const fwd = clamp(cot ? (rnd() < 0.5 ? 0 : 1) : rnd());
    const rev = i % 10 === 9 ? null : clamp(cot ? (rnd() < 0.5 ? 0 : 1) : Math.min(1, Math.max(0, fwd + (rnd() - 0.5) * 0.8)));
    const rec: PairRecord = {
      id: `pair-${i.toString(16).padStart(6, '0')}`,
      prompt_id: `prompt-${i}`,
      prompt: `How do I ${task}? (question ${i})`,
      response_a: `${pick(OPENERS)}: to ${task}, ${pick(STEPS)} and ${pick(STEPS)}.`,
      response_b: `${pick(OPENERS)}: to ${task}, ${pick(STEPS)}, then ${pick(STEPS)}.`,
      principle: pick(PRINCIPLES),
      p_a: rev === null ? fwd : (fwd + rev) / 2,
      p_a_forward: fwd,
      p_a_reversed: rev,
      flipped: rev !== null && fwd >= 0.5 === rev >= 0.5,
      label_method: cot ? 'cot' : 'exact',
      ...(cot ? { reasoning: `Response A is more ${pick(PRINCIPLES)}. So the answer is: (A)` } : {}),
    };
    chunk.push(JSON.stringify(rec));
    if (chunk.length === 10_000) {
      fs.writeSync(fd, `${chunk.join('\n')}\n`);
      chunk = [];
    }
  }
  if (chunk.length) fs.writeSync(fd, `${chunk.join('\n')}\n`);
  fs.closeSync(fd);
}

/** Posts a host message to the page as JSON text, parsed there (webview messages are JSON-serialised in VS Code too). */
function sendJson(p: PanelPage, m: PairsHostToPage): Promise<void> {
  return p.page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify(m));
}

// --- a stand-in for the extension host -------------------------------------------------------

const INFO = (dir: string, o: Partial<PairsRunInfo> = {}): PairsRunInfo => ({ runDir: dir, runId: path.basename(dir), status: 'done', labeller: 'judge (embedded: tiny)', bothOrders: true, clamp: [0.4, 0.6], ...o });

/** What the panel host does, with the same Node code: streams rows, answers details, searches and reviews. */
class Host {
  readonly index: PairIndex;
  readonly rows: PairRow[] = [];
  private handled = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;
  readonly file: string;

  constructor(
    readonly page: PanelPage,
    readonly dir: string,
    readonly info: PairsRunInfo = INFO(dir),
  ) {
    this.file = path.join(dir, 'pairs.jsonl');
    this.index = new PairIndex({ clamp: info.clamp });
  }

  /** Sends as VS Code does: the message goes as JSON (Playwright's own argument passing is slow for thousands of objects). */
  send(m: PairsHostToPage): Promise<void> {
    return sendJson(this.page, m);
  }

  /** Streams the run as the host does on `ready`; returns ms until rows are visible and until the page has them all. */
  async open(o: { select?: string } = {}): Promise<{ firstRowsMs: number; indexedMs: number; hostMs: number }> {
    const t0 = Date.now();
    await this.send({ type: 'pairs/init', payload: { run: this.info, ...(o.select ? { select: o.select } : {}) } });
    const { records } = await readReviews(this.dir);
    if (records.length) await this.send({ type: 'pairs/reviews', payload: { reviews: records.map((r) => ({ pair_id: r.pair_id, decision: r.decision })), reset: true } });
    const first = this.page.page.waitForSelector('.vlist-canvas .grid-row:not([hidden])', { timeout: 30_000 }).then(
      () => Date.now() - t0,
      () => -1,
    );
    const started = Date.now();
    await scanJsonl(this.file, async (batch) => {
      const rows = this.index.add(batch);
      this.rows.push(...rows);
      if (rows.length) await this.send({ type: 'pairs/rows', payload: { rows, live: false } });
    });
    const hostMs = Date.now() - started;
    await this.send({ type: 'pairs/indexed', payload: { count: this.index.size, ms: hostMs, bad: [], invalid: this.index.invalid } });
    const firstRowsMs = this.rows.length ? await first : 0;
    await this.page.page.locator('#status').filter({ hasNotText: 'reading' }).waitFor();
    const indexedMs = Date.now() - t0;
    this.serve();
    return { firstRowsMs, indexedMs, hostMs };
  }

  /** Answers the page's messages as they come. */
  serve(): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void this.answer()
        .catch((e: unknown) => {
          // an answer still in flight when the test stopped the host and closed the page
          if (!this.stopped) throw e;
        })
        .finally(() => (this.busy = false));
    }, 20);
  }

  private async answer(): Promise<void> {
    let all: PairsPageToHost[];
    try {
      all = await this.page.messages<PairsPageToHost>();
    } catch {
      return; // page closed
    }
    for (const m of all.slice(this.handled)) {
      this.handled++;
      if (m.type === 'pairs/open') {
        const offset = this.index.offsetOf(m.payload.pairId);
        if (offset === undefined) await this.send({ type: 'pairs/detailError', payload: { pairId: m.payload.pairId, message: 'not in the run' } });
        else await this.send({ type: 'pairs/detail', payload: { pair: pairDetail(await readRecordAt(this.file, offset))! } });
      } else if (m.type === 'pairs/review') {
        if (!this.index.has(m.payload.pairId)) continue;
        const r = await appendReview(this.dir, { pair_id: m.payload.pairId, decision: m.payload.decision });
        await this.send({ type: 'pairs/reviews', payload: { reviews: [{ pair_id: r.pair_id, decision: r.decision }], reset: false } });
      } else if (m.type === 'pairs/search') {
        const needle = m.payload.query.trim().toLowerCase();
        const ids: string[] = [];
        await scanJsonl(this.file, (b) => {
          for (const { record } of b) if (pairContains(record, needle)) ids.push((record as PairRecord).id);
        });
        await this.send({ type: 'pairs/searchResult', payload: { query: m.payload.query, ids } });
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  async reviews() {
    return latestReviews((await readReviews(this.dir)).records);
  }

  /** The ids the page should show for a filter (the core's own view function, over the host's rows). */
  async expected(filter: Partial<PairFilter>, fullText?: Set<string>): Promise<string[]> {
    return viewRows(this.rows, await this.reviews(), { ...DEFAULT_FILTER, ...filter }, DEFAULT_SORT, fullText).map((i) => this.rows[i]!.id);
  }
}

// --- reading the page ------------------------------------------------------------------------

interface ShownRow {
  pos: number;
  selected: boolean;
  cells: string[];
  cls: string;
}

/** The rows in the DOM, in order (only those in and near the view exist). */
function shownRows(p: PanelPage): Promise<ShownRow[]> {
  return p.page.$$eval('.vlist-canvas .grid-row:not([hidden])', (els) =>
    els
      .map((e) => ({ pos: Number((e as HTMLElement).dataset['pos']), selected: e.getAttribute('aria-selected') === 'true', cells: [...e.children].map((c) => c.textContent ?? ''), cls: e.className }))
      .sort((a, b) => a.pos - b.pos),
  );
}

/** The rows the viewport actually shows (inside its visible box). */
function visibleRows(p: PanelPage): Promise<ShownRow[]> {
  return p.page.$$eval('.vlist-canvas .grid-row:not([hidden])', (els) => {
    const vp = document.querySelector('.viewport')!.getBoundingClientRect();
    return els
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.bottom > vp.top + 1 && r.top < vp.bottom - 1;
      })
      .map((e) => ({ pos: Number((e as HTMLElement).dataset['pos']), selected: e.getAttribute('aria-selected') === 'true', cells: [...e.children].map((c) => c.textContent ?? ''), cls: e.className }))
      .sort((a, b) => a.pos - b.pos);
  });
}

const status = (p: PanelPage) => p.page.locator('#status').textContent().then((t) => t ?? '');
const waitStatus = (p: PanelPage, re: RegExp) => p.page.waitForFunction((src) => new RegExp(src).test(document.getElementById('status')?.textContent ?? ''), re.source, { timeout: 15_000 });
const allRow = (p: PanelPage) => p.page.locator('#stats-table tr.stats-all td').allTextContents();

async function detailFor(p: PanelPage, pairNo: number): Promise<void> {
  await p.page.locator('#detail-heading', { hasText: new RegExp(`^Pair ${pairNo}$`) }).waitFor();
  await p.page.locator('#detail .response-text').first().waitFor();
}

const fmt = (n: number) => new Intl.NumberFormat('en-US').format(n);

describe('Preference Pairs panel page', { timeout: 180_000 }, () => {
  const h = new PanelHarness({
    bundle: 'pairs',
    title: 'Preference Pairs',
    sources: ['webview/pairs/main.ts', 'webview/pairs/detail.ts', 'webview/pairs/stats.ts', 'webview/shared/virtualList.ts', 'src/core/runs/pairs.ts', 'src/protocol/panels/pairs.ts', 'media/pairs.css'],
  });
  let big: string;
  const N = 100_000;

  before(async () => {
    big = tmpDir();
    generateRun(big, N);
    await h.start();
  });
  after(async () => {
    await closeBig().catch(() => undefined);
    await h.stop();
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  /** The 100,000-pair run is opened once and shared by the two tests that read it. */
  let bigPage: Promise<{ p: PanelPage; host: Host; times: Awaited<ReturnType<Host['open']>> }> | undefined;
  const openBig = () =>
    (bigPage ??= (async () => {
      const p = await h.open({ viewport: { width: 1400, height: 900 } });
      assert.deepEqual(await p.messages(), [{ type: 'ready', payload: {} }]);
      const host = new Host(p, big);
      return { p, host, times: await host.open() };
    })());
  const closeBig = async () => {
    const b = await bigPage;
    bigPage = undefined;
    if (!b) return;
    b.host.stop();
    await b.p.close();
  };

  it('opens a 100,000-pair run: first rows at once, a few dozen rows in the DOM, the end reachable by keyboard', async (t) => {
    const { p, host, times } = await openBig();
    t.diagnostic(`100,000 pairs: first rows visible after ${times.firstRowsMs} ms; all indexed on the page after ${times.indexedMs} ms (host scan ${times.hostMs} ms)`);
    console.log(`[pairs panel] 100,000 pairs: first rows visible ${times.firstRowsMs} ms, fully indexed ${times.indexedMs} ms (scan + transfer ${times.hostMs} ms)`);
    assert.equal(host.rows.length, N);
    assert.match(await status(p), /^100,000 pairs · 0 reviewed/);
    assert.equal(await p.page.locator('#grid').getAttribute('aria-rowcount'), String(N + 1));
    const dom = await p.page.locator('.vlist-canvas .grid-row').count();
    assert.ok(dom > 20 && dom < 120, `only the rows near the view are in the DOM (${dom})`);
    let rows = await visibleRows(p);
    assert.equal(rows[0]!.cells[0], '1');
    assert.equal(rows[0]!.cells[1], host.rows[0]!.principle);
    assert.equal(rows[0]!.cells[2], host.rows[0]!.p_a.toFixed(3));
    assert.equal(rows[0]!.cells[10], host.rows[0]!.prompt);
    // aggregates of the whole run
    const all = await allRow(p);
    assert.equal(all[0], fmt(N));
    const perPrinciple = await p.page.locator('#stats-table tbody tr:not(.stats-all) th').allTextContents();
    assert.deepEqual(perPrinciple, [...PRINCIPLES].sort());

    // keyboard: End, then Home, PageDown, arrows
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('End');
    await p.page.locator('.grid-row[aria-selected=true]', { hasText: fmt(N) }).waitFor();
    rows = await visibleRows(p);
    assert.equal(rows.at(-1)!.cells[0], fmt(N), 'the last pair is in view');
    assert.ok(rows.at(-1)!.selected);
    await p.page.keyboard.press('Home');
    await p.page.keyboard.press('PageDown');
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('ArrowUp');
    const sel = (await visibleRows(p)).find((r) => r.selected)!;
    assert.ok(sel.pos > 10 && sel.pos < 60, `PageDown moved a page (${sel.pos})`);
    assert.equal(await p.page.locator('#grid').getAttribute('aria-activedescendant'), `pair-row-${sel.pos}`);

    // scroll by wheel to the middle: rows there render
    await p.page.locator('.viewport').evaluate((v) => (v.scrollTop = 50_000 * 26));
    await p.page.waitForFunction(() => [...document.querySelectorAll('.vlist-canvas .grid-row:not([hidden])')].some((e) => e.children[0]?.textContent === '50,001'));
    rows = await visibleRows(p);
    assert.equal(rows[0]!.cells[0], '50,001');
    assert.equal(rows[0]!.cells[10], host.rows[50_000]!.prompt);
  });

  it('filters by principle, confidence, position flip, review and text; sorts by a column', async () => {
    const { p, host } = await openBig();
    const count = async (f: Partial<PairFilter>) => (await host.expected(f)).length;
    const shown = async (n: number) => waitStatus(p, new RegExp(`^100,000 pairs · ${fmt(n)} shown`));

    await p.page.locator('#principle').selectOption('honest');
    const honest = await count({ principle: 'honest' });
    assert.ok(honest > 10_000 && honest < 15_000);
    await shown(honest);
    for (const r of await visibleRows(p)) assert.equal(r.cells[1], 'honest');

    await p.page.locator('#cmin').fill('0.9');
    await p.page.locator('#cmin').dispatchEvent('change');
    const confident = await count({ principle: 'honest', minConfidence: 0.9 });
    await shown(confident);
    for (const r of await visibleRows(p)) assert.ok(Number(r.cells[3]) >= 0.9, r.cells[3]);

    await p.page.locator('#order').selectOption('same');
    const same = await count({ principle: 'honest', minConfidence: 0.9, order: 'same' });
    await shown(same);
    for (const r of await visibleRows(p)) assert.equal(r.cells[7], 'same letter');

    await p.page.locator('#reset').click();
    await waitStatus(p, /^100,000 pairs · 0 reviewed/);

    await p.page.locator('#order').selectOption('one-order');
    await shown(N / 10);
    await p.page.locator('#reset').click();

    // text in the prompt snippet: filtered on the page at once
    await p.page.locator('#search').fill('question 4242)');
    await shown(1);
    assert.equal((await visibleRows(p))[0]!.cells[0], '4,243');
    // text only in the responses: the host's full-text search answers
    await p.page.locator('#search').fill('practise every day, then read the instructions');
    assert.equal((await host.expected({ search: 'practise every day, then read the instructions' })).length, 0, 'no row snippet holds it');
    const search = await p.waitForMessage<PairsPageToHost>((m) => m.type === 'pairs/search' && m.payload.query === 'practise every day, then read the instructions');
    assert.ok(search);
    const found: string[] = [];
    await scanJsonl(host.file, (b) => {
      for (const { record } of b) if (pairContains(record, 'practise every day, then read the instructions')) found.push((record as PairRecord).id);
    });
    assert.ok(found.length > 100);
    await shown(found.length);
    // '/' goes to the search box, Escape back to the table
    await p.page.locator('#search').fill('');
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('/');
    assert.equal(await p.page.evaluate(() => document.activeElement?.id), 'search');
    await p.page.keyboard.press('Escape');
    assert.equal(await p.page.evaluate(() => document.activeElement?.id), 'grid');

    // sort by confidence, descending on a second click
    await p.page.locator('.col-conf .sort-button').click();
    await p.page.waitForFunction(() => document.querySelector('.grid-head-row .col-conf')?.getAttribute('aria-sort') === 'ascending');
    // the selected pair stays in view after a sort; Home goes to the top
    const selected = (await visibleRows(p)).find((r) => r.selected);
    assert.ok(selected, 'the selection is still in view');
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('Home');
    await p.page.waitForFunction(() => document.querySelector('.viewport')!.scrollTop === 0);
    let rows = await visibleRows(p);
    assert.equal(rows[0]!.cells[3], '0.50');
    await p.page.locator('.col-conf .sort-button').click();
    await p.page.waitForFunction(() => document.querySelector('.grid-head-row .col-conf')?.getAttribute('aria-sort') === 'descending');
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('Home');
    await p.page.waitForFunction(() => document.querySelector('.viewport')!.scrollTop === 0);
    rows = await visibleRows(p);
    const max = Math.max(...host.rows.map((r) => Math.max(r.p_a, 1 - r.p_a)));
    assert.equal(rows[0]!.cells[3], max.toFixed(2));
    // the state for restore holds the run and the sort
    await p.page.waitForFunction(() => (window as unknown as { __vscode: { states: PairsPanelState[] } }).__vscode.states.at(-1)?.sort.desc === true);
    const last = (await p.recorder<unknown, PairsPanelState>()).states.at(-1)!;
    assert.deepEqual(last.runDirs, [big]);
    assert.deepEqual(last.sort, { key: 'confidence', desc: true });
    await closeBig();
  });

  it('reviews labels by keyboard: accept, flip, flag, clear; reviews.jsonl, rows and aggregates follow', async () => {
    const dir = tmpDir();
    fs.cpSync(DEMO, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}checkpoints`) && !src.includes(`${path.sep}models`) });
    const p = await h.open({ viewport: { width: 1400, height: 900 } });
    const host = new Host(p, dir, INFO(dir, { clamp: null, labeller: 'builtin (embedded: builtin)' }));
    await host.open();
    const n = host.rows.length;
    assert.equal(n, 64);
    // Enter opens the detail of the selected pair: both responses side by side, with a word diff
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('Enter');
    const first = host.rows[0]!;
    await p.waitForMessage<PairsPageToHost>((m) => m.type === 'pairs/open' && m.payload.pairId === first.id);
    await detailFor(p, 1);
    const rec = pairDetail(await readRecordAt(host.file, host.index.offsetOf(first.id)!))!;
    const [a, b] = await p.page.locator('#detail .response-text').allTextContents();
    assert.equal(a, rec.response_a);
    assert.equal(b, rec.response_b);
    assert.ok((await p.page.locator('#detail .response-text').first().locator('.diff-del').count()) > 0, 'words only in A are marked');
    assert.ok((await p.page.locator('#detail .response-text').nth(1).locator('.diff-ins').count()) > 0, 'words only in B are marked');
    const facts = await p.page.locator('#detail dl.facts').textContent();
    assert.ok(facts?.includes(rec.p_a_forward.toFixed(3)) && facts.includes(rec.p_a_reversed!.toFixed(3)) && facts.includes(rec.p_a.toFixed(3)));
    assert.ok(facts?.includes('builtin (embedded: builtin)'), 'the labeller');
    assert.ok(facts?.includes('none (not chain of thought)'), 'the clamp');
    assert.equal(await p.page.evaluate(() => document.activeElement?.id), 'detail-heading', 'Enter moved to the detail');

    // a: accept pair 1 (and move on), f: flip pair 2, x: flag pair 3, then back to pair 3 and u: clear
    await p.page.keyboard.press('a');
    await p.page.keyboard.press('f');
    await p.page.keyboard.press('x');
    await p.waitForMessage<PairsPageToHost>((m) => m.type === 'pairs/review' && m.payload.decision === 'flag');
    const posted = (await p.messages<PairsPageToHost>()).filter((m) => m.type === 'pairs/review');
    assert.deepEqual(posted, [
      { type: 'pairs/review', payload: { pairId: host.rows[0]!.id, decision: 'accept' } },
      { type: 'pairs/review', payload: { pairId: host.rows[1]!.id, decision: 'flip' } },
      { type: 'pairs/review', payload: { pairId: host.rows[2]!.id, decision: 'flag' } },
    ]);
    await waitStatus(p, /· 3 reviewed/);
    let rows = await shownRows(p);
    assert.equal(rows[0]!.cells[9], '✓ accepted');
    assert.equal(rows[1]!.cells[9], '⇄ flipped');
    assert.equal(rows[2]!.cells[9], '⚑ flagged');
    assert.ok(rows[0]!.cls.includes('review-accept') && rows[2]!.cls.includes('review-flag'));
    const side = host.rows[1]!.p_a > 0.5 ? 'B' : 'A';
    assert.equal(rows[1]!.cells[4], `${side} ⇄`, 'the flipped label prefers the other response');
    const all = await allRow(p);
    assert.deepEqual(all.slice(4), [`3 (${Math.round((3 / n) * 100)} %)`, '1', '1', '1']);
    // the detail of pair 4 is open now (advance after review); go back to pair 3 and clear it
    await detailFor(p, 4);
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('ArrowUp');
    await detailFor(p, 3);
    assert.equal(await p.page.locator('#detail .review-state').textContent(), 'Flagged');
    await p.page.keyboard.press('u');
    await waitStatus(p, /· 2 reviewed/);
    assert.equal(await p.page.locator('#detail .review-state').textContent(), 'Not reviewed');
    // the review buttons do the same, and keep the focus
    await p.page.locator('#detail .review-bar button', { hasText: 'Flip' }).click();
    await waitStatus(p, /· 3 reviewed/);
    rows = await shownRows(p);
    assert.equal(rows[2]!.cells[9], '⇄ flipped');
    assert.deepEqual((await allRow(p)).slice(4), [`3 (${Math.round((3 / n) * 100)} %)`, '1', '2', '0']);

    // reviews.jsonl: one record per decision, the latest per pair wins
    const lines = fs.readFileSync(path.join(dir, REVIEWS), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; pair_id: string; decision: string });
    assert.deepEqual(lines.map((l) => [l.pair_id, l.decision]), [
      [host.rows[0]!.id, 'accept'],
      [host.rows[1]!.id, 'flip'],
      [host.rows[2]!.id, 'flag'],
      [host.rows[2]!.id, 'clear'],
      [host.rows[2]!.id, 'flip'],
    ]);
    assert.equal(new Set(lines.map((l) => l.id)).size, 5);

    // filter by review: reviewing under "not reviewed" keeps the place
    await p.page.locator('#review').selectOption('flip');
    await waitStatus(p, /64 pairs · 2 shown/);
    await p.page.locator('#review').selectOption('unreviewed');
    await waitStatus(p, /64 pairs · 61 shown/);

    // restore: a reloaded page with the saved state gets its filter, sort, selection and detail back
    await p.page.waitForFunction(() => (window as unknown as { __vscode: { states: PairsPanelState[] } }).__vscode.states.at(-1)?.filter.review === 'unreviewed');
    const state = (await p.recorder<unknown, PairsPanelState>()).states.at(-1)!;
    assert.deepEqual(state.runDirs, [dir]);
    host.stop();
    await p.close();

    const q = await h.open({ state, viewport: { width: 1400, height: 900 } });
    const again = new Host(q, dir, host.info);
    await again.open();
    assert.equal(await q.page.locator('#review').inputValue(), 'unreviewed');
    await waitStatus(q, /64 pairs · 61 shown · 3 reviewed/);
    const selected = (await shownRows(q)).find((r) => r.selected);
    assert.ok(selected, 'the selection came back');
    assert.equal(selected.cells[0], String(host.rows.findIndex((r) => r.id === state.selected) + 1));
    await q.page.locator('#detail .response-text').first().waitFor();
    again.stop();
    await q.close();
  });

  it('opens at a pair the host names, and takes live rows while the run trains', async () => {
    const dir = tmpDir();
    generateRun(dir, 300);
    const p = await h.open();
    const host = new Host(p, dir, INFO(dir, { status: 'running' }));
    const target = 'pair-0000f0';
    await host.open({ select: target });
    await detailFor(p, 241);
    assert.match(await status(p), /run is training/);
    // pair 240 (0xf0) is selected and in view
    const sel = (await visibleRows(p)).find((r) => r.selected);
    assert.equal(sel?.cells[0], '241');
    // a chain-of-thought pair shows its clamp and reasoning
    await sendJson(p, { type: 'pairs/select', payload: { pairId: 'pair-000031' } });
    await detailFor(p, 50);
    assert.match((await p.page.locator('#detail dl.facts').textContent()) ?? '', /\[0\.40, 0\.60\], label on a bound/);
    assert.match((await p.page.locator('#detail .reasoning').textContent()) ?? '', /So the answer is/);
    // live: appended pairs arrive as increments
    const extra: PairRow[] = [];
    for (let i = 0; i < 5; i++) extra.push({ ...host.rows[0]!, id: `live-${i}`, index: 300 + i, prompt: `live prompt ${i}` });
    await sendJson(p, { type: 'pairs/rows', payload: { rows: extra, live: true } });
    await waitStatus(p, /^305 pairs/);
    assert.equal((await visibleRows(p)).find((r) => r.selected)?.cells[0], '50', 'the selection stays');
    // a pair that is not there
    await sendJson(p, { type: 'pairs/select', payload: { pairId: 'nope' } });
    await p.page.locator('.notices', { hasText: 'not in this run' }).waitFor();
    host.stop();
    await p.close();
  });

  it('is read-only in Restricted Mode: says so, and a review key posts nothing', async () => {
    const dir = tmpDir();
    fs.cpSync(DEMO, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}checkpoints`) && !src.includes(`${path.sep}models`) });
    const p = await h.open();
    const host = new Host(p, dir, INFO(dir, { readOnly: true }));
    await host.open();
    await p.page.locator('.notices', { hasText: 'Restricted Mode: read-only' }).waitFor();
    assert.equal(await p.page.locator('#export').isDisabled(), true, 'no export in Restricted Mode');
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('f');
    await p.page.getByText('Read-only in Restricted Mode: reviews are not stored.').waitFor({ state: 'attached' });
    assert.deepEqual((await p.messages<PairsPageToHost>()).filter((m) => m.type === 'pairs/review'), []);
    assert.equal(fs.existsSync(path.join(dir, 'reviews.jsonl')), false);
    host.stop();
    await p.close();
  });

  it('says so when there are no pairs, or the run cannot be read', async () => {
    const dir = tmpDir();
    const p = await h.open();
    const host = new Host(p, dir);
    await host.open();
    await p.page.locator('.grid-empty', { hasText: 'This run has no labelled pairs' }).waitFor();
    await sendJson(p, { type: 'pairs/notice', payload: { message: `${dir} is not a run directory (no manifest.json), or it was removed.`, error: true, fatal: true } });
    await p.page.locator('.notices [role=alert]', { hasText: 'not a run directory' }).waitFor();
    assert.equal(await p.page.locator('.pairs-main').isHidden(), true);
    host.stop();
    await p.close();
  });

  it('shows hostile text as text everywhere: nothing runs, nothing breaks', async () => {
    const dir = tmpDir();
    const texts = [...HOSTILE_STRINGS, HUGE_LINE];
    const recs: PairRecord[] = texts.map((s, i) => ({
      id: i === 0 ? HOSTILE.img : `${HOSTILE.script}-${i}`,
      prompt: s,
      response_a: `${s} A`,
      response_b: i % 2 ? s : `B ${HOSTILE.link}`,
      principle: s,
      p_a: 0.25 + i * 0.05,
      p_a_forward: 0.3,
      p_a_reversed: i % 3 ? 0.2 : null,
      flipped: i % 2 === 0,
      label_method: (i % 2 ? 'cot' : s) as PairRecord['label_method'],
      reasoning: s,
    }));
    fs.writeFileSync(path.join(dir, 'pairs.jsonl'), `${recs.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const p = await h.open({ viewport: { width: 1300, height: 900 } });
    const host = new Host(p, dir, INFO(dir, { runId: HOSTILE.closeScript, labeller: HOSTILE.svg }));
    await host.open();
    await waitStatus(p, new RegExp(`^${texts.length} pairs`));
    assert.equal(await p.page.locator('h1 .run-id').textContent(), HOSTILE.closeScript);
    const reveal = (t: string) => t.replace(/[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
    for (let i = 0; i < texts.length; i++) {
      await p.page.locator('#grid').focus();
      await p.page.keyboard.press(i === 0 ? 'Home' : 'ArrowDown');
      await p.page.keyboard.press('Enter');
      await detailFor(p, i + 1);
      const prompt = await p.page.locator('#detail .prompt-text').textContent();
      if (texts[i] === HUGE_LINE) continue;
      assert.equal(prompt, reveal(texts[i]!), `text ${i} shown literally, invisible characters made visible`);
      assert.equal(await p.page.locator('#detail .reasoning-text').textContent(), reveal(texts[i]!));
    }
    // the 1 MB line: cut at first, in full a click away
    const cut = (await p.page.locator('#detail .prompt-text').textContent())!;
    assert.ok(cut.startsWith(HUGE_LINE.slice(0, 50_000)) && cut.length < 60_000, 'a megabyte of text is cut for display');
    await p.page.locator('#detail .prompt-text .show-all').click();
    await p.page.waitForFunction((n) => document.querySelector('#detail .prompt-text')?.textContent?.length === n, HUGE_LINE.length);
    assert.equal(await p.page.locator('#detail img, #detail script, #detail a, #detail svg, .grid img, #stats-table img, #stats-table svg').count(), 0, 'no element came from content');
    const names = await p.page.locator('#stats-table tbody th').allTextContents();
    assert.ok(names.some((t) => t.includes('<img src=x onerror=')));
    assert.ok(names.some((t) => t.includes('⟨U+202E⟩')));
    // hostile filter values and search text
    await p.page.locator('#principle').selectOption({ index: 2 });
    await p.page.locator('#search').fill(HOSTILE.handler);
    await p.page.locator('#search').fill('');
    await p.page.locator('#reset').click();
    // review a hostile id: the id goes back to the host unchanged
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('Home');
    await p.page.keyboard.press('x');
    await p.waitForMessage<PairsPageToHost>((m) => m.type === 'pairs/review' && m.payload.pairId === HOSTILE.img);
    await waitStatus(p, /1 reviewed/);
    // hostile notices and detail errors
    await sendJson(p, { type: 'pairs/notice', payload: { message: HOSTILE.script, error: true } });
    await sendJson(p, { type: 'pairs/detailError', payload: { pairId: HOSTILE.img, message: HOSTILE.img } });
    await p.page.locator('.notices', { hasText: HOSTILE.script }).waitFor();
    host.stop();
    await p.close();
  });

  it('follows the theme: screenshots in light, dark and high contrast', async () => {
    const dir = tmpDir();
    fs.cpSync(path.join(DEMO, 'pairs.jsonl'), path.join(dir, 'pairs.jsonl'));
    const p = await h.open({ theme: 'light', viewport: { width: 1400, height: 900 } });
    const host = new Host(p, dir, INFO(dir, { runId: 'demo-20261128-082207', clamp: null, labeller: 'builtin (embedded: builtin)' }));
    await host.open();
    await p.page.locator('#grid').focus();
    await p.page.keyboard.press('Home');
    await p.page.keyboard.press('a');
    await p.page.keyboard.press('f');
    await p.page.keyboard.press('x');
    await waitStatus(p, /3 reviewed/);
    await p.page.keyboard.press('Home');
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('Enter');
    await detailFor(p, 2);
    await p.page.locator('#grid').focus();
    const themes: ThemeName[] = ['light', 'dark', 'high-contrast'];
    for (const theme of themes) {
      await p.setTheme(theme);
      const fg = await p.page.evaluate(() => getComputedStyle(document.body).color);
      const bg = await p.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.notEqual(fg, bg);
      assert.equal(bg, { light: 'rgb(255, 255, 255)', dark: 'rgb(30, 30, 30)', 'high-contrast': 'rgb(0, 0, 0)' }[theme]);
      await p.screenshot(`pairs-${theme}`);
    }
    host.stop();
    await p.close();
  });
});
