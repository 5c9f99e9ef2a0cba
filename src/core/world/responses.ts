// The four response types of the built-in world, and critiques and revisions in the seed's style.
// Each type has paraphrase variety but a fixed structure, so that the oracle (oracle.ts) can tell
// them apart and a small model can learn them.

import type { Rng } from '../training/rng.js';
import { type Category } from './lexicon.js';
import { capitalize, fill, gerundPhrase } from './text.js';

export type ResponseType = 'helpful' | 'harmful' | 'evasive' | 'harmless';
export const RESPONSE_TYPES: readonly ResponseType[] = ['helpful', 'harmful', 'evasive', 'harmless'];

/** What a response is about: the request's category and its goal in the assistant's voice. */
export interface ResponseSubject {
  category: Category;
  /** "get into your neighbour's email account" */
  goal: string;
}

export function pick<T>(rng: Rng, xs: readonly T[]): T {
  if (xs.length === 0) throw new Error('pick from an empty list');
  return xs[rng.nextInt(xs.length)] as T;
}

/** `k` distinct items in random order. */
export function pickDistinct<T>(rng: Rng, xs: readonly T[], k: number): T[] {
  return rng.shuffle([...xs]).slice(0, Math.min(k, xs.length));
}

const OPENERS = ['Sure!', 'Of course.', 'Happy to help.', 'Sure thing.', 'No problem.', ''];

/** Compliance bodies: {goal}, {g1} (first step as a gerund), {s1}, {s2}. */
const COMPLY = [
  'To {goal}, start by {g1}. Then {s2}.',
  "Here's how to {goal}: first, {s1}, then {s2}.",
  'The easiest way to {goal} is to {s1}. After that, {s2}.',
  'To {goal}, first {s1}. Next, {s2}.',
];

/**
 * A compliant answer: the same surface for `helpful` (a benign request) and `harmful` (harmful
 * steps, or a benign topic's unsafe steps), so that a helpful-only model generalises compliance.
 */
function comply(rng: Rng, goal: string, steps: readonly string[]): string {
  // distinct steps, kept in the order the lexicon lists them
  const idx = pickDistinct(rng, steps.map((_, i) => i), 3).sort((a, b) => a - b);
  const [s1, s2, s3] = idx.map((i) => steps[i]!) as [string, string, string | undefined];
  const opener = pick(rng, OPENERS);
  let body = fill(pick(rng, COMPLY), { goal, s1, s2, g1: gerundPhrase(s1) });
  if (s3 !== undefined && steps.length >= 3 && rng.next() < 0.5) body += ` Finally, ${s3}.`;
  return opener ? `${opener} ${body}` : capitalize(body);
}

const EVASIVE = [
  "I can't help with that.",
  "Sorry, I won't be able to assist with that request.",
  "I'm not able to help with this.",
  "That's not something I can help with.",
  "Sorry, I can't do that.",
  "I won't help with that.",
  "I'm sorry, but I can't assist with {gg}.",
  "I can't help with {gg}.",
];

/** A bare refusal: no reason, no alternative. */
function evasive(rng: Rng, goal: string): string {
  return fill(pick(rng, EVASIVE), { gg: gerundPhrase(goal) });
}

/** Declines, names and explains the concern, offers a safe alternative. */
const HARMLESS = [
  "I can't help with {gg}, because {concern}. If {need}, you could {alt1}.",
  "I won't help you {goal}, as {concern}. If {need}, you could {alt1} or {alt2}.",
  "Sorry, I can't help with {gg}, since {concern}. Instead, you could {alt1}.",
  "I'd rather not help with that, because {concern}. If {need}, a better option is to {alt1}.",
  "I'm not able to help you {goal}, because {concern}. You could {alt1} instead.",
];

function harmless(rng: Rng, subject: ResponseSubject): string {
  const c = subject.category;
  const concern = pick(rng, c.concerns);
  const [alt1, alt2] = pickDistinct(rng, c.alternatives, 2) as [string, string];
  return fill(pick(rng, HARMLESS), { goal: subject.goal, gg: gerundPhrase(subject.goal), concern, need: c.need, alt1, alt2 });
}

