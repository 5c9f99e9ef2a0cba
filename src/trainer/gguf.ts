// GGUF files: an engine model (GPT-2 or Llama family) and its byte-level BPE tokenizer written
// as a `.gguf` that llama.cpp (and node-llama-cpp) loads, plus a reader of the header, metadata
// and tensor table (for tests and `cai export-gguf`'s own check).
//
// The container is GGUF version 3 (ggml-org/llama.cpp, gguf-py/gguf/constants.py and
// ggml/src/gguf.cpp): little-endian; magic "GGUF", version, tensor count, metadata count (u64);
// metadata as key (string) + value type (u32) + value; tensor infos as name + dimension count
// (u32) + dimensions (u64, innermost first) + ggml type (u32) + offset (u64, from the start of
// the data section); padding to the alignment (32); the data, each tensor padded to the alignment.
//
// Layout (llama.cpp's convert_hf_to_gguf.py for HF checkpoints): a matrix W that computes
// y = W·x with W of shape [out, in] (PyTorch's Linear) is stored with dimensions [in, out], its
// rows (one per output) contiguous. The engine stores matrices [in, out] (y = x·W), so every
// projection is transposed on the way out; embeddings ([rows, D]) are copied as they are.
//
// RoPE: the engine rotates halves (HF's `rotate_half`: element i pairs with i + hd/2), while
// llama.cpp's `llama` architecture rotates adjacent pairs (2i, 2i+1). As convert_hf_to_gguf.py
// does for HF Llama weights, the rows of the query and key projections (and their biases) are
// permuted within each head so that HF element `half·hd/2 + i` lands at `2i + half`; attention
// scores are unchanged because queries and keys move together.

import { mkdir, open, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { ModelConfig, WeightMap } from '../core/model/config';
import { ModelFileError } from '../core/model/errors';
import { transpose2d } from '../core/model/hfWeights';
import { floatToHalf, halfToFloat } from '../core/model/safetensors';
import { HfTokenizer } from '../core/model/tokenizer';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** Metadata value types (gguf_type). */
export const GgufType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufType = (typeof GgufType)[keyof typeof GgufType];

/** Tensor types written here (ggml_type). */
export const GgmlType = { F32: 0, F16: 1 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** llama.cpp's token types (llama_token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export type GgufScalar = number | bigint | boolean | string;

/** One metadata value: a scalar of `type`, or an array of `itemType` scalars. */
export type GgufValue =
  | { readonly type: Exclude<GgufType, typeof GgufType.ARRAY>; readonly value: GgufScalar }
  | { readonly type: typeof GgufType.ARRAY; readonly itemType: Exclude<GgufType, typeof GgufType.ARRAY>; readonly value: readonly GgufScalar[] };

export const kv = {
  u32: (value: number): GgufValue => ({ type: GgufType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufType.FLOAT32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufType.BOOL, value }),
  str: (value: string): GgufValue => ({ type: GgufType.STRING, value }),
  strings: (value: readonly string[]): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.STRING, value }),
  i32s: (value: readonly number[]): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.INT32, value }),
};

/** A tensor to write: GGUF dimensions (innermost first) and its data in that layout. */
export interface GgufTensorSource {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** Called once, when the tensor is written (so a large model is converted one tensor at a time). */
  readonly data: () => Float32Array;
}

