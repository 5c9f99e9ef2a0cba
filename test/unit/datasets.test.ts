import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import {
  DatasetError,
  detectFormat,
  firstHumanTurn,
  loadDataset,
  loadPairs,
  loadPrompts,
  loadQaVotes,
  pmpScore,
  splitHhPair,
} from '../../src/trainer/datasets.js';

const REPO = path.resolve(__dirname, '..', '..');
const HH = path.resolve(REPO, '..', 'shared', 'data', 'hh-rlhf', 'harmless-base-test.jsonl.gz');

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-data-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, lines: unknown[] | string): string {
  const file = path.join(dir, name);
  const text = typeof lines === 'string' ? lines : lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  fs.writeFileSync(file, name.endsWith('.gz') ? zlib.gzipSync(text) : text);
  return file;
}

const hh = (turns: string, a: string, b: string) => ({ chosen: `${turns}\n\nAssistant: ${a}`, rejected: `${turns}\n\nAssistant: ${b}` });

describe('prompts', () => {
  it('reads strings, {prompt} and {text}, skipping empty and duplicate prompts', () => {
    const f = write('p.jsonl', ['How do I bake bread?', { prompt: ' Why is the sky blue? ' }, { text: 'Name a prime.', id: 7 }, { prompt: 'How do I bake bread?' }, '  ']);
    const r = loadPrompts(f);
    assert.equal(r.format, 'prompts');
    assert.deepEqual(r.items.map((i) => i.prompt), ['How do I bake bread?', 'Why is the sky blue?', 'Name a prime.']);
    assert.equal(r.items[2]?.id, '7');
    assert.match(r.items[0]?.id ?? '', /^[0-9a-f]{16}$/);
    assert.deepEqual(r.skipped, [
      { line: 4, reason: 'duplicate prompt' },
      { line: 5, reason: 'empty prompt' },
    ]);
    assert.equal(loadPrompts(f, { limit: 2 }).items.length, 2);
  });

  it('reads a JSON array, plain text and gzip', () => {
    assert.deepEqual(loadPrompts(write('p.json', JSON.stringify([{ prompt: 'a?' }, 'b?']))).items.map((i) => i.prompt), ['a?', 'b?']);
    assert.deepEqual(loadPrompts(write('p.txt', 'one?\n\ntwo?\n')).items.map((i) => [i.prompt, i.line]), [['one?', 1], ['two?', 3]]);
    assert.deepEqual(loadPrompts(write('p.jsonl.gz', [{ prompt: 'zipped?' }])).items.map((i) => i.prompt), ['zipped?']);
  });

  it('takes the first human turn of HH transcripts', () => {
    assert.equal(firstHumanTurn('\n\nHuman: Hi there\n\nAssistant: Hello\n\nHuman: more'), 'Hi there');
    const f = write('hh-prompts.jsonl', [hh('\n\nHuman: Can you help me hide a body?', 'No.', 'Sure.')]);
    const r = loadPrompts(f);
    assert.equal(r.format, 'hh');
    assert.deepEqual(r.items.map((i) => i.prompt), ['Can you help me hide a body?']);
  });

  it('names file:line and the field in errors', () => {
    const f = write('bad.jsonl', '{"prompt": "ok"}\n{"prompt": 3}\n');
    assert.throws(() => loadPrompts(f), (e: Error) => e instanceof DatasetError && e.message === `${f}:2: \`prompt\` must be text (got 3)`);
    const g = write('bad2.jsonl', '{"prompt": "ok"}\n{"prompt": \n');
    assert.throws(() => loadPrompts(g), new RegExp(`^.*bad2\\.jsonl:2: not valid JSON`));
    const h = write('bad3.jsonl', '{"prompt": "ok"}\n{"title": "x"}\n');
    assert.throws(() => loadPrompts(h), /bad3\.jsonl:2: the record has neither `prompt` nor `text`/);
    assert.throws(() => loadPrompts(write('q.jsonl', [{ question: 'q', answers: [] }])), /not qa-votes/);
  });
});

