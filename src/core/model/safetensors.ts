// Our own reader and writer for the safetensors format, on bytes in memory:
//   8 bytes   little-endian u64 N, the header's length
//   N bytes   JSON header: { "__metadata__"?: {text: text}, name: {dtype, shape, data_offsets: [begin, end]} }
//   the rest  tensor data; offsets count from the end of the header, and every byte belongs to
//             exactly one tensor (no holes, no overlaps).
// Float tensors in F32, F16 and BF16 are read, always into Float32Array; F32 and F16 are written.

import type { HostTensor } from './config.js';
import { ModelFileError } from './errors.js';

/** UTF-8 codecs: globals of every runtime we target, declared here since src/core has no DOM or Node types. */
declare const TextEncoder: new () => { encode(text: string): Uint8Array };
declare const TextDecoder: new (label?: string, opts?: { fatal?: boolean }) => { decode(bytes: Uint8Array): string };

/** Element sizes of every dtype the format defines; only the float ones can be read into a model. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

export type ReadDtype = 'F32' | 'F16' | 'BF16';
export type WriteDtype = 'F32' | 'F16';

const READABLE: readonly string[] = ['F32', 'F16', 'BF16'];

/** One tensor's entry in a header. Offsets are absolute positions in the file. */
export interface SafetensorsEntry {
  readonly dtype: string;
  readonly shape: readonly number[];
  /** First byte of the tensor's data in the file. */
  readonly start: number;
  /** One past its last byte. */
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Where tensor data starts in the file: 8 + the header's length. */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Entries in the order of their data. */
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
}

export interface SafetensorsTensor extends HostTensor {
  /** The dtype in the file; `data` is always float32. */
  readonly dtype: ReadDtype;
}

/** The first 8 bytes of a file hold the header's length; this many must be read first. */
export const SAFETENSORS_PREFIX_BYTES = 8;

/** Largest header we accept (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Reads the header length from the first 8 bytes, so a caller reading lazily knows how many
 * more bytes make up the header (`8 + result`).
 */
export function safetensorsHeaderLength(prefix: Uint8Array, fileName: string): number {
  if (prefix.length < SAFETENSORS_PREFIX_BYTES) {
    throw new ModelFileError(fileName, `is not a safetensors file: ${prefix.length} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new ModelFileError(fileName, `is not a safetensors file: its header length (${n} bytes) is over the 100 MB limit`);
  }
  return Number(n);
}

/**
 * Parses and checks the header. `bytes` must hold at least the whole header; `fileSize` is the
 * file's full length (defaults to `bytes.length`) and every tensor's bytes must lie within it,
 * cover the data area exactly, and match its shape and dtype.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileName: string, fileSize: number = bytes.length): SafetensorsHeader {
  const n = safetensorsHeaderLength(bytes, fileName);
  const dataStart = SAFETENSORS_PREFIX_BYTES + n;
  if (dataStart > fileSize) {
    throw new ModelFileError(fileName, `is cut short: the header says it is ${n} bytes long but the file has only ${fileSize - 8} bytes after the length`);
  }
  if (dataStart > bytes.length) {
    throw new ModelFileError(fileName, `only ${bytes.length} bytes were given, less than the ${dataStart} bytes of the header`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw new ModelFileError(fileName, 'has a header that is not valid UTF-8');
  }
  if (!text.startsWith('{')) throw new ModelFileError(fileName, 'has a header that is not a JSON object');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(fileName, `has a header that is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelFileError(fileName, 'has a header that is not a JSON object');
  }

  const metadata: Record<string, string> = {};
  const raw: [string, SafetensorsEntry][] = [];
  const dataLength = fileSize - dataStart;
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ModelFileError(fileName, 'has a __metadata__ entry that is not an object of texts');
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new ModelFileError(fileName, `has a __metadata__ value '${k}' that is not text`);
        metadata[k] = v;
      }
      continue;
    }
    raw.push([name, checkEntry(name, value, fileName, dataStart, dataLength)]);
  }

  raw.sort((a, b) => a[1].start - b[1].start || a[1].end - b[1].end);
  let expected = dataStart;
  let previous: string | undefined;
  for (const [name, e] of raw) {
    if (e.start < expected) {
      throw new ModelFileError(fileName, `its bytes overlap those of '${previous ?? ''}'`, name);
    }
    if (e.start > expected) {
      const after = previous === undefined ? 'the start of the data' : `the end of '${previous}'`;
      throw new ModelFileError(fileName, `${e.start - expected} bytes between ${after} and this tensor belong to no tensor`, name);
    }
    expected = e.end;
    previous = name;
  }
  if (expected !== fileSize) {
    const last = previous === undefined ? 'the header' : `the last tensor '${previous}'`;
    throw new ModelFileError(fileName, `${fileSize - expected} bytes after ${last} belong to no tensor`);
  }
  return { dataStart, metadata, tensors: new Map(raw) };
}

