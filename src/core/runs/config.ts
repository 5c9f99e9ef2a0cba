// The run configuration (`*.run.yaml`): which constitution, which models in which roles, which
// data, and the settings of each pipeline stage. Described once in RUN_CONFIG_FIELDS; the parser,
// the JSON Schema (schemas/run.schema.json), the docs table and, later, completion and hover all
// read that description. Parsing goes through the same located YAML tree as constitutions, so
// every diagnostic carries the exact range of the key or value it is about.

import { booleanSchema, numberSchema } from '../constitution/jsonSchema';
import { TextIndex, type Span } from '../text.js';
import { describeNode, parseYaml, type LMap, type LNode } from '../constitution/ast.js';
import { DiagnosticCodes, type Diagnostic, type DiagnosticCode, type QuickFix, type Severity, type SpanDiagnostic } from '../constitution/diagnostics.js';
import { didYouMean, suggest } from '../constitution/suggest.js';
import { PRESETS } from '../model/config.js';
import { parseSchedule, type LrSchedule } from '../training/schedule.js';

// ---------------------------------------------------------------------------------------------
// Types of a parsed, defaults-filled configuration.

/** Same values as the trainer protocol's BackendChoice (src/core may not import src/protocol). */
export type RunBackend = 'auto' | 'tfjs-node-gpu' | 'webgpu' | 'tfjs-node' | 'wasm' | 'cpu';
export type ProviderKind = 'embedded' | 'openai' | 'llama-cpp';
export type DatasetFormat = 'prompts' | 'hh' | 'pairs' | 'qa-votes';

export interface ModelEntry {
  provider: ProviderKind;
  /** embedded: a preset name or a model folder; openai: the served model's name; llama-cpp: a .gguf file. */
  model: string;
  baseUrl?: string;
  /** openai only; default `completions`. */
  api?: 'completions' | 'chat';
  /** The NAME of the environment variable holding the key, never the key. */
  apiKeyEnv?: string;
  maxTokens?: number;
  temperature?: number;
  /** llama-cpp: CPU threads, context size and GPU offload. */
  threads?: number;
  contextSize?: number;
  gpu?: 'off' | 'auto' | 'cuda' | 'vulkan' | 'metal';
}

export interface Roles {
  policy: string;
  critic: string;
  feedback: string;
  preferenceModel: string;
}

export interface DatasetRef {
  path: string;
  /** Absent: detected from the first record when the file is loaded. */
  format?: DatasetFormat;
  limit?: number;
}

export interface Datasets {
  redTeam?: DatasetRef;
  helpfulness?: DatasetRef;
  pmp?: DatasetRef;
  evalPairs?: DatasetRef;
  evalPrompts?: DatasetRef;
  helpfulnessPairs?: DatasetRef;
}

export interface StageToggle {
  /** False when the stage was written as `false` or with `enabled: false`. */
  enabled: boolean;
}

export interface CritiqueStage extends StageToggle {
  rounds: number;
  temperature: number;
  direct: boolean;
  fewShot: boolean;
  maxTokens: number;
}

export interface SftStage extends StageToggle {
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  schedule: LrSchedule;
  revisions: 'final' | 'all';
  helpfulnessRatio: number;
}

export interface PairsStage extends StageToggle {
  samplesPerPrompt: number;
  temperature: number;
  maxTokens: number;
}

export interface FeedbackStage extends StageToggle {
  bothOrders: boolean;
  fewShot: boolean;
  chainOfThought: boolean;
  clamp: [number, number];
  selfConsistency: number;
}

export interface PmStage extends StageToggle {
  pmpSteps: number;
  steps: number;
  batchSize: number;
  lr: number;
  lmLossWeight: number;
  evalFraction: number;
  helpfulnessMix: number;
}

export interface PpoStage extends StageToggle {
  steps: number;
  batchSize: number;
  minibatches: number;
  epochs: number;
  lr: number;
  klCoef: number;
  adaptiveKl: boolean;
  targetKl: number;
  cliprange: number;
  cliprangeValue: number;
  vfCoef: number;
  gamma: number;
  lam: number;
  maxNewTokens: number;
  temperature: number;
  helpfulnessShare: number;
}

export interface EvalStage extends StageToggle {
  hhh?: string;
  judge?: string;
  /** `world`: also score answers and labels with the built-in world's oracle (docs/built-in-world.md). */
  oracle: 'none' | 'world';
  limit?: number;
  maxTokens: number;
  temperature: number;
}

export interface Stages {
  critique: CritiqueStage;
  sft: SftStage;
  pairs: PairsStage;
  feedback: FeedbackStage;
  pm: PmStage;
  ppo: PpoStage;
  eval: EvalStage;
}

export type StageName = keyof Stages;

/** The order stages run in, whatever order the file lists them. */
export const STAGE_NAMES: readonly StageName[] = ['critique', 'sft', 'pairs', 'feedback', 'pm', 'ppo', 'eval'];

export interface Budgets {
  maxRequests?: number;
  maxTokens?: number;
  concurrency: number;
  requestsPerSecond?: number;
}

export interface RunConfig {
  name: string;
  /** As written: relative to the run file's folder (see resolveRunPaths). */
  constitution: string;
  seed: number;
  backend: RunBackend;
  out: string;
  models: Record<string, ModelEntry>;
  roles: Roles;
  datasets: Datasets;
  stages: Stages;
  budgets: Budgets;
}

// ---------------------------------------------------------------------------------------------
// The format, described once.

interface SpecBase {
  doc: string;
  required?: boolean;
}
export interface RunStringSpec extends SpecBase {
  type: 'string';
  enum?: readonly string[];
  default?: string;
  /** `path`: relative to the run file; `model-ref`: a key of `models`; `env-name`: an environment variable's name. */
  role?: 'path' | 'model-ref' | 'env-name' | 'name' | 'url';
}
export interface RunNumberSpec extends SpecBase {
  type: 'number';
  integer?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  default?: number;
}
export interface RunBooleanSpec extends SpecBase {
  type: 'boolean';
  default?: boolean;
}
/** A fixed-length list of numbers, e.g. `clamp: [0.4, 0.6]`. */
export interface RunTupleSpec extends SpecBase {
  type: 'tuple';
  items: readonly RunNumberSpec[];
  default?: readonly number[];
}
/** A learning-rate schedule: `constant` or `{kind, warmupSteps, totalSteps, minRatio}` (src/core/training/schedule.ts). */
export interface RunScheduleSpec extends SpecBase {
  type: 'schedule';
  default: 'constant';
}
export interface RunObjectSpec extends SpecBase {
  type: 'object';
  fields: Readonly<Record<string, RunFieldSpec>>;
  /** A pipeline stage: `false` skips it, `true` or a mapping runs it. */
  toggle?: boolean;
  /** Keys that must never appear, with the reason (e.g. a literal API key). */
  forbidden?: Readonly<Record<string, string>>;
}
/** A mapping of user-chosen names to entries of one shape (`models`). */
export interface RunMapSpec extends SpecBase {
  type: 'map';
  values: RunObjectSpec;
  minEntries?: number;
}
export type RunFieldSpec = RunStringSpec | RunNumberSpec | RunBooleanSpec | RunTupleSpec | RunScheduleSpec | RunObjectSpec | RunMapSpec;

