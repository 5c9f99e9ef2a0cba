/**
 * Editor assets of the `constitution` language: the TextMate grammars under media/, the language
 * configuration and the snippets.
 *
 * The grammars are tokenized with vscode-textmate + vscode-oniguruma (what VS Code itself runs)
 * together with VS Code's own YAML grammars, taken from the built-in `vscode.yaml` extension as
 * packaged by @codingame/monaco-vscode-yaml-default-extension (MIT). The constitution grammar is
 * only `include: source.yaml`; the placeholder grammar is an injection, so these tests check the
 * injection selector against the scopes that the real YAML grammar produces.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as vsctm from 'vscode-textmate';
import * as oniguruma from 'vscode-oniguruma';
import { parseDocument } from 'yaml';
import { analyzeFile } from '../../src/core/constitution/validate.js';
import { scanTemplate, TEMPLATES, TEMPLATE_NAMES } from '../../src/core/constitution/templates.js';

const ROOT = path.resolve(__dirname, '..', '..');
const MEDIA = path.join(ROOT, 'media');
const requireFromRoot = createRequire(path.join(ROOT, 'package.json'));

const CONSTITUTION_SCOPE = 'source.constitution';
const INJECTION_FILE = path.join(MEDIA, 'constitution-placeholders.tmLanguage.json');
const MAIN_FILE = path.join(MEDIA, 'constitution.tmLanguage.json');

const PLACEHOLDER = 'variable.other.placeholder.constitution';
const PH_BEGIN = 'punctuation.definition.placeholder.begin.constitution';
const PH_END = 'punctuation.definition.placeholder.end.constitution';
const ESCAPE = 'constant.character.escape.constitution';
const YAML_KEY = 'entity.name.tag.yaml';
const YAML_COMMENT = 'comment.line.number-sign.yaml';

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Grammar loading, the way VS Code does it: every grammar is known by scope name; injections are
// looked up by the scope they are injected into (`injectTo` in package.json).

interface YamlExtensionManifest {
  contributes: { grammars: { scopeName: string; path: string }[] };
}

/** scopeName -> file, for the YAML grammars of VS Code's built-in YAML extension. */
function vscodeYamlGrammars(): Map<string, string> {
  const manifestPath = requireFromRoot.resolve('@codingame/monaco-vscode-yaml-default-extension/resources/package.json');
  const resources = path.dirname(manifestPath);
  const manifest = readJson(manifestPath) as YamlExtensionManifest;
  const out = new Map<string, string>();
  for (const g of manifest.contributes.grammars) {
    // The package keeps the extension's files flat in resources/; the manifest says ./syntaxes/x.
    out.set(g.scopeName, path.join(resources, path.basename(g.path)));
  }
  return out;
}

interface RawGrammarOverride {
  injectionSelector?: string;
  patterns?: unknown;
  repository?: unknown;
}

interface RegistryOptions {
  /** Load the placeholder injection (default true). */
  injection?: boolean;
  /** Replace fields of the injection grammar (to prove that the tests notice a broken one). */
  injectionOverride?: RawGrammarOverride;
}

let onigLib: Promise<vsctm.IOnigLib> | undefined;
function getOnigLib(): Promise<vsctm.IOnigLib> {
  onigLib ??= (async () => {
    const wasm = readFileSync(requireFromRoot.resolve('vscode-oniguruma/release/onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
    return {
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    };
  })();
  return onigLib;
}

function makeRegistry(options: RegistryOptions = {}): vsctm.Registry {
  const files = vscodeYamlGrammars();
  files.set(CONSTITUTION_SCOPE, MAIN_FILE);
  const injection = readJson(INJECTION_FILE) as { scopeName: string } & RawGrammarOverride;
  const injectionScope = injection.scopeName;
  return new vsctm.Registry({
    onigLib: getOnigLib(),
    loadGrammar: async (scopeName) => {
      if (scopeName === injectionScope) {
        const raw = { ...injection, ...options.injectionOverride };
        return vsctm.parseRawGrammar(JSON.stringify(raw), INJECTION_FILE);
      }
      const file = files.get(scopeName);
      if (!file) return null;
      return vsctm.parseRawGrammar(readFileSync(file, 'utf8'), file);
    },
    getInjections: (scopeName) => (scopeName === CONSTITUTION_SCOPE && options.injection !== false ? [injectionScope] : undefined),
  });
}

interface Token {
  start: number;
  end: number;
  text: string;
  scopes: string[];
}

async function tokenize(text: string, options: RegistryOptions = {}, root = CONSTITUTION_SCOPE): Promise<Token[][]> {
  const grammar = await makeRegistry(options).loadGrammar(root);
  assert.ok(grammar, `grammar ${root} loads`);
  let state = vsctm.INITIAL;
  const out: Token[][] = [];
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, state);
    out.push(r.tokens.map((t) => ({ start: t.startIndex, end: t.endIndex, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes })));
    state = r.ruleStack;
  }
  return out;
}

