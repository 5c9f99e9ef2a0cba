// Dataset loaders for runs (docs/run-config.md, "Datasets"): prompts, comparison pairs (HH-RLHF
// transcripts or {prompt, chosen, rejected}) and Q&A answers with votes for preference-model
// pretraining. Files are JSONL, a JSON array, or plain text (prompts, one a line), optionally
// gzip-compressed. Malformed records are errors naming file:line and the field; well-formed
// records that cannot be used (an empty response, a duplicate) are skipped and listed.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { DatasetFormat } from '../core/runs/config.js';
import { recordId } from '../core/runs/records.js';

export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${message}` : `${file}: ${message}`);
    this.name = 'DatasetError';
  }
}

export interface LoadOptions {
  /** Keep at most this many items (the first usable ones). */
  limit?: number;
  /** How to read records; absent: detected from the first record. */
  format?: DatasetFormat;
}

export interface Skipped {
  line: number;
  reason: string;
}

export interface Loaded<T> {
  items: T[];
  skipped: Skipped[];
  /** The format the file was read as. */
  format: DatasetFormat;
}

export interface PromptItem {
  /** Stable: from the prompt's text (or the record's own `id`). */
  id: string;
  prompt: string;
  /** 1-based line (JSONL/text) or 1-based array index (JSON). */
  line: number;
}

export interface PairItem {
  id: string;
  /** For HH transcripts: the shared conversation up to and including the last "\n\nAssistant:". */
  prompt: string;
  /** The better response (for HH: the rest of the `chosen` transcript, leading space kept). */
  chosen: string;
  rejected: string;
  line: number;
}

export interface QaAnswer {
  text: string;
  votes: number;
  accepted?: boolean;
}

export interface PmpPair {
  id: string;
  question: string;
  better: string;
  worse: string;
  betterScore: number;
  worseScore: number;
  line: number;
}

interface RawRecord {
  value: unknown;
  line: number;
}

/** The text of a file, gunzipped when it ends in `.gz`, without a byte-order mark. */
export function readDatasetText(file: string): string {
  let buf = fs.readFileSync(file);
  if (/\.gz$/i.test(file)) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new DatasetError(file, 0, `not a valid gzip file (${(e as Error).message})`);
    }
  }
  return buf.toString('utf8').replace(/^\uFEFF/, '');
}

/** `.json` → a JSON array; `.txt` → one string per line; anything else → JSONL. */
function readRecords(file: string): RawRecord[] {
  const text = readDatasetText(file);
  const base = path.basename(file).replace(/\.gz$/i, '').toLowerCase();
  if (base.endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new DatasetError(file, 0, `not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(data)) throw new DatasetError(file, 0, 'a .json dataset must be an array of records');
    return data.map((value, i) => ({ value, line: i + 1 }));
  }
  const lines = text.split(/\r?\n/);
  const out: RawRecord[] = [];
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    if (base.endsWith('.txt')) {
      out.push({ value: l.trim(), line: i + 1 });
      return;
    }
    try {
      out.push({ value: JSON.parse(l), line: i + 1 });
    } catch (e) {
      throw new DatasetError(file, i + 1, `not valid JSON (${(e as Error).message})`);
    }
  });
  return out;
}

/** The format a record looks like. */
export function detectRecordFormat(value: unknown): DatasetFormat | undefined {
  if (typeof value === 'string') return 'prompts';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  if ('question' in o && 'answers' in o) return 'qa-votes';
  if ('chosen' in o && 'rejected' in o) return 'prompt' in o ? 'pairs' : 'hh';
  if ('prompt' in o || 'text' in o) return 'prompts';
  return undefined;
}

/** Reads a file's first record and says which format it is in. */
export function detectFormat(file: string): DatasetFormat {
  const first = readRecords(file)[0];
  if (!first) throw new DatasetError(file, 0, 'the file holds no records');
  const f = detectRecordFormat(first.value);
  if (!f) throw new DatasetError(file, first.line, 'cannot tell the format from this record: expected a string, {prompt}, {text}, {chosen, rejected}, {prompt, chosen, rejected} or {question, answers}');
  return f;
}

