// Data parallelism over worker threads. TensorFlow.js's WASM backend computes on one thread in
// Node, so the engine runs one replica per worker thread, each with its own backend instance and
// a share of every batch. Gradients meet in shared memory: each worker writes its share's
// gradient into its own SharedArrayBuffer, then every worker sums all of them and takes the
// same optimizer step, so the replicas stay bit-identical without copying weights around.
//
// With one worker, the replica runs in the calling thread on the current backend.

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WeightMap } from '../core/model/config';
import type { ContinuationScore, Generation } from '../core/model/generate';
import type { AdamWState } from '../core/training/optimizer';
import type { BackendName } from '../protocol/trainer';
import { Replica, type GenerateRequest, type LmBatch, type ReplicaInit } from './replica';
import type { WorkerReply, WorkerRequest, WorkerRequestBody } from './replicaProtocol';

export interface StepResult {
  loss: number;
  gradNorm: number;
}

/** The worker's code: the bundle beside this one, or (running from sources under tsx) the TypeScript entry. */
function startWorker(): Worker {
  if (__filename.endsWith('.ts')) {
    const entry = path.join(__dirname, 'replicaWorker.ts');
    return new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, { eval: true });
  }
  return new Worker(path.join(__dirname, 'replica.js'));
}

/** Splits n items into k contiguous shares as equal as possible (empty shares dropped). */
export function shares(n: number, k: number): { start: number; count: number }[] {
  const out: { start: number; count: number }[] = [];
  let start = 0;
  for (let i = 0; i < k; i++) {
    const count = Math.floor(n / k) + (i < n % k ? 1 : 0);
    if (count > 0) out.push({ start, count });
    start += count;
  }
  return out;
}

function sliceBatch(b: LmBatch, start: number, count: number): LmBatch {
  return {
    ids: b.ids.slice(start * b.cols, (start + count) * b.cols),
    rows: count,
    cols: b.cols,
    ...(b.lossMask ? { lossMask: b.lossMask.slice(start * (b.cols - 1), (start + count) * (b.cols - 1)) } : {}),
  };
}

class WorkerHandle {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(Object.assign(new Error(m.error.message), { name: m.error.name, ...(m.error.what ? { what: m.error.what, step: m.error.step } : {}) }));
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`a training worker thread exited (code ${code})`)));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  call<R>(body: WorkerRequestBody): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, ...body } satisfies WorkerRequest);
    });
  }
}

/** Replicas of one model, in worker threads or in this thread, behind one asynchronous interface. */
export class ReplicaPool {
  private constructor(
    /** The replica in this thread (one-worker pools). */
    private readonly local: Replica | undefined,
    private readonly workers: WorkerHandle[],
    /** The local replica's gradient buffer, reused every step. */
    private readonly localGrad: Float32Array | undefined,
  ) {}

  /** Replicas in use (1 = this thread). */
  get size(): number {
    return this.local ? 1 : this.workers.length;
  }

  static async create(init: ReplicaInit, opts: { workers: number; backend: BackendName }): Promise<ReplicaPool> {
    if (opts.workers <= 1) {
      const r = new Replica(init);
      return new ReplicaPool(r, [], new Float32Array(r.layout.total));
    }
    // Count parameters the same way a replica will (trunk + heads) to size the shared buffers.
    const probe = countParams(init);
    const sabs = Array.from({ length: opts.workers }, () => new SharedArrayBuffer(probe * 4));
    const handles = sabs.map(() => new WorkerHandle(startWorker()));
    const pool = new ReplicaPool(undefined, handles, undefined);
    try {
      await Promise.all(handles.map((h, index) => h.call({ kind: 'init', init, backend: opts.backend, buffers: sabs, index })));
    } catch (e) {
      await pool.dispose();
      throw e;
    }
    return pool;
  }

  /**
   * One optimizer step on `micro` (micro-batches of equal row counts): every replica takes its
   * share of each micro-batch; the gradient is the mean over all rows.
   */
  async trainStep(micro: LmBatch[], lr: number, clipNorm: number, step: number): Promise<StepResult> {
    const scaleFor = (rows: number, total: number): number => rows / total / micro.length;
    if (this.local) {
      const g = this.localGrad!;
      let loss = 0;
      micro.forEach((b, i) => {
        loss += this.local!.lmGradients(b, g, scaleFor(b.rows, b.rows), i > 0) / micro.length;
      });
      const gradNorm = this.local.apply([g], lr, clipNorm, step, loss);
      return { loss, gradNorm };
    }
    const k = this.workers.length;
    const losses = await Promise.all(this.workers.map((w, wi) => {
      const parts = micro.map((b) => {
        const s = shares(b.rows, k)[wi];
        return s ? { batch: sliceBatch(b, s.start, s.count), scale: scaleFor(s.count, b.rows), weight: s.count / b.rows / micro.length } : undefined;
      });
      return w.call<number>({ kind: 'grads', parts: parts.filter((p) => p !== undefined) });
    }));
    const loss = losses.reduce((a, b) => a + b, 0);
    const norms = await Promise.all(this.workers.map((w) => w.call<number>({ kind: 'apply', lr, clipNorm, step, loss })));
    return { loss, gradNorm: norms[0]! };
  }

  async generate(req: GenerateRequest): Promise<Generation[]> {
    if (this.local) return this.local.generate(req);
    const parts = shares(req.prompts.length, this.workers.length);
    const results = await Promise.all(parts.map((s, i) => this.workers[i]!.call<Generation[]>({ kind: 'generate', req: { ...req, prompts: req.prompts.slice(s.start, s.start + s.count), seed: req.seed + 7919 * i } })));
    return results.flat();
  }

  async score(prompt: number[], continuations: number[][]): Promise<ContinuationScore[]> {
    if (this.local) return this.local.score(prompt, continuations);
    const parts = shares(continuations.length, this.workers.length);
    const results = await Promise.all(parts.map((s, i) => this.workers[i]!.call<ContinuationScore[]>({ kind: 'score', prompt, continuations: continuations.slice(s.start, s.start + s.count) })));
    return results.flat();
  }

  async exportWeights(): Promise<WeightMap> {
    if (this.local) return this.local.exportWeights();
    return this.workers[0]!.call<WeightMap>({ kind: 'exportWeights' });
  }

  async optimizerState(): Promise<AdamWState | undefined> {
    if (this.local) return this.local.optimizerState();
    return this.workers[0]!.call<AdamWState | undefined>({ kind: 'optimizerState' });
  }

  async loadOptimizerState(state: AdamWState): Promise<void> {
    if (this.local) return this.local.loadOptimizerState(state);
    await Promise.all(this.workers.map((w) => w.call({ kind: 'loadOptimizerState', state })));
  }

  async dispose(): Promise<void> {
    this.local?.dispose();
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

function countParams(init: ReplicaInit): number {
  let n = 0;
  for (const t of init.weights.values()) n += t.data.length;
  // Heads not in the weights are created by the replica: D + 1 numbers each.
  for (const h of init.heads ?? []) if (!init.weights.has(`${h}.w`)) n += init.config.dModel + 1;
  return n;
}
