import type { LNode } from '../ast.js';
import type { FileAnalysis } from '../validate.js';

export interface FoldingRange {
  startLine: number;
  endLine: number;
  kind?: 'comment' | 'region';
}

/**
 * Folds every mapping entry and list item that spans more than one line, and runs of comment
 * lines. Ranges come from the YAML tree, so they follow structure rather than indentation.
 */
export function foldingRanges(fa: FileAnalysis): FoldingRange[] {
  const out: FoldingRange[] = [];
  const ix = fa.index;
  const lastContentLine = (end: number): number => {
    // node spans of block values end after the line break (and trailing blank lines)
    let e = end;
    while (e > 0 && /\s/.test(fa.text.charAt(e - 1))) e--;
    return ix.positionAt(e).line;
  };
  const add = (start: number, end: number) => {
    const s = ix.positionAt(start).line;
    const l = lastContentLine(end);
    if (l > s) out.push({ startLine: s, endLine: l });
  };
  const walk = (n: LNode | undefined, depth: number) => {
    if (!n || depth > 64) return;
    if (n.kind === 'map') {
      for (const e of n.entries) {
        if (e.value && e.value.kind !== 'scalar') add(e.keySpan.start, e.value.span.end);
        else if (e.value) add(e.keySpan.start, e.value.span.end);
        walk(e.value, depth + 1);
      }
    } else if (n.kind === 'seq') {
      for (const item of n.items) {
        if (item.kind !== 'scalar') add(item.span.start, item.span.end);
        walk(item, depth + 1);
      }
    }
  };
  walk(fa.model.root, 0);
  // comment blocks
  let start = -1;
  for (let line = 0; line <= ix.lineCount; line++) {
    const isComment = line < ix.lineCount && /^\s*#/.test(ix.lineText(line));
    if (isComment && start === -1) start = line;
    if (!isComment && start !== -1) {
      if (line - 1 > start) out.push({ startLine: start, endLine: line - 1, kind: 'comment' });
      start = -1;
    }
  }
  // one range per start line (the outermost), as editors expect
  const byStart = new Map<number, FoldingRange>();
  for (const r of out) {
    const prev = byStart.get(r.startLine);
    if (!prev || r.endLine > prev.endLine) byStart.set(r.startLine, r);
  }
  return [...byStart.values()].sort((a, b) => a.startLine - b.startLine);
}
