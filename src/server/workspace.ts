import * as path from 'node:path';
import type { TextDocuments } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { ConstitutionWorkspace, type AnalysisOptions, type Resolution } from '../core/constitution/resolve.js';
import type { FileAnalysis } from '../core/constitution/validate.js';
import { findConstitutionFiles, pathToUri, readFileOrUndefined, resolveInclude, uriToPath } from './files.js';

/**
 * The server's view of constitution files: open documents over the file system, every
 * constitution file found in the workspace folders, and resolutions cached per document version.
 */
export class ServerWorkspace {
  readonly core: ConstitutionWorkspace;
  private readonly known = new Set<string>();
  private readonly resolutions = new Map<string, { version: number | undefined; res: Resolution }>();
  private roots: string[] = [];
  options: AnalysisOptions = {};

  constructor(private readonly documents: TextDocuments<TextDocument>) {
    this.core = new ConstitutionWorkspace({
      read: (file) => this.documents.get(pathToUri(file))?.getText() ?? readFileOrUndefined(file),
      resolve: resolveInclude,
      display: (file) => this.display(file),
    });
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

  /** Something changed in `file`: drop every cached resolution that read it. */
  invalidate(file: string): void {
    this.core.forget(file);
    for (const [k, v] of this.resolutions) if (v.res.files.has(file) || k === file) this.resolutions.delete(k);
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
    if (cached && cached.version === version && version !== undefined) return cached.res;
    const res = this.core.resolve(file, this.options);
    if (res) this.resolutions.set(file, { version, res });
    return res;
  }

  /** The last resolution computed for a file, even if the text has moved on since (for completion). */
  lastResolution(file: string): Resolution | undefined {
    return this.resolutions.get(file)?.res ?? this.resolve(file);
  }

  fileAnalysis(file: string): FileAnalysis | undefined {
    return this.resolve(file)?.files.get(file);
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

  /** Open documents whose resolution reads `file` (they need new diagnostics when it changes). */
  dependents(file: string): string[] {
    const out: string[] = [];
    for (const d of this.documents.all()) {
      const p = uriToPath(d.uri);
      if (p === file) continue;
      const r = this.resolutions.get(p);
      if (!r || r.res.files.has(file)) out.push(p);
    }
    return out;
  }
}
