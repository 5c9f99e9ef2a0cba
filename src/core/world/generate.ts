// Deterministic generators of the built-in world: requests, responses, critiques and revisions;
// pretraining documents in the pipeline's exact prompt formats; the demo's dataset records.

import type { ComparisonData, ConstitutionData, PrincipleData, TurnData } from '../constitution/data.js';
import { answerContinuations, renderComparisonPrompt, renderConversation, renderCritiquePrompt, renderRevisionPrompt } from '../constitution/render.js';
import { drawWeighted, responsePrompt } from '../pipeline/stages.js';
import { Rng } from '../training/rng.js';
import { BENIGN_TOPICS, FOLLOW_UPS, FRAMES, HARMFUL_CATEGORIES, categoryById, type Category, type Split } from './lexicon.js';
import { preferenceOrder } from './oracle.js';
import { critiqueText, pick, responseText, revisedType, type ResponseType } from './responses.js';
import { capitalize, fill, hashText, toSecondPerson } from './text.js';

export type { Split, ResponseType };

export interface WorldRequest {
  id: string;
  /** The human's request, plain text. */
  text: string;
  harmful: boolean;
  category: string;
  /** Which goal template and frame made it: "hacking:train:g2:f5". */
  template: string;
  split: Split;
  /** The goal in the assistant's voice ("get into your neighbour's email account"). */
  goal: string;
  /**
   * A multi-turn conversation up to its last human turn: [request, first answer, follow-up].
   * Absent for a single-turn request.
   */
  turns?: TurnData[];
  /** The type of the first answer, in a multi-turn conversation. */
  firstType?: ResponseType;
}

export type Mix<K extends string> = Partial<Record<K, number>>;

function drawMix<K extends string>(rng: Rng, mix: Mix<K>): K {
  const entries = Object.entries(mix) as [K, number][];
  return drawWeighted(entries.map(([k, w]) => ({ k, weight: w })), rng).k;
}

export interface SampleRequestOptions {
  split: Split;
  harmful: boolean;
  /** A category or topic id (default: drawn uniformly from the harmful or benign ones). */
  category?: string;
  /** Probability of a multi-turn conversation (default 0). */
  followUp?: number;
  /** Types of the first answer in a multi-turn conversation (default: the helpful-only mix). */
  firstTypes?: Mix<ResponseType>;
}

export const HELPFUL_ONLY_HARMFUL: Mix<ResponseType> = { harmful: 0.6, evasive: 0.25, harmless: 0.15 };
export const HELPFUL_ONLY_BENIGN: Mix<ResponseType> = { helpful: 0.95, evasive: 0.05 };

/**
 * A request. Train requests use train frames, goal templates and fillers only; held-out requests
 * use a held-out frame and a held-out goal template (so the model never saw the request), filled
 * with train fillers: the world has no knowledge outside its own text, so a model trained on it
 * can only recognise a topic by words it has met (a real pretrained model would know that a lemon
 * cake is cooking; ours cannot). The held-out fillers stay in the lexicon for the oracle.
 */
export function sampleRequest(rng: Rng, o: SampleRequestOptions): WorldRequest {
  const pool = o.harmful ? HARMFUL_CATEGORIES : BENIGN_TOPICS;
  const cat = o.category !== undefined ? categoryById(o.category) : pick(rng, pool);
  if (!cat || cat.harmful !== o.harmful) throw new Error(`no ${o.harmful ? 'harmful category' : 'benign topic'} '${o.category}'`);
  const goals = cat.goals[o.split];
  const gi = rng.nextInt(goals.length);
  const frames = FRAMES[o.split];
  const fi = rng.nextInt(frames.length);
  const values: Record<string, string> = {};
  for (const [slot, list] of Object.entries(cat.slots)) {
    values[slot] = pick(rng, list.train);
  }
  const goalFirst = fill(goals[gi]!, values);
  const text = capitalize(fill(frames[fi]!, { goal: goalFirst }));
  const req: WorldRequest = {
    id: `${o.split}-${cat.id}-${hashText(text)}`,
    text,
    harmful: cat.harmful,
    category: cat.id,
    template: `${cat.id}:${o.split}:g${gi}:f${fi}`,
    split: o.split,
    goal: toSecondPerson(goalFirst),
  };
  if (o.followUp && rng.next() < o.followUp) {
    const firstType = drawMix(rng, o.firstTypes ?? (cat.harmful ? HELPFUL_ONLY_HARMFUL : HELPFUL_ONLY_BENIGN));
    req.firstType = firstType;
    req.turns = [
      { role: 'human', text },
      { role: 'assistant', text: sampleResponse(rng, req, firstType) },
      { role: 'human', text: pick(rng, FOLLOW_UPS[o.split]) },
    ];
  }
  return req;
}

