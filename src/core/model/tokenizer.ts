// Tokenizers: one interface for the model, generation and data code, implemented by a wrapper
// over Hugging Face's tokenizer.json (through @huggingface/tokenizers) and by the built-in
// byte tokenizer of our presets.

import type * as HfLib from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };

// The package ships CommonJS for `require` but types that TypeScript reads as ES modules, so
// the types come in through an import-mode type import and the code through `require`.
declare const require: (id: string) => unknown;
const { Tokenizer: HfLibTokenizer } = require('@huggingface/tokenizers') as typeof HfLib;
type HfLibTokenizer = HfLib.Tokenizer;

/** UTF-8 codecs: globals of every runtime we target, declared here since src/core has no DOM or Node types. */
declare const TextEncoder: new () => { encode(text: string): Uint8Array };
declare const TextDecoder: new (label?: string, opts?: { fatal?: boolean }) => { decode(bytes: Uint8Array): string };

export interface EncodeOptions {
  /** Add what the tokenizer's post-processor adds (BOS for Llama-style tokenizers). Default true. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave special tokens (BOS, EOS, padding, chat markers) out of the text. Default false. */
  readonly skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** One more than the largest id the tokenizer produces. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  /** Ids that end a generation; may be empty. */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
}

export interface HfTokenizerOptions {
  /** From the model's config; overrides what the tokenizer guesses. */
  readonly bosTokenId?: number;
  readonly eosTokenIds?: readonly number[];
  readonly padTokenId?: number;
  /** tokenizer_config.json, when there is one (passed to the library as its config). */
  readonly tokenizerConfig?: object;
}

/** Tokens that commonly mark the end of a text, tried in order when the config names no EOS. */
const EOS_GUESSES = ['<|endoftext|>', '</s>', '<|end_of_text|>', '<|eos|>', '<eos>'];

