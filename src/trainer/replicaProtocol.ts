// Messages between the engine and its training worker threads (parallel.ts ↔ replicaWorker.ts).

import type { AdamWState } from '../core/training/optimizer';
import type { BackendName } from '../protocol/trainer';
import type { PairBatch } from '../core/training/preference';
import type { PpoRows } from '../core/training/ppo';
import type { GenerateRequest, ReplicaInit, TrainBatch } from './replica';

export type WorkerRequestBody =
  /** Build the replica on `backend`; `buffers[index]` is this worker's gradient buffer. */
  | { kind: 'init'; init: ReplicaInit; backend: BackendName; buffers: SharedArrayBuffer[]; index: number }
  /** Gradients of this worker's shares, summed into its buffer; replies with its weighted loss. */
  | { kind: 'grads'; parts: { batch: TrainBatch; scale: number; weight: number }[] }
  /** Reward margins of pairs (no gradient). */
  | { kind: 'margins'; batch: PairBatch }
  /** Sum all workers' buffers and take the optimizer step; replies with the gradient norm. */
  | { kind: 'apply'; lr: number; clipNorm: number; step: number; loss: number }
  | { kind: 'generate'; req: GenerateRequest }
  /** Per-token log-probabilities and entropies of right-padded rows (no gradient). */
  | { kind: 'tokenStats'; rows: PpoRows; temperature: number }
  /** Value-head outputs of right-padded rows (no gradient). */
  | { kind: 'values'; rows: PpoRows }
  /** Reward-head outputs at each row's last token (no gradient). */
  | { kind: 'rewards'; batch: PairBatch }
  | { kind: 'score'; prompt: number[]; continuations: number[][] }
  | { kind: 'exportWeights' }
  | { kind: 'optimizerState' }
  | { kind: 'loadOptimizerState'; state: AdamWState };

export type WorkerRequest = WorkerRequestBody & { id: number };

export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string; what?: string; step?: number } };
