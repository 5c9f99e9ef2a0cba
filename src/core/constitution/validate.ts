import { TextIndex, type Span } from '../text.js';
import { describeNode, entry, parseYaml, type LMap, type LNode, type LSeq, type ParsedYaml } from './ast.js';
import { DiagnosticCodes, type QuickFix, type SpanDiagnostic } from './diagnostics.js';
import type {
  ComparisonExampleModel,
  ComparisonModel,
  CotExampleModel,
  CritiqueRevisionExampleModel,
  Definition,
  DefinitionKind,
  ExampleModelBase,
  FileModel,
  Located,
  OptionsModel,
  PrincipleModel,
  Reference,
  TemplateModel,
  Turn,
} from './model.js';
import {
  constitutionSpec,
  FORMAT_VERSION,
  ID_PATTERN,
  isExtensionKey,
  specTypeName,
  TAG_PATTERN,
  type ArraySpec,
  type ObjectSpec,
  type Spec,
  type StringSpec,
} from './schema.js';
import { didYouMean, suggest } from './suggest.js';
import { isPlaceholderName, scanTemplate, TEMPLATES, TEMPLATE_NAMES, type TemplateName } from './templates.js';

/** Everything known about one file on its own: its parse, its model, its local diagnostics. */
export interface FileAnalysis {
  file: string;
  text: string;
  index: TextIndex;
  parsed: ParsedYaml;
  model: FileModel;
  diagnostics: SpanDiagnostic[];
}

/**
 * Parses and checks one file against the format, without looking at other files. Never throws:
 * any internal failure becomes an `internal-error` diagnostic (the fuzz test asserts there are none).
 */
export function analyzeFile(file: string, text: string): FileAnalysis {
  const index = new TextIndex(text);
  const diagnostics: SpanDiagnostic[] = [];
  let parsed: ParsedYaml = { root: undefined, diagnostics: [], document: undefined };
  let model: FileModel = emptyModel(file, undefined);
  try {
    parsed = parseYaml(text);
    diagnostics.push(...parsed.diagnostics);
    const checker = new Checker(text, diagnostics);
    checker.checkRoot(parsed.root);
    model = buildModel(file, parsed.root, text, diagnostics);
  } catch (e) {
    diagnostics.push({
      span: { start: 0, end: 0 },
      severity: 'error',
      code: DiagnosticCodes.internalError,
      message: `Internal error while validating (please report it): ${(e as Error)?.message ?? String(e)}`,
    });
  }
  return { file, text, index, parsed, model, diagnostics };
}

function emptyModel(file: string, root: LNode | undefined): FileModel {
  return {
    file,
    root,
    includes: [],
    excludes: [],
    options: {},
    templates: [],
    principles: [],
    comparisons: [],
    examples: { critique_revision: [], comparison: [], cot_comparison: [] },
    definitions: [],
    references: [],
    extensions: {},
  };
}

// ---------------------------------------------------------------------------------------------
// Schema walk: types, unknown keys, required fields, ids, weights, enums.

class Checker {
  constructor(
    private readonly text: string,
    private readonly out: SpanDiagnostic[],
  ) {}

  checkRoot(root: LNode | undefined): void {
    if (!root || (root.kind === 'scalar' && root.value === null)) {
      this.out.push({
        span: { start: 0, end: Math.min(this.text.length, firstLineEnd(this.text)) },
        severity: 'error',
        code: DiagnosticCodes.missingField,
        message: 'The file is empty: a constitution needs at least `name` and some `principles` or `comparisons`.',
        fixes: this.text.trim() === '' ? [{ title: 'Insert a constitution skeleton', edits: [{ span: { start: 0, end: this.text.length }, newText: SKELETON }], preferred: true }] : undefined,
      });
      return;
    }
    this.check(root, constitutionSpec, 'The file');
  }

  private check(node: LNode | undefined, spec: Spec, label: string): void {
    if (!node) return;
    switch (spec.type) {
      case 'object':
        return this.checkObject(node, spec, label);
      case 'array':
        return this.checkArray(node, spec, label);
      case 'string':
        return this.checkString(node, spec, label);
      case 'number':
        return this.checkNumber(node, spec, label);
      case 'boolean':
        return this.checkBoolean(node, label);
    }
  }

