import type { Connection, TextDocuments } from 'vscode-languageserver';
import { ResponseError, type CompletionList, type DocumentLink, type DocumentSymbol, type FoldingRange, type Hover, type Location, type Position, type Range, type WorkspaceEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { uriToPath } from '../files.js';
import {
  isRunConfigFile,
  RUN_LANGUAGE_ID,
  runCompletions,
  runDefinition,
  runDoc,
  runFolding,
  runHover,
  runLinks,
  runLspDiagnostics,
  runPrepareRename,
  runReferences,
  runRename,
  runSymbols,
  type RunDoc,
} from './runConfig.js';
import { serverRunFiles, type RunFiles } from './runConfigFiles.js';

/**
 * The server's side of run files: which documents are run files, and each LSP request answered
 * for them. Run files are small, so everything is computed on the main thread from the current
 * text (one parse per document version).
 */
export class RunConfigService {
  readonly files: RunFiles;
  private readonly cache = new Map<string, { version: number; doc: RunDoc }>();

  constructor(
    private readonly documents: TextDocuments<TextDocument>,
    private readonly connection: Connection,
  ) {
    this.files = serverRunFiles((file) => this.documents.all().some((d) => uriToPath(d.uri) === file));
  }

  /** A run file: by name (`*.run.yaml`, `*.run.yml`) or by language id. */
  owns(uri: string): boolean {
    return isRunConfigFile(uriToPath(uri)) || this.documents.get(uri)?.languageId === RUN_LANGUAGE_ID;
  }

  private doc(uri: string): { doc: RunDoc; td: TextDocument } | undefined {
    const td = this.documents.get(uri);
    if (!td) return undefined;
    const c = this.cache.get(uri);
    if (c && c.version === td.version) return { doc: c.doc, td };
    const doc = runDoc(uriToPath(uri), td.getText());
    this.cache.set(uri, { version: td.version, doc });
    return { doc, td };
  }

  /** Publishes the diagnostics of an open run file's current text. */
  validate(uri: string): void {
    const d = this.doc(uri);
    if (!d) return;
    void this.connection.sendDiagnostics({ uri, version: d.td.version, diagnostics: runLspDiagnostics(d.doc, this.files) });
  }

  closed(uri: string): void {
    this.cache.delete(uri);
  }

  /** Open run files (revalidated when files they name may have changed). */
  openUris(): string[] {
    return this.documents
      .all()
      .map((d) => d.uri)
      .filter((u) => this.owns(u));
  }

  completion(p: { textDocument: { uri: string }; position: Position }): CompletionList {
    const d = this.doc(p.textDocument.uri);
    return { isIncomplete: false, items: d ? runCompletions(d.doc, d.td.offsetAt(p.position), this.files) : [] };
  }

  hover(p: { textDocument: { uri: string }; position: Position }): Hover | null {
    const d = this.doc(p.textDocument.uri);
    return d ? runHover(d.doc, d.td.offsetAt(p.position), this.files) : null;
  }

  definition(p: { textDocument: { uri: string }; position: Position }): Location[] | null {
    const d = this.doc(p.textDocument.uri);
    return d ? runDefinition(d.doc, d.td.offsetAt(p.position), this.files) : null;
  }

  references(p: { textDocument: { uri: string }; position: Position; context: { includeDeclaration: boolean } }): Location[] {
    const d = this.doc(p.textDocument.uri);
    return d ? runReferences(d.doc, d.td.offsetAt(p.position), p.context.includeDeclaration) : [];
  }

  prepareRename(p: { textDocument: { uri: string }; position: Position }): { range: Range; placeholder: string } | null {
    const d = this.doc(p.textDocument.uri);
    return d ? runPrepareRename(d.doc, d.td.offsetAt(p.position)) : null;
  }

  rename(p: { textDocument: { uri: string }; position: Position; newName: string }): WorkspaceEdit | null {
    const d = this.doc(p.textDocument.uri);
    if (!d) return null;
    const edits = runRename(d.doc, d.td.offsetAt(p.position), p.newName.trim());
    if (typeof edits === 'string') throw new ResponseError(0, edits);
    return { changes: { [p.textDocument.uri]: edits } };
  }

  symbols(p: { textDocument: { uri: string } }): DocumentSymbol[] {
    const d = this.doc(p.textDocument.uri);
    return d ? runSymbols(d.doc) : [];
  }

  folding(p: { textDocument: { uri: string } }): FoldingRange[] {
    const d = this.doc(p.textDocument.uri);
    return d ? runFolding(d.doc) : [];
  }

  links(p: { textDocument: { uri: string } }): DocumentLink[] {
    const d = this.doc(p.textDocument.uri);
    return d ? runLinks(d.doc, this.files) : [];
  }
}