const encoder = new TextEncoder();

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number): void {
    this.room(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.room(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number): void {
    this.room(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.room(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: number | bigint): void {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: number | bigint): void {
    this.room(8);
    this.view.setBigInt64(this.length, BigInt(v), true);
    this.length += 8;
  }
  string(s: string): void {
    const bytes = encoder.encode(s);
    this.u64(bytes.length);
    this.room(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeScalar(w: ByteWriter, type: GgufType, v: GgufScalar, key: string): void {
  const num = (): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`GGUF metadata '${key}': expected a number (got ${String(v)})`);
    return v;
  };
  switch (type) {
    case GgufType.UINT8: return w.u8(num());
    case GgufType.INT8: return w.i8(num());
    case GgufType.UINT16: return w.u16(num());
    case GgufType.INT16: return w.i16(num());
    case GgufType.UINT32: return w.u32(num());
    case GgufType.INT32: return w.i32(num());
    case GgufType.FLOAT32: return w.f32(num());
    case GgufType.FLOAT64: return w.f64(num());
    case GgufType.UINT64: return w.u64(typeof v === 'bigint' ? v : num());
    case GgufType.INT64: return w.i64(typeof v === 'bigint' ? v : num());
    case GgufType.BOOL: return w.u8(v ? 1 : 0);
    case GgufType.STRING:
      if (typeof v !== 'string') throw new TypeError(`GGUF metadata '${key}': expected a string`);
      return w.string(v);
    default:
      throw new TypeError(`GGUF metadata '${key}': unknown value type ${String(type)}`);
  }
}

const BYTES_PER: Record<GgmlType, number> = { [GgmlType.F32]: 4, [GgmlType.F16]: 2 };

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * The bytes before the data section (header, metadata, tensor infos, padding) and each
 * tensor's offset within the data section.
 */
export function encodeGgufHeader(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly Pick<GgufTensorSource, 'name' | 'dims' | 'type'>[], alignment = GGUF_ALIGNMENT): { header: Uint8Array; offsets: number[]; dataBytes: number } {
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(value.type);
    if (value.type === GgufType.ARRAY) {
      w.u32(value.itemType);
      w.u64(value.value.length);
      for (const item of value.value) writeScalar(w, value.itemType, item, key);
    } else writeScalar(w, value.type, value.value, key);
  }
  const offsets: number[] = [];
  let at = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF: tensor '${t.name}' is listed twice`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw new Error(`GGUF: tensor '${t.name}' has invalid dimensions [${t.dims.join(', ')}]`);
    }
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(at);
    offsets.push(at);
    at = align(at + elementCount(t.dims) * BYTES_PER[t.type], alignment);
  }
  w.pad(alignment);
  return { header: w.bytes(), offsets, dataBytes: at };
}

function tensorBytes(t: GgufTensorSource): Uint8Array {
  const data = t.data();
  const n = elementCount(t.dims);
  if (data.length !== n) throw new Error(`GGUF: tensor '${t.name}' has ${data.length} values for dimensions [${t.dims.join(', ')}]`);
  if (t.type === GgmlType.F32) {
    // Float32Array is in the platform's byte order; GGUF is little-endian, as are the platforms Node runs on.
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const half = new Uint16Array(n);
  for (let i = 0; i < n; i++) half[i] = floatToHalf(data[i]!);
  return new Uint8Array(half.buffer);
}

/**
 * Writes a GGUF file: to `file.tmp-<pid>` first (one tensor converted at a time), synced, then
 * renamed over `file` (its folder is created if need be). Returns the number of bytes written.
 */
export async function writeGguf(file: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorSource[], alignment = GGUF_ALIGNMENT): Promise<number> {
  const { header, offsets, dataBytes } = encodeGgufHeader(metadata, tensors, alignment);
  const target = path.resolve(file);
  const tmp = `${target}.tmp-${process.pid}`;
  await mkdir(path.dirname(target), { recursive: true });
  const handle = await open(tmp, 'w');
  try {
    let pos = 0;
    const put = async (bytes: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, pos);
        done += bytesWritten;
        pos += bytesWritten;
      }
    };
    await put(header);
    const base = header.length;
    for (let i = 0; i < tensors.length; i++) {
      const want = base + offsets[i]!;
      if (pos < want) await put(new Uint8Array(want - pos));
      await put(tensorBytes(tensors[i]!));
    }
    if (pos < base + dataBytes) await put(new Uint8Array(base + dataBytes - pos));
    await handle.sync();
    await handle.close();
    await rename(tmp, target);
    return base + dataBytes;
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading (header, metadata and tensor table; tensor data on request)

export interface GgufTensorInfo {
  readonly name: string;
  readonly dims: number[];
  readonly type: number;
  /** From the start of the data section. */
  readonly offset: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: Map<string, GgufValue>;
  readonly tensors: GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute file offset of the data section. */
  readonly dataOffset: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a GGUF file's header, metadata and tensor infos from its bytes (the whole file, or at
 * least everything before the data section). Errors are ModelFileErrors naming `fileName`.
 */
export function readGgufHeader(bytes: Uint8Array, fileName: string): GgufHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number, what: string): void => {
    if (at + n > bytes.length) throw new ModelFileError(fileName, `is truncated: ${what} runs past the end (${bytes.length} bytes)`);
  };
  const u32 = (what: string): number => { need(4, what); const v = view.getUint32(at, true); at += 4; return v; };
  const u64 = (what: string): number => {
    need(8, what);
    const v = view.getBigUint64(at, true);
    at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ModelFileError(fileName, `${what} is too large (${v})`);
    return Number(v);
  };
  const str = (what: string): string => {
    const n = u64(`${what} length`);
    need(n, what);
    let s: string;
    try {
      s = decoder.decode(bytes.subarray(at, at + n));
    } catch {
      throw new ModelFileError(fileName, `${what} is not valid UTF-8`);
    }
    at += n;
    return s;
  };
  const scalar = (type: number, what: string): GgufScalar => {
    switch (type) {
      case GgufType.UINT8: need(1, what); return view.getUint8(at++);
      case GgufType.INT8: need(1, what); return view.getInt8(at++);
      case GgufType.UINT16: { need(2, what); const v = view.getUint16(at, true); at += 2; return v; }
      case GgufType.INT16: { need(2, what); const v = view.getInt16(at, true); at += 2; return v; }
      case GgufType.UINT32: return u32(what);
      case GgufType.INT32: { need(4, what); const v = view.getInt32(at, true); at += 4; return v; }
      case GgufType.FLOAT32: { need(4, what); const v = view.getFloat32(at, true); at += 4; return v; }
      case GgufType.FLOAT64: { need(8, what); const v = view.getFloat64(at, true); at += 8; return v; }
      case GgufType.UINT64: { need(8, what); const v = view.getBigUint64(at, true); at += 8; return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; }
      case GgufType.INT64: { need(8, what); const v = view.getBigInt64(at, true); at += 8; return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v; }
      case GgufType.BOOL: { need(1, what); const v = view.getUint8(at++); if (v > 1) throw new ModelFileError(fileName, `${what} is a bool of value ${v}`); return v === 1; }
      case GgufType.STRING: return str(what);
      default: throw new ModelFileError(fileName, `${what} has unknown value type ${type}`);
    }
  };

  if (bytes.length < 4 || view.getUint32(0, true) !== GGUF_MAGIC) throw new ModelFileError(fileName, 'is not a GGUF file (it does not start with "GGUF")');
  at = 4;
  const version = u32('version');
  if (version !== 2 && version !== 3) throw new ModelFileError(fileName, `has GGUF version ${version} (2 and 3 are read)`);
  const nTensors = u64('tensor count');
  const nKv = u64('metadata count');
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str(`metadata key ${i + 1}`);
    const type = u32(`type of '${key}'`);
    if (type === GgufType.ARRAY) {
      const itemType = u32(`item type of '${key}'`);
      if (itemType === GgufType.ARRAY) throw new ModelFileError(fileName, `metadata '${key}' is an array of arrays (not read)`);
      const n = u64(`length of '${key}'`);
      const items: GgufScalar[] = [];
      for (let j = 0; j < n; j++) items.push(scalar(itemType, `'${key}'[${j}]`));
      metadata.set(key, { type: GgufType.ARRAY, itemType: itemType as Exclude<GgufType, 9>, value: items });
    } else {
      metadata.set(key, { type: type as Exclude<GgufType, 9>, value: scalar(type, `'${key}'`) });
    }
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str(`tensor name ${i + 1}`);
    const nd = u32(`dimension count of '${name}'`);
    if (nd < 1 || nd > 4) throw new ModelFileError(fileName, `has ${nd} dimensions`, name);
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) dims.push(u64(`dimension ${d} of '${name}'`));
    const type = u32(`type of '${name}'`);
    const offset = u64(`offset of '${name}'`);
    tensors.push({ name, dims, type, offset });
  }
  const alignValue = metadata.get('general.alignment');
  const alignment = alignValue && alignValue.type === GgufType.UINT32 ? Number(alignValue.value) : GGUF_ALIGNMENT;
  if (!(alignment > 0) || (alignment & (alignment - 1)) !== 0) throw new ModelFileError(fileName, `has alignment ${alignment} (must be a power of two)`);
  return { version, metadata, tensors, alignment, dataOffset: align(at, alignment) };
}

/** One F32 or F16 tensor's values (in GGUF order), from the whole file's bytes. */
export function readGgufTensor(bytes: Uint8Array, header: GgufHeader, name: string, fileName: string): Float32Array {
  const t = header.tensors.find((x) => x.name === name);
  if (!t) throw new ModelFileError(fileName, 'is not in the file', name);
  const n = elementCount(t.dims);
  const start = header.dataOffset + t.offset;
  if (t.type !== GgmlType.F32 && t.type !== GgmlType.F16) throw new ModelFileError(fileName, `has ggml type ${t.type} (only F32 and F16 are read)`, name);
  const size = n * BYTES_PER[t.type as GgmlType];
  if (start + size > bytes.length) throw new ModelFileError(fileName, 'runs past the end of the file', name);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, size);
  const out = new Float32Array(n);
  if (t.type === GgmlType.F32) for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  else for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  return out;
}

/** A metadata value as a plain value (arrays as arrays); undefined when absent. */
export function metadataValue(header: GgufHeader, key: string): GgufScalar | readonly GgufScalar[] | undefined {
  return header.metadata.get(key)?.value;
}

// ---------------------------------------------------------------------------------------------
// Engine models → llama.cpp tensors and metadata

export type GgufDtype = 'F32' | 'F16';

/** llama.cpp's architecture name for an engine config, or why it has none. */
export function ggufArchitecture(config: ModelConfig): 'gpt2' | 'llama' {
  if (config.arch === 'gpt2') {
    if (config.activation !== 'gelu_new') throw new Error(`llama.cpp's GPT-2 uses the tanh GELU (gelu_new); this model uses '${config.activation}'`);
    if (config.nKvHeads !== config.nHeads) throw new Error('llama.cpp\'s GPT-2 has no grouped-query attention');
    if (config.headDim * config.nHeads !== config.dModel) throw new Error(`llama.cpp's GPT-2 needs headDim × nHeads = dModel (${config.headDim} × ${config.nHeads} ≠ ${config.dModel})`);
    return 'gpt2';
  }
  if (config.activation !== 'silu') throw new Error(`llama.cpp's Llama uses a SiLU-gated MLP; this model uses '${config.activation}'`);
  if (config.projBias) throw new Error('llama.cpp\'s Llama has no biases on the attention output and MLP projections (projBias)');
  return 'llama';
}

/** Rows of each head reordered from rotate-half (HF, engine) to llama.cpp's adjacent pairs. */
export function permuteRope(rowsData: Float32Array, nHeads: number, headDim: number, rowWidth: number): Float32Array {
  const out = new Float32Array(rowsData.length);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < half; i++) {
        const from = (h * headDim + s * half + i) * rowWidth;
        const to = (h * headDim + 2 * i + s) * rowWidth;
        out.set(rowsData.subarray(from, from + rowWidth), to);
      }
    }
  }
  return out;
}

