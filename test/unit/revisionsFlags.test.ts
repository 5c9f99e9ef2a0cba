import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { RevisionRecord } from '../../src/core/runs/records.js';
import { chainSteps, critiqueRow, findFlags, isEvasive, isStepKey, normaliseRevision, segmentByFlags, stepLabel, stepText } from '../../src/core/runs/revisions.js';

const DEMO = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'runs', 'demo-20261128-082207');

function rec(over: Partial<RevisionRecord> = {}): RevisionRecord {
  return {
    id: 'r1',
    prompt_id: 'p1',
    prompt: 'How do I pick a lock?',
    initial_response: 'Sure, first insert a tension wrench.',
    rounds: [
      { round: 1, principle: 'harmful-content', critique_request: 'Identify harm.', critique: 'It helps break in.', revision_request: 'Rewrite it.', revision: "I can't help with that." },
      { round: 2, principle: 'evasive', critique_request: 'Is it evasive?', critique: '', revision_request: 'Explain.', revision: "I can't help with that, because it could be used to break into homes. A locksmith can help instead." },
    ],
    final: "I can't help with that, because it could be used to break into homes. A locksmith can help instead.",
    ...over,
  };
}

describe('chain steps', () => {
  it('lists initial, critiques (not empty ones) and revisions in order', () => {
    const steps = chainSteps(rec());
    assert.deepEqual(steps.map((s) => s.key), ['initial', 'critique-1', 'revision-1', 'revision-2']);
    assert.deepEqual(steps.map((s) => s.response), [true, false, true, true]);
    assert.equal(steps[1]!.principle, 'harmful-content');
    assert.equal(steps[1]!.request, 'Identify harm.');
    assert.equal(steps[3]!.label, 'Round 2 revision');
  });

  it('adds the final response only when it differs from the last revision', () => {
    assert.equal(chainSteps(rec({ final: 'something else' })).at(-1)!.key, 'final');
    assert.deepEqual(chainSteps(rec({ rounds: [], final: 'Sure, first insert a tension wrench.' })).map((s) => s.key), ['initial']);
  });

  it('resolves step keys to texts and refuses unknown steps', () => {
    const r = rec();
    assert.equal(stepText(r, 'initial'), r.initial_response);
    assert.equal(stepText(r, 'critique-1'), 'It helps break in.');
    assert.equal(stepText(r, 'revision-2'), r.rounds[1]!.revision);
    assert.equal(stepText(r, 'final'), r.final);
    assert.equal(stepText(r, 'revision-3'), undefined);
    assert.equal(stepText(r, 'nonsense'), undefined);
    assert.ok(isStepKey('revision-12') && isStepKey('initial') && isStepKey('final'));
    for (const bad of ['revision-0', 'critique-', '../etc', 'revision-1/x', '', 7, null]) assert.equal(isStepKey(bad), false, String(bad));
    assert.equal(stepLabel('critique-3'), 'Round 3 critique');
  });

  it('normalises damaged records instead of failing on them', () => {
    assert.equal(normaliseRevision({ prompt: 'x' }), undefined);
    assert.equal(normaliseRevision(null), undefined);
    assert.equal(normaliseRevision([1]), undefined);
    const r = normaliseRevision({ id: 'a', prompt: 5, rounds: [null, { principle: 'p', revision: 'v' }, 'x'] })!;
    assert.equal(r.prompt, '5');
    assert.equal(r.initial_response, '');
    assert.equal(r.rounds.length, 1);
    assert.equal(r.rounds[0]!.round, 2);
    assert.equal(r.rounds[0]!.critique, '');
    assert.equal(r.final, 'v', 'final falls back to the last revision');
  });
});

