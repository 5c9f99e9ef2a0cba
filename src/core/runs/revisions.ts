// The critique → revision chain of one `revisions.jsonl` record as steps a viewer lists and
// diffs, and the text flags the Critiques panel puts on responses: evasive refusals and
// boilerplate phrases. Pure: no DOM, no files; the extension host and the webview both use it.

import type { RevisionRecord, RevisionRound } from './records.js';

// ---------------------------------------------------------------------------------------------
// Records as read from a file: every field may be missing or of the wrong type.

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/**
 * A `revisions.jsonl` record with every field coerced to its type (missing text → '', rounds that
 * are not objects dropped), or undefined when it has no string `id`. A viewer shows damaged
 * records rather than failing on them.
 */
export function normaliseRevision(raw: unknown): RevisionRecord | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r['id'] !== 'string') return undefined;
  const rounds: RevisionRound[] = [];
  if (Array.isArray(r['rounds'])) {
    r['rounds'].forEach((x: unknown, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) return;
      const o = x as Record<string, unknown>;
      rounds.push({
        round: typeof o['round'] === 'number' && Number.isFinite(o['round']) ? o['round'] : i + 1,
        principle: str(o['principle']),
        critique_request: str(o['critique_request']),
        critique: str(o['critique']),
        revision_request: str(o['revision_request']),
        revision: str(o['revision']),
      });
    });
  }
  const initial = str(r['initial_response']);
  const last = rounds.length ? rounds[rounds.length - 1]!.revision : initial;
  return {
    id: r['id'],
    prompt_id: str(r['prompt_id']),
    prompt: str(r['prompt']),
    initial_response: initial,
    rounds,
    final: typeof r['final'] === 'string' ? r['final'] : last,
  };
}

// ---------------------------------------------------------------------------------------------
// Steps of the chain.

export type StepKind = 'initial' | 'critique' | 'revision' | 'final';

/**
 * One step of a chain. Keys are stable and readable: `initial`, `critique-N`, `revision-N` (N the
 * round's 1-based position in the record) and `final`; they name steps in the diff editor's URIs.
 */
export interface ChainStep {
  key: string;
  kind: StepKind;
  /** 1-based position of the round (critique and revision steps). */
  round?: number;
  /** The round's principle id (critique and revision steps). */
  principle?: string;
  /** What the model was asked for this step (critique and revision steps). */
  request?: string;
  /** Short human label, e.g. `Round 2 revision`. */
  label: string;
  text: string;
  /** The step is a response to the prompt (initial, revisions, final): the flags apply to it. */
  response: boolean;
}

const STEP_KEY = /^(initial|final|(critique|revision)-([1-9]\d{0,5}))$/;

/** Whether `key` has the shape of a step key (it may still not exist in a given record). */
export function isStepKey(key: unknown): key is string {
  return typeof key === 'string' && STEP_KEY.test(key);
}

/**
 * The steps of a record in order: the initial response; per round its critique (left out when
 * empty: direct revision) and its revision; and the final response when it differs from the last
 * step's text (it normally equals the last revision).
 */
export function chainSteps(rec: RevisionRecord): ChainStep[] {
  const steps: ChainStep[] = [{ key: 'initial', kind: 'initial', label: 'Initial response', text: rec.initial_response, response: true }];
  rec.rounds.forEach((r, i) => {
    const n = i + 1;
    if (r.critique !== '') steps.push({ key: `critique-${n}`, kind: 'critique', round: n, principle: r.principle, request: r.critique_request, label: `Round ${n} critique`, text: r.critique, response: false });
    steps.push({ key: `revision-${n}`, kind: 'revision', round: n, principle: r.principle, request: r.revision_request, label: `Round ${n} revision`, text: r.revision, response: true });
  });
  const lastResponse = rec.rounds.length ? rec.rounds[rec.rounds.length - 1]!.revision : rec.initial_response;
  if (rec.final !== lastResponse) steps.push({ key: 'final', kind: 'final', label: 'Final response', text: rec.final, response: true });
  return steps;
}

/** The text of step `key` of a record (`final` always resolves), or undefined when the record has no such step. */
export function stepText(rec: RevisionRecord, key: string): string | undefined {
  if (key === 'final') return rec.final;
  if (key === 'initial') return rec.initial_response;
  const m = STEP_KEY.exec(key);
  if (!m || !m[3]) return undefined;
  const r = rec.rounds[Number(m[3]) - 1];
  if (!r) return undefined;
  return m[2] === 'critique' ? r.critique : r.revision;
}

/** A label for step `key` (also for keys a record lacks). */
export function stepLabel(key: string): string {
  if (key === 'initial') return 'Initial response';
  if (key === 'final') return 'Final response';
  const m = STEP_KEY.exec(key);
  return m && m[3] ? `Round ${m[3]} ${m[2]}` : key;
}