/**
 * Column ranges [start, end) of a line whose tokens carry `scope`. Adjacent tokens are merged,
 * except that a token carrying `startScope` starts a new range (`true`: every token does).
 */
function rangesOf(tokens: Token[], scope: string, startScope?: string | true): [number, number][] {
  const out: [number, number][] = [];
  for (const t of tokens) {
    if (t.start === t.end || !t.scopes.includes(scope)) continue;
    const last = out[out.length - 1];
    const starts = startScope === true || (startScope !== undefined && t.scopes.includes(startScope));
    if (!starts && last && last[1] === t.start) last[1] = t.end;
    else out.push([t.start, t.end]);
  }
  return out;
}

/** Each placeholder of a line, `{` to `}`. */
const placeholdersOf = (tokens: Token[]) => rangesOf(tokens, PLACEHOLDER, PH_BEGIN);
/** Each `{{` or `}}` of a line. */
const escapesOf = (tokens: Token[]) => rangesOf(tokens, ESCAPE, true);

function scopesAt(tokens: Token[], col: number): string[] {
  const t = tokens.find((t) => t.start <= col && col < t.end);
  assert.ok(t, `a token covers column ${col}`);
  return t.scopes;
}

/**
 * What the grammar should mark in `line[from, to)`, per scanTemplate (the template scanner the
 * language server uses): placeholders with an identifier name, and the `{{` `}}` escapes.
 */
function expectedFromScanner(line: string, from: number, to: number) {
  const placeholders: [number, number][] = [];
  const escapes: [number, number][] = [];
  for (const p of scanTemplate(line.slice(from, to))) {
    if (p.kind === 'placeholder' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(p.name)) placeholders.push([from + p.span.start, from + p.span.end]);
    if (p.kind === 'escape') escapes.push([from + p.span.start, from + p.span.end]);
  }
  return { placeholders, escapes };
}

// ---------------------------------------------------------------------------------------------
// The sample. Each line the tests look at is found by its text, so lines can be added freely.

const SAMPLE = [
  '# A comment with {text} and {{braces}} in it',
  'format_version: 1',
  'name: Sample {name} constitution # trailing {comment}',
  'tags: {a: 1, b: two}',
  'conversation: [{human: hi}, {assistant: hello}]',
  'flow_lookalike: {conversation}',
  'a{b}: plain key with braces',
  '"q{k}": quoted key with braces',
  'templates:',
  '  human_turn: "Human: {text}"',
  "  assistant_turn: 'Assistant: {text} ''{{quoted}}'''",
  '  comparison_answer: ({answer}) plain {{x}} and }} and {{',
  '  critique: "{conversation}\\n\\nCritiqueRequest: {critique_request}\\n\\nCritique:"',
  '  revision: |-',
  '    {conversation}',
  '',
  '    RevisionRequest: {revision_request} {{literal}}',
  '    # not a comment: {revision}',
  '  cot_answer: >',
  '    {reasoning}',
  '    So the answer is: ({answer})',
  '  direct_revision: plain first line {conversation}',
  '    continued plain line {revision_request}',
  '  comparison: "{{{principle}}} stray { and {response_a} then {bad name}"',
  'principles:',
  '  - id: sample-1',
  '    critique: Quote {text} back. # comment {text}',
  '    tags: [x, "{tag}", {k: v}]',
].join('\n');

const LINES = SAMPLE.split('\n');
function lineIndex(startsWith: string): number {
  const i = LINES.findIndex((l) => l.startsWith(startsWith));
  assert.ok(i >= 0, `sample line starting with ${JSON.stringify(startsWith)}`);
  return i;
}

