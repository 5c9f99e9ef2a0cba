import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { complete } from '../../src/core/constitution/features/complete.js';
import { ConstitutionWorkspace } from '../../src/core/constitution/resolve.js';

/** Completion labels at the `‸` in `text` (the marker is removed first), in the order an editor shows them. */
function at(text: string, files: Record<string, string> = {}): string[] {
  const offset = text.indexOf('‸');
  assert.ok(offset >= 0, 'a ‸ marks the cursor');
  const src = text.slice(0, offset) + text.slice(offset + 1);
  const all: Record<string, string> = { ...files, 'root.constitution.yaml': src };
  const ws = new ConstitutionWorkspace({ read: (f) => all[f], resolve: (_f, r) => r });
  const items = complete(ws, ws.resolve('root.constitution.yaml'), src, 'root.constitution.yaml', offset, { files: Object.keys(all) });
  return items.sort((a, b) => (a.sortText ?? a.label).localeCompare(b.sortText ?? b.label)).map((i) => i.label);
}

const BASE = 'name: base\nprinciples:\n  - id: harmful\n    critique: c\n    revision: r\n    tags: [harm]\ncomparisons:\n  - id: kinder\n    question: q\n';

describe('completion contexts', () => {
  it('offers the keys of a principle that are not there yet, required first', () => {
    const labels = at('name: t\nprinciples:\n  - id: a\n    ‸\n    critique: c\n');
    assert.deepEqual(labels.slice(0, 1), ['revision']);
    assert.ok(!labels.includes('critique') && !labels.includes('id'));
  });

  it('offers the keys of a new list item', () => {
    assert.ok(at('name: t\nprinciples:\n  - ‸\n').includes('critique'));
  });

  it('offers top-level keys that are missing', () => {
    const labels = at('name: t\n‸\nprinciples: []\n');
    assert.ok(labels.includes('comparisons') && labels.includes('examples'));
    assert.ok(!labels.includes('name') && !labels.includes('principles'));
  });

  it('offers ids of the right kind for example principles, across includes', () => {
    const inc = { 'base.constitution.yaml': BASE };
    const cr = 'name: t\ninclude: [base.constitution.yaml]\nexamples:\n  critique_revision:\n    - principle: ‸\n';
    assert.deepEqual(at(cr, inc), ['harmful']);
    const cmp = 'name: t\ninclude: [base.constitution.yaml]\nexamples:\n  comparison:\n    - conversation: [{human: x}]\n      principle: ‸\n';
    assert.deepEqual(at(cmp, inc), ['kinder']);
  });

  it('offers only ids from included files for exclude', () => {
    const text = 'name: t\ninclude: [base.constitution.yaml]\nexclude:\n  - ‸\nprinciples:\n  - id: mine\n    critique: c\n    revision: r\n';
    assert.deepEqual(at(text, { 'base.constitution.yaml': BASE }).sort(), ['harmful', 'kinder']);
  });

  it('offers the placeholders of the template being written, in quotes and in block scalars', () => {
    assert.deepEqual(at('name: t\ntemplates:\n  human_turn: "Human: {‸"\n'), ['{text}']);
    assert.deepEqual(at('name: t\ntemplates:\n  comparison_answer: |-\n    Answer: ({‸\n'), ['{answer}']);
    assert.deepEqual(at('name: t\nprinciples:\n  - id: a\n    critique: "{‸"\n'), [], 'not in principle texts');
  });

  it('offers booleans, answer letters, tags and include files', () => {
    assert.deepEqual(at('name: t\noptions:\n  both_orders: ‸\n'), ['false', 'true']);
    assert.deepEqual(at('name: t\nexamples:\n  comparison:\n    - answer: ‸\n'), ['A', 'B']);
    assert.deepEqual(at('name: t\ninclude: [base.constitution.yaml]\nprinciples:\n  - id: x\n    tags: [‸]\n', { 'base.constitution.yaml': BASE }), ['harm']);
    assert.deepEqual(at('name: t\ninclude:\n  - ‸\n', { 'base.constitution.yaml': BASE }), ['base.constitution.yaml']);
  });

  it('offers nothing inside a multi-line text', () => {
    assert.deepEqual(at('name: t\nprinciples:\n  - id: a\n    critique: |\n      Say what is wr‸\n'), []);
  });
});
