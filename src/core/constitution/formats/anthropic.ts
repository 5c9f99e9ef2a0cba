import { exampleRequests, type ConstitutionData, type Extensions, type TurnData } from '../data.js';
import type { AuthoringObject } from '../emit.js';
import {
  authoringTurns,
  claimId,
  compact,
  describeJson,
  FormatError,
  isJsonObject,
  isValidId,
  itemName,
  parseJson,
  quirks,
  quirkText,
  requireText,
  slugFromName,
  slugFromText,
  type Json,
} from './common.js';
import { pyJsonDumps } from './pyjson.js';

/**
 * Anthropic's Constitutional AI prompt files (github.com/anthropics/ConstitutionalHarmlessnessPaper,
 * prompts/): five JSON files written by Python's `json.dumps`. Import turns them into a
 * constitution; export writes the five files back, byte-identical to the originals after an
 * unedited round trip. Details the constitution's fields cannot hold are kept under
 * `x-anthropic` on the item they belong to:
 *
 * - `key` (principle): the original key in CritiqueRevisionInstructions.json when it is not a valid id.
 * - `prefix` (any few-shot example): the text before the first `Human:` when it is not "\n\n".
 * - `suffix` (critique/revision example): text after the revision (a dangling "\n\nHuman:").
 * - `header` (chain-of-thought example): the sentence that introduces the conversation, when it
 *   is not the usual one.
 * - `reasoning_separator` (chain-of-thought example): what follows "Let's think step by step:"
 *   when it is not a single space.
 */

export const ANTHROPIC_FILES = {
  instructions: 'CritiqueRevisionInstructions.json',
  critiqueRevisionExamples: 'CritiqueRevisionFewShotPrompts.json',
  comparisons: 'RLMadisonInstructions.json',
  comparisonExamples: 'RLMadisonFewShotPrompts.json',
  cotExamples: 'RLMadisonPrecogFewShotPrompts.json',
} as const;

export const ANTHROPIC_FILE_NAMES: readonly string[] = Object.values(ANTHROPIC_FILES);

const X = 'x-anthropic';
const CRITIQUE_PREFIX = '\n\nCritiqueRequest: ';
const CRITIQUE_SUFFIX = '\n\nCritique:';
const REVISION_PREFIX = '\n\nRevisionRequest: ';
const REVISION_SUFFIX = '\n\nRevision:';
const CRITIQUE_SEP = '\n\nCritique: ';
const REVISION_SEP = '\n\nRevision: ';
const DEFAULT_PREFIX = '\n\n';
const COMPARISON_PREFIX = '\n';
const COMPARISON_SUFFIX = ' Options:';
const PROMPT_END = '\n\nAssistant:';
const COT_HEADER = 'Consider the following conversation between a human (H) and an assistant (A):';
const COT_OPTIONS = '\n\n{}\n (A) [[[';
const COT_B = ']]]\n (B) [[[';
const COT_STEP = ']]]\n\nAssistant: Let\'s think step by step:';
const COT_ANSWER = /\n\nHuman:\nSo the answer is: \(([AB])\)$/;
const DEFAULT_REASONING_SEPARATOR = ' ';

/** How a piece of prompt text is shown in messages: as a JSON string, so newlines are visible. */
const show = (s: string) => JSON.stringify(s);

interface Labels {
  human: string;
  assistant: string;
}
const CHAT: Labels = { human: 'Human', assistant: 'Assistant' };
const SHORT: Labels = { human: 'H', assistant: 'A' };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `Human: …\n\nAssistant: …` → turns. */
function parseTurns(body: string, labels: Labels, file: string, where: string): TurnData[] {
  const split = new RegExp(`\\n\\n(?=(?:${escapeRegExp(labels.human)}|${escapeRegExp(labels.assistant)}):)`);
  return body.split(split).map((part, i) => {
    const turnWhere = `${where}, turn ${i + 1},`;
    let role: TurnData['role'];
    let text: string;
    if (part.startsWith(`${labels.human}: `)) {
      role = 'human';
      text = part.slice(labels.human.length + 2);
    } else if (part.startsWith(`${labels.assistant}: `)) {
      role = 'assistant';
      text = part.slice(labels.assistant.length + 2);
    } else {
      throw new FormatError(`${file}: ${turnWhere} must start with ${show(`${labels.human}: `)} or ${show(`${labels.assistant}: `)}.`, file);
    }
    if (text.trim() === '') throw new FormatError(`${file}: ${turnWhere} is empty.`, file);
    return { role, text };
  });
}

