// Inline inspection of run files in the editor, as plain data: what one line of pairs.jsonl or
// revisions.jsonl holds (tolerating anything: a line may be torn, hand-edited or hostile), the
// one-line hint shown before it, the pieces of its hover and their markdown (every piece of data
// inside code, so nothing from a record becomes a link, an image or markup), diagnostics for lines
// a run reader would stop at or skip, and per-principle statistics of a run for the constitution's
// CodeLenses. Pure: no Node, no editor (src/extension/inline adapts this to VS Code).

import type { LabelMethod } from './records.js';

/** The two record kinds the editor annotates. */
export type InlineRecordKind = 'pair' | 'revision';

/** A pairs.jsonl record as read, every field optional (a damaged record still gets what it has). */
export interface PairView {
  id?: string;
  promptId?: string;
  prompt?: string;
  responseA?: string;
  responseB?: string;
  principle?: string;
  /** P(A better), when a finite number in [0, 1]. */
  pA?: number;
  pForward?: number;
  /** null: only one order was asked. */
  pReversed?: number | null;
  flipped?: boolean;
  method?: string;
  reasoning?: string;
}

export interface RoundView {
  round?: number;
  principle?: string;
  critiqueRequest?: string;
  critique?: string;
  revisionRequest?: string;
  revision?: string;
}

/** A revisions.jsonl record as read. */
export interface RevisionView {
  id?: string;
  promptId?: string;
  prompt?: string;
  initial?: string;
  rounds: RoundView[];
  final?: string;
}

/** What one line holds. `problems` name fields that are missing or of the wrong type (the id is checked separately). */
export type LineInfo =
  | { kind: 'blank' }
  | { kind: 'invalid'; message: string; /** 0-based UTF-16 column of the JSON error, when known. */ column?: number }
  | { kind: 'pair'; id?: string; pair: PairView; problems: string[] }
  | { kind: 'revision'; id?: string; revision: RevisionView; problems: string[] }
  | { kind: 'other'; id?: string };

const LABEL_METHODS: readonly LabelMethod[] = ['exact', 'top-logprobs', 'sampled', 'cot', 'human'];

/** The kind of records a run file holds, by its name (`pairs.jsonl`, `revisions.jsonl`); undefined for any other name. */
export function kindForFileName(pathOrName: string): InlineRecordKind | undefined {
  const base = pathOrName.slice(Math.max(pathOrName.lastIndexOf('/'), pathOrName.lastIndexOf('\\')) + 1);
  if (base === 'pairs.jsonl') return 'pair';
  if (base === 'revisions.jsonl') return 'revision';
  return undefined;
}

/** Reads one line of a JSONL file. Never throws. */
export function parseLine(text: string): LineInfo {
  if (text.trim() === '') return { kind: 'blank' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    const at = /at position (\d+)/.exec(message);
    return { kind: 'invalid', message: `not valid JSON (${oneLine(message, 160)})`, ...(at ? { column: Math.min(Number(at[1]), text.length) } : {}) };
  }
  return classify(value);
}