/** Names of `models` entries and of runs: usable in file names and ids. */
export const RUN_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';
/** What an environment variable's name looks like. */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

const API_KEY_REASON = 'Never write an API key in a run file: put it in an environment variable and set `apiKeyEnv` to that variable\'s name.';

const enabled: RunBooleanSpec = { type: 'boolean', default: true, doc: 'Run this stage (`false` skips it; so does writing `false` for the whole stage).' };
const lr = (d: number, what: string): RunNumberSpec => ({ type: 'number', exclusiveMinimum: 0, maximum: 1, default: d, doc: `Learning rate of ${what}.` });
const int = (min: number, d: number | undefined, doc: string, max?: number): RunNumberSpec => ({
  type: 'number',
  integer: true,
  minimum: min,
  ...(max !== undefined ? { maximum: max } : {}),
  ...(d !== undefined ? { default: d } : {}),
  doc,
});
const num = (min: number, max: number | undefined, d: number | undefined, doc: string): RunNumberSpec => ({
  type: 'number',
  minimum: min,
  ...(max !== undefined ? { maximum: max } : {}),
  ...(d !== undefined ? { default: d } : {}),
  doc,
});
const bool = (d: boolean, doc: string): RunBooleanSpec => ({ type: 'boolean', default: d, doc });
const modelRef = (doc: string, required = false): RunStringSpec => ({ type: 'string', role: 'model-ref', doc, ...(required ? { required } : {}) });

const datasetSpec = (doc: string): RunObjectSpec => ({
  type: 'object',
  doc,
  fields: {
    path: { type: 'string', role: 'path', required: true, doc: 'The file, relative to the run file: JSONL (one record a line), a JSON array, or either gzip-compressed (`.gz`).' },
    format: {
      type: 'string',
      enum: ['prompts', 'hh', 'pairs', 'qa-votes'],
      doc: 'How records are read: `prompts` (text or `{prompt}`/`{text}`), `hh` (HH-RLHF `{chosen, rejected}` transcripts), `pairs` (`{prompt, chosen, rejected}`), `qa-votes` (`{question, answers}` with votes). Default: detected from the first record.',
    },
    limit: int(1, undefined, 'Use at most this many records (the first ones in the file).'),
  },
});

/**
 * The run configuration format. Paths are the keys joined with `.`; `models.<name>` stands for
 * each entry of `models`.
 */
