// Training a byte-level BPE tokenizer (GPT-2's scheme) on a corpus, written out as a Hugging Face
// tokenizer.json that @huggingface/tokenizers (and the Python library, and llama.cpp's GGUF
// export) read. Text is split with GPT-2's pre-tokenization pattern, each piece's UTF-8 bytes are
// mapped to GPT-2's printable byte symbols, and the most frequent adjacent pair is merged until
// the vocabulary is full. Ties break on the pair's first appearance, so training is deterministic.
//
// Layout of the vocabulary: the 256 byte symbols (ids 0–255, as the byte tokenizer), the special
// tokens <|bos|>, <|eos|>, <|pad|> (256–258), then one token per merge.

import { BYTE_BOS_ID, BYTE_EOS_ID, BYTE_PAD_ID, BYTE_SPECIAL_TOKENS, byteLevelTokenizerJson, byteSymbols } from './tokenizer';

/** GPT-2's pre-tokenization pattern (what the ByteLevel pre-tokenizer applies with use_regex). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface BpeTrainOptions {
  /** Final vocabulary size, bytes and special tokens included (≥ 259). */
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged (default 2). */
  minFrequency?: number;
}

export interface TrainedBpe {
  vocab: Map<string, number>;
  /** Merges in order, as "left right". */
  merges: string[];
}

function utf8Bytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

/** Learns merges from `texts`. */
export function trainBpe(texts: Iterable<string>, opts: BpeTrainOptions): TrainedBpe {
  const specials = 3;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 256 + specials) throw new RangeError(`vocabSize must be an integer ≥ ${256 + specials}`);
  const minFrequency = opts.minFrequency ?? 2;
  const symbols = byteSymbols();
  // Distinct pre-tokenized words with their counts; each word a list of symbol strings.
  const counts = new Map<string, number>();
  for (const t of texts) for (const m of t.matchAll(GPT2_SPLIT)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const words: { parts: string[]; n: number }[] = [];
  for (const [w, n] of counts) words.push({ parts: utf8Bytes(w).map((b) => symbols[b]!), n });

  const vocab = new Map<string, number>();
  symbols.forEach((s, b) => vocab.set(s, b));
  vocab.set(BYTE_SPECIAL_TOKENS.bos, BYTE_BOS_ID);
  vocab.set(BYTE_SPECIAL_TOKENS.eos, BYTE_EOS_ID);
  vocab.set(BYTE_SPECIAL_TOKENS.pad, BYTE_PAD_ID);
  const merges: string[] = [];

  // Pair statistics with the words each pair occurs in, updated incrementally after each merge.
  const SEP = '\u0000';
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const firstSeen = new Map<string, number>();
  let order = 0;
  const addPairs = (wi: number, sign: 1 | -1): void => {
    const { parts, n } = words[wi]!;
    for (let i = 0; i + 1 < parts.length; i++) {
      const key = parts[i]! + SEP + parts[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * n);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(wi);
        if (!firstSeen.has(key)) firstSeen.set(key, order++);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));

  while (vocab.size < opts.vocabSize) {
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, c] of pairCount) {
      if (c > bestCount || (c === bestCount && c > 0 && best !== undefined && firstSeen.get(key)! < firstSeen.get(best)!)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === undefined || bestCount < minFrequency) break;
    const [left, right] = best.split(SEP) as [string, string];
    const merged = left + right;
    merges.push(`${left} ${right}`);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    const affected = [...(pairWords.get(best) ?? [])];
    for (const wi of affected) {
      addPairs(wi, -1);
      const parts = words[wi]!.parts;
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === left && parts[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(parts[i]!);
      }
      words[wi]!.parts = next;
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return { vocab, merges };
}

/** The trained tokenizer as tokenizer.json text: byte-level BPE, BOS added to every encoding. */
export function bpeTokenizerJson(bpe: TrainedBpe): string {
  return byteLevelTokenizerJson(Object.fromEntries(bpe.vocab), bpe.merges, true);
}
