// Where the cursor is in a run file (`*.run.yaml`), as plain data: which field path a key or value
// belongs to (from the located YAML tree, for hover and navigation), and what is being typed (from
// indentation, for completion, so that half-typed lines still complete). Pure: no Node, no editor.

import type { LEntry, LMap, LNode, LScalar } from '../constitution/ast.js';
import type { Span } from '../text.js';
import { runFieldAt, type RunFieldSpec, type RunObjectSpec } from './config.js';

/** A key or a scalar value of the tree, with the path of keys leading to it. */
export type RunNodeAt =
  | { kind: 'key'; path: string[]; span: Span; entry: LEntry }
  | { kind: 'value'; path: string[]; span: Span; node: LScalar };

const within = (s: Span, offset: number) => s.start <= offset && offset <= s.end;

/**
 * The key or scalar value at `offset` (a position just after the last character counts). List
 * items add their index to the path (`stages.feedback.clamp.1`).
 */
export function runNodeAt(root: LNode | undefined, offset: number): RunNodeAt | undefined {
  const walk = (node: LNode, path: string[]): RunNodeAt | undefined => {
    if (node.kind === 'scalar') return within(node.span, offset) ? { kind: 'value', path, span: node.span, node } : undefined;
    if (node.kind === 'seq') {
      for (let i = 0; i < node.items.length; i++) {
        const item = node.items[i] as LNode;
        if (within(item.span, offset)) return walk(item, [...path, String(i)]);
      }
      return undefined;
    }
    for (const e of node.entries) {
      if (within(e.keySpan, offset)) return { kind: 'key', path: [...path, e.key], span: e.keySpan, entry: e };
      if (e.value && within(e.value.span, offset)) {
        const r = walk(e.value, [...path, e.key]);
        if (r) return r;
      }
    }
    return undefined;
  };
  return root ? walk(root, []) : undefined;
}

/** The entry of a mapping at a path of keys, if the tree has it. */
export function runEntryAt(root: LNode | undefined, path: readonly string[]): LEntry | undefined {
  let node: LNode | undefined = root;
  let entry: LEntry | undefined;
  for (const key of path) {
    if (node?.kind !== 'map') return undefined;
    entry = node.entries.find((e) => e.key === key);
    node = entry?.value;
  }
  return entry;
}

/** The mapping at a path of keys, if there is one. */
export function runMapAt(root: LNode | undefined, path: readonly string[]): LMap | undefined {
  const node = path.length === 0 ? root : runEntryAt(root, path)?.value;
  return node?.kind === 'map' ? node : undefined;
}

/** The fields of a learning-rate schedule written as a mapping (`{kind: cosine, …}`). */
export const SCHEDULE_FIELDS: RunObjectSpec = {
  type: 'object',
  doc: 'A learning-rate schedule.',
  fields: {
    kind: { type: 'string', required: true, enum: ['constant', 'linear-warmup', 'cosine'], doc: 'The schedule: `constant`, `linear-warmup` (rises linearly over `warmupSteps`, then stays) or `cosine` (warm-up, then a cosine decay to `minRatio` at `totalSteps`).' },
    warmupSteps: { type: 'number', integer: true, minimum: 0, doc: 'Steps of linear warm-up from 0 to the full learning rate (`linear-warmup`, `cosine`).' },
    totalSteps: { type: 'number', integer: true, minimum: 0, doc: 'cosine: the step at which the decay ends; must exceed `warmupSteps`.' },
    minRatio: { type: 'number', minimum: 0, maximum: 1, doc: 'cosine: the learning rate at the end, as a share of the full one.' },
  },
};

/**
 * The spec at a path of keys as written in the file: `models.<any name>` walks into the entries
 * of `models`, a list index walks into a tuple's items, and a schedule's mapping has the fields
 * of SCHEDULE_FIELDS.
 */
export function runSpecAt(path: readonly string[]): RunFieldSpec | undefined {
  const last = path[path.length - 1];
  if (last !== undefined && /^\d+$/.test(last)) {
    const parent = runSpecAt(path.slice(0, -1));
    return parent?.type === 'tuple' ? parent.items[Number(last)] : undefined;
  }
  const parent = path.length > 0 ? runSpecAt(path.slice(0, -1)) : undefined;
  if (parent?.type === 'schedule' && last !== undefined) return SCHEDULE_FIELDS.fields[last];
  return runFieldAt(path);
}