describe('constitution grammar (media/constitution.tmLanguage.json)', () => {
  it('is source.constitution and only includes source.yaml', () => {
    const g = readJson(MAIN_FILE) as { scopeName: string; patterns: unknown[] };
    assert.equal(g.scopeName, CONSTITUTION_SCOPE);
    assert.deepEqual(g.patterns, [{ include: 'source.yaml' }]);
  });

  it('without the injection, tokenizes exactly like VS Code YAML', async () => {
    const asYaml = await tokenize(SAMPLE, {}, 'source.yaml');
    const asConstitution = await tokenize(SAMPLE, { injection: false });
    const strip = (lines: Token[][]) => lines.map((ts) => ts.map((t) => ({ ...t, scopes: t.scopes.slice(1) })));
    assert.deepEqual(strip(asConstitution), strip(asYaml));
    for (const ts of asConstitution) for (const t of ts) assert.equal(t.scopes[0], CONSTITUTION_SCOPE);
  });

  it('keeps YAML key and comment scopes', async () => {
    const lines = await tokenize(SAMPLE);
    const keyCases: [string, string][] = [
      ['format_version:', 'format_version'],
      ['templates:', 'templates'],
      ['  human_turn:', 'human_turn'],
      ['  revision: |-', 'revision'],
      ['  - id:', 'id'],
      ['    critique: Quote', 'critique'],
      ['a{b}:', 'a{b}'],
    ];
    for (const [start, key] of keyCases) {
      const i = lineIndex(start);
      const col = LINES[i]!.indexOf(key);
      assert.deepEqual(rangesOf(lines[i]!, YAML_KEY), [[col, col + key.length]], `key ${key}`);
    }
    const quotedKey = lineIndex('"q{k}"');
    assert.deepEqual(rangesOf(lines[quotedKey]!, YAML_KEY), [[0, '"q{k}"'.length]]);

    const comment = lineIndex('# A comment');
    assert.deepEqual(rangesOf(lines[comment]!, YAML_COMMENT), [[0, LINES[comment]!.length]]);
    for (const start of ['name: Sample', '    critique: Quote']) {
      const i = lineIndex(start);
      const line = LINES[i]!;
      const hash = line.indexOf(' #') + 1;
      assert.deepEqual(rangesOf(lines[i]!, YAML_COMMENT), [[hash, line.length]], `trailing comment on ${start}`);
    }
  });
});

