import type { Span } from '../../text.js';
import type { Definition } from '../model.js';
import type { ConstitutionWorkspace, Resolution } from '../resolve.js';
import { constitutionSpec, isExtensionKey, type ObjectSpec, type Spec } from '../schema.js';
import { PLACEHOLDERS, TEMPLATES, type TemplateName } from '../templates.js';
import { escapeMarkdown } from './hover.js';

export type CompletionKind = 'property' | 'value' | 'reference' | 'placeholder' | 'tag' | 'file' | 'keyword';

export interface CompletionItem {
  label: string;
  kind: CompletionKind;
  detail?: string;
  /** Markdown. */
  documentation?: string;
  insertText: string;
  /** insertText uses snippet syntax ($1, $0). */
  snippet?: boolean;
  /** What the item replaces (the word being typed). */
  replace: Span;
  sortText?: string;
  filterText?: string;
  /** An id whose documentation `idDocumentation` gives on request (kept out of long lists). */
  docId?: string;
}

export interface CompletionOptions {
  /** Constitution files known in the workspace, offered for `include`. */
  files?: string[];
  /** How to write `to` relative to the folder of `from` (for include paths). */
  relative?(from: string, to: string): string;
}

interface LineInfo {
  indent: number;
  dashes: number[];
  /** Column just after the last dash marker (where the item's content starts). */
  contentCol: number;
  key?: string;
  keyCol: number;
  hasColon: boolean;
  rest: string;
  blank: boolean;
}

const LINE = /^( *)((?:- +)*)([A-Za-z_$][\w$.-]*|"[^"]*"|'[^']*')?(\s*:(?=\s|$))?([\s\S]*)$/;