function subjectOf(request: Pick<WorldRequest, 'category' | 'goal'>): { category: Category; goal: string } {
  const category = categoryById(request.category);
  if (!category) throw new Error(`unknown category '${request.category}'`);
  return { category, goal: request.goal };
}

/** A response of a known type. `helpful` exists only for benign requests. */
export function sampleResponse(rng: Rng, request: Pick<WorldRequest, 'category' | 'goal'>, type: ResponseType): string {
  return responseText(rng, subjectOf(request), type);
}

/** A principle-agnostic critique of `response`, whose type is `type`. */
export function critiqueOf(rng: Rng, request: Pick<WorldRequest, 'category' | 'goal'>, _response: string, type: ResponseType): string {
  return critiqueText(rng, subjectOf(request), type);
}

/** The revision of `response` (of type `type`): harmless (or helpful for a benign request), or unchanged. */
export function revisionOf(rng: Rng, request: Pick<WorldRequest, 'category' | 'goal' | 'harmful'>, response: string, type: ResponseType): string {
  const t = revisedType(request.harmful, type);
  return t === 'unchanged' ? response : sampleResponse(rng, request, t);
}

// ---------------------------------------------------------------------------------------------
// Pretraining documents.

export type DocumentKind = 'conversation' | 'critique' | 'revision' | 'comparison';

export interface PretrainingMix {
  /** Shares of document kinds, replacing the default (45/15/15/25) as a whole. */
  kinds?: Mix<DocumentKind>;
  /** Share of harmful requests, per document kind (default 0.5 for conversations, 0.75 for critique/revision, 0.6 for comparisons). */
  harmfulShare?: Partial<Record<DocumentKind, number>>;
  /** Answer types to harmful requests in conversations (default: harmful 60 %, evasive 25 %, harmless 15 %). */
  harmful?: Mix<ResponseType>;
  /** Answer types to benign requests in conversations (default: helpful 95 %, evasive 5 %). */
  benign?: Mix<ResponseType>;
  /** Types critiqued and revised, for harmful and benign requests. */
  critiqued?: { harmful?: Mix<ResponseType>; benign?: Mix<ResponseType> };
  /** Probability that a conversation has a second human turn (default 0.2). */
  multiTurn?: number;
  /**
   * Probability that a comparison's worse answer is off-topic: a well-formed answer to another
   * request, which the world ranks below every on-topic answer (default 0.25), so a feedback
   * model trained on the world also judges relevance.
   */
  offTopic?: number;
}

export interface PretrainingDocument {
  kind: DocumentKind;
  text: string;
  request: WorldRequest;
}

const DEFAULT_KINDS: Record<DocumentKind, number> = { conversation: 0.45, critique: 0.15, revision: 0.15, comparison: 0.25 };
const DEFAULT_SHARE: Record<DocumentKind, number> = { conversation: 0.5, critique: 0.75, revision: 0.75, comparison: 0.6 };

/** How many of `count` go to each key, by shares, summing exactly to `count`. */
function apportion<K extends string>(count: number, shares: Mix<K>): [K, number][] {
  const entries = (Object.entries(shares) as [K, number][]).filter(([, w]) => w > 0);
  const total = entries.reduce((a, [, w]) => a + w, 0);
  const raw = entries.map(([k, w]) => [k, (count * w) / total] as const);
  const out = raw.map(([k, x]) => [k, Math.floor(x)] as [K, number]);
  let left = count - out.reduce((a, [, n]) => a + n, 0);
  const order = raw.map(([, x], i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left <= 0) break;
    out[i]![1]++;
    left--;
  }
  return out;
}

/** The pairs of different types a comparison may show, by request kind. */
const PAIRS_HARMFUL: [ResponseType, ResponseType][] = [['harmless', 'harmful'], ['harmless', 'evasive'], ['evasive', 'harmful']];
const PAIRS_BENIGN: [ResponseType, ResponseType][] = [['helpful', 'evasive'], ['helpful', 'harmful'], ['helpful', 'harmless'], ['harmless', 'harmful'], ['evasive', 'harmful']];

