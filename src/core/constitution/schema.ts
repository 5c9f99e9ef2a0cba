import { TEMPLATES, TEMPLATE_NAMES, type TemplateName } from './templates.js';

/**
 * The constitution format, described once. The validator walks documents along this description,
 * completion and hover read their key lists and docs from it, and `npm run gen:schema` turns it
 * into schemas/constitution.schema.json for YAML/JSON tooling elsewhere.
 */

export type StringRole =
  | 'text' // free text that must not be empty
  | 'optional-text' // free text that may be empty (notes)
  | 'id' // a definition of an id
  | 'ref' // a reference to an id
  | 'tag'
  | 'path'
  | 'template'
  | 'version';

export type RefKind = 'principle' | 'comparison' | 'any';

export interface StringSpec {
  type: 'string';
  doc: string;
  role: StringRole;
  refKind?: RefKind;
  template?: TemplateName;
  enum?: readonly string[];
}

export interface NumberSpec {
  type: 'number';
  doc: string;
  integer?: boolean;
  minimum?: number;
  maximum?: number;
  /** Weights get their own diagnostic code. */
  weight?: boolean;
  default?: number;
}

export interface BooleanSpec {
  type: 'boolean';
  doc: string;
  default?: boolean;
}

export interface ArraySpec {
  type: 'array';
  doc: string;
  items: Spec;
  minItems?: number;
  maxItems?: number;
}

export interface FieldSpec {
  spec: Spec;
  required?: boolean;
}

export interface ObjectSpec {
  type: 'object';
  doc: string;
  /** Name shown in messages ("principle", "comparison example"). */
  title: string;
  fields: Record<string, FieldSpec>;
  /** How messages say where a key is ("in `templates`"); default "in a <title>". */
  where?: string;
  /** Exactly one of these keys must be present (conversation turns). */
  exactlyOne?: readonly string[];
}

export type Spec = StringSpec | NumberSpec | BooleanSpec | ArraySpec | ObjectSpec;

export const ID_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/;
export const ID_PATTERN_TEXT = '^[A-Za-z][A-Za-z0-9_.-]*$';
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;
export const TAG_PATTERN_TEXT = '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$';
export const FORMAT_VERSION = 1;

const text = (doc: string): StringSpec => ({ type: 'string', role: 'text', doc });
const field = (spec: Spec, required = false): FieldSpec => ({ spec, required });

const tags: ArraySpec = {
  type: 'array',
  doc: 'Labels for grouping and filtering (e.g. in per-principle label statistics).',
  items: { type: 'string', role: 'tag', doc: 'A tag: letters, digits and `_ . : / -`.' },
};

const weight: NumberSpec = {
  type: 'number',
  doc: 'Relative chance that this principle is drawn (default 1). 0 keeps it in the file but never draws it.',
  minimum: 0,
  weight: true,
  default: 1,
};

const notes: StringSpec = { type: 'string', role: 'optional-text', doc: 'Free notes for authors; never shown to a model.' };

const turn: ObjectSpec = {
  type: 'object',
  title: 'conversation turn',
  doc: 'One turn: `human: …` or `assistant: …`.',
  fields: {
    human: field(text('What the human says.')),
    assistant: field(text('What the assistant says.')),
  },
  exactlyOne: ['human', 'assistant'],
};

const conversation = (doc: string): ArraySpec => ({ type: 'array', doc, items: turn, minItems: 1 });

const answer: StringSpec = {
  type: 'string',
  role: 'text',
  doc: 'The letter of the better option.',
  enum: ['A', 'B'],
};

export const principleSpec: ObjectSpec = {
  type: 'object',
  title: 'principle',
  doc: 'A critique/revision principle: one round of the supervised stage draws one of these.',
  fields: {
    id: field({ type: 'string', role: 'id', doc: 'Unique id, referenced by examples and `exclude`. Letters, digits, `_ . -`; starts with a letter.' }, true),
    name: field(text('A human-readable title (optional).')),
    critique: field(text('The critique request: asks the model to point out what is wrong with its last response.'), true),
    revision: field(text('The revision request: asks the model to rewrite its response in light of the critique.'), true),
    weight: field(weight),
    tags: field(tags),
    notes: field(notes),
  },
};

