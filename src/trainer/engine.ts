// The engine's job runners: language-model training with checkpoints and resume, generation and
// scoring — on a built-in preset or a Hugging Face model folder — registered with the trainer
// process (main.ts) and used directly by `cai`.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HeadName, ModelConfig, WeightMap } from '../core/model/config';
import { PRESETS, presetConfig } from '../core/model/config';
import { ByteTokenizer, type Tokenizer } from '../core/model/tokenizer';
import { configFromHf } from '../core/model/hfConfig';
import { initWeights } from '../core/model/transformer';
import type { Generation } from '../core/model/generate';
import { injectedNanStep } from './faultInjection';
import { Rng, type RngState } from '../core/training/rng';
import { learningRate } from '../core/training/schedule';
import type { GenerateOutput, GenerateParams, GenerateResult, ModelRef, ScoreParams, ScoreResult, TrainLmParams, TrainLmResult } from '../protocol/trainer';
import { JobKind } from '../protocol/trainer';
import { currentBackend } from './backend';
import { CheckpointStore } from './checkpoint';
import { loadHfFolder, saveHfFolder } from './hfFolder';
import { JobError, JobRegistry, nonFiniteAsJobError, type JobContext } from './jobs';
import { ReplicaPool } from './parallel';
import type { LmBatch } from './replica';

export interface LoadedModel {
  config: ModelConfig;
  weights: WeightMap;
  tokenizer: Tokenizer;
  /** tokenizer.json text, kept so a saved model carries its tokenizer. */
  tokenizerJson?: string;
  /** `preset:NAME` or the folder's path. */
  source: string;
}

/** A preset (fresh weights from `seed`) or a model folder. */
export async function loadModel(ref: ModelRef, seed = 0, heads: HeadName[] = []): Promise<LoadedModel> {
  if ('preset' in ref) {
    if (!PRESETS[ref.preset]) throw new JobError('config', `unknown model preset '${ref.preset}' (known: ${Object.keys(PRESETS).join(', ')})`, false);
    const bundled = PRESETS[ref.preset]!.bundled;
    if (bundled) {
      const dir = bundledModelDir(bundled);
      if (!fs.existsSync(path.join(dir, 'config.json'))) throw new JobError('model-file', `the built-in model '${ref.preset}' is missing (${dir}); npm run pretrain-embedded makes it`, false);
      return { ...(await loadModel({ path: dir }, seed, heads)), source: `preset:${ref.preset}` };
    }
    const config = presetConfig(ref.preset);
    const rng = new Rng(seed).fork('init');
    const tokenizer = new ByteTokenizer(config.vocabSize);
    return { config, weights: initWeights(config, () => rng.normal(), heads), tokenizer, tokenizerJson: tokenizer.toHfJson(), source: `preset:${ref.preset}` };
  }
  const dir = path.resolve(ref.path);
  const loaded = await loadHfFolder(dir);
  if (!loaded.tokenizer) throw new JobError('model-file', `${path.join(dir, 'tokenizer.json')}: the model folder has no tokenizer.json`, false);
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  return { config: loaded.config, weights: loaded.weights, tokenizer: loaded.tokenizer, tokenizerJson: fs.readFileSync(tokenizerFile, 'utf8'), source: dir };
}

/** A bundled model's folder: beside the bundle (dist/..), or in the repository when running from sources. */
export function bundledModelDir(rel: string): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, rel);
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', rel);
}

/** Replicas the current backend should use: one per core on WASM (one thread each), else one. */
export function defaultWorkers(): number {
  const b = currentBackend();
  if (!b || b.backend !== 'wasm') return 1;
  return Math.max(1, b.threads);
}