function formatOf(file: string, records: RawRecord[], wanted: DatasetFormat | undefined): DatasetFormat {
  if (wanted) return wanted;
  const first = records[0];
  if (!first) return 'prompts';
  const f = detectRecordFormat(first.value);
  if (!f) throw new DatasetError(file, first.line, 'cannot tell the format from this record: expected a string, {prompt}, {text}, {chosen, rejected}, {prompt, chosen, rejected} or {question, answers}');
  return f;
}

const HUMAN = '\n\nHuman:';
const ASSISTANT = '\n\nAssistant:';

/** The first human turn of an HH transcript ("\n\nHuman: … \n\nAssistant: …"), trimmed. */
export function firstHumanTurn(transcript: string): string | undefined {
  const h = transcript.indexOf(HUMAN);
  if (h < 0) return undefined;
  const start = h + HUMAN.length;
  const ends = [transcript.indexOf(ASSISTANT, start), transcript.indexOf(HUMAN, start)].filter((i) => i >= 0);
  const end = ends.length ? Math.min(...ends) : transcript.length;
  return transcript.slice(start, end).trim();
}

/**
 * Splits an HH comparison into the shared conversation (up to and including the last
 * "\n\nAssistant:" both transcripts have in common) and the two final responses.
 */
export function splitHhPair(chosen: string, rejected: string): { prompt: string; chosen: string; rejected: string } | undefined {
  let n = 0;
  const max = Math.min(chosen.length, rejected.length);
  while (n < max && chosen.charCodeAt(n) === rejected.charCodeAt(n)) n++;
  // the marker must lie wholly inside the common prefix
  const k = chosen.lastIndexOf(ASSISTANT, n - ASSISTANT.length);
  if (k < 0 || n < ASSISTANT.length) return undefined;
  const cut = k + ASSISTANT.length;
  return { prompt: chosen.slice(0, cut), chosen: chosen.slice(cut), rejected: rejected.slice(cut) };
}

function field(file: string, r: RawRecord, o: Record<string, unknown>, key: string, where = key): string {
  const v = o[key];
  if (typeof v !== 'string') throw new DatasetError(file, r.line, `\`${where}\` must be text (got ${v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 40)})`);
  return v;
}

function asObject(file: string, r: RawRecord, what: string): Record<string, unknown> {
  if (typeof r.value !== 'object' || r.value === null || Array.isArray(r.value)) throw new DatasetError(file, r.line, `expected ${what}, got ${Array.isArray(r.value) ? 'a list' : JSON.stringify(r.value)?.slice(0, 40)}`);
  return r.value as Record<string, unknown>;
}

/**
 * Prompts from strings, `{prompt}` or `{text}` objects (an `id` field is kept), HH transcripts
 * (`{chosen, rejected}`: the first human turn), or plain text lines. Duplicate and empty
 * prompts are skipped.
 */
export function loadPrompts(file: string, opts: LoadOptions = {}): Loaded<PromptItem> {
  const records = readRecords(file);
  const format = formatOf(file, records, opts.format);
  if (format !== 'prompts' && format !== 'hh') throw new DatasetError(file, 0, `prompts are read from the prompts or hh formats, not ${format}`);
  const items: PromptItem[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    if (opts.limit !== undefined && items.length >= opts.limit) break;
    let prompt: string;
    let ownId: string | undefined;
    if (format === 'hh') {
      const o = asObject(file, r, 'an object with `chosen` and `rejected`');
      const t = firstHumanTurn(field(file, r, o, 'chosen'));
      if (t === undefined) throw new DatasetError(file, r.line, '`chosen` has no "\\n\\nHuman:" turn');
      prompt = t;
    } else if (typeof r.value === 'string') prompt = r.value;
    else {
      const o = asObject(file, r, 'a string or an object with `prompt` or `text`');
      const key = 'prompt' in o ? 'prompt' : 'text' in o ? 'text' : undefined;
      if (!key) throw new DatasetError(file, r.line, 'the record has neither `prompt` nor `text`');
      prompt = field(file, r, o, key);
      if (o.id !== undefined) {
        if (typeof o.id !== 'string' && typeof o.id !== 'number') throw new DatasetError(file, r.line, '`id` must be text or a number');
        ownId = String(o.id);
      }
    }
    prompt = prompt.trim();
    if (prompt === '') {
      skipped.push({ line: r.line, reason: 'empty prompt' });
      continue;
    }
    const id = ownId ?? recordId(['prompt', prompt]);
    if (seen.has(id)) {
      skipped.push({ line: r.line, reason: 'duplicate prompt' });
      continue;
    }
    seen.add(id);
    items.push({ id, prompt, line: r.line });
  }
  return { items, skipped, format };
}

