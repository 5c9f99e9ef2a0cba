import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AnalysisOptions, ConstitutionWorkspace } from '../core/constitution/resolve.js';
import type { FromWorker, ToWorker } from './workerProtocol.js';

export interface DiagnosticsResult {
  file: string;
  version: number | null;
  diagnostics: FromWorker['diagnostics'];
  files: string[];
}

/**
 * Computes diagnostics off the main thread (dist/worker.js, next to the server bundle). If the
 * worker cannot start, it falls back to computing on the main thread, with the same results.
 */
export class DiagnosticsEngine {
  private worker: Worker | undefined;
  private fallback = false;

  constructor(
    private readonly onResult: (r: DiagnosticsResult) => void,
    private readonly core: ConstitutionWorkspace,
    private readonly version: (file: string) => number | null,
    private readonly log: (message: string) => void,
  ) {
    const script = path.join(__dirname, 'worker.js');
    try {
      this.worker = new Worker(script);
      this.worker.on('message', (m: FromWorker) => this.onResult(m));
      this.worker.on('error', (e) => {
        this.log(`diagnostics worker failed (${e.message}); validating on the main thread`);
        this.worker = undefined;
        this.fallback = true;
      });
      this.worker.unref();
    } catch (e) {
      this.log(`diagnostics worker unavailable (${(e as Error).message}); validating on the main thread`);
      this.fallback = true;
    }
  }

  private options: AnalysisOptions = {};

  private post(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  configure(roots: string[], options: AnalysisOptions): void {
    this.options = options;
    this.post({ kind: 'configure', roots, options });
  }

  sync(file: string, version: number | null, text: string | null): void {
    this.post({ kind: 'sync', file, version, text });
  }

  invalidate(file: string): void {
    this.post({ kind: 'invalidate', file });
  }

  validate(file: string): void {
    if (this.worker && !this.fallback) {
      this.post({ kind: 'validate', file });
      return;
    }
    const res = this.core.resolve(file, this.options);
    this.onResult({ file, version: this.version(file), diagnostics: res?.diagnostics ?? [], files: res ? [...res.files.keys()] : [file] });
  }

  async dispose(): Promise<void> {
    await this.worker?.terminate();
  }
}
