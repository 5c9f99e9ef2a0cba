// The RL-CAI stage: PPO of the SL-CAI policy against the preference model, with a KL penalty to
// the SL-CAI policy itself (the reference). As in TRL, four models take part: the policy
// (trained), the reference (frozen copy of the starting policy), the reward model (the
// preference model, frozen) and the value model (a copy of the preference model whose reward
// head becomes the value head; trained). Each PPO iteration samples one batch of rollouts, scores
// them, computes KL-penalised rewards and GAE advantages, then runs `epochs` passes of minibatch
// updates. Policy and value model keep separate AdamW optimizers (their parameters are disjoint;
// the value loss is weighted by `vfCoef` as in TRL's joint loss).
//
// Every iteration's prompts and sampling seed derive from the run seed and the iteration number,
// so a run resumed from a checkpoint repeats exactly what an uninterrupted one does; metrics and
// samples are written under ids naming the iteration.

import * as path from 'node:path';
import type { ConstitutionData } from '../core/constitution/data';
import type { HostTensor, WeightMap } from '../core/model/config';
import { responsePrompt, turnStops } from '../core/pipeline/stages';
import type { PpoStage } from '../core/runs/config';
import { recordId } from '../core/runs/records';
import { NonFiniteError } from '../core/training/guard';
import { adaptKlCoef, gae, klPenalisedRewards, maskedMoments, maskedWhiten, type PpoRows } from '../core/training/ppo';
import { Rng } from '../core/training/rng';
import type { ModelRef } from '../protocol/trainer';
import { CheckpointStore } from './checkpoint';
import type { PromptItem } from './datasets';
import { finishText, loadModel, makePool, type LoadedModel } from './engine';
import { saveHfFolder } from './hfFolder';
import { injectedNanStep } from './faultInjection';
import { JobError, nonFiniteAsJobError, type JobContext } from './jobs';
import type { ReplicaPool } from './parallel';
import { pmTokens, rowsBatch } from './pmData';
import type { RunDirectory } from '../node/runDir';

export interface PpoStageInput {
  settings: PpoStage;
  constitution: ConstitutionData;
  prompts: readonly PromptItem[];
  /** Helpfulness prompts; `settings.helpfulnessShare` of each batch comes from them. */
  helpfulPrompts?: readonly PromptItem[];
  /** Where the policy starts (the SL-CAI model, or the base policy when SL-CAI did not run). */
  policy: ModelRef;
  /** The trained preference model's folder. */
  preferenceModel: string;
  seed: number;
  run: RunDirectory;
  /** The run directory. */
  dir: string;
  /** Where the trained policy is saved (a Hugging Face folder). */
  saveTo: string;
  ctx: JobContext;
  /** True once the parent asked the run to stop (between iterations). */
  stopNow: () => Promise<boolean>;
  metric: (step: number, values: Record<string, number>) => void;
}

interface PpoState {
  step: number;
  klCoef: number;
}

/** One rollout batch, right-padded: prompt ⊕ response per row. */
interface Rollouts extends PpoRows {
  promptIds: string[];
  prompts: string[];
  responses: string[];
  responseTokens: number[];
  endedEarly: number;
}

function configError(message: string): JobError {
  return new JobError('config', message, false);
}

/** Keeps prompts within the context, leaving room for the response (BOS kept). */
function fitPrompt(ids: number[], limit: number, bos: number | undefined): number[] {
  if (ids.length <= limit) return ids;
  return bos !== undefined && ids[0] === bos ? [bos, ...ids.slice(ids.length - limit + 1)] : ids.slice(ids.length - limit);
}

function prefixed(prefix: string, m: ReadonlyMap<string, HostTensor>): [string, HostTensor][] {
  return [...m].map(([k, v]) => [`${prefix}/${k}`, v]);
}

