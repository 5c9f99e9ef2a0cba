// The pipeline run: from a run configuration to a run directory, stage by stage — critique →
// revision, SL-CAI finetuning, response pairs, AI feedback, preference model. Every stage writes
// its records as it goes under stable ids, so a resumed run skips what is there and repeats
// nothing; per-item random streams are derived from the run seed and the item's id, so a
// resumed run draws exactly what an uninterrupted one would.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { ConstitutionData } from '../core/constitution/data';
import { ConstitutionWorkspace } from '../core/constitution/resolve';
import { critiqueAndRevise, labelPair, responsePrompt, samplePair } from '../core/pipeline/stages';
import { BudgetCounter, BudgetedProvider, BudgetExceededError } from '../core/providers/budget';
import type { Provider } from '../core/providers/types';
import { mapConcurrent } from '../core/pipeline/concurrent';
import { DiagnosticCodes } from '../core/constitution/diagnostics';
import { parseRunConfig, resolveRunPaths, STAGE_NAMES, type RunConfig, type StageName } from '../core/runs/config';
import { MANIFEST_VERSION, recordId, type Manifest, type PairRecord, type RevisionRecord } from '../core/runs/records';
import { accuracyByMargin, calibration, pairAccuracy } from '../core/training/preference';
import { Rng } from '../core/training/rng';
import { learningRate } from '../core/training/schedule';
import type { BackendReport, ModelRef, PipelineParams, ProviderSpec } from '../protocol/trainer';
import { currentBackend } from './backend';
import { loadPairs, loadPrompts, loadQaVotes, type PromptItem } from './datasets';
import { nodeFileHost } from './fileHost';
import { loadModel, makePool, modelConfigOf, runTrainLm } from './engine';
import { saveHfFolder } from './hfFolder';
import { injectedNanStep } from './faultInjection';
import { JobError, nonFiniteAsJobError, type JobContext } from './jobs';
import { runEvalStage } from './evalStage';
import { runPpoStage } from './ppoStage';
import { createProvider } from './providers';
import { pairBatch, pmTokens } from './pmData';
import { RunDirectory } from '../node/runDir';

/** Stages this version runs; the others are refused before anything starts. */
export const AVAILABLE_STAGES: readonly StageName[] = ['critique', 'sft', 'pairs', 'feedback', 'pm', 'ppo', 'eval'];

function configError(message: string): JobError {
  return new JobError('config', message, false);
}

/** Parses and checks everything a run needs before anything is written. */
export function prepareRun(runFile: string): { config: RunConfig; constitution: ConstitutionData; constitutionText: string; paths: ReturnType<typeof resolveRunPaths> } {
  let text: string;
  try {
    text = fs.readFileSync(runFile, 'utf8');
  } catch (e) {
    throw configError(`${runFile}: ${(e as Error).message}`);
  }
  const { config, diagnostics } = parseRunConfig(text, runFile);
  // A misspelt key would otherwise run silently with its default: refused like an error.
  const errors = diagnostics.filter((d) => d.severity === 'error' || d.code === DiagnosticCodes.unknownKey);
  if (!config || errors.length) {
    const d = errors[0] ?? diagnostics[0];
    throw configError(d ? `${runFile}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}` : `${runFile}: invalid run configuration`);
  }
  const paths = resolveRunPaths(config, path.dirname(path.resolve(runFile)), (d, r) => path.resolve(d, r));
  const res = new ConstitutionWorkspace(nodeFileHost()).resolve(paths.constitution);
  if (!res) throw configError(`${runFile}: constitution '${config.constitution}' cannot be read (${paths.constitution})`);
  const cErr = res.diagnostics.find((d) => d.severity === 'error');
  if (cErr) throw configError(`${paths.constitution}:${cErr.range.start.line + 1}:${cErr.range.start.character + 1}: ${cErr.message}`);
  for (const [slot, p] of Object.entries(paths.datasets)) if (!fs.existsSync(p)) throw configError(`${runFile}: datasets.${slot}: no such file ${p}`);
  if (paths.hhh && !fs.existsSync(paths.hhh)) throw configError(`${runFile}: stages.eval.hhh: no such file ${paths.hhh}`);
  for (const [name, m] of Object.entries(config.models)) {
    if (m.provider === 'llama-cpp' && !fs.existsSync(paths.models[name]!)) throw configError(`${runFile}: models.${name}.model: no such GGUF file ${paths.models[name]}`);
    if (m.provider === 'embedded' && paths.models[name] && !fs.existsSync(paths.models[name]!)) throw configError(`${runFile}: models.${name}.model: no such model folder ${paths.models[name]}`);
    if (m.provider === 'openai' && m.apiKeyEnv && !process.env[m.apiKeyEnv]) throw configError(`${runFile}: models.${name}.apiKeyEnv: environment variable ${m.apiKeyEnv} is not set`);
  }
  return { config, constitution: res.constitution, constitutionText: fs.readFileSync(paths.constitution, 'utf8'), paths };
}