// ---------------------------------------------------------------------------------------------
// Completion context, from indentation.

export type RunCompletionContext =
  /** A key of the mapping at `path` is being typed; `present` are the keys it already has. */
  | { kind: 'key'; path: string[]; present: Set<string>; replace: Span; indent: number; flow: boolean }
  /** The value of the field at `path` is being typed (`typed`: the text before the cursor). */
  | { kind: 'value'; path: string[]; typed: string; replace: Span; quote?: '"' | "'"; /** `key:|` with no space yet: insert one before the value. */ space?: boolean };

const KEY_LINE = /^( *)([A-Za-z_$"'][\w$.'"-]*)\s*:(?=\s|$)(.*)$/;

interface Line {
  indent: number;
  key?: string;
  rest: string;
  blank: boolean;
  dash: boolean;
}

function readLine(raw: string): Line {
  const line = raw.replace(/\r$/, '');
  const trimmed = line.trim();
  const indent = line.length - line.trimStart().length;
  if (trimmed === '' || trimmed.startsWith('#')) return { indent, rest: '', blank: true, dash: false };
  const m = KEY_LINE.exec(line);
  if (!m) return { indent, rest: trimmed, blank: false, dash: trimmed.startsWith('-') };
  return { indent, key: (m[2] as string).replace(/^["']|["']$/g, ''), rest: (m[3] ?? '').trim(), blank: false, dash: false };
}

/** The keys of the block mappings that enclose column `col` of the line starting at `lineStart`. */
function parentsAbove(text: string, lineStart: number, col: number): string[] {
  const path: string[] = [];
  let target = col;
  let end = lineStart - 1;
  while (end >= 0 && target > 0) {
    const start = end > 0 ? text.lastIndexOf('\n', end - 1) + 1 : 0;
    const info = readLine(text.slice(start, end));
    end = start - 1;
    if (info.blank || info.indent >= target) continue;
    if (info.key === undefined) break;
    path.unshift(info.key);
    target = info.indent;
  }
  return path;
}

/** Keys at column `col` in the block around the line at `lineStart` (above and below). */
function siblingKeys(text: string, lineStart: number, col: number): Set<string> {
  const out = new Set<string>();
  const scan = (lines: string[]) => {
    for (const raw of lines) {
      const info = readLine(raw);
      if (info.blank || info.indent > col) continue;
      if (info.indent < col) break;
      if (info.key !== undefined) out.add(info.key);
    }
  };
  const lineEnd = text.indexOf('\n', lineStart);
  if (lineStart > 0) scan(text.slice(0, lineStart - 1).split('\n').reverse());
  if (lineEnd !== -1) scan(text.slice(lineEnd + 1).split('\n'));
  return out;
}

const WORD = /[\w$.-]/;
/** Characters of a value being typed (paths included). */
const VALUE_CHAR = /[^\s,{}[\]#"']/;

function spanAround(text: string, offset: number, re: RegExp): Span {
  let s = offset;
  while (s > 0 && re.test(text.charAt(s - 1))) s--;
  let e = offset;
  while (e < text.length && re.test(text.charAt(e))) e++;
  return { start: s, end: e };
}

/**
 * What is being typed at `offset`: a key of some mapping or the value of some field, with the
 * path of keys leading to it. Block mappings are found by indentation; a flow mapping on the
 * cursor's line (`redTeam: { path: data/|`) is followed too. Undefined inside comments and
 * multi-line values.
 */
export function runCompletionContext(text: string, offset: number): RunCompletionContext | undefined {
  const lineStart = offset > 0 ? text.lastIndexOf('\n', offset - 1) + 1 : 0;
  const prefix = text.slice(lineStart, offset);
  if (/^\s*#/.test(prefix)) return undefined;

  const keyTyping = /^( *)([\w$.-]*)$/.exec(prefix);
  if (keyTyping) {
    const indent = (keyTyping[1] as string).length;
    // the cursor inside a multi-line value: the nearest key above has its value on its line
    const path = parentsAbove(text, lineStart, indent);
    if (indent > 0 && path.length === 0) return undefined;
    const present = siblingKeys(text, lineStart, indent);
    return { kind: 'key', path, present, replace: spanAround(text, offset, WORD), indent, flow: false };
  }

  const valueTyping = /^( *)([A-Za-z_$][\w$.-]*|"[^"]*"|'[^']*')\s*:(?:\s+(.*))?$/.exec(prefix);
  if (!valueTyping) return undefined;
  const indent = (valueTyping[1] as string).length;
  const key = (valueTyping[2] as string).replace(/^["']|["']$/g, '');
  const path = [...parentsAbove(text, lineStart, indent), key];
  const typed = valueTyping[3] ?? '';
  if (/^[{[]/.test(typed)) return flowContext(text, offset, path, typed, indent);
  if (/^[|>&*!]/.test(typed)) return undefined;
  const ctx = valueContext(text, offset, path, typed);
  return prefix.endsWith(':') && ctx.kind === 'value' ? { ...ctx, space: true } : ctx;
}

function valueContext(text: string, offset: number, path: string[], typed: string): RunCompletionContext {
  const q = /^["']/.exec(typed)?.[0] as '"' | "'" | undefined;
  if (q) {
    let end = offset;
    while (end < text.length && text.charAt(end) !== q && text.charAt(end) !== '\n') end++;
    return { kind: 'value', path, typed: typed.slice(1), replace: { start: offset - typed.length + 1, end }, quote: q };
  }
  const span = spanAround(text, offset, VALUE_CHAR);
  return { kind: 'value', path, typed: text.slice(span.start, offset), replace: span };
}

/** Follows `{`, `[`, `,` and `key:` through the flow collection typed before the cursor. */
function flowContext(text: string, offset: number, path: string[], typed: string, indent: number): RunCompletionContext | undefined {
  interface Frame {
    kind: 'map' | 'seq';
    path: string[];
    present: Set<string>;
    key?: string;
    afterColon: boolean;
    index: number;
  }
  const stack: Frame[] = [];
  let token = '';
  let quote: string | undefined;
  for (const c of typed) {
    if (quote) {
      if (c === quote) quote = undefined;
      continue;
    }
    const top = stack[stack.length - 1];
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    if (c === '{' || c === '[') {
      const base = top ? (top.kind === 'map' ? (top.key !== undefined ? [...top.path, top.key] : top.path) : [...top.path, String(top.index)]) : path;
      stack.push({ kind: c === '{' ? 'map' : 'seq', path: base, present: new Set(), afterColon: false, index: 0 });
      token = '';
    } else if (c === '}' || c === ']') {
      stack.pop();
      token = '';
    } else if (!top) {
      return undefined; // text after the flow collection closed
    } else if (c === ',') {
      if (top.kind === 'seq') top.index++;
      top.key = undefined;
      top.afterColon = false;
      token = '';
    } else if (c === ':' && top.kind === 'map' && !top.afterColon) {
      top.key = token.trim();
      top.present.add(top.key);
      top.afterColon = true;
      token = '';
    } else token += c;
  }
  const top = stack[stack.length - 1];
  if (!top || quote) return undefined;
  if (top.kind === 'map' && !top.afterColon) {
    const after = spanAround(text, offset, WORD);
    // keys written after the cursor on the same line count as present too
    const lineEnd = text.indexOf('\n', offset);
    for (const m of text.slice(after.end, lineEnd === -1 ? text.length : lineEnd).matchAll(/([\w$.-]+)\s*:/g)) top.present.add(m[1] as string);
    return { kind: 'key', path: top.path, present: top.present, replace: after, indent, flow: true };
  }
  const valuePath = top.kind === 'map' ? [...top.path, top.key as string] : [...top.path, String(top.index)];
  return valueContext(text, offset, valuePath, token.trimStart());
}

/** Names of the entries of `models`, from the tree when it has them, else from indentation. */
export function runModelNames(root: LNode | undefined, text: string): string[] {
  const map = runMapAt(root, ['models']);
  if (map) return map.entries.map((e) => e.key);
  const lines = text.split('\n');
  const out: string[] = [];
  const at = lines.findIndex((l) => /^models\s*:\s*(#.*)?$/.test(l.replace(/\r$/, '')));
  if (at === -1) return out;
  let col = -1;
  for (const raw of lines.slice(at + 1)) {
    const info = readLine(raw);
    if (info.blank) continue;
    if (info.indent === 0) break;
    if (col === -1) col = info.indent;
    if (info.indent === col && info.key !== undefined) out.push(info.key);
  }
  return out;
}
