import { parseAllDocuments, type Document } from 'yaml';

export interface FormatOptions {
  /** Spaces per indentation level (default 2). */
  indent?: number;
}

export type FormatResult = { ok: true; text: string } | { ok: false; reason: string };

/**
 * Re-indents and normalises spacing while keeping comments, blank lines between entries,
 * anchors and the style of every scalar. Refuses documents with syntax errors, and checks that
 * the formatted text reads back to exactly the same data before returning it.
 */
export function formatConstitution(text: string, options: FormatOptions = {}): FormatResult {
  const indent = Math.max(1, Math.min(8, Math.floor(options.indent ?? 2)));
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
    out = doc.toString({ indent, indentSeq: true, lineWidth: 0, minContentWidth: 0, doubleQuotedAsJSON: true, flowCollectionPadding: false });
  } catch (e) {
    return { ok: false, reason: `The file could not be formatted: ${(e as Error).message}` };
  }
  if (!text.endsWith('\n')) out = out.replace(/\n$/, '');
  // Never change meaning: the formatted text must read back to the same data.
  try {
    const before = JSON.stringify(doc.toJS({ maxAliasCount: -1 }));
    const again = parseAllDocuments(out, { prettyErrors: false, uniqueKeys: true, strict: true }) as Document.Parsed[];
    const after = JSON.stringify((again[0] as Document.Parsed).toJS({ maxAliasCount: -1 }));
    if (before !== after || (again[0] as Document.Parsed).errors.length) return { ok: false, reason: 'Formatting would change the data; left unchanged.' };
  } catch {
    return { ok: false, reason: 'Formatting would change the data; left unchanged.' };
  }
  return { ok: true, text: out };
}