export const RUN_CONFIG_FIELDS: RunObjectSpec = {
  type: 'object',
  doc: 'A Constitutional AI (RLAIF) run: the constitution, the models in each role, the data, and the stages.',
  fields: {
    name: { type: 'string', role: 'name', required: true, doc: 'The run\'s name: letters, digits, `.`, `_`, `-`. Run folders are named after it.' },
    constitution: { type: 'string', role: 'path', required: true, doc: 'The constitution file (`*.constitution.yaml`), relative to the run file.' },
    seed: int(0, 0, 'Seed of every random choice (principles drawn, sampling, shuffling, initialisation); each stage derives its own from it.'),
    backend: {
      type: 'string',
      enum: ['auto', 'tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'],
      default: 'auto',
      doc: 'Compute backend of the embedded engine; `auto` tries the fastest first.',
    },
    out: { type: 'string', role: 'path', default: 'runs/', doc: 'Folder that holds run directories (`<out>/<run-id>/`), relative to the run file.' },
    models: {
      type: 'map',
      required: true,
      minEntries: 1,
      doc: 'The models the run uses, by a name of your choice; `roles` refers to these names.',
      values: {
        type: 'object',
        doc: 'One model and how to reach it.',
        forbidden: { apiKey: API_KEY_REASON, api_key: API_KEY_REASON, key: API_KEY_REASON, token: API_KEY_REASON },
        fields: {
          provider: { type: 'string', required: true, enum: ['embedded', 'openai', 'llama-cpp'], doc: 'Who serves the model: the `embedded` engine, an `openai`-compatible endpoint (vLLM, llama.cpp server, Ollama, TGI, hosted APIs), or a local GGUF file through `llama-cpp`.' },
          model: { type: 'string', required: true, doc: 'embedded: a preset name (' + Object.keys(PRESETS).join(', ') + ') or a model folder; openai: the model name the endpoint serves; llama-cpp: the `.gguf` file.' },
          baseUrl: { type: 'string', role: 'url', doc: 'openai: the endpoint\'s base URL, e.g. `http://127.0.0.1:8000/v1`.' },
          api: { type: 'string', enum: ['completions', 'chat'], doc: 'openai: the completions API (default; exact choice log-probabilities) or the chat API.' },
          apiKeyEnv: { type: 'string', role: 'env-name', doc: 'openai: the NAME of the environment variable that holds the API key (e.g. `OPENAI_API_KEY`), never the key itself.' },
          maxTokens: int(1, undefined, 'Longest completion asked of this model, unless a stage says otherwise.'),
          temperature: num(0, 2, undefined, 'Sampling temperature for this model, unless a stage says otherwise.'),
          threads: int(1, undefined, 'llama-cpp: CPU threads (default: llama.cpp\'s choice; 1–2 on small or busy machines, whose idle threads otherwise spin).', 1024),
          contextSize: int(16, undefined, 'llama-cpp: context window in tokens (default: the model\'s training context, at most 4096).'),
          gpu: { type: 'string', enum: ['off', 'auto', 'cuda', 'vulkan', 'metal'], default: 'off', doc: 'llama-cpp: offload to a GPU through this backend (`off`: CPU only; `auto`: whatever node-llama-cpp finds).' },
        },
      },
    },
    roles: {
      type: 'object',
      required: true,
      doc: 'Which `models` entry plays each part.',
      fields: {
        policy: modelRef('The model being aligned: answers red-team prompts, is finetuned (SL-CAI) and trained with PPO.', true),
        critic: modelRef('Writes critiques and revisions. Default: `policy`.'),
        feedback: modelRef('Labels comparisons (AI feedback). The paper uses a pretrained or helpful model, not the SL-CAI one. Default: `policy`.'),
        preferenceModel: modelRef('Initialises the preference model. Default: `policy`.'),
      },
    },
    datasets: {
      type: 'object',
      doc: 'The data files.',
      fields: {
        redTeam: datasetSpec('Red-team prompts: answered, critiqued and revised; sampled in pairs for AI feedback; PPO prompts.'),
        helpfulness: datasetSpec('Helpfulness prompts mixed into SL-CAI finetuning so the model stays helpful.'),
        pmp: datasetSpec('Comparisons for preference-model pretraining (e.g. Q&A answers with votes).'),
        evalPairs: datasetSpec('Held-out comparisons (e.g. HH-RLHF) the preference model is scored on.'),
        helpfulnessPairs: datasetSpec('Human helpfulness comparisons (e.g. HH-RLHF helpful-base) mixed with the AI harmlessness labels when the preference model is finetuned.'),
        evalPrompts: datasetSpec('Held-out red-team prompts the base, SL-CAI and RL-CAI policies answer in the evaluation stage (default: `redTeam`).'),
      },
    },
    stages: {
      type: 'object',
      doc: 'Settings of each stage. Stages always run in the order critique, sft, pairs, feedback, pm, ppo, eval; an absent stage runs with its defaults.',
      fields: {
        critique: {
          type: 'object',
          toggle: true,
          doc: 'Critique → revision: the policy answers, then critiques and revises its answer, one principle drawn per round.',
          fields: {
            enabled,
            rounds: int(1, 4, 'Critique → revision rounds per prompt (the paper: 4).', 16),
            temperature: num(0, 2, 1, 'Sampling temperature of answers, critiques and revisions.'),
            direct: bool(false, 'Revise directly, without writing a critique first (an ablation of the paper).'),
            fewShot: bool(true, 'Put the constitution\'s critique/revision examples before every prompt.'),
            maxTokens: int(1, 256, 'Longest answer, critique or revision.'),
          },
        },
        sft: {
          type: 'object',
          toggle: true,
          doc: 'SL-CAI: finetune the policy on prompt + revision, mixed with helpfulness samples.',
          fields: {
            enabled,
            steps: int(1, 200, 'Optimiser updates.'),
            batchSize: int(1, 8, 'Sequences per update.'),
            seqLen: int(8, 128, 'Tokens per sequence (longer ones are cut); at most the model\'s context.'),
            lr: lr(1e-4, 'finetuning'),
            schedule: { type: 'schedule', default: 'constant', doc: 'Learning-rate schedule: `constant`, or `{kind: linear-warmup, warmupSteps}`, or `{kind: cosine, warmupSteps, totalSteps, minRatio}`.' },
            revisions: { type: 'string', enum: ['final', 'all'], default: 'all', doc: 'Train on the revision of every round (`all`, as in the paper) or only the last (`final`).' },
            helpfulnessRatio: num(0, 1, 0.5, 'Share of training sequences drawn from helpfulness prompts.'),
          },
        },
        pairs: {
          type: 'object',
          toggle: true,
          doc: 'Sample responses of the SL-CAI model to red-team prompts, to be compared.',
          fields: {
            enabled,
            samplesPerPrompt: int(2, 2, 'Responses sampled per prompt; each two of them make a comparison.', 16),
            temperature: num(0, 2, 1, 'Sampling temperature.'),
            maxTokens: int(1, 128, 'Longest response.'),
          },
        },
        feedback: {
          type: 'object',
          toggle: true,
          doc: 'AI feedback: the feedback model answers a multiple-choice question per pair; the probabilities of (A) and (B) make a soft label.',
          fields: {
            enabled,
            bothOrders: bool(true, 'Ask with the responses in both orders and average, to cancel position bias.'),
            fewShot: bool(true, 'Put the constitution\'s comparison examples before every question.'),
            chainOfThought: bool(false, 'Let the feedback model reason before answering (labels then get clamped).'),
            clamp: {
              type: 'tuple',
              items: [num(0, 1, undefined, 'Lowest label.'), num(0, 1, undefined, 'Highest label.')],
              default: [0.4, 0.6],
              doc: 'Chain-of-thought labels are clamped into this range (the paper: 40–60 % worked best).',
            },
            selfConsistency: int(1, 1, 'Chain-of-thought samples averaged per label (more made alignment worse in Lee et al.).', 32),
          },
        },
        pm: {
          type: 'object',
          toggle: true,
          doc: 'Preference model: pretraining on comparison data (PMP), then finetuning on the AI labels (and helpfulness comparisons).',
          fields: {
            enabled,
            pmpSteps: int(0, 0, 'Preference-model pretraining updates on `datasets.pmp` (0: none).'),
            steps: int(1, 200, 'Finetuning updates on the labelled pairs.'),
            batchSize: int(1, 8, 'Comparisons per update.'),
            lr: lr(1e-4, 'the preference model'),
            lmLossWeight: num(0, undefined, 0.1, 'Weight of the language-modelling loss on the better response added during pretraining.'),
            evalFraction: num(0, 0.5, 0.1, 'Share of labelled pairs held out to measure accuracy.'),
            helpfulnessMix: num(0, 1, 0.5, 'Share of finetuning comparisons drawn from `datasets.helpfulnessPairs` (when it is set).'),
          },
        },
        ppo: {
          type: 'object',
          toggle: true,
          doc: 'RL-CAI: PPO against the preference model, with a KL penalty to the SL-CAI policy. Defaults follow TRL.',
          fields: {
            enabled,
            steps: int(1, 100, 'PPO iterations (each: a batch of rollouts, then `epochs` passes over it).'),
            batchSize: int(1, 8, 'Prompts (episodes) per iteration.'),
            minibatches: int(1, 1, 'Minibatches each batch is split into; must divide `batchSize`.'),
            epochs: int(1, 4, 'Passes over each batch.'),
            lr: lr(1e-5, 'the policy and value head'),
            klCoef: num(0, undefined, 0.05, 'Weight of the KL penalty to the reference policy.'),
            adaptiveKl: bool(false, 'Adapt `klCoef` towards `targetKl`.'),
            targetKl: { type: 'number', exclusiveMinimum: 0, default: 6, doc: 'KL the adaptive controller aims for (used when `adaptiveKl` is true).' },
            cliprange: num(0, 1, 0.2, 'Clip range of the policy ratio (ε).'),
            cliprangeValue: num(0, undefined, 0.2, 'Clip range of the value function.'),
            vfCoef: num(0, undefined, 0.1, 'Weight of the value loss.'),
            gamma: num(0, 1, 1, 'Discount factor.'),
            lam: num(0, 1, 0.95, 'GAE λ.'),
            maxNewTokens: int(1, 64, 'Longest response per episode.'),
            temperature: num(0, 2, 1, 'Sampling temperature of rollouts.'),
            helpfulnessShare: num(0, 1, 0.5, 'Share of each batch\'s prompts drawn from `datasets.helpfulness` (the rest from `datasets.redTeam`), as in the paper, so the policy stays helpful.'),
          },
        },
        eval: {
          type: 'object',
          toggle: true,
          doc: 'Evaluation: the preference model on `datasets.evalPairs`, the feedback model on the HHH file, optionally a judge.',
          fields: {
            enabled,
            hhh: { type: 'string', role: 'path', doc: 'An HHH evaluation file (e.g. `438HHHEvaluations.jsonl`), relative to the run file.' },
            judge: modelRef('A `models` entry that compares the policies\' answers with the constitution\'s comparison prompt, in both orders.'),
            oracle: { type: 'string', enum: ['none', 'world'], default: 'none', doc: '`world`: also score the policies\' answers and the AI labels with the built-in world\'s oracle (only for runs on the built-in world; it never feeds training).' },
            limit: int(1, undefined, 'Items used from each evaluation set (HHH items, comparison pairs, prompts); default: all.'),
            maxTokens: int(1, 64, 'Longest answer per policy and prompt.'),
            temperature: num(0, 2, 0.7, 'Sampling temperature of the policies\' answers.'),
          },
        },
      },
    },
    budgets: {
      type: 'object',
      doc: 'Limits on requests to model providers.',
      fields: {
        maxRequests: int(1, undefined, 'Stop (resumably) after this many provider requests.'),
        maxTokens: int(1, undefined, 'Stop (resumably) after this many generated tokens.'),
        concurrency: int(1, 4, 'Requests in flight at once.', 256),
        requestsPerSecond: { type: 'number', exclusiveMinimum: 0, doc: 'Rate limit for remote providers.' },
      },
    },
  },
};

