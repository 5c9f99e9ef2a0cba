import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileHost } from '../core/constitution/resolve.js';

/** Constitution files read from disk (for the CLI and the trainer); `display` names files in messages. */
export function nodeFileHost(display?: (file: string) => string): FileHost {
  return {
    read: (file) => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    },
    resolve: (from, rel) => path.resolve(path.dirname(from), rel),
    ...(display ? { display } : {}),
  };
}