/** A Hugging Face tokenizer.json, encoding and decoding exactly as the library does. */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  private readonly cleanUpSpaces: boolean;

  private constructor(
    private readonly inner: HfLibTokenizer,
    opts: HfTokenizerOptions,
  ) {
    let max = -1;
    for (const id of inner.get_vocab(true).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    this.bosTokenId = opts.bosTokenId;
    let eos = opts.eosTokenIds ? [...opts.eosTokenIds] : [];
    if (!opts.eosTokenIds) {
      for (const t of EOS_GUESSES) {
        const id = inner.token_to_id(t);
        if (id !== undefined) {
          eos = [id];
          break;
        }
      }
    }
    this.eosTokenIds = eos;
    this.padTokenId = opts.padTokenId;
    // The Rust library decodes without "clean-up"; transformers adds it only when
    // tokenizer_config.json asks. Default to the exact decoder output.
    const cfg = (opts.tokenizerConfig ?? {}) as { clean_up_tokenization_spaces?: unknown };
    this.cleanUpSpaces = cfg.clean_up_tokenization_spaces === true;
  }

  /** From tokenizer.json's text or parsed object. Throws the library's error for a malformed file. */
  static fromJson(json: object | string, opts: HfTokenizerOptions = {}): HfTokenizer {
    const obj: unknown = typeof json === 'string' ? JSON.parse(json) : json;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('tokenizer.json is not a JSON object');
    const withDefaults = { added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...obj };
    return new HfTokenizer(new HfLibTokenizer(withDefaults, opts.tokenizerConfig ?? {}), opts);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.inner.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /** Ids the tokenizer does not know (e.g. padding rows of a larger embedding) are left out. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const known = ids.filter((id) => this.inner.id_to_token(id) !== undefined);
    if (known.length === 0) return '';
    return this.inner.decode(known, { skip_special_tokens: opts.skipSpecialTokens ?? false, clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }
}

/** Special tokens of the byte tokenizer, after the 256 byte values. */
export const BYTE_SPECIAL_TOKENS = { bos: '<|bos|>', eos: '<|eos|>', pad: '<|pad|>' } as const;
export const BYTE_BOS_ID = 256;
export const BYTE_EOS_ID = 257;
export const BYTE_PAD_ID = 258;
/** Smallest vocabulary a byte tokenizer can have: 256 bytes and the three special tokens. */
export const BYTE_MIN_VOCAB = 259;

/**
 * The built-in tokenizer of our presets: ids 0–255 are the bytes of the UTF-8 text, then
 * BOS, EOS and padding. Ids above 258 (when the vocabulary is larger) are never produced and
 * decode to nothing.
 */
export class ByteTokenizer implements Tokenizer {
  readonly bosTokenId = BYTE_BOS_ID;
  readonly eosTokenIds: readonly number[] = [BYTE_EOS_ID];
  readonly padTokenId = BYTE_PAD_ID;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(readonly vocabSize: number = BYTE_MIN_VOCAB) {
    if (!Number.isInteger(vocabSize) || vocabSize < BYTE_MIN_VOCAB) {
      throw new RangeError(`a byte tokenizer needs a vocabulary of at least ${BYTE_MIN_VOCAB} (got ${vocabSize})`);
    }
  }

  /** With special tokens, BOS goes first (EOS is added by the data pipeline where a text ends). */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const bytes: number[] = Array.from(this.encoder.encode(text));
    return (opts.addSpecialTokens ?? true) ? [BYTE_BOS_ID, ...bytes] : bytes;
  }

  /** Invalid UTF-8 (a generation cut mid-character) becomes U+FFFD rather than an error. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? false;
    let out = '';
    let run: number[] = [];
    const flush = (): void => {
      if (run.length > 0) out += this.decoder.decode(new Uint8Array(run));
      run = [];
    };
    for (const id of ids) {
      if (id >= 0 && id < 256) {
        run.push(id);
        continue;
      }
      flush();
      if (skip) continue;
      if (id === BYTE_BOS_ID) out += BYTE_SPECIAL_TOKENS.bos;
      else if (id === BYTE_EOS_ID) out += BYTE_SPECIAL_TOKENS.eos;
      else if (id === BYTE_PAD_ID) out += BYTE_SPECIAL_TOKENS.pad;
    }
    flush();
    return out;
  }

  /**
   * The same tokenizer as a Hugging Face `tokenizer.json`: byte-level pre-tokenizer and decoder,
   * a BPE model without merges whose vocabulary maps each byte's symbol to the byte's value, and
   * a template that puts BOS first. A model trained on a preset is saved with it, so the folder
   * loads anywhere tokenizer.json is understood and encodes exactly as this class does.
   */
  toHfJson(): string {
    const vocab: Record<string, number> = {};
    byteSymbols().forEach((sym, b) => {
      vocab[sym] = b;
    });
    return byteLevelTokenizerJson(vocab, [], false);
  }

  tokenToId(token: string): number | undefined {
    if (token === BYTE_SPECIAL_TOKENS.bos) return BYTE_BOS_ID;
    if (token === BYTE_SPECIAL_TOKENS.eos) return BYTE_EOS_ID;
    if (token === BYTE_SPECIAL_TOKENS.pad) return BYTE_PAD_ID;
    return undefined;
  }
}

/** GPT-2's printable stand-in for each byte (the symbols byte-level tokenizers use), by byte value. */
export function byteSymbols(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable.includes(b) ? b : 256 + extra++);
  return out;
}

/**
 * A byte-level BPE tokenizer.json over the byte symbols, the three special tokens (ids 256–258)
 * and `merges`, with BOS added to every encoding. `useRegex`: split text with GPT-2's
 * pre-tokenization pattern first (trained BPE); off for the plain byte tokenizer.
 */
export function byteLevelTokenizerJson(vocab: Record<string, number>, merges: readonly string[], useRegex: boolean): string {
  const specials = [
    [BYTE_BOS_ID, BYTE_SPECIAL_TOKENS.bos],
    [BYTE_EOS_ID, BYTE_SPECIAL_TOKENS.eos],
    [BYTE_PAD_ID, BYTE_SPECIAL_TOKENS.pad],
  ] as const;
  const full: Record<string, number> = { ...vocab };
  for (const [id, tok] of specials) full[tok] = id;
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map(([id, content]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: BYTE_SPECIAL_TOKENS.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: BYTE_SPECIAL_TOKENS.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [BYTE_SPECIAL_TOKENS.bos]: { id: BYTE_SPECIAL_TOKENS.bos, ids: [BYTE_BOS_ID], tokens: [BYTE_SPECIAL_TOKENS.bos] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: full, merges: [...merges] },
  };
  return JSON.stringify(json);
}