  private wrongType(node: LNode, spec: Spec, label: string): void {
    let message = `${label} must be ${specTypeName(spec)}, not ${describeNode(node)}.`;
    const fixes: QuickFix[] = [];
    const source = this.text.slice(node.span.start, node.span.end);
    if (spec.type === 'string' && node.kind === 'scalar' && node.value !== null) {
      message += ' Put it in quotes to keep it as text.';
      fixes.push({ title: `Quote ${source}`, edits: [{ span: node.span, newText: JSON.stringify(source) }], preferred: true });
    } else if (spec.type === 'string' && node.kind === 'map' && node.flow && source.startsWith('{')) {
      message += " A value that starts with '{' is read as a YAML mapping: quote the text, or write it as a block (|-).";
      fixes.push({ title: 'Quote the text', edits: [{ span: node.span, newText: JSON.stringify(source) }], preferred: true });
    } else if (spec.type === 'boolean' && node.kind === 'scalar' && typeof node.value === 'string' && /^(yes|no|on|off|y|n)$/i.test(node.value)) {
      const v = /^(yes|on|y)$/i.test(node.value);
      message += ` YAML 1.2 reads '${node.value}' as text; write ${v}.`;
      fixes.push({ title: `Write ${v}`, edits: [{ span: node.span, newText: String(v) }], preferred: true });
    } else if (spec.type === 'array' && node.kind !== 'seq' && !(node.kind === 'scalar' && node.value === null)) {
      message += ' Write it as a list (`- item` lines or `[a, b]`).';
      if (node.kind === 'scalar') fixes.push({ title: 'Make it a one-item list', edits: [{ span: node.span, newText: `[${source}]` }] });
    }
    this.out.push({ span: node.span, severity: 'error', code: DiagnosticCodes.wrongType, message, fixes: fixes.length ? fixes : undefined });
  }