/** One row of the field table: for docs, completion and hover. */
export interface RunFieldInfo {
  /** e.g. `stages.feedback.clamp`, `models.<name>.provider`. */
  path: string;
  spec: RunFieldSpec;
  type: string;
  required: boolean;
  default?: unknown;
  doc: string;
}

export function specTypeName(spec: RunFieldSpec): string {
  switch (spec.type) {
    case 'string':
      return spec.enum ? `one of ${spec.enum.join(', ')}` : 'text';
    case 'number':
      return spec.integer ? 'an integer' : 'a number';
    case 'boolean':
      return 'true or false';
    case 'tuple':
      return `a list of ${spec.items.length} numbers`;
    case 'schedule':
      return 'a schedule (`constant` or a mapping with `kind`)';
    case 'object':
      return spec.toggle ? 'a mapping, or true/false' : 'a mapping';
    case 'map':
      return 'a mapping of names to entries';
  }
}

/** Every field of the format, depth first, in the order of RUN_CONFIG_FIELDS. */
export function runConfigFieldList(): RunFieldInfo[] {
  const out: RunFieldInfo[] = [];
  const walk = (spec: RunObjectSpec, prefix: string): void => {
    for (const [k, f] of Object.entries(spec.fields)) {
      const path = prefix ? `${prefix}.${k}` : k;
      const info: RunFieldInfo = { path, spec: f, type: specTypeName(f), required: Boolean(f.required), doc: f.doc };
      const d = defaultOf(f);
      if (d !== undefined) info.default = d;
      out.push(info);
      if (f.type === 'object') walk(f, path);
      if (f.type === 'map') walk(f.values, `${path}.<name>`);
    }
  };
  walk(RUN_CONFIG_FIELDS, '');
  return out;
}

function defaultOf(spec: RunFieldSpec): unknown {
  if (spec.type === 'object' || spec.type === 'map') return undefined;
  if (spec.type === 'tuple') return spec.default ? [...spec.default] : undefined;
  return spec.default;
}

/** The default as it appears in a parsed configuration (a schedule is parsed). */
function filledDefault(spec: RunFieldSpec): unknown {
  return spec.type === 'schedule' ? parseSchedule(spec.default, 'default') : defaultOf(spec);
}

/** The spec at a dotted path (`models.<anything>.provider` walks into `models`' entries). */
export function runFieldAt(path: readonly string[]): RunFieldSpec | undefined {
  let spec: RunFieldSpec = RUN_CONFIG_FIELDS;
  for (const key of path) {
    if (spec.type === 'object') {
      const next: RunFieldSpec | undefined = spec.fields[key];
      if (!next) return undefined;
      spec = next;
    } else if (spec.type === 'map') spec = spec.values;
    else return undefined;
  }
  return spec;
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (draft-07), generated from the description above.

export const RUN_SCHEMA_ID = 'https://constitution-studio.dev/schemas/run.schema.json';

/** schemas/run.schema.json is this function's output (scripts/gen-run-schema.ts). */
export function runConfigJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: RUN_SCHEMA_ID,
    title: 'Constitution Studio run configuration',
    ...toJsonSchema(RUN_CONFIG_FIELDS),
  };
}

