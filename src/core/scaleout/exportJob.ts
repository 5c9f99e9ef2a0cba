// A run's data and hyperparameters as a self-contained training job for a GPU machine: Hugging
// Face TRL (through resources/scaleout/runner.py) or OpenRLHF (its own CLI). Pure: the caller
// reads the run directory and writes the files this returns. docs/scaleout.md describes the job
// folder; `cai export-job` drives it.

import type { Manifest, PairRecord, RevisionRecord } from '../runs/records.js';
import type { RunConfig } from '../runs/config.js';
import { exportPair, type ReviewStatus } from '../runs/pairs.js';

export type JobEngine = 'trl' | 'openrlhf';
export type JobStage = 'sft' | 'pm' | 'ppo';
/** How soft preference labels reach a trainer that takes hard ones (see docs/scaleout.md). */
export type SoftLabelStrategy = 'soft' | 'duplicate' | 'threshold';
/** OpenRLHF's command-line generations: flat flags (≤ 0.10.1) and dotted namespaced flags (later). */
export type FlagTable = 'flat' | 'dotted';

export const JOB_ENGINES: readonly JobEngine[] = ['trl', 'openrlhf'];
export const JOB_STAGES: readonly JobStage[] = ['sft', 'pm', 'ppo'];
export const SOFT_LABEL_STRATEGIES: readonly SoftLabelStrategy[] = ['soft', 'duplicate', 'threshold'];

export const JOB_FORMAT_VERSION = 1;
/** The model a job trains when none is given. */
export const DEFAULT_MODEL = 'Qwen/Qwen2.5-0.5B-Instruct';
export const DEFAULT_COPIES = 10;
export const DEFAULT_THRESHOLD = 0.7;

/**
 * Package pins written into each job (requirements.txt and manifest.json): the newest releases on
 * the package index when this table was written. They are pins for reproducibility, not a
 * combination this project has trained with.
 */
export const TRL_VERSION = '1.16.0';
export const TRL_PINS: readonly string[] = ['trl==1.16.0', 'transformers==5.23.0', 'datasets==5.2.0', 'accelerate==1.15.0', 'pyyaml==6.0.3'];
/** The newest OpenRLHF (dotted flags) and the last release with flat flags. */
export const OPENRLHF_DOTTED_VERSION = '0.11.2';
export const OPENRLHF_FLAT_VERSION = '0.10.1';

export class JobError extends Error {}

/** A prompt for the PPO stage. */
export interface JobPrompt {
  id?: string;
  prompt: string;
}

export interface JobOptions {
  /** Hugging Face id or path of the model to train (the policy for PPO). */
  model?: string;
  /** PPO: the reward model (the preference model a `pm` job trained). */
  rewardModel?: string;
  /** Preference stage: how soft labels are trained (default `soft` for TRL, `duplicate` for OpenRLHF). */
  softLabels?: SoftLabelStrategy;
  /** `duplicate`: rows per pair (default 10). */
  copies?: number;
  /** `threshold`: the least confidence max(p, 1 − p) a pair needs to be kept (default 0.7). */
  threshold?: number;
  /** Preference rows carry `margin` = logit(p_chosen) for the engine's margin loss (default true). */
  margin?: boolean;
  /** OpenRLHF release the command line is written for (default the newest pinned one); picks the flag table. */
  openrlhfVersion?: string;
  /** OpenRLHF micro batch per GPU (default 1). */
  microBatchSize?: number;
  /** Maximum sequence length in tokens (default the run's SL-CAI `seqLen`). */
  maxLength?: number;
  /** The text of runner.py, written into TRL jobs so the folder runs on its own. */
  runner?: string;
}

export interface JobInput {
  manifest: Manifest;
  revisions: readonly RevisionRecord[];
  pairs: readonly PairRecord[];
  /** Human reviews of the pairs (pair id → latest status), applied as `cai export-dataset` does. */
  reviews?: ReadonlyMap<string, ReviewStatus>;
  /** PPO prompts; default: the prompts of the revisions, then those of the pairs, each text once. */
  prompts?: readonly JobPrompt[];
  engine: JobEngine;
  stage: JobStage;
  options?: JobOptions;
  hashing: JobHashing;
}

/** What a soft-label strategy did to the preference pairs. */
export interface SoftLabelStats {
  strategy: SoftLabelStrategy;
  /** Records in pairs.jsonl. */
  pairs: number;
  /** Pairs with at least one row in the data. */
  pairsKept: number;
  pairsDropped: number;
  dropped: { tie: number; flagged: number; invalid: number; belowThreshold: number };
  /** Rows written (duplicate: `copies` per kept pair). */
  rows: number;
  /** Mean P(chosen) over the labelled pairs before the strategy (ties, flagged and invalid pairs excluded). */
  labelMean: number | null;
  /** Mean target the trainer sees for the label's preferred response: p (soft), share of copies (duplicate), 1 (threshold). */
  effectiveLabelMean: number | null;
  /** duplicate: mean |share of copies − p| over kept pairs, the rounding error of K copies. */
  quantisationError?: number;
  copies?: number;
  threshold?: number;
  reviews: { flipped: number; accepted: number };
}