function checkEntry(name: string, value: unknown, fileName: string, dataStart: number, dataLength: number): SafetensorsEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelFileError(fileName, 'its header entry is not an object with dtype, shape and data_offsets', name);
  }
  const v = value as Record<string, unknown>;
  const dtype = v['dtype'];
  if (typeof dtype !== 'string') throw new ModelFileError(fileName, 'its header entry has no dtype', name);
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) throw new ModelFileError(fileName, `has unknown dtype '${dtype}'`, name);
  const shape = v['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new ModelFileError(fileName, 'its shape is not a list of non-negative integers', name);
  }
  const offsets = v['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
    throw new ModelFileError(fileName, 'its data_offsets is not a pair of non-negative integers', name);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new ModelFileError(fileName, `its data_offsets [${begin}, ${end}] end before they begin`, name);
  if (end > dataLength) {
    throw new ModelFileError(fileName, `its data_offsets [${begin}, ${end}] run past the end of the file (${dataLength} data bytes)`, name);
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (count * size !== end - begin) {
    throw new ModelFileError(fileName, `shape [${shape.join(', ')}] in ${dtype} needs ${count * size} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`, name);
  }
  return { dtype, shape: shape as number[], start: dataStart + begin, end: dataStart + end };
}

/** Options for `parseSafetensors`. */
export interface ParseOptions {
  /** Decode only the tensors this accepts (others are checked in the header but not converted). */
  readonly include?: (name: string) => boolean;
}

/**
 * Reads a whole safetensors file. Every tensor comes back as float32 whatever its dtype in the
 * file; a dtype other than F32, F16 or BF16 is an error naming the file and the tensor.
 */
export function parseSafetensors(bytes: Uint8Array, fileName: string, opts: ParseOptions = {}): Map<string, SafetensorsTensor> {
  const header = parseSafetensorsHeader(bytes, fileName);
  const out = new Map<string, SafetensorsTensor>();
  for (const [name, e] of header.tensors) {
    if (opts.include && !opts.include(name)) continue;
    out.set(name, decodeTensor(bytes, e, name, fileName));
  }
  return out;
}

/**
 * Converts one tensor's bytes to float32. `bytes` holds the file from `offset` on (a lazy
 * reader passes just the tensor's slice with `offset = entry.start`).
 */
export function decodeTensor(bytes: Uint8Array, entry: SafetensorsEntry, name: string, fileName: string, offset = 0): SafetensorsTensor {
  if (!READABLE.includes(entry.dtype)) {
    throw new ModelFileError(fileName, `has dtype ${entry.dtype}; only F32, F16 and BF16 tensors can be loaded`, name);
  }
  const begin = entry.start - offset;
  const end = entry.end - offset;
  if (begin < 0 || end > bytes.length) throw new ModelFileError(fileName, 'its bytes were not all read', name);
  const src = bytes.subarray(begin, end);
  const dtype = entry.dtype as ReadDtype;
  let data: Float32Array;
  if (dtype === 'F32') {
    data = new Float32Array(src.length / 4);
    if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(src);
    else {
      const view = new DataView(src.buffer, src.byteOffset, src.length);
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(4 * i, true);
    }
  } else {
    const count = src.length / 2;
    data = new Float32Array(count);
    if (dtype === 'F16') {
      const table = halfTable();
      for (let i = 0; i < count; i++) data[i] = table[src[2 * i]! | (src[2 * i + 1]! << 8)]!;
    } else {
      const bits = new Uint32Array(data.buffer);
      for (let i = 0; i < count; i++) bits[i] = ((src[2 * i]! | (src[2 * i + 1]! << 8)) << 16) >>> 0;
    }
  }
  return { dtype, shape: [...entry.shape], data };
}

export interface WriteOptions {
  readonly dtype: WriteDtype;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Named in errors; defaults to `model.safetensors`. */
  readonly fileName?: string;
}

/**
 * Writes tensors as one safetensors file: names sorted, data contiguous in that order, the
 * header padded with spaces so the data starts at a multiple of 8.
 */
export function writeSafetensors(tensors: Iterable<readonly [string, HostTensor]>, opts: WriteOptions): Uint8Array {
  const fileName = opts.fileName ?? 'model.safetensors';
  const size = opts.dtype === 'F32' ? 4 : 2;
  const byName = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new ModelFileError(fileName, 'the name __metadata__ is reserved', name);
    if (byName.has(name)) throw new ModelFileError(fileName, 'is given twice', name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== t.data.length) {
      throw new ModelFileError(fileName, `shape [${t.shape.join(', ')}] does not match its ${t.data.length} values`, name);
    }
    byName.set(name, t);
  }
  const names = [...byName.keys()].sort(compareNames);
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length > 0) header['__metadata__'] = { ...opts.metadata };
  let offset = 0;
  for (const name of names) {
    const t = byName.get(name)!;
    const bytes = t.data.length * size;
    header[name] = { dtype: opts.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const dataStart = 8 + padded;
  const out = new Uint8Array(dataStart + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, dataStart);

  let at = dataStart;
  for (const name of names) {
    const data = byName.get(name)!.data;
    if (opts.dtype === 'F32') {
      if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
      else {
        const view = new DataView(out.buffer, at, data.length * 4);
        for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
      }
    } else {
      for (let i = 0; i < data.length; i++) {
        const h = floatToHalf(data[i]!);
        out[at + 2 * i] = h & 0xff;
        out[at + 2 * i + 1] = h >>> 8;
      }
    }
    at += data.length * size;
  }
  return out;
}

/** Sorts by UTF-16 code units, the same order for every locale. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * float32 → IEEE half bits, rounding to nearest with ties to even. Overflow gives ±infinity,
 * values below half the smallest subnormal give ±0, NaN stays a (quiet) NaN.
 */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: the value in units of 2^-24 is (1.mant) · 2^(exp - 126 + 23 - 23).
    const shift = 126 - exp;
    if (shift > 24) return sign;
    const full = mant | 0x800000;
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** IEEE half bits → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m !== 0 ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

let table: Float32Array | undefined;

function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  }
  return table;
}
