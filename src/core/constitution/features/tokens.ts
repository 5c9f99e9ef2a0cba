import type { Span } from '../../text.js';
import { isPlaceholderName, scanTemplate } from '../templates.js';
import type { FileAnalysis } from '../validate.js';

export type SemanticTokenType = 'placeholder' | 'escape';

export interface SemanticToken {
  span: Span;
  type: SemanticTokenType;
  /** The placeholder exists but is not allowed in this template, or does not exist. */
  invalid?: boolean;
}

/** Placeholders and brace escapes in the file's templates, in document order. */
export function semanticTokens(fa: FileAnalysis): SemanticToken[] {
  const out: SemanticToken[] = [];
  for (const t of fa.model.templates) {
    const base = t.node.span.start;
    const raw = fa.text.slice(t.node.span.start, t.node.span.end);
    for (const p of scanTemplate(raw)) {
      const span = { start: base + p.span.start, end: base + p.span.end };
      if (p.kind === 'placeholder') out.push({ span, type: 'placeholder', invalid: !isPlaceholderName(p.name) });
      else if (p.kind === 'escape') out.push({ span, type: 'escape' });
    }
  }
  return out.sort((a, b) => a.span.start - b.span.start);
}
