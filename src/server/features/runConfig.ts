// Language features of run files (`*.run.yaml`): diagnostics (parseRunConfig's, plus paths that do
// not exist), completion, hover, go-to-definition, references and rename of model names, links,
// outline and folding. Everything comes from RUN_CONFIG_FIELDS (src/core/runs/config.ts) and the
// located YAML tree; the file system is reached through RunFiles (runConfigFiles.ts).

import {
  CompletionItemKind,
  InsertTextFormat,
  SymbolKind,
  type CompletionItem,
  type Diagnostic as LspDiagnostic,
  type DocumentLink,
  type DocumentSymbol,
  type FoldingRange,
  type Hover,
  type Location,
  type Range,
  type TextEdit,
} from 'vscode-languageserver';
import { parseYaml, type LEntry, type LMap, type LNode } from '../../core/constitution/ast.js';
import { DiagnosticCodes, type Diagnostic, type Severity } from '../../core/constitution/diagnostics.js';
import { CONSTITUTION_FILE } from '../../core/constitution/fileNames.js';
import { didYouMean, suggest } from '../../core/constitution/suggest.js';
import { PRESETS } from '../../core/model/config.js';
import { parseRunConfig, RUN_CONFIG_FIELDS, RUN_NAME_PATTERN, specTypeName, type RunFieldSpec, type RunNumberSpec, type RunObjectSpec } from '../../core/runs/config.js';
import { runCompletionContext, runEntryAt, type RunCompletionContext, runMapAt, runModelNames, runNodeAt, runSpecAt, SCHEDULE_FIELDS } from '../../core/runs/fieldAt.js';
import { TextIndex, type Span } from '../../core/text.js';
import { toLspDiagnostic } from '../convert.js';
import { pathToUri } from '../files.js';
import type { RunFiles } from './runConfigFiles.js';

/** The language id of run files (package.json `contributes.languages`). */
export const RUN_LANGUAGE_ID = 'constitution-run';

export const RUN_FILE = /\.run\.ya?ml$/i;

export function isRunConfigFile(pathOrUri: string): boolean {
  return RUN_FILE.test(pathOrUri);
}

/** One parse of a run file's text: the tree and its line index. */
export interface RunDoc {
  file: string;
  text: string;
  root: LNode | undefined;
  index: TextIndex;
}

export function runDoc(file: string, text: string): RunDoc {
  return { file, text, root: parseYaml(text).root, index: new TextIndex(text) };
}

const ROLE_KEYS = ['policy', 'critic', 'feedback', 'preferenceModel'] as const;

// ---------------------------------------------------------------------------------------------
// Paths written in the file.

type PathWant = 'file' | 'dir' | 'file-or-dir';

interface PathRef {
  /** Field path, e.g. `datasets.redTeam.path`. */
  field: string;
  value: string;
  span: Span;
  want: PathWant;
  severity: Severity;
  /** Names worth offering as a fix in the same folder. */
  accept?: RegExp;
}

const DATA_FILE = /\.(jsonl|json|gz)$/i;

function scalarString(node: LNode | undefined): { value: string; span: Span } | undefined {
  return node?.kind === 'scalar' && typeof node.value === 'string' && node.value.trim() !== '' ? { value: node.value, span: node.span } : undefined;
}

function looksLikePath(model: string): boolean {
  return /[\\/]/.test(model) || model.startsWith('.');
}