function parseLine(line: string): LineInfo {
  const m = LINE.exec(line) ?? (['', '', '', undefined, undefined, line] as unknown as RegExpExecArray);
  const indent = (m[1] ?? '').length;
  const dashPart = m[2] ?? '';
  const dashes: number[] = [];
  for (let i = 0; i < dashPart.length; i++) if (dashPart[i] === '-') dashes.push(indent + i);
  const contentCol = indent + dashPart.length;
  const rawKey = m[3];
  const hasColon = Boolean(m[4]);
  const trimmed = line.trim();
  return {
    indent,
    dashes,
    contentCol,
    key: rawKey && hasColon ? rawKey.replace(/^["']|["']$/g, '') : undefined,
    keyCol: contentCol,
    hasColon,
    rest: hasColon ? (m[5] ?? '').trim() : `${rawKey ?? ''}${m[5] ?? ''}`.trim(),
    blank: trimmed === '' || trimmed.startsWith('#'),
  };
}

interface Context {
  /** Path of keys and '*' (list items) down to the mapping/list that holds the cursor. */
  path: string[];
  /** Keys already present beside the cursor. */
  siblings: Set<string>;
  /** Inside the value of the last key of `path` on a later line (block or multi-line text). */
  insideScalar: boolean;
}

/** Walks up from a line to find the chain of keys and list items above a column. */
function contextAbove(text: string, lineStart: number, col: number, ownDashes: number[]): Context {
  const path: string[] = [];
  const siblings = new Set<string>();
  let target = col;
  let allowEqual = false;
  let insideScalar = false;
  for (let i = ownDashes.length - 1; i >= 0; i--) {
    path.unshift('*');
    target = ownDashes[i] as number;
    allowEqual = true;
  }
  let end = lineStart - 1;
  // siblings belong to the cursor's own mapping: stop collecting once we have moved up
  let collecting = ownDashes.length === 0;
  // at the top level only siblings are left to find, so keep going to the first line
  while (end >= 0) {
    if (!collecting && target === 0 && !allowEqual) break;
    const start = end > 0 ? text.lastIndexOf('\n', end - 1) + 1 : 0;
    const raw = text.slice(start, end).replace(/\r$/, '');
    end = start - 1;
    // fast skip: lines indented deeper than what we look for
    let sp = 0;
    while (sp < raw.length && raw.charCodeAt(sp) === 32) sp++;
    if (sp > target && sp < raw.length) continue;
    const info = parseLine(raw);
    if (info.blank) continue;
    let consumed = false;
    if (info.key !== undefined) {
      if (info.keyCol === target && !allowEqual) {
        if (collecting) siblings.add(info.key);
      } else if (info.keyCol < target || (allowEqual && info.keyCol === target && info.dashes.length === 0)) {
        // the first key above us, with a value on its own line (`key: |`, `key: some text`):
        // we are inside that value, not in a mapping under it
        if (path.length === 0 && ownDashes.length === 0 && info.keyCol < target && info.rest !== '' && !/^[[{&*#]/.test(info.rest)) {
          insideScalar = true;
        }
        path.unshift(info.key);
        target = info.keyCol;
        allowEqual = false;
        consumed = true;
        collecting = false;
      } else if (info.keyCol > target) {
        continue;
      }
    }
    for (let i = info.dashes.length - 1; i >= 0; i--) {
      const d = info.dashes[i] as number;
      const content = i === info.dashes.length - 1 ? info.contentCol : (info.dashes[i + 1] as number);
      if (!allowEqual && content === target) {
        path.unshift('*');
        target = d;
        allowEqual = true;
        collecting = false;
      } else if (allowEqual && d === target && !consumed) {
        break; // a sibling item of the same list
      }
    }
  }
  return { path, siblings, insideScalar };
}

function siblingsBelow(text: string, from: number, col: number, into: Set<string>): void {
  let pos = from;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const raw = text.slice(pos, nl === -1 ? text.length : nl).replace(/\r$/, '');
    pos = nl === -1 ? text.length : nl + 1;
    const info = parseLine(raw);
    if (info.blank) continue;
    if (info.indent < col || (info.dashes.length > 0 && (info.dashes[0] as number) < col)) break;
    if (info.dashes.length > 0 && info.dashes[0] === col) break;
    if (info.key !== undefined && info.keyCol === col) into.add(info.key);
  }
}

function specAt(path: string[]): Spec | undefined {
  let spec: Spec | undefined = constitutionSpec;
  for (const p of path) {
    if (!spec) return undefined;
    if (p === '*') spec = spec.type === 'array' ? spec.items : undefined;
    else spec = spec.type === 'object' ? spec.fields[p]?.spec : undefined;
  }
  return spec;
}

function wordSpan(text: string, offset: number): Span {
  let s = offset;
  while (s > 0 && /[\w.$/-]/.test(text.charAt(s - 1))) s--;
  let e = offset;
  while (e < text.length && /[\w.$/-]/.test(text.charAt(e))) e++;
  return { start: s, end: e };
}

/**
 * Completion at an offset. Works on the current text (the resolution may be one edit behind):
 * the position's context comes from indentation, so half-typed, unparsable lines still complete.
 */
export function complete(
  ws: ConstitutionWorkspace,
  res: Resolution | undefined,
  text: string,
  file: string,
  offset: number,
  options: CompletionOptions = {},
): CompletionItem[] {
  const lineStart = offset > 0 ? text.lastIndexOf('\n', offset - 1) + 1 : 0;
  const prefix = text.slice(lineStart, offset);
  const info = parseLine(prefix);

  // placeholders: `{` typed inside a template value
  const ph = /\{([A-Za-z_]*)$/.exec(prefix);
  if (ph && !/\{\{[A-Za-z_]*$/.test(prefix)) {
    const ctx = prefix.trim().startsWith('#') ? undefined : contextAbove(text, lineStart, info.hasColon ? info.keyCol : info.indent + 1, []);
    let template: TemplateName | undefined;
    if (info.key && info.hasColon && ctx && ctx.path.length === 1 && ctx.path[0] === 'templates' && info.key in TEMPLATES) template = info.key as TemplateName;
    else if (ctx && ctx.path.length === 2 && ctx.path[0] === 'templates' && (ctx.path[1] as string) in TEMPLATES) template = ctx.path[1] as TemplateName;
    if (template) {
      const closeAfter = text.charAt(offset) === '}';
      const replace = { start: offset - (ph[1] ?? '').length, end: offset + (closeAfter ? 1 : 0) };
      return (TEMPLATES[template].allowed as readonly string[]).map((name, i) => ({
        label: `{${name}}`,
        filterText: name,
        kind: 'placeholder' as const,
        detail: `placeholder of ${template}`,
        documentation: PLACEHOLDERS[name as keyof typeof PLACEHOLDERS],
        insertText: `${name}}`,
        replace,
        sortText: String(i).padStart(2, '0'),
      }));
    }
  }

  // a key being typed: `  crit|` or `  - |`
  const keyTyping = /^( *)((?:- +)*)([\w$.-]*)$/.exec(prefix);
  if (keyTyping) {
    const col = (keyTyping[1] ?? '').length + (keyTyping[2] ?? '').length;
    const ownDashes = info.dashes;
    const ctx = contextAbove(text, lineStart, col, ownDashes);
    if (ctx.insideScalar) return [];
    const nl = text.indexOf('\n', offset);
    siblingsBelow(text, nl === -1 ? text.length : nl + 1, col, ctx.siblings);
    const spec = specAt(ctx.path);
    const replace = wordSpan(text, offset);
    if (spec?.type === 'object') return keyItems(spec, ctx.siblings, col, replace);
    // an item of a list of scalars (include, exclude, tags)
    if (spec && spec.type !== 'array' && ctx.path[ctx.path.length - 1] === '*') return valueItems(ws, res, spec, ctx.path, file, replace, options);
    return [];
  }

  // a value being typed: `key: val|` or `key: [a, b|`
  const valueTyping = /^( *)((?:- +)*)([A-Za-z_$][\w$.-]*)\s*:\s+(.*)$/.exec(prefix) ?? /^( *)((?:- +)*)([A-Za-z_$][\w$.-]*):()$/.exec(prefix);
  if (valueTyping) {
    const col = (valueTyping[1] ?? '').length + (valueTyping[2] ?? '').length;
    const ctx = contextAbove(text, lineStart, col, info.dashes);
    const key = valueTyping[3] as string;
    let spec = specAt([...ctx.path, key]);
    const typed = valueTyping[4] ?? '';
    const path = [...ctx.path, key];
    if (spec?.type === 'array' && /^\[/.test(typed)) {
      spec = spec.items;
      path.push('*');
    } else if (/^[[{|>"']/.test(typed) && !(spec?.type === 'string' && spec.role === 'template' && typed === '')) {
      if (!/^["']/.test(typed) || spec?.type !== 'string') return [];
    }
    if (!spec || spec.type === 'object' || spec.type === 'array') return [];
    const replace = /^["']/.test(typed) ? { start: offset - typed.length, end: offset } : wordSpan(text, offset);
    return valueItems(ws, res, spec, path, file, replace, options);
  }
  return [];
}

function keyItems(spec: ObjectSpec, present: Set<string>, col: number, replace: Span): CompletionItem[] {
  const out: CompletionItem[] = [];
  const inner = ' '.repeat(col + 2);
  let i = 0;
  for (const [key, f] of Object.entries(spec.fields)) {
    i++;
    if (present.has(key) || isExtensionKey(key)) continue;
    const s = f.spec;
    let insertText: string;
    if (s.type === 'object') insertText = `${key}:\n${inner}$0`;
    else if (s.type === 'array' && s.items.type === 'object') insertText = `${key}:\n${inner}- $0`;
    else if (s.type === 'array') insertText = `${key}: [$0]`;
    else if (s.type === 'boolean') insertText = `${key}: \${1|${s.default === false ? 'false,true' : 'true,false'}|}`;
    else if (s.type === 'number' && s.default !== undefined) insertText = `${key}: \${1:${s.default}}`;
    else if (s.type === 'string' && s.enum) insertText = `${key}: \${1|${s.enum.join(',')}|}`;
    else insertText = `${key}: $0`;
    out.push({
      label: key,
      kind: 'property',
      detail: `${f.required ? 'required · ' : ''}${spec.title}`,
      documentation: s.doc,
      insertText,
      snippet: true,
      replace,
      // required keys first, then the order of the format
      sortText: `${f.required ? '0' : '1'}${String(i).padStart(2, '0')}`,
    });
  }
  return out;
}

function idItems(res: Resolution | undefined, kinds: Definition['kind'][], replace: Span, excludeRoot?: string): CompletionItem[] {
  if (!res) return [];
  const out: CompletionItem[] = [];
  for (const [id, defs] of res.definitions) {
    const d = defs.find((x) => kinds.includes(x.kind));
    if (!d || (excludeRoot && d.file === excludeRoot)) continue;
    const fa = res.files.get(d.file);
    const p = d.kind === 'principle' ? fa?.model.principles[d.index] : undefined;
    const q = d.kind === 'comparison' ? fa?.model.comparisons[d.index] : undefined;
    out.push({
      label: id,
      kind: 'reference',
      detail: `${d.kind}${p?.name ? ` — ${p.name.value}` : q?.name ? ` — ${q.name.value}` : ''}`,
      docId: id,
      insertText: id,
      replace,
    });
  }
  return out;
}

/** The documentation of an id completion: the principle's or comparison's text. */
export function idDocumentation(res: Resolution | undefined, id: string): string | undefined {
  const d = res?.definitions.get(id)?.[0];
  if (!res || !d) return undefined;
  const fa = res.files.get(d.file);
  const p = d.kind === 'principle' ? fa?.model.principles[d.index] : undefined;
  const q = d.kind === 'comparison' ? fa?.model.comparisons[d.index] : undefined;
  const parts = [p?.critique?.value, p?.revision?.value, q?.question?.value].filter((x): x is string => Boolean(x));
  return parts.length ? parts.map(escapeMarkdown).join('\n\n') : undefined;
}

function valueItems(
  ws: ConstitutionWorkspace,
  res: Resolution | undefined,
  spec: Spec,
  path: string[],
  file: string,
  replace: Span,
  options: CompletionOptions,
): CompletionItem[] {
  if (spec.type === 'boolean') {
    return ['true', 'false'].map((v) => ({ label: v, kind: 'keyword' as const, insertText: v, replace, documentation: spec.doc }));
  }
  if (spec.type === 'number') {
    return spec.default !== undefined ? [{ label: String(spec.default), kind: 'value', detail: 'default', insertText: String(spec.default), replace }] : [];
  }
  if (spec.type !== 'string') return [];
  if (spec.enum) return spec.enum.map((v) => ({ label: v, kind: 'value' as const, insertText: v, replace, documentation: spec.doc }));
  if (spec.role === 'ref') {
    const kinds: Definition['kind'][] = spec.refKind === 'any' ? ['principle', 'comparison'] : [spec.refKind ?? 'principle'];
    return idItems(res, kinds, replace, spec.refKind === 'any' ? file : undefined);
  }
  if (spec.role === 'tag') {
    const tags = new Map<string, number>();
    for (const fa of res?.files.values() ?? []) {
      for (const p of [...fa.model.principles, ...fa.model.comparisons]) for (const t of p.tags) tags.set(t.value, (tags.get(t.value) ?? 0) + 1);
    }
    return [...tags].map(([t, n]) => ({ label: t, kind: 'tag' as const, detail: `used ${n}×`, insertText: t, replace }));
  }
  if (spec.role === 'path' && path[0] === 'include') {
    const already = new Set(res?.files.keys() ?? []);
    return (options.files ?? [])
      .filter((f) => f !== file && !already.has(f))
      .map((f) => {
        const rel = options.relative ? options.relative(file, f) : f;
        const fa = ws.file(f);
        return { label: rel, kind: 'file' as const, detail: fa?.model.name?.value, insertText: rel, replace };
      });
  }
  if (spec.role === 'template' && spec.template) {
    const d = TEMPLATES[spec.template].default;
    return [{ label: 'built-in default', kind: 'value', detail: spec.template, documentation: `\`\`\`text\n${d}\n\`\`\``, insertText: JSON.stringify(d), replace, filterText: `"${d}` }];
  }
  return [];
}
