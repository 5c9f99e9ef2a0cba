import type { Span } from '../text.js';
import type { LMap, LNode, LScalar } from './ast.js';
import type { RefKind } from './schema.js';
import type { TemplateName } from './templates.js';

/** A value with the span it was read from. */
export interface Located<T> {
  value: T;
  span: Span;
}

export type DefinitionKind = 'principle' | 'comparison' | 'example';

export interface Definition {
  id: string;
  kind: DefinitionKind;
  file: string;
  /** The id's own text. */
  span: Span;
  /** The whole item (for outline, hover and folding). */
  itemSpan: Span;
  /** Index of the item in its list (principles, comparisons or the example group). */
  index: number;
}

export type ReferenceField = 'principle' | 'exclude';

export interface Reference {
  id: string;
  refKind: RefKind;
  file: string;
  span: Span;
  field: ReferenceField;
  /** What holds the reference, for messages and "where used" lists. */
  holder: string;
}

export interface Turn {
  role: 'human' | 'assistant';
  text: Located<string>;
}

export interface PrincipleModel {
  node: LMap;
  id?: Located<string>;
  name?: Located<string>;
  critique?: Located<string>;
  revision?: Located<string>;
  weight: number;
  weightSpan?: Span;
  tags: Located<string>[];
  notes?: Located<string>;
  extensions: Record<string, unknown>;
}

export interface ComparisonModel {
  node: LMap;
  id?: Located<string>;
  name?: Located<string>;
  question?: Located<string>;
  weight: number;
  weightSpan?: Span;
  tags: Located<string>[];
  notes?: Located<string>;
  extensions: Record<string, unknown>;
}

export interface ExampleModelBase {
  node: LMap;
  id?: Located<string>;
  principle?: Located<string>;
  conversation: Turn[];
  conversationSpan?: Span;
  notes?: Located<string>;
  extensions: Record<string, unknown>;
}

export interface CritiqueRevisionExampleModel extends ExampleModelBase {
  critiqueRequest?: Located<string>;
  revisionRequest?: Located<string>;
  critique?: Located<string>;
  revision?: Located<string>;
}

export interface ComparisonExampleModel extends ExampleModelBase {
  responseA?: Located<string>;
  responseB?: Located<string>;
  answer?: Located<'A' | 'B'>;
}

export interface CotExampleModel extends ComparisonExampleModel {
  reasoning?: Located<string>;
}

export type ExampleGroup = 'critique_revision' | 'comparison' | 'cot_comparison';

export interface TemplateModel {
  name: TemplateName;
  value: string;
  node: LScalar;
  keySpan: Span;
}

export interface OptionsModel {
  revision_rounds?: Located<number>;
  sample_with_replacement?: Located<boolean>;
  direct_revision?: Located<boolean>;
  both_orders?: Located<boolean>;
  chain_of_thought?: Located<boolean>;
  cot_clamp?: Located<[number, number]>;
}

export interface IncludeModel {
  path: string;
  span: Span;
}

/** What one file says, with spans; the input to resolution across files. */
export interface FileModel {
  file: string;
  root: LNode | undefined;
  name?: Located<string>;
  version?: Located<string>;
  description?: Located<string>;
  includes: IncludeModel[];
  excludes: Located<string>[];
  options: OptionsModel;
  templates: TemplateModel[];
  principles: PrincipleModel[];
  comparisons: ComparisonModel[];
  examples: {
    critique_revision: CritiqueRevisionExampleModel[];
    comparison: ComparisonExampleModel[];
    cot_comparison: CotExampleModel[];
  };
  definitions: Definition[];
  references: Reference[];
  extensions: Record<string, unknown>;
}
