import type { Span } from '../text.js';
import type {
  ComparisonExampleData,
  ConstitutionData,
  CotExampleData,
  CritiqueRevisionExampleData,
  Extensions,
  Options,
  TurnData,
} from './data.js';
import { DiagnosticCodes, type Diagnostic, type QuickFix, type SpanDiagnostic } from './diagnostics.js';
import type { Definition, DefinitionKind, ExampleModelBase, FileModel, Reference, Turn } from './model.js';
import { ID_PATTERN, OPTION_DEFAULTS } from './schema.js';
import { nearDuplicates } from './similarity.js';
import { didYouMean, suggest } from './suggest.js';
import { defaultTemplates } from './templates.js';
import { analyzeFile, insertKeyEdit, type FileAnalysis } from './validate.js';

/** How the core reaches files. The CLI and the language server back it with the file system. */
export interface FileHost {
  /** The text of a file, or undefined when it does not exist or cannot be read. */
  read(file: string): string | undefined;
  /** The file `relative` names, seen from the folder of `from`. */
  resolve(from: string, relative: string): string;
  /** How a file is named in messages (e.g. relative to the workspace). */
  display?(file: string): string;
}

export interface AnalysisOptions {
  /** Word-bigram Jaccard similarity at or above which two principles are near-duplicates; 0 turns the check off. */
  nearDuplicateThreshold?: number;
}

export const DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.7;

/** A constitution file seen together with everything it includes. */
export interface Resolution {
  root: string;
  /** The root and every file it includes, transitively, each once. */
  files: Map<string, FileAnalysis>;
  /** Files in merge order: included files before the files that include them; the root last. */
  order: string[];
  /** Every definition in the closure, by id (an id with more than one is a duplicate). */
  definitions: Map<string, Definition[]>;
  /** Every reference in the closure. */
  references: Reference[];
  /** Ids left out by `exclude`. */
  excluded: Set<string>;
  /** The root file's diagnostics, by offsets. */
  spanDiagnostics: SpanDiagnostic[];
  /** The root file's diagnostics, by positions. */
  diagnostics: Diagnostic[];
  /** The merged constitution, with defaults filled in. */
  constitution: ConstitutionData;
}

/**
 * Holds file analyses and resolves constitutions across files. Analyses are cached by file text,
 * so re-resolving after an edit re-parses only the edited file.
 */
export class ConstitutionWorkspace {
  private readonly cache = new Map<string, FileAnalysis>();

  constructor(private readonly host: FileHost) {}

  /** The analysis of one file on its own (cached while its text is unchanged). */
  file(file: string): FileAnalysis | undefined {
    const text = this.host.read(file);
    if (text === undefined) {
      this.cache.delete(file);
      return undefined;
    }
    const cached = this.cache.get(file);
    if (cached && cached.text === text) return cached;
    const a = analyzeFile(file, text);
    this.cache.set(file, a);
    return a;
  }

  forget(file: string): void {
    this.cache.delete(file);
  }

  display(file: string): string {
    return this.host.display ? this.host.display(file) : file;
  }

  resolvePath(from: string, relative: string): string {
    return this.host.resolve(from, relative);
  }

  resolve(root: string, options: AnalysisOptions = {}): Resolution | undefined {
    const rootAnalysis = this.file(root);
    if (!rootAnalysis) return undefined;
    try {
      return resolveFrom(this, rootAnalysis, options);
    } catch (e) {
      const d: SpanDiagnostic = {
        span: { start: 0, end: 0 },
        severity: 'error',
        code: DiagnosticCodes.internalError,
        message: `Internal error while resolving includes (please report it): ${(e as Error)?.message ?? String(e)}`,
      };
      const spanDiagnostics = [...rootAnalysis.diagnostics, d];
      return {
        root,
        files: new Map([[root, rootAnalysis]]),
        order: [root],
        definitions: new Map(),
        references: [],
        excluded: new Set(),
        spanDiagnostics,
        diagnostics: toDiagnostics(rootAnalysis, spanDiagnostics, new Map([[root, rootAnalysis]])),
        constitution: emptyConstitution(),
      };
    }
  }
}

function emptyConstitution(): ConstitutionData {
  return {
    name: '',
    options: { ...OPTION_DEFAULTS, cot_clamp: [...OPTION_DEFAULTS.cot_clamp] },
    templates: defaultTemplates(),
    principles: [],
    comparisons: [],
    examples: { critique_revision: [], comparison: [], cot_comparison: [] },
    extensions: {},
  };
}

