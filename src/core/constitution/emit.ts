import { Document, isMap, isScalar, isSeq, parse, visit, type Node as YamlNode, type Scalar } from 'yaml';
import { constitutionSpec, examplesSpec, isExtensionKey, optionsSpec } from './schema.js';
import { TEMPLATE_NAMES } from './templates.js';

/**
 * Writes constitution YAML from the authoring shape: a plain object whose keys are the file
 * format's keys (`principles: [{id, critique, …}]`, turns as `{human: …}` / `{assistant: …}`).
 * The `yaml` package does all quoting, so every text comes back exactly when the file is read.
 *
 * Layout: 2-space indent, no line folding, a blank line between top-level sections, keys in the
 * order authors expect (see ITEM_KEY_ORDER), `x-…` keys last and kept as given. A multi-line text
 * is written as a block literal (`|`) when that reads back exactly and is safe to edit (no line
 * ending in spaces, which editors strip); otherwise as a double-quoted string on one line, with
 * JSON's escapes (`\n`). Texts that YAML 1.1 readers would take for something else (`yes`, `1:20`)
 * are quoted too.
 */

export type AuthoringValue = string | number | boolean | null | AuthoringValue[] | { [key: string]: AuthoringValue | undefined };
export type AuthoringObject = { [key: string]: AuthoringValue | undefined };

export interface EmitOptions {
  /** When given, the first line is `# yaml-language-server: $schema=<schemaPath>`. */
  schemaPath?: string;
}

/** Key order inside principles, comparisons and examples. */
export const ITEM_KEY_ORDER: readonly string[] = [
  'id',
  'name',
  'principle',
  'critique_request',
  'revision_request',
  'conversation',
  'critique',
  'revision',
  'question',
  'response_a',
  'response_b',
  'reasoning',
  'answer',
  'weight',
  'tags',
  'notes',
];

const ROOT_ORDER = Object.keys(constitutionSpec.fields);
const LIST_KEYS = new Set(['principles', 'comparisons']);

/** Known keys in `order`, then other keys as given, then `x-` keys as given. */
function ordered(obj: AuthoringObject, order: readonly string[], inner: (key: string, v: AuthoringValue) => AuthoringValue): AuthoringObject {
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  const known = order.filter((k) => keys.includes(k));
  const other = keys.filter((k) => !order.includes(k) && !isExtensionKey(k));
  const ext = keys.filter((k) => isExtensionKey(k));
  const out: AuthoringObject = {};
  for (const k of [...known, ...other]) out[k] = inner(k, obj[k] as AuthoringValue);
  for (const k of ext) out[k] = obj[k]; // tool data: verbatim
  return out;
}

function isObject(v: AuthoringValue | undefined): v is AuthoringObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const same = (_k: string, v: AuthoringValue) => v;
const item = (v: AuthoringValue): AuthoringValue => (isObject(v) ? ordered(v, ITEM_KEY_ORDER, same) : v);
const items = (v: AuthoringValue): AuthoringValue => (Array.isArray(v) ? v.map(item) : v);

function orderRoot(doc: AuthoringObject): AuthoringObject {
  return ordered(doc, ROOT_ORDER, (key, v) => {
    if (key === 'options' && isObject(v)) return ordered(v, Object.keys(optionsSpec.fields), same);
    if (key === 'templates' && isObject(v)) return ordered(v, TEMPLATE_NAMES, same);
    if (key === 'examples' && isObject(v)) return ordered(v, Object.keys(examplesSpec.fields), (_k, list) => items(list));
    if (LIST_KEYS.has(key)) return items(v);
    return v;
  });
}

/**
 * Plain scalars that YAML 1.1 readers (PyYAML, for one) take as booleans, numbers, null or dates,
 * though YAML 1.2 reads them as text: quoted, so that every reader gets the text.
 */
const YAML11_NOT_TEXT =
  /^(?:y|n|yes|no|on|off|true|false|null|~|=|<<|\.nan|[-+]?\.inf|[-+]?(?:0b[01_]+|0x[0-9a-f_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*(?:\.[0-9_]*)?(?:e[-+]?[0-9]+)?|\.[0-9_]+(?:e[-+]?[0-9]+)?)|\d{4}-\d\d?-\d\d?(?:[Tt ].*)?)$/i;

/** Whether `value` written as a block literal reads back as itself. */
function blockLiteralIsExact(value: string): boolean {
  if (value.startsWith('\n') || /[ \t]$/m.test(value) || value.trim() === '') return false;
  const probe = new Document({ v: value });
  visit(probe, {
    Scalar(key, node) {
      if (key === 'value') node.type = 'BLOCK_LITERAL';
    },
  });
  const text = probe.toString({ indent: 2, lineWidth: 0 });
  try {
    return (parse(text) as { v?: unknown })?.v === value && /^v: \|/.test(text);
  } catch {
    return false;
  }
}

/** The constitution as YAML text (ends with a newline). */
export function emitConstitution(doc: AuthoringObject, options: EmitOptions = {}): string {
  const ydoc = new Document(orderRoot(doc));
  visit(ydoc, {
    Scalar(key, node: Scalar) {
      if (key === 'key' || typeof node.value !== 'string') return; // values and list items, not keys
      if (node.value.includes('\n')) node.type = blockLiteralIsExact(node.value) ? 'BLOCK_LITERAL' : 'QUOTE_DOUBLE';
      else if (YAML11_NOT_TEXT.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  const root = ydoc.contents as YamlNode | null;
  if (isMap(root)) {
    let previousWasSection = false;
    root.items.forEach((pair, i) => {
      const section = isMap(pair.value) || isSeq(pair.value);
      if (i > 0 && (section || previousWasSection) && isScalar(pair.key)) pair.key.spaceBefore = true;
      previousWasSection = section;
    });
  }
  const body = ydoc.toString({ indent: 2, lineWidth: 0, doubleQuotedAsJSON: true });
  return options.schemaPath ? `# yaml-language-server: $schema=${options.schemaPath}\n${body}` : body;
}
