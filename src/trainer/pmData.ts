// How the preference model reads a response: the constitution's rendering of the prompt as a
// conversation, a space, then the response; sequences too long for the model lose their oldest
// tokens. Training, PPO rewards and evaluation all go through here, so the model is scored on
// exactly the text shape it was trained on.

import type { ConstitutionData } from '../core/constitution/data';
import { responsePrompt } from '../core/pipeline/stages';
import type { PairBatch } from '../core/training/preference';
import type { LoadedModel } from './engine';

/** Token ids of prompt + response for the preference model (the context's newest tokens). */
export function pmTokens(model: LoadedModel, c: ConstitutionData, prompt: string, response: string): number[] {
  const ids = model.tokenizer.encode(`${responsePrompt(c, [{ role: 'human', text: prompt }])} ${response}`, { addSpecialTokens: true });
  const n = model.config.maxPositions;
  return ids.length <= n ? ids : ids.slice(ids.length - n);
}

/** Right-padded rows with their lengths (labels: one per pair of rows, or none when scoring rows alone). */
export function rowsBatch(seqs: readonly (readonly number[])[], labels: Float32Array = new Float32Array(0)): PairBatch {
  const cols = Math.max(1, ...seqs.map((x) => x.length));
  const ids = new Int32Array(seqs.length * cols);
  seqs.forEach((x, i) => ids.set(x, i * cols));
  return { ids, rows: seqs.length, cols, lengths: Int32Array.from(seqs.map((x) => x.length)), labels };
}

/** A preference batch: rows A₀, B₀, A₁, B₁, … with P(A preferred) per pair. */
export function pairBatch(pairs: readonly { a: readonly number[]; b: readonly number[]; p: number }[]): PairBatch {
  return rowsBatch(pairs.flatMap((x) => [x.a, x.b]), Float32Array.from(pairs.map((x) => x.p)));
}