interface IncludeEdge {
  /** The include entry in the root file that leads here (for messages placed in the root). */
  via: Span | undefined;
}

function resolveFrom(ws: ConstitutionWorkspace, rootAnalysis: FileAnalysis, options: AnalysisOptions): Resolution {
  const root = rootAnalysis.file;
  const files = new Map<string, FileAnalysis>();
  const order: string[] = [];
  const via = new Map<string, IncludeEdge>();
  const rootDiags: SpanDiagnostic[] = [...rootAnalysis.diagnostics];
  // problems found below the root's own includes, reported at the root's include entry
  const deeper: { span: Span; severity: SpanDiagnostic['severity']; code: SpanDiagnostic['code']; message: string }[] = [];
  /** Each file's includes, transitively (not the file itself). */
  const closure = new Map<string, Set<string>>();

  files.set(root, rootAnalysis);
  const visiting: string[] = [];
  const visit = (fa: FileAnalysis, rootEntry: Span | undefined) => {
    visiting.push(fa.file);
    const mine = new Set<string>();
    closure.set(fa.file, mine);
    for (const inc of fa.model.includes) {
      const target = ws.resolvePath(fa.file, inc.path);
      const entry = fa.file === root ? inc.span : rootEntry;
      const report = (d: Omit<SpanDiagnostic, 'span'>) => {
        if (fa.file === root) rootDiags.push({ ...d, span: inc.span });
        else if (entry) deeper.push({ span: entry, severity: d.severity, code: d.code, message: `In ${ws.display(fa.file)}: ${d.message}` });
      };
      if (visiting.includes(target)) {
        const cycle = [...visiting.slice(visiting.indexOf(target)), target].map((f) => ws.display(f)).join(' → ');
        report({ severity: 'error', code: DiagnosticCodes.includeCycle, message: `Include cycle: ${cycle}.` });
        continue;
      }
      mine.add(target);
      if (files.has(target)) {
        for (const f of closure.get(target) ?? []) mine.add(f); // a diamond: merged once already
        continue;
      }
      const child = ws.file(target);
      if (!child) {
        mine.delete(target);
        report({ severity: 'error', code: DiagnosticCodes.includeNotFound, message: `Included file not found: ${ws.display(target)}.` });
        continue;
      }
      files.set(target, child);
      via.set(target, { via: entry });
      const errors = child.diagnostics.filter((d) => d.severity === 'error').length;
      if (errors > 0) {
        report({
          severity: 'warning',
          code: DiagnosticCodes.includeHasErrors,
          message: `${ws.display(target)} has ${errors} error${errors === 1 ? '' : 's'}; its content may be incomplete here.`,
        });
      }
      visit(child, entry);
      for (const f of closure.get(target) ?? []) mine.add(f);
    }
    visiting.pop();
    order.push(fa.file);
  };
  visit(rootAnalysis, undefined);
  rootDiags.push(...deeper);

  // symbols
  const definitions = new Map<string, Definition[]>();
  const references: Reference[] = [];
  for (const f of order) {
    const m = (files.get(f) as FileAnalysis).model;
    for (const d of m.definitions) {
      const list = definitions.get(d.id);
      if (list) list.push(d);
      else definitions.set(d.id, [d]);
    }
    references.push(...m.references);
  }
  // a file's `exclude` removes ids defined in the files it includes, never its own or its includers'
  const excludedDefs = new Set<string>();
  const excluded = new Set<string>();
  for (const f of order) {
    const below = closure.get(f) ?? new Set<string>();
    for (const e of (files.get(f) as FileAnalysis).model.excludes) {
      for (const d of definitions.get(e.value) ?? []) {
        if (!below.has(d.file)) continue;
        excludedDefs.add(defKey(d.file, d.id));
        excluded.add(d.id);
      }
    }
  }

  checkDuplicates(ws, root, definitions, via, rootDiags);
  checkReferences(rootAnalysis, definitions, rootDiags);
  const dropped = new Map<string, number>();
  const constitution = merge(order, files, excludedDefs, excluded, dropped);
  for (const e of rootAnalysis.model.excludes) {
    const n = dropped.get(e.value);
    if (n) {
      rootDiags.push({
        span: e.span,
        severity: 'information',
        code: DiagnosticCodes.unknownReference,
        message: `Leaving out '${e.value}' also leaves out ${n} few-shot example${n === 1 ? '' : 's'} that use${n === 1 ? 's' : ''} it.`,
      });
    }
  }
  checkExamplesNeedPrinciple(rootAnalysis, definitions, rootDiags);
  checkNearDuplicates(ws, root, files, order, excludedDefs, options, rootDiags);
  const anyItems = order.some((f) => {
    const m = (files.get(f) as FileAnalysis).model;
    return m.principles.length > 0 || m.comparisons.length > 0;
  });
  if (!anyItems && rootAnalysis.model.root?.kind === 'map') {
    const name = rootAnalysis.model.name;
    rootDiags.push({
      span: name?.span ?? { start: 0, end: 0 },
      severity: 'warning',
      code: DiagnosticCodes.noPrinciples,
      message: 'This constitution has no principles and no comparisons (nor do the files it includes), so it cannot drive critique, revision or AI feedback.',
    });
  }

  return {
    root,
    files,
    order,
    definitions,
    references,
    excluded,
    spanDiagnostics: rootDiags,
    diagnostics: toDiagnostics(rootAnalysis, rootDiags, files),
    constitution,
  };
}