// ---------------------------------------------------------------------------------------------
// Flags.
//
// A small, documented list of phrases, matched case-insensitively (straight or curly
// apostrophes), on responses only (the initial response, revisions, the final response; not on
// critiques, which quote and discuss such phrases).
//
// - evasive: a refusal (REFUSALS) in a response that gives neither a reason (REASON_CUES:
//   "because", "since", "as it …", "due to", "could hurt/harm …") nor an alternative
//   (ALTERNATIVE_CUES: "instead", "you could", "you might", "I can help with", "consider", …).
//   Every refusal phrase of such a response is flagged. The same reading as the built-in world's
//   oracle (docs/built-in-world.md): a refusal that explains itself or points elsewhere is not
//   evasive.
// - boilerplate: AI self-reference ("As an AI language model", "I'm just an AI"), filler
//   ("It's important to note", "I hope this helps"), and over-apologising: any apology phrase
//   when a response apologises twice or more, and "I apologize for any confusion/inconvenience"
//   always.

export type FlagKind = 'evasive' | 'boilerplate';

export interface TextFlag {
  kind: FlagKind;
  /** Id of the rule that matched, e.g. `refusal`, `ai-self-reference`, `over-apologising`. */
  rule: string;
  /** What the rule means, for a tooltip. */
  description: string;
  /** UTF-16 offsets of the matched span in the text. */
  start: number;
  end: number;
  /** The matched text. */
  match: string;
}

interface Rule {
  rule: string;
  description: string;
  re: RegExp;
}

// An apostrophe: straight, curly or modifier letter.
const A = "['\u2019\u02bc]";
const I_AM = `(?:i${A}m|i am)`;

/** Refusal phrases (an evasive answer has one of these and no reason or alternative). */
export const REFUSALS: readonly string[] = [
  "I can't / cannot / won't / will not help, assist, do, provide, answer …",
  "I'm not able / unable to …",
  "I'm sorry, but I can't …",
  "That's not something I can help with",
  'I must decline / I have to decline',
];
const REFUSAL_RE = new RegExp(
  [
    `\\b(?:(?:i${A}m )?sorry,? (?:but )?)?i (?:can${A}?not|can${A}t|cannot|won${A}t|will not|must not)(?: be able to)? (?:help|assist|do|provide|answer|support|comply|engage|give|share|go along)\\b`,
    `\\b(?:(?:i${A}m )?sorry,? (?:but )?)?${I_AM} (?:not able|unable|not going) to (?:help|assist|do|provide|answer|support|comply|engage|give|share)\\b`,
    `\\bthat${A}?s not something i (?:can|will|am able to) (?:help|assist|do)(?: with)?\\b`,
    `\\bi (?:must|have to|need to) (?:respectfully )?decline\\b`,
    `\\bsorry,? i (?:can${A}?t|cannot|won${A}t) (?:do|help|assist)\\b`,
  ].join('|'),
  'gi',
);

/** A reason given for a refusal. */
export const REASON_CUES: readonly string[] = ['because', 'since', 'as it / as this / as that', 'due to', 'could / can / would / might (hurt|harm|injure|kill|endanger|be dangerous|be illegal)', 'is illegal / is dangerous / is harmful / is against'];
const REASON_RE = /\b(?:because|since|due to|as (?:it|this|that) (?:is|would|could|can|may|might)|(?:could|can|would|might|may) (?:seriously |badly )?(?:hurt|harm|injure|kill|endanger|be (?:dangerous|illegal|harmful|deadly))|(?:is|are|would be) (?:illegal|dangerous|harmful|unsafe|deadly|against))\b/i;

/** An alternative offered instead of what was refused. */
export const ALTERNATIVE_CUES: readonly string[] = ['instead', 'you could / you can / you might / you may want to', 'I can help with / I could help / I would be happy to / I’d be glad to', 'consider', 'alternatively', 'try', 'a better / safer option'];
const ALTERNATIVE_RE = new RegExp(
  `\\b(?:instead|alternatively|you (?:could|can|might|may want to|should)|(?<!something )i (?:can|could) (?:help|suggest|offer|point)|(?:i would|i${A}d) (?:be (?:happy|glad) to|suggest|recommend)|consider|try|(?:a )?(?:better|safer) (?:option|way|alternative))\\b`,
  'i',
);

const BOILERPLATE: readonly Rule[] = [
  { rule: 'ai-self-reference', description: 'AI self-reference ("As an AI language model", "I\'m just an AI")', re: new RegExp(`\\bas an? (?:ai|artificial intelligence)(?: (?:language )?model| assistant| chatbot)?\\b|\\b(?:${I_AM}|i${A}m) (?:just|only|merely) an? (?:ai|artificial intelligence|language model|bot|machine)\\b|\\bbeing an ai\\b`, 'gi') },
  { rule: 'important-to-note', description: 'Filler ("It\'s important to note", "It is important to remember")', re: new RegExp(`\\bit(?:${A}s| is) (?:important|worth|crucial|essential) (?:to )?(?:note|noting|remember|mention|mentioning|keep in mind)\\b`, 'gi') },
  { rule: 'hope-this-helps', description: 'Filler ("I hope this helps")', re: /\bi hope (?:this|that) helps\b/gi },
  { rule: 'apology-filler', description: 'Apology filler ("I apologize for any confusion")', re: /\b(?:i apologi[sz]e|my apologies|sorry) for (?:any|the) (?:confusion|inconvenience|misunderstanding)\b/gi },
];