/** The paths of the file that name something on disk (`out` is made by the run, so not checked). */
function pathRefs(root: LNode | undefined): PathRef[] {
  const out: PathRef[] = [];
  const c = scalarString(runEntryAt(root, ['constitution'])?.value);
  if (c) out.push({ field: 'constitution', ...c, want: 'file', severity: 'error', accept: CONSTITUTION_FILE });
  const datasets = runMapAt(root, ['datasets']);
  const slots = (RUN_CONFIG_FIELDS.fields.datasets as RunObjectSpec).fields;
  for (const e of datasets?.entries ?? []) {
    if (!slots[e.key]) continue;
    const p = scalarString(runEntryAt(e.value, ['path'])?.value);
    if (p) out.push({ field: `datasets.${e.key}.path`, ...p, want: 'file', severity: 'error', accept: DATA_FILE });
  }
  for (const e of runMapAt(root, ['models'])?.entries ?? []) {
    const provider = runEntryAt(e.value, ['provider'])?.value;
    const kind = provider?.kind === 'scalar' ? provider.value : undefined;
    const m = scalarString(runEntryAt(e.value, ['model'])?.value);
    if (!m) continue;
    if (kind === 'llama-cpp' && /\.gguf$/i.test(m.value)) out.push({ field: `models.${e.key}.model`, ...m, want: 'file', severity: 'error', accept: /\.gguf$/i });
    // a name that is neither a preset nor written as a path already has parseRunConfig's warning
    if (kind === 'embedded' && !PRESETS[m.value] && looksLikePath(m.value)) out.push({ field: `models.${e.key}.model`, ...m, want: 'dir', severity: 'error' });
  }
  const hhh = scalarString(runEntryAt(root, ['stages', 'eval', 'hhh'])?.value);
  if (hhh) out.push({ field: 'stages.eval.hhh', ...hhh, want: 'file', severity: 'warning', accept: DATA_FILE });
  return out;
}

/** parseRunConfig's diagnostics, then one for each path that names nothing on disk. */
export function runConfigDiagnostics(doc: RunDoc, files: RunFiles): Diagnostic[] {
  const { diagnostics } = parseRunConfig(doc.text, doc.file);
  const out = [...diagnostics];
  const taken = new Set(diagnostics.map((d) => JSON.stringify(d.range)));
  for (const ref of pathRefs(doc.root)) {
    const target = files.resolve(doc.file, ref.value);
    if (!target) continue;
    const range = doc.index.range(ref.span);
    if (taken.has(JSON.stringify(range))) continue;
    const found = files.stat(target);
    let message: string | undefined;
    if (!found) {
      const what = ref.want === 'dir' ? 'model folder' : 'file';
      message = `\`${ref.field}\`: no such ${what} '${ref.value}' (looked for ${target}).`;
    } else if (ref.want === 'file' && found === 'dir') message = `\`${ref.field}\`: '${ref.value}' is a folder; a file is needed here.`;
    else if (ref.want === 'dir' && found === 'file') message = `\`${ref.field}\`: '${ref.value}' is a file; an embedded model is a folder (config.json, tokenizer, safetensors).`;
    if (!message) continue;
    const d: Diagnostic = { file: doc.file, range, severity: ref.severity, code: DiagnosticCodes.invalidValue, message };
    if (!found) {
      const slash = Math.max(ref.value.lastIndexOf('/'), ref.value.lastIndexOf('\\'));
      const dirPart = ref.value.slice(0, slash + 1);
      const dir = files.resolve(doc.file, dirPart || '.');
      const names = dir
        ? files
            .list(dir)
            .filter((e) => (ref.want === 'dir' ? e.dir : !e.dir && (!ref.accept || ref.accept.test(e.name))))
            .map((e) => e.name)
        : [];
      const s = suggest(ref.value.slice(slash + 1), names);
      d.message += didYouMean(s.map((n) => dirPart + n));
      if (s.length) d.fixes = s.map((n, i) => ({ title: `Change to '${dirPart + n}'`, edits: [{ range, newText: dirPart + n }], ...(i === 0 && s.length === 1 ? { preferred: true } : {}) }));
    }
    out.push(d);
  }
  return out;
}

export function runLspDiagnostics(doc: RunDoc, files: RunFiles): LspDiagnostic[] {
  return runConfigDiagnostics(doc, files).map(toLspDiagnostic);
}

// ---------------------------------------------------------------------------------------------
// Describing fields.