/**
 * Comparison pairs from HH transcripts `{chosen, rejected}` (split with splitHhPair) or from
 * `{prompt, chosen, rejected}`. Pairs with an empty or identical response are skipped.
 */
export function loadPairs(file: string, opts: LoadOptions = {}): Loaded<PairItem> {
  const records = readRecords(file);
  const format = formatOf(file, records, opts.format);
  if (format !== 'hh' && format !== 'pairs') throw new DatasetError(file, 0, `pairs are read from the hh or pairs formats, not ${format}`);
  const items: PairItem[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    if (opts.limit !== undefined && items.length >= opts.limit) break;
    const o = asObject(file, r, format === 'hh' ? 'an object with `chosen` and `rejected`' : 'an object with `prompt`, `chosen` and `rejected`');
    let pair: { prompt: string; chosen: string; rejected: string };
    if (format === 'hh') {
      const c = field(file, r, o, 'chosen');
      const rj = field(file, r, o, 'rejected');
      const split = splitHhPair(c, rj);
      if (!split) throw new DatasetError(file, r.line, '`chosen` and `rejected` share no "\\n\\nAssistant:" turn to split the conversation at');
      pair = split;
    } else {
      pair = { prompt: field(file, r, o, 'prompt'), chosen: field(file, r, o, 'chosen'), rejected: field(file, r, o, 'rejected') };
    }
    if (pair.prompt.trim() === '') {
      skipped.push({ line: r.line, reason: 'empty prompt' });
      continue;
    }
    if (pair.chosen.trim() === '' || pair.rejected.trim() === '') {
      skipped.push({ line: r.line, reason: `empty ${pair.chosen.trim() === '' ? 'chosen' : 'rejected'} response` });
      continue;
    }
    if (pair.chosen.trim() === pair.rejected.trim()) {
      skipped.push({ line: r.line, reason: 'chosen and rejected are the same' });
      continue;
    }
    const id = recordId(['pair', pair.prompt, pair.chosen, pair.rejected]);
    if (seen.has(id)) {
      skipped.push({ line: r.line, reason: 'duplicate pair' });
      continue;
    }
    seen.add(id);
    items.push({ id, ...pair, line: r.line });
  }
  return { items, skipped, format };
}

/**
 * The preference-model-pretraining score of an answer (Askell et al. 2021, as summarised in
 * RLAIF-REFERENCE.md): round(log2(1 + votes)), plus 1 if the asker accepted it; an answer whose
 * votes are negative scores −1 whatever else holds.
 */
export function pmpScore(votes: number, accepted = false): number {
  if (votes < 0) return -1;
  return Math.round(Math.log2(1 + votes)) + (accepted ? 1 : 0);
}

/**
 * Q&A answers with votes, binarised for preference-model pretraining: every two answers to the
 * same question whose scores differ make a pair, the better one first. Records:
 * `{question, answers: [{text, votes, accepted?}]}`.
 */