/** Classifies a parsed record: a pair (has response_a, response_b or p_a), a revision (has rounds or initial_response), or something else. */
export function classify(value: unknown): LineInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'invalid', message: 'not a JSON object' };
  const v = value as Record<string, unknown>;
  const id = typeof v['id'] === 'string' ? v['id'] : undefined;
  if ('response_a' in v || 'response_b' in v || 'p_a' in v) {
    const problems: string[] = [];
    const pair: PairView = {};
    if (id !== undefined) pair.id = id;
    const promptId = optionalString(v, 'prompt_id', '', problems);
    if (promptId !== undefined) pair.promptId = promptId;
    const prompt = requiredString(v, 'prompt', '', problems);
    if (prompt !== undefined) pair.prompt = prompt;
    const a = requiredString(v, 'response_a', '', problems);
    if (a !== undefined) pair.responseA = a;
    const b = requiredString(v, 'response_b', '', problems);
    if (b !== undefined) pair.responseB = b;
    const principle = requiredString(v, 'principle', '', problems);
    if (principle !== undefined) pair.principle = principle;
    const reasoning = optionalString(v, 'reasoning', '', problems);
    if (reasoning !== undefined) pair.reasoning = reasoning;
    const pA = probability(v, 'p_a', false, problems);
    if (typeof pA === 'number') pair.pA = pA;
    const pForward = probability(v, 'p_a_forward', false, problems);
    if (typeof pForward === 'number') pair.pForward = pForward;
    const pReversed = probability(v, 'p_a_reversed', true, problems);
    if (pReversed !== undefined) pair.pReversed = pReversed;
    const flipped = v['flipped'];
    if (typeof flipped === 'boolean') pair.flipped = flipped;
    else problems.push(flipped === undefined ? 'no flipped' : 'flipped is not true or false');
    const method = v['label_method'];
    if (typeof method === 'string') {
      pair.method = method;
      if (!(LABEL_METHODS as readonly string[]).includes(method)) problems.push(`label_method is not one of ${LABEL_METHODS.join(', ')}`);
    } else problems.push(method === undefined ? 'no label_method' : 'label_method is not a string');
    return id !== undefined ? { kind: 'pair', id, pair, problems } : { kind: 'pair', pair, problems };
  }
  if ('rounds' in v || 'initial_response' in v) {
    const problems: string[] = [];
    const rev: RevisionView = { rounds: [] };
    if (id !== undefined) rev.id = id;
    const promptId = optionalString(v, 'prompt_id', '', problems);
    if (promptId !== undefined) rev.promptId = promptId;
    const prompt = requiredString(v, 'prompt', '', problems);
    if (prompt !== undefined) rev.prompt = prompt;
    const initial = requiredString(v, 'initial_response', '', problems);
    if (initial !== undefined) rev.initial = initial;
    const fin = requiredString(v, 'final', '', problems);
    if (fin !== undefined) rev.final = fin;
    const rounds = v['rounds'];
    if (Array.isArray(rounds)) {
      for (let i = 0; i < rounds.length; i++) {
        const r: unknown = rounds[i];
        if (typeof r !== 'object' || r === null || Array.isArray(r)) {
          problems.push(`rounds[${i}] is not an object`);
          rev.rounds.push({});
          continue;
        }
        const o = r as Record<string, unknown>;
        const where = `rounds[${i}].`;
        const round: RoundView = {};
        if (typeof o['round'] === 'number' && Number.isFinite(o['round'])) round.round = o['round'];
        else problems.push(o['round'] === undefined ? `no ${where}round` : `${where}round is not a number`);
        const principle = requiredString(o, 'principle', where, problems);
        if (principle !== undefined) round.principle = principle;
        const critiqueRequest = requiredString(o, 'critique_request', where, problems);
        if (critiqueRequest !== undefined) round.critiqueRequest = critiqueRequest;
        const critique = requiredString(o, 'critique', where, problems);
        if (critique !== undefined) round.critique = critique;
        const revisionRequest = requiredString(o, 'revision_request', where, problems);
        if (revisionRequest !== undefined) round.revisionRequest = revisionRequest;
        const revised = requiredString(o, 'revision', where, problems);
        if (revised !== undefined) round.revision = revised;
        rev.rounds.push(round);
      }
    } else problems.push(rounds === undefined ? 'no rounds' : 'rounds is not a list');
    return id !== undefined ? { kind: 'revision', id, revision: rev, problems } : { kind: 'revision', revision: rev, problems };
  }
  return id !== undefined ? { kind: 'other', id } : { kind: 'other' };
}

/** The string at `key`, or undefined with a problem noted. */
function requiredString(o: Record<string, unknown>, key: string, where: string, problems: string[]): string | undefined {
  const x = o[key];
  if (typeof x === 'string') return x;
  problems.push(x === undefined ? `no ${where}${key}` : `${where}${key} is not a string`);
  return undefined;
}

/** The string at `key`, or undefined (a problem noted only when something else is there). */
function optionalString(o: Record<string, unknown>, key: string, where: string, problems: string[]): string | undefined {
  const x = o[key];
  if (typeof x === 'string') return x;
  if (x !== undefined) problems.push(`${where}${key} is not a string`);
  return undefined;
}

/** The probability at `key` (or null where allowed), else undefined with a problem noted. */
function probability(o: Record<string, unknown>, key: string, allowNull: boolean, problems: string[]): number | null | undefined {
  const x = o[key];
  if (isProbability(x)) return x;
  if (allowNull && x === null) return null;
  problems.push(x === undefined ? `no ${key}` : `${key} is not a probability${allowNull ? ' or null' : ''}`);
  return undefined;
}

