// The platform's UTF-8 and SHA-256 for exported job folders (src/core/scaleout/exportJob.ts is
// pure and takes them from its caller).

import { createHash } from 'node:crypto';
import type { JobHashing } from '../core/scaleout/exportJob';

export const nodeHashing: JobHashing = {
  utf8: (text) => Buffer.from(text, 'utf8'),
  sha256: (bytes) => createHash('sha256').update(bytes).digest('hex'),
};