/**
 * Documents in the pipeline's exact prompt formats for constitution `c` (few-shot off), from
 * train requests only, so that a model pretrained on them can answer, critique, revise and
 * compare. Each document ends where the pipeline stops reading: the answer, critique or
 * revision is followed by the next turn marker; a comparison ends with the answer continuation.
 */
export function pretrainingCorpus(c: ConstitutionData, opts: { seed: number; count: number; mix?: PretrainingMix }): PretrainingDocument[] {
  const mix = opts.mix ?? {};
  const root = new Rng(opts.seed);
  const kinds: DocumentKind[] = [];
  for (const [k, n] of apportion(opts.count, mix.kinds ?? DEFAULT_KINDS)) for (let i = 0; i < n; i++) kinds.push(k);
  root.fork('kinds').shuffle(kinds);
  const share = { ...DEFAULT_SHARE, ...(mix.harmfulShare ?? {}) };
  const harmfulMix = mix.harmful ?? HELPFUL_ONLY_HARMFUL;
  const benignMix = mix.benign ?? HELPFUL_ONLY_BENIGN;
  const critiquedHarmful = mix.critiqued?.harmful ?? { harmful: 0.5, evasive: 0.25, harmless: 0.25 };
  const critiquedBenign = mix.critiqued?.benign ?? { helpful: 0.6, evasive: 0.2, harmless: 0.1, harmful: 0.1 };
  const multiTurn = mix.multiTurn ?? 0.2;
  const offTopic = mix.offTopic ?? 0.25;
  const { A, B } = answerContinuations(c);
  let comparisons = 0;
  const docs: PretrainingDocument[] = [];
  kinds.forEach((kind, i) => {
    const rng = root.fork(`doc:${i}`);
    const harmful = rng.next() < share[kind];
    if (kind === 'conversation') {
      const request = sampleRequest(rng, { split: 'train', harmful, followUp: multiTurn, firstTypes: harmful ? harmfulMix : benignMix });
      const type = drawMix(rng, harmful ? harmfulMix : benignMix);
      const turns: TurnData[] = request.turns ?? [{ role: 'human', text: request.text }];
      const text = `${responsePrompt(c, turns)} ${sampleResponse(rng, request, type)}\n\nHuman:`;
      docs.push({ kind, text, request });
      return;
    }
    const request = sampleRequest(rng, { split: 'train', harmful });
    const human: TurnData = { role: 'human', text: request.text };
    if (kind === 'comparison') {
      const comparison: ComparisonData = drawWeighted(c.comparisons, rng);
      const [x, y] = pick(rng, harmful ? PAIRS_HARMFUL : PAIRS_BENIGN);
      const better = preferenceOrder(harmful, x) >= preferenceOrder(harmful, y) ? x : y;
      const worse = better === x ? y : x;
      const betterText = sampleResponse(rng, request, better);
      let worseText = sampleResponse(rng, request, worse);
      // Its own stream, so documents without an off-topic answer are the same at any setting.
      const off = rng.fork('off-topic');
      if (off.next() < offTopic) {
        const otherHarmful = off.next() < 0.5;
        let other = sampleRequest(off, { split: 'train', harmful: otherHarmful });
        while (other.category === request.category) other = sampleRequest(off, { split: 'train', harmful: otherHarmful });
        // Step-by-step answers carry their topic; refusals are generic and would not be off-topic.
        worseText = sampleResponse(off, other, otherHarmful ? 'harmful' : 'helpful');
      }
      const betterFirst = comparisons++ % 2 === 0;
      const [a, b] = betterFirst ? [betterText, worseText] : [worseText, betterText];
      const text = renderComparisonPrompt(c, comparison, [human], a, b, { fewShot: false }).text + (betterFirst ? A : B);
      docs.push({ kind, text, request });
      return;
    }
    const principle: PrincipleData = drawWeighted(c.principles, rng);
    const type = drawMix(rng, harmful ? critiquedHarmful : critiquedBenign);
    const response = sampleResponse(rng, request, type);
    const conversation: TurnData[] = [human, { role: 'assistant', text: response }];
    const critique = critiqueOf(rng, request, response, type);
    if (kind === 'critique') {
      const text = `${renderCritiquePrompt(c, principle, conversation, { fewShot: false }).text} ${critique}\n\nRevisionRequest:`;
      docs.push({ kind, text, request });
      return;
    }
    const revision = revisionOf(rng, request, response, type);
    const text = `${renderRevisionPrompt(c, principle, conversation, critique, { fewShot: false }).text} ${revision}\n\nHuman:`;
    docs.push({ kind, text, request });
  });
  return docs;
}

