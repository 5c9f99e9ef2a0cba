import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BYTE_BOS_ID, BYTE_EOS_ID, BYTE_PAD_ID, ByteTokenizer, HfTokenizer, type Tokenizer } from '../../src/core/model/tokenizer.js';

/** GPT-2's byte → printable character table. */
function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const table: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (keep.includes(b)) table[b] = String.fromCodePoint(b);
    else table[b] = String.fromCodePoint(256 + n++);
  }
  return table;
}

const BYTE = bytesToUnicode();

/**
 * A byte-level BPE tokenizer.json: ids 0–255 are the byte characters (id = byte value), then
 * merges he(256) ll(257) hell(258) Ġw(259) or(260), then <|endoftext|> (261) and <s> (262).
 * With `bos`, a template post-processor puts <s> first, as Llama tokenizers do.
 */
function tokenizerJson(bos: boolean): object {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[BYTE[b]!] = b;
  const merges = ['h e', 'l l', 'he ll', 'Ġ w', 'o r'];
  merges.forEach((m, i) => (vocab[m.replace(' ', '')] = 256 + i));
  const added = (id: number, content: string): object => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(261, '<|endoftext|>'), added(262, '<s>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: bos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { '<s>': { id: '<s>', ids: [262], tokens: ['<s>'] } },
        }
      : { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

describe('HfTokenizer (byte-level BPE)', () => {
  const gpt2 = HfTokenizer.fromJson(tokenizerJson(false));
  const llama = HfTokenizer.fromJson(JSON.stringify(tokenizerJson(true)), { bosTokenId: 262, eosTokenIds: [261] });

  it('maps bytes through the GPT-2 table', () => {
    assert.equal(BYTE[32], 'Ġ');
    assert.equal(BYTE[10], 'Ċ');
    assert.equal(gpt2.tokenToId('Ġ'), 32);
    assert.equal(gpt2.idToToken(259), 'Ġw');
  });

  it('applies merges in rank order', () => {
    // "hello" → h e l l o → he l l o → he ll o → hell o; " world" → Ġw o r l d → Ġw or l d
    assert.deepEqual(gpt2.encode('hello world'), [258, 111, 259, 260, 108, 100]);
    // "hell" alone and "lol": no merge applies across "l o"
    assert.deepEqual(gpt2.encode('lol'), [108, 111, 108]);
    // UTF-8 bytes of é (C3 A9) are two byte tokens
    assert.deepEqual(gpt2.encode('é'), [0xc3, 0xa9]);
    // a newline is its own pre-token
    assert.deepEqual(gpt2.encode('he\nll'), [256, 10, 257]);
  });

  it('adds BOS only where the post-processor does', () => {
    assert.deepEqual(gpt2.encode('hello'), [258, 111]);
    assert.deepEqual(llama.encode('hello'), [262, 258, 111]);
    assert.deepEqual(llama.encode('hello', { addSpecialTokens: false }), [258, 111]);
  });

  it('keeps special tokens in the text whole', () => {
    assert.deepEqual(gpt2.encode('hello<|endoftext|>'), [258, 111, 261]);
  });

  it('decodes back to the text, with or without special tokens', () => {
    assert.equal(gpt2.decode([258, 111, 259, 260, 108, 100]), 'hello world');
    assert.equal(gpt2.decode(gpt2.encode('héllo wörld\n')), 'héllo wörld\n');
    assert.equal(llama.decode(llama.encode('hello')), '<s>hello');
    assert.equal(llama.decode(llama.encode('hello'), { skipSpecialTokens: true }), 'hello');
    assert.equal(gpt2.decode([]), '');
    // ids the vocabulary does not have (padding rows of an embedding) are dropped
    assert.equal(gpt2.decode([258, 400, 111]), 'hello');
  });

  it('reports vocabulary size and special ids', () => {
    assert.equal(gpt2.vocabSize, 263);
    assert.deepEqual(gpt2.eosTokenIds, [261]); // guessed from <|endoftext|>
    assert.equal(gpt2.bosTokenId, undefined);
    assert.equal(llama.bosTokenId, 262);
    assert.deepEqual(llama.eosTokenIds, [261]);
  });
});

describe('ByteTokenizer', () => {
  const tok: Tokenizer = new ByteTokenizer(300);

  it('encodes UTF-8 bytes after BOS', () => {
    assert.deepEqual(tok.encode('hé'), [BYTE_BOS_ID, 104, 0xc3, 0xa9]);
    assert.deepEqual(tok.encode('hé', { addSpecialTokens: false }), [104, 0xc3, 0xa9]);
    assert.equal(tok.vocabSize, 300);
    assert.equal(tok.bosTokenId, 256);
    assert.deepEqual(tok.eosTokenIds, [257]);
  });

  it('decodes, writing or skipping special tokens', () => {
    const ids = [BYTE_BOS_ID, 104, 105, BYTE_EOS_ID, BYTE_PAD_ID];
    assert.equal(tok.decode(ids), '<|bos|>hi<|eos|><|pad|>');
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'hi');
    assert.equal(tok.decode([104, 299, 105]), 'hi');
  });

  it('decodes a character cut in the middle to U+FFFD', () => {
    assert.equal(tok.decode([104, 0xc3]), 'h\ufffd');
    assert.equal(tok.decode([0xc3, BYTE_EOS_ID, 0xa9], { skipSpecialTokens: true }), '\ufffd\ufffd');
  });

  it('needs room for the special tokens', () => {
    assert.throws(() => new ByteTokenizer(258), /at least 259/);
  });
});

describe('ByteTokenizer as tokenizer.json', () => {
  it('encodes and decodes exactly like the class through @huggingface/tokenizers', () => {
    const b = new ByteTokenizer(512);
    const h = HfTokenizer.fromJson(b.toHfJson());
    for (const s of ['Hello world', '  two  spaces\n\ttab', 'héllo — ünïcode 😀', '']) {
      assert.deepEqual(h.encode(s), b.encode(s));
      assert.deepEqual(h.encode(s, { addSpecialTokens: false }), b.encode(s, { addSpecialTokens: false }));
      assert.equal(h.decode(h.encode(s), { skipSpecialTokens: true }), s);
    }
  });
});