/** Columns [c0, c0 + n) of a row-major [rows, width] matrix, as an [n, rows] matrix. */
function columnsTransposed(data: Float32Array, rows: number, width: number, c0: number, n: number): Float32Array {
  const out = new Float32Array(n * rows);
  for (let r = 0; r < rows; r++) {
    const base = r * width + c0;
    for (let o = 0; o < n; o++) out[o * rows + r] = data[base + o]!;
  }
  return out;
}

/** The tensors llama.cpp expects for `config`, in its names and layout. */
export function ggufTensors(config: ModelConfig, weights: WeightMap, dtype: GgufDtype = 'F32', fileName = 'model.gguf'): GgufTensorSource[] {
  const arch = ggufArchitecture(config);
  const D = config.dModel;
  const H = config.nHeads;
  const KV = config.nKvHeads;
  const hd = config.headDim;
  const F = config.dFf;
  const matType = dtype === 'F16' ? GgmlType.F16 : GgmlType.F32;
  const get = (name: string): Float32Array => {
    const t = weights.get(name);
    if (!t) throw new ModelFileError(fileName, `cannot be written: parameter '${name}' is missing`, name);
    return t.data;
  };
  const out: GgufTensorSource[] = [];
  const vec = (name: string, from: string | (() => Float32Array), n: number): void => {
    out.push({ name, dims: [n], type: GgmlType.F32, data: typeof from === 'string' ? () => get(from) : from });
  };
  const mat = (name: string, dims: [number, number], data: () => Float32Array): void => {
    out.push({ name, dims, type: matType, data });
  };

  mat('token_embd.weight', [D, config.vocabSize], () => get('wte'));
  if (arch === 'gpt2') mat('position_embd.weight', [D, config.maxPositions], () => get('wpe'));
  const qkvW = (H + 2 * KV) * hd;
  for (let i = 0; i < config.nLayers; i++) {
    const p = `h.${i}`;
    const b = `blk.${i}`;
    vec(`${b}.attn_norm.weight`, `${p}.ln1.g`, D);
    if (arch === 'gpt2') {
      vec(`${b}.attn_norm.bias`, `${p}.ln1.b`, D);
      mat(`${b}.attn_qkv.weight`, [D, qkvW], () => transpose2d(get(`${p}.attn.wqkv`), D, qkvW));
      vec(`${b}.attn_qkv.bias`, config.qkvBias ? `${p}.attn.bqkv` : () => new Float32Array(qkvW), qkvW);
      mat(`${b}.attn_output.weight`, [H * hd, D], () => transpose2d(get(`${p}.attn.wo`), H * hd, D));
      vec(`${b}.attn_output.bias`, config.projBias ? `${p}.attn.bo` : () => new Float32Array(D), D);
      vec(`${b}.ffn_norm.weight`, `${p}.ln2.g`, D);
      vec(`${b}.ffn_norm.bias`, `${p}.ln2.b`, D);
      mat(`${b}.ffn_up.weight`, [D, F], () => transpose2d(get(`${p}.mlp.wi`), D, F));
      vec(`${b}.ffn_up.bias`, config.projBias ? `${p}.mlp.bi` : () => new Float32Array(F), F);
      mat(`${b}.ffn_down.weight`, [F, D], () => transpose2d(get(`${p}.mlp.wo`), F, D));
      vec(`${b}.ffn_down.bias`, config.projBias ? `${p}.mlp.bo` : () => new Float32Array(D), D);
    } else {
      const wqkv = (): Float32Array => get(`${p}.attn.wqkv`);
      mat(`${b}.attn_q.weight`, [D, H * hd], () => permuteRope(columnsTransposed(wqkv(), D, qkvW, 0, H * hd), H, hd, D));
      mat(`${b}.attn_k.weight`, [D, KV * hd], () => permuteRope(columnsTransposed(wqkv(), D, qkvW, H * hd, KV * hd), KV, hd, D));
      mat(`${b}.attn_v.weight`, [D, KV * hd], () => columnsTransposed(wqkv(), D, qkvW, (H + KV) * hd, KV * hd));
      if (config.qkvBias) {
        const bqkv = (): Float32Array => get(`${p}.attn.bqkv`);
        vec(`${b}.attn_q.bias`, () => permuteRope(bqkv().slice(0, H * hd), H, hd, 1), H * hd);
        vec(`${b}.attn_k.bias`, () => permuteRope(bqkv().slice(H * hd, (H + KV) * hd), KV, hd, 1), KV * hd);
        vec(`${b}.attn_v.bias`, () => bqkv().slice((H + KV) * hd), KV * hd);
      }
      mat(`${b}.attn_output.weight`, [H * hd, D], () => transpose2d(get(`${p}.attn.wo`), H * hd, D));
      vec(`${b}.ffn_norm.weight`, `${p}.ln2.g`, D);
      mat(`${b}.ffn_gate.weight`, [D, F], () => columnsTransposed(get(`${p}.mlp.wi`), D, 2 * F, 0, F));
      mat(`${b}.ffn_up.weight`, [D, F], () => columnsTransposed(get(`${p}.mlp.wi`), D, 2 * F, F, F));
      mat(`${b}.ffn_down.weight`, [F, D], () => transpose2d(get(`${p}.mlp.wo`), F, D));
    }
  }
  vec('output_norm.weight', 'lnf.g', D);
  if (arch === 'gpt2') vec('output_norm.bias', 'lnf.b', D);
  if (!config.tieEmbeddings) mat('output.weight', [D, config.vocabSize], () => transpose2d(get('lm_head'), D, config.vocabSize));
  return out;
}