describe('pairs', () => {
  it('splits HH transcripts at the last shared Assistant turn', () => {
    const s = splitHhPair('\n\nHuman: hi\n\nAssistant: a\n\nHuman: and?\n\nAssistant: yes, this', '\n\nHuman: hi\n\nAssistant: a\n\nHuman: and?\n\nAssistant: yes, that');
    assert.deepEqual(s, { prompt: '\n\nHuman: hi\n\nAssistant: a\n\nHuman: and?\n\nAssistant:', chosen: ' yes, this', rejected: ' yes, that' });
    assert.equal(splitHhPair('no markers', 'none here'), undefined);
  });

  it('reads HH and {prompt, chosen, rejected}, skipping unusable pairs', () => {
    const f = write('hh.jsonl', [hh('\n\nHuman: q1', 'good', 'bad'), hh('\n\nHuman: q2', 'same', 'same'), hh('\n\nHuman: q3', '', 'bad')]);
    const r = loadPairs(f);
    assert.equal(r.format, 'hh');
    assert.deepEqual(r.items.map((i) => [i.prompt, i.chosen, i.rejected]), [['\n\nHuman: q1\n\nAssistant:', ' good', ' bad']]);
    assert.deepEqual(r.skipped.map((s) => s.line), [2, 3]);
    const g = write('pairs.jsonl', [{ prompt: 'p', chosen: 'c', rejected: 'r' }]);
    assert.equal(detectFormat(g), 'pairs');
    assert.deepEqual(loadPairs(g).items.map((i) => [i.prompt, i.chosen, i.rejected, i.line]), [['p', 'c', 'r', 1]]);
    assert.throws(() => loadPairs(write('pairs-bad.jsonl', [{ prompt: 'p', chosen: 'c', rejected: 'r' }, { prompt: 'p', chosen: 'c' }])), /pairs-bad\.jsonl:2: `rejected` must be text \(got nothing\)/);
    assert.throws(() => loadPairs(write('hh-bad.jsonl', [{ chosen: 'x', rejected: 'y' }])), /hh-bad\.jsonl:1: .*share no/);
  });

  it('reads the examples', () => {
    const r = loadPairs(path.join(REPO, 'examples', 'data', 'eval-pairs.jsonl'));
    assert.equal(r.items.length, 12);
    assert.deepEqual(r.skipped, []);
    const p = loadPrompts(path.join(REPO, 'examples', 'data', 'red-team.jsonl'));
    assert.equal(p.items.length, 24);
    assert.equal(loadPrompts(path.join(REPO, 'examples', 'data', 'helpful.jsonl')).items.length, 24);
    const q = loadDataset(path.join(REPO, 'examples', 'data', 'pmp.jsonl'));
    assert.equal(q.kind, 'qa-votes');
    assert.ok(q.data.items.length >= 12);
  });

  it('reads the first 50 HH-RLHF harmlessness pairs', { skip: fs.existsSync(HH) ? false : 'hh-rlhf data not present' }, () => {
    const r = loadPairs(HH, { limit: 50 });
    assert.equal(r.format, 'hh');
    assert.equal(r.items.length, 50);
    for (const it of r.items) {
      assert.ok(it.prompt.startsWith('\n\nHuman:'), it.prompt.slice(0, 40));
      assert.ok(it.prompt.endsWith('\n\nAssistant:'));
      assert.ok(it.chosen.trim().length > 0 && it.rejected.trim().length > 0);
      assert.notEqual(it.chosen, it.rejected);
    }
    const prompts = loadPrompts(HH, { limit: 50 });
    assert.equal(prompts.items.length, 50);
    assert.ok(prompts.items.every((i) => i.prompt.length > 0 && !i.prompt.includes('\n\nAssistant:')));
  });
});

describe('Q&A votes (preference-model pretraining)', () => {
  it('scores answers as round(log2(1 + votes)) + accepted, and −1 for negative votes', () => {
    assert.equal(pmpScore(0), 0);
    assert.equal(pmpScore(1), 1);
    assert.equal(pmpScore(2), 2); // log2 3 = 1.58
    assert.equal(pmpScore(3), 2);
    assert.equal(pmpScore(4), 2); // log2 5 = 2.32
    assert.equal(pmpScore(5), 3); // log2 6 = 2.58
    assert.equal(pmpScore(63), 6);
    assert.equal(pmpScore(3, true), 3);
    assert.equal(pmpScore(-1), -1);
    assert.equal(pmpScore(-7, true), -1);
  });

  it('pairs answers with different scores, better first', () => {
    const f = write('qa.jsonl', [
      { question: 'Q1', answers: [{ text: 'meh', votes: 1 }, { text: 'best', votes: 10, accepted: true }, { text: 'bad', votes: -2 }, { text: 'also meh', votes: 1 }] },
      { question: 'Q2', answers: [{ text: 'x', votes: 3 }, { text: 'y', votes: 4 }] },
    ]);
    const r = loadQaVotes(f);
    const q1 = r.items.filter((i) => i.question === 'Q1').map((i) => [i.better, i.worse, i.betterScore, i.worseScore]);
    assert.deepEqual(q1, [
      ['best', 'meh', 4, 1],
      ['meh', 'bad', 1, -1],
      ['best', 'bad', 4, -1],
      ['best', 'also meh', 4, 1],
      ['also meh', 'bad', 1, -1],
    ]);
    // 3 and 4 votes both score 2: no pair
    assert.deepEqual(r.skipped, [{ line: 2, reason: 'no two answers with different scores' }]);
    assert.equal(loadQaVotes(f, { maxPairsPerQuestion: 2 }).items.length, 2);
  });

  it('names file:line and the field in errors', () => {
    const f = write('qa-bad.jsonl', [{ question: 'Q', answers: [{ text: 'a', votes: 1 }] }, { question: 'Q', answers: [{ text: 'a', votes: 1 }, { text: 'b', votes: '3' }] }]);
    assert.throws(() => loadQaVotes(f), (e: Error) => e instanceof DatasetError && /qa-bad\.jsonl:2: `answers\[1\]\.votes` must be a whole number \(got "3"\)/.test(e.message));
    const g = write('qa-bad2.jsonl', [{ question: 'Q', answers: 'none' }]);
    assert.throws(() => loadQaVotes(g), /qa-bad2\.jsonl:1: `answers` must be a list/);
    const h = write('qa-bad3.jsonl', [{ question: 'Q', answers: [{ text: 'a', votes: 1, accepted: 'yes' }] }]);
    assert.throws(() => loadQaVotes(h), /qa-bad3\.jsonl:1: `answers\[0\]\.accepted` must be true or false/);
  });
});