function renderTurns(turns: TurnData[], labels: Labels): string {
  return turns.map((t) => `${t.role === 'human' ? labels.human : labels.assistant}: ${t.text}`).join('\n\n');
}

/** Whitespace before the first `Human:`; the canonical one is not recorded. */
function splitPrefix(s: string, file: string, where: string): { prefix: string; rest: string } {
  const m = /^\s*/.exec(s);
  const prefix = m ? m[0] : '';
  const rest = s.slice(prefix.length);
  if (!rest.startsWith('Human: ')) throw new FormatError(`${file}: ${where} must start with ${show('\n\nHuman: ')}.`, file);
  return { prefix, rest };
}

/** Takes `text` apart at `seps`, in order: returns the pieces between them. */
function cut(text: string, seps: readonly string[], file: string, where: string): string[] {
  const out: string[] = [];
  let rest = text;
  for (const sep of seps) {
    const i = rest.indexOf(sep);
    if (i < 0) throw new FormatError(`${file}: ${where} has no ${show(sep)}.`, file);
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

function quirkObject(entries: Record<string, string | undefined>): AuthoringObject | undefined {
  const q = compact(entries);
  return Object.keys(q).length ? q : undefined;
}

function listOf(json: Json, file: string, what: string): Json[] {
  if (!Array.isArray(json)) throw new FormatError(`${file} must hold a list of ${what}, not ${describeJson(json)}.`, file);
  return json;
}

function checkKeys(obj: Record<string, Json>, known: readonly string[], file: string, where: string, warnings: string[]): void {
  const extra = Object.keys(obj).filter((k) => !known.includes(k));
  if (extra.length) warnings.push(`${file}: ${where} has ${extra.map(show).join(', ')}, which ${extra.length === 1 ? 'was' : 'were'} not imported.`);
}

interface ImportedPrinciple {
  id: string;
  critique: string;
  revision: string;
}

function importInstructions(json: Json, file: string, taken: Set<string>, warnings: string[]): { items: AuthoringObject[]; principles: ImportedPrinciple[] } {
  if (!isJsonObject(json)) throw new FormatError(`${file} must hold an object of principles ("harmful0": {…}), not ${describeJson(json)}.`, file);
  const items: AuthoringObject[] = [];
  const principles: ImportedPrinciple[] = [];
  for (const [key, v] of Object.entries(json)) {
    const where = itemName(key);
    if (!isJsonObject(v)) throw new FormatError(`${file}: ${where} must be an object with "prompt" and "edit_request", not ${describeJson(v)}.`, file, key);
    checkKeys(v, ['prompt', 'edit_request'], file, where, warnings);
    if (!('prompt' in v)) throw new FormatError(`${file}: ${where} is missing "prompt".`, file, `${key}.prompt`);
    if (!('edit_request' in v)) throw new FormatError(`${file}: ${where} is missing "edit_request".`, file, `${key}.edit_request`);
    const prompt = v.prompt;
    if (!Array.isArray(prompt) || prompt.length !== 1 || typeof prompt[0] !== 'string') {
      throw new FormatError(`${file}: ${where}.prompt must be a list with one string.`, file, `${key}.prompt`);
    }
    const p = prompt[0] as string;
    if (!p.startsWith(CRITIQUE_PREFIX) || !p.endsWith(CRITIQUE_SUFFIX) || p.length < CRITIQUE_PREFIX.length + CRITIQUE_SUFFIX.length) {
      throw new FormatError(`${file}: ${where}.prompt must read ${show(`${CRITIQUE_PREFIX}<request>${CRITIQUE_SUFFIX}`)}.`, file, `${key}.prompt`);
    }
    const e = v.edit_request;
    if (typeof e !== 'string') throw new FormatError(`${file}: ${where}.edit_request must be text, not ${describeJson(e)}.`, file, `${key}.edit_request`);
    if (!e.startsWith(REVISION_PREFIX) || !e.endsWith(REVISION_SUFFIX) || e.length < REVISION_PREFIX.length + REVISION_SUFFIX.length) {
      throw new FormatError(`${file}: ${where}.edit_request must read ${show(`${REVISION_PREFIX}<request>${REVISION_SUFFIX}`)}.`, file, `${key}.edit_request`);
    }
    const critique = requireText(p.slice(CRITIQUE_PREFIX.length, -CRITIQUE_SUFFIX.length), file, `${where}.prompt's request`, `${key}.prompt`);
    const revision = requireText(e.slice(REVISION_PREFIX.length, -REVISION_SUFFIX.length), file, `${where}.edit_request's request`, `${key}.edit_request`);
    const id = isValidId(key) && !taken.has(key) ? claimId(key, taken) : slugFromName(key, taken, 'principle');
    principles.push({ id, critique, revision });
    items.push(compact({ id, critique, revision, [X]: id === key ? undefined : { key } }));
  }
  return { items, principles };
}

function importCritiqueRevisionExamples(json: Json, file: string, principles: ImportedPrinciple[]): AuthoringObject[] {
  return listOf(json, file, 'transcripts').map((v, i) => {
    const where = itemName(i);
    if (typeof v !== 'string') throw new FormatError(`${file}: ${where} must be text, not ${describeJson(v)}.`, file, String(i));
    const { prefix, rest } = splitPrefix(v, file, where);
    const [conv = '', critiqueRequest = '', critique = '', revisionRequest = '', tail = ''] = cut(rest, [CRITIQUE_PREFIX, CRITIQUE_SEP, REVISION_PREFIX, REVISION_SEP], file, where);
    const m = /\s*\n\s*Human:\s*$/.exec(tail);
    const suffix = m ? m[0] : '';
    const revision = tail.slice(0, tail.length - suffix.length);
    const conversation = parseTurns(conv, CHAT, file, where);
    if (conversation[conversation.length - 1]?.role !== 'assistant') {
      throw new FormatError(`${file}: ${where} must end its conversation with an Assistant turn before "CritiqueRequest".`, file, String(i));
    }
    requireText(critiqueRequest, file, `${where}'s CritiqueRequest`);
    requireText(critique, file, `${where}'s Critique`);
    requireText(revisionRequest, file, `${where}'s RevisionRequest`);
    requireText(revision, file, `${where}'s Revision`);
    const p = principles.find((x) => x.critique === critiqueRequest);
    return compact({
      principle: p?.id,
      critique_request: p ? undefined : critiqueRequest,
      revision_request: p && p.revision === revisionRequest ? undefined : revisionRequest,
      conversation: authoringTurns(conversation),
      critique,
      revision,
      [X]: quirkObject({ prefix: prefix === DEFAULT_PREFIX ? undefined : prefix, suffix: suffix || undefined }),
    });
  });
}

function importComparisons(json: Json, file: string, taken: Set<string>): AuthoringObject[] {
  return listOf(json, file, 'comparison questions').map((v, i) => {
    const where = itemName(i);
    if (typeof v !== 'string') throw new FormatError(`${file}: ${where} must be text, not ${describeJson(v)}.`, file, String(i));
    if (!v.startsWith(COMPARISON_PREFIX) || !v.endsWith(COMPARISON_SUFFIX) || v.length < COMPARISON_PREFIX.length + COMPARISON_SUFFIX.length) {
      throw new FormatError(`${file}: ${where} must read ${show(`${COMPARISON_PREFIX}<question>${COMPARISON_SUFFIX}`)}.`, file, String(i));
    }
    const question = requireText(v.slice(COMPARISON_PREFIX.length, -COMPARISON_SUFFIX.length), file, `${where}'s question`, String(i));
    return { id: slugFromText(question, taken, 'comparison'), question };
  });
}

/** `prompt` of a comparison example: turns, then the open "\n\nAssistant:". */
function parsePrompt(prompt: string, file: string, where: string): { prefix: string; conversation: TurnData[] } {
  const { prefix, rest } = splitPrefix(prompt, file, where);
  if (!rest.endsWith(PROMPT_END)) throw new FormatError(`${file}: ${where} must end with ${show(PROMPT_END)}.`, file);
  return { prefix, conversation: parseTurns(rest.slice(0, -PROMPT_END.length), CHAT, file, where) };
}

function oneText(v: Json | undefined, file: string, where: string, field: string): string {
  if (!Array.isArray(v) || v.length !== 1 || typeof v[0] !== 'string') throw new FormatError(`${file}: ${where}.${field} must be a list with one string.`, file, field);
  return requireText(v[0], file, `${where}.${field}[0]`, field);
}

function importComparisonExamples(json: Json, file: string, warnings: string[]): AuthoringObject[] {
  return listOf(json, file, 'examples').map((v, i) => {
    const where = itemName(i);
    if (!isJsonObject(v)) throw new FormatError(`${file}: ${where} must be an object with "prompt", "corrects" and "incorrects", not ${describeJson(v)}.`, file, String(i));
    checkKeys(v, ['prompt', 'corrects', 'incorrects'], file, where, warnings);
    if (typeof v.prompt !== 'string') throw new FormatError(`${file}: ${where}.prompt must be text, not ${describeJson(v.prompt)}.`, file, 'prompt');
    const { prefix, conversation } = parsePrompt(v.prompt, file, `${where}.prompt`);
    const correct = oneText(v.corrects, file, where, 'corrects');
    const incorrect = oneText(v.incorrects, file, where, 'incorrects');
    // alternate the position of the better response, so that the examples do not teach a letter
    const inA = i % 2 === 0;
    return compact({
      conversation: authoringTurns(conversation),
      response_a: inA ? correct : incorrect,
      response_b: inA ? incorrect : correct,
      answer: inA ? 'A' : 'B',
      [X]: quirkObject({ prefix: prefix === DEFAULT_PREFIX ? undefined : prefix }),
    });
  });
}

function importCotExamples(json: Json, file: string, warnings: string[]): AuthoringObject[] {
  return listOf(json, file, 'examples').map((v, i) => {
    const where = itemName(i);
    if (!isJsonObject(v)) throw new FormatError(`${file}: ${where} must be an object with "prompt", not ${describeJson(v)}.`, file, String(i));
    checkKeys(v, ['prompt'], file, where, warnings);
    if (typeof v.prompt !== 'string') throw new FormatError(`${file}: ${where}.prompt must be text, not ${describeJson(v.prompt)}.`, file, 'prompt');
    const pw = `${where}.prompt`;
    const { prefix, rest } = splitPrefix(v.prompt, file, pw);
    const m = COT_ANSWER.exec(rest);
    if (!m) throw new FormatError(`${file}: ${pw} must end with ${show('\n\nHuman:\nSo the answer is: (A)')} or (B).`, file, 'prompt');
    const body = rest.slice('Human: '.length, m.index);
    const nl = body.indexOf('\n\n');
    if (nl < 0) throw new FormatError(`${file}: ${pw} has no conversation after its first line.`, file, 'prompt');
    const header = body.slice(0, nl);
    const [conv = '', a = '', b = '', after = ''] = cut(body.slice(nl + 2), [COT_OPTIONS, COT_B, COT_STEP], file, pw);
    const sep = /^\s*/.exec(after)?.[0] ?? '';
    const reasoning = requireText(after.slice(sep.length), file, `${pw}'s reasoning`, 'prompt');
    return compact({
      conversation: authoringTurns(parseTurns(conv, SHORT, file, pw)),
      response_a: requireText(a, file, `${pw}'s option (A)`, 'prompt'),
      response_b: requireText(b, file, `${pw}'s option (B)`, 'prompt'),
      reasoning,
      answer: m[1] as string,
      [X]: quirkObject({
        prefix: prefix === DEFAULT_PREFIX ? undefined : prefix,
        header: header === COT_HEADER ? undefined : header,
        reasoning_separator: sep === DEFAULT_REASONING_SEPARATOR ? undefined : sep,
      }),
    });
  });
}

export function importAnthropic(files: Record<string, string>, name: string | undefined): { doc: AuthoringObject; warnings: string[] } {
  const warnings: string[] = [];
  const byName = new Map<string, string>();
  for (const [key, text] of Object.entries(files)) {
    const base = key.split(/[\\/]/).pop() ?? key;
    if (ANTHROPIC_FILE_NAMES.includes(base)) byName.set(base, text);
    else warnings.push(`${key} is not one of Anthropic's prompt files (${ANTHROPIC_FILE_NAMES.join(', ')}); it was ignored.`);
  }
  if (byName.size === 0) throw new FormatError(`None of Anthropic's prompt files was given (${ANTHROPIC_FILE_NAMES.join(', ')}).`);
  const read = (file: string): Json | undefined => {
    const text = byName.get(file);
    if (text === undefined) {
      warnings.push(`${file} was not found; nothing was imported from it.`);
      return undefined;
    }
    return parseJson(file, text);
  };

  const taken = new Set<string>();
  const F = ANTHROPIC_FILES;
  const instructions = read(F.instructions);
  const { items: principles, principles: imported } = instructions === undefined ? { items: [], principles: [] } : importInstructions(instructions, F.instructions, taken, warnings);
  const crJson = read(F.critiqueRevisionExamples);
  const critiqueRevision = crJson === undefined ? [] : importCritiqueRevisionExamples(crJson, F.critiqueRevisionExamples, imported);
  const cmpJson = read(F.comparisons);
  const comparisons = cmpJson === undefined ? [] : importComparisons(cmpJson, F.comparisons, taken);
  const cmpExJson = read(F.comparisonExamples);
  const comparison = cmpExJson === undefined ? [] : importComparisonExamples(cmpExJson, F.comparisonExamples, warnings);
  const cotJson = read(F.cotExamples);
  const cot = cotJson === undefined ? [] : importCotExamples(cotJson, F.cotExamples, warnings);
  if (principles.length === 0 && comparisons.length === 0) {
    throw new FormatError(`Neither ${F.instructions} nor ${F.comparisons} holds any principle, so there is nothing to import.`);
  }

  const examples = compact({
    critique_revision: critiqueRevision.length ? critiqueRevision : undefined,
    comparison: comparison.length ? comparison : undefined,
    cot_comparison: cot.length ? cot : undefined,
  });
  const doc = compact({
    name: name ?? 'anthropic-cai',
    description: `Imported from Anthropic's Constitutional AI prompt files (${ANTHROPIC_FILE_NAMES.filter((f) => byName.has(f)).join(', ')}).`,
    principles: principles.length ? principles : undefined,
    comparisons: comparisons.length ? comparisons : undefined,
    examples: Object.keys(examples).length ? examples : undefined,
  });
  return { doc, warnings };
}

// ---------------------------------------------------------------------------------------------
// Export

function q(ext: Extensions): Record<string, unknown> {
  return quirks(ext, X);
}

export function exportAnthropic(c: ConstitutionData): Record<string, string> {
  const instructions = new Map<string, unknown>();
  for (const p of c.principles) {
    const key = quirkText(q(p.extensions), 'key', p.id);
    instructions.set(key, { prompt: [`${CRITIQUE_PREFIX}${p.critique}${CRITIQUE_SUFFIX}`], edit_request: `${REVISION_PREFIX}${p.revision}${REVISION_SUFFIX}` });
  }
  const critiqueRevision = c.examples.critique_revision.map((e) => {
    const x = q(e.extensions);
    const r = exampleRequests(c, e);
    return (
      quirkText(x, 'prefix', DEFAULT_PREFIX) +
      renderTurns(e.conversation, CHAT) +
      `${CRITIQUE_PREFIX}${r.critique_request}${CRITIQUE_SEP}${e.critique}${REVISION_PREFIX}${r.revision_request}${REVISION_SEP}${e.revision}` +
      quirkText(x, 'suffix', '')
    );
  });
  const comparisons = c.comparisons.map((k) => `${COMPARISON_PREFIX}${k.question}${COMPARISON_SUFFIX}`);
  const comparisonExamples = c.examples.comparison.map((e) => {
    const [correct, incorrect] = e.answer === 'B' ? [e.response_b, e.response_a] : [e.response_a, e.response_b];
    return { prompt: `${quirkText(q(e.extensions), 'prefix', DEFAULT_PREFIX)}${renderTurns(e.conversation, CHAT)}${PROMPT_END}`, corrects: [correct], incorrects: [incorrect] };
  });
  const cot = c.examples.cot_comparison.map((e) => {
    const x = q(e.extensions);
    const prompt =
      `${quirkText(x, 'prefix', DEFAULT_PREFIX)}Human: ${quirkText(x, 'header', COT_HEADER)}\n\n${renderTurns(e.conversation, SHORT)}` +
      `${COT_OPTIONS}${e.response_a}${COT_B}${e.response_b}${COT_STEP}${quirkText(x, 'reasoning_separator', DEFAULT_REASONING_SEPARATOR)}${e.reasoning}` +
      `\n\nHuman:\nSo the answer is: (${e.answer})`;
    return { prompt };
  });
  const F = ANTHROPIC_FILES;
  const out: Record<string, string> = {};
  const put = (file: string, v: unknown) => (out[file] = pyJsonDumps(v));
  put(F.instructions, instructions);
  put(F.critiqueRevisionExamples, critiqueRevision);
  put(F.comparisons, comparisons);
  put(F.comparisonExamples, comparisonExamples);
  put(F.cotExamples, cot);
  return out;
}
