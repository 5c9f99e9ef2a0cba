import { ID_PATTERN } from '../schema.js';
import type { Extensions, TurnData } from '../data.js';
import type { AuthoringObject } from '../emit.js';

/** A file in a foreign format that cannot be imported: one sentence naming the file and the item. */
export class FormatError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'FormatError';
  }
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How a JSON value is called in messages. */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return v.trim() === '' ? 'empty text' : 'text';
    case 'number':
      return 'a number';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

/** JSON.parse, with any failure turned into a FormatError naming the file. */
export function parseJson(file: string, text: string): Json {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') throw new FormatError(`${file} is empty.`, file);
  try {
    return JSON.parse(body) as Json;
  } catch (e) {
    throw new FormatError(`${file} is not valid JSON (${jsonErrorDetail(e, body)}).`, file);
  }
}

/** V8's JSON.parse message made short: no quoted copy of the text, a line and column instead of an offset. */
function jsonErrorDetail(e: unknown, text: string): string {
  let detail = (e instanceof Error ? e.message : String(e)).replace(/, "[\s\S]*" is not valid JSON$/, '');
  detail = detail.replace(/(?: in JSON)? at position (\d+)(?: \(line \d+ column \d+\))?/, (_m, pos: string) => {
    const before = text.slice(0, Number(pos));
    const line = before.split('\n').length;
    const column = Number(pos) - before.lastIndexOf('\n');
    return ` at line ${line}, column ${column}`;
  });
  return detail.replace(/\s+/g, ' ').replace(/\.$/, '');
}

/** A text that must be a non-empty string (the constitution format rejects empty texts). */
export function requireText(v: unknown, file: string, where: string, field?: string): string {
  if (typeof v !== 'string') throw new FormatError(`${file}: ${where} must be text, not ${describeJson(v)}.`, file, field);
  if (v.trim() === '') throw new FormatError(`${file}: ${where} is empty.`, file, field);
  return v;
}

/** `"key"` for object members, `item N` (1-based) for list items. */
export function itemName(key: string | number): string {
  return typeof key === 'number' ? `item ${key + 1}` : JSON.stringify(key);
}

const STOPWORDS = new Set(
  (
    'a an the and or but nor if of in on at to for with without within by from as into onto about than then so such ' +
    'is are was were be been being am do does did done has have had it its this that these those there their them they ' +
    'he she his her you your yours we our us i me my which what who whom whose how why when where whether ' +
    'any all each every some more most less least very much many also just only even still not no yes ' +
    'can could should would may might must will shall please ' +
    'choose select pick identify specific discuss explain point out rewrite revise write amend critique comment ' +
    'response responses assistant assistants human humans last preceding precedings option options way ways ' +
    'possible answer answers compare consider based terms manner one ones make sure give new version however try avoid too ' +
    'exhibit exhibits demonstrate demonstrates sound sounds sounding paying pay close attention degree query similar like ' +
    'person say said think carefully take look read note anything something everything reply replies previous'
  ).split(' '),
);

function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .split(/[^a-z0-9']+/)
    .map((w) => w.replace(/'s$/, '').replace(/'/g, ''))
    .filter((w) => w !== '');
}

/** `base`, or `base-2`, `base-3`, … : the first one not in `taken` (which it joins). */
export function claimId(base: string, taken: Set<string>): string {
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  taken.add(id);
  return id;
}

/**
 * A short readable id from the significant words of a text (`harmless-ethical-wise`): the first
 * `count` words that are not filler, one more word when that id is taken, then a number.
 */
export function slugFromText(text: string, taken: Set<string>, fallback: string, count = 3): string {
  const significant = [...new Set(words(text).filter((w) => !STOPWORDS.has(w) && w.length > 1))];
  if (significant.length === 0) return claimId(fallback, taken);
  let id = toIdStart(significant.slice(0, count).join('-'));
  if (taken.has(id) && significant.length > count) id = toIdStart(significant.slice(0, count + 1).join('-'));
  return claimId(id, taken);
}

/** An id made of every word of a name (`Constitutional Principle` → `constitutional-principle`). */
export function slugFromName(name: string, taken: Set<string>, fallback: string): string {
  const w = words(name);
  return claimId(w.length ? toIdStart(w.join('-')) : fallback, taken);
}

function toIdStart(id: string): string {
  return /^[a-z]/.test(id) ? id : `p-${id}`;
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Turns in the authoring shape. */
export function authoringTurns(turns: TurnData[]): AuthoringObject[] {
  return turns.map((t) => (t.role === 'human' ? { human: t.text } : { assistant: t.text }));
}

/** The named format's quirk fields of an item, as an object (empty when absent or not an object). */
export function quirks(ext: Extensions, key: string): Record<string, unknown> {
  const v = ext[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A quirk field that is text, or the default. */
export function quirkText(q: Record<string, unknown>, field: string, fallback: string): string {
  const v = q[field];
  return typeof v === 'string' ? v : fallback;
}

/** Drops undefined members so the authoring object holds only what was set. */
export function compact(o: AuthoringObject): AuthoringObject {
  const out: AuthoringObject = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/** Which base name a file path has (the importers name constitutions after their file). */
export function baseName(file: string): string {
  const last = file.split(/[\\/]/).pop() ?? file;
  return last.replace(/\.json$/i, '');
}
