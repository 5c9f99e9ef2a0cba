/**
 * The validator never throws, whatever the input.
 *
 * FUZZ_DOCUMENTS mutated constitutions (from the examples and the LSP fixtures) go through
 * `analyzeFile`, a full `ConstitutionWorkspace.resolve` over an in-memory file host (included files
 * mutated too, include cycles and missing includes added), and — one in FEATURE_SAMPLE_EVERY — the
 * editor features: completion and hover at a few offsets, outline, folding, semantic tokens and
 * formatting. Every diagnostic, fix, related location and span must stay inside its document.
 *
 * The documents run in one child process per core (this same file, with FUZZ_CHILD_SHARD set): a
 * document that aborts its process or runs longer than STALL_MS is reported by number, and the
 * shard goes on in a fresh process. Hand-written inputs that are known to be able to do that run
 * in a process each (FUZZ_CHILD_CASE).
 *
 * The seed is fixed (DEFAULT_SEED) so that runs are repeatable; FUZZ_SEED=<n> picks another,
 * FUZZ_SEED=random a new one per run. One document runs alone, in this process, with
 * FUZZ_SEED=<seed> FUZZ_ONLY=<index> (both are printed on failure, and the failing inputs are
 * written to a temporary folder). FUZZ_DOCS raises the number of documents (never below
 * FUZZ_DOCUMENTS).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DiagnosticCodes, type Diagnostic, type SpanDiagnostic } from '../../src/core/constitution/diagnostics.js';
import { complete } from '../../src/core/constitution/features/complete.js';
import { foldingRanges } from '../../src/core/constitution/features/folding.js';
import { formatConstitution } from '../../src/core/constitution/features/format.js';
import { hover } from '../../src/core/constitution/features/hover.js';
import { outline, type OutlineItem } from '../../src/core/constitution/features/outline.js';
import { semanticTokens } from '../../src/core/constitution/features/tokens.js';
import { previewPrompts } from '../../src/core/constitution/render.js';
import { ConstitutionWorkspace, toDiagnostics, type FileHost, type Resolution } from '../../src/core/constitution/resolve.js';
import { analyzeFile } from '../../src/core/constitution/validate.js';
import type { Range, Span } from '../../src/core/text.js';

const repoRoot = path.resolve(__dirname, '../..');

/** How many mutated documents one run checks (at least 10,000). */
const FUZZ_DOCUMENTS = 10_000;
/** One document in N (chosen by the seed) also goes through the editor features. */
const FEATURE_SAMPLE_EVERY = 10;
/** Random offsets per sampled document (plus the start and the end). */
const FEATURE_OFFSETS = 3;

// ---------------------------------------------------------------------------------------------
// A tiny seeded PRNG (mulberry32) and helpers.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One independent stream per document, so any document can be replayed alone. */
function docSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The default seed: a fixed one, so that every run checks the same documents. */
const DEFAULT_SEED = 20_241_128;