export interface JobFileEntry {
  bytes: number;
  sha256: string;
}

export interface JobManifest {
  format: 'cai-scaleout-job';
  formatVersion: number;
  engine: JobEngine;
  stage: JobStage;
  /** The engine release the configuration and command line are written for. */
  engineVersion: string;
  pins: { note: string; packages: string[] };
  source: { runId: string; configSha256: string; constitutionSha256: string };
  model: string;
  rewardModel?: string;
  data: { file: string; format: string; rows: number; columns: string[] };
  softLabels: SoftLabelStats | null;
  launch: { script: string; argv: string[]; flagTable?: FlagTable; configFile?: string };
  /** SHA-256 and size of every other file of the job. */
  files: Record<string, JobFileEntry>;
  warnings: string[];
}

export interface JobOutput {
  /** Relative path (with `/`) → content; manifest.json included. */
  files: Map<string, string | Uint8Array>;
  warnings: string[];
  manifest: JobManifest;
}

// ---------------------------------------------------------------------------------------------
// Bytes and hashes: src/core is pure, so the caller (the CLI, the extension) provides them from
// the platform (node:crypto, Buffer); nothing here reimplements SHA-256.

export interface JobHashing {
  /** UTF-8 bytes of a text file's content. */
  utf8(text: string): Uint8Array;
  /** SHA-256 as 64 lower-case hex digits. */
  sha256(bytes: Uint8Array): string;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x === undefined ? null : x)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

// ---------------------------------------------------------------------------------------------
// Text formats: YAML for TRL's arguments, POSIX shell quoting for OpenRLHF's command line.

export type YamlValue = string | number | boolean | null | readonly YamlValue[] | { readonly [key: string]: YamlValue };

