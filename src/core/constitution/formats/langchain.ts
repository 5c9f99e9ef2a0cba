import type { ConstitutionData } from '../data.js';
import type { AuthoringObject } from '../emit.js';
import { claimId, compact, describeJson, FormatError, isJsonObject, isValidId, itemName, parseJson, quirks, quirkText, requireText, slugFromName, type Json, type JsonObject } from './common.js';
import { pyJsonDumps } from './pyjson.js';

/**
 * LangChain `ConstitutionalPrinciple` objects as JSON (`{"name", "critique_request",
 * "revision_request"}`): a list of them, an object mapping keys to them (like LangChain's
 * `PRINCIPLES`), or a single one.
 *
 * A principle's id is its `name` when that is a valid id; otherwise a slug, with the original
 * kept in `name`. Export writes `name` as the principle's `name`, else its id. Quirks:
 * top-level `x-langchain: {shape: mapping | single}` for a file that is not a list, and a
 * principle's `x-langchain: {key}` when its key in a mapping differs from the name written.
 */

const X = 'x-langchain';
const FIELDS = ['critique_request', 'revision_request', 'name'];

type Shape = 'list' | 'mapping' | 'single';

export function importLangchain(file: string, text: string, name: string): { doc: AuthoringObject; warnings: string[] } {
  const warnings: string[] = [];
  const json = parseJson(file, text);
  let shape: Shape;
  let entries: [string | number, Json][];
  if (Array.isArray(json)) {
    shape = 'list';
    entries = json.map((v, i) => [i, v]);
  } else if (isJsonObject(json) && 'critique_request' in json) {
    shape = 'single';
    entries = [['', json]];
  } else if (isJsonObject(json)) {
    shape = 'mapping';
    entries = Object.entries(json);
  } else {
    throw new FormatError(`${file} must hold a list of principles, an object of named principles or one principle, not ${describeJson(json)}.`, file);
  }
  if (entries.length === 0) throw new FormatError(`${file} holds no principles, so there is nothing to import.`, file);

  const taken = new Set<string>();
  const principles = entries.map(([key, v]) => {
    const at = shape === 'single' ? 'the principle' : itemName(key);
    const field = (f: string) => (shape === 'single' ? f : `${key}.${f}`);
    if (!isJsonObject(v)) {
      throw new FormatError(`${file}: ${at} must be an object with "name", "critique_request" and "revision_request", not ${describeJson(v)}.`, file, String(key));
    }
    const obj: JsonObject = v;
    for (const f of FIELDS) if (!(f in obj)) throw new FormatError(`${file}: ${at} is missing "${f}".`, file, field(f));
    const extra = Object.keys(obj).filter((k) => !FIELDS.includes(k));
    if (extra.length) warnings.push(`${file}: ${at} has ${extra.map((k) => JSON.stringify(k)).join(', ')}, which ${extra.length === 1 ? 'was' : 'were'} not imported.`);
    const critique = requireText(obj.critique_request, file, `${at} "critique_request"`, field('critique_request'));
    const revision = requireText(obj.revision_request, file, `${at} "revision_request"`, field('revision_request'));
    const original = requireText(obj.name, file, `${at} "name"`, field('name'));
    const asId = isValidId(original) && !taken.has(original);
    const id = asId ? claimId(original, taken) : slugFromName(original, taken, 'principle');
    return compact({
      id,
      name: asId ? undefined : original,
      critique,
      revision,
      [X]: shape === 'mapping' && key !== original ? { key: String(key) } : undefined,
    });
  });
  const doc = compact({
    name,
    description: `Imported from the LangChain constitutional principles in ${file}.`,
    principles,
    [X]: shape === 'list' ? undefined : { shape },
  });
  return { doc, warnings };
}

export function exportLangchain(c: ConstitutionData): string {
  const shape = quirkText(quirks(c.extensions, X), 'shape', 'list');
  const objects = c.principles.map((p) => ({
    key: quirkText(quirks(p.extensions, X), 'key', p.name ?? p.id),
    value: { critique_request: p.critique, revision_request: p.revision, name: p.name ?? p.id },
  }));
  let out: unknown;
  if (shape === 'single' && objects.length === 1) out = objects[0]?.value;
  else if (shape === 'mapping') out = new Map(objects.map((o) => [o.key, o.value]));
  else out = objects.map((o) => o.value);
  return `${pyJsonDumps(out, { indent: 2, ensureAscii: false })}\n`;
}