function unprefixed(prefix: string, m: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of m) if (k.startsWith(`${prefix}/`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

/** Runs (or resumes) PPO; returns whether it stopped early at the parent's request. */
export async function runPpoStage(input: PpoStageInput): Promise<{ stopped: boolean; steps: number }> {
  const s = input.settings;
  const { ctx, constitution: c } = input;
  if (input.prompts.length === 0) throw configError('stages.ppo: there are no red-team prompts to roll out on (datasets.redTeam)');
  if (s.batchSize % s.minibatches !== 0) throw configError(`stages.ppo.minibatches (${s.minibatches}) must divide stages.ppo.batchSize (${s.batchSize})`);

  const policy = await loadModel(input.policy, input.seed);
  let pm: LoadedModel;
  try {
    pm = await loadModel({ path: input.preferenceModel }, input.seed);
  } catch (e) {
    throw configError(`stages.ppo: the preference model ${input.preferenceModel} cannot be loaded (run the pm stage first): ${(e as Error).message}`);
  }
  if (!pm.weights.has('reward.w')) throw configError(`stages.ppo: ${input.preferenceModel} has no reward head; it is not a trained preference model`);
  if (pm.config.vocabSize !== policy.config.vocabSize || (pm.tokenizerJson !== undefined && policy.tokenizerJson !== undefined && pm.tokenizerJson !== policy.tokenizerJson)) {
    throw configError('stages.ppo: the value model starts from the preference model, which must use the same tokenizer as the policy');
  }
  const ctxLen = Math.min(policy.config.maxPositions, pm.config.maxPositions);
  const maxNew = Math.min(s.maxNewTokens, ctxLen - 2);
  if (maxNew < 1) throw configError(`stages.ppo.maxNewTokens: the models' context of ${ctxLen} tokens leaves no room for a response`);

  // The value model: the preference model with its reward head copied into a value head.
  const valueWeights: WeightMap = new Map([...pm.weights].filter(([k]) => !k.startsWith('reward.')));
  valueWeights.set('value.w', pm.weights.get('reward.w')!);
  valueWeights.set('value.b', pm.weights.get('reward.b')!);

  const store = new CheckpointStore(path.join(input.dir, 'checkpoints', 'ppo'), { keepLast: 2, warn: (m) => ctx.log('warn', m) });
  const latest = await store.latest();
  let state: PpoState = { step: 0, klCoef: s.klCoef };
  let policyWeights = policy.weights;
  let valueStart = valueWeights;
  if (latest) {
    state = latest.state as PpoState;
    policyWeights = unprefixed('policy', latest.weights);
    valueStart = unprefixed('value', latest.weights);
    ctx.log('info', `stage ppo: resuming from ${latest.path} (iteration ${state.step})`);
  }

  const pools: ReplicaPool[] = [];
  const pool = async (p: Promise<ReplicaPool>): Promise<ReplicaPool> => {
    const x = await p;
    pools.push(x);
    return x;
  };
  try {
    const opt = { lr: s.lr, weightDecay: 0 };
    const policyPool = await pool(makePool({ ...policy, weights: policyWeights }, s.batchSize, opt));
    policyPool.poisonStep = injectedNanStep('ppo');
    const refPool = await pool(makePool(policy, s.batchSize));
    const rewardPool = await pool(makePool(pm, s.batchSize, undefined, ['reward']));
    const valuePool = await pool(makePool({ ...pm, weights: valueStart }, s.batchSize, opt, ['value']));
    if (latest?.optimizer) {
      const o = latest.optimizer;
      await policyPool.loadOptimizerState({ step: o.step, m: unprefixed('policy', o.m), v: unprefixed('policy', o.v) });
      await valuePool.loadOptimizerState({ step: o.step, m: unprefixed('value', o.m), v: unprefixed('value', o.v) });
    }
    let lastCheckpoint = latest?.path;
    const save = async (): Promise<void> => {
      const [pw, vw, po, vo] = await Promise.all([policyPool.exportWeights(), valuePool.exportWeights(), policyPool.optimizerState(), valuePool.optimizerState()]);
      lastCheckpoint = await store.save(state.step, {
        weights: new Map([...prefixed('policy', pw), ...prefixed('value', vw)]),
        ...(po && vo ? { optimizer: { step: po.step, m: new Map([...prefixed('policy', po.m), ...prefixed('value', vo.m)]), v: new Map([...prefixed('policy', po.v), ...prefixed('value', vo.v)]) } } : {}),
        state,
      });
    };
    const tok = policy.tokenizer;
    const stops = turnStops(c);

    const rollout = async (step: number): Promise<Rollouts> => {
      const rng = new Rng(input.seed).fork(`ppo:${step}`);
      const helpful = input.helpfulPrompts ?? [];
      const nHelpful = helpful.length ? Math.round(s.batchSize * s.helpfulnessShare) : 0;
      const pick = (from: readonly PromptItem[], n: number): PromptItem[] => {
        const order = rng.shuffle(from.map((_, i) => i));
        return Array.from({ length: n }, (_, i) => from[order[i % order.length]!]!);
      };
      const chosen = [...pick(input.prompts, s.batchSize - nHelpful), ...pick(helpful, nHelpful)];
      const texts = chosen.map((p) => responsePrompt(c, [{ role: 'human', text: p.prompt }]));
      const promptIds = texts.map((t) => fitPrompt(tok.encode(t, { addSpecialTokens: true }), ctxLen - maxNew, tok.bosTokenId));
      const gens = await policyPool.generate({ prompts: promptIds, maxNewTokens: maxNew, temperature: s.temperature, eosTokenIds: [...policy.config.eosTokenIds], seed: rng.nextUint32() });
      const outs = gens.map((g) => finishText(g, tok, stops));
      const cols = Math.max(2, ...promptIds.map((p, i) => p.length + outs[i]!.tokens.length));
      const rows = s.batchSize;
      const ids = new Int32Array(rows * cols);
      const mask = new Float32Array(rows * (cols - 1));
      promptIds.forEach((p, r) => {
        const resp = outs[r]!.tokens;
        ids.set(p, r * cols);
        ids.set(resp, r * cols + p.length);
        for (let j = 0; j < resp.length; j++) mask[r * (cols - 1) + p.length - 1 + j] = 1;
      });
      return {
        ids, rows, cols, mask,
        promptIds: chosen.map((p) => p.id),
        prompts: chosen.map((p) => p.prompt),
        responses: outs.map((o) => o.text.trim()),
        responseTokens: outs.map((o) => o.tokens.length),
        endedEarly: outs.filter((o) => o.finishReason !== 'length').length,
      };
    };

    const scoreOf = (ro: Rollouts): Promise<number[]> => rewardPool.rewards(rowsBatch(ro.prompts.map((p, i) => pmTokens(pm, c, p, ro.responses[i]!))));

    while (state.step < s.steps) {
      if (await input.stopNow()) {
        await save();
        return { stopped: true, steps: state.step };
      }
      const step = state.step;
      const ro = await rollout(step);
      const w = ro.cols - 1;
      const [pol, ref, values, scores] = await Promise.all([policyPool.tokenStats(ro, s.temperature), refPool.tokenStats(ro, s.temperature), valuePool.values(ro), scoreOf(ro)]);
      const bad = NonFiniteError.check({ 'preference-model score': scores.reduce((a, x) => a + x, 0), 'rollout log-probability': pol.logprobs.reduce((a, x) => a + x, 0) }, step);
      if (bad) throw new JobError('nonfinite', `stage ppo: ${bad.message}; the last good checkpoint is ${lastCheckpoint ?? '(none yet)'}`, false);
      // Values past each response are not used; zero them so nothing stale leaks into GAE.
      for (let i = 0; i < values.length; i++) if (!(ro.mask[i]! > 0)) values[i] = 0;
      const parts = klPenalisedRewards(pol.logprobs, ref.logprobs, ro.mask, scores, ro.rows, w, state.klCoef);
      const { advantages: rawAdv, returns } = gae(parts.rewards, values, ro.mask, ro.rows, w, s.gamma, s.lam);
      const advantages = maskedWhiten(rawAdv, ro.mask);

      // `epochs` passes of shuffled minibatch updates over the batch.
      const mbSize = s.batchSize / s.minibatches;
      const rng = new Rng(input.seed).fork(`ppo-minibatches:${step}`);
      const sums: Record<string, number> = {};
      let updates = 0;
      for (let e = 0; e < s.epochs; e++) {
        const order = rng.shuffle(Array.from({ length: ro.rows }, (_, i) => i));
        for (let m = 0; m < s.minibatches; m++) {
          const idx = order.slice(m * mbSize, (m + 1) * mbSize);
          const take = (x: Float32Array): Float32Array => {
            const out = new Float32Array(idx.length * w);
            idx.forEach((r, j) => out.set(x.subarray(r * w, (r + 1) * w), j * w));
            return out;
          };
          const ids = new Int32Array(idx.length * ro.cols);
          idx.forEach((r, j) => ids.set(ro.ids.subarray(r * ro.cols, (r + 1) * ro.cols), j * ro.cols));
          const mask = take(ro.mask);
          const norm = Math.max(1, mask.reduce((a, x) => a + x, 0));
          const rows = { ids, rows: idx.length, cols: ro.cols, mask };
          try {
            const pr = await policyPool.trainStep([{ kind: 'ppo', batch: { ...rows, old: take(pol.logprobs), advantages: take(advantages), cliprange: s.cliprange, norm, temperature: s.temperature } }], s.lr, 1, step);
            const vr = await valuePool.trainStep([{ kind: 'value', batch: { ...rows, old: take(values), returns: take(returns), cliprange: s.cliprangeValue, norm, coef: s.vfCoef } }], s.lr, 1, step);
            for (const [k, v] of Object.entries({ ...pr.stats, ...vr.stats, 'loss/policy_avg': pr.loss })) sums[k] = (sums[k] ?? 0) + v;
          } catch (err) {
            throw nonFiniteAsJobError(err, `the last good checkpoint is ${lastCheckpoint ?? '(none yet)'}`);
          }
          updates++;
        }
      }
      const avg = (k: string): number => (sums[k] ?? NaN) / updates;
      const meanScore = scores.reduce((a, x) => a + x, 0) / scores.length;
      const meanNonScore = parts.nonScore.reduce((a, x) => a + x, 0) / ro.rows;
      // TRL's objective/entropy: the summed negative log-probability of the sampled tokens per sequence.
      let nll = 0;
      for (let i = 0; i < pol.logprobs.length; i++) if (ro.mask[i]! > 0) nll -= pol.logprobs[i]!;
      const ratio = avg('val/ratio');
      const values1 = maskedMoments(values, ro.mask);
      state = { step: step + 1, klCoef: s.adaptiveKl ? adaptKlCoef(state.klCoef, parts.kl.reduce((a, x) => a + x, 0) / ro.rows, s.targetKl, s.batchSize) : state.klCoef };
      input.metric(step + 1, {
        'objective/kl': parts.kl.reduce((a, x) => a + x, 0) / ro.rows,
        'objective/entropy': nll / ro.rows,
        'objective/non_score_reward': meanNonScore,
        'objective/rlhf_reward': meanScore + meanNonScore,
        'objective/scores': meanScore,
        'policy/approxkl_avg': avg('policy/approxkl_avg'),
        'policy/clipfrac_avg': avg('policy/clipfrac_avg'),
        'loss/policy_avg': avg('loss/policy_avg'),
        'loss/value_avg': avg('loss/value_avg'),
        'val/clipfrac_avg': avg('val/clipfrac_avg'),
        'val/ratio': ratio,
        'val/ratio_var': Math.max(0, avg('val/ratio_sq') - ratio * ratio),
        'val/mean': values1.mean,
        'val/num_eos_tokens': ro.endedEarly,
        'objective/kl_coef': state.klCoef,
        lr: s.lr,
        episode: (step + 1) * s.batchSize,
        response_tokens: ro.responseTokens.reduce((a, x) => a + x, 0) / ro.rows,
      });
      input.run.appendMany('samples.jsonl', ro.prompts.map((p, i) => ({
        id: recordId(['ppo-sample', String(step + 1), String(i)]), stage: 'ppo', step: step + 1, prompt_id: ro.promptIds[i]!, prompt: p, response: ro.responses[i]!, score: scores[i]!, kl: parts.kl[i]!,
      })));
      ctx.progress({ stage: 'ppo', step: state.step, totalSteps: s.steps, metrics: { score: meanScore, kl: parts.kl.reduce((a, x) => a + x, 0) / ro.rows } });
      if (state.step < s.steps) await save();
    }
    await save();
    await saveHfFolder(input.saveTo, policy.config, await policyPool.exportWeights(), { dtype: 'F32', ...(policy.tokenizerJson ? { tokenizerJson: policy.tokenizerJson } : {}) });
    return { stopped: false, steps: state.step };
  } finally {
    await Promise.all(pools.map((p) => p.dispose()));
  }
}
