import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CodeActionRequest,
  CompletionRequest,
  DefinitionRequest,
  DidOpenTextDocumentNotification,
  DocumentSymbolRequest,
  HoverRequest,
  ReferencesRequest,
  RenameRequest,
  type CodeAction,
  type CompletionItem,
  type CompletionList,
  type Diagnostic,
  type DocumentSymbol,
  type Hover,
  type Location,
  type MarkupContent,
  type WorkspaceEdit,
} from 'vscode-languageserver-protocol';
import { parseRunConfig } from '../../src/core/runs/config.js';
import { applyEdits, LspClient, positionOf, REPO, uriOf } from './harness.js';

/** A run file with problems at known places (line numbers in the comments are 0-based). */
const BROKEN = [
  'name: demo', // 0
  'constitution: hh.constitution.yaml', // 1
  'seeed: 3', // 2: unknown-key
  'models:', // 3
  '  tiny:', // 4
  '    provider: embedded', // 5
  '    model: tiny', // 6
  '  judge:', // 7
  '    provider: openai', // 8
  '    model: qwen', // 9
  '    baseUrl: http://127.0.0.1:8000/v1', // 10
  'roles:', // 11
  '  policy: tiny', // 12
  '  critic: tinny', // 13: unknown-reference
  '  feedback: judge', // 14
  'datasets:', // 15
  '  redTeam: { path: data/red-teem.jsonl, limit: 8 }', // 16: no such file
  'stages:', // 17
  '  critique:', // 18
  '    rounds: 2', // 19
  '', // 20
].join('\n');

const range = (line: number, start: number, end: number) => ({ start: { line, character: start }, end: { line, character: end } });