function bounds(spec: RunNumberSpec): string {
  const parts: string[] = [];
  if (spec.exclusiveMinimum !== undefined) parts.push(`> ${spec.exclusiveMinimum}`);
  if (spec.minimum !== undefined) parts.push(`≥ ${spec.minimum}`);
  if (spec.maximum !== undefined) parts.push(`≤ ${spec.maximum}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function typeLine(spec: RunFieldSpec): string {
  return specTypeName(spec) + (spec.type === 'number' ? bounds(spec) : '');
}

function defaultOf(spec: RunFieldSpec): unknown {
  return 'default' in spec ? spec.default : undefined;
}

/** Markdown: type, required/default, the doc and the allowed values of a field. */
export function fieldMarkdown(path: string, spec: RunFieldSpec): string {
  const d = defaultOf(spec);
  const head = `**\`${path}\`** — ${typeLine(spec)}${spec.required ? ' · required' : ''}${d !== undefined ? ` · default \`${JSON.stringify(d)}\`` : ''}`;
  const parts = [head, spec.doc];
  if (spec.type === 'string' && spec.enum) parts.push(`Allowed values: ${spec.enum.map((v) => `\`${v}\``).join(', ')}.`);
  if (spec.type === 'string' && spec.role === 'model-ref') parts.push('The name of an entry of `models`.');
  if (spec.type === 'schedule') parts.push('Schedule kinds: `constant`, `linear-warmup`, `cosine`.');
  if (spec.type === 'object' && spec.toggle) parts.push('Write `false` to skip the stage, `true` or `{}` to run it with its defaults.');
  return parts.join('\n\n');
}

/** Markdown for a `models` entry: its provider, model and settings, and the roles that use it. */
function modelMarkdown(doc: RunDoc, name: string): string | undefined {
  const entry = runEntryAt(doc.root, ['models', name]);
  if (!entry) return undefined;
  const line = doc.index.positionAt(entry.keySpan.start).line + 1;
  const parts = [`**model \`${name}\`** (\`models.${name}\`, line ${line})`];
  const body = entry.value ? doc.text.slice(entry.value.span.start, entry.value.span.end).trimEnd() : '';
  if (body) parts.push(`\`\`\`yaml\n${dedent(body)}\n\`\`\``);
  const model = runEntryAt(entry.value, ['model'])?.value;
  const provider = runEntryAt(entry.value, ['provider'])?.value;
  if (provider?.kind === 'scalar' && provider.value === 'embedded' && model?.kind === 'scalar' && typeof model.value === 'string' && PRESETS[model.value]) {
    parts.push(`Built-in preset \`${model.value}\`: ${PRESETS[model.value]?.description}`);
  }
  const uses = modelUses(doc, name).map((u) => `\`${u.field}\``);
  if (uses.length) parts.push(`Used by ${uses.join(', ')}.`);
  return parts.join('\n\n');
}

function dedent(s: string): string {
  const lines = s.split(/\r?\n/);
  const rest = lines.slice(1).filter((l) => l.trim() !== '');
  const cut = rest.length ? Math.min(...rest.map((l) => l.length - l.trimStart().length)) : 0;
  return [lines[0], ...lines.slice(1).map((l) => l.slice(cut))].join('\n');
}

/** Where a model name is used: role values and `stages.eval.judge` (roles left out default to `policy`). */
function modelUses(doc: RunDoc, name: string): { field: string; span: Span }[] {
  const out: { field: string; span: Span }[] = [];
  for (const r of ROLE_KEYS) {
    const v = runEntryAt(doc.root, ['roles', r])?.value;
    if (v?.kind === 'scalar' && v.value === name) out.push({ field: `roles.${r}`, span: v.span });
  }
  const j = runEntryAt(doc.root, ['stages', 'eval', 'judge'])?.value;
  if (j?.kind === 'scalar' && j.value === name) out.push({ field: 'stages.eval.judge', span: j.span });
  return out;
}

function isModelRef(path: readonly string[]): boolean {
  const spec = runSpecAt(path);
  return spec?.type === 'string' && spec.role === 'model-ref';
}

// ---------------------------------------------------------------------------------------------
// Hover.

