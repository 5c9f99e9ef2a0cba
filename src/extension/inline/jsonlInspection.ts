// Inline inspection of pairs.jsonl and revisions.jsonl (and any *.jsonl whose first lines are
// such records): a hint before each record in the visible range, a hover with the whole record
// and, in a run directory, an action that opens the record in the Pairs (or Critiques) panel;
// diagnostics for lines a run reader would stop at or skip. A thin adapter over src/core/runs/inline.ts; never throws.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  commandLink,
  hoverMarkdown,
  JsonlChecker,
  kindForFileName,
  lineHint,
  lineHover,
  parseLine,
  sniffKind,
  type InlineRecordKind,
  type LineDiagnostic,
  type LineInfo,
} from '../../core/runs/inline.js';
import { MANIFEST } from '../../node/runReader.js';
import type { CommandId } from '../../protocol/commands.js';
import { log } from '../log.js';

/** Opens the Pairs panel: arguments `[runDir, {pairId}]`. */
export const SHOW_PAIRS_COMMAND: CommandId = 'constitution.showPairs';
/** Opens the Critiques panel: arguments `[runDir, {recordId}]`. */
export const SHOW_CRITIQUES_COMMAND: CommandId = 'constitution.showCritiques';

/** Hints are computed for at most this many lines per request (a request covers the visible range). */
const MAX_HINT_LINES = 2000;
/** Lines checked between two yields to the event loop. */
const CHECK_SLICE = 1000;
const CHECK_DELAY_MS = 300;

const isJsonl = (doc: vscode.TextDocument) => /\.jsonl$/i.test(doc.uri.path);

function* firstLines(doc: vscode.TextDocument, n: number): Generator<string> {
  for (let i = 0; i < Math.min(n, doc.lineCount); i++) yield doc.lineAt(i).text;
}

const SEVERITY: Record<LineDiagnostic['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
};

/** The panel command that shows this record of a run: a pair in the Pairs panel, a revision in the Critiques panel. */
function openCommand(runDir: string, info: LineInfo): { title: string; command: CommandId; args: unknown[] } | undefined {
  if (info.kind === 'pair' && info.id !== undefined) return { title: 'Open in Pairs panel', command: SHOW_PAIRS_COMMAND, args: [runDir, { pairId: info.id }] };
  if (info.kind === 'revision' && info.id !== undefined) return { title: 'Open in Critiques panel', command: SHOW_CRITIQUES_COMMAND, args: [runDir, { recordId: info.id }] };
  return undefined;
}

export class JsonlInspection implements vscode.InlayHintsProvider, vscode.HoverProvider, vscode.Disposable {
  private readonly kinds = new Map<string, { version: number; kind: InlineRecordKind | undefined }>();
  private readonly runDirs = new Map<string, string | undefined>();
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('constitution-runs');
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly checking = new Map<string, { cancelled: boolean }>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private disposed = false;