function toJsonSchema(spec: RunFieldSpec): Record<string, unknown> {
  switch (spec.type) {
    case 'string': {
      const out: Record<string, unknown> = { type: 'string', description: spec.doc };
      if (spec.enum) out.enum = [...spec.enum];
      if (spec.role === 'name' || spec.role === 'model-ref') out.pattern = RUN_NAME_PATTERN;
      else if (spec.role === 'env-name') out.pattern = ENV_NAME_PATTERN;
      else if (spec.role === 'url') out.pattern = '^https?://';
      else if (!spec.enum) out.minLength = 1;
      if (spec.default !== undefined) out.default = spec.default;
      return out;
    }
    case 'number':
      return numberSchema(spec);
    case 'boolean':
      return booleanSchema(spec);
    case 'tuple': {
      const out: Record<string, unknown> = {
        type: 'array',
        description: spec.doc,
        items: spec.items.map((i) => toJsonSchema(i)),
        minItems: spec.items.length,
        maxItems: spec.items.length,
      };
      if (spec.default) out.default = [...spec.default];
      return out;
    }
    case 'schedule': {
      const steps = { type: 'integer', minimum: 0 };
      return {
        description: spec.doc,
        default: spec.default,
        oneOf: [
          { const: 'constant' },
          { type: 'object', properties: { kind: { const: 'constant' } }, required: ['kind'], additionalProperties: false },
          { type: 'object', properties: { kind: { const: 'linear-warmup' }, warmupSteps: steps }, required: ['kind', 'warmupSteps'], additionalProperties: false },
          {
            type: 'object',
            properties: { kind: { const: 'cosine' }, warmupSteps: steps, totalSteps: steps, minRatio: { type: 'number', minimum: 0, maximum: 1 } },
            required: ['kind', 'warmupSteps', 'totalSteps'],
            additionalProperties: false,
          },
        ],
      };
    }
    case 'object': {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [k, f] of Object.entries(spec.fields)) {
        properties[k] = toJsonSchema(f);
        if (f.required) required.push(k);
      }
      const obj: Record<string, unknown> = {
        type: 'object',
        description: spec.doc,
        properties,
        patternProperties: { '^x-': { description: 'Tool-specific data, kept verbatim.' } },
        additionalProperties: false,
      };
      if (required.length) obj.required = required;
      if (!spec.toggle) return obj;
      return { description: spec.doc, anyOf: [{ type: 'boolean' }, obj] };
    }
    case 'map': {
      const out: Record<string, unknown> = {
        type: 'object',
        description: spec.doc,
        propertyNames: { pattern: RUN_NAME_PATTERN },
        additionalProperties: toJsonSchema(spec.values),
      };
      if (spec.minEntries !== undefined) out.minProperties = spec.minEntries;
      return out;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing.

export interface RunConfigResult {
  /** Present when there is no error (warnings allowed): every default filled. */
  config?: RunConfig;
  diagnostics: Diagnostic[];
}

const INVALID = Symbol('invalid');
type Value = unknown;

/** Looks like a secret rather than a variable name (OpenAI, Anthropic, HF, Groq, GitHub, Google prefixes, or long mixed tokens). */
export function looksLikeApiKey(value: string): boolean {
  const v = value.trim();
  if (/^(sk-|sk_|pk-|hf_|gsk_|xai-|ghp_|github_pat_|glpat-|AIza|Bearer\s)/.test(v)) return true;
  if (new RegExp(ENV_NAME_PATTERN).test(v) && v === v.toUpperCase()) return false;
  return v.length >= 24 && /[0-9]/.test(v) && /[a-z]/.test(v) && /[A-Z]/.test(v) && !/\s/.test(v);
}

class RunChecker {
  readonly out: SpanDiagnostic[] = [];
  /** Value spans by field path, for the checks that need more than one field. */
  readonly spans = new Map<string, Span>();
  /** Spans of keys (and of the entry holding an object), by field path. */
  readonly keySpans = new Map<string, Span>();

  report(span: Span, severity: Severity, code: DiagnosticCode, message: string, fixes?: QuickFix[]): void {
    this.out.push({ span, severity, code, message, ...(fixes?.length ? { fixes } : {}) });
  }

  error(path: string, code: DiagnosticCode, message: string, useKey = false): void {
    const span = (useKey ? this.keySpans.get(path) : this.spans.get(path)) ?? this.spans.get(path) ?? this.keySpans.get(path) ?? { start: 0, end: 0 };
    this.report(span, 'error', code, message);
  }

  value(node: LNode | undefined, spec: RunFieldSpec, path: string, anchor: Span): Value | typeof INVALID {
    if (node) this.spans.set(path, node.span);
    const isNull = !node || (node.kind === 'scalar' && node.value === null);
    switch (spec.type) {
      case 'object':
        if (spec.toggle && node?.kind === 'scalar' && typeof node.value === 'boolean') {
          return this.object(undefined, spec, path, anchor, node.value);
        }
        if (isNull) return this.object(undefined, spec, path, anchor, true);
        if (node.kind !== 'map') return this.wrongType(node, spec, path);
        return this.object(node, spec, path, anchor, true);
      case 'map':
        if (isNull) return this.map(undefined, spec, path, anchor);
        if (node.kind !== 'map') return this.wrongType(node, spec, path);
        return this.map(node, spec, path, anchor);
      case 'string': {
        if (!node || node.kind !== 'scalar' || node.value === null) return isNull ? undefined : this.wrongType(node, spec, path);
        if (typeof node.value !== 'string') return this.wrongType(node, spec, path);
        const v = node.value;
        if (spec.enum && !spec.enum.includes(v)) {
          const s = suggest(v, spec.enum);
          this.report(
            node.span,
            'error',
            DiagnosticCodes.invalidValue,
            `\`${path}\` must be one of ${spec.enum.join(', ')} (got '${v}').${didYouMean(s)}`,
            s.map((c, i) => ({ title: `Change to '${c}'`, edits: [{ span: node.span, newText: c }], preferred: i === 0 && s.length === 1 })),
          );
          return INVALID;
        }
        if (v.trim() === '') {
          this.report(node.span, 'error', DiagnosticCodes.emptyText, `\`${path}\` is empty.`);
          return INVALID;
        }
        if (spec.role === 'name' && !new RegExp(RUN_NAME_PATTERN).test(v)) {
          this.report(node.span, 'error', DiagnosticCodes.invalidValue, `\`${path}\` may hold letters, digits, '.', '_' and '-', starting with a letter or digit (got '${v}').`);
          return INVALID;
        }
        if (spec.role === 'url' && !/^https?:\/\//.test(v)) {
          this.report(node.span, 'error', DiagnosticCodes.invalidValue, `\`${path}\` must be an http:// or https:// URL (got '${v}').`);
          return INVALID;
        }
        if (spec.role === 'env-name') {
          if (looksLikeApiKey(v)) {
            this.report(node.span, 'error', DiagnosticCodes.invalidValue, `\`${path}\` looks like an API key itself. ${API_KEY_REASON}`);
            return INVALID;
          }
          if (!new RegExp(ENV_NAME_PATTERN).test(v)) {
            this.report(node.span, 'error', DiagnosticCodes.invalidValue, `\`${path}\` must be the name of an environment variable (letters, digits and '_', e.g. OPENAI_API_KEY), got '${v}'.`);
            return INVALID;
          }
        }
        return v;
      }
      case 'number':
        if (isNull) return undefined;
        return this.number(node, spec, path);
      case 'boolean':
        if (isNull) return undefined;
        if (node.kind !== 'scalar' || typeof node.value !== 'boolean') return this.wrongType(node, spec, path);
        return node.value;
      case 'tuple': {
        if (isNull) return undefined;
        if (node.kind !== 'seq') return this.wrongType(node, spec, path);
        if (node.items.length !== spec.items.length) {
          this.report(node.span, 'error', DiagnosticCodes.wrongType, `\`${path}\` must be ${specTypeName(spec)}, not ${node.items.length}.`);
          return INVALID;
        }
        const vals: number[] = [];
        let bad = false;
        node.items.forEach((item, i) => {
          const p = `${path}[${i}]`;
          this.spans.set(p, item.span);
          const v = this.number(item, spec.items[i] as RunNumberSpec, p);
          if (v === INVALID) bad = true;
          else vals.push(v);
        });
        return bad ? INVALID : vals;
      }
      case 'schedule': {
        if (isNull) return undefined;
        try {
          return parseSchedule(toPlain(node), path);
        } catch (e) {
          this.report(node.span, 'error', DiagnosticCodes.invalidValue, `${ticked((e as Error).message, path)}.`);
          return INVALID;
        }
      }
    }
  }

  private number(node: LNode, spec: RunNumberSpec, path: string): number | typeof INVALID {
    if (node.kind !== 'scalar' || typeof node.value !== 'number' || !Number.isFinite(node.value)) return this.wrongType(node, spec, path);
    const v = node.value;
    const bad = (what: string): typeof INVALID => {
      this.report(node.span, 'error', DiagnosticCodes.invalidValue, `\`${path}\` must be ${what} (got ${v}).`);
      return INVALID;
    };
    if (spec.integer && !Number.isInteger(v)) return bad('a whole number');
    const lo = spec.minimum;
    const hi = spec.maximum;
    const ex = spec.exclusiveMinimum;
    if (ex !== undefined && (!(v > ex) || (hi !== undefined && v > hi))) {
      return bad(hi !== undefined ? `greater than ${ex} and at most ${hi}` : `greater than ${ex}`);
    }
    if ((lo !== undefined && v < lo) || (hi !== undefined && v > hi)) {
      if (lo !== undefined && hi !== undefined) return bad(`between ${lo} and ${hi}`);
      if (lo !== undefined) return bad(`at least ${lo}`);
      return bad(`at most ${hi}`);
    }
    return v;
  }

  private wrongType(node: LNode, spec: RunFieldSpec, path: string): typeof INVALID {
    let message = `\`${path}\` must be ${specTypeName(spec)}, not ${describeNode(node)}.`;
    if (spec.type === 'boolean' && node.kind === 'scalar' && typeof node.value === 'string' && /^(yes|no|on|off|y|n)$/i.test(node.value)) {
      message += ` YAML 1.2 reads '${node.value}' as text; write ${/^(yes|on|y)$/i.test(node.value)}.`;
    } else if (spec.type === 'string' && node.kind === 'scalar' && node.value !== null) {
      message += ' Put it in quotes to keep it as text.';
    }
    this.report(node.span, 'error', DiagnosticCodes.wrongType, message);
    return INVALID;
  }

  /**
   * A mapping along its spec. Always returns what could be read (an invalid value is replaced by
   * its default), so the cross-field checks see a whole configuration; errors are in `out`.
   */
  private object(node: LMap | undefined, spec: RunObjectSpec, path: string, anchor: Span, on: boolean): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    const present = new Set<string>();
    const invalid = new Set<string>();
    for (const e of node?.entries ?? []) {
      present.add(e.key);
      const p = path ? `${path}.${e.key}` : e.key;
      this.keySpans.set(p, e.keySpan);
      if (e.key.startsWith('x-')) continue;
      const reason = spec.forbidden?.[e.key];
      if (reason) {
        this.report(e.keySpan, 'error', DiagnosticCodes.invalidValue, `\`${p}\`: ${reason}`);
        continue;
      }
      const f = spec.fields[e.key];
      if (!f) {
        const s = suggest(
          e.key,
          Object.keys(spec.fields).filter((k) => !node?.entries.some((o) => o.key === k)),
        );
        const where = path ? `\`${path}\`` : 'a run file';
        // A warning in the editor (the rest of the file stays usable); `cai run` refuses it.
        this.report(
          e.keySpan,
          'warning',
          DiagnosticCodes.unknownKey,
          `Unknown key \`${p}\`: not a setting of ${where}.${didYouMean(s)}${s.length ? '' : ` Known keys: ${Object.keys(spec.fields).join(', ')}.`}`,
          s.map((c, i) => ({ title: `Change to '${c}'`, edits: [{ span: e.keySpan, newText: c }], preferred: i === 0 && s.length === 1 })),
        );
        continue;
      }
      const v = this.value(e.value, f, p, e.keySpan);
      if (v === INVALID) invalid.add(e.key);
      else if (v !== undefined) result[e.key] = v;
    }
    for (const [k, f] of Object.entries(spec.fields)) {
      const p = path ? `${path}.${k}` : k;
      if (result[k] !== undefined || invalid.has(k)) {
        if (invalid.has(k) && filledDefault(f) !== undefined) result[k] = filledDefault(f);
        continue;
      }
      if (f.required && on) {
        if (present.has(k)) this.report(this.keySpans.get(p) ?? anchor, 'error', DiagnosticCodes.missingField, `\`${p}\` has no value: ${lowerFirst(f.doc)}`);
        else this.report(anchor, 'error', DiagnosticCodes.missingField, `\`${p}\` is missing: ${lowerFirst(f.doc)}`);
        continue;
      }
      // nested sections whose fields all have defaults (stages, budgets) are filled in when absent
      if (f.type === 'object' && !Object.values(f.fields).some((g) => g.required)) {
        result[k] = this.object(undefined, f, p, anchor, true);
        continue;
      }
      const d = filledDefault(f);
      if (d !== undefined) result[k] = d;
    }
    if (spec.toggle) result.enabled = on && result.enabled !== false;
    return result;
  }

  private map(node: LMap | undefined, spec: RunMapSpec, path: string, anchor: Span): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const e of node?.entries ?? []) {
      const p = `${path}.${e.key}`;
      this.keySpans.set(p, e.keySpan);
      if (!new RegExp(RUN_NAME_PATTERN).test(e.key)) {
        this.report(e.keySpan, 'error', DiagnosticCodes.invalidId, `\`${p}\`: names of entries may hold letters, digits, '.', '_' and '-', starting with a letter or digit.`);
      }
      const v = this.value(e.value, spec.values, p, e.keySpan);
      result[e.key] = v === INVALID || v === undefined ? {} : v;
    }
    if ((spec.minEntries ?? 0) > Object.keys(result).length) {
      this.report(this.keySpans.get(path) ?? anchor, 'error', DiagnosticCodes.missingField, `\`${path}\` needs at least ${spec.minEntries} entry: ${lowerFirst(spec.doc)}`);
    }
    return result;
  }
}