export function runHover(doc: RunDoc, offset: number, files: RunFiles): Hover | null {
  const at = runNodeAt(doc.root, offset);
  if (!at) return null;
  const range = doc.index.range(at.span);
  const path = at.path.join('.');
  if (at.kind === 'key') {
    if (at.path.length === 2 && at.path[0] === 'models') {
      const m = modelMarkdown(doc, at.path[1] as string);
      return m ? { contents: { kind: 'markdown', value: `${m}\n\n---\n\n${(RUN_CONFIG_FIELDS.fields.models as { values: RunObjectSpec }).values.doc}` }, range } : null;
    }
    if (at.path.some((k) => k.startsWith('x-'))) return { contents: { kind: 'markdown', value: `**\`${path}\`** — an extension key: kept and never checked.` }, range };
    const spec = runSpecAt(at.path);
    if (!spec) return { contents: { kind: 'markdown', value: `**\`${path}\`** — not a setting of the run format; it is ignored.` }, range };
    return { contents: { kind: 'markdown', value: fieldMarkdown(path, spec) }, range };
  }
  const spec = runSpecAt(at.path);
  if (!spec) return null;
  const parts: string[] = [];
  const value = at.node.value;
  if (spec.type === 'string' && spec.role === 'model-ref' && typeof value === 'string') {
    parts.push(modelMarkdown(doc, value) ?? `\`${value}\` is not an entry of \`models\` (entries: ${runModelNames(doc.root, doc.text).join(', ') || 'none'}).`);
  } else if (at.path[0] === 'models' && at.path[2] === 'model' && typeof value === 'string' && PRESETS[value]) {
    parts.push(`**preset \`${value}\`**: ${PRESETS[value]?.description}`);
  } else if (spec.type === 'string' && spec.role === 'path' && typeof value === 'string') {
    const target = files.resolve(doc.file, value);
    if (target) parts.push(`\`${target}\`${files.stat(target) ? '' : ' (not found)'}`);
  }
  parts.push(fieldMarkdown(path, spec));
  return { contents: { kind: 'markdown', value: parts.join('\n\n---\n\n') }, range };
}

// ---------------------------------------------------------------------------------------------
// Navigation.

const START: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

export function runDefinition(doc: RunDoc, offset: number, files: RunFiles): Location[] | null {
  const at = runNodeAt(doc.root, offset);
  if (!at || at.kind !== 'value' || typeof at.node.value !== 'string') return null;
  if (isModelRef(at.path)) {
    const e = runEntryAt(doc.root, ['models', at.node.value]);
    return e ? [{ uri: pathToUri(doc.file), range: doc.index.range(e.keySpan) }] : null;
  }
  const spec = runSpecAt(at.path);
  const isModelFile = at.path[0] === 'models' && at.path[2] === 'model';
  if ((spec?.type === 'string' && spec.role === 'path') || isModelFile) {
    const target = files.resolve(doc.file, at.node.value);
    return target && files.stat(target) === 'file' ? [{ uri: pathToUri(target), range: START }] : null;
  }
  return null;
}

/** The model name under the cursor (a `models` key or a role value), with every place it appears. */
function modelOccurrences(doc: RunDoc, offset: number): { name: string; span: Span; definition?: Span; uses: Span[] } | undefined {
  const at = runNodeAt(doc.root, offset);
  if (!at) return undefined;
  let name: string | undefined;
  if (at.kind === 'key' && at.path.length === 2 && at.path[0] === 'models') name = at.path[1];
  else if (at.kind === 'value' && typeof at.node.value === 'string' && isModelRef(at.path)) name = at.node.value;
  if (name === undefined) return undefined;
  return { name, span: at.span, definition: runEntryAt(doc.root, ['models', name])?.keySpan, uses: modelUses(doc, name).map((u) => u.span) };
}

export function runReferences(doc: RunDoc, offset: number, includeDeclaration: boolean): Location[] {
  const o = modelOccurrences(doc, offset);
  if (!o) return [];
  const spans = [...(includeDeclaration && o.definition ? [o.definition] : []), ...o.uses];
  return spans.map((s) => ({ uri: pathToUri(doc.file), range: doc.index.range(s) }));
}