/** Replicas of a loaded model for `items` units of work (no more workers than items). */
export async function makePool(model: LoadedModel, items: number, optimizer?: { lr: number; weightDecay: number }, heads: HeadName[] = []): Promise<ReplicaPool> {
  const backend = currentBackend()?.backend ?? 'cpu';
  const workers = Math.min(defaultWorkers(), Math.max(1, items));
  return ReplicaPool.create({ config: model.config, weights: model.weights, ...(heads.length ? { heads } : {}), ...(optimizer ? { optimizer } : {}) }, { workers, backend });
}

/** A model's configuration without loading its weights. */
export function modelConfigOf(ref: ModelRef): ModelConfig {
  if ('preset' in ref) return presetConfig(ref.preset);
  const file = path.join(path.resolve(ref.path), 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new JobError('model-file', `${file}: ${(e as Error).message}`, false);
  }
  return configFromHf(json, file);
}

/** Reads training text into one token stream, documents separated by the tokenizer's EOS (if any). */
export function loadTokens(data: TrainLmParams['data'], tokenizer: Tokenizer): Int32Array {
  let text: string;
  try {
    text = fs.readFileSync(data.path, 'utf8');
  } catch (e) {
    throw new JobError('config', `${data.path}: ${(e as Error).message}`, false);
  }
  const docs: string[] = [];
  if (data.format === 'text') docs.push(text);
  else {
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        throw new JobError('config', `${data.path}:${i + 1}: not valid JSON`, false);
      }
      const t = (obj as { text?: unknown }).text;
      if (typeof t !== 'string') throw new JobError('config', `${data.path}:${i + 1}: field 'text' must be a string`, false);
      docs.push(t);
    });
  }
  const sep = tokenizer.eosTokenIds[0];
  const out: number[] = [];
  for (const d of docs) {
    out.push(...tokenizer.encode(d, { addSpecialTokens: true }));
    if (sep !== undefined) out.push(sep);
  }
  return Int32Array.from(out);
}

/** `rows` random windows of `cols` tokens from the stream. */
export function sampleWindows(tokens: Int32Array, rows: number, cols: number, rng: Rng): LmBatch {
  if (tokens.length < cols) throw new JobError('config', `the training data has ${tokens.length} tokens, fewer than one sequence of ${cols}`, false);
  const ids = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const start = rng.nextInt(tokens.length - cols + 1);
    ids.set(tokens.subarray(start, start + cols), r * cols);
  }
  return { ids, rows, cols };
}

interface TrainState {
  step: number;
  rng: RngState;
  lastLoss: number;
  source: string;
  config: ModelConfig;
}

function validateTrain(p: TrainLmParams): void {
  const positive: (keyof TrainLmParams)[] = ['steps', 'batchSize', 'seqLen', 'accumulate', 'keepLast'];
  for (const k of positive) if (!Number.isInteger(p[k]) || (p[k] as number) <= 0) throw new JobError('config', `train-lm: '${k}' must be a positive integer (got ${String(p[k])})`, false);
  if (!(p.lr > 0)) throw new JobError('config', `train-lm: 'lr' must be positive (got ${p.lr})`, false);
  if (!(p.weightDecay >= 0)) throw new JobError('config', `train-lm: 'weightDecay' must be ≥ 0`, false);
  if (!(p.clipNorm >= 0)) throw new JobError('config', `train-lm: 'clipNorm' must be ≥ 0`, false);
}