/** The texts of `pretrainingCorpus`. */
export function pretrainingDocuments(c: ConstitutionData, opts: { seed: number; count: number; mix?: PretrainingMix }): string[] {
  return pretrainingCorpus(c, opts).map((d) => d.text);
}

// ---------------------------------------------------------------------------------------------
// The demo's datasets.

export interface PromptRecord {
  prompt: string;
}
export interface PairRecord {
  prompt: string;
  chosen: string;
  rejected: string;
}
export interface QaVotesRecord {
  question: string;
  answers: { text: string; votes: number; accepted?: boolean }[];
}
export interface HhhRecord {
  prompt: string;
  corrects: string[];
  incorrects: string[];
  text_correct: string;
  text_incorrect: string;
}

export interface WorldDatasets {
  redTeam: PromptRecord[];
  helpfulness: PromptRecord[];
  pmp: QaVotesRecord[];
  evalPairs: PairRecord[];
  helpfulnessPairs: PairRecord[];
  evalPrompts: PromptRecord[];
  hhh: HhhRecord[];
}

export interface WorldDatasetSizes {
  redTeam: number;
  helpfulness: number;
  pmp: number;
  evalPairs: number;
  helpfulnessPairs: number;
  evalPrompts: number;
  hhh: number;
}

export const DEFAULT_DATASET_SIZES: WorldDatasetSizes = { redTeam: 256, helpfulness: 128, pmp: 192, evalPairs: 128, helpfulnessPairs: 128, evalPrompts: 96, hhh: 64 };

/** Distinct requests (by text), drawn one by one from `rng`. */
function distinctRequests(rng: Rng, n: number, o: { split: Split; harmful: boolean }): WorldRequest[] {
  const seen = new Set<string>();
  const out: WorldRequest[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > n * 50) throw new Error(`the world has fewer than ${n} distinct ${o.split} ${o.harmful ? 'harmful' : 'benign'} requests`);
    const r = sampleRequest(rng, o);
    if (seen.has(r.text)) continue;
    seen.add(r.text);
    out.push(r);
  }
  return out;
}

/** Votes by answer quality, like a Q&A site: the best answer is accepted, bad advice is downvoted. */
const VOTES: Record<ResponseType, [number, number]> = { helpful: [15, 40], harmless: [2, 6], evasive: [0, 1], harmful: [-6, -1] };

/**
 * The demo's dataset records from constitution `c`: red-team and helpfulness prompts (train),
 * Q&A votes for preference-model pretraining (benign train requests by default: generic quality
 * comparisons, like Stack Exchange data), held-out comparison pairs, helpfulness pairs (train),
 * held-out evaluation prompts (half harmful) and an HHH-style multiple-choice file (held out).
 */
/** A helpful answer to a different benign request than `r` (another topic). */
function offTopicAnswer(rng: Rng, r: WorldRequest): string {
  let other = sampleRequest(rng, { split: 'train', harmful: false });
  while (other.category === r.category) other = sampleRequest(rng, { split: 'train', harmful: false });
  return sampleResponse(rng, other, 'helpful');
}

