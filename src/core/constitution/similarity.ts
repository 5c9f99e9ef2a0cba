/**
 * Near-duplicate detection for principle texts: Jaccard similarity of word-bigram sets, with
 * candidate pairs found through an inverted index of the rarer bigrams so that thousands of
 * principles are compared in near-linear time.
 */

export interface SimilarityItem {
  key: number;
  text: string;
}

export interface SimilarPair {
  a: number;
  b: number;
  similarity: number;
}

const WORD = /[\p{L}\p{N}']+/gu;

function shingles(text: string): Set<string> {
  const words = text.toLowerCase().match(WORD) ?? [];
  const out = new Set<string>();
  if (words.length === 1) out.add(words[0] as string);
  for (let i = 0; i + 1 < words.length; i++) out.add(`${words[i]} ${words[i + 1]}`);
  return out;
}

/**
 * Pairs whose similarity is at least `threshold` (0..1). Each pair is reported once, with `a`
 * the earlier item. Common bigrams (in more than `maxPosting` items) are not used to find
 * candidates but still count toward the similarity.
 */
export function nearDuplicates(items: SimilarityItem[], threshold: number, maxPosting = 64): SimilarPair[] {
  if (!(threshold > 0) || threshold > 1 || items.length < 2) return [];
  const sets = items.map((i) => shingles(i.text));
  const df = new Map<string, number>();
  for (const s of sets) for (const g of s) df.set(g, (df.get(g) ?? 0) + 1);
  const postings = new Map<string, number[]>();
  const out: SimilarPair[] = [];
  const counts = new Map<number, number>();
  for (let i = 0; i < sets.length; i++) {
    const s = sets[i] as Set<string>;
    if (s.size === 0) continue;
    counts.clear();
    let rare = 0;
    for (const g of s) {
      if ((df.get(g) ?? 0) > maxPosting) continue;
      rare++;
      const p = postings.get(g);
      if (p) for (const j of p) counts.set(j, (counts.get(j) ?? 0) + 1);
    }
    for (const [j, shared] of counts) {
      const t = sets[j] as Set<string>;
      // quick bound: similarity can't exceed min/max of sizes
      const minSize = Math.min(s.size, t.size);
      const maxSize = Math.max(s.size, t.size);
      if (minSize / maxSize < threshold) continue;
      if (rare > 0 && shared === 0) continue;
      let inter = 0;
      const [small, large] = s.size <= t.size ? [s, t] : [t, s];
      for (const g of small) if (large.has(g)) inter++;
      const sim = inter / (s.size + t.size - inter);
      if (sim >= threshold) out.push({ a: (items[j] as SimilarityItem).key, b: (items[i] as SimilarityItem).key, similarity: sim });
    }
    for (const g of s) {
      if ((df.get(g) ?? 0) > maxPosting) continue;
      let p = postings.get(g);
      if (!p) postings.set(g, (p = []));
      p.push(i);
    }
  }
  return out;
}