/** The commit of the git repository holding the run file, and whether its tree had changes (no shell; absent outside a repository). */
function gitInfo(dir: string): Manifest['git'] {
  const git = (args: string[]): string | undefined => {
    try {
      return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = git(['rev-parse', 'HEAD']);
  if (!commit || !/^[0-9a-f]{40}$/.test(commit)) return undefined;
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return { commit, ...(status !== undefined ? { dirty: status !== '' } : {}) };
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

class Providers {
  private readonly cache = new Map<string, Provider>();
  /** Every provider of the run draws on this one budget (resumed runs start from what they used). */
  readonly budget: BudgetCounter;
  constructor(private readonly config: RunConfig, private readonly paths: ReturnType<typeof resolveRunPaths>, used?: { requests: number; tokens: number }) {
    const b = config.budgets;
    this.budget = new BudgetCounter({ ...(b.maxRequests !== undefined ? { maxRequests: b.maxRequests } : {}), ...(b.maxTokens !== undefined ? { maxTokens: b.maxTokens } : {}) }, used ?? {});
  }

  embeddedRef(name: string): ModelRef {
    const m = this.config.models[name]!;
    return this.paths.models[name] ? { path: this.paths.models[name]! } : { preset: m.model };
  }

  async get(name: string, seed: number, override?: ModelRef): Promise<Provider> {
    const key = override ? `${name}@${JSON.stringify(override)}` : name;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const m = this.config.models[name];
    if (!m) throw configError(`no model named '${name}'`);
    const spec: ProviderSpec = m.provider === 'embedded' || override
      ? { provider: 'embedded', model: override ?? this.embeddedRef(name) }
      : m.provider === 'llama-cpp'
        ? { provider: 'llama-cpp', path: this.paths.models[name]!, ...(m.threads !== undefined ? { threads: m.threads } : {}), ...(m.contextSize !== undefined ? { contextSize: m.contextSize } : {}), ...(m.gpu ? { gpu: m.gpu } : {}) }
        : { provider: 'openai', baseUrl: m.baseUrl ?? 'http://127.0.0.1:8000/v1', model: m.model, api: m.api ?? 'completions', ...(m.apiKeyEnv ? { apiKeyEnv: m.apiKeyEnv } : {}) };
    const p = await createProvider(spec, { concurrency: this.config.budgets.concurrency, seed, ...(this.config.budgets.requestsPerSecond ? { requestsPerSecond: this.config.budgets.requestsPerSecond } : {}) });
    await p.ready();
    const budgeted = new BudgetedProvider(p, this.budget);
    this.cache.set(key, budgeted);
    return budgeted;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.cache.values()].map((p) => p.dispose()));
    this.cache.clear();
  }
}

/** Runs (or resumes) a pipeline run; returns the run directory. */
export async function runPipeline(params: PipelineParams, ctx: JobContext): Promise<string> {
  const { config, constitution: c, constitutionText, paths } = prepareRun(params.runFile);
  const wanted = params.stages ?? STAGE_NAMES.filter((s) => config.stages[s].enabled);
  const unavailable = wanted.filter((s) => !AVAILABLE_STAGES.includes(s));
  if (unavailable.length) throw configError(`${params.runFile}: stage${unavailable.length > 1 ? 's' : ''} ${unavailable.join(', ')} ${unavailable.length > 1 ? 'are' : 'is'} not available in this version; disable ${unavailable.length > 1 ? 'them' : 'it'} (stages.${unavailable[0]}: false) or pass --stages ${AVAILABLE_STAGES.join(',')}`);
  const redTeam: PromptItem[] = paths.datasets.redTeam ? loadPrompts(paths.datasets.redTeam, { ...(config.datasets.redTeam?.limit ? { limit: config.datasets.redTeam.limit } : {}) }).items : [];
  const helpful: PromptItem[] = paths.datasets.helpfulness ? loadPrompts(paths.datasets.helpfulness, { ...(config.datasets.helpfulness?.limit ? { limit: config.datasets.helpfulness.limit } : {}) }).items : [];

  // Endpoints and GGUF files the wanted stages use must answer (load) before anything is written.
  let usedBefore: Manifest['budgetUsed'];
  if (params.resume) {
    try {
      usedBefore = RunDirectory.open(path.resolve(params.resume)).readManifest().budgetUsed;
    } catch (e) {
      throw configError(`--resume ${params.resume}: ${(e as Error).message}`);
    }
  }
  const providers = new Providers(config, paths, usedBefore);
  const rolesOf: Record<StageName, string[]> = {
    critique: [config.roles.policy, config.roles.critic], sft: [config.roles.policy], pairs: [config.roles.policy], feedback: [config.roles.feedback],
    pm: [], ppo: [], eval: [config.roles.policy, config.roles.feedback, ...(config.stages.eval.judge ? [config.stages.eval.judge] : [])],
  };
  const remote = [...new Set(wanted.flatMap((st) => rolesOf[st]))].filter((n) => config.models[n]?.provider === 'openai' || config.models[n]?.provider === 'llama-cpp');
  for (const name of remote) {
    try {
      await providers.get(name, 0);
    } catch (e) {
      await providers.dispose();
      throw configError(`${params.runFile}: models.${name}: ${(e as Error).message}`);
    }
  }

  let run: RunDirectory;
  let dir: string;
  if (params.resume) {
    dir = path.resolve(params.resume);
    run = RunDirectory.open(dir);
    const m = run.readManifest();
    const sha = createHash('sha256').update(constitutionText).digest('hex');
    if (m.constitution.sha256 !== sha) ctx.log('warn', `the constitution changed since the run started (${m.constitution.path}); resuming with the current text`);
    run.append('events.jsonl', { id: recordId(['resume', new Date().toISOString()]), time: new Date().toISOString(), level: 'info', kind: 'resume', message: `resumed ${dir}` });
  } else {
    const now = new Date();
    const runId = `${config.name}-${stamp(now)}`;
    dir = path.join(params.out ? path.resolve(params.out) : paths.out, runId);
    const backend: BackendReport | undefined = currentBackend();
    const manifest: Manifest = {
      manifestVersion: MANIFEST_VERSION,
      runId,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      configFile: path.resolve(params.runFile),
      config,
      constitution: { path: paths.constitution, sha256: createHash('sha256').update(constitutionText).digest('hex'), snapshot: constitutionText },
      versions: { studio: params.studioVersion, node: process.version, tfjs: tf.version_core },
      backend: { requested: config.backend, ...(backend ? { used: backend.backend, reason: backend.reason, ...(backend.adapter ? { adapter: backend.adapter } : {}) } : {}) },
      seeds: { run: config.seed },
      ...(() => {
        const g = gitInfo(path.dirname(path.resolve(params.runFile)));
        return g ? { git: g } : {};
      })(),
      stages: Object.fromEntries(STAGE_NAMES.map((s) => [s, { status: wanted.includes(s) ? 'pending' : 'skipped' }])) as Manifest['stages'],
    };
    run = RunDirectory.create(dir, manifest);
  }
  ctx.log('info', `run directory ${dir}`);
  ctx.progress({ stage: 'start', step: 0, metrics: {}, runDir: dir });
  const event = (kind: string, stage: StageName, message: string): void => {
    const time = new Date().toISOString();
    run.append('events.jsonl', { id: recordId([kind, stage, time]), time, level: 'info', kind, stage, message });
  };
  const metric = (stage: StageName, step: number, values: Record<string, number | string>): void => {
    run.append('metrics.jsonl', { id: recordId([stage, String(step)]), stage, step, time: Date.now(), ...values });
  };
  let stopped = false;
  /**
   * A stop asked by the parent ends the current stage between records (they are all on disk).
   * Yields to the event loop first: an embedded model computes synchronously, and without a
   * macrotask turn the parent's stop request would wait in the IPC channel until the stage ends.
   */
  const stopNow = async (): Promise<boolean> => {
    await new Promise((r) => setImmediate(r));
    ctx.throwIfCancelled();
    if (ctx.stopRequested()) stopped = true;
    return stopped;
  };
  const saveBudget = (): void => {
    const used = providers.budget.used();
    run.updateManifest((m) => {
      m.budgetUsed = { requests: used.requests, tokens: used.tokens };
    });
  };
  const seedOf = (stage: StageName): number => new Rng(config.seed).fork(stage).nextUint32();
  const sftModelDir = path.join(dir, 'models', 'sft');
  const pmModelDir = path.join(dir, 'models', 'pm');
  const ppoModelDir = path.join(dir, 'models', 'ppo');

  const stages: Record<string, () => Promise<void>> = {
    critique: async () => {
      const s = config.stages.critique;
      const policy = await providers.get(config.roles.policy, seedOf('critique'));
      const critic = await providers.get(config.roles.critic, seedOf('critique'));
      let done = 0;
      await mapConcurrent(redTeam, config.budgets.concurrency, async (item) => {
        if (await stopNow()) return;
        const id = recordId(['revision', item.id]);
        if (!run.has('revisions.jsonl', id)) {
          const rng = new Rng(config.seed).fork(`critique:${item.id}`);
          const r = await critiqueAndRevise({ constitution: c, prompt: item.prompt, policy, critic, rounds: s.rounds, rng, fewShot: s.fewShot, direct: s.direct, response: { maxTokens: s.maxTokens, temperature: s.temperature }, critique: { maxTokens: s.maxTokens, temperature: s.temperature } });
          const rec: RevisionRecord = { id, prompt_id: item.id, prompt: item.prompt, initial_response: r.initial_response, rounds: r.rounds, final: r.final };
          run.appendMany('revisions.jsonl', [rec]);
        }
        ctx.progress({ stage: 'critique', step: ++done, totalSteps: redTeam.length, metrics: {} });
      });
    },
    sft: async () => {
      const s = config.stages.sft;
      const m = config.models[config.roles.policy]!;
      if (m.provider !== 'embedded') throw configError(`stages.sft: the policy '${config.roles.policy}' must be an embedded model to be finetuned`);
      const { records } = run.read<RevisionRecord>('revisions.jsonl');
      const docs: string[] = [];
      for (const r of records) {
        const revisions = s.revisions === 'all' ? r.rounds.map((x) => x.revision).filter(Boolean) : [r.final];
        for (const rev of revisions) docs.push(`${responsePrompt(c, [{ role: 'human', text: r.prompt }])} ${rev}`);
      }
      // Helpfulness samples from the policy keep it helpful (mixed at the configured ratio).
      const wantHelpful = Math.round(docs.length * s.helpfulnessRatio / Math.max(1e-9, 1 - s.helpfulnessRatio));
      if (wantHelpful > 0 && helpful.length) {
        const policy = await providers.get(config.roles.policy, seedOf('sft'));
        const kept = new Map(run.read<{ id: string; text?: string }>('samples.jsonl').records.map((x) => [x.id, x.text]));
        for (let i = 0; i < Math.min(wantHelpful, helpful.length); i++) {
          const item = helpful[i]!;
          const id = recordId(['helpful-sample', item.id]);
          let text = kept.get(id);
          if (text === undefined) {
            const [out] = await samplePair({ constitution: c, prompt: item.prompt, policy, samples: 1, settings: { maxTokens: config.stages.critique.maxTokens, temperature: 1 }, seed: seedOf('sft') + i });
            text = out ?? '';
            run.appendMany('samples.jsonl', [{ id, stage: 'sft', kind: 'helpfulness', prompt: item.prompt, text }]);
          }
          docs.push(`${responsePrompt(c, [{ role: 'human', text: item.prompt }])} ${text}`);
        }
      }
      if (docs.length === 0) throw configError('stages.sft: there are no revisions to finetune on (run the critique stage first)');
      fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
      const dataFile = path.join(dir, 'checkpoints', 'sft-data.jsonl');
      fs.writeFileSync(dataFile, docs.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
      const modelRef = providers.embeddedRef(config.roles.policy);
      const res = await runTrainLm({
        model: modelRef, data: { path: dataFile, format: 'jsonl-text' }, steps: s.steps, batchSize: s.batchSize, seqLen: Math.min(s.seqLen, modelConfigOf(modelRef).maxPositions - 1),
        lr: s.lr, schedule: s.schedule, weightDecay: 0.01, clipNorm: 1, accumulate: 1, seed: seedOf('sft'), checkpointDir: path.join(dir, 'checkpoints', 'sft'), checkpointEvery: Math.max(1, Math.ceil(s.steps / 4)), keepLast: 2, saveTo: sftModelDir,
      }, {
        ...ctx,
        progress: (p) => {
          if (p.stage === 'train' && p.metrics['loss'] !== undefined) metric('sft', p.step, { loss: p.metrics['loss'], grad_norm: p.metrics['grad_norm'] ?? NaN, lr: p.metrics['lr'] ?? NaN });
          ctx.progress({ ...p, stage: 'sft' });
        },
      });
      if (res.steps < s.steps) stopped = true;
      run.setStageStatus('sft', 'running', { step: res.steps, model: path.relative(dir, sftModelDir) });
    },
    pairs: async () => {
      const s = config.stages.pairs;
      const sft = fs.existsSync(path.join(sftModelDir, 'config.json')) ? { path: sftModelDir } : undefined;
      const policy = await providers.get(config.roles.policy, seedOf('pairs'), sft);
      let done = 0;
      await mapConcurrent(redTeam, config.budgets.concurrency, async (item) => {
        if (await stopNow()) return;
        const id = recordId(['pair-sample', item.id]);
        if (!run.has('samples.jsonl', id)) {
          const responses = await samplePair({ constitution: c, prompt: item.prompt, policy, samples: s.samplesPerPrompt, settings: { maxTokens: s.maxTokens, temperature: s.temperature }, seed: new Rng(config.seed).fork(`pairs:${item.id}`).nextUint32() });
          run.appendMany('samples.jsonl', [{ id, stage: 'pairs', prompt_id: item.id, prompt: item.prompt, responses, model: sft ? 'sft' : config.roles.policy }]);
        }
        ctx.progress({ stage: 'pairs', step: ++done, totalSteps: redTeam.length, metrics: {} });
      });
    },
    feedback: async () => {
      const s = config.stages.feedback;
      const feedback = await providers.get(config.roles.feedback, seedOf('feedback'));
      const samples = run.read<{ id: string; stage?: string; prompt_id: string; prompt: string; responses: string[] }>('samples.jsonl').records.filter((x) => x.stage === 'pairs');
      let done = 0;
      await mapConcurrent(samples, config.budgets.concurrency, async (sample) => {
        if (await stopNow()) return;
        const [a, b] = sample.responses;
        const id = recordId(['pair', sample.prompt_id]);
        if (a !== undefined && b !== undefined && !run.has('pairs.jsonl', id)) {
          const rng = new Rng(config.seed).fork(`feedback:${sample.prompt_id}`);
          const l = await labelPair({ constitution: c, prompt: sample.prompt, responseA: a, responseB: b, feedback, rng, fewShot: s.fewShot, bothOrders: s.bothOrders, ...(s.chainOfThought ? { chainOfThought: { clamp: s.clamp, maxTokens: 64, samples: s.selfConsistency } } : {}) });
          const rec: PairRecord = {
            id, prompt_id: sample.prompt_id, prompt: sample.prompt, response_a: a, response_b: b, principle: l.principle, p_a: l.p_a, p_a_forward: l.p_a_forward,
            p_a_reversed: l.p_a_reversed ?? null, flipped: l.flipped ?? false, label_method: l.label_method === 'chain-of-thought' ? 'cot' : l.label_method,
            ...(l.reasoning ? { reasoning: l.reasoning.join('\n---\n') } : {}),
          };
          run.appendMany('pairs.jsonl', [rec]);
        }
        ctx.progress({ stage: 'feedback', step: ++done, totalSteps: samples.length, metrics: {} });
      });
      const labels = run.read<PairRecord>('pairs.jsonl').records;
      if (labels.length && !stopped) {
        const flipRate = labels.filter((l) => l.flipped).length / labels.length;
        metric('feedback', labels.length, { flip_rate: flipRate, position_bias: 1 - flipRate, mean_p_a: labels.reduce((a, l) => a + l.p_a, 0) / labels.length });
      }
    },
    pm: async () => {
      const s = config.stages.pm;
      const m = config.models[config.roles.preferenceModel]!;
      if (m.provider !== 'embedded') throw configError(`stages.pm: the preference model '${config.roles.preferenceModel}' must be an embedded model`);
      const model = await loadModel(providers.embeddedRef(config.roles.preferenceModel), seedOf('pm'), ['reward']);
      const encode = (prompt: string, response: string): number[] => pmTokens(model, c, prompt, response);
      type Pair = { a: number[]; b: number[]; p: number };
      const toBatch = pairBatch;
      const labelled = run.read<PairRecord>('pairs.jsonl').records.map((r) => ({ a: encode(r.prompt, r.response_a), b: encode(r.prompt, r.response_b), p: r.p_a }));
      const pmp = paths.datasets.pmp && s.pmpSteps > 0 ? loadQaVotes(paths.datasets.pmp, { ...(config.datasets.pmp?.limit ? { limit: config.datasets.pmp.limit } : {}) }).items.map((x) => ({ a: encode(x.question, x.better), b: encode(x.question, x.worse), p: 1 })) : [];
      const pairsOf = (file: string | undefined, limit: number | undefined): Pair[] => (file ? loadPairs(file, limit ? { limit } : {}).items.map((x) => ({ a: encode(x.prompt, x.chosen), b: encode(x.prompt, x.rejected), p: 1 })) : []);
      const evalPairs = pairsOf(paths.datasets.evalPairs, config.datasets.evalPairs?.limit);
      const helpfulAll = pairsOf(paths.datasets.helpfulnessPairs, config.datasets.helpfulnessPairs?.limit);
      const rng = new Rng(seedOf('pm'));
      const split = (all: Pair[]): [Pair[], Pair[]] => {
        const shuffled = rng.shuffle([...all]);
        const n = Math.floor(shuffled.length * s.evalFraction);
        return [shuffled.slice(0, n), shuffled.slice(n)];
      };
      const [heldOut, train] = split(labelled);
      const [heldOutHelpful, helpful] = split(helpfulAll);
      const pool = await makePool(model, s.batchSize, { lr: s.lr, weightDecay: 0.01 }, ['reward']);
      pool.poisonStep = injectedNanStep('pm');
      /** Reward margins of many pairs, a few at a time (long held-out sets must not make one huge batch). */
      const marginsOf = async (data: Pair[]): Promise<number[]> => {
        const out: number[] = [];
        for (let i = 0; i < data.length; i += 16) out.push(...(await pool.margins(toBatch(data.slice(i, i + 16)))));
        return out;
      };
      try {
        // Pretraining on binarised comparisons (with the optional LM loss on the better answer),
        // then finetuning on the AI labels mixed with human helpfulness comparisons.
        const draw = (phase: 'pmp' | 'finetune'): Pair => {
          if (phase === 'pmp') return pmp[rng.nextInt(pmp.length)]!;
          if (helpful.length && (train.length === 0 || rng.next() < s.helpfulnessMix)) return helpful[rng.nextInt(helpful.length)]!;
          return train[rng.nextInt(train.length)]!;
        };
        const phases: ['pmp' | 'finetune', number][] = [['pmp', pmp.length ? s.pmpSteps : 0], ['finetune', train.length || helpful.length ? s.steps : 0]];
        let step = 0;
        const total = phases.reduce((a, x) => a + x[1], 0);
        for (const [phase, steps] of phases) {
          for (let i = 0; i < steps; i++) {
            if (await stopNow()) return;
            const batch = Array.from({ length: s.batchSize }, () => draw(phase));
            const lr = learningRate({ kind: 'constant' }, s.lr, step);
            let r;
            try {
              r = await pool.trainStep([{ kind: 'pm', batch: { ...toBatch(batch), ...(phase === 'pmp' && s.lmLossWeight > 0 ? { lmWeight: s.lmLossWeight } : {}) } }], lr, 1, step);
            } catch (e) {
              // The stage keeps no checkpoint of its own (it is short): a resume starts it again.
              throw nonFiniteAsJobError(e, 'nothing was saved from this stage, and a resume starts it again (lower stages.pm.lr if it recurs)');
            }
            step++;
            const margins = r.margins ?? [];
            // Mean margin on the side of the label: how far the model separates the pairs.
            const margin = margins.reduce((acc, x, j) => acc + (batch[j]!.p >= 0.5 ? x : -x), 0) / Math.max(1, margins.length);
            metric('pm', step, { loss: r.loss, grad_norm: r.gradNorm, lr, accuracy: pairAccuracy(margins, batch.map((x) => x.p)), margin, ...(r.stats?.['lm_loss'] !== undefined ? { lm_loss: r.stats['lm_loss'] } : {}), phase });
            ctx.progress({ stage: 'pm', step, totalSteps: total, metrics: { loss: r.loss } });
          }
        }
        const report: Record<string, unknown> = {};
        for (const [name, data] of [['held_out_ai_labels', heldOut], ['held_out_helpfulness', heldOutHelpful], ['eval_pairs', evalPairs]] as const) {
          if (!data.length) continue;
          const margins = await marginsOf(data);
          const labels = data.map((x) => x.p);
          const cal = calibration(margins, labels);
          report[name] = {
            pairs: data.length, accuracy: pairAccuracy(margins, labels), ece: cal.ece,
            mean_margin: margins.reduce((acc, x, j) => acc + (labels[j]! >= 0.5 ? x : -x), 0) / margins.length,
            bins: cal.bins, accuracy_by_margin: accuracyByMargin(margins, labels),
          };
        }
        const prev = fs.existsSync(run.path('eval.json')) ? JSON.parse(fs.readFileSync(run.path('eval.json'), 'utf8')) as Record<string, unknown> : {};
        run.writeJsonAtomic('eval.json', { ...prev, preference_model: report });
        await saveHfFolder(pmModelDir, model.config, await pool.exportWeights(), { dtype: 'F32', ...(model.tokenizerJson ? { tokenizerJson: model.tokenizerJson } : {}) });
      } finally {
        await pool.dispose();
      }
    },
    ppo: async () => {
      const m = config.models[config.roles.policy]!;
      if (m.provider !== 'embedded') throw configError(`stages.ppo: the policy '${config.roles.policy}' must be an embedded model to be trained`);
      const r = await runPpoStage({
        settings: config.stages.ppo, constitution: c, prompts: redTeam, helpfulPrompts: helpful,
        policy: fs.existsSync(path.join(sftModelDir, 'config.json')) ? { path: sftModelDir } : providers.embeddedRef(config.roles.policy),
        preferenceModel: pmModelDir, seed: seedOf('ppo'), run, dir, saveTo: ppoModelDir, ctx, stopNow,
        metric: (step, values) => metric('ppo', step, values),
      });
      if (r.stopped) stopped = true;
      else run.setStageStatus('ppo', 'running', { step: r.steps, model: path.relative(dir, ppoModelDir) });
    },
    eval: async () => {
      const seed = seedOf('eval');
      const has = (d: string): boolean => fs.existsSync(path.join(d, 'config.json'));
      const policies = [{ name: 'base', provider: () => providers.get(config.roles.policy, seed) }];
      if (has(sftModelDir)) policies.push({ name: 'sl_cai', provider: () => providers.get(config.roles.policy, seed, { path: sftModelDir }) });
      if (has(ppoModelDir)) policies.push({ name: 'rl_cai', provider: () => providers.get(config.roles.policy, seed, { path: ppoModelDir }) });
      const prompts = paths.datasets.evalPrompts ? loadPrompts(paths.datasets.evalPrompts, { ...(config.datasets.evalPrompts?.limit ? { limit: config.datasets.evalPrompts.limit } : {}) }).items : redTeam;
      const judge = config.stages.eval.judge;
      const r = await runEvalStage({
        settings: config.stages.eval, constitution: c, run, dir, seed, concurrency: config.budgets.concurrency,
        ...(paths.hhh ? { hhhFile: paths.hhh } : {}), ...(paths.datasets.evalPairs ? { evalPairsFile: paths.datasets.evalPairs } : {}),
        prompts, feedback: () => providers.get(config.roles.feedback, seed), ...(judge ? { judge: () => providers.get(judge, seed) } : {}),
        policies, ...(has(pmModelDir) ? { preferenceModel: pmModelDir } : {}), ctx, stopNow,
      });
      if (r.stopped) stopped = true;
    },
  };

  try {
    for (const stage of STAGE_NAMES) {
      if (!wanted.includes(stage)) continue;
      const state = run.readManifest().stages[stage];
      if (state?.status === 'done') {
        ctx.log('info', `stage ${stage}: already done`);
        continue;
      }
      run.setStageStatus(stage, 'running', { seed: seedOf(stage) });
      event('stage-start', stage, `stage ${stage} started`);
      try {
        await stages[stage]!();
        if (stopped) {
          saveBudget();
          run.setStageStatus(stage, 'pending');
          event('stage-stopped', stage, `stage ${stage} stopped; resume with cai run --resume ${dir}`);
          break;
        }
      } catch (e) {
        saveBudget();
        if (e instanceof BudgetExceededError) {
          // Not a failure of the stage: it stops where the budget ran out, to be resumed with a larger one.
          run.setStageStatus(stage, 'pending');
          const message = `stage ${stage} stopped: ${e.message} (cai run --resume ${dir})`;
          run.append('events.jsonl', { id: recordId(['budget-exhausted', stage, new Date().toISOString()]), time: new Date().toISOString(), level: 'warn', kind: 'budget-exhausted', stage, message });
          throw new JobError('config', message, false);
        }
        // Name the stage in the one line the user sees.
        if (e instanceof Error && !e.message.startsWith(`stage ${stage}`)) e.message = `stage ${stage}: ${e.message}`;
        run.setStageStatus(stage, 'failed', { error: (e as Error).message });
        event('stage-failed', stage, (e as Error).message);
        throw e;
      }
      saveBudget();
      run.setStageStatus(stage, 'done');
      event('stage-done', stage, `stage ${stage} done`);
    }
  } finally {
    run.flush();
    run.close();
    await providers.dispose();
  }
  return dir;
}