export function worldDatasets(c: ConstitutionData, opts: { seed: number; sizes?: Partial<WorldDatasetSizes>; pmpHarmfulShare?: number }): WorldDatasets {
  const n = { ...DEFAULT_DATASET_SIZES, ...(opts.sizes ?? {}) };
  const root = new Rng(opts.seed);
  const prompt = (r: WorldRequest): PromptRecord => ({ prompt: r.text });

  const redTeam = distinctRequests(root.fork('redTeam'), n.redTeam, { split: 'train', harmful: true }).map(prompt);
  const helpfulness = distinctRequests(root.fork('helpfulness'), n.helpfulness, { split: 'train', harmful: false }).map(prompt);

  const pmpRng = root.fork('pmp');
  const nPmpHarmful = Math.round(n.pmp * (opts.pmpHarmfulShare ?? 0));
  const pmpRequests = [...distinctRequests(pmpRng, n.pmp - nPmpHarmful, { split: 'train', harmful: false }), ...distinctRequests(pmpRng, nPmpHarmful, { split: 'train', harmful: true })];
  pmpRng.shuffle(pmpRequests);
  const pmp = pmpRequests.map((r): QaVotesRecord => {
    const types: ResponseType[] = r.harmful ? ['harmless', 'evasive', 'harmful'] : pmpRng.next() < 0.5 ? ['helpful', 'evasive', 'harmful'] : ['helpful', 'harmless', 'evasive'];
    const answers = types.map((t) => {
      const [lo, hi] = VOTES[t];
      const votes = lo + pmpRng.nextInt(hi - lo + 1);
      const best = t === (r.harmful ? 'harmless' : 'helpful');
      return { text: sampleResponse(pmpRng, r, t), votes, ...(best ? { accepted: true } : {}) };
    });
    // An answer to some other question, voted down (as on any Q&A site).
    if (pmpRng.next() < 0.5) answers.push({ text: offTopicAnswer(pmpRng, r), votes: -1 - pmpRng.nextInt(3) });
    return { question: r.text, answers: pmpRng.shuffle(answers) };
  });

  // `off-topic`: a well-formed helpful answer to another benign request (people prefer an answer
  // to the question they asked; the world ranks it below every on-topic answer).
  const pairs = (rng: Rng, count: number, harmful: boolean, split: Split, kinds: [ResponseType, ResponseType | 'off-topic'][]): PairRecord[] =>
    distinctRequests(rng, count, { split, harmful }).map((r, i) => {
      const [good, bad] = kinds[i % kinds.length]!;
      return { prompt: r.text, chosen: sampleResponse(rng, r, good), rejected: bad === 'off-topic' ? offTopicAnswer(rng, r) : sampleResponse(rng, r, bad) };
    });
  const evalPairs = pairs(root.fork('evalPairs'), n.evalPairs, true, 'heldout', [['harmless', 'harmful'], ['harmless', 'evasive']]);
  const helpfulnessPairs = pairs(root.fork('helpfulnessPairs'), n.helpfulnessPairs, false, 'train', [['helpful', 'evasive'], ['helpful', 'harmful'], ['helpful', 'off-topic']]);

  const evalRng = root.fork('evalPrompts');
  const nEvalHarmful = Math.ceil(n.evalPrompts / 2);
  const evalHarmful = distinctRequests(evalRng, nEvalHarmful, { split: 'heldout', harmful: true });
  const evalBenign = distinctRequests(evalRng, n.evalPrompts - nEvalHarmful, { split: 'heldout', harmful: false });
  const evalPrompts: PromptRecord[] = [];
  for (let i = 0; i < Math.max(evalHarmful.length, evalBenign.length); i++) {
    if (evalHarmful[i]) evalPrompts.push(prompt(evalHarmful[i]!));
    if (evalBenign[i]) evalPrompts.push(prompt(evalBenign[i]!));
  }

  const hhhRng = root.fork('hhh');
  const comparison = c.comparisons[0];
  const { A, B } = answerContinuations(c);
  const nHhhHarmful = Math.ceil(n.hhh / 2);
  const hhhRequests = [...distinctRequests(hhhRng, nHhhHarmful, { split: 'heldout', harmful: true }), ...distinctRequests(hhhRng, n.hhh - nHhhHarmful, { split: 'heldout', harmful: false })];
  const hhh: HhhRecord[] = comparison
    ? hhhRequests.map((r, i) => {
        const kinds: [ResponseType, ResponseType][] = r.harmful ? [['harmless', 'harmful'], ['harmless', 'evasive']] : [['helpful', 'evasive'], ['helpful', 'harmful']];
        const [good, bad] = kinds[Math.floor(i / 2) % 2]!;
        const correct = sampleResponse(hhhRng, r, good);
        const incorrect = sampleResponse(hhhRng, r, bad);
        const human: TurnData = { role: 'human', text: r.text };
        const correctFirst = i % 2 === 0;
        const [a, b] = correctFirst ? [correct, incorrect] : [incorrect, correct];
        const transcript = (t: string): string => `\n\n${renderConversation(c, [human, { role: 'assistant', text: t }])}`;
        return {
          prompt: renderComparisonPrompt(c, comparison, [human], a, b, { fewShot: false }).text,
          corrects: [correctFirst ? A : B],
          incorrects: [correctFirst ? B : A],
          text_correct: transcript(correct),
          text_incorrect: transcript(incorrect),
        };
      })
    : [];

  return { redTeam, helpfulness, pmp, evalPairs, helpfulnessPairs, evalPrompts, hhh };
}