function toPlain(node: LNode): unknown {
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'seq') return node.items.map(toPlain);
  const o: Record<string, unknown> = {};
  for (const e of node.entries) o[e.key] = e.value ? toPlain(e.value) : null;
  return o;
}

/** Puts backticks around the field paths in a message from parseSchedule. */
function ticked(message: string, path: string): string {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return message.replace(new RegExp(`${escaped}[\\w.]*`, 'g'), (m) => `\`${m.replace(/\.$/, '')}\`${m.endsWith('.') ? '.' : ''}`);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/**
 * Parses and checks a run configuration. Never throws. `config` is returned when there is no
 * error; warnings (unknown keys, a model name that is not a preset) leave it in place.
 */
export function parseRunConfig(text: string, file: string): RunConfigResult {
  const index = new TextIndex(text);
  const checker = new RunChecker();
  let config: RunConfig | undefined;
  try {
    const parsed = parseYaml(text);
    checker.out.push(...parsed.diagnostics.map((d) => (d.code === DiagnosticCodes.multipleDocuments ? { ...d, message: 'A run file holds one YAML document; this one is ignored.' } : d)));
    const root = parsed.root;
    if (!root || (root.kind === 'scalar' && root.value === null)) {
      checker.report({ start: 0, end: Math.min(text.length, firstLineEnd(text)) }, 'error', DiagnosticCodes.missingField, 'The run file is empty: it needs at least `name`, `constitution`, `models`, `roles` and `datasets.redTeam`.');
    } else if (root.kind !== 'map') {
      checker.report(root.span, 'error', DiagnosticCodes.wrongType, `A run file must be a mapping of keys (name, constitution, models, …), not ${describeNode(root)}.`);
    } else {
      const anchor = root.entries[0]?.keySpan ?? { start: 0, end: 0 };
      const c = checker.value(root, RUN_CONFIG_FIELDS, '', anchor) as unknown as RunConfig;
      fillRoles(c);
      crossCheck(c, checker, anchor);
      if (!checker.out.some((d) => d.severity === 'error')) config = c;
    }
  } catch (e) {
    checker.report({ start: 0, end: 0 }, 'error', DiagnosticCodes.internalError, `Internal error while reading the run file (please report it): ${(e as Error)?.message ?? String(e)}`);
    config = undefined;
  }
  const diagnostics = checker.out.map((d) => {
    const out: Diagnostic = { file, range: index.range(d.span), severity: d.severity, code: d.code, message: d.message };
    if (d.fixes?.length) {
      out.fixes = d.fixes.map((f) => ({ title: f.title, edits: f.edits.map((e) => ({ range: index.range(e.span), newText: e.newText })), ...(f.preferred ? { preferred: true } : {}) }));
    }
    return out;
  });
  return config ? { config, diagnostics } : { diagnostics };
}

function firstLineEnd(text: string): number {
  const i = text.search(/\r?\n/);
  return i < 0 ? text.length : i;
}

function fillRoles(c: RunConfig): void {
  // a configuration with errors may lack required sections; the cross-field checks still run on it
  c.models ??= {};
  c.roles ??= {} as Roles;
  const r = c.roles as Partial<Roles>;
  if (r.policy === undefined) return;
  r.critic ??= r.policy;
  r.feedback ??= r.policy;
  r.preferenceModel ??= r.policy;
}

const DATASET_FORMATS: Record<keyof Datasets, readonly DatasetFormat[]> = {
  redTeam: ['prompts', 'hh'],
  helpfulness: ['prompts', 'hh'],
  pmp: ['qa-votes', 'pairs', 'hh'],
  evalPairs: ['pairs', 'hh'],
  evalPrompts: ['prompts', 'hh'],
  helpfulnessPairs: ['pairs', 'hh'],
};

/** The formats each dataset slot accepts (`hh` prompts are the first human turn). */
export function datasetFormatsFor(slot: keyof Datasets): readonly DatasetFormat[] {
  return DATASET_FORMATS[slot];
}

/** Checks that need more than one field. Reports at the spans recorded while walking. */
function crossCheck(c: RunConfig, k: RunChecker, rootAnchor: Span): void {
  const names = Object.keys(c.models);
  const ref = (path: string, name: string | undefined): void => {
    if (name === undefined || c.models[name]) return;
    const s = suggest(name, names);
    const span = k.spans.get(path) ?? rootAnchor;
    k.report(
      span,
      'error',
      DiagnosticCodes.unknownReference,
      `\`${path}\` names '${name}', which is not an entry of \`models\` (entries: ${names.join(', ')}).${didYouMean(s)}`,
      s.map((n, i) => ({ title: `Change to '${n}'`, edits: [{ span, newText: n }], preferred: i === 0 && s.length === 1 })),
    );
  };
  for (const role of ['policy', 'critic', 'feedback', 'preferenceModel'] as const) if (k.spans.has(`roles.${role}`)) ref(`roles.${role}`, c.roles[role]);
  ref('stages.eval.judge', c.stages.eval.judge);

  for (const [name, m] of Object.entries(c.models)) {
    const p = `models.${name}`;
    if (typeof m.model !== 'string') continue;
    if (m.provider === 'llama-cpp' && !/\.gguf$/i.test(m.model)) {
      k.error(`${p}.model`, DiagnosticCodes.invalidValue, `\`${p}.model\` must be a .gguf file for the llama-cpp provider (got '${m.model}').`);
    }
    if (m.provider === 'embedded') {
      const looksLikePath = /[\\/]/.test(m.model) || m.model.startsWith('.');
      if (!looksLikePath && !PRESETS[m.model]) {
        const s = suggest(m.model, Object.keys(PRESETS));
        k.report(
          k.spans.get(`${p}.model`) ?? rootAnchor,
          'warning',
          DiagnosticCodes.invalidValue,
          `\`${p}.model\` '${m.model}' is not a built-in preset (${Object.keys(PRESETS).join(', ')}); it will be read as a model folder. Write a folder as a path (e.g. ./${m.model}).${didYouMean(s)}`,
        );
      }
      for (const key of ['baseUrl', 'api', 'apiKeyEnv'] as const) {
        if (m[key] !== undefined) k.report(k.keySpans.get(`${p}.${key}`) ?? rootAnchor, 'warning', DiagnosticCodes.invalidValue, `\`${p}.${key}\` is only used by the openai provider; it is ignored here.`);
      }
    }
    if (m.provider === 'openai') m.api ??= 'completions';
  }

  const fb = c.stages.feedback;
  if (fb.clamp[0] >= fb.clamp[1]) {
    k.error('stages.feedback.clamp', DiagnosticCodes.invalidValue, `\`stages.feedback.clamp\` must be [low, high] with low < high (got [${fb.clamp.join(', ')}]).`);
  }
  const ppo = c.stages.ppo;
  if (ppo.batchSize % ppo.minibatches !== 0) {
    k.error('stages.ppo.minibatches', DiagnosticCodes.invalidValue, `\`stages.ppo.minibatches\` (${ppo.minibatches}) must divide \`stages.ppo.batchSize\` (${ppo.batchSize}).`);
  }
  const ds = c.datasets;
  for (const slot of Object.keys(DATASET_FORMATS) as (keyof Datasets)[]) {
    const d = ds[slot];
    if (d?.format && !DATASET_FORMATS[slot].includes(d.format)) {
      k.error(`datasets.${slot}.format`, DiagnosticCodes.invalidValue, `\`datasets.${slot}.format\` must be one of ${DATASET_FORMATS[slot].join(', ')} for this dataset (got '${d.format}').`);
    }
  }
  const st = c.stages;
  if (!ds.redTeam && (st.critique.enabled || st.pairs.enabled || st.ppo.enabled)) {
    k.report(
      k.keySpans.get('datasets') ?? rootAnchor,
      'error',
      DiagnosticCodes.missingField,
      '`datasets.redTeam` is missing: the critique, pairs and ppo stages read red-team prompts from it (or set those stages to false).',
    );
  }
  if (st.pm.enabled && st.pm.pmpSteps > 0 && !ds.pmp) {
    k.error('stages.pm.pmpSteps', DiagnosticCodes.invalidValue, '`stages.pm.pmpSteps` is above 0 but `datasets.pmp` is not set: name the comparison data to pretrain on, or set pmpSteps to 0.');
  }
  if (st.sft.enabled && st.sft.helpfulnessRatio > 0 && !ds.helpfulness && k.spans.has('stages.sft.helpfulnessRatio')) {
    k.error('stages.sft.helpfulnessRatio', DiagnosticCodes.invalidValue, '`stages.sft.helpfulnessRatio` is above 0 but `datasets.helpfulness` is not set.');
  }
  const policy = c.models[c.roles.policy];
  const preset = policy?.provider === 'embedded' ? PRESETS[policy.model] : undefined;
  if (preset && st.sft.enabled && st.sft.seqLen > preset.config.maxPositions) {
    k.error('stages.sft.seqLen', DiagnosticCodes.invalidValue, `\`stages.sft.seqLen\` (${st.sft.seqLen}) is longer than the context of the policy's preset '${policy?.model}' (${preset.config.maxPositions}).`);
  }
  if (st.eval.enabled && st.eval.hhh === undefined && !ds.evalPairs && !st.eval.judge && k.keySpans.has('stages.eval')) {
    k.report(k.keySpans.get('stages.eval') ?? rootAnchor, 'warning', DiagnosticCodes.invalidValue, '`stages.eval` has nothing to evaluate: set `datasets.evalPairs`, `stages.eval.hhh` or `stages.eval.judge`, or set the stage to false.');
  }
}

// ---------------------------------------------------------------------------------------------
// Paths.

export interface RunPaths {
  constitution: string;
  out: string;
  datasets: Partial<Record<keyof Datasets, string>>;
  hhh?: string;
  /** Model files and folders by `models` name (embedded folders and .gguf files; not presets or remote models). */
  models: Record<string, string>;
}

function isAbsolute(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(p);
}

/**
 * Joins a relative path onto a folder, resolving `.` and `..`; an absolute `rel` is returned as
 * is. Separators follow the folder: `\` for a Windows folder (drive letter or backslashes only),
 * `/` otherwise.
 */
export function joinPath(dir: string, rel: string): string {
  if (isAbsolute(rel)) return rel;
  const win = /^[A-Za-z]:/.test(dir) || (dir.includes('\\') && !dir.includes('/'));
  const sep = win ? '\\' : '/';
  const parts = `${dir}/${rel}`.split(/[\\/]+/);
  const lead = dir.startsWith('/') || dir.startsWith('\\') ? sep : '';
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..' && !/^[A-Za-z]:$/.test(out[out.length - 1] as string)) out.pop();
      else if (!lead && !(out.length > 0 && /^[A-Za-z]:$/.test(out[0] as string))) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = lead + out.join(sep);
  const trailing = /[\\/]$/.test(rel) && joined !== lead ? sep : '';
  return (joined || '.') + trailing;
}

/** Every path of the configuration made relative to the run file's folder (or kept if absolute). */
export function resolveRunPaths(config: RunConfig, runFileDir: string, join: (dir: string, rel: string) => string = joinPath): RunPaths {
  const datasets: RunPaths['datasets'] = {};
  for (const [slot, d] of Object.entries(config.datasets) as [keyof Datasets, DatasetRef | undefined][]) {
    if (d) datasets[slot] = join(runFileDir, d.path);
  }
  const models: Record<string, string> = {};
  for (const [name, m] of Object.entries(config.models)) {
    if (m.provider === 'llama-cpp' || (m.provider === 'embedded' && !PRESETS[m.model])) models[name] = join(runFileDir, m.model);
  }
  const paths: RunPaths = { constitution: join(runFileDir, config.constitution), out: join(runFileDir, config.out), datasets, models };
  if (config.stages.eval.hhh !== undefined) paths.hhh = join(runFileDir, config.stages.eval.hhh);
  return paths;
}
