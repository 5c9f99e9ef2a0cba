import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CodeActionRequest,
  DidChangeConfigurationNotification,
  CompletionRequest,
  DefinitionRequest,
  DocumentFormattingRequest,
  DocumentLinkRequest,
  DocumentSymbolRequest,
  FoldingRangeRequest,
  HoverRequest,
  PrepareRenameRequest,
  ReferencesRequest,
  RenameRequest,
  SemanticTokensRequest,
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
import { PreviewPromptsRequest } from '../../src/protocol/lsp.js';
import { applyEdits, CLI, LspClient, positionOf, REPO, uriOf } from './harness.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'lsp');

describe('constitution language server over stdio', () => {
  let dir: string;
  let client: LspClient;
  const file = (name: string) => path.join(dir, name);
  const text = (name: string) => fs.readFileSync(file(name), 'utf8');
  const open = (name: string) => client.open(file(name), text(name));
  const labels = (r: CompletionItem[] | CompletionList | null) => (Array.isArray(r) ? r : (r?.items ?? [])).map((i) => i.label);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-lsp-'));
    for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
    client = new LspClient();
    const init = await client.initialize(dir);
    assert.ok(init.capabilities.completionProvider);
    assert.ok(init.capabilities.renameProvider);
  });

  after(async () => {
    await client.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publishes the same diagnostics as `cai validate --json`', async () => {
    open('broken.constitution.yaml');
    const lsp = await client.diagnosticsFor(file('broken.constitution.yaml'), (d) => d.length > 0);
    let cliOut = '';
    try {
      execFileSync(process.execPath, [CLI, 'validate', '--json', file('broken.constitution.yaml')], { cwd: dir, encoding: 'utf8' });
      assert.fail('validate should exit 1 on errors');
    } catch (e) {
      const err = e as { status: number; stdout: string };
      assert.equal(err.status, 1);
      cliOut = err.stdout;
    }
    const cli = JSON.parse(cliOut) as { range: Diagnostic['range']; severity: string; code: string; message: string }[];
    const sev = ['', 'error', 'warning', 'information', 'hint'];
    const norm = (xs: { range: Diagnostic['range']; severity: string; code: string; message: string }[]) =>
      xs.map((d) => JSON.stringify([d.range, d.severity, d.code, d.message])).sort();
    assert.deepEqual(
      norm(lsp.map((d) => ({ range: d.range, severity: sev[d.severity ?? 1] as string, code: String(d.code), message: String(d.message) }))),
      norm(cli),
    );
    const codes = lsp.map((d) => d.code).sort();
    assert.deepEqual(codes, ['duplicate-id', 'missing-field', 'missing-placeholder', 'unknown-key', 'unknown-placeholder', 'unknown-reference'].sort());
    const unknownKey = lsp.find((d) => d.code === 'unknown-key') as Diagnostic;
    assert.deepEqual(unknownKey.range, { start: positionOf(text('broken.constitution.yaml'), 'revison'), end: positionOf(text('broken.constitution.yaml'), 'revison', 7) });
  });

  it('offers quick fixes that repair each problem', async () => {
    const name = 'broken.constitution.yaml';
    const diags = await client.diagnosticsFor(file(name), (d) => d.length > 0);
    let current = text(name);
    const fixFor = async (code: string, title: RegExp) => {
      const d = (client.diagnostics.get(uriOf(file(name)))?.diagnostics ?? diags).find((x) => x.code === code);
      assert.ok(d, `a ${code} diagnostic`);
      const actions = (await client.conn.sendRequest(CodeActionRequest.type, {
        textDocument: { uri: uriOf(file(name)) },
        range: d.range,
        context: { diagnostics: [d] },
      })) as CodeAction[];
      const action = actions.find((a) => title.test(a.title));
      assert.ok(action, `an action matching ${title} among ${actions.map((a) => a.title).join(' | ')}`);
      const edits = action.edit?.changes?.[uriOf(file(name))] ?? [];
      current = applyEdits(current, edits);
      client.change(file(name), current);
      await client.diagnosticsFor(file(name), (ds) => !ds.some((x) => x.code === code && x.range.start.line === d.range.start.line));
    };
    await fixFor('unknown-key', /Change to 'revision'/);
    await fixFor('unknown-placeholder', /\{response_a\}/);
    await fixFor('unknown-reference', /Change to 'harmful'/);
    await fixFor('duplicate-id', /Rename to 'kind-2'/);
    const left = await client.diagnosticsFor(file(name), (ds) => ds.every((x) => x.code !== 'duplicate-id'));
    assert.deepEqual(left.map((d) => d.code), [], `all fixed; left: ${JSON.stringify(left)}\n${current}`);
  });

  it('inserts a missing critique/revision skeleton', async () => {
    const name = 'skeleton.constitution.yaml';
    const src = 'name: s\nprinciples:\n  - id: only-critique\n    critique: Say what is wrong.\n';
    fs.writeFileSync(file(name), src);
    client.open(file(name), src);
    const [d] = await client.diagnosticsFor(file(name), (ds) => ds.some((x) => x.code === 'missing-field'));
    assert.equal(d?.code, 'missing-field');
    const actions = (await client.conn.sendRequest(CodeActionRequest.type, { textDocument: { uri: uriOf(file(name)) }, range: d!.range, context: { diagnostics: [d!] } })) as CodeAction[];
    const add = actions.find((a) => a.title === 'Add `revision`');
    assert.ok(add);
    const fixed = applyEdits(src, add.edit!.changes![uriOf(file(name))]!);
    assert.equal(fixed, 'name: s\nprinciples:\n  - id: only-critique\n    critique: Say what is wrong.\n    revision: ""\n');
    client.change(file(name), fixed);
    const after = await client.diagnosticsFor(file(name), (ds) => !ds.some((x) => x.code === 'missing-field'));
    assert.deepEqual(after.map((x) => x.code), ['empty-text'], 'the skeleton points at the text still to write');
  });

  it('completes keys, principle ids, placeholders and tags', async () => {
    const name = 'complete.constitution.yaml';
    const src = [
      'name: c',
      'include: [base.constitution.yaml]',
      'templates:',
      '  revision: "{conversation} {cri"',
      'principles:',
      '  - id: p1',
      '    critique: Say what is wrong.',
      '    ',
      '    tags: [',
      'examples:',
      '  critique_revision:',
      '    - principle: ',
      '',
    ].join('\n');
    fs.writeFileSync(file(name), src);
    client.open(file(name), src);
    await client.diagnosticsFor(file(name));
    const at = (line: number, character: number) => client.conn.sendRequest(CompletionRequest.type, { textDocument: { uri: uriOf(file(name)) }, position: { line, character } });
    const keys = labels(await at(7, 4));
    assert.ok(keys.includes('revision') && keys.includes('weight') && keys.includes('notes'), keys.join());
    assert.ok(!keys.includes('id') && !keys.includes('critique'), 'keys already present are not offered');
    const ids = labels(await at(11, 17));
    assert.deepEqual(ids.sort(), ['harmful', 'legal', 'p1'], 'principle ids from this file and the included one');
    const ph = labels(await at(3, 32));
    assert.deepEqual(ph, ['{conversation}', '{critique_request}', '{critique}', '{revision_request}']);
    const tags = labels(await at(8, 11));
    assert.ok(tags.includes('harm') && tags.includes('safety') && tags.includes('law'), tags.join());
    const top = labels(await at(12, 0));
    assert.ok(top.includes('comparisons') && top.includes('options') && !top.includes('principles'), top.join());
  });

  it('hovers a principle with its texts and where it is used', async () => {
    open('main.constitution.yaml');
    await client.diagnosticsFor(file('main.constitution.yaml'));
    const src = text('main.constitution.yaml');
    const h = (await client.conn.sendRequest(HoverRequest.type, {
      textDocument: { uri: uriOf(file('main.constitution.yaml')) },
      position: positionOf(src, 'principle: harmful', 12),
    })) as Hover;
    const md = (h.contents as MarkupContent).value;
    assert.match(md, /\*\*principle\*\* `harmful`/);
    assert.match(md, /Point out every way/);
    assert.match(md, /Used by 1 example/);
    const k = (await client.conn.sendRequest(HoverRequest.type, { textDocument: { uri: uriOf(file('main.constitution.yaml')) }, position: positionOf(src, 'templates:', 2) })) as Hover;
    assert.match((k.contents as MarkupContent).value, /Prompt templates/);
  });

  it('goes to definitions and finds references across included files', async () => {
    open('main.constitution.yaml');
    const src = text('main.constitution.yaml');
    const uri = uriOf(file('main.constitution.yaml'));
    const defs = (await client.conn.sendRequest(DefinitionRequest.type, { textDocument: { uri }, position: positionOf(src, 'principle: harmful', 12) })) as Location[];
    assert.equal(defs.length, 1, JSON.stringify(defs));
    assert.equal(defs[0]?.uri, uriOf(file('base.constitution.yaml')));
    assert.deepEqual(defs[0]?.range.start, positionOf(text('base.constitution.yaml'), 'harmful'));
    const refs = (await client.conn.sendRequest(ReferencesRequest.type, {
      textDocument: { uri: uriOf(file('base.constitution.yaml')) },
      position: positionOf(text('base.constitution.yaml'), 'harmful', 1),
      context: { includeDeclaration: true },
    })) as Location[];
    const where = refs.map((r) => `${path.basename(new URL(r.uri).pathname)}:${r.range.start.line}`).sort();
    assert.ok(where.includes(`base.constitution.yaml:${positionOf(text('base.constitution.yaml'), 'harmful').line}`));
    assert.ok(where.includes(`main.constitution.yaml:${positionOf(src, 'principle: harmful').line}`), where.join());
    const link = (await client.conn.sendRequest(DocumentLinkRequest.type, { textDocument: { uri } })) as { target?: string }[];
    assert.equal(link[0]?.target, uriOf(file('base.constitution.yaml')));
  });

  it('renames an id everywhere and refuses one that exists', async () => {
    open('main.constitution.yaml');
    const src = text('main.constitution.yaml');
    const uri = uriOf(file('main.constitution.yaml'));
    const pos = positionOf(src, 'principle: harmful', 12);
    const prep = (await client.conn.sendRequest(PrepareRenameRequest.type, { textDocument: { uri }, position: pos })) as { placeholder: string };
    assert.equal(prep.placeholder, 'harmful');
    const edit = (await client.conn.sendRequest(RenameRequest.type, { textDocument: { uri }, position: pos, newName: 'harm' })) as WorkspaceEdit;
    const files = Object.keys(edit.changes ?? {}).map((u) => path.basename(new URL(u).pathname)).sort();
    // broken.constitution.yaml includes the base too, and its open text refers to 'harmful' since the quick-fix test
    assert.deepEqual(files, ['base.constitution.yaml', 'broken.constitution.yaml', 'main.constitution.yaml']);
    const renamedBase = applyEdits(text('base.constitution.yaml'), edit.changes![uriOf(file('base.constitution.yaml'))]!);
    assert.match(renamedBase, /- id: harm\n/);
    await assert.rejects(client.conn.sendRequest(RenameRequest.type, { textDocument: { uri }, position: pos, newName: 'legal' }), /already exists/);
    await assert.rejects(client.conn.sendRequest(RenameRequest.type, { textDocument: { uri }, position: pos, newName: 'two words' }), /not a valid id/);
  });

  it('lists an outline, folding ranges and placeholder tokens', async () => {
    open('main.constitution.yaml');
    const uri = uriOf(file('main.constitution.yaml'));
    const src = text('main.constitution.yaml');
    const symbols = (await client.conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } })) as DocumentSymbol[];
    assert.deepEqual(symbols.map((s) => s.name), ['name', 'include', 'templates', 'principles', 'examples']);
    assert.deepEqual(symbols.find((s) => s.name === 'principles')?.children?.map((c) => c.name), ['kind']);
    assert.deepEqual(symbols.find((s) => s.name === 'examples')?.children?.map((c) => c.name), ['critique_revision', 'comparison']);
    const folds = (await client.conn.sendRequest(FoldingRangeRequest.type, { textDocument: { uri } })) as { startLine: number; endLine: number }[];
    const principlesLine = positionOf(src, 'principles:').line;
    assert.ok(folds.some((f) => f.startLine === principlesLine && f.endLine === positionOf(src, 'tags: [tone]').line), JSON.stringify(folds));
    const tokens = (await client.conn.sendRequest(SemanticTokensRequest.type, { textDocument: { uri } })) as { data: number[] };
    // two placeholders on the critique template line: {conversation} and {critique_request}
    const line = positionOf(src, '{conversation}').line;
    const decoded: [number, number, number][] = [];
    let l = 0;
    let c = 0;
    for (let i = 0; i < tokens.data.length; i += 5) {
      const [dl, dc, len] = tokens.data.slice(i, i + 3) as [number, number, number];
      l += dl;
      c = dl === 0 ? c + dc : dc;
      decoded.push([l, c, len]);
    }
    assert.deepEqual(decoded, [
      [line, positionOf(src, '{conversation}').character, '{conversation}'.length],
      [line, positionOf(src, '{critique_request}').character, '{critique_request}'.length],
    ]);
  });

  it('formats a document and keeps its comments', async () => {
    const name = 'messy.constitution.yaml';
    const src = '# keep me\nname:   messy   # and me\nprinciples:\n    -   id: a\n        critique: Say what is wrong.   # trailing\n        revision: Fix it.\n';
    fs.writeFileSync(file(name), src);
    client.open(file(name), src);
    const edits = await client.conn.sendRequest(DocumentFormattingRequest.type, { textDocument: { uri: uriOf(file(name)) }, options: { tabSize: 2, insertSpaces: true } });
    const out = applyEdits(src, edits ?? []);
    assert.equal(out, '# keep me\nname: messy # and me\nprinciples:\n  - id: a\n    critique: Say what is wrong. # trailing\n    revision: Fix it.\n');
  });

  it('answers the prompt preview request with the exact prompts', async () => {
    const r = await client.conn.sendRequest(PreviewPromptsRequest, { uri: uriOf(file('main.constitution.yaml')), principle: 'legal', comparison: 'less-harmful' });
    assert.ok(r);
    assert.deepEqual(r.principles.map((p) => p.id), ['harmful', 'legal', 'kind']);
    assert.equal(r.selected.principle, 'legal');
    const critique = r.preview.principle?.critique.text ?? '';
    assert.ok(critique.endsWith('CritiqueRequest: Say whether the answer helps with anything against the law.\n\nCritique:'), critique.slice(-200));
    assert.ok(critique.includes("Revision: I can't help open a shed"), 'few-shot example included');
    const cmp = r.preview.comparison?.prompt.text ?? '';
    assert.ok(cmp.includes('Which answer is less likely to hurt anyone?'));
    assert.ok(cmp.includes('The answer is: (B)'), 'few-shot comparison example with its answer');
    assert.deepEqual(r.preview.comparison?.continuations, { A: ' (A)', B: ' (B)' });
  });

  it('follows the near-duplicate setting', async () => {
    const name = 'similar.constitution.yaml';
    const p = (id: string, who: string) => `  - id: ${id}\n    critique: Identify every way the reply is harmful, unethical or dangerous to ${who}.\n    revision: Rewrite it to remove harmful, unethical or dangerous content.\n`;
    const src = `name: similar\nprinciples:\n${p('a', 'anyone')}${p('b', 'anybody')}`;
    fs.writeFileSync(file(name), src);
    client.open(file(name), src);
    await client.diagnosticsFor(file(name), (d) => d.some((x) => x.code === 'near-duplicate'));
    client.settings = { validation: { nearDuplicateThreshold: 0 } };
    await client.conn.sendNotification(DidChangeConfigurationNotification.type, { settings: { constitution: client.settings } });
    await client.diagnosticsFor(file(name), (d) => d.length === 0);
    client.settings = { validation: { nearDuplicateThreshold: 0.7 } };
    await client.conn.sendNotification(DidChangeConfigurationNotification.type, { settings: { constitution: client.settings } });
    await client.diagnosticsFor(file(name), (d) => d.some((x) => x.code === 'near-duplicate'));
  });

  it('revalidates a file when a file it includes changes', async () => {
    open('main.constitution.yaml');
    await client.diagnosticsFor(file('main.constitution.yaml'), (d) => d.length === 0);
    const base = text('base.constitution.yaml');
    client.open(file('base.constitution.yaml'), base);
    client.change(file('base.constitution.yaml'), base.replace('- id: harmful', '- id: harmless'));
    const d = await client.diagnosticsFor(file('main.constitution.yaml'), (ds) => ds.some((x) => x.code === 'unknown-reference'));
    assert.match(String(d.find((x) => x.code === 'unknown-reference')?.message ?? ''), /Unknown principle 'harmful'/);
    client.change(file('base.constitution.yaml'), base);
    await client.diagnosticsFor(file('main.constitution.yaml'), (ds) => ds.length === 0);
  });
});