function isProbability(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1;
}

/**
 * The kind of records a JSONL file holds judging by its first lines (say, the first 20 non-blank
 * ones): the kind at least half of the readable lines have; undefined when none does.
 */
export function sniffKind(lines: Iterable<string>, maxLines = 20): InlineRecordKind | undefined {
  let seen = 0;
  let readable = 0;
  const count = { pair: 0, revision: 0 };
  for (const line of lines) {
    if (seen >= maxLines) break;
    const info = parseLine(line);
    if (info.kind === 'blank') continue;
    seen++;
    if (info.kind === 'invalid') continue;
    readable++;
    if (info.kind === 'pair' || info.kind === 'revision') count[info.kind]++;
  }
  const best: InlineRecordKind = count.pair >= count.revision ? 'pair' : 'revision';
  return count[best] > 0 && count[best] * 2 >= readable ? best : undefined;
}

// ---------------------------------------------------------------------------------------------
// Plain text that is safe and readable on one line or in a block.

/** Characters that hide or reorder text (bidi controls, zero-width characters) or are control characters. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const INVISIBLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u061C\u200B-\u200F\u2028\u2029\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;
const codePoint = (c: string) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`;

/** Makes invisible and control characters visible as ⟨U+XXXX⟩ (as the panels' revealInvisible does); keeps line breaks and tabs, normalising them to `\n`. */
export function revealInvisible(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(INVISIBLE, codePoint);
}

/** One line of at most `max` characters: line breaks become ⏎, invisible characters ⟨U+XXXX⟩, the rest is cut with …. */
export function oneLine(s: string, max = 80): string {
  const head = s.length > max * 4 + 16 ? s.slice(0, max * 4 + 16) : s; // enough for the visible result, never the whole megabyte
  const flat = head.replace(/\r\n?|\n/g, ' ⏎ ').replace(/\t/g, ' ').replace(INVISIBLE, codePoint);
  if (flat.length <= max && head.length === s.length) return flat;
  return `${cut(flat, Math.max(1, max - 1))}…`;
}

