import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Diagnostic } from '../../src/core/constitution/diagnostics.js';
import { analyzeFile } from '../../src/core/constitution/validate.js';
import { ConstitutionWorkspace, type Resolution } from '../../src/core/constitution/resolve.js';
import { renderComparisonPrompt, renderCritiquePrompt, renderRevisionPrompt } from '../../src/core/constitution/render.js';
import { nearDuplicates } from '../../src/core/constitution/similarity.js';
import { scanTemplate } from '../../src/core/constitution/templates.js';
import { rangeOf } from '../support/ranges';

/** An in-memory workspace: file name → text; includes resolve by name. */
function workspace(files: Record<string, string>) {
  return new ConstitutionWorkspace({ read: (f) => files[f], resolve: (_from, rel) => rel.replace(/^\.\//, '') });
}

function resolve(files: Record<string, string>, root = 'root.constitution.yaml'): Resolution {
  const r = workspace(files).resolve(root);
  assert.ok(r, `${root} resolves`);
  return r;
}

const codes = (ds: Diagnostic[]) => ds.map((d) => d.code).sort();


const P = (id: string, extra = '') => `  - id: ${id}\n    critique: Say what in the answer about ${id} is wrong.\n    revision: Rewrite the answer about ${id}.\n${extra}`;

describe('validator: ranges, codes and fixes', () => {
  it('accepts a minimal constitution with no diagnostics', () => {
    const r = resolve({ 'root.constitution.yaml': `name: ok\nprinciples:\n${P('a')}` });
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.constitution.principles[0]?.critique, 'Say what in the answer about a is wrong.');
  });

  it('points at the exact key, value or placeholder', () => {
    const text = `name: t\ntemplates:\n  critique: "{conversation} {critque_request}"\nprinciples:\n  - id: a\n    critique: x\n    revison: y\n    weight: -2\n`;
    const r = resolve({ 'root.constitution.yaml': text });
    const by = (c: string) => r.diagnostics.find((d) => d.code === c) as Diagnostic;
    assert.deepEqual(by('unknown-key').range, rangeOf(text, 'revison'));
    assert.match(by('unknown-key').message, /Did you mean 'revision'\?/);
    assert.deepEqual(by('unknown-key').fixes?.[0]?.edits[0], { range: rangeOf(text, 'revison'), newText: 'revision' });
    assert.deepEqual(by('invalid-weight').range, rangeOf(text, '-2'));
    assert.deepEqual(by('unknown-placeholder').range, rangeOf(text, '{critque_request}'));
    assert.deepEqual(by('missing-field').range, rangeOf(text, 'a', 'id: '));
    // a misspelt placeholder is one problem, not also a missing one
    assert.equal(r.diagnostics.filter((d) => d.code === 'missing-placeholder').length, 0);
  });

  it('counts CRLF line breaks once', () => {
    const text = 'name: t\r\nprinciples:\r\n  - id: a\r\n    critique: x\r\n    revison: y\r\n';
    const d = resolve({ 'root.constitution.yaml': text }).diagnostics.find((x) => x.code === 'unknown-key');
    assert.deepEqual(d?.range, { start: { line: 4, character: 4 }, end: { line: 4, character: 11 } });
  });

  it('reports duplicate ids with a fix that makes them unique, across included files too', () => {
    const base = `name: base\nprinciples:\n${P('shared')}`;
    const text = `name: t\ninclude: [base.constitution.yaml]\nprinciples:\n${P('mine')}${P('mine')}${P('shared')}`;
    const r = resolve({ 'root.constitution.yaml': text, 'base.constitution.yaml': base });
    const dups = r.diagnostics.filter((d) => d.code === 'duplicate-id');
    assert.equal(dups.length, 2);
    const second = text.indexOf('id: mine', text.indexOf('id: mine') + 1);
    assert.deepEqual(dups.map((d) => d.range.start.line).sort(), [text.slice(0, second).split('\n').length - 1, rangeOf(text, 'shared', 'id: ').start.line].sort());
    const fix = dups.find((d) => d.message.includes("'mine'"))?.fixes?.[0];
    assert.equal(fix?.title, "Rename to 'mine-2'");
    assert.equal(dups.find((d) => d.message.includes("'shared'"))?.related?.[0]?.file, 'base.constitution.yaml');
  });

  it('resolves references across includes, suggests close ids, and offers to create missing ones', () => {
    const base = `name: base\nprinciples:\n${P('harmful')}\ncomparisons:\n  - id: gentler\n    question: Which is gentler?\n`;
    const ex = (p: string) => `examples:\n  critique_revision:\n    - principle: ${p}\n      conversation: [{human: hi}, {assistant: hey}]\n      critique: c\n      revision: r\n`;
    const ok = resolve({ 'root.constitution.yaml': `name: t\ninclude: [base.constitution.yaml]\n${ex('harmful')}`, 'base.constitution.yaml': base });
    assert.deepEqual(ok.diagnostics, []);
    const typo = resolve({ 'root.constitution.yaml': `name: t\ninclude: [base.constitution.yaml]\n${ex('harmfull')}`, 'base.constitution.yaml': base });
    const d = typo.diagnostics.find((x) => x.code === 'unknown-reference') as Diagnostic;
    assert.match(d.message, /Did you mean 'harmful'/);
    assert.deepEqual(d.fixes?.map((f) => f.title), ["Change to 'harmful'", "Create principle 'harmfull'"]);
    const kind = resolve({ 'root.constitution.yaml': `name: t\ninclude: [base.constitution.yaml]\n${ex('gentler')}`, 'base.constitution.yaml': base });
    assert.deepEqual(codes(kind.diagnostics), ['wrong-reference-kind']);
    assert.match(kind.diagnostics[0]?.message ?? '', /needs a critique\/revision principle/);
  });

  it('applies exclude only to what a file includes, and leaves out examples of excluded principles', () => {
    const base = `name: base\nexclude: [mine]\nprinciples:\n${P('harmful')}${P('legal')}\nexamples:\n  critique_revision:\n    - principle: legal\n      conversation: [{human: hi}, {assistant: hey}]\n      critique: c\n      revision: r\n`;
    const root = `name: t\ninclude: [base.constitution.yaml]\nexclude: [legal]\nprinciples:\n${P('mine')}`;
    const r = resolve({ 'root.constitution.yaml': root, 'base.constitution.yaml': base });
    assert.deepEqual(r.constitution.principles.map((p) => p.id), ['harmful', 'mine'], "the base's exclude of 'mine' does not reach up");
    assert.equal(r.constitution.examples.critique_revision.length, 0);
    const info = r.diagnostics.find((d) => d.severity === 'information');
    assert.match(info?.message ?? '', /also leaves out 1 few-shot example/);
  });

  it('merges a diamond once and reports cycles and missing files at the root include entry', () => {
    const leaf = `name: leaf\nprinciples:\n${P('leaf-p')}`;
    const files = {
      'root.constitution.yaml': 'name: root\ninclude: [a.constitution.yaml, b.constitution.yaml]\n',
      'a.constitution.yaml': 'name: a\ninclude: [leaf.constitution.yaml]\n',
      'b.constitution.yaml': 'name: b\ninclude: [leaf.constitution.yaml, gone.constitution.yaml, root.constitution.yaml]\n',
      'leaf.constitution.yaml': leaf,
    };
    const r = resolve(files);
    assert.deepEqual(r.constitution.principles.map((p) => p.id), ['leaf-p']);
    assert.deepEqual(r.order, ['leaf.constitution.yaml', 'a.constitution.yaml', 'b.constitution.yaml', 'root.constitution.yaml']);
    const atB = r.diagnostics.filter((d) => d.range.start.character === rangeOf(files['root.constitution.yaml'], 'b.constitution.yaml').start.character);
    assert.deepEqual(codes(atB), ['include-cycle', 'include-not-found']);
    assert.match(atB.find((d) => d.code === 'include-cycle')?.message ?? '', /root\.constitution\.yaml → b\.constitution\.yaml → root\.constitution\.yaml/);
  });

  it('warns when every comparison example answers the same letter, and the fix balances them', () => {
    const ex = (a: string) => `    - conversation: [{human: q}]\n      response_a: good ${a}\n      response_b: bad ${a}\n      answer: A\n`;
    const text = `name: t\ncomparisons:\n  - id: c\n    question: Which?\nexamples:\n  comparison:\n${ex('1')}${ex('2')}${ex('3')}`;
    const r = resolve({ 'root.constitution.yaml': text });
    const d = r.diagnostics.find((x) => x.code === 'same-answer-letter') as Diagnostic;
    assert.deepEqual(d.range, rangeOf(text, 'comparison', 'examples:'));
    const edits = d.fixes?.[0]?.edits ?? [];
    assert.deepEqual(edits.map((e) => e.newText), ['bad 2', 'good 2', 'B']);
  });

  it('flags near-duplicate principles with a hint pointing at the other one', () => {
    const text = `name: t\nprinciples:\n  - id: a\n    critique: Identify every way the reply is harmful, unethical or dangerous to anyone.\n    revision: Rewrite it to remove harmful, unethical or dangerous content.\n  - id: b\n    critique: Identify every way the reply is harmful, unethical or dangerous to anybody.\n    revision: Rewrite it to remove harmful, unethical or dangerous content.\n`;
    const r = resolve({ 'root.constitution.yaml': text });
    const d = r.diagnostics.find((x) => x.code === 'near-duplicate') as Diagnostic;
    assert.equal(d.severity, 'hint');
    assert.deepEqual(d.range, rangeOf(text, 'b', 'id: b'));
    const off = workspace({ 'root.constitution.yaml': text }).resolve('root.constitution.yaml', { nearDuplicateThreshold: 0 });
    assert.equal(off?.diagnostics.length, 0, 'threshold 0 turns the hint off');
  });

  it('reports anchors that refer to themselves once, without follow-on errors', () => {
    const r = resolve({ 'root.constitution.yaml': `name: t\nprinciples:\n${P('a', '    tags: &t [x, *t]\n')}` });
    assert.deepEqual(codes(r.diagnostics), ['unresolved-alias']);
  });

  it('explains text that YAML reads as a mapping or a number, and offers to quote it', () => {
    const text = `name: t\nversion: 1.0\ntemplates:\n  critique: {conversation}\nprinciples:\n${P('a')}`;
    const r = resolve({ 'root.constitution.yaml': text });
    const v = r.diagnostics.find((d) => d.range.start.line === 1) as Diagnostic;
    assert.equal(v.code, 'wrong-type');
    assert.deepEqual(v.fixes?.[0]?.edits[0]?.newText, '"1.0"');
    const t = r.diagnostics.find((d) => d.range.start.line === 3) as Diagnostic;
    assert.match(t.message, /read as a YAML mapping/);
    assert.equal(t.fixes?.[0]?.edits[0]?.newText, '"{conversation}"');
  });

  it('parses every line shape without throwing and keeps ranges inside the text', () => {
    for (const text of ['', '#', ':', '- - -', '{', 'name: [', '"', 'a: *b', '---\n---\nx: 1', '\uFEFFname: t', 'x'.repeat(10000)]) {
      const fa = analyzeFile('f', text);
      for (const d of fa.diagnostics) assert.ok(d.span.start >= 0 && d.span.end <= text.length && d.span.start <= d.span.end, JSON.stringify([text.slice(0, 20), d]));
      assert.ok(!fa.diagnostics.some((d) => d.code === 'internal-error'));
    }
  });
});

describe('templates and rendering', () => {
  it('scans placeholders, escapes and stray braces', () => {
    assert.deepEqual(
      scanTemplate('a {x} {{y}} }').map((p) => [p.kind, p.span.start, p.span.end]),
      [['text', 0, 2], ['placeholder', 2, 5], ['text', 5, 6], ['escape', 6, 8], ['text', 8, 9], ['escape', 9, 11], ['text', 11, 12], ['stray', 12, 13]],
    );
  });

  it('renders the exact critique, revision and comparison prompts with few-shot examples', () => {
    const text = [
      'name: t',
      'principles:',
      '  - id: harmful',
      '    critique: Is it harmful?',
      '    revision: Make it harmless.',
      'comparisons:',
      '  - id: kinder',
      '    question: Which is kinder?',
      'examples:',
      '  critique_revision:',
      '    - principle: harmful',
      '      conversation: [{human: H1}, {assistant: A1}]',
      '      critique: C1',
      '      revision: R1',
      '  comparison:',
      '    - conversation: [{human: H2}]',
      '      response_a: RA',
      '      response_b: RB',
      '      answer: B',
    ].join('\n');
    const c = resolve({ 'root.constitution.yaml': text }).constitution;
    const p = c.principles[0]!;
    const convo = [
      { role: 'human' as const, text: 'Q' },
      { role: 'assistant' as const, text: 'A' },
    ];
    const shot = 'Human: H1\n\nAssistant: A1\n\nCritiqueRequest: Is it harmful?\n\nCritique: C1\n\nRevisionRequest: Make it harmless.\n\nRevision: R1';
    assert.equal(renderCritiquePrompt(c, p, convo).text, `${shot}\n\nHuman: Q\n\nAssistant: A\n\nCritiqueRequest: Is it harmful?\n\nCritique:`);
    assert.equal(
      renderRevisionPrompt(c, p, convo, 'It is.').text,
      `${shot}\n\nHuman: Q\n\nAssistant: A\n\nCritiqueRequest: Is it harmful?\n\nCritique: It is.\n\nRevisionRequest: Make it harmless.\n\nRevision:`,
    );
    const cmp = renderComparisonPrompt(c, c.comparisons[0]!, [{ role: 'human', text: 'Q' }], 'X', 'Y');
    const q = (h: string, a: string, b: string) => `Consider the following conversation between a human and an assistant:\n\nHuman: ${h}\n\nWhich is kinder?\nOptions:\n(A) ${a}\n(B) ${b}\nThe answer is:`;
    assert.equal(cmp.text, `${q('H2', 'RA', 'RB')} (B)\n\n${q('Q', 'X', 'Y')}`);
    assert.deepEqual(cmp.segments.map((s) => s.kind), ['example', 'separator', 'prompt']);
    assert.equal(renderCritiquePrompt(c, p, convo, { fewShot: false }).text.startsWith('Human: Q'), true);
  });
});

describe('near-duplicate search', () => {
  it('finds similar texts among thousands without comparing every pair', () => {
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`);
    let seed = 7;
    const rnd = () => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const items = Array.from({ length: 3000 }, (_, key) => ({ key, text: Array.from({ length: 20 }, () => words[Math.floor(rnd() * words.length)]).join(' ') }));
    items.push({ key: 3000, text: items[10]!.text });
    const pairs = nearDuplicates(items, 0.8);
    assert.deepEqual(pairs.map((p) => [p.a, p.b]), [[10, 3000]]);
  });
});
