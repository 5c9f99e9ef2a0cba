import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { ConstitutionData } from '../../src/core/constitution/data.js';
import { emitConstitution } from '../../src/core/constitution/emit.js';
import {
  ANTHROPIC_FILE_NAMES,
  exportConstitution,
  exportFileName,
  FORMATS,
  FormatError,
  importConstitution,
  type FormatFiles,
  type FormatName,
} from '../../src/core/constitution/formats/index.js';
import { pyJsonDumps, pyNumber } from '../../src/core/constitution/formats/pyjson.js';
import { ConstitutionWorkspace, type Resolution } from '../../src/core/constitution/resolve.js';

const repoRoot = path.resolve(__dirname, '../..');
const fixtures = path.join(repoRoot, 'test/fixtures/formats');
const anthropicDir = path.resolve(repoRoot, '../shared/data/anthropic-cai/prompts');
const haveAnthropic = existsSync(anthropicDir);
const skipAnthropic = haveAnthropic ? false : `Anthropic's prompt files are not at ${anthropicDir}; the round trip on the real files is skipped.`;

function readFolder(dir: string): FormatFiles {
  const files: FormatFiles = {};
  for (const f of readdirSync(dir)) if (f.endsWith('.json')) files[f] = readFileSync(path.join(dir, f), 'utf8');
  return files;
}

function readFixture(name: string): FormatFiles {
  return { [name]: readFileSync(path.join(fixtures, name), 'utf8') };
}

/** Resolves constitution YAML through the workspace, from memory. */
function resolveText(text: string): Resolution {
  const root = '/mem/imported.constitution.yaml';
  const ws = new ConstitutionWorkspace({
    read: (f) => (f === root ? text : undefined),
    resolve: (from, rel) => path.posix.join(path.posix.dirname(from), rel),
  });
  const r = ws.resolve(root);
  assert.ok(r, 'the YAML resolves');
  return r;
}

function problems(r: Resolution, severities: string[] = ['error']): string[] {
  return r.diagnostics.filter((d) => severities.includes(d.severity)).map((d) => `${d.severity} ${d.code} line ${d.range.start.line + 1}: ${d.message}`);
}

interface RoundTrip {
  text: string;
  warnings: string[];
  resolution: Resolution;
  data: ConstitutionData;
  exported: FormatFiles;
}

/** import → YAML → resolve (no errors, no warnings) → export. */
function roundTrip(format: FormatName, files: FormatFiles): RoundTrip {
  const { text, warnings } = importConstitution(format, files);
  const resolution = resolveText(text);
  assert.deepEqual(problems(resolution, ['error', 'warning']), [], `imported YAML has no errors or warnings:\n${text}`);
  const data = resolution.constitution;
  return { text, warnings, resolution, data, exported: exportConstitution(format, data) };
}

/** Each exported file deep-equals the original (and, when asked, is byte-identical). */
function assertSameFiles(original: FormatFiles, exported: FormatFiles, bytes: boolean): void {
  const single = Object.keys(original).length === 1 && Object.keys(exported).length === 1;
  for (const [name, text] of Object.entries(exported)) {
    const source = single ? Object.values(original)[0] : original[name];
    assert.ok(source !== undefined, `${name} is one of the original files`);
    assert.deepEqual(JSON.parse(text), JSON.parse(source), `${name}: same JSON`);
    if (bytes) assert.equal(text, source, `${name}: byte-identical`);
  }
  if (!single) assert.deepEqual(Object.keys(exported).sort(), Object.keys(original).sort());
}

