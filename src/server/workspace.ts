import * as path from 'node:path';
import type { TextDocuments } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { ConstitutionWorkspace, type AnalysisOptions, type Resolution } from '../core/constitution/resolve.js';
import type { FileAnalysis } from '../core/constitution/validate.js';
import { TextIndex, type Span } from '../core/text.js';
import { findConstitutionFiles, pathToUri, readFileOrUndefined, resolveInclude, uriToPath } from './files.js';

/** Files above this size are not re-analysed on the main thread for every keystroke. */
const LARGE_FILE = 256 * 1024;

/**
 * A view of a file's analysis for a request: the analysis itself and how offsets of the
 * current text map onto it. When a large file was edited since its last analysis, the view
 * reuses that analysis for positions outside the edited region (offsets shift by the edit's
 * length); `toOld` returns undefined inside it.
 */
export interface AnalysisView {
  file: string;
  res: Resolution;
  fa: FileAnalysis;
  /** Offset in the current text → offset in the analysed text. */
  toOld(offset: number): number | undefined;
  /** Span in the analysed text → span in the current text (undefined if the edit touched it). */
  toNew(span: Span): Span | undefined;
  /** Offset in the current text → position in the current text. */
  positionAt(offset: number): { line: number; character: number };
  offsetAt(position: { line: number; character: number }): number;
}

/**
 * The server's view of constitution files: open documents over the file system, every
 * constitution file found in the workspace folders, and resolutions cached per document version.
 */
export class ServerWorkspace {
  readonly core: ConstitutionWorkspace;
  private readonly known = new Set<string>();
  private readonly resolutions = new Map<string, { version: number | undefined; res: Resolution }>();
  /** Files each root read when it was last validated (for dependents). */
  private readonly reads = new Map<string, Set<string>>();
  roots: string[] = [];
  options: AnalysisOptions = {};

  constructor(private readonly documents: TextDocuments<TextDocument>) {
    this.core = new ConstitutionWorkspace({
      read: (file) => this.text(file),
      resolve: resolveInclude,
      display: (file) => this.display(file),
    });
  }

  text(file: string): string | undefined {
    return this.documents.get(pathToUri(file))?.getText() ?? readFileOrUndefined(file);
  }

  version(file: string): number | null {
    return this.documents.get(pathToUri(file))?.version ?? null;
  }

  setRoots(roots: string[]): void {
    this.roots = roots;
    this.known.clear();
    for (const r of roots) for (const f of findConstitutionFiles(r)) this.known.add(f);
  }

  display(file: string): string {
    for (const r of this.roots) {
      const rel = path.relative(r, file);
      if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
    }
    return path.basename(file);
  }

  fileAdded(file: string): void {
    this.known.add(file);
    this.invalidate(file);
  }

  fileDeleted(file: string): void {
    this.known.delete(file);
    this.invalidate(file);
  }

  /** `file` changed: resolutions that read another file's old text are dropped; the file's own is kept for views. */
  invalidate(file: string): void {
    this.core.forget(file);
    for (const [k, v] of this.resolutions) if (k !== file && v.res.files.has(file)) this.resolutions.delete(k);
  }

  invalidateAll(): void {
    this.resolutions.clear();
  }

  knownFiles(): string[] {
    const open = this.documents.all().map((d) => uriToPath(d.uri));
    return [...new Set([...this.known, ...open])].sort();
  }

  /** The resolution for the current text of a file (computed now if the cached one is older). */
  resolve(file: string): Resolution | undefined {
    const version = this.documents.get(pathToUri(file))?.version;
    const cached = this.resolutions.get(file);
    if (cached && cached.version === version && cached.res.files.get(file)?.text === this.text(file)) return cached.res;
    const res = this.core.resolve(file, this.options);
    if (res) this.resolutions.set(file, { version, res });
    return res;
  }

  hasResolution(file: string): boolean {
    return this.resolutions.has(file);
  }

  /** The last resolution of a file, possibly of older text (completion only needs its ids and tags). */
  lastResolution(file: string): Resolution | undefined {
    const cached = this.resolutions.get(file);
    const text = this.text(file);
    if (cached && (text === undefined || text.length >= LARGE_FILE)) return cached.res;
    return this.resolve(file);
  }

  /** The analysis to answer a request at `offset` of the current text, fresh or mapped (see AnalysisView). */
  view(file: string): AnalysisView | undefined {
    const text = this.text(file);
    if (text === undefined) return undefined;
    const cached = this.resolutions.get(file);
    const old = cached?.res.files.get(file);
    if (cached && old && old.text !== text && text.length >= LARGE_FILE) {
      const doc = this.documents.get(pathToUri(file));
      return mappedView(file, cached.res, old, text, doc);
    }
    const res = this.resolve(file);
    const fa = res?.files.get(file);
    if (!res || !fa) return undefined;
    return {
      file,
      res,
      fa,
      toOld: (o) => o,
      toNew: (s) => s,
      positionAt: (o) => fa.index.positionAt(o),
      offsetAt: (p) => fa.index.offsetAt(p),
    };
  }

  /** Resolutions of every known constitution file (for references and rename across files). */
  allResolutions(): Resolution[] {
    const out: Resolution[] = [];
    for (const f of this.knownFiles()) {
      const r = this.resolve(f);
      if (r) out.push(r);
    }
    return out;
  }

  /** Remembers which files a root read, from its latest validation. */
  recordReads(root: string, files: string[]): void {
    this.reads.set(root, new Set(files));
  }

  /** Open documents whose validation reads `file` (they need new diagnostics when it changes). */
  dependents(file: string): string[] {
    const out: string[] = [];
    for (const d of this.documents.all()) {
      const p = uriToPath(d.uri);
      if (p === file) continue;
      const r = this.reads.get(p);
      if (!r || r.has(file)) out.push(p);
    }
    return out;
  }
}

function mappedView(file: string, res: Resolution, fa: FileAnalysis, text: string, doc: TextDocument | undefined): AnalysisView {
  const old = fa.text;
  const max = Math.min(old.length, text.length);
  let p = 0;
  while (p < max && old.charCodeAt(p) === text.charCodeAt(p)) p++;
  let q = 0;
  while (q < max - p && old.charCodeAt(old.length - 1 - q) === text.charCodeAt(text.length - 1 - q)) q++;
  const delta = text.length - old.length;
  const oldEnd = old.length - q;
  const newEnd = text.length - q;
  // positions in the current text: the open document keeps its own line index
  let index: TextIndex | undefined;
  const ix = () => (index ??= new TextIndex(text));
  const positionAt = (o: number) => (doc ? doc.positionAt(o) : ix().positionAt(o));
  return {
    file,
    res,
    fa,
    toOld: (o) => (o < p ? o : o >= newEnd ? o - delta : undefined),
    toNew: (s) => (s.end <= p ? s : s.start >= oldEnd ? { start: s.start + delta, end: s.end + delta } : undefined),
    positionAt,
    offsetAt: (pos) => (doc ? doc.offsetAt(pos) : ix().offsetAt(pos)),
  };
}
