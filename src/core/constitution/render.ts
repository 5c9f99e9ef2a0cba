import {
  exampleRequests,
  type ComparisonData,
  type ConstitutionData,
  type PrincipleData,
  type TurnData,
} from './data.js';
import { fillTemplate } from './templates.js';

/**
 * The exact prompts a model sees, built from a constitution's templates and few-shot examples.
 * The pipeline and the preview both call these, so what the preview shows is what runs.
 */

export interface PromptSegment {
  kind: 'example' | 'separator' | 'prompt';
  /** e.g. "example 2 (principle 'harmful')" */
  label: string;
  start: number;
  end: number;
}

export interface RenderedPrompt {
  text: string;
  segments: PromptSegment[];
}

export function renderConversation(c: Pick<ConstitutionData, 'templates'>, turns: readonly TurnData[]): string {
  return turns
    .map((t) => fillTemplate(t.role === 'human' ? c.templates.human_turn : c.templates.assistant_turn, { text: t.text }))
    .join('\n\n');
}

class Builder {
  private text = '';
  private readonly segments: PromptSegment[] = [];
  constructor(private readonly separator: string) {}
  add(kind: PromptSegment['kind'], label: string, s: string): void {
    if (this.text.length > 0 && this.separator) {
      this.segments.push({ kind: 'separator', label: 'separator', start: this.text.length, end: this.text.length + this.separator.length });
      this.text += this.separator;
    }
    this.segments.push({ kind, label, start: this.text.length, end: this.text.length + s.length });
    this.text += s;
  }
  done(): RenderedPrompt {
    return { text: this.text, segments: this.segments };
  }
}

export interface FewShotOptions {
  /** Leave the few-shot examples out (default: include them all). */
  fewShot?: boolean;
}

function critiqueRevisionExamples(c: ConstitutionData, b: Builder): void {
  c.examples.critique_revision.forEach((ex, i) => {
    const req = exampleRequests(c, ex);
    const body =
      fillTemplate(c.templates.revision, {
        conversation: renderConversation(c, ex.conversation),
        critique_request: req.critique_request,
        critique: ex.critique,
        revision_request: req.revision_request,
      }) + fillTemplate(c.templates.revision_answer, { revision: ex.revision });
    b.add('example', `example ${i + 1}${ex.principle ? ` (principle '${ex.principle}')` : ''}`, body);
  });
}

/** The prompt that asks for a critique of the conversation's last assistant turn. */
export function renderCritiquePrompt(
  c: ConstitutionData,
  principle: Pick<PrincipleData, 'id' | 'critique'>,
  conversation: readonly TurnData[],
  o: FewShotOptions = {},
): RenderedPrompt {
  const b = new Builder(c.templates.example_separator);
  if (o.fewShot !== false) critiqueRevisionExamples(c, b);
  b.add('prompt', `critique request of '${principle.id}'`, fillTemplate(c.templates.critique, {
    conversation: renderConversation(c, conversation),
    critique_request: principle.critique,
  }));
  return b.done();
}

/** The prompt that asks for a revision once the critique is written. */
export function renderRevisionPrompt(
  c: ConstitutionData,
  principle: Pick<PrincipleData, 'id' | 'critique' | 'revision'>,
  conversation: readonly TurnData[],
  critique: string,
  o: FewShotOptions = {},
): RenderedPrompt {
  const b = new Builder(c.templates.example_separator);
  if (o.fewShot !== false) critiqueRevisionExamples(c, b);
  b.add('prompt', `revision request of '${principle.id}'`, fillTemplate(c.templates.revision, {
    conversation: renderConversation(c, conversation),
    critique_request: principle.critique,
    critique,
    revision_request: principle.revision,
  }));
  return b.done();
}

/** The revision prompt without a critique (the direct-revision ablation). */
export function renderDirectRevisionPrompt(
  c: ConstitutionData,
  principle: Pick<PrincipleData, 'id' | 'revision'>,
  conversation: readonly TurnData[],
): RenderedPrompt {
  const b = new Builder(c.templates.example_separator);
  b.add('prompt', `direct revision request of '${principle.id}'`, fillTemplate(c.templates.direct_revision, {
    conversation: renderConversation(c, conversation),
    revision_request: principle.revision,
  }));
  return b.done();
}

function questionOf(c: ConstitutionData, id: string | undefined, fallback: string): string {
  if (!id) return fallback;
  return c.comparisons.find((q) => q.id === id)?.question ?? fallback;
}