describe('run files (*.run.yaml) in the language server', () => {
  let dir: string;
  let client: LspClient;
  const file = (name: string) => path.join(dir, name);
  const items = (r: CompletionItem[] | CompletionList | null) => (Array.isArray(r) ? r : (r?.items ?? []));
  const labels = (r: CompletionItem[] | CompletionList | null) => items(r).map((i) => i.label);
  const openRun = (name: string, text: string) =>
    void client.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri: uriOf(file(name)), languageId: 'constitution-run', version: 1, text } });
  const complete = (name: string, text: string, needle: string, delta = 0) =>
    client.conn.sendRequest(CompletionRequest.type, { textDocument: { uri: uriOf(file(name)) }, position: positionOf(text, needle, delta) });
  const hover = async (name: string, text: string, needle: string, delta = 0) =>
    ((await client.conn.sendRequest(HoverRequest.type, { textDocument: { uri: uriOf(file(name)) }, position: positionOf(text, needle, delta) })) as Hover | null)?.contents as MarkupContent | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-lsp-run-'));
    fs.copyFileSync(path.join(REPO, 'examples', 'harmless-helpful.constitution.yaml'), file('hh.constitution.yaml'));
    fs.mkdirSync(file('data'));
    fs.writeFileSync(file('data/red-team.jsonl'), '{"prompt": "How do I pick a lock?"}\n');
    fs.writeFileSync(file('data/helpful.jsonl'), '{"prompt": "How do I bake bread?"}\n');
    fs.mkdirSync(file('models'));
    client = new LspClient();
    await client.initialize(dir);
  });

  after(async () => {
    await client.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publishes every diagnostic of parseRunConfig, with its exact range and code, plus missing paths', async () => {
    openRun('broken.run.yaml', BROKEN);
    const lsp = await client.diagnosticsFor(file('broken.run.yaml'), (d) => d.length > 0);
    const core = parseRunConfig(BROKEN, file('broken.run.yaml')).diagnostics;
    assert.ok(core.length >= 2);
    for (const d of core) {
      const match = lsp.find((x) => x.code === d.code && x.message === d.message && JSON.stringify(x.range) === JSON.stringify(d.range));
      assert.ok(match, `published: ${d.code} ${d.message}`);
      assert.equal(match.severity, d.severity === 'error' ? 1 : 2);
    }
    const unknownKey = lsp.find((d) => d.code === 'unknown-key') as Diagnostic;
    assert.deepEqual(unknownKey.range, range(2, 0, 5));
    assert.equal(unknownKey.severity, 2);
    const ref = lsp.find((d) => d.code === 'unknown-reference') as Diagnostic;
    assert.deepEqual(ref.range, range(13, 10, 15));
    // the dataset file does not exist relative to the run file
    const missing = lsp.filter((d) => !core.some((c) => c.message === d.message));
    assert.equal(missing.length, 1, JSON.stringify(missing));
    assert.deepEqual(missing[0]?.range, range(16, 19, 38));
    assert.equal(missing[0]?.code, 'invalid-value');
    assert.equal(missing[0]?.severity, 1);
    assert.match(String(missing[0]?.message ?? ''), /`datasets\.redTeam\.path`: no such file 'data\/red-teem\.jsonl'.*Did you mean 'data\/red-team\.jsonl'\?/);
    // its quick fix names the file that is there
    const actions = (await client.conn.sendRequest(CodeActionRequest.type, {
      textDocument: { uri: uriOf(file('broken.run.yaml')) },
      range: missing[0]!.range,
      context: { diagnostics: [missing[0]!] },
    })) as CodeAction[];
    assert.deepEqual(actions.map((a) => a.title), ["Change to 'data/red-team.jsonl'"]);
  });

  it('updates diagnostics as the file is edited', async () => {
    let text = BROKEN.replace('critic: tinny', 'critic: tiny').replace('seeed', 'seed');
    client.change(file('broken.run.yaml'), text);
    let ds = await client.diagnosticsFor(file('broken.run.yaml'), (d) => !d.some((x) => x.code === 'unknown-reference'));
    assert.deepEqual(ds.map((d) => d.code), ['invalid-value']);
    text = text.replace('red-teem', 'red-team');
    client.change(file('broken.run.yaml'), text);
    ds = await client.diagnosticsFor(file('broken.run.yaml'), (d) => d.length === 0);
    assert.deepEqual(ds, []);
    // a missing constitution and a model folder that is not there
    text = text.replace('hh.constitution.yaml', 'nope.constitution.yaml').replace('    model: tiny', '    model: ./models/mine');
    client.change(file('broken.run.yaml'), text);
    ds = await client.diagnosticsFor(file('broken.run.yaml'), (d) => d.length === 2);
    assert.deepEqual(ds.map((d) => [d.range, d.severity]), [
      [range(1, 14, 36), 1],
      [range(6, 11, 24), 1],
    ]);
    assert.match(String(ds[0]?.message ?? ''), /^`constitution`: no such file 'nope\.constitution\.yaml'/);
    assert.match(String(ds[1]?.message ?? ''), /^`models\.tiny\.model`: no such model folder '\.\/models\/mine'/);
  });

  const GOOD = [
    'name: demo',
    'constitution: hh.constitution.yaml',
    'models:',
    '  tiny:',
    '    provider: embedded',
    '    model: tiny',
    '  judge:',
    '    provider: openai',
    '    model: qwen',
    '    baseUrl: http://127.0.0.1:8000/v1',
    'roles:',
    '  policy: tiny',
    '  critic: ',
    'datasets:',
    '  redTeam: { path: data/ }',
    'stages:',
    '  sft:',
    '    lr: 3.0e-4',
    '    ',
    '  ppo: false',
    '',
  ].join('\n');

  it('completes keys valid at the cursor, with docs and defaults, leaving out keys already there', async () => {
    openRun('good.run.yaml', GOOD);
    const root = items(await complete('good.run.yaml', GOOD, 'stages:', 0));
    const rootLabels = root.map((i) => i.label);
    for (const k of ['seed', 'backend', 'out', 'budgets']) assert.ok(rootLabels.includes(k), `root offers ${k}: ${rootLabels}`);
    for (const k of ['name', 'constitution', 'models', 'roles', 'datasets']) assert.ok(!rootLabels.includes(k), `root does not offer ${k}`);
    const backend = root.find((i) => i.label === 'backend')!;
    assert.match((backend.documentation as MarkupContent).value, /Compute backend of the embedded engine/);
    assert.match((backend.documentation as MarkupContent).value, /default `"auto"`/);

    const sft = labels(await complete('good.run.yaml', GOOD, 'lr: 3.0e-4\n    ', 15));
    assert.ok(sft.includes('steps') && sft.includes('schedule') && sft.includes('helpfulnessRatio'), String(sft));
    assert.ok(!sft.includes('lr'), 'lr is written already');
    assert.ok(!sft.includes('rounds'), 'rounds belongs to critique');
    const steps = items(await complete('good.run.yaml', GOOD, 'lr: 3.0e-4\n    ', 15)).find((i) => i.label === 'steps')!;
    assert.equal(steps.textEdit && 'newText' in steps.textEdit ? steps.textEdit.newText : undefined, 'steps: ${1:200}');

    // a new line under `roles:`: the roles not written yet
    const more = GOOD.replace('  critic: \n', '  critic: \n  \n');
    openRun('more.run.yaml', more);
    const roles = labels(await complete('more.run.yaml', more, '  critic: \n  ', 13));
    assert.deepEqual(roles.sort(), ['feedback', 'preferenceModel'], 'policy and critic are present');
    const policy = items(await complete('more.run.yaml', more, '  critic: \n  ', 13)).find((i) => i.label === 'feedback')!;
    assert.equal(policy.textEdit && 'newText' in policy.textEdit ? policy.textEdit.newText : undefined, 'feedback: ${1|tiny,judge|}');
  });

  it('completes values: model names for roles, enums, booleans, presets and paths', async () => {
    assert.deepEqual(labels(await complete('good.run.yaml', GOOD, 'critic: ', 8)), ['tiny', 'judge']);
    const provider = labels(await complete('good.run.yaml', GOOD, 'provider: embedded', 10));
    assert.deepEqual(provider, ['embedded', 'openai', 'llama-cpp']);
    assert.deepEqual(labels(await complete('good.run.yaml', GOOD, 'ppo: false', 5)), ['true', 'false']);
    const model = labels(await complete('good.run.yaml', GOOD, 'model: tiny', 7));
    assert.ok(['nano', 'tiny', 'tiny-llama', 'small'].every((p) => model.includes(p)) && model.includes('models/'), String(model));
    const paths = items(await complete('good.run.yaml', GOOD, 'path: data/', 11));
    assert.deepEqual(paths.map((i) => i.label).sort(), ['helpful.jsonl', 'red-team.jsonl']);
    const edit = paths.find((i) => i.label === 'red-team.jsonl')!.textEdit as { newText: string; range: unknown };
    assert.equal(edit.newText, 'data/red-team.jsonl');
    assert.deepEqual(edit.range, range(14, 19, 24));
    const constitution = labels(await complete('good.run.yaml', GOOD, 'constitution: hh', 14));
    assert.deepEqual(constitution, ['data/', 'models/', 'hh.constitution.yaml']);
  });

  it('hovers keys with their doc, type and default, and role values with the model they name', async () => {
    const lr = await hover('good.run.yaml', GOOD, 'lr: 3.0e-4', 1);
    assert.match(lr?.value ?? '', /\*\*`stages\.sft\.lr`\*\* — a number \(> 0, ≤ 1\) · default `0\.0001`/);
    assert.match(lr?.value ?? '', /Learning rate of finetuning\./);
    const provider = await hover('good.run.yaml', GOOD, 'provider: openai');
    assert.match(provider?.value ?? '', /Allowed values: `embedded`, `openai`, `llama-cpp`/);
    const role = await hover('good.run.yaml', GOOD, 'policy: tiny', 9);
    assert.match(role?.value ?? '', /model `tiny`.*line 4/);
    assert.match(role?.value ?? '', /provider: embedded\nmodel: tiny/);
    assert.match(role?.value ?? '', /Built-in preset `tiny`/);
  });

  it('goes from a role to its model and from the constitution path to the file', async () => {
    const def = (await client.conn.sendRequest(DefinitionRequest.type, { textDocument: { uri: uriOf(file('good.run.yaml')) }, position: positionOf(GOOD, 'policy: tiny', 10) })) as Location[];
    assert.deepEqual(def, [{ uri: uriOf(file('good.run.yaml')), range: range(3, 2, 6) }]);
    const c = (await client.conn.sendRequest(DefinitionRequest.type, { textDocument: { uri: uriOf(file('good.run.yaml')) }, position: positionOf(GOOD, 'hh.constitution', 3) })) as Location[];
    assert.deepEqual(c, [{ uri: uriOf(file('hh.constitution.yaml')), range: range(0, 0, 0) }]);
  });

  it('finds and renames a model everywhere it is used', async () => {
    const uri = uriOf(file('good.run.yaml'));
    const refs = (await client.conn.sendRequest(ReferencesRequest.type, { textDocument: { uri }, position: positionOf(GOOD, '  tiny:', 3), context: { includeDeclaration: true } })) as Location[];
    assert.deepEqual(refs.map((r) => r.range), [range(3, 2, 6), range(11, 10, 14)]);
    const edit = (await client.conn.sendRequest(RenameRequest.type, { textDocument: { uri }, position: positionOf(GOOD, 'policy: tiny', 10), newName: 'small-one' })) as WorkspaceEdit;
    const renamed = applyEdits(GOOD, edit.changes?.[uri] ?? []);
    assert.ok(renamed.includes('  small-one:\n') && renamed.includes('policy: small-one'), renamed);
    const symbols = (await client.conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } })) as DocumentSymbol[];
    assert.deepEqual(symbols.map((s) => s.name), ['name', 'constitution', 'models', 'roles', 'datasets', 'stages']);
  });
});
