// Training a byte-level BPE tokenizer: deterministic, loads in @huggingface/tokenizers, encodes
// and decodes any text exactly (seen or not, any script), and compresses the text it learned from.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bpeTokenizerJson, trainBpe } from '../../src/core/model/bpe';
import { HfTokenizer } from '../../src/core/model/tokenizer';

const corpus = Array.from({ length: 200 }, (_, i) => `Human: How do I water my plants number ${i}?\n\nAssistant: Sure! To water your plants, start by checking the soil. Then water it slowly.`);

describe('BPE training', () => {
  it('learns merges deterministically and fills the vocabulary up to its size', () => {
    const a = trainBpe(corpus, { vocabSize: 300 });
    const b = trainBpe(corpus, { vocabSize: 300 });
    assert.deepEqual(a.merges, b.merges);
    assert.equal(a.vocab.size, 300);
    assert.equal(a.merges.length, 300 - 259);
    // Ids are dense: bytes, specials, then merges in order.
    assert.deepEqual([...a.vocab.values()].sort((x, y) => x - y), Array.from({ length: 300 }, (_, i) => i));
    assert.equal(a.vocab.get('<|bos|>'), 256);
  });

  it('round-trips any text through @huggingface/tokenizers and compresses what it learned from', () => {
    const tok = HfTokenizer.fromJson(bpeTokenizerJson(trainBpe(corpus, { vocabSize: 600 })));
    for (const t of [corpus[3]!, 'Unseen words: zyxwvut, ünïcödé — 日本語, emoji 🙂, tabs\tand\n\nnewlines  ', '', ' leading space']) {
      const ids = tok.encode(t, { addSpecialTokens: false });
      assert.equal(tok.decode(ids), t);
    }
    const withBos = tok.encode('Sure!', { addSpecialTokens: true });
    assert.equal(withBos[0], 256);
    const text = corpus[42]!;
    const n = tok.encode(text, { addSpecialTokens: false }).length;
    assert.ok(n < new TextEncoder().encode(text).length / 3, `${n} tokens for ${text.length} characters`);
  });

  it('stops merging below the minimum frequency', () => {
    const small = trainBpe(['ab ab ab cd'], { vocabSize: 1000, minFrequency: 2 });
    assert.ok(small.merges.includes('a b'));
    assert.ok(!small.merges.includes('c d'));
    assert.ok(small.vocab.size < 1000);
  });
});
