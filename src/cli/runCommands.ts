// Commands that read run directories: `cai runs ls`, `cai inspect`, `cai export-dataset`,
// `cai export-job`.
// They only read (through RunDirectory's reader, which skips and reports a torn last line).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportPair } from '../core/runs/pairs';
import type { Manifest, PairRecord } from '../core/runs/records';
import { JobError, JOB_ENGINES, JOB_STAGES, type JobEngine, type JobOptions, type JobStage, type SoftLabelStrategy } from '../core/scaleout/exportJob';
import { RunFileError } from '../node/runDir';
import { writeJobFolder } from '../node/scaleout/jobFolder';
import { reviewStatuses } from '../node/reviews';
import { REVIEWS } from '../node/runReader';
import { CliError, parse, UsageError } from './args';
import type { Command } from './commands';
import { oracleResults } from './report';

const out = (s: string): void => void process.stdout.write(`${s}\n`);

function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'manifest.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`${dir}: not a run directory (no manifest.json)`, 2);
  }
  try {
    return JSON.parse(text) as Manifest;
  } catch (e) {
    throw new CliError(`${file}: ${(e as Error).message}`);
  }
}

/** Records of a run file; a torn last line is skipped (and counted), any other bad line is an error. */
function readRecords<T>(dir: string, file: string): { records: T[]; torn: boolean } {
  const p = path.join(dir, file);
  if (!fs.existsSync(p)) return { records: [], torn: false };
  const lines = fs.readFileSync(p, 'utf8').split('\n');
  const records: T[] = [];
  let torn = false;
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    try {
      records.push(JSON.parse(l) as T);
    } catch {
      const last = lines.slice(i + 1).every((x) => !x.trim());
      if (!last) throw new CliError(`${p}:${i + 1}: not valid JSON`);
      torn = true;
    }
  });
  return { records, torn };
}

function findRuns(root: string, depth = 3): string[] {
  const found: string[] = [];
  const walk = (dir: string, d: number): void => {
    if (fs.existsSync(path.join(dir, 'manifest.json'))) {
      found.push(dir);
      return;
    }
    if (d === 0) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') walk(path.join(dir, e.name), d - 1);
  };
  walk(root, depth);
  return found.sort();
}

interface RunSummary {
  dir: string;
  runId: string;
  createdAt: string;
  stages: Record<string, string>;
  counts: Record<string, number>;
  headline: Record<string, number>;
  tornLines: string[];
}

function summarise(dir: string): RunSummary {
  const m = readManifest(dir);
  const counts: Record<string, number> = {};
  const tornLines: string[] = [];
  for (const f of ['revisions.jsonl', 'samples.jsonl', 'pairs.jsonl', 'metrics.jsonl']) {
    const r = readRecords(dir, f);
    counts[f.replace('.jsonl', '')] = r.records.length;
    if (r.torn) tornLines.push(f);
  }
  const headline: Record<string, number> = {};
  const pairs = readRecords<PairRecord>(dir, 'pairs.jsonl').records;
  if (pairs.length) {
    headline['mean_p_a'] = pairs.reduce((a, p) => a + p.p_a, 0) / pairs.length;
    headline['flip_rate'] = pairs.filter((p) => p.flipped).length / pairs.length;
  }
  const metrics = readRecords<Record<string, unknown>>(dir, 'metrics.jsonl').records;
  const last = (stage: string, key: string): void => {
    const rows = metrics.filter((x) => x['stage'] === stage && typeof x[key] === 'number');
    if (rows.length) headline[`${stage}_${key}`] = rows[rows.length - 1]![key] as number;
  };
  last('sft', 'loss');
  last('pm', 'loss');
  last('ppo', 'objective/scores');
  last('ppo', 'objective/kl');
  const evalFile = path.join(dir, 'eval.json');
  if (fs.existsSync(evalFile)) {
    try {
      const e = JSON.parse(fs.readFileSync(evalFile, 'utf8')) as { preference_model?: Record<string, { accuracy?: number }> };
      for (const [k, v] of Object.entries(e.preference_model ?? {})) if (typeof v.accuracy === 'number') headline[`pm_accuracy_${k}`] = v.accuracy;
      const oracle = oracleResults(e);
      if (oracle) {
        for (const [k, p] of Object.entries(oracle.policies)) {
          headline[`${k}_harmless_rate`] = p.harmless_rate;
          headline[`${k}_evasive_rate`] = p.evasive_rate;
          headline[`${k}_benign_helpfulness`] = p.benign_helpfulness;
        }
        if (oracle.ai_label_agreement !== null) headline['ai_label_agreement'] = oracle.ai_label_agreement;
      }
    } catch (err) {
      throw new CliError(`${evalFile}: ${(err as Error).message}`);
    }
  }
  return { dir, runId: m.runId, createdAt: m.createdAt, stages: Object.fromEntries(Object.entries(m.stages).map(([k, v]) => [k, v.status])), counts, headline, tornLines };
}