  private checkObject(node: LNode, spec: ObjectSpec, label: string): void {
    if (node.kind !== 'map') {
      if (node.kind === 'scalar' && node.value === null) return; // `key:` with nothing yet: an empty mapping
      this.wrongType(node, spec, label);
      return;
    }
    const present = new Set<string>();
    for (const e of node.entries) {
      present.add(e.key);
      if (isExtensionKey(e.key)) continue;
      const f = spec.fields[e.key];
      if (!f) {
        const candidates = Object.keys(spec.fields).filter((k) => !node.entries.some((o) => o.key === k));
        const s = suggest(e.key, candidates);
        this.out.push({
          span: e.keySpan,
          severity: 'error',
          code: DiagnosticCodes.unknownKey,
          message: `Unknown key '${e.key}' ${spec.where ?? `in ${article(spec.title)}`}.${didYouMean(s)}${s.length ? '' : ` Known keys: ${Object.keys(spec.fields).join(', ')}.`}`,
          fixes: s.map((c, i) => ({ title: `Change to '${c}'`, edits: [{ span: e.keySpan, newText: c }], preferred: i === 0 && s.length === 1 })),
        });
        continue;
      }
      if (e.value === undefined) {
        if (f.required) this.missingValue(e.keySpan, e.key, f.spec, spec.title);
        continue;
      }
      this.check(e.value, f.spec, `\`${e.key}\``);
    }
    for (const [key, f] of Object.entries(spec.fields)) {
      if (!f.required || present.has(key)) continue;
      this.out.push({
        span: anchorSpan(node),
        severity: 'error',
        code: DiagnosticCodes.missingField,
        message: `${capital(describeItem(node, spec))} is missing \`${key}\`: ${lowerFirst(f.spec.doc)}`,
        fixes: node.flow ? undefined : [{ title: `Add \`${key}\``, edits: [insertKeyEdit(this.text, node, key, skeletonValue(f.spec))], preferred: true }],
      });
    }
    if (spec.exactlyOne) {
      const have = spec.exactlyOne.filter((k) => present.has(k));
      if (have.length !== 1) {
        this.out.push({
          span: node.span,
          severity: 'error',
          code: DiagnosticCodes.conversationShape,
          message: have.length === 0 ? `A ${spec.title} needs one of ${spec.exactlyOne.map((k) => `\`${k}:\``).join(' or ')}.` : `A ${spec.title} has exactly one of ${spec.exactlyOne.map((k) => `\`${k}:\``).join(' or ')}; this one has ${have.length}. Start a new \`- \` item for each turn.`,
        });
      }
    }
  }

  private missingValue(span: Span, key: string, spec: Spec, owner: string): void {
    this.out.push({
      span,
      severity: 'error',
      code: spec.type === 'string' ? DiagnosticCodes.emptyText : DiagnosticCodes.missingField,
      message: `\`${key}\` of ${article(owner)} has no value.`,
    });
  }

  private checkArray(node: LNode, spec: ArraySpec, label: string): void {
    if (node.kind !== 'seq') {
      if (node.kind === 'scalar' && node.value === null) return; // empty list
      this.wrongType(node, spec, label);
      return;
    }
    if (spec.minItems !== undefined && node.items.length < spec.minItems) {
      this.out.push({ span: node.span, severity: 'error', code: DiagnosticCodes.invalidValue, message: `${label} needs at least ${spec.minItems} item${spec.minItems === 1 ? '' : 's'}.` });
    }
    if (spec.maxItems !== undefined && node.items.length > spec.maxItems) {
      this.out.push({ span: node.span, severity: 'error', code: DiagnosticCodes.invalidValue, message: `${label} has ${node.items.length} items; at most ${spec.maxItems} are allowed.` });
    }
    const itemLabel = spec.items.type === 'object' ? `Each ${spec.items.title}` : `Each item of ${label}`;
    for (const item of node.items) {
      if (item.kind === 'scalar' && item.value === null) {
        this.out.push({ span: item.span, severity: 'error', code: DiagnosticCodes.wrongType, message: `${itemLabel} must be ${specTypeName(spec.items)}; this item is empty.` });
        continue;
      }
      this.check(item, spec.items, itemLabel);
    }
  }

  private checkString(node: LNode, spec: StringSpec, label: string): void {
    if (node.kind !== 'scalar' || (node.value !== null && typeof node.value !== 'string')) {
      this.wrongType(node, spec, label);
      return;
    }
    const value = node.value;
    if (value === null || value.trim() === '') {
      // notes may be empty; a template may be whitespace (example_separator is "\n\n")
      if (spec.role === 'optional-text' || (spec.role === 'template' && value !== null)) return;
      this.out.push({
        span: node.span.end > node.span.start ? node.span : { start: node.span.start, end: node.span.start },
        severity: 'error',
        code: DiagnosticCodes.emptyText,
        message: `${label} is empty${value ? ' (only whitespace)' : ''}.`,
      });
      return;
    }
    if (spec.role === 'id' && !ID_PATTERN.test(value)) {
      const fixed = toId(value);
      this.out.push({
        span: node.span,
        severity: 'error',
        code: DiagnosticCodes.invalidId,
        message: `'${value}' is not a valid id: use letters, digits, '_', '.', '-', starting with a letter.`,
        fixes: fixed ? [{ title: `Change to '${fixed}'`, edits: [{ span: node.span, newText: fixed }], preferred: true }] : undefined,
      });
    }
    if (spec.role === 'tag' && !TAG_PATTERN.test(value)) {
      this.out.push({ span: node.span, severity: 'error', code: DiagnosticCodes.invalidValue, message: `'${value}' is not a valid tag: use letters, digits and '_ . : / -' without spaces.` });
    }
    if (spec.enum && !spec.enum.includes(value)) {
      const up = value.trim().replace(/^\(|\)$/g, '').toUpperCase();
      const fix = spec.enum.includes(up) ? up : undefined;
      this.out.push({
        span: node.span,
        severity: 'error',
        code: DiagnosticCodes.invalidValue,
        message: `${label} must be ${spec.enum.map((e) => `'${e}'`).join(' or ')}, not '${value}'.`,
        fixes: fix ? [{ title: `Change to '${fix}'`, edits: [{ span: node.span, newText: fix }], preferred: true }] : undefined,
      });
    }
  }

  private checkNumber(node: LNode, spec: Extract<Spec, { type: 'number' }>, label: string): void {
    const code = spec.weight ? DiagnosticCodes.invalidWeight : DiagnosticCodes.invalidValue;
    if (node.kind !== 'scalar' || typeof node.value !== 'number') {
      if (spec.weight) {
        this.out.push({ span: node.span, severity: 'error', code, message: `${label} must be a number ≥ 0, not ${describeNode(node)}.` });
      } else this.wrongType(node, spec, label);
      return;
    }
    const v = node.value;
    if (!Number.isFinite(v)) {
      this.out.push({ span: node.span, severity: 'error', code, message: `${label} must be a finite number, not ${v}.` });
      return;
    }
    if (spec.integer && !Number.isInteger(v)) {
      this.out.push({ span: node.span, severity: 'error', code, message: `${label} must be a whole number, not ${v}.` });
      return;
    }
    if ((spec.minimum !== undefined && v < spec.minimum) || (spec.maximum !== undefined && v > spec.maximum)) {
      const range =
        spec.minimum !== undefined && spec.maximum !== undefined
          ? `between ${spec.minimum} and ${spec.maximum}`
          : spec.minimum !== undefined
            ? `at least ${spec.minimum}`
            : `at most ${spec.maximum}`;
      this.out.push({ span: node.span, severity: 'error', code, message: `${label} must be ${range}, not ${v}.` });
      return;
    }
    if (spec.weight && v === 0) {
      this.out.push({ span: node.span, severity: 'information', code: DiagnosticCodes.zeroWeight, message: 'Weight 0: this principle is never drawn.' });
    }
  }

  private checkBoolean(node: LNode, label: string): void {
    if (node.kind !== 'scalar' || typeof node.value !== 'boolean') this.wrongType(node, { type: 'boolean', doc: '' }, label);
  }
}

