import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import type { Span } from '../text.js';
import { DiagnosticCodes, type SpanDiagnostic } from './diagnostics.js';

/**
 * A compact, located view of a YAML document: every value keeps the span it came from, every
 * mapping keeps its keys' spans. Validation, navigation and completion read this tree rather
 * than yaml's own AST so that aliases, flow/block styles and broken input all look the same.
 */
export type LNode = LScalar | LMap | LSeq;

export interface LScalar {
  kind: 'scalar';
  value: string | number | boolean | null;
  /** yaml's scalar type: PLAIN, QUOTE_DOUBLE, QUOTE_SINGLE, BLOCK_LITERAL, BLOCK_FOLDED. */
  style: string | undefined;
  span: Span;
}

export interface LEntry {
  key: string;
  keySpan: Span;
  value: LNode | undefined;
  /** From the start of the key to the end of the value. */
  span: Span;
}

export interface LMap {
  kind: 'map';
  entries: LEntry[];
  flow: boolean;
  span: Span;
}

export interface LSeq {
  kind: 'seq';
  items: LNode[];
  flow: boolean;
  span: Span;
}

export interface ParsedYaml {
  root: LNode | undefined;
  diagnostics: SpanDiagnostic[];
  /** yaml's document, kept for formatting (comments live there). */
  document: Document.Parsed | undefined;
}

const MAX_DEPTH = 64;
/** Flow nesting (`[[[…`) and block prefixes (`- - - …`, deep indentation) beyond which we do not parse. */
const MAX_FLOW_NESTING = 256;
const MAX_BLOCK_PREFIX = 512;
/** Values that aliases may produce in all (a "billion laughs" file would otherwise take forever). */
const MAX_ALIAS_NODES = 50_000;

/**
 * True for text nested so deeply that parsing it would exhaust the stack (yaml recurses per
 * level). Counts brackets everywhere, even in strings, which only errs on the safe side.
 */
export function tooDeep(text: string): boolean {
  let depth = 0;
  let lineStart = true;
  let prefix = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      lineStart = true;
      prefix = 0;
      continue;
    }
    if (lineStart) {
      // spaces, tabs, and the markers of nested block collections
      if (c === 32 || c === 9 || c === 45 || c === 63 || c === 58) {
        if (++prefix > MAX_BLOCK_PREFIX) return true;
      } else lineStart = false;
    }
    if (c === 91 || c === 123) {
      if (++depth > MAX_FLOW_NESTING) return true;
    } else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return false;
}

function nodeSpan(node: YamlNode | null | undefined, fallback: Span): Span {
  const r = node?.range;
  if (!r) return fallback;
  return { start: r[0], end: Math.max(r[0], r[1]) };
}

/** yaml reports some errors at positions past the end of the text; keep them inside. */
function clampSpan(span: Span, length: number): Span {
  const start = Math.max(0, Math.min(span.start, length));
  return { start, end: Math.max(start, Math.min(span.end, length)) };
}