/** The first `n` UTF-16 units, one fewer if that would split a surrogate pair. */
function cut(s: string, n: number): string {
  if (s.length <= n) return s;
  const c = s.charCodeAt(n - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

const fixed2 = (x: number) => x.toFixed(2);
const plural = (n: number, one: string, many: string) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

// ---------------------------------------------------------------------------------------------
// Hints.

/** The chosen response and the probability of it: `{side: 'B', p: 0.83}` for p_a = 0.17; `tie` at exactly 0.5. */
export function chosen(pA: number): { side: 'A' | 'B' | 'tie'; p: number } {
  if (pA > 0.5) return { side: 'A', p: pA };
  if (pA < 0.5) return { side: 'B', p: 1 - pA };
  return { side: 'tie', p: 0.5 };
}

/** `chosen B · p = 0.83 · principle less-harmful · flipped` (flipped / not flipped only when both orders were asked). */
export function pairHint(p: PairView): string {
  const parts: string[] = [];
  if (p.pA === undefined) parts.push('no label');
  else {
    const c = chosen(p.pA);
    parts.push(c.side === 'tie' ? `tie · p = ${fixed2(c.p)}` : `chosen ${c.side} · p = ${fixed2(c.p)}`);
  }
  if (p.principle !== undefined) parts.push(`principle ${oneLine(p.principle, 48)}`);
  if (p.flipped === true) parts.push('flipped');
  else if (p.flipped === false && typeof p.pReversed === 'number') parts.push('not flipped');
  return parts.join(' · ');
}

/** `4 rounds`, with `direct` (no critiques written) and `unchanged` (final = initial response) when so. */
function revisionSummary(r: RevisionView): string {
  const n = r.rounds.length;
  let text = n === 0 ? 'no rounds' : plural(n, 'round', 'rounds');
  if (n > 0 && r.rounds.every((x) => x.critique === '')) text += ' · direct';
  if (n > 0 && r.initial !== undefined && r.final !== undefined && r.final === r.initial) text += ' · unchanged';
  return text;
}

/** `4 rounds · harmful-content → respectful-tone → …` (see revisionSummary), at most `max` characters. */
export function revisionHint(r: RevisionView, max = 120): string {
  const text = revisionSummary(r);
  if (r.rounds.length === 0) return text;
  const full = `${text} · ${r.rounds.map((x) => oneLine(x.principle ?? '?', 40)).join(' → ')}`;
  return full.length <= max ? full : `${cut(full, max - 1)}…`;
}

/** The hint for a line, or undefined when it gets none (blank, invalid or other lines). */
export function lineHint(info: LineInfo): string | undefined {
  if (info.kind === 'pair') return pairHint(info.pair);
  if (info.kind === 'revision') return revisionHint(info.revision);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Hovers.

/**
 * A hover as plain data. Titles and field labels are ours; field values and texts come from the
 * record (hostile): hoverMarkdown puts them in code spans and code blocks.
 */
export type HoverPiece =
  | { kind: 'title'; text: string; detail?: string }
  | { kind: 'fields'; fields: Array<{ label: string; value: string }> }
  | { kind: 'text'; label: string; text: string | undefined };

/** Texts longer than this are cut in a hover (the Pairs panel shows them whole). */
export const HOVER_TEXT_MAX = 20_000;

export function pairHover(p: PairView): HoverPiece[] {
  const c = p.pA !== undefined ? chosen(p.pA) : undefined;
  const fields: Array<{ label: string; value: string }> = [];
  if (p.id !== undefined) fields.push({ label: 'id', value: p.id });
  if (p.promptId !== undefined) fields.push({ label: 'prompt id', value: p.promptId });
  if (p.principle !== undefined) fields.push({ label: 'principle', value: p.principle });
  if (p.pA !== undefined) {
    const orders = [p.pForward !== undefined ? `A first ${fixed2(p.pForward)}` : undefined, typeof p.pReversed === 'number' ? `A second ${fixed2(p.pReversed)}` : p.pReversed === null ? 'one order only' : undefined];
    const o = orders.filter((x) => x !== undefined);
    fields.push({ label: 'P(A better)', value: `${fixed2(p.pA)}${o.length ? ` (${o.join(', ')})` : ''}` });
  }
  if (p.flipped !== undefined) {
    fields.push({
      label: 'flipped',
      value: p.flipped ? 'yes: the preferred position changed with the swap (judged by content)' : typeof p.pReversed === 'number' ? 'no: the same letter both times (position bias)' : 'no (one order only)',
    });
  }
  if (p.method !== undefined) fields.push({ label: 'label method', value: p.method });
  const side = (s: 'A' | 'B') => (c === undefined || c.side === 'tie' ? '' : c.side === s ? ' (chosen)' : ' (rejected)');
  const pieces: HoverPiece[] = [
    { kind: 'title', text: 'Labelled pair', ...(c ? { detail: c.side === 'tie' ? `tie, p = ${fixed2(c.p)}` : `chosen ${c.side}, p = ${fixed2(c.p)}` } : {}) },
    { kind: 'fields', fields },
    { kind: 'text', label: 'Prompt', text: p.prompt },
    { kind: 'text', label: `Response A${side('A')}`, text: p.responseA },
    { kind: 'text', label: `Response B${side('B')}`, text: p.responseB },
  ];
  if (p.reasoning !== undefined) pieces.push({ kind: 'text', label: 'Reasoning', text: p.reasoning });
  return pieces;
}

export function revisionHover(r: RevisionView): HoverPiece[] {
  const fields: Array<{ label: string; value: string }> = [];
  if (r.id !== undefined) fields.push({ label: 'id', value: r.id });
  if (r.promptId !== undefined) fields.push({ label: 'prompt id', value: r.promptId });
  const pieces: HoverPiece[] = [
    { kind: 'title', text: 'Critique → revision', detail: revisionSummary(r) },
    { kind: 'fields', fields },
    { kind: 'text', label: 'Prompt', text: r.prompt },
    { kind: 'text', label: 'Initial response', text: r.initial },
  ];
  r.rounds.forEach((x, i) => {
    const n = x.round ?? i + 1;
    pieces.push({ kind: 'fields', fields: [{ label: `Round ${n} principle`, value: x.principle ?? '?' }] });
    if (x.critique !== '') pieces.push({ kind: 'text', label: `Round ${n} critique`, text: x.critique });
    pieces.push({ kind: 'text', label: `Round ${n} revision`, text: x.revision });
  });
  const last = r.rounds[r.rounds.length - 1]?.revision ?? r.initial;
  if (r.final !== last || r.final === undefined) pieces.push({ kind: 'text', label: 'Final', text: r.final });
  return pieces;
}

/** The hover pieces for a line, or undefined when it gets none. */
export function lineHover(info: LineInfo): HoverPiece[] | undefined {
  if (info.kind === 'pair') return pairHover(info.pair);
  if (info.kind === 'revision') return revisionHover(info.revision);
  return undefined;
}

/** Backslash-escapes every ASCII punctuation character (CommonMark: any of them may be escaped), so text of ours never turns into markup. */
export function escapeMarkdown(s: string): string {
  return oneLine(s, 400).replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, '\\$&');
}

const longestRun = (s: string, ch: string) => {
  let best = 0;
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ch) best = Math.max(best, ++run);
    else run = 0;
  }
  return best;
};