/** FUZZ_SEED=<n> picks a seed, FUZZ_SEED=random a new one each run (to explore); else DEFAULT_SEED. */
function envSeed(): number {
  const raw = process.env.FUZZ_SEED?.trim();
  if (!raw) return DEFAULT_SEED;
  if (raw === 'random') return (Date.now() ^ (process.pid << 16)) >>> 0;
  const n = Number(raw);
  assert.ok(Number.isInteger(n) && n >= 0 && n <= 0xffffffff, `FUZZ_SEED must be a whole number from 0 to 4294967295 or 'random', not ${raw}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// The inputs, in an in-memory workspace.

interface Input {
  /** Path in the in-memory workspace. */
  file: string;
  text: string;
}

const MEM = '/ws';

function loadInputs(): Input[] {
  const out: Input[] = [];
  for (const [dir, mem] of [
    ['examples', `${MEM}/examples`],
    ['test/fixtures/lsp', `${MEM}/lsp`],
  ] as const) {
    for (const name of readdirSync(path.join(repoRoot, dir)).sort()) {
      if (!name.endsWith('.constitution.yaml')) continue;
      out.push({ file: `${mem}/${name}`, text: readFileSync(path.join(repoRoot, dir, name), 'utf8') });
    }
  }
  return out;
}

const INPUTS = loadInputs();
const ORIGINALS = new Map(INPUTS.map((i) => [i.file, i.text]));

/** A file host over in-memory files; `files` may be swapped between documents. */
function memHost(files: Map<string, string> | (() => Map<string, string>)): FileHost {
  const current = typeof files === 'function' ? files : () => files;
  return {
    read: (f) => current().get(f),
    resolve: (from, rel) => path.posix.normalize(path.posix.isAbsolute(rel) ? rel : path.posix.join(path.posix.dirname(from), rel)),
    display: (f) => (f.startsWith(`${MEM}/`) ? f.slice(MEM.length + 1) : f),
  };
}

/** The files a text includes (block or flow list items), as workspace paths. */
function includedFiles(file: string, text: string): string[] {
  const out: string[] = [];
  const m = /^include:[ \t]*(\[[^\]\n]*\])?[ \t]*(?:#.*)?$/m.exec(text);
  if (!m) return out;
  const names: string[] = [];
  if (m[1]) names.push(...m[1].slice(1, -1).split(',').map((s) => s.trim()).filter(Boolean));
  else {
    const rest = text.slice((m.index ?? 0) + m[0].length).split(/\r?\n/);
    for (const line of rest.slice(1)) {
      const item = /^\s+-\s+(\S+)/.exec(line);
      if (!item) break;
      names.push(item[1] as string);
    }
  }
  return names.map((n) => path.posix.join(path.posix.dirname(file), n));
}

// ---------------------------------------------------------------------------------------------
// Mutations.

const UNICODE = [
  '\u{1F600}', // emoji (astral: a surrogate pair)
  '\u{1D54F}', // 𝕏
  '\u{1F469}\u200D\u{1F4BB}', // ZWJ sequence
  '\u0301', // combining acute
  '\u0308\u0308\u0308', // stacked combining marks
  '\uD800', // lone high surrogate
  '\uDC00', // lone low surrogate
  '\u200F', // RTL mark
  '\u202E', // RTL override
  '\u0000', // NUL
  '\r',
  '\r\n',
  '\n',
  '\t',
  '\uFEFF', // BOM / ZWNBSP
  '\u2028', // line separator
  '\u2029', // paragraph separator
  '\u0085', // NEL
  '\u00A0', // NBSP
  'é',
  '\u0007', // BEL
  '\u001B[31m', // escape sequence
];

const YAML_NOISE = [':', ': ', '- ', '-', '{', '}', '[', ']', ',', '&a ', '*a', '&a', '*b ', '!!str ', '!!map ', '!foo ', '? ', '|', '>', '|-', '>+2', '---', '...', '%YAML 1.2', '%TAG ! tag:x,2000:', '#', ' #', '"', "'", '\\', '@', '`', '<<: *a', '{{', '}}', '{conversation}', '{nope}'];

function splitLines(text: string): string[] {
  // keeps each line's terminator (\r\n, \r or \n) with the line
  return text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
}

function insertAt(text: string, at: number, s: string): string {
  return text.slice(0, at) + s + text.slice(at);
}

const deepNest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

type Mutation = { name: string; apply(text: string, rng: Rng): string };

const MUTATIONS: Mutation[] = [
  {
    name: 'flip-char',
    apply(text, rng) {
      if (!text) return text;
      const i = rng.int(text.length);
      const c = text.charCodeAt(i) ^ (1 << rng.int(rng.chance(0.8) ? 7 : 16));
      return text.slice(0, i) + String.fromCharCode(c) + text.slice(i + 1);
    },
  },
  {
    name: 'replace-char',
    apply(text, rng) {
      if (!text) return text;
      const i = rng.int(text.length);
      const c = rng.chance(0.7) ? String.fromCharCode(rng.between(32, 126)) : String.fromCharCode(rng.int(0x10000));
      return text.slice(0, i) + c + text.slice(i + 1);
    },
  },
  { name: 'truncate', apply: (text, rng) => text.slice(0, rng.int(text.length + 1)) },
  {
    name: 'delete-line',
    apply(text, rng) {
      const lines = splitLines(text);
      if (!lines.length) return text;
      lines.splice(rng.int(lines.length), 1);
      return lines.join('');
    },
  },
  {
    name: 'duplicate-line',
    apply(text, rng) {
      const lines = splitLines(text);
      if (!lines.length) return text;
      const i = rng.int(lines.length);
      lines.splice(i, 0, lines[i] as string);
      return lines.join('');
    },
  },
  {
    name: 'swap-lines',
    apply(text, rng) {
      const lines = splitLines(text);
      if (lines.length < 2) return text;
      const i = rng.int(lines.length);
      const j = rng.int(lines.length);
      [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
      return lines.join('');
    },
  },
  {
    name: 'insert-unicode',
    apply(text, rng) {
      let s = '';
      for (let n = rng.between(1, 3); n > 0; n--) s += rng.pick(UNICODE);
      return insertAt(text, rng.int(text.length + 1), s);
    },
  },
  {
    name: 'insert-yaml-noise',
    apply(text, rng) {
      let s = '';
      for (let n = rng.between(1, 3); n > 0; n--) s += rng.pick(YAML_NOISE);
      // at a line start half the time: that is where YAML syntax means most
      const lines = splitLines(text);
      if (lines.length && rng.chance(0.5)) {
        const i = rng.int(lines.length);
        const indent = /^[ ]*/.exec(lines[i] as string)?.[0] ?? '';
        lines[i] = rng.chance(0.5) ? `${indent}${s}${(lines[i] as string).slice(indent.length)}` : `${s}\n${lines[i]}`;
        return lines.join('');
      }
      return insertAt(text, rng.int(text.length + 1), s);
    },
  },
  {
    name: 'change-indent',
    apply(text, rng) {
      const lines = splitLines(text);
      if (!lines.length) return text;
      const i = rng.int(lines.length);
      const line = lines[i] as string;
      const indent = /^[ \t]*/.exec(line)?.[0] ?? '';
      const body = line.slice(indent.length);
      const r = rng.int(4);
      const next = r === 0 ? '' : r === 1 ? ' '.repeat(indent.length + rng.between(1, 5)) : r === 2 ? ' '.repeat(Math.max(0, indent.length - rng.between(1, 4))) : '\t'.repeat(rng.between(1, 2));
      lines[i] = next + body;
      return lines.join('');
    },
  },
  {
    name: 'replace-value',
    apply(text, rng) {
      const lines = splitLines(text);
      const candidates = lines.map((l, i) => (/^\s*(?:- )?[\w$.-]+:[ \t]*\S/.test(l) ? i : -1)).filter((i) => i >= 0);
      if (!candidates.length) return text;
      const i = rng.pick(candidates);
      const line = lines[i] as string;
      const eol = /(\r\n|\r|\n)$/.exec(line)?.[0] ?? '';
      const head = /^\s*(?:- )?[\w$.-]+:[ \t]*/.exec(line)?.[0] ?? '';
      const values = [
        () => 'x'.repeat(rng.between(1_000, 50_000)),
        () => `"${'y '.repeat(rng.between(500, 5_000))}"`,
        () => deepNest(200),
        () => '['.repeat(200),
        () => `${'{a: '.repeat(150)}1${'}'.repeat(150)}`,
        () => ']'.repeat(50),
        () => '',
        () => '~',
        () => '-1e999',
        () => '.nan',
        () => '0x1F',
        () => '123456789012345678901234567890',
        () => 'yes',
        () => '[]',
        () => '{}',
        () => '&anchor x',
        () => '*anchor',
        () => '|\n',
        () => '>-',
        () => '"{unknown} {conversation"',
        () => "'it''s'",
      ];
      lines[i] = head + rng.pick(values)() + eol;
      return lines.join('');
    },
  },
  {
    name: 'splice-other-input',
    apply(text, rng) {
      const other = splitLines(rng.pick(INPUTS).text);
      if (!other.length) return text;
      const start = rng.int(other.length);
      const chunk = other.slice(start, start + rng.between(1, 8)).join('');
      const lines = splitLines(text);
      lines.splice(rng.int(lines.length + 1), 0, chunk);
      return lines.join('');
    },
  },
  {
    name: 'line-endings',
    apply(text, rng) {
      const r = rng.int(3);
      return r === 0 ? text.replace(/\r?\n/g, '\r\n') : r === 1 ? text.replace(/\r\n/g, '\n') : text.replace(/\n/g, rng.chance(0.5) ? '\r' : '\u2028');
    },
  },
];

/** 1–4 mutations; returns the new text and their names. */
function mutate(text: string, rng: Rng): { text: string; applied: string[] } {
  const applied: string[] = [];
  for (let n = rng.between(1, 4); n > 0; n--) {
    // line-ending rewrites are rarer: they change every line at once
    let m = rng.pick(MUTATIONS);
    if (m.name === 'line-endings' && rng.chance(0.7)) m = rng.pick(MUTATIONS);
    text = m.apply(text, rng);
    applied.push(m.name);
  }
  return { text, applied };
}

/** Puts `target` into the include list of a file's text (adding the list when there is none). */
function addInclude(text: string, target: string): string {
  if (/^include:[ \t]*\[/m.test(text)) return text.replace(/^include:[ \t]*\[/m, (m) => `${m}${target}, `);
  if (/^include:[ \t]*$/m.test(text)) return text.replace(/^include:[ \t]*$/m, (m) => `${m}\n  - ${target}`);
  return `include:\n  - ${target}\n${text}`;
}

interface Case {
  index: number;
  root: string;
  files: Map<string, string>;
  steps: string[];
}

function makeCase(seed: number, index: number): Case {
  const rng = new Rng(docSeed(seed, index));
  const root = rng.pick(INPUTS).file;
  const files = new Map(ORIGINALS);
  const steps: string[] = [`root ${root}`];
  const base = (f: string) => path.posix.basename(f);
  const dirOf = path.posix.dirname(root);
  const included = includedFiles(root, files.get(root) as string).filter((f) => files.has(f));
  // include cycles and missing includes, before mutating (mutations may break them again)
  const r = rng.float();
  if (r < 0.05) {
    files.set(root, addInclude(files.get(root) as string, base(root)));
    steps.push('self-include');
  } else if (r < 0.12 && included.length) {
    const inc = rng.pick(included);
    files.set(inc, addInclude(files.get(inc) as string, base(root)));
    steps.push(`cycle via ${base(inc)}`);
  } else if (r < 0.17 && included.length) {
    const inc = rng.pick(included);
    const third = `${dirOf}/third.constitution.yaml`;
    files.set(third, `name: third\ninclude: [${base(root)}]\nprinciples:\n  - id: third-p\n    critique: Is it kind?\n    revision: Make it kind.\n`);
    files.set(inc, addInclude(files.get(inc) as string, base(third)));
    steps.push(`three-file cycle via ${base(inc)}`);
  } else if (r < 0.2 && included.length) {
    const inc = rng.pick(included);
    files.delete(inc);
    steps.push(`missing ${base(inc)}`);
  } else if (r < 0.24) {
    files.set(root, addInclude(files.get(root) as string, rng.pick(['../lsp/base.constitution.yaml', '../examples/harmless-helpful.constitution.yaml', 'nope/../x.constitution.yaml', '', '.', '/'])));
    steps.push('extra include');
  }
  const m = mutate(files.get(root) as string, rng);
  files.set(root, m.text);
  steps.push(`root: ${m.applied.join(', ')}`);
  for (const inc of included) {
    if (!files.has(inc) || !rng.chance(0.25)) continue;
    const mi = mutate(files.get(inc) as string, rng);
    files.set(inc, mi.text);
    steps.push(`${base(inc)}: ${mi.applied.join(', ')}`);
  }
  return { index, root, files, steps };
}

// ---------------------------------------------------------------------------------------------
// Invariants. Line lengths are computed here, independently of TextIndex.

const SEVERITIES = new Set(['error', 'warning', 'information', 'hint']);
const CODES = new Set<string>(Object.values(DiagnosticCodes));

class Lines {
  readonly lengths: number[] = [];
  constructor(readonly text: string) {
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '\n' || c === '\r') {
        this.lengths.push(i - start);
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        start = i;
      } else i++;
    }
    this.lengths.push(text.length - start);
  }
  get count(): number {
    return this.lengths.length;
  }
}

type Problems = string[];

function checkSpan(what: string, s: Span | undefined, textLength: number, out: Problems): void {
  if (!s || !Number.isInteger(s.start) || !Number.isInteger(s.end) || s.start < 0 || s.start > s.end || s.end > textLength) {
    out.push(`${what}: span ${JSON.stringify(s)} is outside 0..${textLength}`);
  }
}

function posOk(p: { line: number; character: number } | undefined, lines: Lines): boolean {
  return !!p && Number.isInteger(p.line) && Number.isInteger(p.character) && p.line >= 0 && p.line < lines.count && p.character >= 0 && p.character <= (lines.lengths[p.line] as number);
}

function checkRange(what: string, r: Range | undefined, lines: Lines, out: Problems): void {
  if (!r || !posOk(r.start, lines) || !posOk(r.end, lines)) {
    const line = r && r.start ? lines.lengths[r.start.line] : undefined;
    out.push(`${what}: range ${JSON.stringify(r)} is outside the document (${lines.count} lines${line === undefined ? '' : `, line ${r?.start.line} has ${line} characters`})`);
    return;
  }
  if (r.start.line > r.end.line || (r.start.line === r.end.line && r.start.character > r.end.character)) {
    out.push(`${what}: range ${JSON.stringify(r)} ends before it starts`);
  }
}

function checkCommon(what: string, d: { severity: string; code: string; message: unknown }, out: Problems): void {
  if (d.code === DiagnosticCodes.internalError) out.push(`${what}: internal-error: ${String(d.message).slice(0, 300)}`);
  else if (!CODES.has(d.code)) out.push(`${what}: unknown code ${JSON.stringify(d.code)}`);
  if (!SEVERITIES.has(d.severity)) out.push(`${what} ${d.code}: severity ${JSON.stringify(d.severity)}`);
  if (typeof d.message !== 'string' || d.message.trim() === '') out.push(`${what} ${d.code}: empty message`);
}

function checkSpanDiagnostics(what: string, diags: SpanDiagnostic[], text: string, files: Map<string, string>, out: Problems): void {
  for (const d of diags) {
    checkCommon(what, d, out);
    checkSpan(`${what} ${d.code}`, d.span, text.length, out);
    for (const f of d.fixes ?? []) for (const e of f.edits) checkSpan(`${what} ${d.code} fix '${f.title}'`, e.span, text.length, out);
    for (const r of d.related ?? []) {
      const other = files.get(r.file);
      if (other !== undefined) checkSpan(`${what} ${d.code} related ${r.file}`, r.span, other.length, out);
    }
  }
}

function checkDiagnostics(what: string, diags: Diagnostic[], lines: Lines, files: Map<string, string>, out: Problems): void {
  const others = new Map<string, Lines>();
  const linesOf = (file: string, text: string) => others.get(file) ?? others.set(file, new Lines(text)).get(file) as Lines;
  for (const d of diags) {
    checkCommon(what, d, out);
    checkRange(`${what} ${d.code}`, d.range, lines, out);
    for (const f of d.fixes ?? []) for (const e of f.edits) checkRange(`${what} ${d.code} fix '${f.title}'`, e.range, lines, out);
    for (const r of d.related ?? []) {
      const other = files.get(r.file);
      if (other !== undefined) checkRange(`${what} ${d.code} related ${r.file}`, r.range, linesOf(r.file, other), out);
    }
  }
}

function checkOutline(items: OutlineItem[], len: number, out: Problems, depth = 0): void {
  for (const it of items) {
    checkSpan(`outline '${it.name}'`, it.span, len, out);
    checkSpan(`outline '${it.name}' selection`, it.selectionSpan, len, out);
    if (typeof it.name !== 'string') out.push(`outline: name ${JSON.stringify(it.name)} is not text`);
    if (depth < 16) checkOutline(it.children, len, out, depth + 1);
  }
}

/** Runs `fn`, turning a throw into a problem. */
function guard<T>(what: string, out: Problems, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    const err = e as Error;
    out.push(`${what} threw ${err?.name ?? typeof e}: ${err?.message ?? String(e)}\n${(err?.stack ?? '').split('\n').slice(1, 6).join('\n')}`);
    return undefined;
  }
}

function checkFeatures(ws: ConstitutionWorkspace, res: Resolution | undefined, file: string, text: string, lines: Lines, offsets: number[], out: Problems): void {
  const fa = res?.files.get(file) ?? guard('workspace.file', out, () => ws.file(file));
  if (!fa) {
    out.push('features: no analysis for the root file');
    return;
  }
  const len = text.length;
  const allFiles = [...new Set([...(res?.files.keys() ?? []), ...ORIGINALS.keys()])];
  for (const offset of offsets) {
    const items = guard(`complete at ${offset}`, out, () =>
      complete(ws, res, text, file, offset, { files: allFiles, relative: (from, to) => path.posix.relative(path.posix.dirname(from), to) }),
    );
    for (const item of items ?? []) {
      checkSpan(`complete at ${offset} '${item.label}' replace`, item.replace, len, out);
      if (typeof item.insertText !== 'string') out.push(`complete at ${offset}: insertText of '${item.label}' is not text`);
    }
    if (res) {
      const h = guard(`hover at ${offset}`, out, () => hover(ws, res, fa, offset));
      if (h) {
        checkSpan(`hover at ${offset}`, h.span, len, out);
        if (typeof h.markdown !== 'string') out.push(`hover at ${offset}: markdown is not text`);
      }
    }
  }
  const o = guard('outline', out, () => outline(fa));
  if (o) checkOutline(o, len, out);
  const folds = guard('foldingRanges', out, () => foldingRanges(fa));
  for (const r of folds ?? []) {
    if (!(Number.isInteger(r.startLine) && Number.isInteger(r.endLine) && r.startLine >= 0 && r.startLine <= r.endLine && r.endLine < lines.count)) {
      out.push(`foldingRanges: ${JSON.stringify(r)} is outside lines 0..${lines.count - 1}`);
    }
  }
  const tokens = guard('semanticTokens', out, () => semanticTokens(fa));
  for (const t of tokens ?? []) checkSpan(`semanticTokens ${t.type}`, t.span, len, out);
  const f = guard('formatConstitution', out, () => formatConstitution(text));
  if (f?.ok) {
    const again = guard('analyzeFile(formatted)', out, () => analyzeFile('/ws/formatted.constitution.yaml', f.text));
    const syntax = again?.diagnostics.filter((d) => d.code === DiagnosticCodes.yamlSyntax && d.severity === 'error') ?? [];
    if (syntax.length) out.push(`formatConstitution: its output has yaml-syntax errors: ${syntax.map((d) => d.message).join('; ')}`);
  }
  if (res) guard('previewPrompts', out, () => previewPrompts(res.constitution, { principle: res.constitution.principles[0]?.id, comparison: res.constitution.comparisons[0]?.id }));
}

/** Every check on one set of files with a root. Returns the problems found (empty: all good). */
function checkDocument(root: string, files: Map<string, string>, ws: ConstitutionWorkspace, featureOffsets: number[] | undefined): Problems {
  const out: Problems = [];
  const text = files.get(root) as string;
  const lines = new Lines(text);

  // analyzeFile(root, text), through the workspace so that resolve below reuses it rather than
  // parsing the same text again (the workspace caches analyses by text; ws.file calls analyzeFile)
  const fa = guard('analyzeFile', out, () => ws.file(root));
  if (fa && fa.text !== text) out.push('analyzeFile: the analysis is of another text');
  if (fa) {
    checkSpanDiagnostics('analyzeFile', fa.diagnostics, text, files, out);
    const diags = guard('toDiagnostics', out, () => toDiagnostics(fa, fa.diagnostics, new Map([[root, fa]])));
    if (diags) checkDiagnostics('analyzeFile', diags, lines, files, out);
  }

  const res = guard('resolve', out, () => ws.resolve(root));
  if (res === undefined && !out.some((p) => p.startsWith('resolve threw'))) out.push('resolve: returned undefined for a file that exists');
  if (res) {
    checkSpanDiagnostics('resolve', res.spanDiagnostics, text, files, out);
    checkDiagnostics('resolve', res.diagnostics, lines, files, out);
    if (res.order[res.order.length - 1] !== root) out.push(`resolve: the root is not last in the merge order ${JSON.stringify(res.order)}`);
    // included files' own analyses stay in their documents too
    for (const [f, a] of res.files) {
      if (f === root) continue;
      const other = files.get(f);
      if (other !== undefined) checkSpanDiagnostics(`included ${path.posix.basename(f)}`, a.diagnostics, other, files, out);
    }
  }
  if (featureOffsets) checkFeatures(ws, res, root, text, lines, featureOffsets, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running: the documents are split into shards, one child process each, so that both cores work,
// and so that a document that kills its process (a stack overflow V8 cannot recover from) or never
// finishes is reported by number while the rest of the shard goes on in a new process.

/** What one document gave. */
interface DocResult {
  i: number;
  ms: number;
  problems: string[];
  mutations: string[];
  features: boolean;
}

interface Failure {
  index: number;
  problem: string;
}

/** A document that does not finish within this long is killed and reported. */
const STALL_MS = 20_000;

/** Checks documents from, from + step, … below total (or only `only`), one result per document. */
function runDocuments(seed: number, total: number, from: number, step: number, only: number | undefined, onStart: (i: number) => void, onDone: (r: DocResult) => void): void {
  // One workspace for the run, as the language server keeps one: analyses are cached by text, so
  // unchanged included files are not parsed again, and nothing else carries over.
  let current = new Map<string, string>();
  const ws = new ConstitutionWorkspace(memHost(() => current));
  for (let index = from; index < total; index += step) {
    if (only !== undefined && index !== only) continue;
    onStart(index);
    const c = makeCase(seed, index);
    const mutations = c.steps.slice(1).flatMap((s) => s.replace(/^[^:]*: /, '').split(', '));
    current = c.files;
    const text = c.files.get(c.root) as string;
    let offsets: number[] | undefined;
    if (docSeed(seed ^ 0x2545f491, index) % FEATURE_SAMPLE_EVERY === 0 || only !== undefined) {
      const rng = new Rng(docSeed(seed ^ 0x5bd1e995, index));
      offsets = [0, text.length];
      for (let k = 0; k < FEATURE_OFFSETS; k++) offsets.push(rng.int(text.length + 1));
      // an editor sends positions, which never fall between the \r and the \n of a line break
      offsets = offsets.map((o) => (text[o - 1] === '\r' && text[o] === '\n' ? o - 1 : o));
    }
    const t0 = performance.now();
    const problems = checkDocument(c.root, c.files, ws, offsets);
    onDone({ i: index, ms: performance.now() - t0, problems, mutations, features: offsets !== undefined });
  }
}

/** In a child: "@index" on stderr before each document, its result as a JSON line on stdout after it. */
function runChildShard(): void {
  const [from, step] = (process.env.FUZZ_CHILD_SHARD as string).split('/').map(Number) as [number, number];
  const cpu0 = process.cpuUsage();
  runDocuments(
    Number(process.env.FUZZ_SEED),
    Number(process.env.FUZZ_TOTAL),
    from,
    step,
    undefined,
    (i) => process.stderr.write(`@${i}\n`),
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  );
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ done: true, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
}

class Tally {
  checked = 0;
  features = 0;
  cpuSeconds = 0;
  slowest = { ms: 0, index: -1 };
  readonly mutations = new Map<string, number>();
  readonly failures: Failure[] = [];
  add(r: DocResult): void {
    this.checked++;
    if (r.features) this.features++;
    if (r.ms > this.slowest.ms) this.slowest = { ms: r.ms, index: r.i };
    for (const m of r.mutations) this.mutations.set(m, (this.mutations.get(m) ?? 0) + 1);
    for (const problem of r.problems) this.failures.push({ index: r.i, problem });
  }
}

/** Runs documents shard, shard + shards, … in child processes, starting a new one after a crash or a stall. */
async function runShardInChildren(seed: number, total: number, shard: number, shards: number, tally: Tally, signal: AbortSignal): Promise<void> {
  let from = shard;
  while (from < total && !signal.aborted) {
    const end = await new Promise<{ last: number; finished: boolean; why: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', __filename], {
        cwd: repoRoot,
        env: { ...process.env, FUZZ_CHILD_SHARD: `${from}/${shards}`, FUZZ_SEED: String(seed), FUZZ_TOTAL: String(total), NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
        signal,
      });
      let last = -1;
      let lastStart = Date.now();
      let stalled = false;
      let finished = false;
      let out = '';
      let errTail = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        let nl: number;
        while ((nl = out.indexOf('\n')) !== -1) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          let msg: DocResult | { done: true; cpuSeconds: number };
          try {
            msg = JSON.parse(line) as typeof msg;
          } catch {
            continue; // something else printed to stdout
          }
          if ('done' in msg) {
            finished = true;
            tally.cpuSeconds += msg.cpuSeconds;
          } else tally.add(msg);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        errTail = (errTail + d).slice(-8_000);
        const lines = errTail.split('\n');
        for (let k = lines.length - 1; k >= 0; k--) {
          const m = /^@(\d+)$/.exec(lines[k] as string);
          if (m && k < lines.length - 1) {
            if (Number(m[1]) !== last) lastStart = Date.now();
            last = Number(m[1]);
            break;
          }
        }
      });
      const watchdog = setInterval(() => {
        if (Date.now() - lastStart > STALL_MS) {
          stalled = true;
          child.kill('SIGKILL');
        }
      }, 1_000);
      child.on('error', () => undefined); // an abort from the test's signal; 'close' follows
      child.on('close', (code, sig) => {
        clearInterval(watchdog);
        const message = errTail
          .split('\n')
          .filter((l) => l && !l.startsWith('@'))
          .find((l) => /FATAL|Error|error/.test(l));
        const why = stalled
          ? `did not finish within ${STALL_MS / 1000} s (the process was killed)`
          : `the process ended with ${sig ? `signal ${sig}` : `exit code ${code}`}: ${message?.trim() ?? '(no message)'}`;
        resolve({ last, finished: finished && code === 0, why });
      });
    });
    if (end.finished || signal.aborted) return;
    if (end.last < 0) {
      tally.failures.push({ index: from, problem: `could not run documents from ${from}: ${end.why}` });
      return;
    }
    tally.add({ i: end.last, ms: 0, problems: [`crash: ${end.why}`], mutations: [], features: false });
    from = end.last + shards;
  }
}