/** Architecture metadata (`<arch>.…` keys). */
export function ggufModelMetadata(config: ModelConfig, dtype: GgufDtype, name: string): Map<string, GgufValue> {
  const arch = ggufArchitecture(config);
  const m = new Map<string, GgufValue>();
  m.set('general.architecture', kv.str(arch));
  m.set('general.type', kv.str('model'));
  m.set('general.name', kv.str(name));
  m.set('general.file_type', kv.u32(dtype === 'F16' ? 1 : 0)); // LLAMA_FTYPE_ALL_F32 / MOSTLY_F16
  m.set('general.quantization_version', kv.u32(2));
  m.set('general.alignment', kv.u32(GGUF_ALIGNMENT));
  m.set(`${arch}.vocab_size`, kv.u32(config.vocabSize));
  m.set(`${arch}.context_length`, kv.u32(config.maxPositions));
  m.set(`${arch}.embedding_length`, kv.u32(config.dModel));
  m.set(`${arch}.block_count`, kv.u32(config.nLayers));
  m.set(`${arch}.feed_forward_length`, kv.u32(config.dFf));
  m.set(`${arch}.attention.head_count`, kv.u32(config.nHeads));
  m.set(`${arch}.attention.head_count_kv`, kv.u32(config.nKvHeads));
  if (arch === 'gpt2') {
    m.set(`${arch}.attention.layer_norm_epsilon`, kv.f32(config.normEps));
  } else {
    m.set(`${arch}.attention.layer_norm_rms_epsilon`, kv.f32(config.normEps));
    m.set(`${arch}.attention.key_length`, kv.u32(config.headDim));
    m.set(`${arch}.attention.value_length`, kv.u32(config.headDim));
    m.set(`${arch}.rope.dimension_count`, kv.u32(config.headDim));
    m.set(`${arch}.rope.freq_base`, kv.f32(config.ropeTheta));
  }
  return m;
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  pre_tokenizer?: { type?: string; use_regex?: boolean; pretokenizers?: unknown[] } | null;
  decoder?: { type?: string } | null;
}

