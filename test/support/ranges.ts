import assert from 'node:assert/strict';

/** Where `needle` is in `text` (after the first `after`, when given), as an LSP range. */
export function rangeOf(text: string, needle: string, after = ''): { start: { line: number; character: number }; end: { line: number; character: number } } {
  const from = after ? text.indexOf(after) : 0;
  assert.ok(from >= 0, after);
  const i = text.indexOf(needle, from);
  assert.ok(i >= 0, needle);
  const pos = (o: number): { line: number; character: number } => {
    const before = text.slice(0, o);
    return { line: before.split('\n').length - 1, character: o - before.lastIndexOf('\n') - 1 };
  };
  return { start: pos(i), end: pos(i + needle.length) };
}
