import { exampleRequests, type ConstitutionData, type TurnData } from '../data.js';
import type { AuthoringObject } from '../emit.js';
import { authoringTurns, compact, describeJson, FormatError, isJsonObject, itemName, parseJson, quirks, requireText, slugFromText, type Json } from './common.js';
import { pyJsonDumps } from './pyjson.js';

/**
 * Hugging Face llm-swarm / H4 constitutions: either a bare list of `{"critic", "revision"}`, or
 * `{"constitutions": [...], "system_chat": [[{"role", "content"}, ...], ...]}` where each chat is a
 * few-shot transcript: the conversation, then the critique request (user), the critique
 * (assistant), the revision request (user) and the revision (assistant).
 *
 * Export writes the bare list when there are no critique/revision examples, else the object. The
 * constitution's top-level `x-llm-swarm: {shape: object}` records an object file that had no
 * examples, so that it is written back as an object.
 */

const X = 'x-llm-swarm';

interface Imported {
  id: string;
  critique: string;
  revision: string;
}

function importPrinciples(list: Json, file: string, where: string, taken: Set<string>, warnings: string[]): Imported[] {
  if (!Array.isArray(list)) throw new FormatError(`${file}: ${where} must be a list of {"critic", "revision"} objects, not ${describeJson(list)}.`, file, 'constitutions');
  return list.map((v, i) => {
    const at = `${where === 'the file' ? '' : `${where} `}${itemName(i)}`;
    if (!isJsonObject(v)) throw new FormatError(`${file}: ${at} must be an object with "critic" and "revision", not ${describeJson(v)}.`, file, String(i));
    for (const key of ['critic', 'revision']) {
      if (!(key in v)) throw new FormatError(`${file}: ${at} is missing "${key}".`, file, `${i}.${key}`);
    }
    const extra = Object.keys(v).filter((k) => k !== 'critic' && k !== 'revision');
    if (extra.length) warnings.push(`${file}: ${at} has ${extra.map((k) => JSON.stringify(k)).join(', ')}, which ${extra.length === 1 ? 'was' : 'were'} not imported.`);
    const critique = requireText(v.critic, file, `${at} "critic"`, `${i}.critic`);
    const revision = requireText(v.revision, file, `${at} "revision"`, `${i}.revision`);
    return { id: slugFromText(critique, taken, 'principle'), critique, revision };
  });
}

const ROLES: Record<string, TurnData['role']> = { user: 'human', assistant: 'assistant' };

function importChats(list: Json, file: string, principles: Imported[]): AuthoringObject[] {
  if (!Array.isArray(list)) throw new FormatError(`${file}: "system_chat" must be a list of conversations, not ${describeJson(list)}.`, file, 'system_chat');
  return list.map((chat, i) => {
    const at = `"system_chat" ${itemName(i)}`;
    if (!Array.isArray(chat)) throw new FormatError(`${file}: ${at} must be a list of {"role", "content"} messages, not ${describeJson(chat)}.`, file, `system_chat.${i}`);
    const turns: TurnData[] = chat.map((m, j) => {
      const mat = `${at}, message ${j + 1},`;
      if (!isJsonObject(m)) throw new FormatError(`${file}: ${mat} must be an object with "role" and "content", not ${describeJson(m)}.`, file, `system_chat.${i}.${j}`);
      const role = typeof m.role === 'string' ? ROLES[m.role] : undefined;
      if (!role) throw new FormatError(`${file}: ${mat} has role ${JSON.stringify(m.role ?? null)}; only "user" and "assistant" can be imported.`, file, `system_chat.${i}.${j}.role`);
      return { role, text: requireText(m.content, file, `${mat} "content"`, `system_chat.${i}.${j}.content`) };
    });
    const n = turns.length;
    const expected: TurnData['role'][] = ['human', 'assistant', 'human', 'assistant'];
    if (n < 5 || turns[n - 5]?.role !== 'assistant' || !expected.every((r, k) => turns[n - 4 + k]?.role === r)) {
      throw new FormatError(
        `${file}: ${at} must be a conversation ending with an assistant message, then user critique request, assistant critique, user revision request and assistant revision.`,
        file,
        `system_chat.${i}`,
      );
    }
    const [critiqueRequest, critique, revisionRequest, revision] = turns.slice(n - 4).map((t) => t.text) as [string, string, string, string];
    const p = principles.find((x) => x.critique === critiqueRequest);
    return compact({
      principle: p?.id,
      critique_request: p ? undefined : critiqueRequest,
      revision_request: p && p.revision === revisionRequest ? undefined : revisionRequest,
      conversation: authoringTurns(turns.slice(0, n - 4)),
      critique,
      revision,
    });
  });
}

export function importLlmSwarm(file: string, text: string, name: string): { doc: AuthoringObject; warnings: string[] } {
  const warnings: string[] = [];
  const json = parseJson(file, text);
  const taken = new Set<string>();
  let principles: Imported[];
  let examples: AuthoringObject[] = [];
  let objectShape = false;
  if (Array.isArray(json)) {
    principles = importPrinciples(json, file, 'the file', taken, warnings);
  } else if (isJsonObject(json)) {
    objectShape = true;
    if (!('constitutions' in json)) throw new FormatError(`${file} is missing "constitutions".`, file, 'constitutions');
    const extra = Object.keys(json).filter((k) => k !== 'constitutions' && k !== 'system_chat');
    if (extra.length) warnings.push(`${file}: ${extra.map((k) => JSON.stringify(k)).join(', ')} ${extra.length === 1 ? 'was' : 'were'} not imported.`);
    principles = importPrinciples(json.constitutions as Json, file, '"constitutions"', taken, warnings);
    if ('system_chat' in json) examples = importChats(json.system_chat as Json, file, principles);
  } else {
    throw new FormatError(`${file} must hold a list of {"critic", "revision"} objects or an object with "constitutions", not ${describeJson(json)}.`, file);
  }
  if (principles.length === 0) throw new FormatError(`${file} holds no principles, so there is nothing to import.`, file);
  const doc = compact({
    name,
    description: `Imported from the llm-swarm constitution ${file}.`,
    principles: principles.map((p) => ({ id: p.id, critique: p.critique, revision: p.revision })),
    examples: examples.length ? { critique_revision: examples } : undefined,
    [X]: objectShape && examples.length === 0 ? { shape: 'object' } : undefined,
  });
  return { doc, warnings };
}

export function exportLlmSwarm(c: ConstitutionData): string {
  const constitutions = c.principles.map((p) => ({ critic: p.critique, revision: p.revision }));
  const chats = c.examples.critique_revision.map((e) => {
    const r = exampleRequests(c, e);
    return [
      ...e.conversation.map((t) => ({ role: t.role === 'human' ? 'user' : 'assistant', content: t.text })),
      { role: 'user', content: r.critique_request },
      { role: 'assistant', content: e.critique },
      { role: 'user', content: r.revision_request },
      { role: 'assistant', content: e.revision },
    ];
  });
  const asObject = chats.length > 0 || quirks(c.extensions, X).shape === 'object';
  return `${pyJsonDumps(asObject ? { constitutions, system_chat: chats } : constitutions, { indent: 2, ensureAscii: false })}\n`;
}