/**
 * Tokenizer metadata for a byte-level BPE tokenizer.json (GPT-2 style: ByteLevel pre-tokenizer
 * and decoder): `tokenizer.ggml.model = gpt2`, tokens, token types, merges, special ids and
 * whether BOS/EOS are added. Ids the tokenizer lacks up to `config.vocabSize` (padding rows of
 * the embedding) become unused `[PADn]` tokens, as convert_hf_to_gguf.py writes them.
 * `pre` overrides llama.cpp's pre-tokenizer name (default `gpt-2`, GPT-2's split regex).
 */
export function ggufTokenizerMetadata(config: ModelConfig, tokenizerJson: string, opts: { pre?: string; fileName?: string } = {}): { metadata: Map<string, GgufValue>; warnings: string[] } {
  const where = opts.fileName ?? 'tokenizer.json';
  const warnings: string[] = [];
  let json: TokenizerJson;
  try {
    json = JSON.parse(tokenizerJson) as TokenizerJson;
  } catch (e) {
    throw new ModelFileError(where, `is not valid JSON (${(e as Error).message})`);
  }
  const model = json.model;
  if (!model || model.type !== 'BPE' || typeof model.vocab !== 'object') throw new ModelFileError(where, `has a '${String(model?.type)}' model; only byte-level BPE tokenizers (GPT-2 style) are exported to GGUF`);
  if (model.byte_fallback) throw new ModelFileError(where, 'uses byte fallback (a SentencePiece-style tokenizer); only byte-level BPE tokenizers are exported to GGUF');
  const preTok = json.pre_tokenizer;
  const isByteLevel = preTok?.type === 'ByteLevel';
  const merges = (model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  let pre = opts.pre;
  if (pre === undefined) {
    if (!isByteLevel) {
      if (merges.length > 0) throw new ModelFileError(where, `has pre-tokenizer '${String(preTok?.type)}'; only ByteLevel is mapped to a llama.cpp pre-tokenizer (pass the llama.cpp name with --pre to force one)`);
    } else if (preTok?.use_regex === false && merges.length > 0) {
      warnings.push(`${where}: the ByteLevel pre-tokenizer does not split words (use_regex false) but llama.cpp's gpt-2 pre-tokenizer does; texts may tokenize differently`);
    }
    pre = 'gpt-2';
  }
  if (json.decoder && json.decoder.type !== 'ByteLevel') warnings.push(`${where}: decoder '${String(json.decoder.type)}' is not ByteLevel; llama.cpp decodes byte-level`);

  const n = config.vocabSize;
  const tokens = new Array<string | undefined>(n).fill(undefined);
  const types = new Array<number>(n).fill(TokenType.UNUSED);
  const put = (id: number, text: string, type: number): void => {
    if (!Number.isInteger(id) || id < 0) throw new ModelFileError(where, `has token ${JSON.stringify(text)} with id ${id}`);
    if (id >= n) throw new ModelFileError(where, `has token ${JSON.stringify(text)} with id ${id}, beyond the model's vocabulary of ${n}`);
    tokens[id] = text;
    types[id] = type;
  };
  for (const [text, id] of Object.entries(model.vocab!)) put(id, text, TokenType.NORMAL);
  for (const t of json.added_tokens ?? []) put(t.id, t.content, t.special ? TokenType.CONTROL : TokenType.USER_DEFINED);
  const seen = new Set<string>();
  const list = tokens.map((t, i) => {
    let text = t ?? `[PAD${i}]`;
    if (seen.has(text)) text = `[PAD${i}]`; // llama.cpp maps text to one id; a duplicate would shadow it
    seen.add(text);
    return text;
  });

  // What the tokenizer adds around a text (its post-processor): BOS in front, EOS behind.
  let addBos = false;
  let addEos = false;
  let bos = config.bosTokenId;
  try {
    const tok = HfTokenizer.fromJson(tokenizerJson);
    const plain = tok.encode('a b', { addSpecialTokens: false });
    const full = tok.encode('a b', { addSpecialTokens: true });
    const at = full.findIndex((_, i) => full.slice(i, i + plain.length).every((x, j) => x === plain[j]));
    if (at > 0) {
      addBos = true;
      bos = full[0];
    }
    if (at >= 0 && full.length > at + plain.length) addEos = true;
  } catch (e) {
    throw new ModelFileError(where, `cannot be used as a tokenizer (${(e as Error).message})`);
  }

  const m = new Map<string, GgufValue>();
  m.set('tokenizer.ggml.model', kv.str('gpt2'));
  m.set('tokenizer.ggml.pre', kv.str(pre));
  m.set('tokenizer.ggml.tokens', kv.strings(list));
  m.set('tokenizer.ggml.token_type', kv.i32s(types));
  m.set('tokenizer.ggml.merges', kv.strings(merges));
  if (bos !== undefined) m.set('tokenizer.ggml.bos_token_id', kv.u32(bos));
  const eos = config.eosTokenIds;
  if (eos[0] !== undefined) m.set('tokenizer.ggml.eos_token_id', kv.u32(eos[0]));
  if (eos[1] !== undefined) m.set('tokenizer.ggml.eot_token_id', kv.u32(eos[1]));
  if (eos.length > 2) warnings.push(`the model ends generation at ${eos.length} EOS ids; GGUF records two (eos ${eos[0]}, eot ${eos[1]})`);
  if (config.padTokenId !== undefined) m.set('tokenizer.ggml.padding_token_id', kv.u32(config.padTokenId));
  m.set('tokenizer.ggml.add_bos_token', kv.bool(addBos));
  m.set('tokenizer.ggml.add_eos_token', kv.bool(addEos));
  return { metadata: m, warnings };
}

export interface SaveGgufOptions {
  /** Matrices (and embeddings) as F32 (default, exact) or F16; norms and biases stay F32. */
  readonly dtype?: GgufDtype;
  /** `general.name`; default the file name without `.gguf`. */
  readonly name?: string;
  /** llama.cpp pre-tokenizer name (default `gpt-2`). */
  readonly pre?: string;
}

export interface SaveGgufResult {
  readonly file: string;
  readonly bytes: number;
  readonly architecture: 'gpt2' | 'llama';
  readonly tensors: number;
  readonly warnings: string[];
}

/**
 * Writes an engine model and its tokenizer (tokenizer.json text) as a GGUF file llama.cpp loads.
 * The file appears complete or not at all (written beside it, then renamed).
 */
export async function saveGguf(file: string, config: ModelConfig, weights: WeightMap, tokenizerJson: string, opts: SaveGgufOptions = {}): Promise<SaveGgufResult> {
  const target = path.resolve(file);
  const dtype = opts.dtype ?? 'F32';
  let architecture: 'gpt2' | 'llama';
  try {
    architecture = ggufArchitecture(config);
  } catch (e) {
    throw new ModelFileError(target, `cannot be written: ${(e as Error).message}`);
  }
  const name = opts.name ?? path.basename(target).replace(/\.gguf$/i, '');
  const metadata = ggufModelMetadata(config, dtype, name);
  const tok = ggufTokenizerMetadata(config, tokenizerJson, opts.pre === undefined ? {} : { pre: opts.pre });
  for (const [k, v] of tok.metadata) metadata.set(k, v);
  const tensors = ggufTensors(config, weights, dtype, target);
  const bytes = await writeGguf(target, metadata, tensors);
  return { file: target, bytes, architecture, tensors: tensors.length, warnings: tok.warnings };
}
