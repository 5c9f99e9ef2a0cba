import type { Span } from '../../text.js';
import type { LNode } from '../ast.js';
import type { Definition, Reference } from '../model.js';
import type { Resolution } from '../resolve.js';
import { constitutionSpec, ID_PATTERN, isExtensionKey, type FieldSpec, type Spec } from '../schema.js';
import { scanTemplate, type TemplateName } from '../templates.js';
import type { FileAnalysis } from '../validate.js';
import type { SpanEdit } from '../diagnostics.js';

export type Occurrence =
  | { kind: 'definition'; id: string; span: Span; def: Definition }
  | { kind: 'reference'; id: string; span: Span; ref: Reference }
  | { kind: 'include'; path: string; span: Span }
  | { kind: 'placeholder'; name: string; span: Span; template: TemplateName }
  | { kind: 'key'; key: string; span: Span; field: FieldSpec; path: string[] };

const within = (s: Span, o: number) => o >= s.start && o <= s.end;

/** What stands at an offset: an id, a reference, an include path, a placeholder or a key. */
export function occurrenceAt(fa: FileAnalysis, offset: number): Occurrence | undefined {
  const m = fa.model;
  for (const d of m.definitions) if (within(d.span, offset)) return { kind: 'definition', id: d.id, span: d.span, def: d };
  for (const r of m.references) if (within(r.span, offset)) return { kind: 'reference', id: r.id, span: r.span, ref: r };
  for (const inc of m.includes) if (within(inc.span, offset)) return { kind: 'include', path: inc.path, span: inc.span };
  for (const t of m.templates) {
    if (!within(t.node.span, offset)) continue;
    const raw = fa.text.slice(t.node.span.start, t.node.span.end);
    for (const p of scanTemplate(raw)) {
      const span = { start: t.node.span.start + p.span.start, end: t.node.span.start + p.span.end };
      if (p.kind === 'placeholder' && within(span, offset)) return { kind: 'placeholder', name: p.name, span, template: t.name };
    }
  }
  return keyAt(m.root, offset);
}

function keyAt(root: LNode | undefined, offset: number): Occurrence | undefined {
  let node = root;
  let spec: Spec | undefined = constitutionSpec;
  const path: string[] = [];
  for (let depth = 0; node && spec && depth < 64; depth++) {
    if (node.kind === 'map' && spec.type === 'object') {
      let next: { node: LNode | undefined; spec: Spec | undefined } | undefined;
      for (const e of node.entries) {
        const f: FieldSpec | undefined = isExtensionKey(e.key) ? undefined : spec.fields[e.key];
        if (within(e.keySpan, offset)) return f ? { kind: 'key', key: e.key, span: e.keySpan, field: f, path: [...path, e.key] } : undefined;
        if (e.value && within(e.value.span, offset)) next = { node: e.value, spec: f?.spec };
        if (next) {
          path.push(e.key);
          break;
        }
      }
      if (!next) return undefined;
      node = next.node;
      spec = next.spec;
    } else if (node.kind === 'seq' && spec.type === 'array') {
      const item: LNode | undefined = node.items.find((i) => within(i.span, offset));
      if (!item) return undefined;
      path.push('*');
      node = item;
      spec = spec.items;
    } else return undefined;
  }
  return undefined;
}

/** The definitions an id refers to, seen from a resolution (several when it is a duplicate). */
export function definitionsOf(res: Resolution, id: string): Definition[] {
  return res.definitions.get(id) ?? [];
}

export interface Location {
  file: string;
  span: Span;
}

const key = (l: Location) => `${l.file}\u0000${l.span.start}`;

/**
 * Every place an id is written — definitions and references — across all resolutions that see
 * the same definition. `resolutions` are the resolutions of every known constitution file.
 */
export function occurrencesOf(resolutions: Resolution[], def: Definition): { definitions: Location[]; references: Location[] } {
  const defs = new Map<string, Location>();
  const refs = new Map<string, Location>();
  for (const res of resolutions) {
    if (!res.files.has(def.file)) continue;
    const seen = res.definitions.get(def.id) ?? [];
    if (!seen.some((d) => d.file === def.file && d.span.start === def.span.start)) continue;
    for (const d of seen) if (d.kind === def.kind) defs.set(key(d), { file: d.file, span: d.span });
    for (const r of res.references) {
      if (r.id !== def.id) continue;
      const kinds = r.refKind === 'any' ? ['principle', 'comparison'] : [r.refKind];
      if (!kinds.includes(def.kind)) continue;
      refs.set(key(r), { file: r.file, span: r.span });
    }
  }
  return { definitions: [...defs.values()], references: [...refs.values()] };
}

/** The definition an occurrence stands for, if any. */
export function targetDefinition(res: Resolution, occ: Occurrence): Definition | undefined {
  if (occ.kind === 'definition') return occ.def;
  if (occ.kind !== 'reference') return undefined;
  const kinds = occ.ref.refKind === 'any' ? ['principle', 'comparison'] : [occ.ref.refKind];
  return (res.definitions.get(occ.id) ?? []).find((d) => kinds.includes(d.kind));
}

export type RenameResult = { ok: true; edits: Map<string, SpanEdit[]> } | { ok: false; message: string };

/** Edits that rename an id everywhere it is written; refuses ids that are invalid or taken. */
export function renameId(resolutions: Resolution[], def: Definition, newId: string): RenameResult {
  if (!ID_PATTERN.test(newId)) {
    return { ok: false, message: `'${newId}' is not a valid id: use letters, digits, '_', '.', '-', starting with a letter.` };
  }
  if (newId === def.id) return { ok: true, edits: new Map() };
  for (const res of resolutions) {
    if (!res.files.has(def.file)) continue;
    const taken = res.definitions.get(newId);
    if (taken && taken.length) {
      const t = taken[0] as Definition;
      return { ok: false, message: `'${newId}' already exists (${t.kind} in ${t.file}); pick another id.` };
    }
  }
  const occ = occurrencesOf(resolutions, def);
  const edits = new Map<string, SpanEdit[]>();
  for (const l of [...occ.definitions, ...occ.references]) {
    const list = edits.get(l.file) ?? [];
    list.push({ span: l.span, newText: newId });
    edits.set(l.file, list);
  }
  return { ok: true, edits };
}
