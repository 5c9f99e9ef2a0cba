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
import type { PairBatch } from '../core/training/preference';
import type { PpoRows } from '../core/training/ppo';
import { Replica, type GenerateRequest, type LmBatch, type ReplicaInit, type TokenStats, type TrainBatch } from './replica';
import type { WorkerReply, WorkerRequest, WorkerRequestBody } from './replicaProtocol';

export interface StepResult {
  loss: number;
  gradNorm: number;
  /** Preference batches: r_a − r_b per pair, in batch order. */
  margins?: number[];
  /** PPO and value batches: their diagnostics (means over the batch's response tokens). */
  stats?: Record<string, number>;
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

/** Rows [start, start+count) of a batch: token rows for LM batches, pairs for preference batches. */
export function sliceBatch(t: TrainBatch, start: number, count: number): TrainBatch {
  if (t.kind === 'ppo' || t.kind === 'value') {
    const b = t.batch;
    const w = b.cols - 1;
    const cut = (x: Float32Array): Float32Array => x.slice(start * w, (start + count) * w);
    const rows = { ids: b.ids.slice(start * b.cols, (start + count) * b.cols), rows: count, cols: b.cols, mask: cut(b.mask), old: cut(b.old) };
    return t.kind === 'ppo'
      ? { kind: 'ppo', batch: { ...t.batch, ...rows, advantages: cut(t.batch.advantages) } }
      : { kind: 'value', batch: { ...t.batch, ...rows, returns: cut(t.batch.returns) } };
  }
  if (t.kind === 'lm') {
    const b = t.batch;
    return {
      kind: 'lm',
      batch: {
        ids: b.ids.slice(start * b.cols, (start + count) * b.cols),
        rows: count,
        cols: b.cols,
        ...(b.lossMask ? { lossMask: b.lossMask.slice(start * (b.cols - 1), (start + count) * (b.cols - 1)) } : {}),
      },
    };
  }
  const b = t.batch;
  return {
    kind: 'pm',
    batch: { ids: b.ids.slice(2 * start * b.cols, 2 * (start + count) * b.cols), rows: 2 * count, cols: b.cols, lengths: b.lengths.slice(2 * start, 2 * (start + count)), labels: b.labels.slice(start, start + count), ...(b.lmWeight ? { lmWeight: b.lmWeight } : {}) },
  };
}

/** Units a batch splits into: token rows, or pairs. */
function unitsOf(t: TrainBatch): number {
  return t.kind === 'pm' ? t.batch.labels.length : t.batch.rows;
}

/** Rows [start, start+count) of right-padded token rows and their per-token mask. */
function sliceRows(r: PpoRows, start: number, count: number): PpoRows {
  const w = r.cols - 1;
  return { ids: r.ids.slice(start * r.cols, (start + count) * r.cols), rows: count, cols: r.cols, mask: r.mask.slice(start * w, (start + count) * w) };
}

/** Concatenates per-row arrays returned by replicas in share order. */
function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Batches whose loss is already normalised over the whole batch (its shares simply add up). */
function selfNormalised(t: TrainBatch): boolean {
  return t.kind === 'ppo' || t.kind === 'value';
}

function addStats(into: Record<string, number>, from: Record<string, number> | undefined, weight: number): void {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v * weight;
}

class WorkerHandle {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    // A pool someone forgot to dispose must not keep the process alive.
    worker.unref();
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
  ) {}

  /** Test hook (faultInjection.ts): the step whose loss is replaced by NaN before the guard sees it. */
  poisonStep: number | undefined;

  /** Replicas in use (1 = this thread). */
  get size(): number {
    return this.local ? 1 : this.workers.length;
  }

  static async create(init: ReplicaInit, opts: { workers: number; backend: BackendName }): Promise<ReplicaPool> {
    if (opts.workers <= 1) {
      return new ReplicaPool(new Replica(init), []);
    }
    // Count parameters the same way a replica will (trunk + heads) to size the shared buffers.
    const probe = countParams(init);
    const sabs = Array.from({ length: opts.workers }, () => new SharedArrayBuffer(probe * 4));
    const handles = sabs.map(() => new WorkerHandle(startWorker()));
    const pool = new ReplicaPool(undefined, handles);
    try {
      await Promise.all(handles.map((h, index) => h.call({ kind: 'init', init, backend: opts.backend, buffers: sabs, index })));
    } catch (e) {
      await pool.dispose();
      throw e;
    }
    return pool;
  }

