/** Positions and ranges in the shape LSP uses (0-based line, UTF-16 character). */
export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** A half-open span of UTF-16 offsets into a document's text. */
export interface Span {
  start: number;
  end: number;
}

/**
 * Maps offsets to positions and back for one text. Built once per document version;
 * lookups are binary searches over line starts.
 */
export class TextIndex {
  private readonly lineStarts: number[];

  constructor(readonly text: string) {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      }
    }
    this.lineStarts = starts;
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }

  clampOffset(offset: number): number {
    if (!Number.isFinite(offset) || offset < 0) return 0;
    return Math.min(Math.floor(offset), this.text.length);
  }

  positionAt(offset: number): Position {
    const o = this.clampOffset(offset);
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= o) lo = mid;
      else hi = mid - 1;
    }
    // an offset between \r and \n belongs to the end of its line
    const start = this.lineStarts[lo] as number;
    return { line: lo, character: Math.min(o, this.lineEnd(lo)) - start };
  }

  offsetAt(position: Position): number {
    if (position.line < 0) return 0;
    if (position.line >= this.lineStarts.length) return this.text.length;
    const start = this.lineStarts[position.line] as number;
    const end = this.lineEnd(position.line);
    return Math.max(start, Math.min(start + Math.max(0, position.character), end));
  }

  /** Offset of the end of the line's content (before its line break). */
  lineEnd(line: number): number {
    const next = this.lineStarts[line + 1];
    if (next === undefined) return this.text.length;
    let end = next - 1;
    if (end > 0 && this.text.charCodeAt(end) === 10 && this.text.charCodeAt(end - 1) === 13) end--;
    return end;
  }

  lineStart(line: number): number {
    return this.lineStarts[Math.max(0, Math.min(line, this.lineStarts.length - 1))] as number;
  }

  lineText(line: number): string {
    return this.text.slice(this.lineStart(line), this.lineEnd(line));
  }

  range(span: Span): Range {
    const start = this.clampOffset(span.start);
    const end = Math.max(start, this.clampOffset(span.end));
    return { start: this.positionAt(start), end: this.positionAt(end) };
  }
}

export function spanContains(span: Span, offset: number): boolean {
  return offset >= span.start && offset <= span.end;
}