const APOLOGY_RE = new RegExp(`\\b(?:${I_AM} (?:so |very |really |truly )?sorry|i apologi[sz]e|my apologies|(?:please )?forgive me|sorry)\\b`, 'gi');

/** The boilerplate phrases, for the panel's legend. */
export const BOILERPLATE_RULES: readonly { rule: string; description: string }[] = [
  ...BOILERPLATE.map(({ rule, description }) => ({ rule, description })),
  { rule: 'over-apologising', description: 'Over-apologising: two or more apologies in one response' },
];

function matches(text: string, re: RegExp): { start: number; end: number; match: string }[] {
  const out: { start: number; end: number; match: string }[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    out.push({ start: m.index, end: m.index + m[0].length, match: m[0] });
  }
  return out;
}

/** Whether a response with a refusal is evasive: it gives no reason and no alternative. */
export function isEvasive(text: string): boolean {
  return matches(text, REFUSAL_RE).length > 0 && !REASON_RE.test(text) && !ALTERNATIVE_RE.test(text);
}

/**
 * The flags of one response's text, in text order, without overlaps (where two rules match the
 * same span, the earlier-starting, then longer match is kept).
 */
export function findFlags(text: string): TextFlag[] {
  const found: TextFlag[] = [];
  const refusals = matches(text, REFUSAL_RE);
  if (refusals.length && !REASON_RE.test(text) && !ALTERNATIVE_RE.test(text)) {
    for (const m of refusals) found.push({ kind: 'evasive', rule: 'refusal', description: 'Refusal without a reason or an alternative', ...m });
  }
  for (const r of BOILERPLATE) for (const m of matches(text, r.re)) found.push({ kind: 'boilerplate', rule: r.rule, description: r.description, ...m });
  const apologies = matches(text, APOLOGY_RE);
  if (apologies.length >= 2) for (const m of apologies) found.push({ kind: 'boilerplate', rule: 'over-apologising', description: `Over-apologising (${apologies.length} apologies in one response)`, ...m });
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: TextFlag[] = [];
  let end = -1;
  for (const f of found) {
    if (f.start < end) continue;
    out.push(f);
    end = f.end;
  }
  return out;
}

/** A text split at its flags: plain runs and flagged runs, covering the whole text in order. */
export type FlagSegment = { text: string; flag?: TextFlag };

export function segmentByFlags(text: string, flags: readonly TextFlag[]): FlagSegment[] {
  const out: FlagSegment[] = [];
  let pos = 0;
  for (const f of flags) {
    if (f.start < pos || f.end > text.length) continue;
    if (f.start > pos) out.push({ text: text.slice(pos, f.start) });
    out.push({ text: text.slice(f.start, f.end), flag: f });
    pos = f.end;
  }
  if (pos < text.length || out.length === 0) out.push({ text: text.slice(pos) });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Light rows for long lists.

/** What a list of thousands of records keeps per record; the full chain is read on selection. */
export interface CritiqueRow {
  id: string;
  /** Byte offset of the record's line in revisions.jsonl (for readRecordAt). */
  offset: number;
  prompt_id: string;
  /** The prompt, cut to ROW_PROMPT_CHARS. */
  prompt: string;
  rounds: number;
  /** Principle ids of the rounds, in order (each cut to 120 characters). */
  principles: string[];
  /** The initial response is evasive / the final one is. */
  evasiveInitial: boolean;
  evasiveFinal: boolean;
  /** Boilerplate flags over every response of the chain. */
  boilerplate: number;
  /** The final response differs from the initial one. */
  changed: boolean;
}

export const ROW_PROMPT_CHARS = 300;

export function critiqueRow(rec: RevisionRecord, offset: number): CritiqueRow {
  let boilerplate = 0;
  for (const s of chainSteps(rec)) if (s.response) boilerplate += findFlags(s.text).filter((f) => f.kind === 'boilerplate').length;
  return {
    id: rec.id,
    offset,
    prompt_id: rec.prompt_id,
    prompt: rec.prompt.length > ROW_PROMPT_CHARS ? `${rec.prompt.slice(0, ROW_PROMPT_CHARS - 1)}…` : rec.prompt,
    rounds: rec.rounds.length,
    principles: rec.rounds.map((r) => (r.principle.length > 120 ? `${r.principle.slice(0, 119)}…` : r.principle)),
    evasiveInitial: isEvasive(rec.initial_response),
    evasiveFinal: isEvasive(rec.final),
    boilerplate,
    changed: rec.final !== rec.initial_response,
  };
}