  constructor() {
    this.subscriptions.push(
      this.diagnostics,
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, CHECK_DELAY_MS)),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d)),
    );
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  /** The kind of records a document holds (by name, else by its first lines), or undefined when it is not one we annotate. */
  kindOf(doc: vscode.TextDocument): InlineRecordKind | undefined {
    if (!isJsonl(doc)) return undefined;
    const key = doc.uri.toString();
    const cached = this.kinds.get(key);
    if (cached && cached.version === doc.version) return cached.kind;
    const kind = kindForFileName(doc.uri.path) ?? sniffKind(firstLines(doc, 200));
    this.kinds.set(key, { version: doc.version, kind });
    return kind;
  }

  /** The run directory whose pairs.jsonl or revisions.jsonl this document is (so its records open in the run's panels). */
  private runDirOf(doc: vscode.TextDocument): string | undefined {
    if (doc.uri.scheme !== 'file' || !kindForFileName(doc.uri.fsPath)) return undefined;
    const key = doc.uri.toString();
    if (!this.runDirs.has(key)) {
      const dir = path.dirname(doc.uri.fsPath);
      this.runDirs.set(key, fs.existsSync(path.join(dir, MANIFEST)) ? dir : undefined);
    }
    return this.runDirs.get(key);
  }

  provideInlayHints(doc: vscode.TextDocument, range: vscode.Range, token: vscode.CancellationToken): vscode.InlayHint[] {
    const hints: vscode.InlayHint[] = [];
    try {
      if (!this.kindOf(doc)) return hints;
      const runDir = this.runDirOf(doc);
      const last = Math.min(range.end.line, range.start.line + MAX_HINT_LINES - 1, doc.lineCount - 1);
      for (let line = range.start.line; line <= last; line++) {
        if (token.isCancellationRequested) break;
        const info = parseLine(doc.lineAt(line).text);
        const label = lineHint(info);
        if (label === undefined) continue;
        const part = new vscode.InlayHintLabelPart(label);
        const open = runDir ? openCommand(runDir, info) : undefined;
        if (open) {
          part.command = { title: open.title, command: open.command, arguments: open.args };
          part.tooltip = `${open.title} (hover the line for the whole record)`;
        } else part.tooltip = 'Hover the line for the whole record';
        const hint = new vscode.InlayHint(new vscode.Position(line, 0), [part]);
        hint.paddingRight = true;
        hints.push(hint);
      }
    } catch (e) {
      log.warn(`Inlay hints for ${doc.uri.fsPath}: ${(e as Error).message}`);
    }
    return hints;
  }

  provideHover(doc: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    try {
      if (!this.kindOf(doc)) return undefined;
      const line = doc.lineAt(position.line);
      const info = parseLine(line.text);
      const pieces = lineHover(info);
      if (!pieces) return undefined;
      const runDir = this.runDirOf(doc);
      const open = runDir ? openCommand(runDir, info) : undefined;
      // Every piece of the record is inside a code span or block (hoverMarkdown); the only link is
      // ours, and the hover trusts that one command only.
      const body = hoverMarkdown(pieces);
      const md = new vscode.MarkdownString(open ? `${commandLink(open.title, open.command, open.args)}\n\n${body}` : body, false);
      md.supportHtml = false;
      md.isTrusted = open ? { enabledCommands: [open.command] } : false;
      return new vscode.Hover(md, line.range);
    } catch (e) {
      log.warn(`Hover for ${doc.uri.fsPath}: ${(e as Error).message}`);
      return undefined;
    }
  }

  private schedule(doc: vscode.TextDocument, delay: number): void {
    if (this.disposed || !isJsonl(doc)) return;
    const key = doc.uri.toString();
    const running = this.checking.get(key);
    if (running) running.cancelled = true;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.check(doc).catch((e: Error) => log.warn(`Checking ${doc.uri.fsPath}: ${e.message}`));
      }, delay),
    );
  }

  /** Checks the whole document in slices, yielding between them; a newer version or closing the document cancels it. */
  private async check(doc: vscode.TextDocument): Promise<void> {
    const key = doc.uri.toString();
    const kind = doc.isClosed ? undefined : this.kindOf(doc);
    if (!kind) {
      this.diagnostics.delete(doc.uri);
      return;
    }
    const state = { cancelled: false };
    this.checking.set(key, state);
    try {
      const version = doc.version;
      const checker = new JsonlChecker(kind);
      for (let line = 0; line < doc.lineCount; line++) {
        checker.add(doc.lineAt(line).text, line);
        if ((line + 1) % CHECK_SLICE === 0) {
          await new Promise<void>((r) => setImmediate(r));
          if (state.cancelled || this.disposed || doc.isClosed || doc.version !== version) return;
        }
      }
      this.diagnostics.set(doc.uri, checker.finish().map((d) => this.toDiagnostic(doc, d)));
    } finally {
      if (this.checking.get(key) === state) this.checking.delete(key);
    }
  }

  private toDiagnostic(doc: vscode.TextDocument, d: LineDiagnostic): vscode.Diagnostic {
    const line = doc.lineAt(Math.min(d.line, doc.lineCount - 1));
    const start = Math.min(d.column ?? 0, line.range.end.character);
    const range = new vscode.Range(line.lineNumber, start, line.lineNumber, Math.max(start, line.range.end.character));
    const diag = new vscode.Diagnostic(range, d.message, SEVERITY[d.severity]);
    diag.source = 'Constitution Studio';
    diag.code = d.code;
    return diag;
  }

  private forget(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const running = this.checking.get(key);
    if (running) running.cancelled = true;
    this.kinds.delete(key);
    this.runDirs.delete(key);
    this.diagnostics.delete(doc.uri);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const s of this.checking.values()) s.cancelled = true;
    for (const s of this.subscriptions) s.dispose();
  }
}