export async function runTrainLm(p: TrainLmParams, ctx: JobContext): Promise<TrainLmResult> {
  validateTrain(p);
  ctx.progress({ stage: 'load', step: 0, totalSteps: p.steps, metrics: {} });
  const model = await loadModel(p.model, p.seed);
  if (p.seqLen + 1 > model.config.maxPositions) throw new JobError('config', `train-lm: seqLen ${p.seqLen} + 1 exceeds the model's context of ${model.config.maxPositions}`, false);
  const tokens = loadTokens(p.data, model.tokenizer);
  const store = new CheckpointStore(p.checkpointDir, { keepLast: p.keepLast, warn: (m) => ctx.log('warn', m) });
  const latest = await store.latest();
  let step = 0;
  let rng = new Rng(p.seed).fork('data');
  let lastLoss = NaN;
  let weights = model.weights;
  if (latest) {
    const st = latest.state as TrainState;
    step = st.step;
    rng = Rng.fromState(st.rng);
    lastLoss = st.lastLoss;
    weights = latest.weights;
    ctx.log('info', `resuming from ${latest.path} (step ${step})`);
  }
  const pool = await makePool({ ...model, weights }, p.batchSize, { lr: p.lr, weightDecay: p.weightDecay });
  pool.poisonStep = injectedNanStep('train-lm');
  let lastCheckpoint: string | undefined = latest?.path;
  const save = async (): Promise<void> => {
    ctx.progress({ stage: 'checkpoint', step, totalSteps: p.steps, metrics: {} });
    const opt = await pool.optimizerState();
    const state: TrainState = { step, rng: rng.state(), lastLoss, source: model.source, config: model.config };
    lastCheckpoint = await store.save(step, { weights: await pool.exportWeights(), ...(opt ? { optimizer: opt } : {}), state });
  };
  try {
    if (latest?.optimizer) await pool.loadOptimizerState({ step: latest.optimizer.step, m: latest.optimizer.m, v: latest.optimizer.v });
    const started = performance.now();
    const firstStep = step;
    while (step < p.steps) {
      ctx.throwIfCancelled();
      if (ctx.stopRequested() === 'checkpoint') {
        await save();
        return { steps: step, finalLoss: lastLoss, ...(lastCheckpoint ? { checkpoint: lastCheckpoint } : {}) };
      }
      const micro = Array.from({ length: p.accumulate }, () => sampleWindows(tokens, p.batchSize, p.seqLen + 1, rng));
      const lr = learningRate(p.schedule, p.lr, step);
      let r;
      try {
        r = await pool.trainStep(micro, lr, p.clipNorm, step);
      } catch (e) {
        throw nonFiniteAsJobError(e, `the last good checkpoint is ${lastCheckpoint ?? '(none yet)'}`);
      }
      step++;
      lastLoss = r.loss;
      const seconds = (performance.now() - started) / 1000;
      ctx.progress({ stage: 'train', step, totalSteps: p.steps, metrics: { loss: r.loss, grad_norm: r.gradNorm, lr, tokens_per_s: ((step - firstStep) * p.batchSize * p.accumulate * p.seqLen) / seconds } });
      if (p.checkpointEvery > 0 && step % p.checkpointEvery === 0 && step < p.steps) await save();
    }
    await save();
    let savedTo: string | undefined;
    if (p.saveTo) {
      await saveHfFolder(p.saveTo, model.config, await pool.exportWeights(), { dtype: 'F32', ...(model.tokenizerJson ? { tokenizerJson: model.tokenizerJson } : {}) });
      savedTo = path.resolve(p.saveTo);
    }
    return { steps: step, finalLoss: lastLoss, ...(lastCheckpoint ? { checkpoint: lastCheckpoint } : {}), ...(savedTo ? { savedTo } : {}) };
  } finally {
    await pool.dispose();
  }
}

