import {
  CodeActionKind,
  DidChangeConfigurationNotification,
  FileChangeType,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type CodeAction,
  type Connection,
  type Diagnostic as LspDiagnostic,
  type InitializeResult,
  type Location,
  type SemanticTokens,
  type TextEdit,
  type WorkspaceEdit,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { ConstitutionData } from '../core/constitution/data.js';
import { complete } from '../core/constitution/features/complete.js';
import { foldingRanges } from '../core/constitution/features/folding.js';
import { formatConstitution } from '../core/constitution/features/format.js';
import { hover } from '../core/constitution/features/hover.js';
import { occurrenceAt, occurrencesOf, renameId, targetDefinition } from '../core/constitution/features/navigation.js';
import { outline } from '../core/constitution/features/outline.js';
import { semanticTokens } from '../core/constitution/features/tokens.js';
import { previewPrompts, SAMPLE_CONVERSATION } from '../core/constitution/render.js';
import type { FileAnalysis } from '../core/constitution/validate.js';
import { PreviewPromptsRequest, type PreviewConversation, type PreviewPromptsResult } from '../protocol/lsp.js';
import { DEFAULT_SERVER_SETTINGS, type ServerSettings } from '../protocol/settings.js';
import { DIAGNOSTIC_SOURCE, toDocumentSymbol, toLspCompletion, toLspDiagnostic, type DiagnosticData } from './convert.js';
import { CONSTITUTION_FILE, pathToUri, relativeInclude, uriToPath } from './files.js';
import { ServerWorkspace } from './workspace.js';

export const SEMANTIC_TOKEN_TYPES = ['variable', 'operator'] as const;
export const SEMANTIC_TOKEN_MODIFIERS = ['readonly'] as const;

/** Diagnostics wait this long after the last keystroke. */
const DIAGNOSTICS_DELAY_MS = 120;

/**
 * The constitution language server: wiring only. Every feature is a core function over the
 * file's analysis; this module turns LSP requests into calls and results back into LSP.
 */
export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const ws = new ServerWorkspace(documents);
  let settings: ServerSettings = DEFAULT_SERVER_SETTINGS;
  let canConfigure = false;
  let watchesFiles = false;
  const timers = new Map<string, NodeJS.Timeout>();

  const isConstitution = (uri: string) => CONSTITUTION_FILE.test(uriToPath(uri)) || documents.get(uri)?.languageId === 'constitution';

  connection.onInitialize((params): InitializeResult => {
    canConfigure = Boolean(params.capabilities.workspace?.configuration);
    watchesFiles = Boolean(params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration);
    const roots = (params.workspaceFolders ?? []).map((f) => uriToPath(f.uri));
    if (roots.length === 0 && params.rootUri) roots.push(uriToPath(params.rootUri));
    ws.setRoots(roots);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: ['{', ':', ' ', '-', '['], resolveProvider: false },
        hoverProvider: true,
        documentSymbolProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        renameProvider: { prepareProvider: true },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        foldingRangeProvider: true,
        documentFormattingProvider: true,
        documentLinkProvider: { resolveProvider: false },
        semanticTokensProvider: {
          legend: { tokenTypes: [...SEMANTIC_TOKEN_TYPES], tokenModifiers: [...SEMANTIC_TOKEN_MODIFIERS] },
          full: true,
        },
      },
      serverInfo: { name: 'constitution-language-server' },
    };
  });

  connection.onInitialized(async () => {
    if (canConfigure) {
      void connection.client.register(DidChangeConfigurationNotification.type, { section: 'constitution' });
      await loadSettings();
    }
    if (watchesFiles) {
      void connection.client.register({ method: 'workspace/didChangeWatchedFiles' } as never, {
        watchers: [{ globPattern: '**/*.constitution.{yaml,yml,json}' }],
      } as never);
    }
  });

  async function loadSettings(): Promise<void> {
    try {
      const s = (await connection.workspace.getConfiguration({ section: 'constitution' })) as Partial<ServerSettings> | null;
      const t = Number(s?.validation?.nearDuplicateThreshold);
      settings = { validation: { nearDuplicateThreshold: Number.isFinite(t) ? Math.max(0, Math.min(1, t)) : DEFAULT_SERVER_SETTINGS.validation.nearDuplicateThreshold } };
    } catch {
      settings = DEFAULT_SERVER_SETTINGS;
    }
    ws.options = { nearDuplicateThreshold: settings.validation.nearDuplicateThreshold };
    ws.invalidateAll();
    for (const d of documents.all()) schedule(uriToPath(d.uri), 0);
  }

  connection.onDidChangeConfiguration(() => {
    if (canConfigure) void loadSettings();
  });

  // --- diagnostics -----------------------------------------------------------------------

  function publish(file: string): void {
    const uri = pathToUri(file);
    const doc = documents.get(uri);
    if (!doc || !isConstitution(uri)) return;
    const res = ws.resolve(file);
    const diagnostics: LspDiagnostic[] = (res?.diagnostics ?? []).map(toLspDiagnostic);
    void connection.sendDiagnostics({ uri, version: doc.version, diagnostics });
  }

  function schedule(file: string, delay = DIAGNOSTICS_DELAY_MS): void {
    const t = timers.get(file);
    if (t) clearTimeout(t);
    timers.set(
      file,
      setTimeout(() => {
        timers.delete(file);
        publish(file);
      }, delay),
    );
  }

  function changed(file: string): void {
    const deps = ws.dependents(file);
    ws.invalidate(file);
    schedule(file);
    for (const d of deps) schedule(d);
  }

  documents.onDidOpen((e) => changed(uriToPath(e.document.uri)));
  documents.onDidChangeContent((e) => changed(uriToPath(e.document.uri)));
  documents.onDidClose((e) => {
    const file = uriToPath(e.document.uri);
    const t = timers.get(file);
    if (t) clearTimeout(t);
    timers.delete(file);
    ws.invalidate(file);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
    for (const d of ws.dependents(file)) schedule(d);
  });

  connection.onDidChangeWatchedFiles((e) => {
    for (const c of e.changes) {
      const file = uriToPath(c.uri);
      if (c.type === FileChangeType.Deleted) ws.fileDeleted(file);
      else if (c.type === FileChangeType.Created) ws.fileAdded(file);
      else ws.invalidate(file);
      for (const d of ws.dependents(file)) schedule(d);
    }
  });

  // --- helpers ---------------------------------------------------------------------------

  /** The analysis of a document's current text (open in the editor, else read from disk). */
  function current(uri: string): { file: string; fa: FileAnalysis; offsetAt(p: { line: number; character: number }): number } | undefined {
    const file = uriToPath(uri);
    const fa = ws.fileAnalysis(file);
    return fa ? { file, fa, offsetAt: (p) => fa.index.offsetAt(p) } : undefined;
  }

  // --- language features -----------------------------------------------------------------

  connection.onCompletion((p) => {
    const doc = documents.get(p.textDocument.uri);
    if (!doc) return [];
    const file = uriToPath(p.textDocument.uri);
    const text = doc.getText();
    const offset = doc.offsetAt(p.position);
    const items = complete(ws.core, ws.lastResolution(file), text, file, offset, { files: ws.knownFiles(), relative: relativeInclude });
    const ix = { range: (s: { start: number; end: number }) => ({ start: doc.positionAt(s.start), end: doc.positionAt(s.end) }) };
    return items.map((c) => toLspCompletion(c, ix as never));
  });

  connection.onHover((p) => {
    const c = current(p.textDocument.uri);
    if (!c) return null;
    const res = ws.resolve(c.file);
    if (!res) return null;
    const h = hover(ws.core, res, c.fa, c.offsetAt(p.position));
    return h ? { contents: { kind: 'markdown', value: h.markdown }, range: c.fa.index.range(h.span) } : null;
  });

  connection.onDocumentSymbol((p) => {
    const c = current(p.textDocument.uri);
    return c ? outline(c.fa).map((o) => toDocumentSymbol(o, c.fa.index)) : [];
  });

  connection.onFoldingRanges((p) => {
    const c = current(p.textDocument.uri);
    return c ? foldingRanges(c.fa).map((r) => ({ startLine: r.startLine, endLine: r.endLine, kind: r.kind })) : [];
  });

  connection.languages.semanticTokens.on((p): SemanticTokens => {
    const c = current(p.textDocument.uri);
    if (!c) return { data: [] };
    const data: number[] = [];
    let prevLine = 0;
    let prevChar = 0;
    for (const t of semanticTokens(c.fa)) {
      if (t.invalid) continue;
      const start = c.fa.index.positionAt(t.span.start);
      const length = t.span.end - t.span.start;
      const dl = start.line - prevLine;
      data.push(dl, dl === 0 ? start.character - prevChar : start.character, length, t.type === 'placeholder' ? 0 : 1, t.type === 'placeholder' ? 1 : 0);
      prevLine = start.line;
      prevChar = start.character;
    }
    return { data };
  });

  connection.onDefinition((p): Location[] | null => {
    const c = current(p.textDocument.uri);
    if (!c) return null;
    const occ = occurrenceAt(c.fa, c.offsetAt(p.position));
    if (!occ) return null;
    if (occ.kind === 'include') {
      const target = ws.core.resolvePath(c.file, occ.path);
      return ws.core.file(target) ? [{ uri: pathToUri(target), range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }] : null;
    }
    const res = ws.resolve(c.file);
    if (!res) return null;
    const defs = occ.kind === 'definition' || occ.kind === 'reference' ? (res.definitions.get(occ.id) ?? []) : [];
    const wanted = occ.kind === 'reference' ? (occ.ref.refKind === 'any' ? ['principle', 'comparison'] : [occ.ref.refKind]) : undefined;
    return defs
      .filter((d) => !wanted || wanted.includes(d.kind))
      .map((d) => {
        const fa = res.files.get(d.file);
        return { uri: pathToUri(d.file), range: fa ? fa.index.range(d.span) : { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } };
      });
  });

  function locationOf(file: string, span: { start: number; end: number }): Location | undefined {
    const fa = ws.core.file(file);
    return fa ? { uri: pathToUri(file), range: fa.index.range(span) } : undefined;
  }

  connection.onReferences((p): Location[] => {
    const c = current(p.textDocument.uri);
    if (!c) return [];
    const res = ws.resolve(c.file);
    const occ = occurrenceAt(c.fa, c.offsetAt(p.position));
    if (!res || !occ) return [];
    const def = targetDefinition(res, occ);
    if (!def) return [];
    const found = occurrencesOf(ws.allResolutions(), def);
    const list = [...(p.context.includeDeclaration ? found.definitions : []), ...found.references];
    return list.map((l) => locationOf(l.file, l.span)).filter((l): l is Location => Boolean(l));
  });

  connection.onPrepareRename((p) => {
    const c = current(p.textDocument.uri);
    if (!c) return null;
    const res = ws.resolve(c.file);
    const occ = occurrenceAt(c.fa, c.offsetAt(p.position));
    if (!res || !occ || (occ.kind !== 'definition' && occ.kind !== 'reference')) return null;
    if (!targetDefinition(res, occ)) throw new ResponseError(0, `'${occ.id}' is not defined, so it cannot be renamed.`);
    return { range: c.fa.index.range(occ.span), placeholder: occ.id };
  });

  connection.onRenameRequest((p): WorkspaceEdit | null => {
    const c = current(p.textDocument.uri);
    if (!c) return null;
    const res = ws.resolve(c.file);
    const occ = occurrenceAt(c.fa, c.offsetAt(p.position));
    if (!res || !occ) return null;
    const def = targetDefinition(res, occ);
    if (!def) throw new ResponseError(0, 'Only principle, comparison and example ids can be renamed.');
    const result = renameId(ws.allResolutions(), def, p.newName.trim());
    if (!result.ok) throw new ResponseError(0, result.message);
    const changes: Record<string, TextEdit[]> = {};
    for (const [file, edits] of result.edits) {
      const fa = ws.core.file(file);
      if (!fa) continue;
      changes[pathToUri(file)] = edits.map((e) => ({ range: fa.index.range(e.span), newText: e.newText }));
    }
    return { changes };
  });

  connection.onCodeAction((p): CodeAction[] => {
    const out: CodeAction[] = [];
    for (const d of p.context.diagnostics) {
      if (d.source !== DIAGNOSTIC_SOURCE) continue;
      const data = d.data as DiagnosticData | undefined;
      for (const f of data?.fixes ?? []) {
        out.push({
          title: f.title,
          kind: CodeActionKind.QuickFix,
          diagnostics: [d],
          isPreferred: f.preferred,
          edit: { changes: { [p.textDocument.uri]: f.edits.map((e) => ({ range: e.range, newText: e.newText })) } },
        });
      }
    }
    return out;
  });

  connection.onDocumentFormatting((p): TextEdit[] => {
    const doc = documents.get(p.textDocument.uri);
    if (!doc) return [];
    const r = formatConstitution(doc.getText(), { indent: p.options.tabSize });
    if (!r.ok) {
      void connection.window.showWarningMessage(`Constitution not formatted: ${r.reason}`);
      return [];
    }
    if (r.text === doc.getText()) return [];
    return [{ range: { start: { line: 0, character: 0 }, end: doc.positionAt(doc.getText().length) }, newText: r.text }];
  });

  connection.onDocumentLinks((p) => {
    const c = current(p.textDocument.uri);
    if (!c) return [];
    return c.fa.model.includes
      .map((inc) => {
        const target = ws.core.resolvePath(c.file, inc.path);
        return ws.core.file(target) ? { range: c.fa.index.range(inc.span), target: pathToUri(target), tooltip: `Open ${ws.display(target)}` } : undefined;
      })
      .filter((l): l is NonNullable<typeof l> => Boolean(l));
  });

  // --- prompt preview --------------------------------------------------------------------

  connection.onRequest(PreviewPromptsRequest, (p): PreviewPromptsResult | null => {
    const file = uriToPath(p.uri);
    const res = ws.resolve(file);
    if (!res) return null;
    const c = res.constitution;
    const principle = p.principle && c.principles.some((x) => x.id === p.principle) ? p.principle : c.principles[0]?.id;
    const comparison = p.comparison && c.comparisons.some((x) => x.id === p.comparison) ? p.comparison : c.comparisons[0]?.id;
    const conversations = conversationChoices(c);
    const wanted = p.conversation ?? { kind: 'sample' as const };
    const sample = sampleFor(c, wanted);
    const conversation = sample ? wanted : ({ kind: 'sample' } as const);
    return {
      uri: p.uri,
      name: c.name,
      principles: c.principles.map((x) => ({ id: x.id, label: x.id, detail: x.name ?? x.critique.slice(0, 80) })),
      comparisons: c.comparisons.map((x) => ({ id: x.id, label: x.id, detail: x.name ?? x.question.slice(0, 80) })),
      conversations,
      selected: { principle, comparison, conversation },
      preview: previewPrompts(c, { principle, comparison }, sample ?? SAMPLE_CONVERSATION),
      errorCount: res.diagnostics.filter((d) => d.severity === 'error').length,
    };
  });

  documents.listen(connection);
  connection.listen();
}