function signature(problem: string): string {
  // group by what failed, not by the numbers in it
  return (problem.split('\n')[0] ?? '')
    .replace(/\d+/g, '#')
    .replace(/'[^']*'/g, "'…'")
    .slice(0, 160);
}

/** "; also in documents 3, 9, …" for the other documents with the same kind of problem. */
function also(list: Failure[], first: number): string {
  const others = [...new Set(list.map((x) => x.index))].filter((i) => i !== first);
  return others.length ? `; also in document${others.length === 1 ? '' : 's'} ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', …' : ''}` : '';
}

function report(seed: number, total: number, failures: Failure[]): string {
  const groups = new Map<string, Failure[]>();
  for (const f of failures) {
    const k = signature(f.problem);
    const g = groups.get(k);
    if (g) g.push(f);
    else groups.set(k, [f]);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cai-fuzz-'));
  const parts = [`${failures.length} problem(s) in ${new Set(failures.map((f) => f.index)).size} of ${total} documents, ${groups.size} kind(s); seed ${seed}. Failing inputs are in ${dir}.`];
  for (const [sig, list] of groups) {
    list.sort((a, b) => a.index - b.index);
    const f = list[0] as Failure;
    // the documents are regenerated from the seed, so the children need not send them
    const c = makeCase(seed, f.index);
    const text = c.files.get(c.root) ?? '';
    const saved = path.join(dir, `doc-${f.index}-${path.posix.basename(c.root)}`);
    writeFileSync(saved, text);
    parts.push(
      [
        `• ${sig}  (${list.length}×, first in document ${f.index}${also(list, f.index)})`,
        `  ${f.problem.split('\n').join('\n  ')}`,
        `  reproduce: FUZZ_SEED=${seed} FUZZ_ONLY=${f.index} node --import tsx --test --test-name-pattern=mutated test/unit/fuzz.test.ts`,
        `  steps: ${c.steps.join(' | ')}`,
        `  input (${text.length} chars, saved as ${saved}): ${JSON.stringify(text.length > 400 ? `${text.slice(0, 400)}…` : text)}`,
      ].join('\n'),
    );
  }
  return parts.join('\n\n');
}

// ---------------------------------------------------------------------------------------------
// Hand-written nasty inputs. The ones that may abort or hang the process run in a child process
// (this same file, with FUZZ_CHILD_CASE set), so that a crash fails one test instead of the file.

function aliasBomb(levels: number): string {
  const names = 'abcdefghijklmnopqrstuvwxyz';
  const lines = [`a: &a [${Array(10).fill('x').join(',')}]`];
  for (let i = 1; i < levels; i++) lines.push(`${names[i]}: &${names[i]} [${Array(10).fill(`*${names[i - 1]}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

const NASTY: Record<string, () => string> = {
  empty: () => '',
  'only a comment': () => '# nothing here\n',
  'a 1 MB single line': () => `name: ${'x'.repeat(1 << 20)}`,
  '~': () => '~',
  '[]': () => '[]',
  '"x"': () => '"x"',
  'only \\r characters': () => '\r'.repeat(50),
  'only line breaks of every kind': () => '\r\n\n\r\u2028\u2029\u0085\r',
  'a lone surrogate as a key': () => 'name: x\n\uD800: y\n',
  'a BOM, then content': () => '\uFEFFname: x\nprinciples: []\n',
  'NUL characters': () => 'name: x\0y\nprinciples:\n  - id: a\0\n',
};

/** Inputs that may take the process down or never finish: each runs in its own process. */
const ISOLATED: Record<string, () => string> = {
  '10,000 nested [': () => '['.repeat(10_000),
  '10,000 nested [ … ] (closed)': () => deepNest(10_000),
  'billion laughs (10 levels of 10 aliases)': () => aliasBomb(10),
  // contextAbove in complete.ts scans up with lastIndexOf('\n', end - 1), which finds the
  // newline at offset 0 again and again when the first line is empty
  'a blank first line, completion at the top level': () => '\nname: x\npr',
};

/** Runs analyzeFile, resolve and the features on one text; returns the problems. */
function checkText(text: string, file = `${MEM}/nasty.constitution.yaml`): Problems {
  const files = new Map(ORIGINALS);
  files.set(file, text);
  const ws = new ConstitutionWorkspace(memHost(files));
  const len = text.length;
  const offsets = [0, len, Math.floor(len / 2), Math.max(0, len - 1)].map((o) => (text[o - 1] === '\r' && text[o] === '\n' ? o - 1 : o));
  return checkDocument(file, files, ws, offsets);
}

/** In the child: one isolated case, its problems as JSON on stdout. */
function runChildCase(name: string): void {
  const text = (ISOLATED[name] ?? (() => ''))();
  // twice, as an editor would on the next keystroke
  const problems = [...checkText(text), ...checkText(`${text} `)];
  process.stdout.write(JSON.stringify({ problems }));
}

const CHILD_TIMEOUT_MS = 10_000;

function runIsolated(name: string): Promise<{ problems: string[]; crash?: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename], {
      cwd: repoRoot,
      env: { ...process.env, FUZZ_CHILD_CASE: name, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20_000)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ problems: [], crash: `did not finish within ${CHILD_TIMEOUT_MS / 1000} s (killed)` });
      if (code !== 0 || signal) {
        const fatal = stderr.split('\n').find((l) => /FATAL|Error|error/.test(l)) ?? stderr.slice(0, 300);
        return resolve({ problems: [], crash: `the process ended with ${signal ? `signal ${signal}` : `exit code ${code}`}: ${fatal.trim()}` });
      }
      try {
        resolve(JSON.parse(stdout) as { problems: string[] });
      } catch {
        resolve({ problems: [], crash: `unreadable child output: ${stdout.slice(0, 300)}` });
      }
    });
  });
}

