import type { Range, Span } from '../text.js';

export type Severity = 'error' | 'warning' | 'information' | 'hint';

/**
 * Every diagnostic code the validator emits. Codes are stable: scripts and CI filters key on them,
 * and docs/constitution-format.md lists each with an example.
 */
export const DiagnosticCodes = {
  yamlSyntax: 'yaml-syntax',
  duplicateKey: 'duplicate-key',
  multipleDocuments: 'multiple-documents',
  unresolvedAlias: 'unresolved-alias',
  wrongType: 'wrong-type',
  unknownKey: 'unknown-key',
  missingField: 'missing-field',
  duplicateId: 'duplicate-id',
  invalidId: 'invalid-id',
  emptyText: 'empty-text',
  invalidWeight: 'invalid-weight',
  zeroWeight: 'zero-weight',
  invalidValue: 'invalid-value',
  unknownPlaceholder: 'unknown-placeholder',
  placeholderNotAllowed: 'placeholder-not-allowed',
  missingPlaceholder: 'missing-placeholder',
  templateBrace: 'template-brace',
  unknownReference: 'unknown-reference',
  wrongReferenceKind: 'wrong-reference-kind',
  sameAnswerLetter: 'same-answer-letter',
  nearDuplicate: 'near-duplicate',
  includeCycle: 'include-cycle',
  includeNotFound: 'include-not-found',
  includeHasErrors: 'include-has-errors',
  conversationShape: 'conversation-shape',
  exampleNeedsPrinciple: 'example-needs-principle',
  noPrinciples: 'no-principles',
  unsupportedFormat: 'unsupported-format',
  internalError: 'internal-error',
} as const;

export type DiagnosticCode = (typeof DiagnosticCodes)[keyof typeof DiagnosticCodes];

/** A text edit inside one file, by offsets. */
export interface SpanEdit {
  span: Span;
  newText: string;
}

/** A fix the validator already knows; code actions offer it as is. */
export interface QuickFix {
  title: string;
  edits: SpanEdit[];
  /** The single obvious fix for its diagnostic (shown first, applied by "fix all"). */
  preferred?: boolean;
}

/** A diagnostic inside one file, by offsets (what the analysis produces). */
export interface SpanDiagnostic {
  span: Span;
  severity: Severity;
  code: DiagnosticCode;
  message: string;
  fixes?: QuickFix[];
  related?: { file: string; span: Span; message: string }[];
  /** Marks text the editor may fade (e.g. an excluded id that no longer exists). */
  unnecessary?: boolean;
}

/** The public, position-based form: what `cai validate --json` prints and the server publishes. */
export interface Diagnostic {
  file: string;
  range: Range;
  severity: Severity;
  code: DiagnosticCode;
  message: string;
  fixes?: { title: string; edits: { range: Range; newText: string }[]; preferred?: boolean }[];
  related?: { file: string; range: Range; message: string }[];
  unnecessary?: boolean;
}