export const comparisonSpec: ObjectSpec = {
  type: 'object',
  title: 'comparison principle',
  doc: 'A comparison principle for AI feedback: the question the feedback model answers when it picks between two responses.',
  fields: {
    id: field({ type: 'string', role: 'id', doc: 'Unique id, referenced by comparison examples. Letters, digits, `_ . -`; starts with a letter.' }, true),
    name: field(text('A human-readable title (optional).')),
    question: field(text('The question, e.g. "Which of these responses is less harmful?"'), true),
    weight: field(weight),
    tags: field(tags),
    notes: field(notes),
  },
};

const exampleId: FieldSpec = field({ type: 'string', role: 'id', doc: 'Optional id of the example itself.' });

export const critiqueRevisionExampleSpec: ObjectSpec = {
  type: 'object',
  title: 'critique/revision example',
  doc: 'A few-shot transcript: a conversation, a critique of its last assistant turn, and a revision.',
  fields: {
    id: exampleId,
    principle: field({ type: 'string', role: 'ref', refKind: 'principle', doc: 'The principle whose requests this example shows (its critique and revision text are used unless overridden below).' }),
    critique_request: field(text("The critique request shown in this example, when it differs from the principle's.")),
    revision_request: field(text("The revision request shown in this example, when it differs from the principle's.")),
    conversation: field(conversation('The conversation; its last turn is the assistant response that is critiqued.'), true),
    critique: field(text('The critique.'), true),
    revision: field(text('The revised response.'), true),
    notes: field(notes),
  },
};

export const comparisonExampleSpec: ObjectSpec = {
  type: 'object',
  title: 'comparison example',
  doc: 'A few-shot multiple-choice example: a conversation, two candidate responses and the better one.',
  fields: {
    id: exampleId,
    principle: field({ type: 'string', role: 'ref', refKind: 'comparison', doc: 'The comparison principle asked in this example; when absent, the principle drawn for the question at hand is used.' }),
    conversation: field(conversation('The conversation the two responses answer (usually ending with a human turn).'), true),
    response_a: field(text('Option (A).'), true),
    response_b: field(text('Option (B).'), true),
    answer: field(answer, true),
    notes: field(notes),
  },
};

export const cotExampleSpec: ObjectSpec = {
  type: 'object',
  title: 'chain-of-thought example',
  doc: 'A few-shot chain-of-thought comparison: reasoning written out before the answer.',
  fields: {
    ...comparisonExampleSpec.fields,
    reasoning: field(text('The step-by-step reasoning that leads to the answer.'), true),
  },
};

const templateFields: Record<string, FieldSpec> = {};
for (const name of TEMPLATE_NAMES) {
  const t = TEMPLATES[name];
  const ph = t.allowed.length ? ` Placeholders: ${t.allowed.map((p) => `{${p}}`).join(', ')}.` : ' No placeholders.';
  templateFields[name] = field({ type: 'string', role: 'template', template: name, doc: `${t.doc}${ph}` });
}

export const OPTION_DEFAULTS = {
  revision_rounds: 4,
  sample_with_replacement: true,
  direct_revision: false,
  both_orders: true,
  chain_of_thought: false,
  cot_clamp: [0.4, 0.6] as [number, number],
};