/**
 * The multiple-choice question. Few-shot examples without a principle of their own are asked
 * with the same principle as the question at hand.
 */
export function renderComparisonPrompt(
  c: ConstitutionData,
  comparison: Pick<ComparisonData, 'id' | 'question'>,
  conversation: readonly TurnData[],
  responseA: string,
  responseB: string,
  o: FewShotOptions & { chainOfThought?: boolean } = {},
): RenderedPrompt {
  const cot = o.chainOfThought === true;
  const b = new Builder(c.templates.example_separator);
  const template = cot ? c.templates.cot_comparison : c.templates.comparison;
  if (o.fewShot !== false) {
    const examples = cot ? c.examples.cot_comparison : c.examples.comparison;
    examples.forEach((ex, i) => {
      const q = fillTemplate(template, {
        conversation: renderConversation(c, ex.conversation),
        principle: questionOf(c, ex.principle, comparison.question),
        response_a: ex.response_a,
        response_b: ex.response_b,
      });
      const answer = cot
        ? fillTemplate(c.templates.cot_answer, { reasoning: (ex as { reasoning?: string }).reasoning ?? '', answer: ex.answer })
        : fillTemplate(c.templates.comparison_answer, { answer: ex.answer });
      b.add('example', `example ${i + 1}${ex.principle ? ` (comparison '${ex.principle}')` : ''}`, q + answer);
    });
  }
  b.add('prompt', `${cot ? 'chain-of-thought ' : ''}comparison '${comparison.id}'`, fillTemplate(template, {
    conversation: renderConversation(c, conversation),
    principle: comparison.question,
    response_a: responseA,
    response_b: responseB,
  }));
  return b.done();
}

/** The two continuations whose probabilities make the soft label. */
export function answerContinuations(c: ConstitutionData): { A: string; B: string } {
  return {
    A: fillTemplate(c.templates.comparison_answer, { answer: 'A' }),
    B: fillTemplate(c.templates.comparison_answer, { answer: 'B' }),
  };
}

/** A sample conversation for previews, written for this product. */
export const SAMPLE_CONVERSATION: { turns: TurnData[]; response_a: string; response_b: string } = {
  turns: [
    { role: 'human', text: "My roommate changed the wifi password. How can I get into the router's admin page without asking?" },
    {
      role: 'assistant',
      text: 'Most routers still accept the factory login, so try admin/admin or the password printed on the sticker. If that fails, hold the reset button for 30 seconds and set your own password.',
    },
  ],
  response_a:
    'Hold the reset button for 30 seconds, log in with the factory password and set a new one; your roommate will not notice until their devices drop off.',
  response_b:
    "Resetting a router you share without asking would cut everyone off and can break your housing agreement. It's simpler to ask your roommate for the new password, or to agree on a guest network you can both use.",
};

export interface PromptPreview {
  principle?: { id: string; critique: RenderedPrompt; revision: RenderedPrompt; directRevision: RenderedPrompt };
  comparison?: { id: string; prompt: RenderedPrompt; chainOfThought: RenderedPrompt; continuations: { A: string; B: string } };
}

/** Everything the preview shows for one principle and/or comparison and one conversation. */
export function previewPrompts(
  c: ConstitutionData,
  sel: { principle?: string; comparison?: string },
  sample: { turns: TurnData[]; response_a: string; response_b: string } = SAMPLE_CONVERSATION,
): PromptPreview {
  const out: PromptPreview = {};
  const p = sel.principle ? c.principles.find((x) => x.id === sel.principle) : undefined;
  if (p) {
    out.principle = {
      id: p.id,
      critique: renderCritiquePrompt(c, p, sample.turns),
      revision: renderRevisionPrompt(c, p, sample.turns, '<the critique the model writes>'),
      directRevision: renderDirectRevisionPrompt(c, p, sample.turns),
    };
  }
  const q = sel.comparison ? c.comparisons.find((x) => x.id === sel.comparison) : undefined;
  if (q) {
    const convo = sample.turns[sample.turns.length - 1]?.role === 'assistant' ? sample.turns.slice(0, -1) : sample.turns;
    out.comparison = {
      id: q.id,
      prompt: renderComparisonPrompt(c, q, convo, sample.response_a, sample.response_b),
      chainOfThought: renderComparisonPrompt(c, q, convo, sample.response_a, sample.response_b, { chainOfThought: true }),
      continuations: answerContinuations(c),
    };
  }
  return out;
}
