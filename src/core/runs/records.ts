// What a run directory holds: one record type per append-only JSONL file, the manifest, and the
// stable ids that let a resumed run skip what it already wrote. docs/run-format.md describes the
// files; src/trainer/runDir.ts reads and writes them.

import type { RunConfig, StageName } from './config.js';

/** Every record of every JSONL file has a stable id: the same input gives the same id on resume. */
export interface RunRecord {
  id: string;
}

export interface RevisionRound {
  /** 1-based. */
  round: number;
  /** Id of the principle drawn for this round. */
  principle: string;
  critique_request: string;
  /** Empty for direct revision (no critique written). */
  critique: string;
  revision_request: string;
  revision: string;
}

/** `revisions.jsonl`: one red-team prompt through its critique → revision rounds. */
export interface RevisionRecord extends RunRecord {
  prompt_id: string;
  prompt: string;
  initial_response: string;
  rounds: RevisionRound[];
  /** The last round's revision (the initial response when there were no rounds). */
  final: string;
}

/** How a pair's label was made: log-probabilities scored exactly, read from top-logprobs, sampled, chain of thought, or a human label. */
export type LabelMethod = 'exact' | 'top-logprobs' | 'sampled' | 'cot' | 'human';

/** `pairs.jsonl`: two responses to one prompt with the feedback model's soft label. */
export interface PairRecord extends RunRecord {
  prompt_id?: string;
  prompt: string;
  response_a: string;
  response_b: string;
  /** Id of the comparison principle drawn for this label. */
  principle: string;
  /** P(A is better), the label used for training: the mean of both orders when both were asked (after clamping, for chain of thought). */
  p_a: number;
  /** P(A) with A shown first. */
  p_a_forward: number;
  /** P(A) with A shown second (already mapped back to A), or null when only one order was asked. */
  p_a_reversed: number | null;
  /** The preferred position changed when the responses were swapped (both orders prefer the same response); false: the same letter both times (position bias), or one order only. */
  flipped: boolean;
  label_method: LabelMethod;
  /** Chain-of-thought text, when used. */
  reasoning?: string;
}

/** `metrics.jsonl`: one row per logged step; metric names are fields (TRL names for PPO, e.g. `objective/kl`). */
export interface MetricRecord extends RunRecord {
  stage: StageName;
  step: number;
  /** Milliseconds since the epoch. */
  time?: number;
  [metric: string]: string | number | null | undefined;
}

/** `samples.jsonl`: generations worth browsing (PPO rollouts, eval answers) by stage and step. */
export interface SampleRecord extends RunRecord {
  stage: StageName;
  step: number;
  prompt_id?: string;
  prompt: string;
  response: string;
  /** Preference-model score (the reward before the KL penalty), when scored. */
  score?: number;
  [extra: string]: unknown;
}

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

/** `events.jsonl`: what happened and when: stage start/end, resume, torn lines, budget stops, errors. */
export interface EventRecord extends RunRecord {
  /** ISO 8601. */
  time: string;
  level: EventLevel;
  /** e.g. `stage-start`, `stage-done`, `stage-failed`, `resume`, `torn-line`, `budget-exhausted`. */
  kind: string;
  stage?: StageName;
  message: string;
  data?: Record<string, unknown>;
}

/** The JSONL files of a run directory and the record each holds. */
export interface RunRecordFiles {
  'revisions.jsonl': RevisionRecord;
  'pairs.jsonl': PairRecord;
  'metrics.jsonl': MetricRecord;
  'samples.jsonl': SampleRecord;
  'events.jsonl': EventRecord;
}
export type RunFileName = keyof RunRecordFiles;
export const RUN_FILES: readonly RunFileName[] = ['revisions.jsonl', 'pairs.jsonl', 'metrics.jsonl', 'samples.jsonl', 'events.jsonl'];

export type StageStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StageState {
  status: StageStatus;
  /** ISO 8601. */
  startedAt?: string;
  finishedAt?: string;
  /** Seed this stage used (derived from the run seed). */
  seed?: number;
  /** Why it failed. */
  error?: string;
  /** Stage-specific progress, e.g. `{records: 8}` or `{step: 40, checkpoint: "checkpoints/sft-40"}`. */
  [extra: string]: unknown;
}