function conversationChoices(c: ConstitutionData): { label: string; value: PreviewConversation }[] {
  const out: { label: string; value: PreviewConversation }[] = [{ label: 'Built-in sample conversation', value: { kind: 'sample' } }];
  const label = (turns: { text: string }[]) => {
    const t = turns[0]?.text ?? '';
    return t.length > 60 ? `${t.slice(0, 59)}…` : t;
  };
  c.examples.critique_revision.forEach((e, i) => out.push({ label: `Critique/revision example ${i + 1}: ${label(e.conversation)}`, value: { kind: 'example', group: 'critique_revision', index: i } }));
  c.examples.comparison.forEach((e, i) => out.push({ label: `Comparison example ${i + 1}: ${label(e.conversation)}`, value: { kind: 'example', group: 'comparison', index: i } }));
  return out;
}

function sampleFor(c: ConstitutionData, conv: PreviewConversation): typeof SAMPLE_CONVERSATION | undefined {
  if (conv.kind === 'sample') return SAMPLE_CONVERSATION;
  if (conv.group === 'critique_revision') {
    const e = c.examples.critique_revision[conv.index];
    if (!e) return undefined;
    return { turns: e.conversation, response_a: e.conversation[e.conversation.length - 1]?.text ?? '', response_b: e.revision };
  }
  const e = (conv.group === 'comparison' ? c.examples.comparison : c.examples.cot_comparison)[conv.index];
  if (!e) return undefined;
  return { turns: [...e.conversation, { role: 'assistant', text: e.response_a }], response_a: e.response_a, response_b: e.response_b };
}