function failOn(name: string, problems: string[]): void {
  if (problems.length) assert.fail(`${name}: ${problems.length} problem(s):\n${[...new Set(problems)].join('\n')}`);
}

// ---------------------------------------------------------------------------------------------

if (process.env.FUZZ_CHILD_CASE) {
  runChildCase(process.env.FUZZ_CHILD_CASE);
} else if (process.env.FUZZ_CHILD_SHARD) {
  runChildShard();
} else {
  describe('fuzz: the validator never throws and stays inside the document', () => {
    it(`checks ${FUZZ_DOCUMENTS} mutated documents`, { timeout: 900_000 }, async (t) => {
      const seed = envSeed();
      const only = process.env.FUZZ_ONLY !== undefined && process.env.FUZZ_ONLY !== '' ? Number(process.env.FUZZ_ONLY) : undefined;
      const total = Math.max(FUZZ_DOCUMENTS, Number(process.env.FUZZ_DOCS) || 0);
      t.diagnostic(`fuzz seed ${seed} (FUZZ_SEED=${seed} reproduces this run)`);
      assert.ok(INPUTS.length >= 5, `inputs: ${INPUTS.map((i) => i.file).join(', ')}`);
      const tally = new Tally();
      const started = performance.now();
      let processes = 1;
      if (only !== undefined) {
        // one document, in this process, so that a debugger or a stack trace reaches it
        const cpu0 = process.cpuUsage();
        runDocuments(seed, total, 0, 1, only, () => undefined, (r) => tally.add(r));
        const cpu = process.cpuUsage(cpu0);
        tally.cpuSeconds = (cpu.user + cpu.system) / 1e6;
      } else {
        processes = Math.max(1, Math.min(4, os.availableParallelism()));
        const abort = new AbortController();
        const onAbort = () => abort.abort();
        t.signal?.addEventListener('abort', onAbort);
        try {
          await Promise.all(Array.from({ length: processes }, (_, k) => runShardInChildren(seed, total, k, processes, tally, abort.signal)));
        } finally {
          t.signal?.removeEventListener('abort', onAbort);
          abort.abort(); // no child outlives the test
        }
      }
      const seconds = (performance.now() - started) / 1000;
      t.diagnostic(
        `${tally.checked} documents in ${seconds.toFixed(1)} s with ${processes} process(es): ${Math.round(tally.checked / seconds)} documents/s, ` +
          `${Math.round(tally.checked / Math.max(tally.cpuSeconds, 1e-9))} per CPU second (of the processes that finished); features on ${tally.features}; ` +
          `slowest document ${tally.slowest.index} took ${Math.round(tally.slowest.ms)} ms`,
      );
      t.diagnostic(`mutations applied: ${[...tally.mutations].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      if (tally.failures.length) assert.fail(report(seed, tally.checked, tally.failures));
      assert.equal(tally.checked, only === undefined ? total : 1, 'every document was checked');
    });

    it('the PRNG and the cases are deterministic for a seed', () => {
      const a = new Rng(42);
      const b = new Rng(42);
      const xs = Array.from({ length: 5 }, () => a.float());
      assert.deepEqual(xs, Array.from({ length: 5 }, () => b.float()));
      assert.ok(xs.every((x) => x >= 0 && x < 1));
      const c1 = makeCase(7, 3);
      const c2 = makeCase(7, 3);
      assert.equal(c1.root, c2.root);
      assert.deepEqual([...c1.files], [...c2.files]);
      assert.deepEqual(c1.steps, c2.steps);
    });
  });

  describe('fuzz: hand-written nasty inputs', () => {
    for (const [name, make] of Object.entries(NASTY)) {
      it(name, () => {
        const text = make();
        // twice, as an editor would on the next keystroke
        failOn(name, [...checkText(text), ...checkText(`${text} `)]);
      });
    }

    describe('inputs that may crash or hang a process, each in its own', { concurrency: true }, () => {
      for (const name of Object.keys(ISOLATED)) {
        it(name, { timeout: CHILD_TIMEOUT_MS + 20_000 }, async () => {
          const r = await runIsolated(name);
          if (r.crash) assert.fail(`${name}: ${r.crash}`);
          failOn(name, r.problems);
        });
      }
    });

    it('an empty file offers the skeleton fix and points at line 0', () => {
      const fa = analyzeFile('/ws/e.constitution.yaml', '');
      const d = fa.diagnostics.find((x) => x.code === DiagnosticCodes.missingField);
      assert.ok(d, JSON.stringify(fa.diagnostics));
      assert.deepEqual(d.span, { start: 0, end: 0 });
      assert.ok(d.fixes?.[0]?.edits[0]?.newText.includes('principles:'));
    });

    it('CRLF line endings: positions count \\r\\n as one line break', () => {
      const text = 'name: x\r\nprinciples:\r\n  - id: a\r\n    critique: c\r\n    revison: r\r\n';
      const files = new Map([[`${MEM}/crlf.constitution.yaml`, text]]);
      const ws = new ConstitutionWorkspace(memHost(files));
      const res = ws.resolve(`${MEM}/crlf.constitution.yaml`);
      assert.ok(res);
      const unknown = res.diagnostics.find((d) => d.code === DiagnosticCodes.unknownKey);
      assert.ok(unknown, JSON.stringify(res.diagnostics));
      assert.deepEqual(unknown.range, { start: { line: 4, character: 4 }, end: { line: 4, character: 11 } });
      const missing = res.diagnostics.find((d) => d.code === DiagnosticCodes.missingField);
      assert.ok(missing, JSON.stringify(res.diagnostics));
      assert.deepEqual(missing.range, { start: { line: 2, character: 8 }, end: { line: 2, character: 9 } }, 'at the id of the principle');
      failOn('CRLF', checkText(text));
    });

    it('CRLF: an error on the last line of a long file is on the right line', () => {
      const lines = ['name: long', 'principles:'];
      for (let i = 0; i < 200; i++) lines.push(`  - id: p${i}`, `    critique: Is answer ${i} kind?`, `    revision: Make answer ${i} kind.`);
      lines.push('  - id: bad', '    critique: Is it kind?', '    revision: Make it kind.', '    wieght: 2');
      const text = `${lines.join('\r\n')}\r\n`;
      const fa = analyzeFile('/ws/long.constitution.yaml', text);
      const d = toDiagnostics(fa, fa.diagnostics, new Map()).find((x) => x.code === DiagnosticCodes.unknownKey);
      assert.ok(d, JSON.stringify(fa.diagnostics.map((x) => x.message)));
      assert.deepEqual(d.range, { start: { line: lines.length - 1, character: 4 }, end: { line: lines.length - 1, character: 10 } });
    });

    it('CRLF: a YAML error on an empty line stays inside that line', () => {
      // yaml reports the error at the \r of the empty line; the range must not reach between \r and \n
      const text = 'principles:\r\n  - id: a\r\n\r\n    - b\r\n';
      const fa = analyzeFile('/ws/crlf2.constitution.yaml', text);
      const lines = new Lines(text);
      const problems: Problems = [];
      checkDiagnostics('analyzeFile', toDiagnostics(fa, fa.diagnostics, new Map()), lines, new Map(), problems);
      failOn('CRLF empty line', problems);
    });

    it('\\u2028 inside text is not a line break for positions', () => {
      const text = 'name: "a\u2028b"\ndescription: one\u2028two\nprinciples:\n  - id: p\n    critique: c\n    revison: r\n';
      const fa = analyzeFile('/ws/ls.constitution.yaml', text);
      const d = toDiagnostics(fa, fa.diagnostics, new Map()).find((x) => x.code === DiagnosticCodes.unknownKey);
      assert.ok(d, JSON.stringify(fa.diagnostics.map((x) => x.message)));
      assert.deepEqual(d.range.start, { line: 5, character: 4 });
      assert.equal(fa.model.description?.value, 'one\u2028two');
      failOn('\\u2028', checkText(text));
    });

    it('the deep-nesting values the mutations use (200 levels) are handled in-process', () => {
      failOn('200 levels', checkText(`name: x\ndescription: ${deepNest(200)}\nprinciples: ${'['.repeat(200)}\nexamples: ${'{a: '.repeat(150)}1${'}'.repeat(150)}\n`));
    });
  });
}
