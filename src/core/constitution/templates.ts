import type { Span } from '../text.js';

/**
 * Prompt templates: names, the placeholders each may use, the built-in defaults, and the scanner
 * that finds placeholders in template text. A placeholder is `{name}`; `{{` and `}}` stand for
 * literal braces.
 */

export const PLACEHOLDERS = {
  text: 'The text of one conversation turn.',
  conversation: 'The conversation so far, each turn rendered with `human_turn` / `assistant_turn` and joined by blank lines.',
  critique_request: "The principle's critique request (or an example's own request).",
  critique: 'The critique the model wrote (in few-shot examples: the example\'s critique).',
  revision_request: "The principle's revision request (or an example's own request).",
  revision: 'The revised response.',
  principle: "The comparison principle's question.",
  response_a: 'The response shown as option (A).',
  response_b: 'The response shown as option (B).',
  answer: 'The letter of the preferred option: A or B.',
  reasoning: 'The chain-of-thought reasoning that precedes the answer.',
} as const;

export type PlaceholderName = keyof typeof PLACEHOLDERS;

export interface TemplateSpec {
  doc: string;
  allowed: readonly PlaceholderName[];
  /** Placeholders whose absence makes the template useless (a warning, not an error). */
  required: readonly PlaceholderName[];
  default: string;
}

export const TEMPLATES = {
  human_turn: {
    doc: 'How a human turn is written inside `{conversation}`.',
    allowed: ['text'],
    required: ['text'],
    default: 'Human: {text}',
  },
  assistant_turn: {
    doc: 'How an assistant turn is written inside `{conversation}`.',
    allowed: ['text'],
    required: ['text'],
    default: 'Assistant: {text}',
  },
  critique: {
    doc: 'The prompt that asks for a critique of the last assistant turn. The model continues after it.',
    allowed: ['conversation', 'critique_request'],
    required: ['conversation', 'critique_request'],
    default: '{conversation}\n\nCritiqueRequest: {critique_request}\n\nCritique:',
  },
  revision: {
    doc: 'The prompt that asks for a revision after a critique. The model continues after it.',
    allowed: ['conversation', 'critique_request', 'critique', 'revision_request'],
    required: ['conversation', 'revision_request'],
    default:
      '{conversation}\n\nCritiqueRequest: {critique_request}\n\nCritique: {critique}\n\nRevisionRequest: {revision_request}\n\nRevision:',
  },
  revision_answer: {
    doc: 'What completes a few-shot critique/revision example after the `revision` prompt: the example\'s revision.',
    allowed: ['revision'],
    required: ['revision'],
    default: ' {revision}',
  },
  direct_revision: {
    doc: 'The revision prompt without a critique (the "direct revision" ablation, `options.direct_revision: true`).',
    allowed: ['conversation', 'revision_request'],
    required: ['conversation', 'revision_request'],
    default: '{conversation}\n\nRevisionRequest: {revision_request}\n\nRevision:',
  },
  comparison: {
    doc: 'The multiple-choice question the feedback model answers; the log-probabilities of the two answers become the soft label.',
    allowed: ['conversation', 'principle', 'response_a', 'response_b'],
    required: ['conversation', 'principle', 'response_a', 'response_b'],
    default:
      'Consider the following conversation between a human and an assistant:\n\n{conversation}\n\n{principle}\nOptions:\n(A) {response_a}\n(B) {response_b}\nThe answer is:',
  },
  comparison_answer: {
    doc: 'The continuation whose probability is measured for each option, and which completes a few-shot comparison example.',
    allowed: ['answer'],
    required: ['answer'],
    default: ' ({answer})',
  },
  cot_comparison: {
    doc: 'The chain-of-thought variant of the comparison question; the model reasons before it answers.',
    allowed: ['conversation', 'principle', 'response_a', 'response_b'],
    required: ['conversation', 'principle', 'response_a', 'response_b'],
    default:
      'Consider the following conversation between a human and an assistant:\n\n{conversation}\n\n{principle}\nOptions:\n(A) {response_a}\n(B) {response_b}\nLet\'s think step by step:',
  },
  cot_answer: {
    doc: 'What follows the chain-of-thought prompt in a few-shot example: the reasoning, then the answer.',
    allowed: ['reasoning', 'answer'],
    required: ['reasoning', 'answer'],
    default: ' {reasoning}\nSo the answer is: ({answer})',
  },
  example_separator: {
    doc: 'Text between few-shot examples, and between the last example and the prompt itself.',
    allowed: [],
    required: [],
    default: '\n\n',
  },
} as const satisfies Record<string, TemplateSpec>;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];

export type Templates = Record<TemplateName, string>;

export function defaultTemplates(): Templates {
  const out = {} as Templates;
  for (const name of TEMPLATE_NAMES) out[name] = TEMPLATES[name].default;
  return out;
}

export type TemplatePiece =
  | { kind: 'text'; text: string; span: Span }
  | { kind: 'placeholder'; name: string; span: Span }
  | { kind: 'escape'; text: string; span: Span }
  | { kind: 'stray'; text: string; span: Span };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Splits template text into pieces. Spans are offsets into `text` (the template's value). Never
 * throws; unmatched braces come back as `stray` pieces.
 */
export function scanTemplate(text: string): TemplatePiece[] {
  const pieces: TemplatePiece[] = [];
  let i = 0;
  let textStart = 0;
  const flush = (end: number) => {
    if (end > textStart) pieces.push({ kind: 'text', text: text.slice(textStart, end), span: { start: textStart, end } });
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '{') {
      if (text[i + 1] === '{') {
        flush(i);
        pieces.push({ kind: 'escape', text: '{', span: { start: i, end: i + 2 } });
        i += 2;
        textStart = i;
        continue;
      }
      const close = text.indexOf('}', i + 1);
      const nextOpen = text.indexOf('{', i + 1);
      if (close !== -1 && (nextOpen === -1 || close < nextOpen)) {
        const name = text.slice(i + 1, close);
        if (!/[\n\r]/.test(name) && name.length <= 64) {
          flush(i);
          pieces.push({ kind: 'placeholder', name, span: { start: i, end: close + 1 } });
          i = close + 1;
          textStart = i;
          continue;
        }
      }
      flush(i);
      pieces.push({ kind: 'stray', text: '{', span: { start: i, end: i + 1 } });
      i += 1;
      textStart = i;
      continue;
    }
    if (c === '}') {
      flush(i);
      if (text[i + 1] === '}') {
        pieces.push({ kind: 'escape', text: '}', span: { start: i, end: i + 2 } });
        i += 2;
      } else {
        pieces.push({ kind: 'stray', text: '}', span: { start: i, end: i + 1 } });
        i += 1;
      }
      textStart = i;
      continue;
    }
    i++;
  }
  flush(text.length);
  return pieces;
}

export function isPlaceholderName(name: string): name is PlaceholderName {
  return NAME.test(name) && Object.prototype.hasOwnProperty.call(PLACEHOLDERS, name);
}

/** Fills a template; unknown placeholders and stray braces are kept as written. */
export function fillTemplate(template: string, values: Partial<Record<PlaceholderName, string>>): string {
  let out = '';
  for (const p of scanTemplate(template)) {
    if (p.kind === 'placeholder') {
      const v = isPlaceholderName(p.name) ? values[p.name] : undefined;
      out += v ?? `{${p.name}}`;
    } else out += p.text;
  }
  return out;
}