/** A code span showing `s` literally on one line (delimiters longer than any run of backticks inside). */
export function codeSpan(s: string, max = 200): string {
  const text = oneLine(s, max);
  if (text === '') return '*(empty)*';
  const fence = '`'.repeat(longestRun(text, '`') + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || text.startsWith(' ') || text.endsWith(' ') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A fenced code block showing `s` literally (a fence longer than any run of backticks inside), cut at `max` characters. */
export function codeBlock(s: string, max = HOVER_TEXT_MAX): string {
  const head = s.length > max ? cut(s, max) : s;
  const text = revealInvisible(head);
  const fence = '`'.repeat(Math.max(3, longestRun(text, '`') + 1));
  const more = s.length - head.length;
  return `${fence}text\n${text}\n${fence}${more > 0 ? `\n\n*… ${more.toLocaleString('en-US')} more characters*` : ''}`;
}

/** Markdown for hover pieces: our labels escaped, every value in a code span, every text in a code block. No HTML, no links. */
export function hoverMarkdown(pieces: readonly HoverPiece[], maxText = HOVER_TEXT_MAX): string {
  const out: string[] = [];
  for (const p of pieces) {
    if (p.kind === 'title') out.push(`**${escapeMarkdown(p.text)}**${p.detail !== undefined ? ` · ${escapeMarkdown(p.detail)}` : ''}`);
    else if (p.kind === 'fields') {
      if (p.fields.length) out.push(p.fields.map((f) => `- ${escapeMarkdown(f.label)}: ${codeSpan(f.value)}`).join('\n'));
    } else out.push(`${escapeMarkdown(p.label)}:`, p.text === undefined ? '*(missing)*' : p.text === '' ? '*(empty)*' : codeBlock(p.text, maxText));
  }
  return out.join('\n\n');
}

/**
 * A markdown link that runs one of our commands with JSON arguments (`command:id?args`), the
 * arguments percent-encoded including the characters encodeURIComponent leaves (`(`, `)`, `'`,
 * `!`, `*`), so nothing in them can end the link. The host must trust only this command.
 */
export function commandLink(label: string, command: string, args: readonly unknown[]): string {
  const q = encodeURIComponent(JSON.stringify(args)).replace(/[()'!*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `[${escapeMarkdown(label)}](command:${command}?${q})`;
}

// ---------------------------------------------------------------------------------------------
// Diagnostics.

export type InlineSeverity = 'error' | 'warning' | 'information';

export interface LineDiagnostic {
  /** 0-based line. */
  line: number;
  /** 0-based column where the problem starts (the JSON error's position), else the line's start. */
  column?: number;
  severity: InlineSeverity;
  code: 'invalid-json' | 'torn-line' | 'missing-id' | 'not-a-record' | 'bad-field' | 'duplicate-id' | 'too-many';
  message: string;
}

/**
 * Checks a JSONL file line by line (feed lines with `add`, in order, then call `finish`), by the
 * rules of docs/run-format.md: a line that is not a JSON object is an error (a reader stops
 * there), except a torn last line (a warning: readers skip it); a record without a string id is an
 * error; a record of the wrong kind or with wrong fields is a warning; a repeated id is noted
 * (readers keep the first). At most `max` diagnostics, then one that counts the rest.
 */
export class JsonlChecker {
  private readonly diags: LineDiagnostic[] = [];
  private readonly ids = new Map<string, number>();
  private lastNonBlank = -1;
  private lastInvalid: LineDiagnostic | undefined;
  private dropped = 0;
  private firstDropped = -1;

  constructor(
    readonly expected: InlineRecordKind,
    private readonly max = 1000,
  ) {}

  /** Checks one line (0-based `line`) and returns what it holds. */
  add(text: string, line: number): LineInfo {
    const info = parseLine(text);
    if (info.kind === 'blank') return info;
    this.lastNonBlank = line;
    if (info.kind === 'invalid') {
      const d: LineDiagnostic = { line, severity: 'error', code: 'invalid-json', message: `${info.message}: a run reader stops at this line`, ...(info.column !== undefined ? { column: info.column } : {}) };
      this.lastInvalid = d;
      this.push(d);
      return info;
    }
    const what = this.expected === 'pair' ? 'pair record' : 'revision record';
    if (info.id === undefined) this.push({ line, severity: 'error', code: 'missing-id', message: `record without a string "id": a run reader stops at this line` });
    else {
      const first = this.ids.get(info.id);
      if (first === undefined) this.ids.set(info.id, line);
      else this.push({ line, severity: 'information', code: 'duplicate-id', message: `id "${oneLine(info.id, 40)}" is also on line ${first + 1}: readers keep that first record and ignore this one` });
    }
    if (info.kind !== this.expected) {
      const hint = this.expected === 'pair' ? 'response_a, response_b and p_a' : 'initial_response and rounds';
      this.push({ line, severity: 'warning', code: 'not-a-record', message: `not a ${what} (no ${hint})` });
    } else if (info.problems.length) {
      const shown = info.problems.slice(0, 6).join('; ');
      this.push({ line, severity: 'warning', code: 'bad-field', message: `incomplete ${what}: ${shown}${info.problems.length > 6 ? `; and ${info.problems.length - 6} more` : ''}` });
    }
    return info;
  }

  private push(d: LineDiagnostic): void {
    if (this.diags.length < this.max) this.diags.push(d);
    else {
      if (this.dropped === 0) this.firstDropped = d.line;
      this.dropped++;
    }
  }

  /** The diagnostics, in line order. */
  finish(): LineDiagnostic[] {
    const last = this.lastInvalid;
    if (last && last.line === this.lastNonBlank && this.diags.includes(last)) {
      last.severity = 'warning';
      last.code = 'torn-line';
      last.message = `torn last line, ${last.message.replace(/: a run reader stops at this line$/, '')}: readers skip it, and the next append cuts it off`;
    }
    const out = [...this.diags];
    if (this.dropped > 0) out.push({ line: this.firstDropped, severity: 'information', code: 'too-many', message: `${plural(this.dropped, 'more problem', 'more problems')} from here on not shown` });
    return out;
  }
}

/** Checks a whole text at once (tests and small files; the editor feeds JsonlChecker in slices). */
export function checkJsonl(text: string, expected: InlineRecordKind, max?: number): LineDiagnostic[] {
  const checker = new JsonlChecker(expected, max);
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) checker.add(lines[i] as string, i);
  return checker.finish();
}

// ---------------------------------------------------------------------------------------------
// Per-principle statistics of a run.

/** AI labels drawn with one comparison principle. */
export interface LabelStats {
  labels: number;
  /** Sum of max(p, 1 − p) over the labels. */
  confidenceSum: number;
  /** Labels asked in both orders (the ones where flipped means something). */
  bothOrders: number;
  /** Of those, labels whose preferred position changed with the swap. */
  flips: number;
}

/** Critique → revision rounds drawn with one critique principle. */
export interface RoundStats {
  rounds: number;
  /** Red-team prompts (revision records) with at least one such round. */
  prompts: number;
  /** Rounds with no critique written (direct revision). */
  direct: number;
}

/** Accumulates pairs.jsonl records by their comparison principle; the first record of each id counts, later copies do not. */
export class LabelStatsAccumulator {
  private readonly by = new Map<string, LabelStats>();
  private readonly seen = new Set<string>();
  records = 0;

  add(record: unknown): void {
    if (typeof record !== 'object' || record === null) return;
    const r = record as Record<string, unknown>;
    const id = r['id'];
    const principle = r['principle'];
    const p = r['p_a'];
    if (typeof id !== 'string' || typeof principle !== 'string' || !isProbability(p) || this.seen.has(id)) return;
    this.seen.add(id);
    this.records++;
    let s = this.by.get(principle);
    if (!s) this.by.set(principle, (s = { labels: 0, confidenceSum: 0, bothOrders: 0, flips: 0 }));
    s.labels++;
    s.confidenceSum += Math.max(p, 1 - p);
    if (isProbability(r['p_a_reversed'])) {
      s.bothOrders++;
      if (r['flipped'] === true) s.flips++;
    }
  }

  get(principle: string): LabelStats | undefined {
    return this.by.get(principle);
  }

  ids(): string[] {
    return [...this.by.keys()];
  }
}

/** Accumulates revisions.jsonl records by the critique principle of each round; first record of each id only. */
export class RoundStatsAccumulator {
  private readonly by = new Map<string, RoundStats>();
  private readonly seen = new Set<string>();
  records = 0;

  add(record: unknown): void {
    if (typeof record !== 'object' || record === null) return;
    const r = record as Record<string, unknown>;
    const id = r['id'];
    const rounds = r['rounds'];
    if (typeof id !== 'string' || !Array.isArray(rounds) || this.seen.has(id)) return;
    this.seen.add(id);
    this.records++;
    const used = new Set<string>();
    for (const round of rounds as unknown[]) {
      if (typeof round !== 'object' || round === null) continue;
      const o = round as Record<string, unknown>;
      const principle = o['principle'];
      if (typeof principle !== 'string') continue;
      let s = this.by.get(principle);
      if (!s) this.by.set(principle, (s = { rounds: 0, prompts: 0, direct: 0 }));
      s.rounds++;
      if (o['critique'] === '') s.direct++;
      if (!used.has(principle)) {
        used.add(principle);
        s.prompts++;
      }
    }
  }

  get(principle: string): RoundStats | undefined {
    return this.by.get(principle);
  }

  ids(): string[] {
    return [...this.by.keys()];
  }
}

/** Statistics of every principle id found in a run's pair and revision records. */
export function principleStats(pairs: Iterable<unknown>, revisions: Iterable<unknown> = []): { labels: LabelStatsAccumulator; rounds: RoundStatsAccumulator } {
  const labels = new LabelStatsAccumulator();
  const rounds = new RoundStatsAccumulator();
  for (const p of pairs) labels.add(p);
  for (const r of revisions) rounds.add(r);
  return { labels, rounds };
}

/** `312 labels · mean confidence 0.71 · flips 9 %` (no flips part when no label was asked in both orders). */
export function formatLabelStats(s: LabelStats): string {
  if (s.labels === 0) return 'no labels';
  const parts = [plural(s.labels, 'label', 'labels'), `mean confidence ${fixed2(s.confidenceSum / s.labels)}`];
  if (s.bothOrders > 0) parts.push(`flips ${Math.round((100 * s.flips) / s.bothOrders)} %`);
  return parts.join(' · ');
}

/** `41 critique rounds · 38 prompts` (and `· 5 direct` when some rounds wrote no critique). */
export function formatRoundStats(s: RoundStats): string {
  if (s.rounds === 0) return 'no critique rounds';
  const parts = [plural(s.rounds, 'critique round', 'critique rounds'), plural(s.prompts, 'prompt', 'prompts')];
  if (s.direct > 0) parts.push(s.direct === s.rounds ? 'all direct' : `${s.direct.toLocaleString('en-US')} direct`);
  return parts.join(' · ');
}

/**
 * The statistics line of one principle or comparison of a constitution: its labels when pairs used
 * it, else its critique rounds, else that the run did not use it.
 */
export function principleLensText(kind: 'principle' | 'comparison', labels: LabelStats | undefined, rounds: RoundStats | undefined): string {
  if (labels && labels.labels > 0) return formatLabelStats(labels) + (rounds && rounds.rounds > 0 ? ` · ${formatRoundStats(rounds)}` : '');
  if (rounds && rounds.rounds > 0) return formatRoundStats(rounds);
  return kind === 'comparison' ? 'no labels in the latest run' : 'no critique rounds in the latest run';
}