const defKey = (file: string, id: string) => `${file}\u0000${id}`;

/** Examples with neither a principle nor both requests: offer the principles that exist. */
function checkExamplesNeedPrinciple(fa: FileAnalysis, definitions: Map<string, Definition[]>, out: SpanDiagnostic[]): void {
  const ids = [...definitions.entries()].filter(([, ds]) => ds.some((d) => d.kind === 'principle')).map(([id]) => id);
  out.forEach((d, i) => {
    if (d.code !== DiagnosticCodes.exampleNeedsPrinciple) return;
    const ex = fa.model.examples.critique_revision.find((e) => !e.principle && e.node.span.start <= d.span.start && d.span.end <= e.node.span.end);
    if (!ex || ids.length === 0) return;
    // a copy: the file's own diagnostics are cached and shared between resolutions
    out[i] = { ...d, fixes: ids.slice(0, 8).map((id) => ({ title: `Use principle '${id}'`, edits: [insertKeyEdit(fa.text, ex.node, 'principle', id)] })) };
  });
}

const KIND_WORD: Record<DefinitionKind, string> = { principle: 'principle', comparison: 'comparison principle', example: 'example' };

function where(ws: ConstitutionWorkspace, files: Map<string, FileAnalysis> | undefined, d: Definition): string {
  const fa = files?.get(d.file) ?? ws.file(d.file);
  const line = fa ? fa.index.positionAt(d.span.start).line + 1 : 0;
  return `${ws.display(d.file)}:${line}`;
}

function checkDuplicates(
  ws: ConstitutionWorkspace,
  root: string,
  definitions: Map<string, Definition[]>,
  via: Map<string, IncludeEdge>,
  out: SpanDiagnostic[],
): void {
  const existing = new Set(definitions.keys());
  for (const [id, defs] of definitions) {
    if (defs.length < 2) continue;
    const first = defs[0] as Definition;
    defs.forEach((d, i) => {
      if (i === 0 && d.file !== root) return;
      const others = defs.filter((o) => o !== d);
      const other = (i === 0 ? others[0] : first) as Definition;
      const unique = uniqueId(id, existing);
      if (d.file === root) {
        if (i === 0 && defs.slice(1).every((o) => o.file === root)) return; // the first of several in this file is the one kept
        const fixes: QuickFix[] = [{ title: `Rename to '${unique}'`, edits: [{ span: d.span, newText: unique }], preferred: true }];
        out.push({
          span: d.span,
          severity: 'error',
          code: DiagnosticCodes.duplicateId,
          message: `Duplicate id '${id}': ${other.file === root ? 'already used' : 'also defined'} by the ${KIND_WORD[other.kind]} at ${where(ws, undefined, other)}.`,
          fixes,
          related: [{ file: other.file, span: other.span, message: `'${id}' first defined here` }],
        });
        existing.add(unique);
      } else {
        const edge = via.get(d.file)?.via;
        if (!edge || other.file === d.file) return;
        out.push({
          span: edge,
          severity: 'error',
          code: DiagnosticCodes.duplicateId,
          message: `Duplicate id '${id}' from included files: ${where(ws, undefined, other)} and ${where(ws, undefined, d)}.`,
          related: [
            { file: other.file, span: other.span, message: `'${id}' defined here` },
            { file: d.file, span: d.span, message: `and here` },
          ],
        });
      }
    });
  }
}

