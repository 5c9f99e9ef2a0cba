/**
 * The preference pairs model (src/core/runs/pairs.ts): rows, filters, sorting, aggregates and
 * review application; the review file (src/node/reviews.ts); the pairs panel's page-message
 * checks (src/protocol/panels/pairs.ts); and `cai export-dataset` with reviews applied.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { RUN_COMMANDS } from '../../src/cli/runCommands.js';
import {
  aggregatePairs,
  applyReviews,
  chosenSide,
  confidence,
  confidenceBin,
  DEFAULT_FILTER,
  exportPair,
  isReviewRecord,
  latestReviews,
  orderGap,
  orderOutcome,
  pairContains,
  pairDetail,
  PairIndex,
  pairRow,
  viewRows,
  type PairFilter,
  type PairRow,
  type PairSort,
  type ReviewStatus,
} from '../../src/core/runs/pairs.js';
import type { PairRecord } from '../../src/core/runs/records.js';
import { appendReview, readReviews, reviewStatuses } from '../../src/node/reviews.js';
import { REVIEWS, scanJsonl } from '../../src/node/runReader.js';
import { parsePairsPageMessage, parsePairsPanelState } from '../../src/protocol/panels/pairs.js';

const tmp: string[] = [];
const tmpDir = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-pairs-'));
  tmp.push(d);
  return d;
};
after(() => {
  for (const d of tmp) fs.rmSync(d, { recursive: true, force: true });
});

function pair(i: number, o: Partial<PairRecord> = {}): PairRecord {
  return {
    id: `p${i}`,
    prompt_id: `q${i}`,
    prompt: `Prompt number ${i}\nwith a second line`,
    response_a: `Answer A to ${i}`,
    response_b: `Answer B to ${i}`,
    principle: i % 2 ? 'harmless' : 'honest',
    p_a: 0.7,
    p_a_forward: 0.6,
    p_a_reversed: 0.8,
    flipped: true,
    label_method: 'exact',
    ...o,
  };
}

const row = (i: number, o: Partial<PairRecord> = {}): PairRow => pairRow(pair(i, o), i)!;

describe('pair rows', () => {
  it('projects a record to a light row: numbers, one-line prompt snippet, no texts', () => {
    const r = pairRow(pair(3, { prompt: `  ${'word '.repeat(100)}`, reasoning: 'because' }), 3)!;
    assert.equal(r.id, 'p3');
    assert.equal(r.index, 3);
    assert.equal(r.principle, 'harmless');
    assert.equal(r.p_a, 0.7);
    assert.equal(r.p_a_reversed, 0.8);
    assert.equal(r.flipped, true);
    assert.equal(r.reasoning, true);
    assert.ok(r.prompt.length <= 160 && r.prompt.endsWith('…') && !r.prompt.startsWith(' '));
    assert.equal('response_a' in r, false);
    assert.equal(pairRow({ prompt: 'no id' }, 0), undefined);
    assert.equal(pairRow(null, 0), undefined);
  });

  it('survives damaged records: missing numbers become NaN, a huge principle is clipped', () => {
    const r = pairRow({ id: 'x', p_a: 'high', p_a_forward: null, principle: 'p'.repeat(10_000), prompt: 7 }, 0)!;
    assert.ok(Number.isNaN(r.p_a) && Number.isNaN(r.p_a_forward));
    assert.equal(r.p_a_reversed, null);
    assert.ok(r.principle.length <= 200);
    assert.equal(r.prompt, '');
    assert.equal(chosenSide(r.p_a), 'tie');
    assert.ok(Number.isNaN(confidence(r.p_a)));
    assert.equal(pairDetail({ id: 1 }), undefined);
    assert.deepEqual(pairDetail({ id: 'y', p_a: 0.2 })?.response_a, '');
  });

  it('marks chain-of-thought labels on a clamp bound', () => {
    const cot = pairRow(pair(1, { label_method: 'cot', p_a_forward: 0.6, p_a_reversed: 0.5, p_a: 0.55 }), 1, { clamp: [0.4, 0.6] })!;
    assert.equal(cot.clamped, true);
    assert.equal(pairRow(pair(1, { label_method: 'cot', p_a_forward: 0.55, p_a_reversed: 0.5 }), 1, { clamp: [0.4, 0.6] })!.clamped, false);
    assert.equal(pairRow(pair(1, { label_method: 'exact', p_a_forward: 0.6 }), 1, { clamp: [0.4, 0.6] })!.clamped, false);
  });

  it('derives confidence, chosen side, order outcome and gap', () => {
    assert.equal(confidence(0.2), 0.8);
    assert.equal(confidence(0.5), 0.5);
    assert.equal(chosenSide(0.7), 'A');
    assert.equal(chosenSide(0.7, 'flip'), 'B');
    assert.equal(chosenSide(0.3, 'accept'), 'B');
    assert.equal(chosenSide(0.5, 'flip'), 'tie');
    assert.equal(orderOutcome(row(1)), 'flipped');
    assert.equal(orderOutcome(row(1, { flipped: false })), 'same');
    assert.equal(orderOutcome(row(1, { p_a_reversed: null, flipped: false })), 'one-order');
    assert.ok(Math.abs(orderGap(row(1)) - 0.2) < 1e-12);
    assert.ok(Number.isNaN(orderGap(row(1, { p_a_reversed: null }))));
    assert.equal(confidenceBin(0.5, 10), 0);
    assert.equal(confidenceBin(1, 10), 9);
    assert.equal(confidenceBin(0.04, 10), 9);
    assert.equal(confidenceBin(Number.NaN, 10), -1);
  });

  it('indexes batches: byte offsets by id, later copies of an id skipped, records without id counted', () => {
    const idx = new PairIndex();
    const a = idx.add([{ record: pair(0), offset: 0 }, { record: pair(1), offset: 100 }, { record: { nope: 1 }, offset: 200 }]);
    const b = idx.add([{ record: pair(0, { p_a: 0.1 }), offset: 300 }, { record: pair(2), offset: 400 }]);
    assert.deepEqual(a.map((r) => [r.id, r.index]), [['p0', 0], ['p1', 1]]);
    assert.deepEqual(b.map((r) => [r.id, r.index]), [['p2', 2]]);
    assert.equal(idx.offsetOf('p0'), 0);
    assert.equal(idx.offsetOf('p2'), 400);
    assert.equal(idx.size, 3);
    assert.equal(idx.invalid, 1);
  });

  it('finds text anywhere in a record for the full-text search', () => {
    const rec = pair(1, { response_b: 'The SECRET word', reasoning: 'thinking hard' });
    assert.ok(pairContains(rec, 'secret'));
    assert.ok(pairContains(rec, 'thinking'));
    assert.ok(!pairContains(rec, 'absent'));
    assert.ok(!pairContains(rec, ''));
  });
});

describe('filters and sorting', () => {
  const rows: PairRow[] = [
    row(0, { p_a: 0.9, p_a_forward: 0.95, p_a_reversed: 0.85 }), // honest, conf .9, flipped
    row(1, { p_a: 0.45, flipped: false, p_a_forward: 0.3, p_a_reversed: 0.6 }), // harmless, conf .55, same
    row(2, { p_a: 0.2, p_a_reversed: null, flipped: false }), // honest, conf .8, one order
    row(3, { p_a: 0.6, prompt: 'Where is the needle?' }), // harmless, conf .6
    row(4, { p_a: 0.5 }), // honest, tie
  ];
  const statuses = latestReviews([
    { pair_id: 'p1', decision: 'flip' },
    { pair_id: 'p3', decision: 'flag' },
    { pair_id: 'p3', decision: 'accept' },
    { pair_id: 'p4', decision: 'flag' },
    { pair_id: 'p4', decision: 'clear' },
  ]);
  const ids = (f: Partial<PairFilter>, sort: PairSort = { key: 'index', desc: false }) => viewRows(rows, statuses, { ...DEFAULT_FILTER, ...f }, sort).map((i) => rows[i]!.id);

  it('applies reviews in order: the latest per pair wins, clear removes', () => {
    assert.deepEqual([...statuses].sort(), [['p1', 'flip'], ['p3', 'accept']]);
    const m = new Map<string, ReviewStatus>([['p9', 'flag']]);
    applyReviews(m, [{ pair_id: 'p9', decision: 'clear' }, { pair_id: 'p8', decision: 'accept' }]);
    assert.deepEqual([...m], [['p8', 'accept']]);
  });

  it('filters by principle, confidence, order outcome, review and text', () => {
    assert.deepEqual(ids({}), ['p0', 'p1', 'p2', 'p3', 'p4']);
    assert.deepEqual(ids({ principle: 'harmless' }), ['p1', 'p3']);
    assert.deepEqual(ids({ minConfidence: 0.8 }), ['p0', 'p2']);
    assert.deepEqual(ids({ maxConfidence: 0.6 }), ['p1', 'p3', 'p4']);
    assert.deepEqual(ids({ minConfidence: 0.55, maxConfidence: 0.6 }), ['p1', 'p3']);
    assert.deepEqual(ids({ order: 'flipped' }), ['p0', 'p3', 'p4']);
    assert.deepEqual(ids({ order: 'same' }), ['p1']);
    assert.deepEqual(ids({ order: 'one-order' }), ['p2']);
    assert.deepEqual(ids({ review: 'reviewed' }), ['p1', 'p3']);
    assert.deepEqual(ids({ review: 'unreviewed' }), ['p0', 'p2', 'p4']);
    assert.deepEqual(ids({ review: 'flip' }), ['p1']);
    assert.deepEqual(ids({ review: 'flag' }), []);
    assert.deepEqual(ids({ search: 'NEEDLE' }), ['p3']);
    assert.deepEqual(ids({ search: 'p2' }), ['p2']);
    assert.deepEqual(ids({ search: 'harmless' }), ['p1', 'p3']);
    // matches the host found in the full texts count too
    assert.deepEqual(viewRows(rows, statuses, { ...DEFAULT_FILTER, search: 'only in a response' }, { key: 'index', desc: false }, new Set(['p4'])).map((i) => rows[i]!.id), ['p4']);
    assert.deepEqual(ids({ principle: 'honest', minConfidence: 0.85, search: 'prompt' }), ['p0']);
  });

  it('sorts by each key, missing numbers last, ties in file order', () => {
    assert.deepEqual(ids({}, { key: 'index', desc: true }), ['p4', 'p3', 'p2', 'p1', 'p0']);
    assert.deepEqual(ids({}, { key: 'confidence', desc: false }), ['p4', 'p1', 'p3', 'p2', 'p0']);
    assert.deepEqual(ids({}, { key: 'confidence', desc: true }), ['p0', 'p2', 'p3', 'p1', 'p4']);
    assert.deepEqual(ids({}, { key: 'p_a', desc: false }), ['p2', 'p1', 'p4', 'p3', 'p0']);
    assert.deepEqual(ids({}, { key: 'principle', desc: false }), ['p1', 'p3', 'p0', 'p2', 'p4']);
    assert.deepEqual(ids({}, { key: 'reversed', desc: true }), ['p0', 'p3', 'p4', 'p1', 'p2']);
    assert.deepEqual(ids({}, { key: 'reversed', desc: false }).at(-1), 'p2');
    assert.deepEqual(ids({}, { key: 'review', desc: false }), ['p1', 'p3', 'p0', 'p2', 'p4']);
    assert.deepEqual(ids({}, { key: 'order', desc: false }), ['p0', 'p3', 'p4', 'p1', 'p2']);
  });

  it('aggregates per principle: count, mean confidence, flip rate, histogram, review counts', () => {
    const agg = aggregatePairs(rows, statuses, 5);
    assert.equal(agg.all.count, 5);
    assert.ok(Math.abs(agg.all.meanConfidence - (0.9 + 0.55 + 0.8 + 0.6 + 0.5) / 5) < 1e-12);
    assert.equal(agg.all.bothOrders, 4);
    assert.equal(agg.all.flipped, 3);
    assert.equal(agg.all.flipRate, 0.75);
    assert.deepEqual(agg.all.histogram, [2, 1, 0, 1, 1]);
    assert.equal(agg.all.histogram.reduce((a, b) => a + b), 5);
    assert.deepEqual([agg.all.reviewed, agg.all.accepted, agg.all.reversed, agg.all.flagged], [2, 1, 1, 0]);
    assert.deepEqual(agg.principles.map((p) => [p.principle, p.count, p.reviewed]), [['harmless', 2, 2], ['honest', 3, 0]]);
    const harmless = agg.principles[0]!;
    assert.equal(harmless.flipRate, 0.5);
    assert.ok(Math.abs(harmless.meanConfidence - 0.575) < 1e-12);
    const one = aggregatePairs([row(0, { p_a_reversed: null })], new Map());
    assert.ok(Number.isNaN(one.all.flipRate), 'no pair asked both ways: no flip rate');
    assert.ok(Number.isNaN(aggregatePairs([], new Map()).all.meanConfidence));
  });
});

describe('export rows with reviews', () => {
  const p = pair(1, { p_a: 0.8 });
  it('keeps the label unreviewed or accepted, swaps a flipped one, leaves out flags and ties', () => {
    assert.deepEqual(exportPair(p, undefined, 'trl'), { row: { prompt: p.prompt, chosen: p.response_a, rejected: p.response_b, score: 0.8, id: 'p1', principle: 'harmless' } });
    assert.deepEqual(exportPair(p, 'accept', 'trl'), { row: { prompt: p.prompt, chosen: p.response_a, rejected: p.response_b, score: 0.8, id: 'p1', principle: 'harmless', review: 'accept' } });
    const flipped = exportPair(p, 'flip', 'trl');
    assert.ok('row' in flipped);
    assert.equal(flipped.row['chosen'], p.response_b);
    assert.equal(flipped.row['rejected'], p.response_a);
    assert.ok(Math.abs((flipped.row['score'] as number) - 0.8) < 1e-12, 'the flipped label 1 − P(A) = 0.2 prefers B with 0.8');
    assert.equal(flipped.row['review'], 'flip');
    assert.deepEqual(exportPair(p, 'flag', 'trl'), { skipped: 'flagged' });
    assert.deepEqual(exportPair(pair(2, { p_a: 0.5 }), 'flip', 'trl'), { skipped: 'tie' });
    assert.deepEqual(exportPair(pair(2, { p_a: null as unknown as number }), undefined, 'trl'), { skipped: 'invalid' });
    const hh = exportPair(p, 'flip', 'hh');
    assert.ok('row' in hh);
    assert.deepEqual(Object.keys(hh.row), ['chosen', 'rejected']);
    assert.ok((hh.row['chosen'] as string).endsWith(p.response_b));
  });
});

describe('reviews.jsonl', () => {
  it('appends one record per decision with a unique id; the latest per pair wins', async () => {
    const dir = tmpDir();
    assert.deepEqual((await readReviews(dir)).records, [], 'no file: no reviews');
    const a = await appendReview(dir, { pair_id: 'p1', decision: 'accept', time: new Date('2025-01-01T00:00:00Z') });
    const b = await appendReview(dir, { pair_id: 'p1', decision: 'accept' });
    await appendReview(dir, { pair_id: 'p2', decision: 'flag', reviewer: 'ana' });
    await appendReview(dir, { pair_id: 'p1', decision: 'flip' });
    assert.notEqual(a.id, b.id);
    assert.match(a.id, /^[0-9a-f]{16}$/);
    assert.equal(a.time, '2025-01-01T00:00:00.000Z');
    const text = fs.readFileSync(path.join(dir, REVIEWS), 'utf8');
    assert.equal(text.split('\n').length, 5, 'four lines, each ending in \\n');
    const { records, bad } = await readReviews(dir);
    assert.deepEqual(bad, []);
    assert.deepEqual(records.map((r) => [r.pair_id, r.decision]), [['p1', 'accept'], ['p1', 'accept'], ['p2', 'flag'], ['p1', 'flip']]);
    assert.equal(records[2]!.reviewer, 'ana');
    assert.ok(records.every(isReviewRecord));
    assert.deepEqual([...(await reviewStatuses(dir)).statuses].sort(), [['p1', 'flip'], ['p2', 'flag']]);
  });

  it('keeps decisions made in quick succession in order', async () => {
    const dir = tmpDir();
    await Promise.all(['accept', 'flip', 'flag', 'clear', 'accept', 'flip'].map((d) => appendReview(dir, { pair_id: 'p', decision: d as 'accept' })));
    const { records } = await readReviews(dir);
    assert.deepEqual(records.map((r) => r.decision), ['accept', 'flip', 'flag', 'clear', 'accept', 'flip']);
    assert.equal((await reviewStatuses(dir)).statuses.get('p'), 'flip');
  });

  it('refuses what is not a decision', async () => {
    const dir = tmpDir();
    await assert.rejects(appendReview(dir, { pair_id: 'p', decision: 'delete' as 'accept' }), /not a review decision/);
    await assert.rejects(appendReview(dir, { pair_id: '', decision: 'accept' }), /id of a pair/);
    assert.equal(fs.existsSync(path.join(dir, REVIEWS)), false);
  });

  it('cuts a torn last line before appending, and keeps a whole last record without its line break', async () => {
    const dir = tmpDir();
    const file = path.join(dir, REVIEWS);
    const whole = JSON.stringify({ id: 'r1', pair_id: 'p1', decision: 'flag', time: '2025-01-01T00:00:00Z' });
    fs.writeFileSync(file, `${whole}\n{"id": "r2", "pair_`);
    await appendReview(dir, { pair_id: 'p2', decision: 'accept' });
    const first = await readReviews(dir);
    assert.deepEqual(first.bad, []);
    assert.deepEqual(first.records.map((r) => r.pair_id), ['p1', 'p2']);
    fs.writeFileSync(file, whole);
    assert.deepEqual((await readReviews(dir)).records.map((r) => r.pair_id), ['p1'], 'a whole last record without \\n is read');
    await appendReview(dir, { pair_id: 'p3', decision: 'flip' });
    const { records, bad } = await readReviews(dir);
    assert.deepEqual(bad, []);
    assert.deepEqual(records.map((r) => r.pair_id), ['p1', 'p3']);
    assert.ok(fs.readFileSync(file, 'utf8').endsWith('\n'));
  });

  it('reports lines that are not review records and skips them', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, REVIEWS), '{"id":"r1","pair_id":"p1","decision":"accept","time":"t"}\nnot json\n{"id":"r2","pair_id":"p1","decision":"burn","time":"t"}\n');
    const { records, bad } = await readReviews(dir);
    assert.equal(records.length, 1);
    assert.deepEqual(bad.map((b) => b.line), [2, 3]);
  });
});

describe('pairs panel messages', () => {
  it('accepts well-formed page messages and copies only known fields', () => {
    assert.deepEqual(parsePairsPageMessage({ type: 'pairs/open', payload: { pairId: 'p1', extra: 1 } }), { type: 'pairs/open', payload: { pairId: 'p1' } });
    assert.deepEqual(parsePairsPageMessage({ type: 'pairs/review', payload: { pairId: 'p1', decision: 'flip' } }), { type: 'pairs/review', payload: { pairId: 'p1', decision: 'flip' } });
    assert.deepEqual(parsePairsPageMessage({ type: 'pairs/search', payload: { query: 'x' } }), { type: 'pairs/search', payload: { query: 'x' } });
    assert.deepEqual(parsePairsPageMessage({ type: 'pairs/export', payload: {} }), { type: 'pairs/export', payload: {} });
  });

  it('drops malformed ones', () => {
    for (const m of [
      null,
      'pairs/open',
      { type: 'pairs/open' },
      { type: 'pairs/open', payload: { pairId: 7 } },
      { type: 'pairs/open', payload: { pairId: '' } },
      { type: 'pairs/open', payload: { pairId: 'x'.repeat(5000) } },
      { type: 'pairs/review', payload: { pairId: 'p1', decision: 'delete' } },
      { type: 'pairs/review', payload: { pairId: 'p1' } },
      { type: 'pairs/search', payload: { query: ['x'] } },
      { type: 'pairs/export', payload: [] },
      { type: 'pairs/write', payload: { file: '/etc/passwd' } },
      { type: 'ready', payload: {} },
    ]) {
      assert.equal(parsePairsPageMessage(m), undefined, JSON.stringify(m));
    }
  });

  it('restores a saved state field by field, refusing one without a run', () => {
    assert.equal(parsePairsPanelState(undefined), undefined);
    assert.equal(parsePairsPanelState({ runDirs: [] }), undefined);
    assert.equal(parsePairsPanelState({ runDirs: [3] }), undefined);
    const s = parsePairsPanelState({ runDirs: ['/r'], filter: { principle: 'x', minConfidence: 7, order: 'sideways', review: 'flag' }, sort: { key: 'confidence', desc: true }, selected: 'p1', scrollTop: -5 })!;
    assert.deepEqual(s.filter, { principle: 'x', minConfidence: 1, maxConfidence: 1, order: 'any', review: 'flag', search: '' });
    assert.deepEqual(s.sort, { key: 'confidence', desc: true });
    assert.equal(s.selected, 'p1');
    assert.equal(s.scrollTop, 0);
    assert.equal(s.detailOpen, true);
    assert.equal(parsePairsPanelState({ runDirs: ['/r'], sort: { key: 'evil' } })!.sort.key, 'index');
  });
});

describe('cai export-dataset with reviews', () => {
  async function exportRun(dir: string, format: 'trl' | 'hh'): Promise<{ code: number; rows: Record<string, unknown>[]; stderr: string }> {
    const out = path.join(dir, `out-${format}.jsonl`);
    const write = process.stderr.write.bind(process.stderr);
    let stderr = '';
    process.stderr.write = ((s: string) => {
      stderr += s;
      return true;
    }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await RUN_COMMANDS['export-dataset']!.run([dir, '--format', format, '-o', out, '--force'], dir);
    } finally {
      process.stderr.write = write;
    }
    const rows = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { code, rows, stderr };
  }

  function makeRun(): string {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ manifestVersion: 1, runId: path.basename(dir), stages: {} }));
    const pairs = [pair(1, { p_a: 0.8 }), pair(2, { p_a: 0.3 }), pair(3, { p_a: 0.5 }), pair(4, { p_a: 0.9 }), pair(5, { p_a: 0.6 })];
    fs.writeFileSync(path.join(dir, 'pairs.jsonl'), pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
    return dir;
  }

  it('without reviews writes the rows as before', async () => {
    const dir = makeRun();
    const { code, rows, stderr } = await exportRun(dir, 'trl');
    assert.equal(code, 0);
    assert.deepEqual(rows.map((r) => [r['id'], r['chosen'] === pair(Number(String(r['id']).slice(1))).response_a ? 'A' : 'B', r['score']]), [['p1', 'A', 0.8], ['p2', 'B', 0.7], ['p4', 'A', 0.9], ['p5', 'A', 0.6]]);
    assert.ok(rows.every((r) => !('review' in r)));
    assert.match(stderr, /^4 pairs written to .*out-trl\.jsonl \(1 with P\(A\) = 0\.5 left out\)\n$/);
  });

  it('applies reviews: flips swap chosen and rejected, flags are left out and counted, accepts are marked', async () => {
    const dir = makeRun();
    await appendReview(dir, { pair_id: 'p1', decision: 'flip' });
    await appendReview(dir, { pair_id: 'p2', decision: 'accept' });
    await appendReview(dir, { pair_id: 'p4', decision: 'flag' });
    await appendReview(dir, { pair_id: 'p5', decision: 'flag' });
    await appendReview(dir, { pair_id: 'p5', decision: 'clear' });
    fs.appendFileSync(path.join(dir, REVIEWS), 'garbage\n');
    const { code, rows, stderr } = await exportRun(dir, 'trl');
    assert.equal(code, 0);
    const byId = new Map(rows.map((r) => [r['id'], r]));
    assert.deepEqual([...byId.keys()], ['p1', 'p2', 'p5']);
    const p1 = byId.get('p1')!;
    assert.equal(p1['chosen'], 'Answer B to 1');
    assert.equal(p1['rejected'], 'Answer A to 1');
    assert.ok(Math.abs((p1['score'] as number) - 0.8) < 1e-12);
    assert.equal(p1['review'], 'flip');
    assert.equal(byId.get('p2')!['review'], 'accept');
    assert.equal(byId.get('p2')!['chosen'], 'Answer B to 2');
    assert.equal('review' in byId.get('p5')!, false, 'a cleared review is no review');
    assert.match(stderr, /reviews\.jsonl: 1 unreadable line skipped \(line 6/);
    assert.match(stderr, /3 pairs written to .* \(1 with P\(A\) = 0\.5, 1 flagged in review left out\); reviews applied: 1 flipped, 1 accepted/);
    const hh = await exportRun(dir, 'hh');
    assert.equal(hh.rows.length, 3);
    assert.ok((hh.rows[0]!['chosen'] as string).endsWith('Assistant: Answer B to 1'));
  });

  it('reads what it exports the same way the panel scans it', async () => {
    const dir = makeRun();
    let n = 0;
    await scanJsonl(path.join(dir, 'pairs.jsonl'), (b) => void (n += b.length));
    assert.equal(n, 5);
  });
});