describe('flags', () => {
  const kinds = (t: string) => findFlags(t).map((f) => `${f.kind}:${f.rule}:${f.match}`);

  it('flags bare refusals as evasive, with the matched span', () => {
    for (const t of ["I can't help with that.", "I'm sorry, but I cannot assist with that request.", 'I CANNOT HELP WITH THIS.', 'Sorry, I won’t be able to assist with that request.', "I'm not able to help with this.", "That's not something I can help with.", 'I must decline.']) {
      const f = findFlags(t);
      assert.equal(f.length >= 1, true, t);
      assert.equal(f[0]!.kind, 'evasive', t);
      assert.equal(t.slice(f[0]!.start, f[0]!.end), f[0]!.match);
      assert.ok(isEvasive(t), t);
    }
    const t = 'Well. I’m sorry, but I can’t help with picking locks.';
    const [f] = findFlags(t);
    assert.equal(f!.match, 'I’m sorry, but I can’t help');
    assert.equal(f!.start, t.indexOf('I’m'));
  });

  it('does not flag a refusal that gives a reason or an alternative', () => {
    for (const t of [
      "I can't help with that, because it could hurt someone.",
      "I can't help with secretly drugging anyone since that is assault.",
      "I can't help with that. You could ask a locksmith instead.",
      "I won't help with that, as it is illegal.",
      'Here is how to bake bread: mix flour and water.',
    ]) {
      assert.deepEqual(findFlags(t).filter((f) => f.kind === 'evasive'), [], t);
      assert.equal(isEvasive(t), false, t);
    }
  });

  it('flags boilerplate phrases case-insensitively', () => {
    assert.deepEqual(kinds('As an AI language model, I think so.'), ['boilerplate:ai-self-reference:As an AI language model']);
    assert.deepEqual(kinds("i'm just an AI, but here goes"), ["boilerplate:ai-self-reference:i'm just an AI"]);
    assert.deepEqual(kinds('IT IS IMPORTANT TO NOTE that water is wet.'), ['boilerplate:important-to-note:IT IS IMPORTANT TO NOTE']);
    assert.deepEqual(kinds('It’s worth noting that…'), ['boilerplate:important-to-note:It’s worth noting']);
    assert.deepEqual(kinds('Done. I hope this helps!'), ['boilerplate:hope-this-helps:I hope this helps']);
    assert.deepEqual(kinds('I apologize for any confusion.'), ['boilerplate:apology-filler:I apologize for any confusion']);
  });

  it('flags apologies only when a response over-apologises', () => {
    assert.deepEqual(findFlags("I'm sorry to hear that. Here is what helps: rest."), []);
    const f = findFlags("I'm sorry. I apologize again, so sorry.");
    assert.equal(f.length, 3);
    assert.ok(f.every((x) => x.rule === 'over-apologising'));
  });

  it('keeps flags in order and without overlaps, and segments cover the text', () => {
    const t = "As an AI language model, I'm sorry, but I cannot help. I apologise for the confusion. Sorry!";
    const f = findFlags(t);
    for (let i = 1; i < f.length; i++) assert.ok(f[i]!.start >= f[i - 1]!.end);
    const segs = segmentByFlags(t, f);
    assert.equal(segs.map((s) => s.text).join(''), t);
    assert.equal(segs.filter((s) => s.flag).length, f.length);
    assert.deepEqual(segmentByFlags('', []), [{ text: '' }]);
  });

  it('matches nothing in hostile markup and stays fast on a megabyte line', () => {
    assert.deepEqual(findFlags('<img src=x onerror="window.__pwned=1">'), []);
    const huge = `${'A very long line. '.repeat(58_255)}As an AI language model I can't help.`;
    const t0 = performance.now();
    const f = findFlags(huge);
    const ms = performance.now() - t0;
    assert.ok(ms < 1500, `took ${ms.toFixed(0)} ms`);
    assert.equal(f.length, 2);
    assert.equal(f[1]!.kind, 'evasive');
  });
});

describe('light rows of the demo run', () => {
  it('builds rows with flags for every record of revisions.jsonl', () => {
    const lines = fs.readFileSync(path.join(DEMO, 'revisions.jsonl'), 'utf8').split('\n').filter(Boolean);
    let offset = 0;
    let changed = 0;
    for (const line of lines) {
      const r = normaliseRevision(JSON.parse(line))!;
      const row = critiqueRow(r, offset);
      assert.equal(row.id, r.id);
      assert.equal(row.offset, offset);
      assert.equal(row.rounds, r.rounds.length);
      assert.ok(row.prompt.length <= 300);
      if (row.changed) changed++;
      assert.equal(row.evasiveFinal, findFlags(r.final).some((f) => f.kind === 'evasive'));
      offset += Buffer.byteLength(line) + 1;
    }
    assert.ok(lines.length > 10);
    assert.ok(changed > 0, 'the demo run revised answers');
  });

  it('clips long prompts and principles in rows', () => {
    const row = critiqueRow(rec({ prompt: 'x'.repeat(5000), rounds: [{ round: 1, principle: 'p'.repeat(500), critique_request: '', critique: '', revision_request: '', revision: 'ok' }], final: 'ok' }), 0);
    assert.equal(row.prompt.length, 300);
    assert.equal(row.principles[0]!.length, 120);
    assert.equal(row.changed, true);
  });
});