export function uniqueId(id: string, taken: Set<string>): string {
  const m = /^(.*?)-(\d+)$/.exec(id);
  const base = m ? (m[1] as string) : id;
  let n = m ? Number(m[2]) + 1 : 2;
  while (taken.has(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}

function checkReferences(root: FileAnalysis, definitions: Map<string, Definition[]>, out: SpanDiagnostic[]): void {
  const byKind = (kind: DefinitionKind) => [...definitions.entries()].filter(([, ds]) => ds.some((d) => d.kind === kind)).map(([id]) => id);
  for (const ref of root.model.references) {
    const defs = definitions.get(ref.id);
    const wanted: DefinitionKind[] = ref.refKind === 'any' ? ['principle', 'comparison'] : [ref.refKind];
    const ok = defs?.filter((d) => wanted.includes(d.kind)) ?? [];
    if (ok.length > 0) {
      if (ref.field === 'exclude' && ok.every((d) => d.file === root.file)) {
        out.push({
          span: ref.span,
          severity: 'warning',
          code: DiagnosticCodes.unknownReference,
          message: `'${ref.id}' is defined in this file; \`exclude\` is for ids from included files. Delete the ${KIND_WORD[ok[0]?.kind ?? 'principle']} instead.`,
          unnecessary: true,
        });
      }
      continue;
    }
    if (defs && defs.length > 0) {
      const d = defs[0] as Definition;
      out.push({
        span: ref.span,
        severity: 'error',
        code: DiagnosticCodes.wrongReferenceKind,
        message: `'${ref.id}' is ${d.kind === 'example' ? 'an example' : `a ${KIND_WORD[d.kind]}`}, but ${ref.holder} needs ${wanted.map((w) => (w === 'principle' ? 'a critique/revision principle' : `a ${KIND_WORD[w]}`)).join(' or ')}.`,
        related: [{ file: d.file, span: d.span, message: `'${ref.id}' is defined here` }],
      });
      continue;
    }
    const candidates = wanted.flatMap((k) => byKind(k));
    const s = suggest(ref.id, candidates);
    const fixes: QuickFix[] = s.map((c, i) => ({ title: `Change to '${c}'`, edits: [{ span: ref.span, newText: c }], preferred: i === 0 && s.length === 1 }));
    if (ref.refKind !== 'any' && /^[A-Za-z][A-Za-z0-9_.-]*$/.test(ref.id)) {
      const create = createDefinitionEdit(root, ref.refKind, ref.id);
      if (create) fixes.push({ title: `Create ${KIND_WORD[ref.refKind]} '${ref.id}'`, edits: [create] });
    }
    out.push({
      span: ref.span,
      severity: 'error',
      code: DiagnosticCodes.unknownReference,
      message: `Unknown ${wanted.map((w) => KIND_WORD[w]).join(' or ')} '${ref.id}'.${didYouMean(s)}`,
      fixes,
    });
  }
}

/** An edit that appends a skeleton principle or comparison to the root file's list. */
function createDefinitionEdit(fa: FileAnalysis, kind: 'principle' | 'comparison', id: string): { span: Span; newText: string } | undefined {
  const root = fa.model.root;
  if (!root || root.kind !== 'map') return undefined;
  const listKey = kind === 'principle' ? 'principles' : 'comparisons';
  const fields = kind === 'principle' ? ['critique: ""', 'revision: ""'] : ['question: ""'];
  const e = root.entries.find((x) => x.key === listKey);
  const text = fa.text;
  if (e && e.value?.kind === 'seq' && !e.value.flow && e.value.items.length > 0) {
    const firstItem = e.value.items[0] as { span: Span };
    const lineStart = text.lastIndexOf('\n', firstItem.span.start - 1) + 1;
    const dashCol = text.slice(lineStart, firstItem.span.start).lastIndexOf('-');
    const dashIndent = ' '.repeat(Math.max(0, dashCol));
    const keyIndent = ' '.repeat(firstItem.span.start - lineStart);
    const body = [`${dashIndent}- id: ${id}`, ...fields.map((f) => `${keyIndent}${f}`)].join('\n');
    let end = e.value.span.end;
    while (end > e.value.span.start && /\s/.test(text.charAt(end - 1))) end--;
    const nl = text.indexOf('\n', end);
    if (nl === -1) return { span: { start: text.length, end: text.length }, newText: `\n${body}` };
    return { span: { start: nl + 1, end: nl + 1 }, newText: `${body}\n` };
  }
  if (e) return undefined;
  const edit = insertKeyEdit(text, root, listKey, '');
  const body = `${listKey}:\n  - id: ${id}\n${fields.map((f) => `    ${f}`).join('\n')}`;
  return { span: edit.span, newText: edit.newText.replace(`${listKey}: `, body) };
}

function checkNearDuplicates(
  ws: ConstitutionWorkspace,
  root: string,
  files: Map<string, FileAnalysis>,
  order: string[],
  excludedDefs: Set<string>,
  options: AnalysisOptions,
  out: SpanDiagnostic[],
): void {
  const threshold = options.nearDuplicateThreshold ?? DEFAULT_NEAR_DUPLICATE_THRESHOLD;
  if (!(threshold > 0)) return;
  type Item = { file: string; id: string; span: Span; text: string; kind: DefinitionKind };
  const groups: Item[][] = [[], []];
  for (const f of order) {
    const m = (files.get(f) as FileAnalysis).model;
    for (const p of m.principles) {
      if (!p.id || excludedDefs.has(defKey(f, p.id.value)) || !p.critique) continue;
      groups[0]?.push({ file: f, id: p.id.value, span: p.id.span, text: `${p.critique.value} ${p.revision?.value ?? ''}`, kind: 'principle' });
    }
    for (const c of m.comparisons) {
      if (!c.id || excludedDefs.has(defKey(f, c.id.value)) || !c.question) continue;
      groups[1]?.push({ file: f, id: c.id.value, span: c.id.span, text: c.question.value, kind: 'comparison' });
    }
  }
  for (const items of groups) {
    const pairs = nearDuplicates(items.map((it, key) => ({ key, text: it.text })), threshold);
    for (const pair of pairs) {
      const a = items[pair.a] as Item;
      const b = items[pair.b] as Item;
      const [mine, other] = b.file === root ? [b, a] : a.file === root ? [a, b] : [undefined, undefined];
      if (!mine || !other) continue;
      const fa = files.get(other.file) as FileAnalysis;
      const pct = Math.round(pair.similarity * 100);
      out.push({
        span: mine.span,
        severity: 'hint',
        code: DiagnosticCodes.nearDuplicate,
        message:
          pct === 100
            ? `${capitalize(KIND_WORD[mine.kind])} '${mine.id}' says the same as '${other.id}' (${ws.display(other.file)}:${fa.index.positionAt(other.span.start).line + 1}); it doubles that principle's weight.`
            : `${capitalize(KIND_WORD[mine.kind])} '${mine.id}' is very similar to '${other.id}' (${pct}% of word pairs shared, ${ws.display(other.file)}:${fa.index.positionAt(other.span.start).line + 1}).`,
        related: [{ file: other.file, span: other.span, message: `'${other.id}'` }],
      });
    }
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function turnsData(turns: Turn[]): TurnData[] {
  return turns.map((t) => ({ role: t.role, text: t.text.value }));
}

function baseData(e: ExampleModelBase, file: string, fa: FileAnalysis) {
  const out: { id?: string; principle?: string; notes?: string; extensions: Extensions; source: { file: string; line: number } } = {
    extensions: e.extensions,
    source: { file, line: fa.index.positionAt(e.node.span.start).line + 1 },
  };
  if (e.id) out.id = e.id.value;
  if (e.principle) out.principle = e.principle.value;
  if (e.notes) out.notes = e.notes.value;
  return out;
}

/** Merges the closure into plain data: included files first, later files override options and templates. */
function merge(
  order: string[],
  files: Map<string, FileAnalysis>,
  excludedDefs: Set<string>,
  excludedIds: Set<string>,
  dropped: Map<string, number>,
): ConstitutionData {
  const c = emptyConstitution();
  const opts: Options = c.options;
  for (const f of order) {
    const fa = files.get(f) as FileAnalysis;
    const m: FileModel = fa.model;
    const line = (s: Span) => fa.index.positionAt(s.start).line + 1;
    if (m.name) c.name = m.name.value;
    if (m.version) c.version = m.version.value;
    if (m.description) c.description = m.description.value;
    for (const [k, v] of Object.entries(m.options)) {
      if (v) (opts as Record<string, unknown>)[k] = (v as { value: unknown }).value;
    }
    for (const t of m.templates) c.templates[t.name] = t.value;
    for (const p of m.principles) {
      if (!p.id || !ID_PATTERN.test(p.id.value) || excludedDefs.has(defKey(f, p.id.value))) continue;
      c.principles.push({
        id: p.id.value,
        ...(p.name ? { name: p.name.value } : {}),
        critique: p.critique?.value ?? '',
        revision: p.revision?.value ?? '',
        weight: p.weight,
        tags: p.tags.map((t) => t.value),
        ...(p.notes ? { notes: p.notes.value } : {}),
        extensions: p.extensions,
        source: { file: f, line: line(p.node.span) },
      });
    }
    for (const q of m.comparisons) {
      if (!q.id || !ID_PATTERN.test(q.id.value) || excludedDefs.has(defKey(f, q.id.value))) continue;
      c.comparisons.push({
        id: q.id.value,
        ...(q.name ? { name: q.name.value } : {}),
        question: q.question?.value ?? '',
        weight: q.weight,
        tags: q.tags.map((t) => t.value),
        ...(q.notes ? { notes: q.notes.value } : {}),
        extensions: q.extensions,
        source: { file: f, line: line(q.node.span) },
      });
    }
    // examples of a principle that is left out go with it
    const keep = (e: ExampleModelBase) => {
      const id = e.principle?.value;
      if (!id || !excludedIds.has(id)) return true;
      dropped.set(id, (dropped.get(id) ?? 0) + 1);
      return false;
    };
    for (const e of m.examples.critique_revision) {
      if (!keep(e)) continue;
      const d: CritiqueRevisionExampleData = {
        ...baseData(e, f, fa),
        conversation: turnsData(e.conversation),
        critique: e.critique?.value ?? '',
        revision: e.revision?.value ?? '',
      };
      if (e.critiqueRequest) d.critique_request = e.critiqueRequest.value;
      if (e.revisionRequest) d.revision_request = e.revisionRequest.value;
      c.examples.critique_revision.push(d);
    }
    for (const e of m.examples.comparison) {
      if (!keep(e)) continue;
      const d: ComparisonExampleData = {
        ...baseData(e, f, fa),
        conversation: turnsData(e.conversation),
        response_a: e.responseA?.value ?? '',
        response_b: e.responseB?.value ?? '',
        answer: e.answer?.value ?? 'A',
      };
      c.examples.comparison.push(d);
    }
    for (const e of m.examples.cot_comparison) {
      if (!keep(e)) continue;
      const d: CotExampleData = {
        ...baseData(e, f, fa),
        conversation: turnsData(e.conversation),
        response_a: e.responseA?.value ?? '',
        response_b: e.responseB?.value ?? '',
        answer: e.answer?.value ?? 'A',
        reasoning: e.reasoning?.value ?? '',
      };
      c.examples.cot_comparison.push(d);
    }
  }
  const root = files.get(order[order.length - 1] as string) as FileAnalysis;
  c.extensions = root.model.extensions;
  return c;
}

/** Offsets → positions, for the file that owns the diagnostics and the files related ones point into. */
export function toDiagnostics(fa: FileAnalysis, diags: SpanDiagnostic[], files: Map<string, FileAnalysis>): Diagnostic[] {
  const ix = fa.index;
  return diags.map((d) => {
    const out: Diagnostic = { file: fa.file, range: ix.range(d.span), severity: d.severity, code: d.code, message: d.message };
    if (d.fixes?.length) {
      out.fixes = d.fixes.map((f) => ({
        title: f.title,
        edits: f.edits.map((e) => ({ range: ix.range(e.span), newText: e.newText })),
        ...(f.preferred ? { preferred: true } : {}),
      }));
    }
    if (d.related?.length) {
      out.related = d.related.map((r) => {
        const other = files.get(r.file);
        return { file: r.file, range: other ? other.index.range(r.span) : { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, message: r.message };
      });
    }
    if (d.unnecessary) out.unnecessary = true;
    return out;
  });
}