describe('placeholder injection (media/constitution-placeholders.tmLanguage.json)', () => {
  let lines: Token[][];
  before(async () => {
    lines = await tokenize(SAMPLE);
  });

  it('injects into source.constitution', () => {
    const g = readJson(INJECTION_FILE) as { scopeName: string; injectionSelector: string };
    assert.match(g.injectionSelector, /source\.constitution/);
    assert.notEqual(g.scopeName, CONSTITUTION_SCOPE);
  });

  it('marks a placeholder in a double-quoted value, braces included', () => {
    const i = lineIndex('  human_turn:');
    const tokens = lines[i]!;
    // '  human_turn: "Human: {text}"' -> {text} is columns 22..28
    assert.equal(LINES[i]!.slice(22, 28), '{text}');
    assert.deepEqual(rangesOf(tokens, PLACEHOLDER), [[22, 28]]);
    assert.deepEqual(rangesOf(tokens, PH_BEGIN), [[22, 23]]);
    assert.deepEqual(rangesOf(tokens, PH_END), [[27, 28]]);
    assert.ok(scopesAt(tokens, 24).includes('string.quoted.double.yaml'), 'still inside the YAML string');
    assert.deepEqual(rangesOf(tokens, ESCAPE), []);
  });

  it('marks placeholders and escapes in a single-quoted value', () => {
    const i = lineIndex('  assistant_turn:');
    const line = LINES[i]!;
    const tokens = lines[i]!;
    const at = line.indexOf('{text}');
    assert.deepEqual(rangesOf(tokens, PLACEHOLDER), [[at, at + 6]]);
    const open = line.indexOf('{{');
    const close = line.indexOf('}}');
    assert.deepEqual(escapesOf(tokens), [
      [open, open + 2],
      [close, close + 2],
    ]);
    // YAML's own '' escape is left alone.
    assert.ok(scopesAt(tokens, line.indexOf("''")).includes('constant.character.escape.single-quote.yaml'));
  });

  it('marks placeholders and escapes in a plain value', () => {
    const i = lineIndex('  comparison_answer:');
    const line = LINES[i]!;
    const tokens = lines[i]!;
    // '  comparison_answer: ({answer}) plain {{x}} and }} and {{'
    assert.deepEqual(rangesOf(tokens, PLACEHOLDER), [[22, 30]]);
    assert.deepEqual(rangesOf(tokens, PH_BEGIN), [[22, 23]]);
    assert.deepEqual(rangesOf(tokens, PH_END), [[29, 30]]);
    const escapes = [...line.matchAll(/\{\{|\}\}/g)].map((m): [number, number] => [m.index, m.index + 2]);
    assert.equal(escapes.length, 4);
    assert.deepEqual(escapesOf(tokens), escapes);
    assert.ok(scopesAt(tokens, 23).includes('string.unquoted.plain.out.yaml'));
  });

  it('marks placeholders on every line of a multi-line plain value', () => {
    for (const [start, name] of [
      ['  direct_revision:', '{conversation}'],
      ['    continued plain', '{revision_request}'],
    ] as const) {
      const i = lineIndex(start);
      const at = LINES[i]!.indexOf(name);
      assert.deepEqual(rangesOf(lines[i]!, PLACEHOLDER), [[at, at + name.length]], start);
    }
  });

  it('marks placeholders in literal and folded block scalars, on every content line', () => {
    const cases: [string, string[]][] = [
      ['    {conversation}', ['{conversation}']],
      ['    RevisionRequest:', ['{revision_request}']],
      ['    # not a comment', ['{revision}']],
      ['    {reasoning}', ['{reasoning}']],
      ['    So the answer', ['{answer}']],
    ];
    for (const [start, names] of cases) {
      const i = lineIndex(start);
      const line = LINES[i]!;
      const expected = names.map((n): [number, number] => [line.indexOf(n), line.indexOf(n) + n.length]);
      assert.deepEqual(placeholdersOf(lines[i]!), expected, start);
      assert.ok(scopesAt(lines[i]!, expected[0]![0]).includes('string.unquoted.block.yaml'), `${start} is a block scalar line`);
      assert.deepEqual(rangesOf(lines[i]!, YAML_COMMENT), [], `${start} has no comment`);
    }
    const literal = lineIndex('    RevisionRequest:');
    const at = LINES[literal]!.indexOf('{{literal}}');
    assert.deepEqual(escapesOf(lines[literal]!), [
      [at, at + 2],
      [at + 9, at + 11],
    ]);
  });

  it('agrees with scanTemplate on every template value line', () => {
    const valueLines: [string, number, number][] = [];
    const add = (start: string, from: (l: string) => number, to: (l: string) => number) => {
      const l = LINES[lineIndex(start)]!;
      valueLines.push([start, from(l), to(l)]);
    };
    const afterQuote = (l: string) => l.search(/["']/) + 1;
    const beforeQuote = (l: string) => l.length - 1;
    add('  human_turn:', afterQuote, beforeQuote);
    add('  critique:', afterQuote, beforeQuote);
    add('  comparison:', afterQuote, beforeQuote);
    add('  comparison_answer:', (l) => l.indexOf(': ') + 2, (l) => l.length);
    add('    {conversation}', () => 4, (l) => l.length);
    add('    RevisionRequest:', () => 4, (l) => l.length);
    add('    So the answer', () => 4, (l) => l.length);
    add('    continued plain', () => 4, (l) => l.length);
    for (const [start, from, to] of valueLines) {
      const i = lineIndex(start);
      const want = expectedFromScanner(LINES[i]!, from, to);
      assert.deepEqual(placeholdersOf(lines[i]!), want.placeholders, `placeholders on ${start}`);
      assert.deepEqual(escapesOf(lines[i]!), want.escapes, `escapes on ${start}`);
    }
    // The tricky line: "{{{principle}}} stray { and {response_a} then {bad name}"
    const tricky = LINES[lineIndex('  comparison:')]!;
    const p = tricky.indexOf('{principle}');
    assert.deepEqual(placeholdersOf(lines[lineIndex('  comparison:')]!), [
      [p, p + '{principle}'.length],
      [tricky.indexOf('{response_a}'), tricky.indexOf('{response_a}') + '{response_a}'.length],
    ]);
  });

  it('leaves flow mappings, flow sequences, keys and comments alone', async () => {
    const untouched = [
      '# A comment',
      'tags:',
      'conversation:',
      'flow_lookalike:',
      'a{b}:',
      '"q{k}"',
      'format_version:',
      'templates:',
    ];
    for (const start of untouched) {
      const i = lineIndex(start);
      assert.deepEqual(rangesOf(lines[i]!, PLACEHOLDER), [], `no placeholder on ${start}`);
      assert.deepEqual(rangesOf(lines[i]!, ESCAPE), [], `no escape on ${start}`);
    }
    const tags = lineIndex('tags:');
    assert.ok(scopesAt(lines[tags]!, 6).includes('punctuation.definition.mapping.begin.yaml'));
    assert.ok(scopesAt(lines[tags]!, LINES[tags]!.length - 1).includes('punctuation.definition.mapping.end.yaml'));
    const lookalike = lineIndex('flow_lookalike:');
    assert.ok(scopesAt(lines[lookalike]!, LINES[lookalike]!.indexOf('{')).includes('punctuation.definition.mapping.begin.yaml'));
    const conv = lineIndex('conversation:');
    assert.ok(scopesAt(lines[conv]!, LINES[conv]!.indexOf('{')).includes('punctuation.definition.mapping.begin.yaml'));

    // Trailing comments after values: the value's placeholder is marked, the comment's is not.
    for (const start of ['name: Sample', '    critique: Quote']) {
      const i = lineIndex(start);
      const line = LINES[i]!;
      const hash = line.indexOf(' #') + 1;
      const ranges = placeholdersOf(lines[i]!);
      assert.equal(ranges.length, 1, start);
      assert.ok(ranges[0]![1] <= hash, `${start}: placeholder before the comment`);
    }

    // A quoted string inside a flow sequence is a string; the flow mapping beside it is not.
    const flowTags = lineIndex('    tags: [x,');
    const line = LINES[flowTags]!;
    assert.deepEqual(rangesOf(lines[flowTags]!, PLACEHOLDER), [[line.indexOf('{tag}'), line.indexOf('{tag}') + 5]]);
    assert.ok(scopesAt(lines[flowTags]!, line.indexOf('{k')).includes('punctuation.definition.mapping.begin.yaml'));
  });

  it('is what produces the placeholder scopes (sanity check of the harness)', async () => {
    const without = await tokenize(SAMPLE, { injection: false });
    for (const ts of without) {
      assert.deepEqual(rangesOf(ts, PLACEHOLDER), []);
      assert.deepEqual(rangesOf(ts, ESCAPE), []);
    }
    // A selector that reaches outside strings is caught by the flow-mapping checks above.
    const broad = await tokenize(SAMPLE, { injectionOverride: { injectionSelector: 'L:source.constitution' } });
    const lookalike = lineIndex('flow_lookalike:');
    assert.notDeepEqual(rangesOf(broad[lookalike]!, PLACEHOLDER), [], 'a too-broad selector would mark {conversation} of a flow mapping');
  });
});

// ---------------------------------------------------------------------------------------------
// Snippets: a small parser for VS Code's snippet syntax, enough to expand our bodies the way the
// editor does (defaults, choices, variables with regex transforms, escapes).

type SnippetNode =
  | { kind: 'text'; value: string }
  | { kind: 'tabstop'; index: number; children: SnippetNode[] }
  | { kind: 'choice'; index: number; options: string[] }
  | { kind: 'variable'; name: string; children: SnippetNode[]; transform?: { regex: string; format: string; flags: string } };

function parseSnippet(src: string): SnippetNode[] {
  let pos = 0;
  const readUntil = (stops: string, escapable: string): string => {
    let out = '';
    while (pos < src.length && !stops.includes(src[pos]!)) {
      if (src[pos] === '\\' && pos + 1 < src.length && escapable.includes(src[pos + 1]!)) {
        out += src[pos + 1];
        pos += 2;
      } else out += src[pos++];
    }
    return out;
  };
  const expect = (c: string) => {
    assert.equal(src[pos], c, `snippet syntax: expected ${c} at ${pos} in ${JSON.stringify(src)}`);
    pos++;
  };
  const parseNodes = (insidePlaceholder: boolean): SnippetNode[] => {
    const nodes: SnippetNode[] = [];
    let text = '';
    const flush = () => {
      if (text) nodes.push({ kind: 'text', value: text });
      text = '';
    };
    while (pos < src.length) {
      const c = src[pos]!;
      if (c === '\\' && pos + 1 < src.length && '$}\\'.includes(src[pos + 1]!)) {
        text += src[pos + 1];
        pos += 2;
        continue;
      }
      if (insidePlaceholder && c === '}') break;
      if (c === '$') {
        const simple = /^\$(\d+|[A-Za-z_][A-Za-z0-9_]*)/.exec(src.slice(pos));
        if (simple) {
          flush();
          pos += simple[0].length;
          const id = simple[1]!;
          nodes.push(/^\d/.test(id) ? { kind: 'tabstop', index: Number(id), children: [] } : { kind: 'variable', name: id, children: [] });
          continue;
        }
        const complex = /^\$\{(\d+|[A-Za-z_][A-Za-z0-9_]*)/.exec(src.slice(pos));
        if (complex) {
          flush();
          pos += complex[0].length;
          const id = complex[1]!;
          const isTab = /^\d/.test(id);
          if (src[pos] === '}') {
            pos++;
            nodes.push(isTab ? { kind: 'tabstop', index: Number(id), children: [] } : { kind: 'variable', name: id, children: [] });
          } else if (src[pos] === ':') {
            pos++;
            const children = parseNodes(true);
            expect('}');
            nodes.push(isTab ? { kind: 'tabstop', index: Number(id), children } : { kind: 'variable', name: id, children });
          } else if (src[pos] === '|' && isTab) {
            pos++;
            const options: string[] = [];
            for (;;) {
              options.push(readUntil(',|', ',|\\'));
              if (src[pos] === ',') pos++;
              else break;
            }
            expect('|');
            expect('}');
            nodes.push({ kind: 'choice', index: Number(id), options });
          } else if (src[pos] === '/' && !isTab) {
            pos++;
            const regex = readUntil('/', '/');
            expect('/');
            const format = readUntil('/', '/');
            expect('/');
            const flags = readUntil('}', '');
            expect('}');
            nodes.push({ kind: 'variable', name: id, children: [], transform: { regex, format, flags } });
          } else assert.fail(`snippet syntax: unexpected ${JSON.stringify(src[pos])} at ${pos} in ${JSON.stringify(src)}`);
          continue;
        }
      }
      text += c;
      pos++;
    }
    flush();
    return nodes;
  };
  const nodes = parseNodes(false);
  assert.equal(pos, src.length, `snippet syntax: stray } at ${pos} in ${JSON.stringify(src)}`);
  return nodes;
}

const VARIABLES: Record<string, string> = {
  TM_FILENAME_BASE: 'harmless.constitution',
  TM_FILENAME: 'harmless.constitution.yaml',
};

function applyFormat(format: string, m: RegExpExecArray): string {
  return format.replace(/\$(\d+)|\$\{(\d+)\}/g, (_, a: string | undefined, b: string | undefined) => m[Number(a ?? b)] ?? '');
}

/** Expands a snippet body: each tab stop takes its default, each choice the option picked in `choices`. */
function expandSnippet(nodes: SnippetNode[], choices: Map<number, string> = new Map()): string {
  const render = (ns: SnippetNode[]): string =>
    ns
      .map((n) => {
        switch (n.kind) {
          case 'text':
            return n.value;
          case 'tabstop':
            return render(n.children);
          case 'choice':
            return choices.get(n.index) ?? n.options[0] ?? '';
          case 'variable': {
            const value = VARIABLES[n.name];
            assert.ok(value !== undefined || n.children.length, `variable ${n.name} is known to the test`);
            if (value === undefined) return render(n.children);
            if (!n.transform) return value;
            const re = new RegExp(n.transform.regex, n.transform.flags);
            const m = re.exec(value);
            return m ? value.slice(0, m.index) + applyFormat(n.transform.format, m) + value.slice(m.index + m[0].length) : value;
          }
        }
      })
      .join('');
  return render(nodes);
}

function walk(nodes: SnippetNode[], visit: (n: SnippetNode) => void): void {
  for (const n of nodes) {
    visit(n);
    if (n.kind === 'tabstop' || n.kind === 'variable') walk(n.children, visit);
  }
}

interface Snippet {
  prefix: string | string[];
  body: string | string[];
  description?: string;
  isFileTemplate?: boolean;
}

const SNIPPETS_FILE = path.join(ROOT, 'snippets', 'constitution.json');

/** How VS Code inserts a multi-line snippet on an indented line: later lines get the line's indentation. */
function insertAt(indent: string, text: string): string {
  return text
    .split('\n')
    .map((l, i) => (i === 0 ? indent + l : l === '' ? '' : indent + l))
    .join('\n');
}

/** Where each snippet goes in a constitution: the text before it and its indentation. */
const PLACEMENT: Record<string, { before: string; indent: string }> = {
  'New constitution': { before: '', indent: '' },
  Principle: { before: 'principles:\n', indent: '  ' },
  'Comparison principle': { before: 'comparisons:\n', indent: '  ' },
  'Critique/revision example': { before: 'examples:\n  critique_revision:\n', indent: '    ' },
  'Comparison example': { before: 'examples:\n  comparison:\n', indent: '    ' },
  'Chain-of-thought example': { before: 'examples:\n  cot_comparison:\n', indent: '    ' },
  Include: { before: '', indent: '' },
  Templates: { before: '', indent: '' },
};

/** Every expansion worth checking: defaults, then each option of each choice. */
function expansions(nodes: SnippetNode[]): string[] {
  const out = [expandSnippet(nodes)];
  walk(nodes, (n) => {
    if (n.kind === 'choice') for (const o of n.options) out.push(expandSnippet(nodes, new Map([[n.index, o]])));
  });
  return out;
}

describe('snippets (snippets/constitution.json)', () => {
  const snippets = readJson(SNIPPETS_FILE) as Record<string, Snippet>;
  const bodyOf = (s: Snippet) => (Array.isArray(s.body) ? s.body.join('\n') : s.body);

  it('is a JSON object of well-formed snippets', () => {
    assert.equal(typeof snippets, 'object');
    assert.deepEqual(Object.keys(snippets).sort(), Object.keys(PLACEMENT).sort());
    for (const [name, s] of Object.entries(snippets)) {
      const prefixes = Array.isArray(s.prefix) ? s.prefix : [s.prefix];
      assert.ok(prefixes.length > 0 && prefixes.every((p) => typeof p === 'string' && /^[\w-]+$/.test(p)), `${name}: prefixes`);
      assert.ok(typeof s.description === 'string' && s.description.length > 0, `${name}: description`);
      assert.ok(Array.isArray(s.body) && s.body.every((l) => typeof l === 'string'), `${name}: body is a list of lines`);
      assert.ok(!bodyOf(s).includes('\t'), `${name}: indents with spaces, as YAML needs`);
    }
  });

  it('numbers tab stops 1..n, each once, and has at least one', () => {
    for (const [name, s] of Object.entries(snippets)) {
      const seen: number[] = [];
      walk(parseSnippet(bodyOf(s)), (n) => {
        if ((n.kind === 'tabstop' || n.kind === 'choice') && n.index !== 0) seen.push(n.index);
      });
      assert.ok(seen.length > 0, `${name}: has tab stops`);
      const sorted = [...seen].sort((a, b) => a - b);
      assert.deepEqual(sorted, sorted.map((_, i) => i + 1), `${name}: tab stops ${seen.join(',')}`);
    }
  });

  it('expands to valid YAML, at the indentation where it is inserted', () => {
    for (const [name, s] of Object.entries(snippets)) {
      const place = PLACEMENT[name]!;
      for (const text of expansions(parseSnippet(bodyOf(s)))) {
        for (const doc of [text, place.before + insertAt(place.indent, text)]) {
          const parsed = parseDocument(doc, { prettyErrors: false });
          assert.deepEqual(
            [...parsed.errors, ...parsed.warnings].map((e) => e.message),
            [],
            `${name} expands to valid YAML:\n${doc}`,
          );
        }
      }
    }
  });

  it('expands to constitutions the validator accepts', () => {
    const expand = (name: string) => {
      const place = PLACEMENT[name]!;
      return insertAt(place.indent, expandSnippet(parseSnippet(bodyOf(snippets[name]!))));
    };
    const check = (label: string, doc: string) => {
      const fa = analyzeFile('/snippets/test.constitution.yaml', doc);
      const problems = fa.diagnostics.filter((d) => d.severity === 'error' || d.severity === 'warning');
      assert.deepEqual(
        problems.map((d) => `${d.code}: ${d.message} at ${JSON.stringify(doc.slice(d.span.start, d.span.end))}`),
        [],
        `${label}:\n${doc}`,
      );
    };
    const skeleton = expand('New constitution');
    check('New constitution', skeleton);
    assert.match(skeleton, /^name: harmless$/m, 'the name comes from the file name without .constitution');
    const parts = [
      'format_version: 1',
      'name: assembled',
      expand('Include'),
      expand('Templates'),
      'principles:',
      expand('Principle'),
      'comparisons:',
      expand('Comparison principle'),
      'examples:',
      '  critique_revision:',
      expand('Critique/revision example'),
      '  comparison:',
      expand('Comparison example'),
      '  cot_comparison:',
      expand('Chain-of-thought example'),
      '',
    ];
    check('all snippets together', parts.join('\n'));
  });

  it('sets every template to its built-in default in the templates snippet', () => {
    const text = expandSnippet(parseSnippet(bodyOf(snippets.Templates!)));
    const value = parseDocument(text).toJS() as { templates: Record<string, string> };
    const names = TEMPLATE_NAMES;
    assert.deepEqual(Object.keys(value.templates).sort(), [...names].sort());
    for (const name of names) assert.equal(value.templates[name], TEMPLATES[name].default, `template ${name}`);
  });

  it('highlights the placeholders of the templates snippet', async () => {
    const text = expandSnippet(parseSnippet(bodyOf(snippets.Templates!)));
    const tokenLines = await tokenize(text);
    const textLines = text.split('\n');
    let count = 0;
    textLines.forEach((line, i) => {
      const want = [...line.matchAll(/\{[a-z_]+\}/g)].map((m): [number, number] => [m.index, m.index + m[0].length]);
      count += want.length;
      assert.deepEqual(placeholdersOf(tokenLines[i]!), want, `line ${i}: ${line}`);
    });
    assert.ok(count >= 20, `found ${count} placeholders`);
  });
});

// ---------------------------------------------------------------------------------------------

interface LanguageConfiguration {
  comments: { lineComment: string };
  brackets: [string, string][];
  autoClosingPairs: { open: string; close: string; notIn?: string[] }[];
  surroundingPairs: [string, string][];
  wordPattern: string;
  indentationRules: { increaseIndentPattern: string; decreaseIndentPattern: string };
  onEnterRules: { beforeText: string; action: { indent: string; appendText?: string } }[];
}

describe('language configuration (media/language-configuration.json)', () => {
  const conf = readJson(path.join(MEDIA, 'language-configuration.json')) as LanguageConfiguration;

  it('has YAML comments and closes braces inside strings', () => {
    assert.equal(conf.comments.lineComment, '#');
    const brace = conf.autoClosingPairs.find((p) => p.open === '{');
    assert.ok(brace && brace.close === '}' && !brace.notIn?.includes('string'), 'typing { in a template closes it');
    for (const q of ['"', "'"]) assert.ok(conf.autoClosingPairs.some((p) => p.open === q && p.close === q), `auto-closes ${q}`);
    assert.ok(conf.brackets.some(([o, c]) => o === '{' && c === '}'));
  });

  it('finds ids with - . _ as one word', () => {
    const re = new RegExp(conf.wordPattern, 'g');
    const words = (s: string) => s.match(re) ?? [];
    assert.deepEqual(words('exclude: [harm-1.v2, no_harm]'), ['exclude', 'harm-1.v2', 'no_harm']);
    assert.deepEqual(words('see harm-1. Then {critique_request}'), ['see', 'harm-1', 'Then', 'critique_request']);
    assert.deepEqual(words('version: "1.2.0" # réponse'), ['version', '1.2.0', 'réponse']);
  });

  it('indents after `key:`, `- key:` and block scalar headers, not after `key: value`', () => {
    const increase = new RegExp(conf.indentationRules.increaseIndentPattern);
    for (const l of ['principles:', '  - id:', '  - conversation:  # turns', '    critique: |-', '  revision: >', 'tags: [', 'x: {', '  -'])
      assert.ok(increase.test(l), `indents after ${JSON.stringify(l)}`);
    for (const l of ['name: demo', '  - id: harm', '# principles:', '    critique: Explain', 'tags: [a]'])
      assert.ok(!increase.test(l), `does not indent after ${JSON.stringify(l)}`);
    const decrease = new RegExp(conf.indentationRules.decreaseIndentPattern);
    assert.ok(decrease.test('  ]') && decrease.test('  },') && !decrease.test('  a: }'));
  });

  it('continues a list item at its key on Enter', () => {
    const actionFor = (before: string) => conf.onEnterRules.find((r) => new RegExp(r.beforeText).test(before))?.action;
    assert.deepEqual(actionFor('  - id: harm'), { indent: 'none', appendText: '  ' });
    assert.deepEqual(actionFor('  - conversation:'), { indent: 'indent', appendText: '  ' });
    assert.deepEqual(actionFor('  critique: >-'), { indent: 'indent' });
    assert.deepEqual(actionFor('templates:'), { indent: 'indent' });
    assert.equal(actionFor('  name: demo'), undefined);
    assert.equal(actionFor('  - plain item'), undefined);
    assert.equal(actionFor('# note:'), undefined);
  });
});

// ---------------------------------------------------------------------------------------------

interface Contributes {
  languages?: { id: string; extensions?: string[]; configuration?: string }[];
  grammars?: { language?: string; scopeName: string; path: string; injectTo?: string[] }[];
  snippets?: { language: string; path: string }[];
}

describe('package.json contributes', () => {
  const contributes = ((readJson(path.join(ROOT, 'package.json')) as { contributes?: Contributes }).contributes ?? {}) as Contributes;
  const wired = contributes.languages?.some((l) => l.id === 'constitution');

  it('wires the language, both grammars and the snippets to these files', { skip: wired ? false : 'no constitution language contributed yet' }, () => {
    const resolve = (p: string) => path.resolve(ROOT, p);
    const lang = contributes.languages!.find((l) => l.id === 'constitution')!;
    assert.deepEqual([...(lang.extensions ?? [])].sort(), ['.constitution.yaml', '.constitution.yml']);
    assert.equal(resolve(lang.configuration ?? ''), path.join(MEDIA, 'language-configuration.json'));
    const main = contributes.grammars?.find((g) => g.language === 'constitution');
    assert.ok(main, 'a grammar for the constitution language');
    assert.equal(main.scopeName, CONSTITUTION_SCOPE);
    assert.equal(resolve(main.path), MAIN_FILE);
    const injectionScope = (readJson(INJECTION_FILE) as { scopeName: string }).scopeName;
    const inj = contributes.grammars?.find((g) => g.scopeName === injectionScope);
    assert.ok(inj, 'the placeholder injection grammar');
    assert.equal(resolve(inj.path), INJECTION_FILE);
    assert.deepEqual(inj.injectTo, [CONSTITUTION_SCOPE]);
    const snip = contributes.snippets?.find((s) => s.language === 'constitution');
    assert.ok(snip, 'snippets for the constitution language');
    assert.equal(resolve(snip.path), SNIPPETS_FILE);
  });
});