export const MANIFEST_VERSION = 1;

/** `manifest.json`: everything needed to know what a run is and to resume it. */
export interface Manifest {
  manifestVersion: typeof MANIFEST_VERSION;
  /** `<name>-<yyyymmdd-hhmmss>` by default; the directory's name. */
  runId: string;
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
  /** The run file as given (path) and the full configuration, defaults filled. */
  configFile: string;
  config: RunConfig;
  constitution: {
    path: string;
    /** SHA-256 (hex) of `snapshot`. */
    sha256: string;
    /** The constitution file's text when the run started. */
    snapshot: string;
  };
  versions: { studio: string; node?: string; tfjs?: string; [name: string]: string | undefined };
  /** The backend asked for and the one used; `adapter` is the GPU adapter of a webgpu run. */
  backend: { requested: string; used?: string; reason?: string; adapter?: { vendor: string; architecture: string; device: string; description: string; software: boolean } };
  seeds: { run: number } & Partial<Record<StageName, number>>;
  git?: { commit: string; dirty?: boolean };
  stages: Record<StageName, StageState>;
  /** Provider requests and generated tokens used so far, over every session of the run (see `budgets`). */
  budgetUsed?: { requests: number; tokens: number };
  /** Set on a run that is one stage of another run trained on a cluster (`cai submit`, docs/scaleout.md). */
  remote?: RemoteJob;
}

/** A stage of a run handed to TRL or OpenRLHF as a Ray job, and what came back. */
export interface RemoteJob {
  /** Ray dashboard address, `http(s)://host:8265`. */
  cluster: string;
  /** The cluster profile it was submitted with (the extension's `constitution.clusters`), if any. */
  profile?: string;
  submissionId: string;
  engine: 'trl' | 'openrlhf';
  stage: 'sft' | 'pm' | 'ppo';
  /** The run the job was exported from: its id and directory (absolute when submitted). */
  source: { runId: string; dir: string };
  /** The uploaded working_dir package (`gcs://_ray_pkg_<sha1>.zip`). */
  packageUri: string;
  entrypoint: string;
  submittedAt: string;
  /** Ray's job status (PENDING, RUNNING, STOPPED, SUCCEEDED, FAILED) as last seen, and its message. */
  status: string;
  message?: string;
  /** Where the job copies its output folder ($CAI_SYNC_TARGET): a shared path or an s3:// URI. */
  syncTarget?: string;
  /** When the artefacts were last pulled into `artifacts/`, and the checkpoints found there. */
  pulledAt?: string;
  checkpoints?: { path: string; step?: number; kind: string; remote?: string }[];
  /** Why the last pull failed (cleared by a successful one). */
  pullError?: string;
}

// ---------------------------------------------------------------------------------------------
// Stable ids.

/** UTF-8 bytes of a string (src/core has no TextEncoder). Lone surrogates are encoded as U+FFFD. */
function utf8(s: string, out: number[]): void {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
}

/** 64-bit FNV-1a of bytes, as 16 hex digits. */
export function fnv1a64(bytes: readonly number[]): string {
  // the 64-bit state as two 32-bit halves; prime 0x100000001b3 = 2^40 + 0x1b3
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const b of bytes) {
    lo = (lo ^ b) >>> 0;
    const a = lo * 0x1b3; // < 2^41: exact in a double
    const carry = Math.floor(a / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = a >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/**
 * A stable id made from the parts that identify a record (e.g. `['pair', promptId, '0', '1']`):
 * 64-bit FNV-1a of their UTF-8 bytes with a 0xFF byte (never in UTF-8) between parts, so
 * `['a', 'bc']` and `['ab', 'c']` differ. 16 hex digits.
 */
export function recordId(parts: readonly string[]): string {
  const bytes: number[] = [];
  parts.forEach((p, i) => {
    if (i > 0) bytes.push(0xff);
    utf8(p, bytes);
  });
  return fnv1a64(bytes);
}
