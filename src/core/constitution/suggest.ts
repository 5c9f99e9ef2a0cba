import { distance } from 'fastest-levenshtein';

/**
 * "Did you mean" candidates: the closest names by edit distance, accepted only when the distance
 * is small for the word's length (so `critque` suggests `critique` but `foo` suggests nothing).
 */
export function suggest(word: string, candidates: Iterable<string>, max = 3): string[] {
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.min(4, Math.floor(w.length / 3)));
  const scored: { c: string; d: number }[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c) || c === word) continue;
    seen.add(c);
    const lc = c.toLowerCase();
    let d = distance(w, lc);
    // a typed prefix or a word with separators swapped (`revision-rounds`) is close too
    if (lc.replace(/[-_.]/g, '') === w.replace(/[-_.]/g, '')) d = Math.min(d, 1);
    if (w.length >= 3 && lc.startsWith(w)) d = Math.min(d, limit);
    if (d <= limit) scored.push({ c, d });
  }
  scored.sort((a, b) => a.d - b.d || a.c.localeCompare(b.c));
  return scored.slice(0, max).map((s) => s.c);
}

export function didYouMean(suggestions: string[]): string {
  if (suggestions.length === 0) return '';
  if (suggestions.length === 1) return ` Did you mean '${suggestions[0]}'?`;
  return ` Did you mean ${suggestions.map((s) => `'${s}'`).join(', ')}?`;
}
