import type { OPTION_DEFAULTS } from './schema.js';
import type { Templates } from './templates.js';

/**
 * Constitution content as plain data: what the pipeline, the prompt renderer and the exporters
 * consume, and what importers produce. Keys are the file format's keys.
 */

export type Options = typeof OPTION_DEFAULTS;

export interface TurnData {
  role: 'human' | 'assistant';
  text: string;
}

/** Tool-specific data under `x-` keys, kept verbatim. */
export type Extensions = Record<string, unknown>;

export interface SourceRef {
  file: string;
  line: number;
}

export interface PrincipleData {
  id: string;
  name?: string;
  critique: string;
  revision: string;
  weight: number;
  tags: string[];
  notes?: string;
  extensions: Extensions;
  source?: SourceRef;
}

export interface ComparisonData {
  id: string;
  name?: string;
  question: string;
  weight: number;
  tags: string[];
  notes?: string;
  extensions: Extensions;
  source?: SourceRef;
}

export interface CritiqueRevisionExampleData {
  id?: string;
  principle?: string;
  /** The example's own request texts, when it has them. */
  critique_request?: string;
  revision_request?: string;
  conversation: TurnData[];
  critique: string;
  revision: string;
  notes?: string;
  extensions: Extensions;
  source?: SourceRef;
}

export interface ComparisonExampleData {
  id?: string;
  principle?: string;
  conversation: TurnData[];
  response_a: string;
  response_b: string;
  answer: 'A' | 'B';
  notes?: string;
  extensions: Extensions;
  source?: SourceRef;
}

export interface CotExampleData extends ComparisonExampleData {
  reasoning: string;
}

export interface ExamplesData {
  critique_revision: CritiqueRevisionExampleData[];
  comparison: ComparisonExampleData[];
  cot_comparison: CotExampleData[];
}

export interface ConstitutionData {
  name: string;
  version?: string;
  description?: string;
  options: Options;
  templates: Templates;
  principles: PrincipleData[];
  comparisons: ComparisonData[];
  examples: ExamplesData;
  extensions: Extensions;
}

/** The requests a critique/revision example shows: its own, else its principle's. */
export function exampleRequests(
  c: Pick<ConstitutionData, 'principles'>,
  ex: CritiqueRevisionExampleData,
): { critique_request: string; revision_request: string } {
  const p = ex.principle ? c.principles.find((x) => x.id === ex.principle) : undefined;
  return {
    critique_request: ex.critique_request ?? p?.critique ?? '',
    revision_request: ex.revision_request ?? p?.revision ?? '',
  };
}
