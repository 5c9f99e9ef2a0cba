// A run's stage as a job folder on disk (`cai export-job`, `cai submit`, the extension's Submit Run
// to Cluster…), and that folder as the zip archive a Ray cluster takes as its working_dir.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yazl from 'yazl';
import type { Manifest, PairRecord, RevisionRecord } from '../../core/runs/records';
import { buildJob, type JobEngine, type JobOptions, type JobOutput, type JobStage } from '../../core/scaleout/exportJob';
import { nodeHashing } from '../jobHashing';
import { reviewStatuses } from '../reviews';
import { REVIEWS } from '../runReader';
import { RunDirectory } from '../runDir';

export interface WriteJobInput {
  runDir: string;
  engine: JobEngine;
  stage: JobStage;
  options?: Omit<JobOptions, 'runner'>;
  /** resources/scaleout/runner.py of the installation (copied into TRL jobs). */
  runnerFile: string;
  /** Where the job folder goes; it must not exist or be empty unless `force`. */
  outDir: string;
  force?: boolean;
}

export interface WrittenJob {
  job: JobOutput;
  /** Lines worth telling the user: unreadable review lines and torn last lines that were skipped. */
  notes: string[];
}

/** Reads the run (manifest, revisions, pairs, reviews), builds the job and writes its files. Throws JobError for a run that cannot make this job. */
export async function writeJobFolder(input: WriteJobInput): Promise<WrittenJob> {
  const { runDir, outDir } = input;
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0 && !input.force) throw new Error(`${outDir} exists and is not empty (use --force to write into it)`);
  const run = RunDirectory.open(runDir);
  const manifest: Manifest = run.readManifest();
  const notes: string[] = [];
  const revisions = run.read<RevisionRecord>('revisions.jsonl');
  const pairs = run.read<PairRecord>('pairs.jsonl');
  for (const [file, r] of [['revisions.jsonl', revisions], ['pairs.jsonl', pairs]] as const) {
    if (r.tornLine) notes.push(`${file}: the unfinished last line ${r.tornLine.line} was left out`);
  }
  const reviews = await reviewStatuses(runDir);
  if (reviews.bad.length) notes.push(`${REVIEWS}: ${reviews.bad.length} unreadable ${reviews.bad.length === 1 ? 'line' : 'lines'} skipped (line ${reviews.bad[0]!.line}: ${reviews.bad[0]!.error})`);
  const job = buildJob({
    manifest, engine: input.engine, stage: input.stage, hashing: nodeHashing, reviews: reviews.statuses,
    revisions: revisions.records, pairs: pairs.records,
    options: { ...input.options, ...(fs.existsSync(input.runnerFile) ? { runner: fs.readFileSync(input.runnerFile, 'utf8') } : {}) },
  });
  for (const [rel, content] of job.files) {
    const file = path.join(outDir, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    if (rel.endsWith('.sh')) fs.chmodSync(file, 0o755);
  }
  return { job, notes };
}

/** Every regular file under dir, as '/'-separated relative paths in sorted order (links are not followed). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk('');
  return out;
}

/** A fixed entry time, so the same folder always zips to the same bytes (and Ray's content-addressed package is reused). */
const ZIP_TIME = new Date(Date.UTC(2020, 0, 1));

/**
 * The folder as a zip whose entries sit at its root (Ray unpacks a working_dir package as the
 * job's current folder), in sorted order with fixed times and each file's mode, so equal folders
 * give equal bytes. Deflated; an archive of 100 MiB or more is refused (Ray's package limit).
 */
export async function zipFolder(dir: string, maxBytes = 100 * 1024 * 1024): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const rel of listFiles(dir)) {
    const file = path.join(dir, ...rel.split('/'));
    const mode = fs.statSync(file).mode & 0o777;
    zip.addBuffer(fs.readFileSync(file), rel, { mtime: ZIP_TIME, mode: 0o100000 | mode, compress: true });
  }
  zip.end();
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    zip.outputStream.on('end', resolve);
    zip.outputStream.on('error', reject);
  });
  if (size >= maxBytes) throw new Error(`${dir}: the job package is ${(size / 1048576).toFixed(1)} MiB; Ray takes working_dir packages under ${Math.round(maxBytes / 1048576)} MiB (put large data on shared storage)`);
  return Buffer.concat(chunks, size);
}