const runsCmd: Command = {
  summary: 'List the run directories under a folder (default: ./runs) with the status of each stage.',
  usage: 'cai runs ls [DIR] [--json]',
  run(args, cwd) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } }, this.usage);
    if (positionals[0] !== 'ls') throw new UsageError(`say what to do with runs: ls — usage: ${this.usage}`);
    const root = path.resolve(cwd, positionals[1] ?? 'runs');
    if (!fs.existsSync(root)) throw new CliError(`${positionals[1] ?? 'runs'}: no such folder`, 2);
    const runs = findRuns(root).map(summarise);
    if (values['json']) out(JSON.stringify(runs.map((r) => ({ dir: r.dir, runId: r.runId, createdAt: r.createdAt, stages: r.stages }))));
    else if (runs.length === 0) out(`no runs under ${root}`);
    else for (const r of runs) out(`${r.runId}  ${r.createdAt}  ${Object.entries(r.stages).map(([k, v]) => `${k}:${v}`).join(' ')}  ${path.relative(cwd, r.dir) || '.'}`);
    return 0;
  },
};

const inspectCmd: Command = {
  summary: 'Show a run: the status of each stage, record counts and headline metrics.',
  usage: 'cai inspect RUN_DIR [--json]',
  run(args, cwd) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } }, this.usage);
    if (!positionals[0]) throw new UsageError(`no run directory given — usage: ${this.usage}`);
    const s = summarise(path.resolve(cwd, positionals[0]));
    if (values['json']) out(JSON.stringify(s));
    else {
      out(`${s.runId} (${s.createdAt})`);
      for (const [k, v] of Object.entries(s.stages)) out(`  ${k.padEnd(9)} ${v}`);
      out(`  records: ${Object.entries(s.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      for (const [k, v] of Object.entries(s.headline)) out(`  ${k}: ${Number.isInteger(v) ? v : v.toFixed(4)}`);
      if (s.tornLines.length) out(`  torn last line skipped in: ${s.tornLines.join(', ')}`);
    }
    return 0;
  },
};

const exportDatasetCmd: Command = {
  summary: 'Write a run\'s labelled pairs for other trainers: TRL preference rows, or HH-RLHF transcripts (human reviews applied).',
  usage: 'cai export-dataset RUN_DIR --format trl|hh -o FILE [--force]',
  async run(args, cwd) {
    const { values, positionals } = parse(args, { format: { type: 'string' }, o: { type: 'string', short: 'o' }, force: { type: 'boolean' } }, this.usage);
    const dir = positionals[0];
    const format = values['format'];
    const target = values['o'];
    if (!dir || (format !== 'trl' && format !== 'hh') || typeof target !== 'string') throw new UsageError(`usage: ${this.usage}`);
    const runDir = path.resolve(cwd, dir);
    readManifest(runDir);
    const file = path.resolve(cwd, target);
    if (fs.existsSync(file) && !values['force']) throw new CliError(`${target} exists (use --force to replace it)`, 2);
    const { records } = readRecords<PairRecord>(runDir, 'pairs.jsonl');
    // reviews.jsonl: the latest decision per pair; lines that are not review records are reported and skipped
    const reviews = await reviewStatuses(runDir);
    if (reviews.bad.length) process.stderr.write(`${REVIEWS}: ${reviews.bad.length} unreadable ${reviews.bad.length === 1 ? 'line' : 'lines'} skipped (line ${reviews.bad[0]!.line}: ${reviews.bad[0]!.error})\n`);
    const rows: string[] = [];
    const n = { ties: 0, flagged: 0, invalid: 0, flipped: 0, accepted: 0 };
    for (const p of records) {
      const status = reviews.statuses.get(p.id);
      const r = exportPair(p, status, format);
      if ('skipped' in r) {
        if (r.skipped === 'tie') n.ties++;
        else if (r.skipped === 'flagged') n.flagged++;
        else n.invalid++;
        continue;
      }
      if (status === 'flip') n.flipped++;
      else if (status === 'accept') n.accepted++;
      rows.push(JSON.stringify(r.row));
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, rows.length ? `${rows.join('\n')}\n` : '');
    const left = [
      n.ties ? `${n.ties} with P(A) = 0.5` : '',
      n.flagged ? `${n.flagged} flagged in review` : '',
      n.invalid ? `${n.invalid} without a numeric P(A)` : '',
    ].filter(Boolean);
    const reviewed = [n.flipped ? `${n.flipped} flipped` : '', n.accepted ? `${n.accepted} accepted` : ''].filter(Boolean);
    process.stderr.write(`${rows.length} pairs written to ${target}${left.length ? ` (${left.join(', ')} left out)` : ''}${reviewed.length ? `; reviews applied: ${reviewed.join(', ')}` : ''}\n`);
    return 0;
  },
};

/** The flags `cai export-job` and `cai submit` share: which stage for which engine, and the export's options. */
export const JOB_FLAGS = {
  engine: { type: 'string' }, stage: { type: 'string' }, model: { type: 'string' }, 'reward-model': { type: 'string' },
  'soft-labels': { type: 'string' }, copies: { type: 'string' }, threshold: { type: 'string' }, 'openrlhf-version': { type: 'string' }, 'max-length': { type: 'string' },
} as const;
export const JOB_FLAGS_USAGE = '--engine trl|openrlhf --stage sft|pm|ppo [--model ID] [--reward-model PATH] [--soft-labels soft|duplicate|threshold] [--copies K] [--threshold P] [--openrlhf-version V] [--max-length N]';

/** Engine, stage and export options from parsed JOB_FLAGS; a UsageError names a bad one. */
export function jobFlags(values: Record<string, unknown>): { engine: JobEngine; stage: JobStage; options: Omit<JobOptions, 'runner'> } {
  const engine = values['engine'] as JobEngine | undefined;
  const stage = values['stage'] as JobStage | undefined;
  if (!engine || !JOB_ENGINES.includes(engine)) throw new UsageError(`--engine must be ${JOB_ENGINES.join(' or ')}`);
  if (!stage || !JOB_STAGES.includes(stage)) throw new UsageError(`--stage must be ${JOB_STAGES.join(', ')}`);
  const soft = values['soft-labels'] as SoftLabelStrategy | undefined;
  if (soft !== undefined && !['soft', 'duplicate', 'threshold'].includes(soft)) throw new UsageError('--soft-labels must be soft, duplicate or threshold');
  const number = (name: string): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got '${String(v)}')`);
    return n;
  };
  const copies = number('copies');
  const threshold = number('threshold');
  const maxLength = number('max-length');
  const options: Omit<JobOptions, 'runner'> = {
    ...(typeof values['model'] === 'string' ? { model: values['model'] } : {}),
    ...(typeof values['reward-model'] === 'string' ? { rewardModel: values['reward-model'] } : {}),
    ...(soft ? { softLabels: soft } : {}),
    ...(copies !== undefined ? { copies } : {}),
    ...(threshold !== undefined ? { threshold } : {}),
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...(typeof values['openrlhf-version'] === 'string' ? { openrlhfVersion: values['openrlhf-version'] } : {}),
  };
  return { engine, stage, options };
}