export async function runGenerate(p: GenerateParams, ctx: JobContext): Promise<GenerateResult> {
  if (!Number.isInteger(p.maxNewTokens) || p.maxNewTokens < 0) throw new JobError('config', `generate: 'maxNewTokens' must be a non-negative integer (got ${p.maxNewTokens})`, false);
  if (!(p.temperature >= 0)) throw new JobError('config', `generate: 'temperature' must be ≥ 0 (got ${p.temperature})`, false);
  const model = await loadModel(p.model, p.seed);
  const prompts = p.prompts.map((t) => model.tokenizer.encode(t, { addSpecialTokens: true }));
  const maxLen = Math.max(0, ...prompts.map((x) => x.length));
  if (maxLen + 1 > model.config.maxPositions) throw new JobError('config', `generate: a prompt of ${maxLen} tokens leaves no room in the model's context of ${model.config.maxPositions}`, false);
  for (const [i, x] of prompts.entries()) if (x.length === 0) throw new JobError('config', `generate: prompt ${i + 1} encodes to no tokens (the tokenizer adds no BOS)`, false);
  ctx.progress({ stage: 'generate', step: 0, totalSteps: p.maxNewTokens, metrics: {} });
  const pool = await makePool(model, prompts.length);
  try {
    const out = await pool.generate({ prompts, maxNewTokens: p.maxNewTokens, temperature: p.temperature, ...(p.topK !== undefined ? { topK: p.topK } : {}), ...(p.topP !== undefined ? { topP: p.topP } : {}), eosTokenIds: [...model.config.eosTokenIds], seed: p.seed });
    ctx.throwIfCancelled();
    return {
      outputs: out.map((g) => finishText(g, model.tokenizer, p.stop ?? [])),
    };
  } finally {
    await pool.dispose();
  }
}

/**
 * Decodes a generation and cuts it before the first stop string, dropping the tokens whose text
 * lies past the cut.
 */
export function finishText(g: Generation, tokenizer: Tokenizer, stops: readonly string[]): GenerateOutput {
  let tokens = g.tokens;
  let logprobs = g.logprobs;
  let text = tokenizer.decode(tokens, { skipSpecialTokens: true });
  let finishReason = g.finishReason;
  const cut = firstStop(text, stops);
  if (cut !== undefined) {
    text = text.slice(0, cut);
    while (tokens.length > 0 && tokenizer.decode(tokens.slice(0, -1), { skipSpecialTokens: true }).length >= cut) {
      tokens = tokens.slice(0, -1);
      logprobs = logprobs.slice(0, -1);
    }
    finishReason = 'stop';
  }
  return { text, tokens, logprobs, finishReason };
}

function firstStop(text: string, stops: readonly string[]): number | undefined {
  let best: number | undefined;
  for (const s of stops) {
    const i = s ? text.indexOf(s) : -1;
    if (i >= 0 && (best === undefined || i < best)) best = i;
  }
  return best;
}

export async function runScore(p: ScoreParams, ctx: JobContext): Promise<ScoreResult> {
  const model = await loadModel(p.model, 0);
  const prompt = model.tokenizer.encode(p.prompt, { addSpecialTokens: true });
  if (prompt.length === 0) throw new JobError('config', 'score: the prompt encodes to no tokens', false);
  const conts = p.continuations.map((c, i) => {
    const ids = model.tokenizer.encode(c, { addSpecialTokens: false });
    if (ids.length === 0) throw new JobError('config', `score: continuation ${i + 1} is empty`, false);
    return ids;
  });
  ctx.progress({ stage: 'score', step: 0, totalSteps: conts.length, metrics: {} });
  const pool = await makePool(model, conts.length);
  try {
    const scores = await pool.score(prompt, conts);
    return { scores: scores.map((s, i) => ({ tokens: conts[i]!, logprobs: s.logprobs, total: s.total })) };
  } finally {
    await pool.dispose();
  }
}

export function createEngineRegistry(): JobRegistry {
  return new JobRegistry()
    .register(JobKind.trainLm, runTrainLm)
    .register(JobKind.generate, runGenerate)
    .register(JobKind.score, runScore)
    .register(JobKind.pipeline, async (p, ctx) => ({ dir: await (await import('./pipeline.js')).runPipeline(p, ctx) }))
    .register(JobKind.evalHhh, async (p, ctx) => {
      const provider = await (await import('./providers.js')).createProvider(p.provider, { concurrency: p.concurrency });
      try {
        return await (await import('./evalStage.js')).runEvalHhh(p, provider, ctx);
      } finally {
        await provider.dispose();
      }
    })
    .register(JobKind.tryPrinciple, async (p, ctx) => (await import('./tryPrinciple.js')).runTryPrinciple(p, ctx));
}