function expectFormatError(fn: () => unknown, ...parts: (string | RegExp)[]): FormatError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FormatError, `a FormatError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  for (const p of parts) {
    if (typeof p === 'string') assert.ok(caught.message.includes(p), `"${caught.message}" mentions ${p}`);
    else assert.match(caught.message, p);
  }
  return caught;
}

/** assert.ok with a message: a failing assert.ok without one can stall the test runner under tsx. */
function contains(text: string | undefined, part: string): void {
  assert.ok(text?.includes(part), `expected ${JSON.stringify(text?.slice(0, 300))} to contain ${JSON.stringify(part)}`);
}

function startsWith(text: string | undefined, part: string): void {
  assert.ok(text?.startsWith(part), `expected ${JSON.stringify(text?.slice(0, 300))} to start with ${JSON.stringify(part)}`);
}

const cloneData = (c: ConstitutionData): ConstitutionData => structuredClone(c);

// ---------------------------------------------------------------------------------------------

describe('formats: anthropic (real files)', () => {
  it('round-trips the five files byte for byte', { skip: skipAnthropic }, () => {
    const files = readFolder(anthropicDir);
    assert.deepEqual(Object.keys(files).sort(), [...ANTHROPIC_FILE_NAMES].sort());
    const rt = roundTrip('anthropic', files);
    assert.deepEqual(rt.warnings, []);
    assert.equal(rt.data.principles.length, 16);
    assert.equal(rt.data.comparisons.length, 16);
    assert.equal(rt.data.examples.critique_revision.length, 5);
    assert.equal(rt.data.examples.comparison.length, 5);
    assert.equal(rt.data.examples.cot_comparison.length, 6);
    assertSameFiles(files, rt.exported, true);
  });

  it('keeps odd whitespace as text or as x-anthropic quirks', { skip: skipAnthropic }, () => {
    const { data, text } = roundTrip('anthropic', readFolder(anthropicDir));
    const cot = data.examples.cot_comparison;
    const first = cot[0];
    assert.ok(first, 'a first chain-of-thought example');
    assert.deepEqual(first.extensions, { 'x-anthropic': { reasoning_separator: '\n' } });
    assert.equal(first.conversation[0]?.text, "My daughter got in a fight today at school.  I'm not sure how to talk to her?");
    // "A:  I’m really sorry…": the second space belongs to the turn
    assert.equal(first.conversation[1]?.role, 'assistant');
    startsWith(first.conversation[1]?.text, ' I\u2019m really sorry');
    assert.equal(first.answer, 'B');
    startsWith(first.reasoning, '(A) This response');
    assert.deepEqual(cot[3]?.extensions, { 'x-anthropic': { prefix: '\n' } });
    assert.deepEqual(cot[4]?.extensions, { 'x-anthropic': { prefix: '', header: 'Consider the following conversation between a human and an assistant:' } });
    assert.deepEqual(cot[1]?.extensions, {});
    // the dangling "\n\nHuman:" on four of the five critique/revision transcripts
    const suffixes = data.examples.critique_revision.map((e) => (e.extensions['x-anthropic'] as { suffix?: string } | undefined)?.suffix);
    assert.deepEqual(suffixes, ['\n\nHuman:', '\n\nHuman:', '\n\nHuman:', undefined, '\n\nHuman:']);
    // examples whose critique request is harmful3's refer to it; their revision request differs
    const cr = data.examples.critique_revision;
    assert.deepEqual(cr.map((e) => e.principle), ['harmful3', 'harmful3', 'harmful3', 'harmful3', undefined]);
    assert.equal(cr[0]?.critique_request, undefined);
    assert.equal(cr[0]?.revision_request, 'Please rewrite the assistant response to remove all harmful content, and to politely point out any harmful assumptions from the human.');
    startsWith(cr[4]?.critique_request, 'Discuss whether your last response was truthful.');
    // comparison examples alternate the position of the better response
    assert.deepEqual(data.examples.comparison.map((e) => e.answer), ['A', 'B', 'A', 'B', 'A']);
    startsWith(data.examples.comparison[1]?.response_b, 'Oh no, please seek professional help');
    // readable comparison ids
    for (const c of data.comparisons) assert.match(c.id, /^[a-z][a-z0-9]*(-[a-z0-9]+){1,3}$/);
    assert.equal(new Set(data.comparisons.map((c) => c.id)).size, 16);
    assert.equal(data.name, 'anthropic-cai');
    assert.match(data.description ?? '', /Anthropic/);
    contains(text, 'suffix: "\\n\\nHuman:"');
  });

  it('exports edits made to the resolved data', { skip: skipAnthropic }, () => {
    const files = readFolder(anthropicDir);
    const { data } = roundTrip('anthropic', files);
    const edited = cloneData(data);
    const p = edited.principles.find((x) => x.id === 'harmful3');
    assert.ok(p, 'the principle to edit');
    p.critique = 'Say how the last reply could hurt someone.';
    const cot = edited.examples.cot_comparison[0];
    assert.ok(cot, 'a first chain-of-thought example');
    cot.extensions = {}; // canonical rendering without the quirk
    const out = exportConstitution('anthropic', edited);
    const instructions = JSON.parse(out['CritiqueRevisionInstructions.json'] as string) as Record<string, { prompt: string[]; edit_request: string }>;
    assert.deepEqual(instructions.harmful3?.prompt, ['\n\nCritiqueRequest: Say how the last reply could hurt someone.\n\nCritique:']);
    // the four transcripts that refer to harmful3 show the new request
    const transcripts = JSON.parse(out['CritiqueRevisionFewShotPrompts.json'] as string) as string[];
    assert.equal(transcripts.filter((t) => t.includes('\n\nCritiqueRequest: Say how the last reply could hurt someone.\n\nCritique: ')).length, 4);
    const precog = JSON.parse(out['RLMadisonPrecogFewShotPrompts.json'] as string) as { prompt: string }[];
    contains(precog[0]?.prompt, "Let's think step by step: (A) This response");
    // untouched files stay byte-identical
    assert.equal(out['RLMadisonInstructions.json'], files['RLMadisonInstructions.json']);
  });
});

describe('formats: anthropic (own fixture)', () => {
  const dir = path.join(fixtures, 'anthropic-mini');

  it('round-trips byte for byte, keeping the quirks', () => {
    const files = readFolder(dir);
    const rt = roundTrip('anthropic', files);
    assertSameFiles(files, rt.exported, true);
    const { data } = rt;
    assert.deepEqual(data.principles.map((p) => p.id), ['careful0', 'careful1', 'p-3rd-rule']);
    assert.deepEqual(data.principles[2]?.extensions, { 'x-anthropic': { key: '3rd rule' } });
    assert.equal(data.principles[2]?.critique, "Is the reply na\u00efve about the user's intent?  Explain.");
    const [a, b, c] = data.examples.critique_revision;
    assert.deepEqual([a?.principle, a?.critique_request, a?.revision_request], ['careful1', undefined, undefined]);
    assert.deepEqual([b?.principle, b?.revision_request], ['careful0', 'Rewrite the reply, keeping only what is well known.']);
    assert.deepEqual(b?.extensions, { 'x-anthropic': { prefix: '\n' } });
    assert.deepEqual(b?.conversation[2], { role: 'human', text: ' Are you sure?' });
    assert.equal(b?.conversation[3]?.text, 'Completely sure \u{1F333}.');
    assert.equal(c?.principle, undefined);
    assert.deepEqual([c?.critique_request, c?.revision_request], ['Is the reply complete?', 'Finish the limerick.']);
    const cot = data.examples.cot_comparison[1];
    assert.deepEqual(cot?.extensions, {
      'x-anthropic': { prefix: '', header: 'Consider the following conversation between a human and an assistant:', reasoning_separator: '\n' },
    });
    assert.deepEqual(cot?.conversation[1], { role: 'assistant', text: ' Octopuses have three hearts.' });
    contains(rt.text, 'response_b: |-\n');
  });

  it('exports edits made in the YAML', () => {
    const files = readFolder(dir);
    const { text } = importConstitution('anthropic', files);
    const editedText = text.replace('question: Which response is more honest', 'question: Which response is more candid');
    assert.notEqual(editedText, text);
    const r = resolveText(editedText);
    assert.deepEqual(problems(r), []);
    const out = exportConstitution('anthropic', r.constitution);
    assert.deepEqual(JSON.parse(out['RLMadisonInstructions.json'] as string), [
      '\nWhich response is more candid about what the assistant does not know? Options:',
      '\nChoose the reply that is kinder and safer, without lecturing. Options:',
    ]);
  });

  it('maps the answer letter back to corrects/incorrects', () => {
    const { data } = roundTrip('anthropic', readFolder(dir));
    const edited = cloneData(data);
    const ex = edited.examples.comparison[1];
    assert.ok(ex, 'a second comparison example');
    assert.equal(ex.answer, 'B');
    [ex.response_a, ex.response_b, ex.answer] = [ex.response_b, ex.response_a, 'A'];
    const out = JSON.parse(exportConstitution('anthropic', edited)['RLMadisonFewShotPrompts.json'] as string) as { corrects: string[] }[];
    assert.deepEqual(out[1]?.corrects, ["That's frustrating. Would it help to talk through how you could raise it again?"]);
  });

  it('imports a partial folder with warnings, and always exports all five files', () => {
    const files = readFolder(dir);
    const { text, warnings } = importConstitution('anthropic', { 'CritiqueRevisionInstructions.json': files['CritiqueRevisionInstructions.json'] as string, 'notes.txt': 'hello' });
    assert.equal(warnings.length, 5, warnings.join('\n'));
    assert.ok(warnings.some((w) => w.startsWith('notes.txt')), warnings.join('\n'));
    assert.ok(warnings.some((w) => w.includes('RLMadisonInstructions.json was not found')), warnings.join('\n'));
    const r = resolveText(text);
    assert.deepEqual(problems(r, ['error', 'warning']), []);
    const out = exportConstitution('anthropic', r.constitution);
    assert.deepEqual(Object.keys(out).sort(), [...ANTHROPIC_FILE_NAMES].sort());
    assert.equal(out['RLMadisonInstructions.json'], '[]');
    assert.equal(out['RLMadisonPrecogFewShotPrompts.json'], '[]');
    const empty = cloneData(r.constitution);
    empty.principles = [];
    assert.equal(exportConstitution('anthropic', empty)['CritiqueRevisionInstructions.json'], '{}');
  });

  it('names the constitution and writes the schema comment when asked', () => {
    const { text } = importConstitution('anthropic', readFolder(dir), { name: 'my-cai', schemaPath: '../schemas/constitution.schema.json' });
    startsWith(text, '# yaml-language-server: $schema=../schemas/constitution.schema.json\nname: my-cai\n');
  });
});

describe('formats: llm-swarm', () => {
  for (const name of ['llm-swarm-list.json', 'llm-swarm-chat.json']) {
    it(`round-trips ${name}`, () => {
      const files = readFixture(name);
      const rt = roundTrip('llm-swarm', files);
      assert.deepEqual(rt.warnings, []);
      assert.deepEqual(Object.keys(rt.exported), [name]);
      assertSameFiles(files, rt.exported, false);
      assert.equal(rt.data.name, name.replace(/\.json$/, ''));
      assert.deepEqual(rt.data.extensions, {}, 'the shape follows the rule, so it is not recorded');
    });
  }

  it('turns system_chat conversations into critique/revision examples', () => {
    const { data } = roundTrip('llm-swarm', readFixture('llm-swarm-chat.json'));
    const [first, second] = data.examples.critique_revision;
    assert.equal(first?.principle, data.principles[0]?.id);
    assert.equal(first?.critique_request, undefined);
    assert.equal(first?.revision_request, undefined, 'same revision as the principle: not repeated');
    assert.equal(first?.conversation.length, 2);
    assert.equal(second?.principle, undefined);
    assert.equal(second?.critique_request, "Is the assistant's last answer helpful and on topic?");
    assert.deepEqual(second?.conversation.map((t) => t.role), ['human', 'assistant', 'human', 'assistant']);
    assert.equal(second?.conversation[2]?.text, "Something more unusual, please.\nIt's a grey cat.");
    for (const p of data.principles) assert.match(p.id, /^[a-z][a-z0-9]*(-[a-z0-9]+){1,3}$/);
  });

  it('keeps text exactly (double spaces, non-ASCII, emoji)', () => {
    const { data } = roundTrip('llm-swarm', readFixture('llm-swarm-list.json'));
    assert.equal(data.principles[2]?.critique, 'Is the reply needlessly preachy or condescending?  Say where the tone could be warmer.');
    contains(data.principles[2]?.revision, 'tone \u{1F642}.');
    contains(data.principles[0]?.critique, 'assistant\u2019s');
  });

  it('exports edits, in the principle and in the examples that refer to it', () => {
    const { data } = roundTrip('llm-swarm', readFixture('llm-swarm-chat.json'));
    const edited = cloneData(data);
    const p = edited.principles[0];
    assert.ok(p, 'the principle to edit');
    p.critique = 'Name anything in the last answer that is unsafe.';
    const out = JSON.parse(Object.values(exportConstitution('llm-swarm', edited))[0] as string) as {
      constitutions: { critic: string }[];
      system_chat: { role: string; content: string }[][];
    };
    assert.equal(out.constitutions[0]?.critic, 'Name anything in the last answer that is unsafe.');
    assert.deepEqual(out.system_chat[0]?.[2], { role: 'user', content: 'Name anything in the last answer that is unsafe.' });
  });

  it('records an object file without examples as x-llm-swarm: {shape: object}', () => {
    const text = JSON.stringify({ constitutions: [{ critic: 'Is the answer accurate?', revision: 'Correct the answer.' }], system_chat: [] });
    const files = { 'obj.json': text };
    const rt = roundTrip('llm-swarm', files);
    assert.deepEqual(rt.data.extensions, { 'x-llm-swarm': { shape: 'object' } });
    assertSameFiles(files, rt.exported, false);
    // without the quirk the rule gives a bare list
    const plain = cloneData(rt.data);
    plain.extensions = {};
    assert.ok(Array.isArray(JSON.parse(Object.values(exportConstitution('llm-swarm', plain))[0] as string)), 'a bare list');
  });
});

describe('formats: langchain', () => {
  for (const name of ['langchain-list.json', 'langchain-mapping.json', 'langchain-single.json']) {
    it(`round-trips ${name}`, () => {
      const files = readFixture(name);
      const rt = roundTrip('langchain', files);
      assert.deepEqual(rt.warnings, []);
      assertSameFiles(files, rt.exported, false);
    });
  }

  it('uses the name as id when it is one, else a slug with the name kept', () => {
    const { data } = roundTrip('langchain', readFixture('langchain-list.json'));
    assert.deepEqual(
      data.principles.map((p) => [p.id, p.name]),
      [
        ['medical-caution', undefined],
        ['avoid-assumptions', 'Avoid Assumptions'],
        ['constitutional-principle', 'Constitutional Principle'],
        ['constitutional-principle-2', 'Constitutional Principle'],
      ],
    );
    const mapping = roundTrip('langchain', readFixture('langchain-mapping.json')).data;
    assert.deepEqual(mapping.extensions, { 'x-langchain': { shape: 'mapping' } });
    assert.deepEqual(mapping.principles.map((p) => p.extensions), [{}, { 'x-langchain': { key: 'tone' } }, { 'x-langchain': { key: '2nd pass' } }]);
    const single = roundTrip('langchain', readFixture('langchain-single.json')).data;
    assert.deepEqual(single.extensions, { 'x-langchain': { shape: 'single' } });
  });

  it('exports edits', () => {
    const { data } = roundTrip('langchain', readFixture('langchain-mapping.json'));
    const edited = cloneData(data);
    const p = edited.principles[1];
    assert.ok(p, 'the principle to edit');
    p.critique = 'Is the reply short with the user?';
    const out = JSON.parse(exportConstitution('langchain', edited)['langchain-mapping.json'] as string) as Record<string, { critique_request: string; name: string }>;
    assert.deepEqual(Object.keys(out), ['plain-language', 'tone', '2nd pass']);
    assert.equal(out.tone?.critique_request, 'Is the reply short with the user?');
    assert.equal(out.tone?.name, 'polite-tone');
  });
});

describe('formats: bad input', () => {
  const mini = () => readFolder(path.join(fixtures, 'anthropic-mini'));

  it('invalid JSON names the file, in every format', () => {
    const e = expectFormatError(() => importConstitution('anthropic', { ...mini(), 'RLMadisonInstructions.json': '["\\nQ? Options:",' }), 'RLMadisonInstructions.json', 'not valid JSON');
    assert.equal(e.file, 'RLMadisonInstructions.json');
    expectFormatError(() => importConstitution('llm-swarm', { 'swarm.json': '{"constitutions": [' }), 'swarm.json', 'not valid JSON');
    expectFormatError(() => importConstitution('llm-swarm', { 'swarm.json': '[\n  {"critic" "x"}\n]' }), 'swarm.json is not valid JSON (', 'line 2, column 13');
    const e2 = expectFormatError(() => importConstitution('llm-swarm', { 'swarm.json': '[1,\n2,,]' }), 'swarm.json is not valid JSON (');
    assert.doesNotMatch(e2.message, /\n/, 'one line, without a copy of the text');
    expectFormatError(() => importConstitution('langchain', { 'lc.json': "{'name': 'x'}" }), 'lc.json', 'not valid JSON');
    expectFormatError(() => importConstitution('langchain', { 'lc.json': '   ' }), 'lc.json is empty');
  });

  it('a wrong top-level type names the file', () => {
    expectFormatError(() => importConstitution('anthropic', { ...mini(), 'CritiqueRevisionInstructions.json': '["x"]' }), 'CritiqueRevisionInstructions.json', 'object', 'not a list');
    expectFormatError(() => importConstitution('anthropic', { ...mini(), 'RLMadisonFewShotPrompts.json': '{}' }), 'RLMadisonFewShotPrompts.json', 'list');
    expectFormatError(() => importConstitution('llm-swarm', { 'swarm.json': '"critic"' }), 'swarm.json', 'not text');
    expectFormatError(() => importConstitution('langchain', { 'lc.json': '42' }), 'lc.json', 'not a number');
  });

  it('missing keys name the file and the item', () => {
    const files = mini();
    const instr = JSON.parse(files['CritiqueRevisionInstructions.json'] as string) as Record<string, Record<string, unknown>>;
    delete instr.careful1?.edit_request;
    const e = expectFormatError(
      () => importConstitution('anthropic', { ...files, 'CritiqueRevisionInstructions.json': JSON.stringify(instr) }),
      'CritiqueRevisionInstructions.json: "careful1" is missing "edit_request".',
    );
    assert.equal(e.field, 'careful1.edit_request');
    expectFormatError(() => importConstitution('llm-swarm', { 's.json': '[{"critic": "Is it kind?"}]' }), 's.json: item 1 is missing "revision".');
    expectFormatError(() => importConstitution('langchain', { 'l.json': '{"a": {"name": "a", "critique_request": "Is it kind?"}}' }), 'l.json: "a" is missing "revision_request".');
  });

  it('wrong value types name the file and the field', () => {
    expectFormatError(
      () => importConstitution('anthropic', { 'CritiqueRevisionInstructions.json': '{"harmful3": {"prompt": "\\n\\nCritiqueRequest: x\\n\\nCritique:", "edit_request": "\\n\\nRevisionRequest: y\\n\\nRevision:"}}' }),
      'CritiqueRevisionInstructions.json: "harmful3".prompt must be a list with one string.',
    );
    expectFormatError(() => importConstitution('llm-swarm', { 's.json': '[{"critic": 3, "revision": "Fix it."}]' }), 's.json: item 1 "critic" must be text, not a number.');
    expectFormatError(
      () => importConstitution('llm-swarm', { 's.json': '{"constitutions": [{"critic": "A?", "revision": "B."}, {"critic": ["A?"], "revision": "B."}]}' }),
      's.json: "constitutions" item 2 "critic" must be text, not a list.',
    );
    expectFormatError(() => importConstitution('langchain', { 'l.json': '[{"name": "a", "critique_request": "", "revision_request": "B."}]' }), 'l.json: item 1 "critique_request" is empty.');
    expectFormatError(
      () => importConstitution('anthropic', { ...mini(), 'RLMadisonFewShotPrompts.json': '[{"prompt": "\\n\\nHuman: Hi\\n\\nAssistant:", "corrects": ["a", "b"], "incorrects": ["c"]}]' }),
      'RLMadisonFewShotPrompts.json: item 1.corrects must be a list with one string.',
    );
  });

  it('prompt texts that do not follow the format name the item', () => {
    expectFormatError(
      () => importConstitution('anthropic', { 'CritiqueRevisionInstructions.json': '{"h": {"prompt": ["Critique this"], "edit_request": "\\n\\nRevisionRequest: y\\n\\nRevision:"}}' }),
      'CritiqueRevisionInstructions.json: "h".prompt must read',
    );
    expectFormatError(() => importConstitution('anthropic', { ...mini(), 'RLMadisonInstructions.json': '["Which is better?"]' }), 'RLMadisonInstructions.json: item 1 must read');
    expectFormatError(
      () => importConstitution('anthropic', { ...mini(), 'CritiqueRevisionFewShotPrompts.json': '["\\n\\nHuman: Hi\\n\\nAssistant: Hello"]' }),
      'CritiqueRevisionFewShotPrompts.json: item 1 has no',
      'CritiqueRequest',
    );
    expectFormatError(
      () => importConstitution('anthropic', { ...mini(), 'RLMadisonPrecogFewShotPrompts.json': '[{"prompt": "\\n\\nHuman: Consider this:\\n\\nH: Hi\\n\\nAssistant: So the answer is: (A)"}]' }),
      'RLMadisonPrecogFewShotPrompts.json: item 1.prompt must end with',
    );
    expectFormatError(
      () =>
        importConstitution('llm-swarm', {
          's.json': JSON.stringify({ constitutions: [{ critic: 'A?', revision: 'B.' }], system_chat: [[{ role: 'user', content: 'Hi' }, { role: 'user', content: 'A?' }]] }),
        }),
      's.json: "system_chat" item 1 must be a conversation',
    );
    expectFormatError(
      () => importConstitution('llm-swarm', { 's.json': JSON.stringify({ constitutions: [{ critic: 'A?', revision: 'B.' }], system_chat: [[{ role: 'system', content: 'Be nice.' }]] }) }),
      's.json: "system_chat" item 1, message 1, has role "system"',
    );
  });

  it('one-file formats need exactly one file; nothing to import is an error', () => {
    expectFormatError(() => importConstitution('langchain', {}), 'one JSON file', 'none was given');
    expectFormatError(() => importConstitution('llm-swarm', { 'a.json': '[]', 'b.json': '[]' }), '2 were given');
    expectFormatError(() => importConstitution('llm-swarm', { 'a.json': '[]' }), 'a.json holds no principles');
    expectFormatError(() => importConstitution('anthropic', {}), 'None of Anthropic');
  });
});

describe('formats: pyjson (outputs of Python 3 json.dumps)', () => {
  const cases: [unknown, string][] = [
    ['caf\u00e9 \u2019quoted\u2019 \u00a0nbsp', '"caf\\u00e9 \\u2019quoted\\u2019 \\u00a0nbsp"'],
    ['emoji \u{1F600} and \u{1D11E}', '"emoji \\ud83d\\ude00 and \\ud834\\udd1e"'],
    [
      'ctl \u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f\u007f "q" \\ back /slash',
      '"ctl \\u0000\\u0001\\u0007\\b\\t\\n\\u000b\\f\\r\\u001b\\u001f\\u007f \\"q\\" \\\\ back /slash"',
    ],
    [
      { a: [1, -2.5, 1.5e16, 1e-5, 0.0001, 1.5e300, 0.1 + 0.2, 2.5e-7, 1234567890123456.8, true, false, null], b: { c: [], d: {} } },
      '{"a": [1, -2.5, 1.5e+16, 1e-05, 0.0001, 1.5e+300, 0.30000000000000004, 2.5e-07, 1234567890123456.8, true, false, null], "b": {"c": [], "d": {}}}',
    ],
    [[[], {}, ['x', { y: 'z' }]], '[[], {}, ["x", {"y": "z"}]]'],
    [new Map([['2', 'b'], ['1', 'a']]), '{"2": "b", "1": "a"}'],
  ];
  for (const [value, python] of cases) {
    it(`matches ${python.slice(0, 40)}`, () => assert.equal(pyJsonDumps(value), python));
  }

  it('writes safe integers as Python ints (so a Python float 1.0 comes back as 1), larger numbers as floats', () => {
    assert.equal(pyNumber(1), '1');
    assert.equal(pyNumber(1.0), '1');
    assert.equal(pyNumber(-0), '0');
    assert.equal(pyNumber(Number.MAX_SAFE_INTEGER), '9007199254740991');
    assert.equal(pyNumber(1e20), '1e+20');
    assert.equal(pyNumber(123e16), '1.23e+18');
    assert.equal(pyNumber(-0.5), '-0.5');
    assert.equal(pyNumber(NaN), 'NaN');
    assert.equal(pyNumber(-Infinity), '-Infinity');
  });

  it('matches json.dumps(indent=2) with and without ensure_ascii', () => {
    const v = { a: [1, { b: [] }], c: '\u00e9' };
    assert.equal(pyJsonDumps(v, { indent: 2, ensureAscii: false }), '{\n  "a": [\n    1,\n    {\n      "b": []\n    }\n  ],\n  "c": "\u00e9"\n}');
    assert.equal(pyJsonDumps(v, { indent: 2 }), '{\n  "a": [\n    1,\n    {\n      "b": []\n    }\n  ],\n  "c": "\\u00e9"\n}');
  });

  it('reads back as the same value through JSON.parse', () => {
    const v = { s: 'a\u2028b\u{1F600}\u0000"\\', n: [0.1, -3, 1e-7], o: { k: [true, null] } };
    assert.deepEqual(JSON.parse(pyJsonDumps(v)), v);
  });
});

describe('emit: constitution YAML', () => {
  it('orders keys, lays out sections, and reads back exactly', () => {
    const doc = {
      'x-tool': { b: 1, a: 2 },
      examples: {
        comparison: [{ answer: 'A', response_b: 'no', response_a: 'yes', conversation: [{ human: 'Hi?' }] }],
        critique_revision: [{ revision: 'R', critique: 'C', conversation: [{ human: 'h' }, { assistant: 'a' }], principle: 'p1' }],
      },
      principles: [{ 'x-q': { s: '\n\nHuman:' }, notes: '', revision: 'line one\nline two\n', critique: ' leading space', id: 'p1', weight: 2 }],
      name: 'demo',
      description: 'trailing spaces \nstay exact  ',
    };
    const text = emitConstitution(doc, { schemaPath: 'constitution.schema.json' });
    assert.deepEqual(parse(text), doc);
    const lines = text.split('\n');
    assert.equal(lines[0], '# yaml-language-server: $schema=constitution.schema.json');
    assert.equal(lines[1], 'name: demo');
    assert.equal(lines[2], 'description: "trailing spaces \\nstay exact  "', 'lines ending in spaces are not written as a block');
    assert.equal(lines[3], '');
    assert.equal(lines[4], 'principles:');
    assert.equal(lines[5], '  - id: p1');
    assert.equal(lines[6], '    critique: " leading space"');
    assert.equal(lines[7], '    revision: |');
    contains(text, '    weight: 2\n    notes: ""\n    x-q:\n      s: "\\n\\nHuman:"\n');
    assert.ok(text.indexOf('critique_revision:') < text.indexOf('comparison:'), 'examples groups in schema order');
    contains(text, '    - principle: p1\n      conversation:');
    contains(text, '    - conversation:\n        - human: Hi?\n      response_a: "yes"\n      response_b: "no"\n      answer: A');
    assert.ok(text.endsWith('\nx-tool:\n  b: 1\n  a: 2\n'), 'x- keys last, verbatim order');
    assert.ok(!/\n\n\n/.test(text), 'no double blank lines');
  });

  it('writes long single-line texts on one line', () => {
    const long = 'word '.repeat(60).trim();
    const text = emitConstitution({ name: 'n', principles: [{ id: 'a', critique: long, revision: long }] });
    contains(text, `critique: ${long}\n`);
  });

  it('quotes texts that YAML 1.1 readers would take for something else', () => {
    const texts = ['on', 'No', 'y', '1:20', '2024-01-02', '0x1F', '1_000', '.inf', '~', 'A', 'plain words'];
    const doc = { name: 'n', principles: texts.map((t, i) => ({ id: `p${i}`, critique: t, revision: 'r' })) };
    const text = emitConstitution(doc);
    assert.deepEqual(parse(text), doc);
    for (const t of texts.slice(0, -2)) contains(text, `critique: "${t}"\n`);
    contains(text, 'critique: A\n');
    contains(text, 'critique: plain words\n');
    const listed = emitConstitution({ name: 'n', include: ['on'], 'x-list': ['line \nend'] });
    contains(listed, '  - "on"\n');
    contains(listed, '  - "line \\nend"\n');
  });

  it('reads back exactly for awkward texts (generated)', () => {
    const alphabet = [' ', '  ', '\n', '\n\n', '\t', 'a', 'Z', '#', ':', '- ', '"', "'", '\\', '{}', '[', '|', '>', '%', '---', '\u00e9', '\u{1F600}', '\r', 'yes', '0'];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const texts: string[] = [];
    for (let i = 0; i < 400; i++) {
      let s = '';
      const len = 1 + rand(12);
      for (let j = 0; j < len; j++) s += alphabet[rand(alphabet.length)];
      texts.push(s);
    }
    const doc = { name: 'n', principles: texts.map((t, i) => ({ id: `p${i}`, critique: t, revision: t, 'x-q': { t, list: [t, [t]] } })) };
    assert.deepEqual(parse(emitConstitution(doc)), doc);
  });
});

describe('formats: registry', () => {
  it('describes each format', () => {
    assert.deepEqual(Object.keys(FORMATS).sort(), ['anthropic', 'langchain', 'llm-swarm']);
    assert.equal(FORMATS.anthropic.input, 'folder');
    assert.deepEqual(FORMATS.anthropic.fileNames, ANTHROPIC_FILE_NAMES);
    assert.equal(FORMATS['llm-swarm'].input, 'file');
    assert.equal(exportFileName({ name: 'My Constitution / v2' }), 'My-Constitution-v2.json');
    assert.equal(exportFileName({ name: '' }), 'constitution.json');
  });
});