  /**
   * One optimizer step on `micro` (micro-batches of equal sizes): every replica takes its share
   * of each micro-batch; the gradient is the mean over all rows (or pairs). Preference batches
   * also return each pair's reward margin, in batch order.
   */
  async trainStep(micro: (LmBatch | TrainBatch)[], lr: number, clipNorm: number, step: number): Promise<StepResult> {
    const batches: TrainBatch[] = micro.map((m) => ('kind' in m ? m : { kind: 'lm', batch: m }));
    const scaleFor = (b: TrainBatch, units: number, total: number): number => (selfNormalised(b) ? 1 : units / total) / batches.length;
    if (this.local) return this.local.step(batches, lr, clipNorm, step, step === this.poisonStep);
    const k = this.workers.length;
    const results = await Promise.all(this.workers.map((w, wi) => {
      const parts = batches.map((b) => {
        const total = unitsOf(b);
        const s = shares(total, k)[wi];
        return s ? { batch: sliceBatch(b, s.start, s.count), scale: scaleFor(b, s.count, total), weight: scaleFor(b, s.count, total) } : undefined;
      });
      return w.call<{ loss: number; margins: number[]; stats: Record<string, number> }>({ kind: 'grads', parts: parts.filter((p) => p !== undefined) });
    }));
    const loss = step === this.poisonStep ? NaN : results.reduce((a, r) => a + r.loss, 0);
    const stats: Record<string, number> = {};
    for (const r of results) addStats(stats, r.stats, 1);
    const norms = await Promise.all(this.workers.map((w) => w.call<number>({ kind: 'apply', lr, clipNorm, step, loss })));
    // Margins come back per worker share; put them back in batch order.
    let margins: number[] | undefined;
    if (batches.some((b) => b.kind === 'pm')) {
      margins = [];
      const perWorker = results.map((r) => [...r.margins]);
      for (const b of batches) {
        const total = unitsOf(b);
        shares(total, k).forEach((s, wi) => margins!.push(...perWorker[wi]!.splice(0, s.count)));
      }
    }
    return { loss, gradNorm: norms[0]!, ...(margins ? { margins } : {}), ...(Object.keys(stats).length ? { stats } : {}) };
  }

  /** Per-token log-probabilities and entropies of right-padded rows (no gradient). */
  async tokenStats(rows: PpoRows, temperature: number): Promise<TokenStats> {
    if (this.local) return this.local.tokenStats(rows, temperature);
    const parts = shares(rows.rows, this.workers.length);
    const res = await Promise.all(parts.map((s, i) => this.workers[i]!.call<TokenStats>({ kind: 'tokenStats', rows: sliceRows(rows, s.start, s.count), temperature })));
    return { logprobs: concat(res.map((r) => r.logprobs)), entropy: concat(res.map((r) => r.entropy)) };
  }

  /** Value-head outputs of right-padded rows (no gradient). */
  async values(rows: PpoRows): Promise<Float32Array> {
    if (this.local) return this.local.values(rows);
    const parts = shares(rows.rows, this.workers.length);
    return concat(await Promise.all(parts.map((s, i) => this.workers[i]!.call<Float32Array>({ kind: 'values', rows: sliceRows(rows, s.start, s.count) }))));
  }

  /** Reward-head outputs at each row's last real token (no gradient); `labels` is ignored. */
  async rewards(batch: PairBatch): Promise<number[]> {
    if (this.local) return this.local.rewards(batch);
    const parts = shares(batch.rows, this.workers.length);
    const res = await Promise.all(parts.map((s, i) => this.workers[i]!.call<number[]>({
      kind: 'rewards',
      batch: { ids: batch.ids.slice(s.start * batch.cols, (s.start + s.count) * batch.cols), rows: s.count, cols: batch.cols, lengths: batch.lengths.slice(s.start, s.start + s.count), labels: new Float32Array(0) },
    })));
    return res.flat();
  }

  /** Reward margins (r_a − r_b) of pairs without training (evaluation). */
  async margins(batch: PairBatch): Promise<number[]> {
    if (this.local) return this.local.margins(batch);
    const k = this.workers.length;
    const parts = shares(batch.labels.length, k);
    const res = await Promise.all(parts.map((s, i) => this.workers[i]!.call<number[]>({ kind: 'margins', batch: (sliceBatch({ kind: 'pm', batch }, s.start, s.count) as { kind: 'pm'; batch: PairBatch }).batch })));
    return res.flat();
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