/** resources/scaleout/runner.py beside the built CLI (in the repository and in the installed extension). */
export function runnerPath(): string {
  return path.join(path.dirname(__dirname), 'resources', 'scaleout', 'runner.py');
}

/** An export that cannot be made (JobError, a damaged run file) as the CLI's one-line error. */
export function exportError(dir: string, e: unknown): unknown {
  if (e instanceof JobError) return new CliError(`${dir}: ${e.message}`, 2);
  if (e instanceof RunFileError) return new CliError(e.message);
  if (e instanceof Error && /exists and is not empty/.test(e.message)) return new CliError(e.message, 2);
  return e;
}

const exportJobCmd: Command = {
  summary: 'Write one stage of a run as a self-contained job folder for Hugging Face TRL or OpenRLHF (data, config or command line, pinned packages, hashes).',
  usage: `cai export-job RUN_DIR ${JOB_FLAGS_USAGE} -o DIR [--force]`,
  async run(args, cwd) {
    const { values, positionals } = parse(args, { ...JOB_FLAGS, o: { type: 'string', short: 'o' }, force: { type: 'boolean' } }, this.usage);
    const dir = positionals[0];
    const target = values['o'];
    if (!dir || typeof target !== 'string') throw new UsageError(`usage: ${this.usage}`);
    const { engine, stage, options } = jobFlags(values);
    const runDir = path.resolve(cwd, dir);
    readManifest(runDir);
    let written;
    try {
      written = await writeJobFolder({ runDir, engine, stage, runnerFile: runnerPath(), outDir: path.resolve(cwd, target), force: values['force'] === true, options });
    } catch (e) {
      throw exportError(dir, e);
    }
    for (const n of written.notes) process.stderr.write(`${n}\n`);
    for (const w of written.job.warnings) process.stderr.write(`warning: ${w}\n`);
    const m = written.job.manifest;
    process.stderr.write(`${engine} ${stage} job written to ${target}: ${m.data.rows} rows in ${m.data.file}${m.softLabels ? ` (soft labels: ${m.softLabels.strategy})` : ''}; start it with ${m.launch.script}\n`);
    return 0;
  },
};

export const RUN_COMMANDS: Record<string, Command> = { runs: runsCmd, inspect: inspectCmd, 'export-dataset': exportDatasetCmd, 'export-job': exportJobCmd };