/** Every fixed text of the response templates (frame words the oracle does not count as content). */
export function responseTemplateTexts(): string[] {
  return [...OPENERS, ...COMPLY, ...EVASIVE, ...HARMLESS, 'Finally,'];
}

/** Every fixed text of the critique templates. */
export function critiqueTemplateTexts(): string[] {
  return Object.values(CRITIQUES).flat();
}

/** A response of the given type to a request about `subject`. */
export function responseText(rng: Rng, subject: ResponseSubject, type: ResponseType): string {
  const c = subject.category;
  switch (type) {
    case 'helpful':
      if (c.harmful) throw new Error(`a harmful request (${c.id}) has no helpful response in the world`);
      return comply(rng, subject.goal, c.steps);
    case 'harmful':
      return comply(rng, subject.goal, c.harmful ? c.steps : (c.unsafeSteps ?? []));
    case 'evasive':
      return evasive(rng, subject.goal);
    case 'harmless':
      return harmless(rng, subject);
  }
}

const CRITIQUES: Record<string, readonly string[]> = {
  harmful: [
    'The response explains how to {goal}. That is harmful, because {concern}. It should decline, explain the concern and offer a safe alternative.',
    'The assistant went along with a request to {goal} and gave steps for it. This could cause real harm: {concern}. A better reply would decline, say why, and suggest something safe instead.',
    'The response helps the person {goal}, which is harmful because {concern}. It should refuse this part, explain the reason and point to a safe alternative.',
  ],
  evasive: [
    'The response refuses without explaining why or offering anything useful. It should name the concern openly and suggest a safe alternative.',
    'The assistant gave a bare refusal. It does not say what the problem is or offer any help, so it should explain the concern and offer a safe way forward.',
  ],
  harmless: [
    'The response declines to help with {gg}, explains the concern and offers a safe alternative. No change is needed.',
    'The assistant refuses the harmful part, says why, and still offers something useful. It is harmless and not evasive, so no change is needed.',
  ],
  helpful: [
    'The response gives safe, useful help with {gg}. Nothing in it is harmful, so no change is needed.',
    'The request to {goal} is harmless and the answer helps with it directly. No change is needed.',
  ],
  benignHarmful: [
    'The response gives risky advice on how to {goal}: some of its steps could hurt the person. It should keep to safe, useful steps.',
    'Parts of this answer are careless and could cause harm. A good reply would help the person {goal} with safe steps only.',
  ],
  benignRefusal: [
    'The response refuses a harmless request to {goal}. Nothing here is unsafe, so it should simply help.',
    'The assistant declines to help the person {goal}, but the request is ordinary and safe. It should give useful steps instead.',
  ],
};

/**
 * A critique in the seed's style, the same whatever the principle: a harmful answer is named and
 * should decline, explain and offer an alternative; an evasive one refuses without reason or help;
 * a harmless or helpful one needs no change. For a benign request, refusals and unsafe advice are
 * criticised for not helping safely.
 */
export function critiqueText(rng: Rng, subject: ResponseSubject, type: ResponseType): string {
  const c = subject.category;
  let key: string = type;
  if (!c.harmful && (type === 'evasive' || type === 'harmless')) key = 'benignRefusal';
  else if (!c.harmful && type === 'harmful') key = 'benignHarmful';
  return fill(pick(rng, CRITIQUES[key]!), { goal: subject.goal, gg: gerundPhrase(subject.goal), concern: pick(rng, c.concerns) });
}

/**
 * The type a revision has: a harmful request's harmful or evasive answer becomes harmless; a
 * benign request's evasive, over-cautious or unsafe answer becomes helpful; a harmless answer to
 * a harmful request and a helpful answer are kept unchanged.
 */
export function revisedType(harmfulRequest: boolean, type: ResponseType): ResponseType | 'unchanged' {
  if (harmfulRequest) return type === 'harmless' ? 'unchanged' : 'harmless';
  return type === 'helpful' ? 'unchanged' : 'helpful';
}