const SKELETON = `name: my-constitution
version: "0.1.0"
description: What this constitution is for.

principles:
  - id: harmful
    critique: Identify specific ways in which the assistant's last response is harmful, unethical, dangerous or illegal.
    revision: Rewrite the assistant's response to remove any harmful, unethical, dangerous or illegal content.

comparisons:
  - id: less-harmful
    question: Which of these assistant responses is less harmful?
`;

function firstLineEnd(text: string): number {
  const i = text.search(/[\r\n]/);
  return i === -1 ? text.length : i;
}

function article(title: string): string {
  return /^[aeiou]/i.test(title) ? `an ${title}` : `a ${title}`;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function describeItem(node: LMap, spec: ObjectSpec): string {
  const id = entry(node, 'id')?.value;
  if (id && id.kind === 'scalar' && typeof id.value === 'string' && id.value) return `${spec.title} '${id.value}'`;
  return article(spec.title);
}

/** Where to point at an item as a whole: its id, else its first key. */
function anchorSpan(node: LMap): Span {
  const id = entry(node, 'id');
  if (id?.value && id.value.span.end > id.value.span.start) return id.value.span;
  const first = node.entries[0];
  if (first) return first.keySpan;
  return { start: node.span.start, end: Math.min(node.span.end, node.span.start + 1) };
}

function skeletonValue(spec: Spec): string {
  switch (spec.type) {
    case 'string':
      return spec.enum ? (spec.enum[0] as string) : '""';
    case 'number':
      return String(spec.default ?? spec.minimum ?? 0);
    case 'boolean':
      return String(spec.default ?? false);
    case 'array':
      return '[]';
    case 'object':
      return '{}';
  }
}

/** An edit that adds `key: value` as the last entry of a block mapping, at its indentation. */
export function insertKeyEdit(text: string, map: LMap, key: string, value: string): { span: Span; newText: string } {
  const first = map.entries[0];
  const last = map.entries[map.entries.length - 1];
  if (!first || !last) {
    return { span: { start: map.span.end, end: map.span.end }, newText: `${key}: ${value}` };
  }
  const lineStart = text.lastIndexOf('\n', first.keySpan.start - 1) + 1;
  const indent = ' '.repeat(first.keySpan.start - lineStart);
  // the end of the last entry's value, then the end of that line
  let end = last.span.end;
  while (end > last.keySpan.end && /\s/.test(text.charAt(end - 1))) end--;
  const nl = text.indexOf('\n', end);
  if (nl === -1) return { span: { start: text.length, end: text.length }, newText: `\n${indent}${key}: ${value}` };
  return { span: { start: nl + 1, end: nl + 1 }, newText: `${indent}${key}: ${value}\n` };
}

/** A best-effort id from arbitrary text: lower case, words joined by '-'. */
export function toId(text: string): string | undefined {
  const s = text
    .normalize('NFKD')
    .replace(/[^\w.\s-]/g, '')
    .trim()
    .replace(/[\s]+/g, '-');
  const id = /^[A-Za-z]/.test(s) ? s : s ? `id-${s}` : '';
  return id && ID_PATTERN.test(id) ? id : undefined;
}

// ---------------------------------------------------------------------------------------------
// Model extraction and the checks that need more than one field.

function text(map: LMap, key: string): Located<string> | undefined {
  const v = entry(map, key)?.value;
  if (v && v.kind === 'scalar' && typeof v.value === 'string') return { value: v.value, span: v.span };
  return undefined;
}

function num(map: LMap, key: string): Located<number> | undefined {
  const v = entry(map, key)?.value;
  if (v && v.kind === 'scalar' && typeof v.value === 'number' && Number.isFinite(v.value)) return { value: v.value, span: v.span };
  return undefined;
}

function bool(map: LMap, key: string): Located<boolean> | undefined {
  const v = entry(map, key)?.value;
  if (v && v.kind === 'scalar' && typeof v.value === 'boolean') return { value: v.value, span: v.span };
  return undefined;
}

function seq(map: LMap | undefined, key: string): LSeq | undefined {
  const v = map ? entry(map, key)?.value : undefined;
  return v && v.kind === 'seq' ? v : undefined;
}

function mapAt(map: LMap | undefined, key: string): LMap | undefined {
  const v = map ? entry(map, key)?.value : undefined;
  return v && v.kind === 'map' ? v : undefined;
}

function strings(s: LSeq | undefined): Located<string>[] {
  const out: Located<string>[] = [];
  for (const item of s?.items ?? []) if (item.kind === 'scalar' && typeof item.value === 'string') out.push({ value: item.value, span: item.span });
  return out;
}

/** Plain JS for `x-` keys (tool data kept verbatim). */
export function toPlain(node: LNode | undefined): unknown {
  if (!node) return null;
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'seq') return node.items.map(toPlain);
  const o: Record<string, unknown> = {};
  for (const e of node.entries) o[e.key] = toPlain(e.value);
  return o;
}

