import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveInclude } from '../files.js';

/** What run-config features need of the file system: whether a path exists, and a folder's entries. */
export interface RunFiles {
  /** The file a path written in `from` names (relative to its folder), or undefined when `from` has no folder (untitled). */
  resolve(from: string, rel: string): string | undefined;
  stat(file: string): 'file' | 'dir' | undefined;
  /** A folder's entries (empty when it cannot be read). */
  list(dir: string): { name: string; dir: boolean }[];
}

/**
 * The server's run-config file host: the file system, with open documents counted as files (an
 * unsaved new constitution is there for the editor). Paths resolve like includes (files.ts).
 */
export function serverRunFiles(isOpen: (file: string) => boolean): RunFiles {
  return {
    resolve: (from, rel) => (path.isAbsolute(from) ? resolveInclude(from, rel) : path.isAbsolute(rel) ? rel : undefined),
    stat(file) {
      if (isOpen(file)) return 'file';
      try {
        const s = fs.statSync(file);
        return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : undefined;
      } catch {
        return undefined;
      }
    },
    list(dir) {
      try {
        return fs.readdirSync(dir, { withFileTypes: true }).map((e) => {
          let isDir = e.isDirectory();
          if (e.isSymbolicLink()) {
            try {
              isDir = fs.statSync(path.join(dir, e.name)).isDirectory();
            } catch {
              isDir = false;
            }
          }
          return { name: e.name, dir: isDir };
        });
      } catch {
        return [];
      }
    },
  };
}
