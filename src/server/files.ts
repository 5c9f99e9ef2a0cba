import * as fs from 'node:fs';
import * as path from 'node:path';
import { URI } from 'vscode-uri';
import { isConstitutionFile } from '../core/constitution/fileNames.js';


const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'out', '.vscode-test', '__pycache__', '.venv']);

export function uriToPath(uri: string): string {
  const u = URI.parse(uri);
  return u.scheme === 'file' ? u.fsPath : uri;
}

export function pathToUri(file: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(file) && !/^[a-z]:[\\/]/i.test(file) ? file : URI.file(file).toString();
}

/** Every constitution file under a folder (skipping hidden, dependency and build folders), up to `limit`. */
export function findConstitutionFiles(root: string, limit = 5000): string[] {
  const out: string[] = [];
  const stack = [root];
  while (stack.length && out.length < limit) {
    const dir = stack.pop() as string;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) stack.push(path.join(dir, e.name));
      } else if (e.isFile() && isConstitutionFile(e.name)) out.push(path.join(dir, e.name));
    }
  }
  return out.sort();
}

export function readFileOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Relative include path as a user writes it: forward slashes, `./` dropped. */
export function relativeInclude(from: string, to: string): string {
  const rel = path.relative(path.dirname(from), to).split(path.sep).join('/');
  return rel;
}

export function resolveInclude(from: string, rel: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(from) && !/^[a-z]:[\\/]/i.test(from)) return rel; // untitled documents have no folder
  return path.resolve(path.dirname(from), rel);
}
