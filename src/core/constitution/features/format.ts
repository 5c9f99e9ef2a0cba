import { parseAllDocuments, type Document, type ScalarTag } from 'yaml';
import { tooDeep } from '../ast.js';

export interface FormatOptions {
  /** Spaces per indentation level (default 2). */
  indent?: number;
}

export type FormatResult = { ok: true; text: string } | { ok: false; reason: string };

/** Folded (`>`) text is re-wrapped at this width; every other scalar keeps its lines. */
const FOLD_WIDTH = 100;
const STR = 'tag:yaml.org,2002:str';

/**
 * Re-indents and normalises spacing while keeping comments, blank lines between entries,
 * anchors and the style of every scalar. Refuses documents with syntax errors, and checks that
 * the formatted text reads back to exactly the same data before returning it.
 */
export function formatConstitution(text: string, options: FormatOptions = {}): FormatResult {
  const indent = Math.max(1, Math.min(8, Math.floor(options.indent ?? 2)));
  if (tooDeep(text)) return { ok: false, reason: 'The file nests too deeply to format.' };
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, strict: true }) as Document.Parsed[];
  } catch (e) {
    return { ok: false, reason: `YAML could not be parsed: ${(e as Error).message}` };
  }
  if (!Array.isArray(docs) || docs.length !== 1) return { ok: false, reason: 'Formatting needs exactly one YAML document.' };
  const doc = docs[0] as Document.Parsed;
  if (doc.errors.length) return { ok: false, reason: 'The file has YAML syntax errors; fix them first.' };
  let out: string;
  try {
    // a schema of our own, so that only this document's string output changes
    const schema = doc.schema.clone();
    schema.tags = schema.tags.map((t) => (t.tag === STR && 'stringify' in t && t.stringify ? foldedOnly(t as ScalarTag) : t));
    doc.schema = schema;
    out = doc.toString({ indent, indentSeq: true, lineWidth: 0, minContentWidth: 0, doubleQuotedAsJSON: true, flowCollectionPadding: false });
  } catch (e) {
    return { ok: false, reason: `The file could not be formatted: ${(e as Error).message}` };
  }
  if (!text.endsWith('\n')) out = out.replace(/\n$/, '');
  // Never change meaning: the formatted text must read back to the same data.
  try {
    const again = parseAllDocuments(out, { prettyErrors: false, uniqueKeys: true, strict: true }) as Document.Parsed[];
    const same = again.length === 1 && (again[0] as Document.Parsed).errors.length === 0 && stable(toData(doc)) === stable(toData(again[0] as Document.Parsed));
    if (!same) return { ok: false, reason: 'Formatting would change the data; left unchanged.' };
  } catch {
    return { ok: false, reason: 'Formatting would change the data; left unchanged.' };
  }
  return { ok: true, text: out };
}

/** The string tag, with line folding only for folded block scalars. */
function foldedOnly(tag: ScalarTag): ScalarTag {
  const stringify = tag.stringify as NonNullable<ScalarTag['stringify']>;
  return {
    ...tag,
    stringify(item, ctx, onComment, onChompKeep) {
      const lineWidth = (item as { type?: string }).type === 'BLOCK_FOLDED' ? FOLD_WIDTH : 0;
      return stringify(item, { ...ctx, options: { ...ctx.options, lineWidth } }, onComment, onChompKeep);
    },
  };
}

function toData(doc: Document.Parsed): unknown {
  // yaml's default alias limit: an alias bomb is refused rather than expanded
  return doc.toJS({ maxAliasCount: 100, mapAsMap: true });
}

/** A canonical string for data that may hold Maps with non-string keys. */
function stable(v: unknown): string {
  if (v instanceof Map) return `{${[...v.entries()].map(([k, x]) => `${stable(k)}:${stable(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v instanceof Set) return `S[${[...v].map(stable).join(',')}]`;
  if (v instanceof Date) return `D${v.toISOString()}`;
  if (typeof v === 'object' && v !== null) return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${stable(x)}`).join(',')}}`;
  return typeof v === 'number' && Number.isNaN(v) ? 'NaN' : JSON.stringify(v) ?? String(v);
}
