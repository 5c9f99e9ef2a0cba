import {
  CompletionItemKind,
  DiagnosticSeverity,
  DiagnosticTag,
  InsertTextFormat,
  SymbolKind,
  type CompletionItem as LspCompletionItem,
  type Diagnostic as LspDiagnostic,
  type DocumentSymbol,
} from 'vscode-languageserver';
import type { Diagnostic, Severity } from '../core/constitution/diagnostics.js';
import type { CompletionItem, CompletionKind } from '../core/constitution/features/complete.js';
import type { OutlineItem, OutlineKind } from '../core/constitution/features/outline.js';
import type { TextIndex } from '../core/text.js';
import { pathToUri } from './files.js';

/** Plain core data → LSP types. Nothing here decides anything. */

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export const DIAGNOSTIC_SOURCE = 'constitution';

/** Fixes travel in `data` so that code actions can offer them without recomputing. */
export interface DiagnosticData {
  fixes: NonNullable<Diagnostic['fixes']>;
}

export function toLspDiagnostic(d: Diagnostic): LspDiagnostic {
  const out: LspDiagnostic = {
    range: d.range,
    severity: SEVERITY[d.severity],
    code: d.code,
    source: DIAGNOSTIC_SOURCE,
    message: d.message,
  };
  if (d.fixes?.length) out.data = { fixes: d.fixes } satisfies DiagnosticData;
  if (d.related?.length) out.relatedInformation = d.related.map((r) => ({ location: { uri: pathToUri(r.file), range: r.range }, message: r.message }));
  if (d.unnecessary) out.tags = [DiagnosticTag.Unnecessary];
  return out;
}

const COMPLETION_KIND: Record<CompletionKind, CompletionItemKind> = {
  property: CompletionItemKind.Property,
  value: CompletionItemKind.Value,
  reference: CompletionItemKind.Reference,
  placeholder: CompletionItemKind.Variable,
  tag: CompletionItemKind.Keyword,
  file: CompletionItemKind.File,
  keyword: CompletionItemKind.Keyword,
};

/** Carried by id completions so that `completionItem/resolve` can add their documentation. */
export interface CompletionData {
  file: string;
  id: string;
}

export function toLspCompletion(c: CompletionItem, ix: Pick<TextIndex, 'range'>, file: string): LspCompletionItem {
  return {
    label: c.label,
    kind: COMPLETION_KIND[c.kind],
    detail: c.detail,
    documentation: c.documentation ? { kind: 'markdown', value: c.documentation } : undefined,
    data: c.docId ? ({ file, id: c.docId } satisfies CompletionData) : undefined,
    insertTextFormat: c.snippet ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
    textEdit: { range: ix.range(c.replace), newText: c.insertText },
    sortText: c.sortText,
    filterText: c.filterText,
  };
}

const SYMBOL_KIND: Record<OutlineKind, SymbolKind> = {
  constitution: SymbolKind.File,
  section: SymbolKind.Namespace,
  principle: SymbolKind.Constant,
  comparison: SymbolKind.EnumMember,
  example: SymbolKind.Object,
  template: SymbolKind.String,
  option: SymbolKind.Property,
  include: SymbolKind.File,
};

export function toDocumentSymbol(o: OutlineItem, ix: TextIndex): DocumentSymbol {
  const range = ix.range(o.span);
  let selectionRange = ix.range(o.selectionSpan);
  // LSP requires the selection range inside the full range
  if (o.selectionSpan.start < o.span.start || o.selectionSpan.end > o.span.end) selectionRange = range;
  return {
    name: o.name || '(unnamed)',
    detail: o.detail,
    kind: SYMBOL_KIND[o.kind],
    range,
    selectionRange,
    children: o.children.map((c) => toDocumentSymbol(c, ix)),
  };
}