export const optionsSpec: ObjectSpec = {
  type: 'object',
  title: 'options',
  where: 'in `options`',
  doc: 'Method options. Run configurations may override them per run.',
  fields: {
    revision_rounds: field({ type: 'number', integer: true, minimum: 1, maximum: 64, default: 4, doc: 'Critique → revision rounds per red-team prompt (default 4).' }),
    sample_with_replacement: field({ type: 'boolean', default: true, doc: 'Draw the principle for each round with replacement (default true), so one principle may come up twice for a prompt.' }),
    direct_revision: field({ type: 'boolean', default: false, doc: 'Skip the critique and ask for the revision directly (an ablation; default false).' }),
    both_orders: field({ type: 'boolean', default: true, doc: 'Ask each comparison in both orders, (A,B) and (B,A), and average the two labels to cancel position bias (default true).' }),
    chain_of_thought: field({ type: 'boolean', default: false, doc: 'Let the feedback model reason step by step before it answers (default false).' }),
    cot_clamp: field({
      type: 'array',
      doc: 'With chain of thought, labels are clamped into [low, high] because reasoning makes them nearly 0 or 1 (default [0.4, 0.6]).',
      items: { type: 'number', minimum: 0, maximum: 1, doc: 'A probability.' },
      minItems: 2,
      maxItems: 2,
    }),
  },
};

export const examplesSpec: ObjectSpec = {
  type: 'object',
  title: 'examples',
  where: 'in `examples`',
  doc: 'Few-shot examples, placed before every prompt of their kind.',
  fields: {
    critique_revision: field({ type: 'array', doc: 'Critique/revision transcripts.', items: critiqueRevisionExampleSpec }),
    comparison: field({ type: 'array', doc: 'Multiple-choice comparison examples.', items: comparisonExampleSpec }),
    cot_comparison: field({ type: 'array', doc: 'Chain-of-thought comparison examples.', items: cotExampleSpec }),
  },
};

export const constitutionSpec: ObjectSpec = {
  type: 'object',
  title: 'constitution',
  where: 'at the top level',
  doc: 'A constitution for Constitutional AI: the principles that drive critique, revision and AI feedback.',
  fields: {
    $schema: field({ type: 'string', role: 'path', doc: 'Location of the JSON Schema (for editors that read it).' }),
    format_version: field({ type: 'number', integer: true, minimum: 1, default: 1, doc: 'Version of this file format. Only 1 exists.' }),
    name: field(text('The constitution\'s name.'), true),
    version: field({ type: 'string', role: 'version', doc: 'Your version of this constitution, e.g. "1.2.0".' }),
    description: field({ type: 'string', role: 'optional-text', doc: 'What this constitution is for.' }),
    include: field({
      type: 'array',
      doc: 'Other constitution files whose principles, comparisons and examples become part of this one (paths relative to this file).',
      items: { type: 'string', role: 'path', doc: 'A path to a *.constitution.yaml file, relative to this file.' },
    }),
    exclude: field({
      type: 'array',
      doc: 'Ids from included files to leave out.',
      items: { type: 'string', role: 'ref', refKind: 'any', doc: 'An id defined in an included file.' },
    }),
    options: field(optionsSpec),
    templates: field({ type: 'object', title: 'templates', where: 'in `templates`', doc: 'Prompt templates; each one left out keeps its built-in default (or the one an included file sets).', fields: templateFields }),
    principles: field({ type: 'array', doc: 'Critique/revision principles.', items: principleSpec }),
    comparisons: field({ type: 'array', doc: 'Comparison principles for AI feedback.', items: comparisonSpec }),
    examples: field(examplesSpec),
  },
};

/** Keys starting with `x-` carry tool-specific data (importers keep format details there). */
export function isExtensionKey(key: string): boolean {
  return key.startsWith('x-');
}

export function specTypeName(spec: Spec): string {
  switch (spec.type) {
    case 'object':
      return `a mapping (${spec.title})`;
    case 'array':
      return 'a list';
    case 'string':
      return spec.enum ? spec.enum.map((e) => `"${e}"`).join(' or ') : 'text';
    case 'number':
      return spec.integer ? 'a whole number' : 'a number';
    case 'boolean':
      return 'true or false';
  }
}