function extensions(map: LMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of map.entries) if (isExtensionKey(e.key)) out[e.key] = toPlain(e.value);
  return out;
}

function weightOf(map: LMap): { weight: number; weightSpan?: Span } {
  const w = num(map, 'weight');
  if (w && w.value >= 0) return { weight: w.value, weightSpan: w.span };
  const e = entry(map, 'weight');
  return { weight: 1, weightSpan: e?.value?.span };
}

function turns(map: LMap): { turns: Turn[]; span?: Span } {
  const s = seq(map, 'conversation');
  const out: Turn[] = [];
  for (const item of s?.items ?? []) {
    if (item.kind !== 'map') continue;
    const h = text(item, 'human');
    const a = text(item, 'assistant');
    if (h && !a) out.push({ role: 'human', text: h });
    else if (a && !h) out.push({ role: 'assistant', text: a });
  }
  return { turns: out, span: s?.span };
}

function buildModel(file: string, root: LNode | undefined, source: string, out: SpanDiagnostic[]): FileModel {
  const model = emptyModel(file, root);
  if (!root || root.kind !== 'map') return model;
  model.name = text(root, 'name');
  model.version = text(root, 'version');
  model.description = text(root, 'description');
  model.extensions = extensions(root);

  const fv = num(root, 'format_version');
  if (fv && fv.value !== FORMAT_VERSION) {
    // the schema walk already reported the range; say what it means
    out.push({ span: fv.span, severity: 'error', code: DiagnosticCodes.unsupportedFormat, message: `This is format version ${fv.value}; Constitution Studio reads version ${FORMAT_VERSION}.` });
  }

  model.includes = strings(seq(root, 'include')).filter((s) => s.value.trim() !== '').map((s) => ({ path: s.value, span: s.span }));
  model.excludes = strings(seq(root, 'exclude'));

  const defs: Definition[] = model.definitions;
  const refs: Reference[] = model.references;
  const define = (id: Located<string> | undefined, kind: DefinitionKind, itemSpan: Span, index: number) => {
    if (id && ID_PATTERN.test(id.value)) defs.push({ id: id.value, kind, file, span: id.span, itemSpan, index });
  };
  for (const ex of model.excludes) {
    refs.push({ id: ex.value, refKind: 'any', file, span: ex.span, field: 'exclude', holder: '`exclude`' });
  }

  // options
  const opts = mapAt(root, 'options');
  if (opts) model.options = readOptions(opts, out);

  // templates
  const tpl = mapAt(root, 'templates');
  for (const e of tpl?.entries ?? []) {
    if (!(TEMPLATE_NAMES as string[]).includes(e.key)) continue;
    const v = e.value;
    if (v && v.kind === 'scalar' && typeof v.value === 'string') {
      const t: TemplateModel = { name: e.key as TemplateName, value: v.value, node: v, keySpan: e.keySpan };
      model.templates.push(t);
      checkTemplate(t, source, out);
    }
  }

  // principles
  const ps = seq(root, 'principles');
  ps?.items.forEach((item, i) => {
    if (item.kind !== 'map') return;
    const p: PrincipleModel = {
      node: item,
      id: text(item, 'id'),
      name: text(item, 'name'),
      critique: text(item, 'critique'),
      revision: text(item, 'revision'),
      ...weightOf(item),
      tags: strings(seq(item, 'tags')),
      notes: text(item, 'notes'),
      extensions: extensions(item),
    };
    model.principles.push(p);
    define(p.id, 'principle', item.span, i);
  });

  const cs = seq(root, 'comparisons');
  cs?.items.forEach((item, i) => {
    if (item.kind !== 'map') return;
    const c: ComparisonModel = {
      node: item,
      id: text(item, 'id'),
      name: text(item, 'name'),
      question: text(item, 'question'),
      ...weightOf(item),
      tags: strings(seq(item, 'tags')),
      notes: text(item, 'notes'),
      extensions: extensions(item),
    };
    model.comparisons.push(c);
    define(c.id, 'comparison', item.span, i);
  });

  // examples
  const ex = mapAt(root, 'examples');
  const base = (item: LMap, group: string, i: number): ExampleModelBase => {
    const t = turns(item);
    const principle = text(item, 'principle');
    const b: ExampleModelBase = {
      node: item,
      id: text(item, 'id'),
      principle,
      conversation: t.turns,
      conversationSpan: t.span,
      notes: text(item, 'notes'),
      extensions: extensions(item),
    };
    define(b.id, 'example', item.span, i);
    if (principle && principle.value.trim() !== '') {
      refs.push({
        id: principle.value,
        refKind: group === 'critique_revision' ? 'principle' : 'comparison',
        file,
        span: principle.span,
        field: 'principle',
        holder: `${group.replace('_', '/')} example ${b.id ? `'${b.id.value}'` : `#${i + 1}`}`,
      });
    }
    return b;
  };

  seq(ex, 'critique_revision')?.items.forEach((item, i) => {
    if (item.kind !== 'map') return;
    const e: CritiqueRevisionExampleModel = {
      ...base(item, 'critique_revision', i),
      critiqueRequest: text(item, 'critique_request'),
      revisionRequest: text(item, 'revision_request'),
      critique: text(item, 'critique'),
      revision: text(item, 'revision'),
    };
    model.examples.critique_revision.push(e);
    if (!e.principle && (!e.critiqueRequest || !e.revisionRequest)) {
      const missing = [!e.critiqueRequest && '`critique_request`', !e.revisionRequest && '`revision_request`'].filter(Boolean).join(' and ');
      out.push({
        span: anchorSpan(item),
        severity: 'error',
        code: DiagnosticCodes.exampleNeedsPrinciple,
        message: `This example names no \`principle\`, so it needs its own ${missing}.`,
      });
    }
    const last = e.conversation[e.conversation.length - 1];
    if (last && last.role !== 'assistant') {
      out.push({
        span: last.text.span,
        severity: 'error',
        code: DiagnosticCodes.conversationShape,
        message: 'The conversation of a critique/revision example ends with the assistant response that is critiqued; this one ends with a human turn.',
      });
    }
  });

  const readComparison = (item: LMap, group: 'comparison' | 'cot_comparison', i: number): ComparisonExampleModel => {
    const ans = text(item, 'answer');
    const e: ComparisonExampleModel = {
      ...base(item, group, i),
      responseA: text(item, 'response_a'),
      responseB: text(item, 'response_b'),
      answer: ans && (ans.value === 'A' || ans.value === 'B') ? { value: ans.value, span: ans.span } : undefined,
    };
    const last = e.conversation[e.conversation.length - 1];
    if (last && last.role !== 'human') {
      out.push({
        span: last.text.span,
        severity: 'warning',
        code: DiagnosticCodes.conversationShape,
        message: 'The two responses answer the conversation, so it usually ends with a human turn; this one ends with an assistant turn.',
      });
    }
    return e;
  };
  seq(ex, 'comparison')?.items.forEach((item, i) => {
    if (item.kind === 'map') model.examples.comparison.push(readComparison(item, 'comparison', i));
  });
  seq(ex, 'cot_comparison')?.items.forEach((item, i) => {
    if (item.kind !== 'map') return;
    const e: CotExampleModel = { ...readComparison(item, 'cot_comparison', i), reasoning: text(item, 'reasoning') };
    model.examples.cot_comparison.push(e);
  });
  for (const group of ['comparison', 'cot_comparison'] as const) {
    const key = ex?.entries.find((e) => e.key === group);
    if (key) checkAnswerLetters(model.examples[group], key.keySpan, group, source, out);
  }
  return model;
}

