import {
  CodeActionKind,
  type CompletionItem,
  type CompletionList,
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
import { complete, idDocumentation } from '../core/constitution/features/complete.js';
import { foldingRanges } from '../core/constitution/features/folding.js';
import { formatConstitution } from '../core/constitution/features/format.js';
import { hover } from '../core/constitution/features/hover.js';
import { occurrenceAt, occurrencesOf, renameId, targetDefinition } from '../core/constitution/features/navigation.js';
import { outline } from '../core/constitution/features/outline.js';
import { semanticTokens } from '../core/constitution/features/tokens.js';
import { PreviewPromptsRequest, type PreviewPromptsResult } from '../protocol/lsp.js';
import { DEFAULT_SERVER_SETTINGS, type ServerSettings } from '../protocol/settings.js';
import type { FileAnalysis } from '../core/constitution/validate.js';
import { DIAGNOSTIC_SOURCE, toDocumentSymbol, toLspCompletion, toLspDiagnostic, type CompletionData, type DiagnosticData } from './convert.js';
import { DiagnosticsEngine, type DiagnosticsResult } from './diagnostics.js';
import { previewResult } from './features/preview.js';
import { RunConfigService } from './features/runConfigService.js';
import { isConstitutionFile } from '../core/constitution/fileNames.js';
import { pathToUri, relativeInclude, uriToPath } from './files.js';
import { ServerWorkspace, type AnalysisView } from './workspace.js';

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
  // run files (`*.run.yaml`): their own features, computed on this thread (features/runConfig.ts)
  const runs = new RunConfigService(documents, connection);
  let settings: ServerSettings = DEFAULT_SERVER_SETTINGS;
  let canConfigure = false;
  let watchesFiles = false;
  const timers = new Map<string, NodeJS.Timeout>();
  const engine = new DiagnosticsEngine(
    (r) => onDiagnostics(r),
    ws.core,
    (f) => ws.version(f),
    (m) => connection.console.warn(m),
  );

  const isConstitution = (uri: string) => isConstitutionFile(uriToPath(uri)) || documents.get(uri)?.languageId === 'constitution';

  connection.onInitialize((params): InitializeResult => {
    canConfigure = Boolean(params.capabilities.workspace?.configuration);
    watchesFiles = Boolean(params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration);
    const roots = (params.workspaceFolders ?? []).map((f) => uriToPath(f.uri));
    if (roots.length === 0 && params.rootUri) roots.push(uriToPath(params.rootUri));
    ws.setRoots(roots);
    engine.configure(roots, ws.options);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: ['{', ':', ' ', '-', '['], resolveProvider: true },
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
    engine.configure(ws.roots, ws.options);
    ws.invalidateAll();
    for (const d of documents.all()) schedule(uriToPath(d.uri), 0);
  }

  connection.onDidChangeConfiguration(() => {
    if (canConfigure) void loadSettings();
  });

  // --- diagnostics (computed by the worker; published only for the version they describe) ---

  function onDiagnostics(r: DiagnosticsResult): void {
    ws.recordReads(r.file, r.files);
    const uri = pathToUri(r.file);
    const doc = documents.get(uri);
    if (!doc || !isConstitution(uri)) return;
    if (r.version !== doc.version) return; // a newer text is on its way to the worker
    const diagnostics: LspDiagnostic[] = r.diagnostics.map(toLspDiagnostic);
    void connection.sendDiagnostics({ uri, version: doc.version, diagnostics });
    // have an analysis ready on this thread too, before the first hover asks for one
    if (!ws.hasResolution(r.file)) setTimeout(() => ws.lastResolution(r.file), 10);
  }

  function schedule(file: string, delay = DIAGNOSTICS_DELAY_MS): void {
    const t = timers.get(file);
    if (t) clearTimeout(t);
    timers.set(
      file,
      setTimeout(() => {
        timers.delete(file);
        if (runs.owns(pathToUri(file))) return runs.validate(pathToUri(file));
        // the worker needs the text only when it validates, not on every keystroke
        const doc = documents.get(pathToUri(file));
        if (doc) engine.sync(file, doc.version, doc.getText());
        engine.validate(file);
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
    runs.closed(e.document.uri);
    engine.sync(file, null, null);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
    for (const d of ws.dependents(file)) schedule(d);
  });

  connection.onDidChangeWatchedFiles((e) => {
    for (const c of e.changes) {
      const file = uriToPath(c.uri);
      if (c.type === FileChangeType.Deleted) ws.fileDeleted(file);
      else if (c.type === FileChangeType.Created) ws.fileAdded(file);
      else ws.invalidate(file);
      engine.invalidate(file);
      for (const d of ws.dependents(file)) schedule(d);
    }
  });

  connection.onShutdown(() => engine.dispose());

  // --- helpers ---------------------------------------------------------------------------

  /** The analysis for a request at a position, with the offset in analysed text (undefined: not answerable now). */
  function at(uri: string, position: { line: number; character: number }): { v: AnalysisView; offset: number } | undefined {
    const v = ws.view(uriToPath(uri));
    if (!v) return undefined;
    const offset = v.toOld(v.offsetAt(position));
    return offset === undefined ? undefined : { v, offset };
  }

  /** A fresh analysis of the whole file (for requests about the whole document). */
  function fresh(uri: string): { file: string; fa: FileAnalysis } | undefined {
    const file = uriToPath(uri);
    const fa = ws.resolve(file)?.files.get(file);
    return fa ? { file, fa } : undefined;
  }

  // --- language features -----------------------------------------------------------------

  /** Above this many candidates, completion sends those matching the typed word, marked incomplete. */
  const COMPLETION_LIMIT = 1000;

  connection.onCompletion((p): CompletionList => {
    if (runs.owns(p.textDocument.uri)) return runs.completion(p);
    const doc = documents.get(p.textDocument.uri);
    if (!doc) return { isIncomplete: false, items: [] };
    const file = uriToPath(p.textDocument.uri);
    const text = doc.getText();
    const offset = doc.offsetAt(p.position);
    let items = complete(ws.core, ws.lastResolution(file), text, file, offset, { files: ws.knownFiles(), relative: relativeInclude });
    let isIncomplete = false;
    if (items.length > COMPLETION_LIMIT) {
      const typed = text.slice(items[0]?.replace.start ?? offset, offset).toLowerCase();
      items = items.filter((i) => (i.filterText ?? i.label).toLowerCase().includes(typed)).slice(0, COMPLETION_LIMIT);
      isIncomplete = true;
    }
    const ix = { range: (s: { start: number; end: number }) => ({ start: doc.positionAt(s.start), end: doc.positionAt(s.end) }) };
    // documentation is sent on resolve, so that long lists stay small
    return { isIncomplete, items: items.map((c) => toLspCompletion(c, ix, file)) };
  });

  connection.onCompletionResolve((item: CompletionItem): CompletionItem => {
    const data = item.data as CompletionData | undefined;
    if (!data?.id) return item;
    const doc = idDocumentation(ws.lastResolution(data.file), data.id);
    return doc ? { ...item, documentation: { kind: 'markdown', value: doc } } : item;
  });

  connection.onHover((p) => {
    if (runs.owns(p.textDocument.uri)) return runs.hover(p);
    const a = at(p.textDocument.uri, p.position);
    if (!a) return null;
    const h = hover(ws.core, a.v.res, a.v.fa, a.offset);
    if (!h) return null;
    const span = a.v.toNew(h.span);
    return { contents: { kind: 'markdown', value: h.markdown }, range: span ? { start: a.v.positionAt(span.start), end: a.v.positionAt(span.end) } : undefined };
  });

  connection.onDocumentSymbol((p) => {
    if (runs.owns(p.textDocument.uri)) return runs.symbols(p);
    const c = fresh(p.textDocument.uri);
    return c ? outline(c.fa).map((o) => toDocumentSymbol(o, c.fa.index)) : [];
  });

  connection.onFoldingRanges((p) => {
    if (runs.owns(p.textDocument.uri)) return runs.folding(p);
    const c = fresh(p.textDocument.uri);
    return c ? foldingRanges(c.fa).map((r) => ({ startLine: r.startLine, endLine: r.endLine, kind: r.kind })) : [];
  });

  connection.languages.semanticTokens.on((p): SemanticTokens => {
    if (runs.owns(p.textDocument.uri)) return { data: [] };
    const c = fresh(p.textDocument.uri);
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

  function locationOf(file: string, span: { start: number; end: number }): Location | undefined {
    const fa = ws.core.file(file);
    return fa ? { uri: pathToUri(file), range: fa.index.range(span) } : undefined;
  }

  connection.onDefinition((p): Location[] | null => {
    if (runs.owns(p.textDocument.uri)) return runs.definition(p);
    const a = at(p.textDocument.uri, p.position);
    if (!a) return null;
    const occ = occurrenceAt(a.v.fa, a.offset);
    if (!occ) return null;
    if (occ.kind === 'include') {
      const target = ws.core.resolvePath(a.v.file, occ.path);
      return ws.core.file(target) ? [{ uri: pathToUri(target), range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }] : null;
    }
    if (occ.kind !== 'definition' && occ.kind !== 'reference') return null;
    const wanted = occ.kind === 'reference' ? (occ.ref.refKind === 'any' ? ['principle', 'comparison'] : [occ.ref.refKind]) : undefined;
    return (a.v.res.definitions.get(occ.id) ?? [])
      .filter((d) => !wanted || wanted.includes(d.kind))
      .map((d) => {
        if (d.file === a.v.file) {
          const span = a.v.toNew(d.span);
          return span ? { uri: pathToUri(d.file), range: { start: a.v.positionAt(span.start), end: a.v.positionAt(span.end) } } : undefined;
        }
        return locationOf(d.file, d.span);
      })
      .filter((l): l is Location => Boolean(l));
  });

  connection.onReferences((p): Location[] => {
    if (runs.owns(p.textDocument.uri)) return runs.references(p);
    const file = uriToPath(p.textDocument.uri);
    const res = ws.resolve(file);
    const fa = res?.files.get(file);
    if (!res || !fa) return [];
    const occ = occurrenceAt(fa, fa.index.offsetAt(p.position));
    const def = occ && targetDefinition(res, occ);
    if (!def) return [];
    const found = occurrencesOf(ws.allResolutions(), def);
    const list = [...(p.context.includeDeclaration ? found.definitions : []), ...found.references];
    return list.map((l) => locationOf(l.file, l.span)).filter((l): l is Location => Boolean(l));
  });

  connection.onPrepareRename((p) => {
    if (runs.owns(p.textDocument.uri)) return runs.prepareRename(p);
    const file = uriToPath(p.textDocument.uri);
    const res = ws.resolve(file);
    const fa = res?.files.get(file);
    if (!res || !fa) return null;
    const occ = occurrenceAt(fa, fa.index.offsetAt(p.position));
    if (!occ || (occ.kind !== 'definition' && occ.kind !== 'reference')) return null;
    if (!targetDefinition(res, occ)) throw new ResponseError(0, `'${occ.id}' is not defined, so it cannot be renamed.`);
    return { range: fa.index.range(occ.span), placeholder: occ.id };
  });

  connection.onRenameRequest((p): WorkspaceEdit | null => {
    if (runs.owns(p.textDocument.uri)) return runs.rename(p);
    const file = uriToPath(p.textDocument.uri);
    const res = ws.resolve(file);
    const fa = res?.files.get(file);
    if (!res || !fa) return null;
    const occ = occurrenceAt(fa, fa.index.offsetAt(p.position));
    const def = occ && targetDefinition(res, occ);
    if (!def) throw new ResponseError(0, 'Only principle, comparison and example ids can be renamed.');
    const result = renameId(ws.allResolutions(), def, p.newName.trim());
    if (!result.ok) throw new ResponseError(0, result.message);
    const changes: Record<string, TextEdit[]> = {};
    for (const [f, edits] of result.edits) {
      const other = ws.core.file(f);
      if (!other) continue;
      changes[pathToUri(f)] = edits.map((e) => ({ range: other.index.range(e.span), newText: e.newText }));
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
    if (runs.owns(p.textDocument.uri)) return [];
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
    if (runs.owns(p.textDocument.uri)) return runs.links(p);
    const c = fresh(p.textDocument.uri);
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
    const res = ws.resolve(uriToPath(p.uri));
    return res ? previewResult(res, p) : null;
  });

  documents.listen(connection);
  connection.listen();
}