export function loadQaVotes(file: string, opts: LoadOptions & { maxPairsPerQuestion?: number } = {}): Loaded<PmpPair> {
  const records = readRecords(file);
  const format = formatOf(file, records, opts.format);
  if (format !== 'qa-votes') throw new DatasetError(file, 0, `Q&A votes are read from the qa-votes format, not ${format}`);
  const items: PmpPair[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    if (opts.limit !== undefined && items.length >= opts.limit) break;
    const o = asObject(file, r, 'an object with `question` and `answers`');
    const question = field(file, r, o, 'question').trim();
    const answers = o.answers;
    if (!Array.isArray(answers)) throw new DatasetError(file, r.line, '`answers` must be a list of {text, votes, accepted?}');
    const scored = answers.map((a, i) => {
      if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new DatasetError(file, r.line, `\`answers[${i}]\` must be an object {text, votes, accepted?}`);
      const ao = a as Record<string, unknown>;
      const text = field(file, r, ao, 'text', `answers[${i}].text`);
      const votes = ao.votes;
      if (typeof votes !== 'number' || !Number.isInteger(votes)) throw new DatasetError(file, r.line, `\`answers[${i}].votes\` must be a whole number (got ${JSON.stringify(votes)})`);
      if (ao.accepted !== undefined && typeof ao.accepted !== 'boolean') throw new DatasetError(file, r.line, `\`answers[${i}].accepted\` must be true or false (got ${JSON.stringify(ao.accepted)})`);
      return { text, score: pmpScore(votes, ao.accepted === true) };
    });
    if (question === '') {
      skipped.push({ line: r.line, reason: 'empty question' });
      continue;
    }
    let made = 0;
    for (let i = 0; i < scored.length; i++) {
      for (let j = i + 1; j < scored.length; j++) {
        if (opts.limit !== undefined && items.length >= opts.limit) break;
        if (opts.maxPairsPerQuestion !== undefined && made >= opts.maxPairsPerQuestion) break;
        const a = scored[i] as { text: string; score: number };
        const b = scored[j] as { text: string; score: number };
        if (a.score === b.score || a.text.trim() === '' || b.text.trim() === '' || a.text.trim() === b.text.trim()) continue;
        const [better, worse] = a.score > b.score ? [a, b] : [b, a];
        const id = recordId(['pmp', question, better.text, worse.text]);
        if (seen.has(id)) continue;
        seen.add(id);
        items.push({ id, question, better: better.text, worse: worse.text, betterScore: better.score, worseScore: worse.score, line: r.line });
        made++;
      }
    }
    if (made === 0) skipped.push({ line: r.line, reason: 'no two answers with different scores' });
  }
  return { items, skipped, format };
}

/** Loads a run's dataset by its (configured or detected) format. */
export function loadDataset(
  file: string,
  opts: LoadOptions = {},
): { kind: 'prompts'; data: Loaded<PromptItem> } | { kind: 'pairs'; data: Loaded<PairItem> } | { kind: 'qa-votes'; data: Loaded<PmpPair> } {
  const format = opts.format ?? detectFormat(file);
  if (format === 'prompts') return { kind: 'prompts', data: loadPrompts(file, { ...opts, format }) };
  if (format === 'qa-votes') return { kind: 'qa-votes', data: loadQaVotes(file, { ...opts, format }) };
  return { kind: 'pairs', data: loadPairs(file, { ...opts, format }) };
}

/** One multiple-choice item of an HHH-style evaluation file. */
export interface HhhItem {
  id: string;
  /** The whole question, ending where the answer starts (e.g. "\n\nThe answer is:"). */
  prompt: string;
  /** The right and the wrong answer as continuations, e.g. " (B)" and " (A)". */
  correct: string;
  incorrect: string;
  /** The conversation with the right / wrong response (for scoring a preference model). */
  textCorrect?: string;
  textIncorrect?: string;
  line: number;
}

/**
 * Reads a multiple-choice evaluation in the shape of Anthropic's HHH file: one JSON object per
 * line with `prompt`, `corrects` and `incorrects` (lists of answer continuations; the first of
 * each is used) and optionally `text_correct` / `text_incorrect` transcripts.
 */
export function loadHhh(file: string, opts: { limit?: number } = {}): Loaded<HhhItem> {
  const records = readRecords(file);
  const items: HhhItem[] = [];
  const skipped: Skipped[] = [];
  for (const r of records) {
    if (opts.limit !== undefined && items.length >= opts.limit) break;
    const o = asObject(file, r, 'an object with `prompt`, `corrects` and `incorrects`');
    const prompt = field(file, r, o, 'prompt');
    const first = (key: string): string => {
      const v = o[key];
      if (!Array.isArray(v) || typeof v[0] !== 'string') throw new DatasetError(file, r.line, `\`${key}\` must be a list of answer strings`);
      return v[0];
    };
    const correct = first('corrects');
    const incorrect = first('incorrects');
    if (correct === incorrect) {
      skipped.push({ line: r.line, reason: 'the correct and incorrect answers are the same' });
      continue;
    }
    const tc = typeof o['text_correct'] === 'string' ? o['text_correct'] : undefined;
    const ti = typeof o['text_incorrect'] === 'string' ? o['text_incorrect'] : undefined;
    items.push({ id: recordId(['hhh', prompt, correct]), prompt, correct, incorrect, ...(tc !== undefined ? { textCorrect: tc } : {}), ...(ti !== undefined ? { textIncorrect: ti } : {}), line: r.line });
  }
  return { items, skipped, format: 'pairs' };
}