export function parseYaml(text: string): ParsedYaml {
  const diagnostics: SpanDiagnostic[] = [];
  if (tooDeep(text)) {
    diagnostics.push({
      span: { start: 0, end: Math.min(text.length, 1) },
      severity: 'error',
      code: DiagnosticCodes.yamlSyntax,
      message: `The file nests more than ${MAX_FLOW_NESTING} levels deep and is not read.`,
    });
    return { root: undefined, diagnostics, document: undefined };
  }
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, {
      keepSourceTokens: false,
      prettyErrors: false,
      uniqueKeys: true,
      strict: true,
    }) as Document.Parsed[];
  } catch (e) {
    diagnostics.push({
      span: { start: 0, end: 0 },
      severity: 'error',
      code: DiagnosticCodes.yamlSyntax,
      message: `YAML could not be parsed: ${(e as Error).message}`,
    });
    return { root: undefined, diagnostics, document: undefined };
  }
  if (!Array.isArray(docs)) docs = [docs as unknown as Document.Parsed];
  const doc = docs[0];
  for (const extra of docs.slice(1)) {
    const r = extra.range ?? [0, 0, 0];
    if (extra.contents === null && extra.errors.length === 0) continue;
    diagnostics.push({
      span: clampSpan({ start: r[0], end: Math.max(r[0], r[1]) }, text.length),
      severity: 'error',
      code: DiagnosticCodes.multipleDocuments,
      message: 'A constitution file holds one YAML document; this one is ignored.',
    });
  }
  if (!doc) return { root: undefined, diagnostics, document: undefined };

  for (const err of doc.errors) {
    const [a, b] = err.pos;
    const dup = err.code === 'DUPLICATE_KEY';
    diagnostics.push({
      span: clampSpan({ start: a, end: Math.max(a, b) }, text.length),
      severity: 'error',
      code: dup ? DiagnosticCodes.duplicateKey : DiagnosticCodes.yamlSyntax,
      message: dup ? 'Duplicate key: each key may appear once in a mapping.' : cleanYamlMessage(err.message),
    });
  }
  for (const warn of doc.warnings) {
    const [a, b] = warn.pos;
    diagnostics.push({
      span: clampSpan({ start: a, end: Math.max(a, b) }, text.length),
      severity: 'warning',
      code: DiagnosticCodes.yamlSyntax,
      message: cleanYamlMessage(warn.message),
    });
  }

  // maps, lists and alias targets being converted: an alias to one of them would loop
  const seen = new Set<unknown>();
  let aliasDepth = 0;
  let aliasNodes = 0;
  let aliasLimitReported = false;
  const convert = (node: unknown, fallback: Span, depth: number): LNode | undefined => {
    if (node === null || node === undefined) return undefined;
    if (depth > MAX_DEPTH) return undefined;
    if (aliasDepth > 0 && ++aliasNodes > MAX_ALIAS_NODES) return undefined;
    if (isAlias(node)) {
      const span = clampSpan(nodeSpan(node, fallback), text.length);
      if (aliasNodes > MAX_ALIAS_NODES) {
        if (!aliasLimitReported) {
          aliasLimitReported = true;
          diagnostics.push({
            span,
            severity: 'error',
            code: DiagnosticCodes.unresolvedAlias,
            message: `Aliases here expand to more than ${MAX_ALIAS_NODES} values; the rest are not expanded.`,
          });
        }
        return undefined;
      }
      let target: unknown;
      try {
        target = node.resolve(doc);
      } catch {
        target = undefined;
      }
      if (!target || seen.has(target)) {
        diagnostics.push({
          span,
          severity: 'error',
          code: DiagnosticCodes.unresolvedAlias,
          message: target ? `Alias *${node.source} refers to a value that contains itself.` : `Alias *${node.source} has no anchor &${node.source} before it.`,
        });
        return undefined;
      }
      seen.add(target);
      aliasDepth++;
      const resolved = convert(target, span, depth + 1);
      aliasDepth--;
      seen.delete(target);
      // An alias stands where it is written: point diagnostics at the alias, not the anchor.
      return resolved ? respan(resolved, span) : undefined;
    }
    if (isScalar(node)) {
      const v = node.value;
      let value: LScalar['value'];
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) value = v;
      else if (typeof v === 'bigint') value = Number(v);
      else value = String(v);
      return { kind: 'scalar', value, style: node.type, span: clampSpan(nodeSpan(node, fallback), text.length) };
    }
    if (isMap(node)) {
      const span = clampSpan(nodeSpan(node, fallback), text.length);
      const entries: LEntry[] = [];
      seen.add(node);
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key as YamlNode | null;
        let key: string;
        let keySpan: Span;
        if (isScalar(k)) {
          key = String(k.value ?? '');
          keySpan = clampSpan(nodeSpan(k, span), text.length);
        } else if (k && (isMap(k) || isSeq(k))) {
          keySpan = clampSpan(nodeSpan(k, span), text.length);
          diagnostics.push({
            span: keySpan,
            severity: 'error',
            code: DiagnosticCodes.wrongType,
            message: 'Keys must be plain text, not a mapping or list.',
          });
          continue;
        } else {
          // `: value` with no key, or an alias as key
          keySpan = clampSpan(nodeSpan(k, { start: span.start, end: span.start }), text.length);
          key = isAlias(k) ? `*${k.source}` : '';
        }
        const value = convert(pair.value, { start: keySpan.end, end: keySpan.end }, depth + 1);
        entries.push({
          key,
          keySpan,
          value,
          span: { start: keySpan.start, end: Math.max(keySpan.end, value?.span.end ?? keySpan.end) },
        });
      }
      seen.delete(node);
      return { kind: 'map', entries, flow: Boolean(node.flow), span };
    }
    if (isSeq(node)) {
      const span = clampSpan(nodeSpan(node, fallback), text.length);
      const items: LNode[] = [];
      seen.add(node);
      for (const item of node.items) {
        const c = convert(item, span, depth + 1);
        if (c) items.push(c);
        else if (isAlias(item)) continue; // reported above
        else if (item === null || (isScalar(item) && item.value === null)) {
          // `- ` with nothing after it: keep a null so the shape check can point at it
          const s = clampSpan(nodeSpan(item as YamlNode | null, span), text.length);
          items.push({ kind: 'scalar', value: null, style: undefined, span: s });
        }
      }
      seen.delete(node);
      return { kind: 'seq', items, flow: Boolean(node.flow), span };
    }
    return undefined;
  };

  const root = convert(doc.contents, { start: 0, end: 0 }, 0);
  return { root, diagnostics, document: doc };
}

function respan(node: LNode, span: Span): LNode {
  return { ...node, span };
}

function cleanYamlMessage(message: string): string {
  // yaml appends "at line X, column Y:" plus a source excerpt; the range already says where.
  const first = message.split('\n')[0] ?? message;
  return first.replace(/\s+at line \d+, column \d+:?\s*$/, '').trim() || 'Invalid YAML.';
}

export function entry(map: LMap, key: string): LEntry | undefined {
  for (const e of map.entries) if (e.key === key) return e;
  return undefined;
}

export function describeNode(node: LNode | undefined): string {
  if (!node) return 'nothing';
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  const v = node.value;
  if (v === null) return 'an empty value';
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  return 'text';
}

/** The deepest node whose span holds the offset, with the chain of nodes above it. */
export function nodePath(root: LNode | undefined, offset: number): LNode[] {
  const path: LNode[] = [];
  let node = root;
  while (node && offset >= node.span.start && offset <= node.span.end) {
    path.push(node);
    let next: LNode | undefined;
    if (node.kind === 'map') {
      for (const e of node.entries) {
        if (e.value && offset >= e.value.span.start && offset <= e.value.span.end) next = e.value;
      }
    } else if (node.kind === 'seq') {
      for (const item of node.items) if (offset >= item.span.start && offset <= item.span.end) next = item;
    }
    node = next;
  }
  return path;
}