/** A number as YAML that PyYAML (YAML 1.1) also reads as a number: floats always have a `.`. */
export function yamlNumber(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '.inf' : n < 0 ? '-.inf' : '.nan';
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const s = String(n);
  if (s.includes('.')) return s;
  return s.replace(/e/, '.0e');
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Block-style YAML of nested maps, lists and scalars; strings are double-quoted (JSON escapes are valid YAML). */
export function toYaml(v: { readonly [key: string]: YamlValue }, indent = 0): string {
  const pad = ' '.repeat(indent);
  const scalar = (x: YamlValue): string | undefined => {
    if (x === null) return 'null';
    if (typeof x === 'string') return JSON.stringify(x);
    if (typeof x === 'number') return yamlNumber(x);
    if (typeof x === 'boolean') return x ? 'true' : 'false';
    if (Array.isArray(x) && x.length === 0) return '[]';
    if (!Array.isArray(x) && typeof x === 'object' && Object.keys(x).length === 0) return '{}';
    return undefined;
  };
  let out = '';
  for (const [k, x] of Object.entries(v)) {
    const key = PLAIN_KEY.test(k) ? k : JSON.stringify(k);
    const s = scalar(x);
    if (s !== undefined) out += `${pad}${key}: ${s}\n`;
    else if (Array.isArray(x)) {
      out += `${pad}${key}:\n`;
      for (const item of x as readonly YamlValue[]) {
        const si = scalar(item);
        if (si !== undefined) out += `${pad}  - ${si}\n`;
        else throw new JobError('nested lists of maps are not written');
      }
    } else {
      out += `${pad}${key}:\n${toYaml(x as { readonly [key: string]: YamlValue }, indent + 2)}`;
    }
  }
  return out;
}

/** One argument for a POSIX shell: as it is when it is safe, else in single quotes. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_\-.,:/=@+%]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

// ---------------------------------------------------------------------------------------------
// OpenRLHF's flag table, by generation.

/** One OpenRLHF option: its flat and dotted spellings (null: not in that generation). */
export interface FlagSpec {
  flat: string | null;
  dotted: string | null;
}

/**
 * OpenRLHF options this exporter writes, old (flat, ≤ 0.10.1) and new (dotted, ≥ 0.10.4;
 * maybe 0.10.2). From the CLIs' argparse declarations and PR OpenRLHF/OpenRLHF#1275; see
 * docs/scaleout.md for the sources.
 */
export const OPENRLHF_FLAGS = {
  pretrain: { flat: '--pretrain', dotted: '--model.model_name_or_path' },
  dataset: { flat: '--dataset', dotted: '--data.dataset' },
  maxLen: { flat: '--max_len', dotted: '--data.max_len' },
  inputKey: { flat: '--input_key', dotted: '--data.input_key' },
  outputKey: { flat: '--output_key', dotted: '--data.output_key' },
  promptKey: { flat: '--prompt_key', dotted: '--data.prompt_key' },
  chosenKey: { flat: '--chosen_key', dotted: '--data.chosen_key' },
  rejectedKey: { flat: '--rejected_key', dotted: '--data.rejected_key' },
  applyChatTemplate: { flat: '--apply_chat_template', dotted: '--data.apply_chat_template' },
  microBatch: { flat: '--micro_train_batch_size', dotted: '--train.micro_batch_size' },
  batch: { flat: '--train_batch_size', dotted: '--train.batch_size' },
  maxEpochs: { flat: '--max_epochs', dotted: '--train.max_epochs' },
  seed: { flat: '--seed', dotted: '--train.seed' },
  lr: { flat: '--learning_rate', dotted: '--adam.lr' },
  savePath: { flat: '--save_path', dotted: '--ckpt.output_dir' },
  loggingSteps: { flat: '--logging_steps', dotted: '--logger.logging_steps' },
  tensorboard: { flat: '--use_tensorboard', dotted: '--logger.tensorboard_dir' },
  zeroStage: { flat: '--zero_stage', dotted: '--ds.zero_stage' },
  paramDtype: { flat: '--param_dtype', dotted: '--ds.param_dtype' },
  gradientCheckpointing: { flat: '--gradient_checkpointing', dotted: '--model.gradient_checkpointing_enable' },
  marginLoss: { flat: '--margin_loss', dotted: '--model.margin_loss_enable' },
  // train_ppo_ray
  actorNodes: { flat: '--actor_num_nodes', dotted: '--actor.num_nodes' },
  actorGpus: { flat: '--actor_num_gpus_per_node', dotted: '--actor.num_gpus_per_node' },
  refNodes: { flat: '--ref_num_nodes', dotted: '--ref.num_nodes' },
  refGpus: { flat: '--ref_num_gpus_per_node', dotted: '--ref.num_gpus_per_node' },
  rewardNodes: { flat: '--reward_num_nodes', dotted: '--reward.num_nodes' },
  rewardGpus: { flat: '--reward_num_gpus_per_node', dotted: '--reward.num_gpus_per_node' },
  criticNodes: { flat: '--critic_num_nodes', dotted: '--critic.num_nodes' },
  criticGpus: { flat: '--critic_num_gpus_per_node', dotted: '--critic.num_gpus_per_node' },
  colocateAll: { flat: '--colocate_all_models', dotted: '--train.colocate_all' },
  actorPretrain: { flat: '--pretrain', dotted: '--actor.model_name_or_path' },
  rewardPretrain: { flat: '--reward_pretrain', dotted: '--reward.model_name_or_path' },
  criticPretrain: { flat: '--critic_pretrain', dotted: '--critic.model_name_or_path' },
  promptData: { flat: '--prompt_data', dotted: '--data.prompt_dataset' },
  promptMaxLen: { flat: '--prompt_max_len', dotted: null },
  generateMaxLen: { flat: '--generate_max_len', dotted: '--rollout.max_new_tokens' },
  rolloutBatch: { flat: '--rollout_batch_size', dotted: '--rollout.batch_size' },
  microRolloutBatch: { flat: '--micro_rollout_batch_size', dotted: '--rollout.micro_batch_size' },
  samplesPerPrompt: { flat: '--n_samples_per_prompt', dotted: '--rollout.n_samples_per_prompt' },
  temperature: { flat: '--temperature', dotted: '--rollout.temperature' },
  numEpisodes: { flat: '--num_episodes', dotted: '--train.num_episodes' },
  actorLr: { flat: '--actor_learning_rate', dotted: '--actor.adam.lr' },
  criticLr: { flat: '--critic_learning_rate', dotted: '--critic.adam.lr' },
  initKlCoef: { flat: '--init_kl_coef', dotted: '--algo.kl.init_coef' },
  klTarget: { flat: '--kl_target', dotted: '--algo.kl.target' },
  advantageEstimator: { flat: '--advantage_estimator', dotted: '--algo.advantage.estimator' },
  gamma: { flat: '--gamma', dotted: '--algo.advantage.gamma' },
  lambd: { flat: '--lambd', dotted: '--algo.advantage.lambd' },
  epsClip: { flat: '--eps_clip', dotted: '--actor.eps_clip' },
  valueClip: { flat: '--value_clip', dotted: '--critic.value_clip' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof OPENRLHF_FLAGS;

/** The flag table of an OpenRLHF release: flat up to 0.10.1, dotted from 0.10.2 (0.10.2 and 0.10.3 with a warning). */
export function flagTableFor(version: string): { table: FlagTable; warning?: string } {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
  if (!m) throw new JobError(`OpenRLHF version "${version}" is not a version number (e.g. ${OPENRLHF_DOTTED_VERSION})`);
  const [maj, min, pat] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  const key = maj * 1e6 + min * 1e3 + pat;
  if (key <= 10001) return { table: 'flat' };
  if (key < 10004) return { table: 'dotted', warning: `OpenRLHF ${version}: the switch to dotted flags is only known to lie between 0.10.1 (flat) and 0.10.4 (dotted); dotted flags assumed — check \`--help\`` };
  return { table: 'dotted' };
}

/** argv entries for options, in the given table; `true` is a switch, false/undefined leave the option out. */
export function openrlhfArgs(table: FlagTable, opts: readonly (readonly [FlagName, string | number | boolean | undefined])[]): string[] {
  const out: string[] = [];
  for (const [name, value] of opts) {
    if (value === undefined || value === false) continue;
    const flag = OPENRLHF_FLAGS[name][table];
    if (flag === null) throw new JobError(`OpenRLHF option ${name} has no ${table} spelling`);
    out.push(flag);
    if (value !== true) out.push(typeof value === 'number' ? argNumber(value) : value);
  }
  return out;
}

/** A number as a command-line argument (no exponent for ordinary sizes; 3e-05 stays short). */
function argNumber(n: number): string {
  return String(n);
}

// ---------------------------------------------------------------------------------------------
// Data rows.

export interface Message {
  role: 'user' | 'assistant';
  content: string;
}

const user = (content: string): Message[] => [{ role: 'user', content }];
const assistant = (content: string): Message[] => [{ role: 'assistant', content }];
const round12 = (x: number): number => Number(x.toFixed(12));

/** logit(p) in nats, with p kept inside [1e-6, 1 − 1e-6], rounded to 6 decimals: the margin of a row whose chosen response is better with probability p. */
export function marginOf(p: number): number {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  const m = Number(Math.log(q / (1 - q)).toFixed(6));
  return m === 0 ? 0 : m;
}

/** SL-CAI rows: each revised response (the final one, or every round's with `revisions: all`) as a completion of its prompt. */
export function sftRows(revisions: readonly RevisionRecord[], which: 'final' | 'all'): { rows: { id: string; prompt: string; completion: string }[]; skipped: number } {
  const rows: { id: string; prompt: string; completion: string }[] = [];
  let skipped = 0;
  for (const r of revisions) {
    const texts = which === 'all' ? r.rounds.map((x) => x.revision) : [r.final];
    texts.forEach((t, i) => {
      if (!r.prompt || !t) {
        skipped++;
        return;
      }
      rows.push({ id: which === 'all' ? `${r.id}:${i + 1}` : r.id, prompt: r.prompt, completion: t });
    });
  }
  return { rows, skipped };
}

/** One preference row: the chosen response is better with probability `p_chosen`. */
export interface PreferenceRow {
  id: string;
  principle: string;
  prompt: string;
  chosen: string;
  rejected: string;
  p_chosen: number;
  /** The row swaps the label's order (a `duplicate` copy for the other response). */
  reversed: boolean;
  review?: ReviewStatus;
}

/** Preference rows under a soft-label strategy, with the strategy's statistics. Rows come from `exportPair`, the rows of `cai export-dataset`. */
export function preferenceRows(
  pairs: readonly PairRecord[],
  reviews: ReadonlyMap<string, ReviewStatus>,
  strategy: SoftLabelStrategy,
  opts: { copies?: number; threshold?: number } = {},
): { rows: PreferenceRow[]; stats: SoftLabelStats } {
  const copies = opts.copies ?? DEFAULT_COPIES;
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  if (strategy === 'duplicate' && !(Number.isInteger(copies) && copies >= 1 && copies <= 1000)) throw new JobError(`copies must be an integer from 1 to 1000 (got ${copies})`);
  if (strategy === 'threshold' && !(threshold >= 0.5 && threshold <= 1)) throw new JobError(`threshold must lie in [0.5, 1] (got ${threshold})`);
  const rows: PreferenceRow[] = [];
  const dropped = { tie: 0, flagged: 0, invalid: 0, belowThreshold: 0 };
  const reviewed = { flipped: 0, accepted: 0 };
  let labelled = 0;
  let sumP = 0;
  let kept = 0;
  let sumTarget = 0;
  let sumQuant = 0;
  for (const p of pairs) {
    const status = reviews.get(p.id);
    const r = exportPair(p, status, 'trl');
    if ('skipped' in r) {
      if (r.skipped === 'tie') dropped.tie++;
      else if (r.skipped === 'flagged') dropped.flagged++;
      else dropped.invalid++;
      continue;
    }
    const row = r.row as { prompt: string; chosen: string; rejected: string; score: number; id: string; principle: string };
    const s = row.score;
    labelled++;
    sumP += s;
    const base = { id: row.id, principle: row.principle, prompt: row.prompt, ...(status ? { review: status } : {}) };
    const forward = (): PreferenceRow => ({ ...base, chosen: row.chosen, rejected: row.rejected, p_chosen: round12(s), reversed: false });
    const backward = (): PreferenceRow => ({ ...base, chosen: row.rejected, rejected: row.chosen, p_chosen: round12(1 - s), reversed: true });
    if (strategy === 'threshold' && s < threshold - 1e-12) {
      dropped.belowThreshold++;
      continue;
    }
    kept++;
    if (status === 'flip') reviewed.flipped++;
    else if (status === 'accept') reviewed.accepted++;
    if (strategy === 'duplicate') {
      const n = Math.min(copies, Math.max(0, Math.round(s * copies + 1e-9)));
      for (let i = 0; i < n; i++) rows.push(forward());
      for (let i = n; i < copies; i++) rows.push(backward());
      sumTarget += n / copies;
      sumQuant += Math.abs(n / copies - s);
    } else {
      rows.push(forward());
      sumTarget += strategy === 'soft' ? s : 1;
    }
  }
  const stats: SoftLabelStats = {
    strategy,
    pairs: pairs.length,
    pairsKept: kept,
    pairsDropped: pairs.length - kept,
    dropped,
    rows: rows.length,
    labelMean: labelled ? round12(sumP / labelled) : null,
    effectiveLabelMean: kept ? round12(sumTarget / kept) : null,
    ...(strategy === 'duplicate' ? { copies, quantisationError: kept ? round12(sumQuant / kept) : 0 } : {}),
    ...(strategy === 'threshold' ? { threshold } : {}),
    reviews: reviewed,
  };
  return { rows, stats };
}

/** PPO prompts: the given ones, or the run's prompts (revisions first, then pairs), each text once. */
export function ppoPrompts(input: Pick<JobInput, 'prompts' | 'revisions' | 'pairs'>): JobPrompt[] {
  const seen = new Set<string>();
  const out: JobPrompt[] = [];
  const add = (id: string | undefined, prompt: string): void => {
    if (!prompt || seen.has(prompt)) return;
    seen.add(prompt);
    out.push(id ? { id, prompt } : { prompt });
  };
  if (input.prompts) for (const p of input.prompts) add(p.id, p.prompt);
  else {
    for (const r of input.revisions) add(r.prompt_id || undefined, r.prompt);
    for (const p of input.pairs) add(p.prompt_id, p.prompt);
  }
  return out;
}

const jsonl = (rows: readonly unknown[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

// ---------------------------------------------------------------------------------------------
// The job.

interface Hyper {
  lr: number;
  batchSize: number;
  steps: number;
  seed: number;
  maxLength: number;
}

function stageHyper(config: RunConfig, manifest: Manifest, stage: JobStage, maxLength: number): Hyper {
  const seedOf = (s: JobStage): number => manifest.seeds[s] ?? config.seed;
  if (stage === 'sft') return { lr: config.stages.sft.lr, batchSize: config.stages.sft.batchSize, steps: config.stages.sft.steps, seed: seedOf('sft'), maxLength };
  if (stage === 'pm') return { lr: config.stages.pm.lr, batchSize: config.stages.pm.batchSize, steps: config.stages.pm.steps, seed: seedOf('pm'), maxLength };
  return { lr: config.stages.ppo.lr, batchSize: config.stages.ppo.batchSize, steps: config.stages.ppo.steps, seed: seedOf('ppo'), maxLength };
}

const RUN_SH_HEAD = '#!/bin/sh\n# Starts this job from its own folder. Generated by Constitution Studio (`cai export-job`).\nset -eu\ncd "$(dirname "$0")"\n';

/** The environment variable that names where the job copies its output folder (`cai submit --sync-target`). */
export const SYNC_TARGET_ENV = 'CAI_SYNC_TARGET';

/**
 * run.sh: the engine's command, then (also after a failure, so partial checkpoints are kept) a copy
 * of output/ to $CAI_SYNC_TARGET when the job has one: `aws s3 sync` for an s3:// URI, `cp -R`
 * for a shared folder. With a shared folder, output/tensorboard is a link to its tensorboard/
 * while the trainer runs, so the event files are there as they are written (the follower reads
 * them live). The job's exit status is the trainer's, or 1 when only the copy failed.
 */
function runSh(comment: string, argv: readonly string[]): string {
  const T = `$${SYNC_TARGET_ENV}`;
  return `${RUN_SH_HEAD}${comment}status=0
case "\${${SYNC_TARGET_ENV}:-}" in
  ""|s3://*) ;;
  *) mkdir -p output "${T}/tensorboard" && ln -s "${T}/tensorboard" output/tensorboard && live_tensorboard=yes ;;
esac
${argv.map(shellQuote).join(' ')} || status=$?
if [ "\${live_tensorboard:-no}" = yes ]; then rm -f output/tensorboard; fi
if [ -n "\${${SYNC_TARGET_ENV}:-}" ] && [ -d output ]; then
  case "${T}" in
    s3://*) aws s3 sync output "${T}" --only-show-errors || synced=no ;;
    *) { mkdir -p "${T}" && cp -R output/. "${T}/"; } || synced=no ;;
  esac
  if [ "\${synced:-yes}" = no ]; then
    echo "run.sh: copying output/ to ${T} failed" >&2
    [ "$status" -ne 0 ] || status=1
  fi
fi
exit "$status"
`;
}

/**
 * The job folder for one stage of a run on one engine: data, configuration or command line,
 * requirements.txt, run.sh and manifest.json (with the SHA-256 of every other file).
 */
export function buildJob(input: JobInput): JobOutput {
  const { manifest, engine, stage } = input;
  const o = input.options ?? {};
  if (!JOB_ENGINES.includes(engine)) throw new JobError(`unknown engine "${String(engine)}" (trl or openrlhf)`);
  if (!JOB_STAGES.includes(stage)) throw new JobError(`unknown stage "${String(stage)}" (sft, pm or ppo)`);
  const config = manifest.config;
  const warnings: string[] = [];
  const files = new Map<string, string | Uint8Array>();
  const model = o.model ?? DEFAULT_MODEL;
  if (o.model === undefined) warnings.push(`no model given: the job trains ${DEFAULT_MODEL}`);
  const maxLength = o.maxLength ?? config.stages.sft.seqLen;
  if (!(Number.isInteger(maxLength) && maxLength > 0)) throw new JobError(`maxLength must be a positive integer (got ${maxLength})`);
  const hyper = stageHyper(config, manifest, stage, maxLength);

  // data
  let dataFile: string;
  let dataFormat: string;
  let dataRows: unknown[];
  let columns: string[];
  let softLabels: SoftLabelStats | null = null;
  let strategy: SoftLabelStrategy | undefined;
  let promptCount = 0;
  const margin = o.margin ?? true;
  if (stage === 'sft') {
    const { rows, skipped } = sftRows(input.revisions, config.stages.sft.revisions);
    if (skipped) warnings.push(`${skipped} revision${skipped === 1 ? '' : 's'} without a prompt or revised text left out`);
    dataFile = 'data/sft.jsonl';
    if (engine === 'trl') {
      dataFormat = 'TRL conversational prompt-completion';
      columns = ['prompt', 'completion', 'id'];
      dataRows = rows.map((r) => ({ prompt: user(r.prompt), completion: assistant(r.completion), id: r.id }));
    } else {
      dataFormat = 'OpenRLHF SFT (input/output message lists, chat template applied)';
      columns = ['input', 'output', 'id'];
      dataRows = rows.map((r) => ({ input: user(r.prompt), output: assistant(r.completion), id: r.id }));
    }
  } else if (stage === 'pm') {
    strategy = o.softLabels ?? (engine === 'trl' ? 'soft' : 'duplicate');
    if (!SOFT_LABEL_STRATEGIES.includes(strategy)) throw new JobError(`unknown soft-label strategy "${String(strategy)}" (soft, duplicate or threshold)`);
    if (strategy === 'soft' && engine !== 'trl') throw new JobError('the soft strategy trains with the TRL runner\'s own loss; for OpenRLHF use duplicate or threshold');
    const { rows, stats } = preferenceRows(input.pairs, input.reviews ?? new Map<string, ReviewStatus>(), strategy, { ...(o.copies !== undefined ? { copies: o.copies } : {}), ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) });
    softLabels = stats;
    if (stats.rows === 0) warnings.push('no preference rows: every pair was dropped');
    if (config.stages.pm.pmpSteps > 0) warnings.push(`the run's preference-model pretraining (${config.stages.pm.pmpSteps} steps) is not part of the job: it trains on the run's pairs only`);
    dataFile = 'data/preference.jsonl';
    dataFormat = engine === 'trl' ? 'TRL conversational preference (explicit prompt)' : 'OpenRLHF reward model (prompt/chosen/rejected message lists, chat template applied)';
    columns = ['prompt', 'chosen', 'rejected', 'p_chosen', ...(margin ? ['margin'] : []), 'reversed', 'id', 'principle', 'review'];
    dataRows = rows.map((r) => ({
      prompt: user(r.prompt),
      chosen: assistant(r.chosen),
      rejected: assistant(r.rejected),
      p_chosen: r.p_chosen,
      ...(margin ? { margin: marginOf(r.p_chosen) } : {}),
      reversed: r.reversed,
      id: r.id,
      principle: r.principle,
      ...(r.review ? { review: r.review } : {}),
    }));
  } else {
    const prompts = ppoPrompts(input);
    promptCount = prompts.length;
    if (!prompts.length) warnings.push('no PPO prompts');
    dataFile = 'data/prompts.jsonl';
    if (engine === 'trl') {
      dataFormat = 'TRL conversational prompt-only (the runner tokenizes it for PPO)';
      columns = ['prompt', 'id'];
      dataRows = prompts.map((p) => ({ prompt: user(p.prompt), ...(p.id ? { id: p.id } : {}) }));
    } else {
      dataFormat = 'OpenRLHF prompts (input message list, chat template applied)';
      columns = ['input', 'id'];
      dataRows = prompts.map((p) => ({ input: user(p.prompt), ...(p.id ? { id: p.id } : {}) }));
    }
  }
  files.set(dataFile, jsonl(dataRows));

  const rewardModel = stage === 'ppo' ? (o.rewardModel ?? 'REWARD_MODEL') : undefined;
  if (stage === 'ppo' && o.rewardModel === undefined) warnings.push('no reward model given: set REWARD_MODEL in the job (the output of a pm job) before starting it');

  let engineVersion: string;
  let packages: string[];
  let launch: JobManifest['launch'];
  if (engine === 'trl') {
    engineVersion = TRL_VERSION;
    packages = [...TRL_PINS];
    const yaml = trlConfigYaml(input, hyper, { model, dataFile, strategy, margin, ...(rewardModel !== undefined ? { rewardModel } : {}), promptCount }, warnings);
    files.set('config.yaml', yaml);
    const argv = ['python3', 'runner.py', '.'];
    if (o.runner !== undefined) files.set('runner.py', o.runner);
    else warnings.push('runner.py is not in the job: copy resources/scaleout/runner.py into it');
    files.set('run.sh', runSh('', argv));
    launch = { script: 'run.sh', argv, configFile: 'config.yaml' };
  } else {
    engineVersion = o.openrlhfVersion ?? OPENRLHF_DOTTED_VERSION;
    const ft = flagTableFor(engineVersion);
    if (ft.warning) warnings.push(ft.warning);
    packages = [`openrlhf==${engineVersion.replace(/^v/, '')}`];
    const argv = openrlhfArgv(ft.table, stage, hyper, { model, dataFile, margin, rewardModel, promptCount, microBatch: o.microBatchSize ?? 1, rows: dataRows.length, ppo: config.stages.ppo }, warnings);
    files.set('argv.json', `${JSON.stringify(argv, null, 2)}\n`);
    files.set('run.sh', runSh(`# OpenRLHF ${engineVersion}, ${ft.table} flags\n`, argv));
    launch = { script: 'run.sh', argv, flagTable: ft.table };
  }
  files.set('requirements.txt', `# Pinned by Constitution Studio for reproducibility (not a tested combination).\n${packages.join('\n')}\n`);

  const hashes: Record<string, JobFileEntry> = {};
  for (const name of [...files.keys()].sort()) {
    const c = files.get(name)!;
    const bytes = typeof c === 'string' ? input.hashing.utf8(c) : c;
    hashes[name] = { bytes: bytes.length, sha256: input.hashing.sha256(bytes) };
  }
  const jobManifest: JobManifest = {
    format: 'cai-scaleout-job',
    formatVersion: JOB_FORMAT_VERSION,
    engine,
    stage,
    engineVersion,
    pins: { note: 'exact versions pinned for reproducibility; the newest releases when this exporter was written, not a combination tested together', packages },
    source: { runId: manifest.runId, configSha256: input.hashing.sha256(input.hashing.utf8(canonicalJson(config))), constitutionSha256: manifest.constitution.sha256 },
    model,
    ...(rewardModel !== undefined ? { rewardModel } : {}),
    data: { file: dataFile, format: dataFormat, rows: dataRows.length, columns },
    softLabels,
    launch,
    files: hashes,
    warnings,
  };
  files.set('manifest.json', `${JSON.stringify(jobManifest, null, 2)}\n`);
  return { files, warnings, manifest: jobManifest };
}

interface TrlExtras {
  model: string;
  rewardModel?: string;
  dataFile: string;
  strategy: SoftLabelStrategy | undefined;
  margin: boolean;
  promptCount: number;
}

/** The runner's config.yaml: the stage, model and data, and the TRL config class's fields. */
function trlConfigYaml(input: JobInput, h: Hyper, x: TrlExtras, warnings: string[]): string {
  const { stage } = input;
  const common = {
    output_dir: 'output',
    learning_rate: h.lr,
    per_device_train_batch_size: h.batchSize,
    gradient_accumulation_steps: 1,
    max_steps: h.steps,
    seed: h.seed,
    logging_steps: 1,
    save_strategy: 'steps',
    save_steps: Math.max(1, h.steps),
    report_to: ['tensorboard'],
    logging_dir: 'output/tensorboard',
  } satisfies Record<string, YamlValue>;
  let configClass: string;
  let args: Record<string, YamlValue>;
  if (stage === 'sft') {
    configClass = 'SFTConfig';
    args = { ...common, max_length: h.maxLength, completion_only_loss: true };
  } else if (stage === 'pm') {
    configClass = 'RewardConfig';
    args = { ...common, max_length: h.maxLength, center_rewards_coefficient: 0.01 };
  } else {
    configClass = 'PPOConfig';
    const p = input.manifest.config.stages.ppo;
    let perDevice = Math.floor(p.batchSize / p.minibatches);
    if (perDevice < 1 || p.batchSize % p.minibatches !== 0) {
      perDevice = Math.max(1, perDevice);
      warnings.push(`PPO batch ${p.batchSize} does not split into ${p.minibatches} minibatches: ${perDevice} rollouts per minibatch`);
    }
    if (p.adaptiveKl) warnings.push('TRL PPO has a fixed KL coefficient: the run\'s adaptive KL (targetKl) is not exported');
    const { max_steps: _steps, per_device_train_batch_size: _b, ...rest } = common;
    args = {
      ...rest,
      per_device_train_batch_size: perDevice,
      num_mini_batches: p.minibatches,
      total_episodes: p.steps * p.batchSize,
      num_ppo_epochs: p.epochs,
      kl_coef: p.klCoef,
      cliprange: p.cliprange,
      cliprange_value: p.cliprangeValue,
      vf_coef: p.vfCoef,
      gamma: p.gamma,
      lam: p.lam,
      response_length: p.maxNewTokens,
      temperature: p.temperature,
      stop_token: 'eos',
      sft_model_path: x.model,
      reward_model_path: x.rewardModel ?? 'REWARD_MODEL',
    };
  }
  const doc: Record<string, YamlValue> = {
    stage,
    model: x.model,
    ...(x.rewardModel !== undefined ? { reward_model: x.rewardModel } : {}),
    train_file: x.dataFile,
    // margin: whether the runner passes the rows' margin to RewardTrainer (the soft loss uses p_chosen instead)
    ...(x.strategy !== undefined ? { soft_labels: x.strategy, margin: x.margin && x.strategy !== 'soft' } : {}),
    config_class: configClass,
    args,
  };
  return `# TRL job for stage ${stage} of run ${input.manifest.runId}: read by runner.py. \`args\` are ${configClass} fields;\n# the runner leaves out (and reports) any field the installed TRL does not know.\n${toYaml(doc)}`;
}

interface OpenRlhfExtras {
  model: string;
  rewardModel: string | undefined;
  dataFile: string;
  margin: boolean;
  promptCount: number;
  microBatch: number;
  rows: number;
  ppo: RunConfig['stages']['ppo'];
}

/** OpenRLHF's command line for the stage, in the given flag table. */
function openrlhfArgv(table: FlagTable, stage: JobStage, h: Hyper, x: OpenRlhfExtras, warnings: string[]): string[] {
  if (!(Number.isInteger(x.microBatch) && x.microBatch >= 1)) throw new JobError(`microBatchSize must be a positive integer (got ${x.microBatch})`);
  const common = [
    ['savePath', 'output'],
    ['loggingSteps', 1],
    ['tensorboard', 'output/tensorboard'],
    ['zeroStage', 2],
    ['paramDtype', 'bf16'],
    ['seed', h.seed],
  ] as const;
  if (stage === 'sft' || stage === 'pm') {
    // OpenRLHF counts epochs, the run counted steps: enough epochs to see steps × batch rows
    const epochs = Math.max(1, Math.ceil((h.steps * h.batchSize) / Math.max(1, x.rows)));
    warnings.push(`OpenRLHF trains by epochs: ${h.steps} steps of ${h.batchSize} over ${x.rows} rows → ${epochs} epoch${epochs === 1 ? '' : 's'}`);
    const micro = Math.min(x.microBatch, h.batchSize);
    const data = stage === 'sft'
      ? ([['inputKey', 'input'], ['outputKey', 'output']] as const)
      : ([['promptKey', 'prompt'], ['chosenKey', 'chosen'], ['rejectedKey', 'rejected'], ['marginLoss', x.margin]] as const);
    return [
      'deepspeed',
      '--module',
      stage === 'sft' ? 'openrlhf.cli.train_sft' : 'openrlhf.cli.train_rm',
      ...openrlhfArgs(table, [
        ['pretrain', x.model],
        ['dataset', x.dataFile],
        ...data,
        ['applyChatTemplate', true],
        ['maxLen', h.maxLength],
        ['microBatch', micro],
        ['batch', h.batchSize],
        ['maxEpochs', epochs],
        ['lr', h.lr],
        ['gradientCheckpointing', true],
        ...common,
      ]),
    ];
  }
  const p = x.ppo;
  const episodes = Math.max(1, Math.ceil((p.steps * p.batchSize) / Math.max(1, x.promptCount)));
  warnings.push(`OpenRLHF counts episodes (passes over the prompts): ${p.steps} iterations of ${p.batchSize} rollouts over ${x.promptCount} prompts → ${episodes} episode${episodes === 1 ? '' : 's'}`);
  const trainBatch = Math.max(1, Math.floor(p.batchSize / p.minibatches));
  const promptLen = h.maxLength;
  const lens = table === 'flat'
    ? ([['promptMaxLen', promptLen], ['generateMaxLen', p.maxNewTokens]] as const)
    : ([['maxLen', promptLen + p.maxNewTokens], ['generateMaxLen', p.maxNewTokens]] as const);
  warnings.push('OpenRLHF PPO trains a separate critic: the run\'s vfCoef does not apply; the critic gets the policy\'s learning rate');
  return [
    'python3',
    '-m',
    'openrlhf.cli.train_ppo_ray',
    ...openrlhfArgs(table, [
      ['actorNodes', 1],
      ['actorGpus', 1],
      ['refNodes', 1],
      ['refGpus', 1],
      ['rewardNodes', 1],
      ['rewardGpus', 1],
      ['criticNodes', 1],
      ['criticGpus', 1],
      ['colocateAll', true],
      ['actorPretrain', x.model],
      ['rewardPretrain', x.rewardModel ?? 'REWARD_MODEL'],
      ['criticPretrain', x.rewardModel ?? 'REWARD_MODEL'],
      ['promptData', x.dataFile],
      ['inputKey', 'input'],
      ['applyChatTemplate', true],
      ...lens,
      ['rolloutBatch', p.batchSize],
      ['microRolloutBatch', Math.min(x.microBatch, p.batchSize)],
      ['samplesPerPrompt', 1],
      ['temperature', p.temperature],
      ['batch', trainBatch],
      ['microBatch', Math.min(x.microBatch, trainBatch)],
      ['maxEpochs', p.epochs],
      ['numEpisodes', episodes],
      ['actorLr', p.lr],
      ['criticLr', p.lr],
      ['initKlCoef', p.klCoef],
      ['klTarget', p.adaptiveKl ? p.targetKl : undefined],
      ['advantageEstimator', 'gae'],
      ['gamma', p.gamma],
      ['lambd', p.lam],
      ['epsClip', p.cliprange],
      ['valueClip', p.cliprangeValue],
      ...common,
    ]),
  ];
}