export function runPrepareRename(doc: RunDoc, offset: number): { range: Range; placeholder: string } | null {
  const o = modelOccurrences(doc, offset);
  return o?.definition ? { range: doc.index.range(o.span), placeholder: o.name } : null;
}

/** Edits renaming a model everywhere in the file, or an error message. */
export function runRename(doc: RunDoc, offset: number, newName: string): TextEdit[] | string {
  const o = modelOccurrences(doc, offset);
  if (!o?.definition) return 'Only names of `models` entries can be renamed.';
  if (!new RegExp(RUN_NAME_PATTERN).test(newName)) return `'${newName}' is not a valid model name: letters, digits, '.', '_' and '-', starting with a letter or digit.`;
  if (newName !== o.name && runEntryAt(doc.root, ['models', newName])) return `\`models\` already has an entry '${newName}'.`;
  return [o.definition, ...o.uses].map((s) => ({ range: doc.index.range(s), newText: newName }));
}

export function runLinks(doc: RunDoc, files: RunFiles): DocumentLink[] {
  const out: DocumentLink[] = [];
  for (const ref of pathRefs(doc.root)) {
    const target = files.resolve(doc.file, ref.value);
    if (target && files.stat(target) === 'file') out.push({ range: doc.index.range(ref.span), target: pathToUri(target), tooltip: `Open ${ref.value}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Outline and folding.

export function runSymbols(doc: RunDoc): DocumentSymbol[] {
  const walk = (map: LMap, depth: number): DocumentSymbol[] =>
    map.entries.map((e: LEntry) => {
      const v = e.value;
      const range = doc.index.range({ start: e.keySpan.start, end: Math.max(e.keySpan.end, v?.span.end ?? e.keySpan.end) });
      const sym: DocumentSymbol = {
        name: e.key,
        kind: v?.kind === 'map' ? SymbolKind.Module : v?.kind === 'seq' ? SymbolKind.Array : SymbolKind.Property,
        range,
        selectionRange: doc.index.range(e.keySpan),
      };
      if (v?.kind === 'scalar' && v.value !== null) sym.detail = String(v.value);
      if (v?.kind === 'map' && depth < 3) sym.children = walk(v, depth + 1);
      return sym;
    });
  return doc.root?.kind === 'map' ? walk(doc.root, 0) : [];
}

export function runFolding(doc: RunDoc): FoldingRange[] {
  const out: FoldingRange[] = [];
  const walk = (node: LNode | undefined): void => {
    if (!node || node.kind === 'scalar') return;
    if (node.kind === 'seq') return node.items.forEach(walk);
    for (const e of node.entries) {
      if (!e.value || e.value.kind === 'scalar') continue;
      const startLine = doc.index.positionAt(e.keySpan.start).line;
      const endLine = doc.index.positionAt(Math.max(e.value.span.start, trimEnd(doc.text, e.value.span.end))).line;
      if (endLine > startLine) out.push({ startLine, endLine });
      walk(e.value);
    }
  };
  walk(doc.root);
  return out;
}

function trimEnd(text: string, end: number): number {
  let e = end;
  while (e > 0 && /\s/.test(text.charAt(e - 1))) e--;
  return Math.max(0, e - 1);
}

// ---------------------------------------------------------------------------------------------
// Completion.

const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', '__pycache__', '.venv']);
const MAX_FILES = 500;
const RETRIGGER = { title: 'Suggest', command: 'editor.action.triggerSuggest' };

/** Default first: `${1|true,false|}`. */
function choice(values: readonly string[], first?: string): string {
  const ordered = first !== undefined && values.includes(first) ? [first, ...values.filter((v) => v !== first)] : [...values];
  return `\${1|${ordered.map((v) => v.replace(/[,|\\$}]/g, (c) => `\\${c}`)).join(',')}|}`;
}

function keyInsert(key: string, spec: RunFieldSpec, indent: number, flow: boolean, models: string[]): string {
  const inner = ' '.repeat(indent + 2);
  switch (spec.type) {
    case 'object':
    case 'map':
      return flow ? `${key}: { $0 }` : `${key}:\n${inner}$0`;
    case 'boolean':
      return `${key}: ${choice(['true', 'false'], String(spec.default ?? true))}`;
    case 'number':
      return spec.default !== undefined ? `${key}: \${1:${spec.default}}` : `${key}: $0`;
    case 'tuple':
      return spec.default ? `${key}: [${spec.default.map((v, i) => `\${${i + 1}:${v}}`).join(', ')}]` : `${key}: [$0]`;
    case 'schedule':
      return `${key}: ${choice(['constant', '{ kind: linear-warmup, warmupSteps: 20 }', '{ kind: cosine, warmupSteps: 20, totalSteps: 200, minRatio: 0.1 }'])}`;
    case 'string':
      if (spec.enum) return `${key}: ${choice(spec.enum, spec.default)}`;
      if (spec.role === 'model-ref' && models.length) return `${key}: ${choice(models)}`;
      return spec.default !== undefined ? `${key}: \${1:${spec.default}}` : `${key}: $0`;
  }
}

function fieldDocumentation(path: string, spec: RunFieldSpec): { kind: 'markdown'; value: string } {
  return { kind: 'markdown', value: fieldMarkdown(path, spec) };
}

function item(label: string, kind: CompletionItemKind, replace: Range, newText: string, extra: Partial<CompletionItem> = {}): CompletionItem {
  return { label, kind, textEdit: { range: replace, newText }, ...extra };
}

/** Completion items at `offset`: keys, enum and boolean values, model names, presets and paths. */
export function runCompletions(doc: RunDoc, offset: number, files: RunFiles): CompletionItem[] {
  const ctx = runCompletionContext(doc.text, offset);
  if (!ctx) return [];
  const replace = doc.index.range(ctx.replace);
  const models = runModelNames(doc.root, doc.text);
  const dotted = (p: readonly string[]) => p.join('.');

  if (ctx.kind === 'key') {
    const spec = ctx.path.length === 0 ? RUN_CONFIG_FIELDS : runSpecAt(ctx.path);
    // a new entry of `models`: its name is the user's to choose
    const obj = spec?.type === 'object' ? spec : spec?.type === 'schedule' ? SCHEDULE_FIELDS : undefined;
    if (!obj) return [];
    const out: CompletionItem[] = [];
    Object.entries(obj.fields).forEach(([key, f], i) => {
      if (ctx.present.has(key)) return;
      const path = dotted([...ctx.path, key]);
      out.push(
        item(key, CompletionItemKind.Property, replace, keyInsert(key, f, ctx.indent, ctx.flow, models), {
          insertTextFormat: InsertTextFormat.Snippet,
          detail: `${f.required ? 'required · ' : ''}${typeLine(f)}`,
          documentation: fieldDocumentation(path, f),
          sortText: `${f.required ? '0' : '1'}${String(i).padStart(2, '0')}`,
          filterText: key,
        }),
      );
    });
    return out;
  }

  const items = valueCompletions(doc, ctx, replace, models, files);
  // `key:|`: the value needs a space before it
  return ctx.space ? items.map((i) => ({ ...i, textEdit: { range: replace, newText: ` ${(i.textEdit as { newText: string }).newText}` } })) : items;
}

function valueCompletions(doc: RunDoc, ctx: Extract<RunCompletionContext, { kind: 'value' }>, replace: Range, models: string[], files: RunFiles): CompletionItem[] {
  const spec = runSpecAt(ctx.path);
  if (!spec) return [];
  const path = ctx.path.join('.');
  const doc_ = fieldDocumentation(path, spec);
  const values = (vs: readonly string[], dflt?: string, kind: CompletionItemKind = CompletionItemKind.EnumMember) =>
    vs.map((v, i) => item(v, kind, replace, v, { detail: v === dflt ? 'default' : undefined, documentation: doc_, sortText: String(i).padStart(2, '0') }));

  if (spec.type === 'boolean' || (spec.type === 'object' && spec.toggle)) {
    const dflt = spec.type === 'boolean' ? spec.default : true;
    return values(['true', 'false'], dflt === undefined ? undefined : String(dflt), CompletionItemKind.Keyword);
  }
  if (spec.type === 'schedule') {
    return [
      ...values(['constant'], 'constant'),
      item('linear-warmup', CompletionItemKind.Snippet, replace, '{ kind: linear-warmup, warmupSteps: ${1:20} }', { insertTextFormat: InsertTextFormat.Snippet, documentation: doc_, sortText: '01' }),
      item('cosine', CompletionItemKind.Snippet, replace, '{ kind: cosine, warmupSteps: ${1:20}, totalSteps: ${2:200}, minRatio: ${3:0.1} }', { insertTextFormat: InsertTextFormat.Snippet, documentation: doc_, sortText: '02' }),
    ];
  }
  if (spec.type === 'number') return spec.default !== undefined ? values([String(spec.default)], String(spec.default), CompletionItemKind.Value) : [];
  if (spec.type !== 'string') return [];
  if (spec.enum) return values(spec.enum, spec.default);
  if (spec.role === 'model-ref') {
    return models.map((name, i) => {
      const e = runEntryAt(doc.root, ['models', name]);
      const prov = runEntryAt(e?.value, ['provider'])?.value;
      const m = runEntryAt(e?.value, ['model'])?.value;
      const detail = [prov, m].map((n) => (n?.kind === 'scalar' && n.value !== null ? String(n.value) : undefined)).filter(Boolean).join(' · ');
      const md = modelMarkdown(doc, name);
      return item(name, CompletionItemKind.Reference, replace, name, { detail: detail || 'model', documentation: md ? { kind: 'markdown', value: md } : undefined, sortText: String(i).padStart(3, '0') });
    });
  }
  if (ctx.path[0] === 'models' && ctx.path.length === 3 && ctx.path[2] === 'model') {
    const provider = runEntryAt(doc.root, ['models', ctx.path[1] as string, 'provider'])?.value;
    const kind = provider?.kind === 'scalar' ? provider.value : undefined;
    if (kind === 'openai') return [];
    const out: CompletionItem[] = [];
    if (kind !== 'llama-cpp' && !/[\\/]/.test(ctx.typed)) {
      Object.entries(PRESETS).forEach(([name, p], i) =>
        out.push(item(name, CompletionItemKind.Constant, replace, name, { detail: 'built-in preset', documentation: { kind: 'markdown', value: p.description }, sortText: `0${i}` })),
      );
    }
    return [...out, ...pathItems(doc, ctx.typed, replace, files, kind === 'llama-cpp' ? /\.gguf$/i : null)];
  }
  if (spec.role === 'path') {
    const accept = ctx.path[0] === 'constitution' ? CONSTITUTION_FILE : ctx.path[0] === 'out' ? null : DATA_FILE;
    return pathItems(doc, ctx.typed, replace, files, accept);
  }
  return [];
}

/** Files and folders of the folder being typed, relative to the run file. `accept: null`: folders only. */
function pathItems(doc: RunDoc, typed: string, replace: Range, files: RunFiles, accept: RegExp | null): CompletionItem[] {
  const slash = Math.max(typed.lastIndexOf('/'), typed.lastIndexOf('\\'));
  const dirPart = typed.slice(0, slash + 1);
  const dir = files.resolve(doc.file, dirPart || '.');
  if (!dir) return [];
  const base = typed.slice(slash + 1);
  const out: CompletionItem[] = [];
  for (const e of files.list(dir).sort((a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name))) {
    if (out.length >= MAX_FILES) break;
    if ((e.name.startsWith('.') && !base.startsWith('.')) || (e.dir && SKIP_DIRS.has(e.name))) continue;
    if (e.dir) {
      const text = `${dirPart}${e.name}/`;
      out.push(item(`${e.name}/`, CompletionItemKind.Folder, replace, text, { filterText: text, sortText: `1${e.name}`, command: RETRIGGER }));
    } else if (accept && accept.test(e.name)) {
      const text = `${dirPart}${e.name}`;
      out.push(item(e.name, CompletionItemKind.File, replace, text, { filterText: text, sortText: `0${e.name}`, detail: text }));
    }
  }
  return out;
}