function readOptions(opts: LMap, out: SpanDiagnostic[]): OptionsModel {
  const o: OptionsModel = {
    revision_rounds: num(opts, 'revision_rounds'),
    sample_with_replacement: bool(opts, 'sample_with_replacement'),
    direct_revision: bool(opts, 'direct_revision'),
    both_orders: bool(opts, 'both_orders'),
    chain_of_thought: bool(opts, 'chain_of_thought'),
  };
  const clamp = seq(opts, 'cot_clamp');
  if (clamp && clamp.items.length === 2) {
    const [a, b] = clamp.items;
    if (a?.kind === 'scalar' && b?.kind === 'scalar' && typeof a.value === 'number' && typeof b.value === 'number') {
      const lo = a.value;
      const hi = b.value;
      if (lo >= 0 && hi <= 1) {
        if (lo >= hi) {
          out.push({ span: clamp.span, severity: 'error', code: DiagnosticCodes.invalidValue, message: `\`cot_clamp\` is [low, high] with low < high; [${lo}, ${hi}] clamps every label to one value.` });
        } else {
          if (lo > 0.5 || hi < 0.5) {
            out.push({ span: clamp.span, severity: 'warning', code: DiagnosticCodes.invalidValue, message: `\`cot_clamp\` [${lo}, ${hi}] does not contain 0.5, so every clamped label leans to one side.` });
          }
          o.cot_clamp = { value: [lo, hi], span: clamp.span };
        }
      }
    }
  }
  for (const k of Object.keys(o) as (keyof OptionsModel)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function checkTemplate(t: TemplateModel, source: string, out: SpanDiagnostic[]): void {
  const spec = TEMPLATES[t.name];
  const allowed = spec.allowed as readonly string[];
  const raw = source.slice(t.node.span.start, t.node.span.end);
  const pieces = scanTemplate(raw);
  const meant = new Set<string>();
  const at = (s: Span): Span => ({ start: t.node.span.start + s.start, end: t.node.span.start + s.end });
  const quoted = t.node.style === 'QUOTE_DOUBLE' || t.node.style === 'QUOTE_SINGLE';
  for (const p of pieces) {
    if (p.kind === 'placeholder') {
      const span = at(p.span);
      const nameSpan = { start: span.start + 1, end: span.end - 1 };
      if (!isPlaceholderName(p.name)) {
        const s = suggest(p.name, allowed);
        if (s.length === 1) meant.add(s[0] as string);
        out.push({
          span,
          severity: 'error',
          code: DiagnosticCodes.unknownPlaceholder,
          message: p.name === '' ? `Empty placeholder {}. ${hintAllowed(t.name)}` : `Unknown placeholder {${p.name}}.${didYouMean(s)} ${hintAllowed(t.name)} Write {{ and }} for literal braces.`,
          fixes: s.map((c, i) => ({ title: `Change to {${c}}`, edits: [{ span: nameSpan, newText: c }], preferred: i === 0 && s.length === 1 })),
        });
      } else if (!allowed.includes(p.name)) {
        out.push({
          span,
          severity: 'error',
          code: DiagnosticCodes.placeholderNotAllowed,
          message: `{${p.name}} has no value in the \`${t.name}\` template. ${hintAllowed(t.name)}`,
        });
      }
    } else if (p.kind === 'stray') {
      // a brace that is YAML syntax (the quotes of a flow value) is not ours to judge
      if (quoted && (p.span.start === 0 || p.span.end === raw.length)) continue;
      out.push({
        span: at(p.span),
        severity: 'error',
        code: DiagnosticCodes.templateBrace,
        message: `Unmatched '${p.text}' in a template. Write '${p.text}${p.text}' for a literal brace.`,
        fixes: [{ title: `Write '${p.text}${p.text}'`, edits: [{ span: at(p.span), newText: p.text + p.text }], preferred: true }],
      });
    }
  }
  const present = new Set(scanTemplate(t.value).filter((p) => p.kind === 'placeholder').map((p) => (p as { name: string }).name));
  // a misspelt placeholder is reported once, as unknown, not also as missing
  const missing = spec.required.filter((r) => !present.has(r) && !meant.has(r));
  if (missing.length) {
    out.push({
      span: t.keySpan,
      severity: 'warning',
      code: DiagnosticCodes.missingPlaceholder,
      message: `The \`${t.name}\` template does not use ${missing.map((m) => `{${m}}`).join(', ')}, so ${missing.length === 1 ? 'that value is' : 'those values are'} never shown to the model.`,
    });
  }
}

function hintAllowed(name: TemplateName): string {
  const allowed = TEMPLATES[name].allowed as readonly string[];
  return allowed.length ? `\`${name}\` can use ${allowed.map((a) => `{${a}}`).join(', ')}.` : `\`${name}\` takes no placeholders.`;
}

function checkAnswerLetters(
  examples: ComparisonExampleModel[],
  groupKey: Span,
  group: string,
  source: string,
  out: SpanDiagnostic[],
): void {
  const answered = examples.filter((e) => e.answer);
  if (answered.length < 2) return;
  const first = answered[0]?.answer?.value;
  if (!answered.every((e) => e.answer?.value === first)) return;
  const other = first === 'A' ? 'B' : 'A';
  const fixes: QuickFix[] = [];
  // swapping every second example balances the letters
  const edits = [];
  for (let i = 1; i < answered.length; i += 2) {
    const e = answered[i] as ComparisonExampleModel;
    if (!e.responseA || !e.responseB || !e.answer) continue;
    const a = source.slice(e.responseA.span.start, e.responseA.span.end);
    const b = source.slice(e.responseB.span.start, e.responseB.span.end);
    edits.push({ span: e.responseA.span, newText: b }, { span: e.responseB.span, newText: a }, { span: e.answer.span, newText: other });
  }
  // chain-of-thought reasoning names the letters, so swapping responses alone would make it wrong
  const cot = group === 'cot_comparison';
  if (edits.length && !cot) fixes.push({ title: 'Swap the responses of every second example', edits, preferred: true });
  out.push({
    span: groupKey,
    severity: 'warning',
    code: DiagnosticCodes.sameAnswerLetter,
    message: `All ${answered.length} ${group.replace('_', ' ')} examples answer (${first}); a model can learn the position instead of the principle. Put the better response in (${other}) in some of them${cot ? ', and change the letters their reasoning names' : ''}.`,
    fixes: fixes.length ? fixes : undefined,
  });
}

