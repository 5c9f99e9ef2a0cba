// TensorBoard event files (docs/tensorboard.md): TFRecord framing with masked CRC-32C checks, a
// minimal protobuf wire-format decoder for `tensorboard.Event`, and the scalar points an event
// carries. Pure: works on Uint8Array; reading files and following a growing file is
// src/node/tensorboardFollow.ts's job.

// Provided by every runtime this code runs in (Node, browsers); src/core compiles without DOM types.
declare const TextDecoder: new (label?: string, opts?: { fatal?: boolean }) => { decode(bytes: Uint8Array): string };

// ---------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli)

/** Reflected Castagnoli polynomial (0x1EDC6F41 bit-reversed). */
const CASTAGNOLI_REFLECTED = 0x82f63b78;

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C of `bytes[start, end)` as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The masked CRC stored in TFRecord files: rotate right by 15 bits, add 0xA282EAD8 (mod 2^32). */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** `maskCrc(crc32c(bytes[start, end)))`. */
export function maskedCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return maskCrc(crc32c(bytes, start, end));
}

// ---------------------------------------------------------------------------------------------
// Errors

/** A damaged or malformed event file; `offset` is the byte offset (in the file) of the record at fault. */
export class EventFileError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly file: string | undefined,
  ) {
    super(`${file !== undefined ? `${file}: ` : ''}${message}`);
    this.name = 'EventFileError';
  }
}

// ---------------------------------------------------------------------------------------------
// TFRecord framing

/** Bytes before a record's data: uint64 length + masked CRC of the length. */
const HEADER_BYTES = 12;
/** Bytes after a record's data: masked CRC of the data. */
const FOOTER_BYTES = 4;

/** One complete record whose two CRCs matched. */
export interface TfRecord {
  /** File offset of the record's first byte (its length field). */
  offset: number;
  /** The record's payload (a view into the input buffer, not a copy). */
  data: Uint8Array;
}

/** Why parsing stopped. */
export type RecordStop =
  /** Every byte of the buffer belongs to a complete record. */
  | { kind: 'end' }
  /**
   * The buffer ends inside a record: a writer may still be appending it. Not an error; read again
   * from `end` once at least `need` bytes are there.
   */
  | { kind: 'incomplete'; need: number; have: number }
  /** A record failed its length or data CRC, or its payload is not a valid Event. */
  | { kind: 'corrupt'; error: EventFileError };

export interface RecordParse {
  /** The complete records before the stop, in file order. */
  records: TfRecord[];
  /** File offset just after the last complete record (where a later read continues). */
  end: number;
  stop: RecordStop;
}

export interface ParseOptions {
  /** File offset of `bytes[0]`; offsets in results and errors are file offsets. Default 0. */
  baseOffset?: number;
  /** File name for error messages. */
  file?: string;
}

function u32le(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/**
 * Splits `bytes` into TFRecord records. Stops at the end of the buffer, at a trailing partial
 * record (kind `incomplete`), or at the first record whose length CRC or data CRC does not match
 * (kind `corrupt`, with an error naming the record's file offset); records before the stop are
 * returned in every case.
 */
export function parseRecords(bytes: Uint8Array, opts: ParseOptions = {}): RecordParse {
  const base = opts.baseOffset ?? 0;
  const records: TfRecord[] = [];
  let pos = 0;
  const done = (stop: RecordStop): RecordParse => ({ records, end: base + pos, stop });
  while (pos < bytes.length) {
    const have = bytes.length - pos;
    if (have < HEADER_BYTES) return done({ kind: 'incomplete', need: HEADER_BYTES, have });
    const lo = u32le(bytes, pos);
    const hi = u32le(bytes, pos + 4);
    const lengthCrc = u32le(bytes, pos + 8);
    const expectedLengthCrc = maskedCrc32c(bytes, pos, pos + 8);
    if (lengthCrc !== expectedLengthCrc) {
      const msg = `corrupted record at byte ${base + pos}: length CRC mismatch (stored ${hex(lengthCrc)}, computed ${hex(expectedLengthCrc)})`;
      return done({ kind: 'corrupt', error: new EventFileError(msg, base + pos, opts.file) });
    }
    // Lengths of 2^53 bytes or more cannot be addressed (and no writer produces them).
    if (hi >= 0x200000) {
      const msg = `corrupted record at byte ${base + pos}: length ${hi} * 2^32 + ${lo} is too large`;
      return done({ kind: 'corrupt', error: new EventFileError(msg, base + pos, opts.file) });
    }
    const length = hi * 0x100000000 + lo;
    const need = HEADER_BYTES + length + FOOTER_BYTES;
    if (have < need) return done({ kind: 'incomplete', need, have });
    const dataStart = pos + HEADER_BYTES;
    const dataEnd = dataStart + length;
    const dataCrc = u32le(bytes, dataEnd);
    const expectedDataCrc = maskedCrc32c(bytes, dataStart, dataEnd);
    if (dataCrc !== expectedDataCrc) {
      const msg = `corrupted record at byte ${base + pos}: data CRC mismatch over ${length} bytes (stored ${hex(dataCrc)}, computed ${hex(expectedDataCrc)})`;
      return done({ kind: 'corrupt', error: new EventFileError(msg, base + pos, opts.file) });
    }
    records.push({ offset: base + pos, data: bytes.subarray(dataStart, dataEnd) });
    pos += need;
  }
  return done({ kind: 'end' });
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire format

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

/** A malformed protobuf message; the caller adds the record's offset. */
class WireError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Reads protobuf wire format from `bytes[pos, end)`. */
class WireReader {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    public pos = 0,
    readonly end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as its low and high 32 bits. */
  varint64(): [lo: number, hi: number] {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('varint runs past the end of the message');
      const b = this.bytes[this.pos++]!;
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if ((b & 0x80) === 0) return [lo >>> 0, hi >>> 0];
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /** An unsigned varint that must fit in 2^53 (tags, lengths, enums). */
  uvarint(): number {
    const [lo, hi] = this.varint64();
    if (hi >= 0x200000) throw new WireError('varint too large for a length or tag');
    return hi * 0x100000000 + lo;
  }

  /** An int64 varint as a number (exact up to ±2^53, rounded beyond). */
  int64(): number {
    const [lo, hi] = this.varint64();
    return Number(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)));
  }

  /** An int32/enum varint (negative values are sign-extended to 10 bytes on the wire). */
  int32(): number {
    return this.varint64()[0] | 0;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new WireError(`${what} runs past the end of the message`);
  }

  float(): number {
    this.need(4, 'float');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8, 'double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** The bounds of a length-delimited field's payload; moves past it. */
  lengthDelimited(): [start: number, end: number] {
    const n = this.uvarint();
    this.need(n, 'length-delimited field');
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  bytesField(): Uint8Array {
    const [s, e] = this.lengthDelimited();
    return this.bytes.subarray(s, e);
  }

  string(): string {
    return utf8.decode(this.bytesField());
  }

  /** A reader over the payload of a length-delimited field (an embedded message or a packed run). */
  sub(): WireReader {
    const [s, e] = this.lengthDelimited();
    return new WireReader(this.bytes, s, e);
  }

  /** The next field key, as field number and wire type. */
  key(): [field: number, wire: number] {
    const k = this.uvarint();
    const field = Math.floor(k / 8);
    if (field === 0) throw new WireError('field number 0');
    return [field, k & 7];
  }

  /** Skips a field's value of the given wire type (groups included, for old writers). */
  skip(wire: number, field: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        this.need(8, 'fixed64');
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.need(4, 'fixed32');
        this.pos += 4;
        return;
      case WIRE_START_GROUP:
        for (;;) {
          if (this.done) throw new WireError(`group ${field} is not closed`);
          const [f, w] = this.key();
          if (w === WIRE_END_GROUP) {
            if (f !== field) throw new WireError(`group ${field} closed by end of group ${f}`);
            return;
          }
          this.skip(w, f);
        }
      default:
        throw new WireError(`field ${field} has invalid wire type ${wire}`);
    }
  }

  /** Appends a repeated float (fixed32) field, packed or not, to `out`. */
  repeatedFloat(wire: number, field: number, out: number[]): void {
    if (wire === WIRE_FIXED32) out.push(this.float());
    else if (wire === WIRE_LEN) {
      const r = this.sub();
      if ((r.end - r.pos) % 4 !== 0) throw new WireError(`packed float field ${field} is not a multiple of 4 bytes`);
      while (!r.done) out.push(r.float());
    } else throw new WireError(`float field ${field} has wire type ${wire}`);
  }

  /** Appends a repeated double (fixed64) field, packed or not, to `out`. */
  repeatedDouble(wire: number, field: number, out: number[]): void {
    if (wire === WIRE_FIXED64) out.push(this.double());
    else if (wire === WIRE_LEN) {
      const r = this.sub();
      if ((r.end - r.pos) % 8 !== 0) throw new WireError(`packed double field ${field} is not a multiple of 8 bytes`);
      while (!r.done) out.push(r.double());
    } else throw new WireError(`double field ${field} has wire type ${wire}`);
  }
}

function expectWire(message: string, field: number, wire: number, expected: number): void {
  if (wire !== expected) throw new WireError(`${message}.${field} has wire type ${wire}, expected ${expected}`);
}

// ---------------------------------------------------------------------------------------------
// Event, Summary.Value, TensorProto

/** TensorFlow `DataType` values the reader turns into scalars. */
export const DT_FLOAT = 1;
export const DT_DOUBLE = 2;

/** The parts of a `TensorProto` a scalar can come from. */
export interface TensorValue {
  dtype: number;
  floatVal: number[];
  doubleVal: number[];
  /** Raw little-endian contents, when the writer used `tensor_content`. */
  content: Uint8Array | undefined;
}

/** One `Summary.Value`. `kind` is the member of the value oneof that was set last. */
export interface SummaryValue {
  tag: string;
  /** `metadata.plugin_data.plugin_name`, when this value carries metadata (often only the first per tag). */
  pluginName: string | undefined;
  kind: 'simple' | 'tensor' | 'other' | 'none';
  simpleValue: number;
  tensor: TensorValue | undefined;
}

/** One decoded `tensorboard.Event` (the fields this reader uses). */
export interface TbEvent {
  wallTime: number;
  /** int64 on the wire; exact up to 2^53 (Number.MAX_SAFE_INTEGER), rounded to the nearest double beyond. */
  step: number;
  fileVersion: string | undefined;
  values: SummaryValue[];
}

function decodeTensor(r: WireReader, t: TensorValue): void {
  while (!r.done) {
    const [f, w] = r.key();
    if (f === 1) {
      expectWire('TensorProto', f, w, WIRE_VARINT);
      t.dtype = r.int32();
    } else if (f === 4) {
      expectWire('TensorProto', f, w, WIRE_LEN);
      t.content = r.bytesField();
    } else if (f === 5) r.repeatedFloat(w, f, t.floatVal);
    else if (f === 6) r.repeatedDouble(w, f, t.doubleVal);
    else r.skip(w, f);
  }
}

/** `SummaryMetadata.plugin_data.plugin_name`, or undefined when absent. */
function decodePluginName(r: WireReader): string | undefined {
  let name: string | undefined;
  while (!r.done) {
    const [f, w] = r.key();
    if (f === 1 && w === WIRE_LEN) {
      const p = r.sub();
      while (!p.done) {
        const [pf, pw] = p.key();
        if (pf === 1) {
          expectWire('PluginData', pf, pw, WIRE_LEN);
          name = p.string();
        } else p.skip(pw, pf);
      }
    } else r.skip(w, f);
  }
  return name;
}

function decodeValue(r: WireReader): SummaryValue {
  const v: SummaryValue = { tag: '', pluginName: undefined, kind: 'none', simpleValue: 0, tensor: undefined };
  while (!r.done) {
    const [f, w] = r.key();
    switch (f) {
      case 1:
        expectWire('Summary.Value', f, w, WIRE_LEN);
        v.tag = r.string();
        break;
      case 2:
        expectWire('Summary.Value', f, w, WIRE_FIXED32);
        v.simpleValue = r.float();
        v.kind = 'simple';
        break;
      case 8:
        expectWire('Summary.Value', f, w, WIRE_LEN);
        // A repeated occurrence of a message field merges into the earlier one (protobuf rules).
        v.tensor ??= { dtype: 0, floatVal: [], doubleVal: [], content: undefined };
        decodeTensor(r.sub(), v.tensor);
        v.kind = 'tensor';
        break;
      case 9: {
        expectWire('Summary.Value', f, w, WIRE_LEN);
        const name = decodePluginName(r.sub());
        if (name !== undefined) v.pluginName = name;
        break;
      }
      case 3: // obsolete_old_style_histogram
      case 4: // image
      case 5: // histo
      case 6: // audio
        r.skip(w, f);
        v.kind = 'other';
        break;
      default:
        r.skip(w, f);
    }
  }
  return v;
}

/** Decodes one record's payload as a `tensorboard.Event`; `offset` (the record's file offset) names it in errors. */
export function decodeEvent(data: Uint8Array, offset = 0, file?: string): TbEvent {
  const ev: TbEvent = { wallTime: 0, step: 0, fileVersion: undefined, values: [] };
  const r = new WireReader(data);
  try {
    while (!r.done) {
      const [f, w] = r.key();
      switch (f) {
        case 1:
          expectWire('Event', f, w, WIRE_FIXED64);
          ev.wallTime = r.double();
          break;
        case 2:
          expectWire('Event', f, w, WIRE_VARINT);
          ev.step = r.int64();
          break;
        case 3:
          expectWire('Event', f, w, WIRE_LEN);
          ev.fileVersion = r.string();
          break;
        case 5: {
          expectWire('Event', f, w, WIRE_LEN);
          const s = r.sub();
          while (!s.done) {
            const [sf, sw] = s.key();
            if (sf === 1) {
              expectWire('Summary', sf, sw, WIRE_LEN);
              ev.values.push(decodeValue(s.sub()));
            } else s.skip(sw, sf);
          }
          break;
        }
        default:
          r.skip(w, f);
      }
    }
  } catch (e) {
    if (e instanceof WireError) throw new EventFileError(`malformed Event in record at byte ${offset}: ${e.message}`, offset, file);
    throw e;
  }
  return ev;
}

// ---------------------------------------------------------------------------------------------
// Scalars

/** One scalar data point. */
export interface ScalarPoint {
  tag: string;
  /** int64 on the wire; exact up to 2^53, rounded beyond. */
  step: number;
  /** Seconds since the Unix epoch. */
  wallTime: number;
  value: number;
}

/** Plugins whose single-number tensors are scalars; values of other plugins (text, histograms, …) are skipped. */
const SCALAR_PLUGINS = new Set(['', 'scalars']);

/** The scalar a tensor holds, or undefined when it is not one float or double. */
function tensorScalar(t: TensorValue): number | undefined {
  if (t.dtype === DT_FLOAT) {
    if (t.floatVal.length === 1) return t.floatVal[0];
    if (t.floatVal.length === 0 && t.content?.length === 4) {
      return new DataView(t.content.buffer, t.content.byteOffset, 4).getFloat32(0, true);
    }
  } else if (t.dtype === DT_DOUBLE) {
    if (t.doubleVal.length === 1) return t.doubleVal[0];
    if (t.doubleVal.length === 0 && t.content?.length === 8) {
      return new DataView(t.content.buffer, t.content.byteOffset, 8).getFloat64(0, true);
    }
  }
  return undefined;
}

/**
 * Turns events into scalar points. Keeps the plugin each tag declared (writers attach metadata
 * only to a tag's first value), so one extractor should see a file's events in order.
 */
export class ScalarExtractor {
  private readonly plugins = new Map<string, string>();
  /** `file_version` of the first event that had one (`"brain.Event:2"` for current writers). */
  fileVersion: string | undefined;

  points(ev: TbEvent): ScalarPoint[] {
    if (ev.fileVersion !== undefined) this.fileVersion ??= ev.fileVersion;
    const out: ScalarPoint[] = [];
    for (const v of ev.values) {
      if (v.pluginName !== undefined) this.plugins.set(v.tag, v.pluginName);
      let value: number | undefined;
      if (v.kind === 'simple') value = v.simpleValue;
      else if (v.kind === 'tensor' && v.tensor && SCALAR_PLUGINS.has(this.plugins.get(v.tag) ?? '')) value = tensorScalar(v.tensor);
      if (value !== undefined) out.push({ tag: v.tag, step: ev.step, wallTime: ev.wallTime, value });
    }
    return out;
  }
}

/** Scalars read from a buffer, and where and why reading stopped. */
export interface ScalarParse {
  points: ScalarPoint[];
  /** File offset just after the last record read. */
  end: number;
  /** As in parseRecords; a record whose payload is not a valid Event also stops with `corrupt`. */
  stop: RecordStop;
}

/**
 * Reads the scalar points of every complete record in `bytes`. Pass the same extractor for
 * successive chunks of one file.
 */
export function readScalars(bytes: Uint8Array, opts: ParseOptions = {}, extractor = new ScalarExtractor()): ScalarParse {
  const parsed = parseRecords(bytes, opts);
  const points: ScalarPoint[] = [];
  for (const rec of parsed.records) {
    let ev: TbEvent;
    try {
      ev = decodeEvent(rec.data, rec.offset, opts.file);
    } catch (e) {
      if (e instanceof EventFileError) return { points, end: rec.offset, stop: { kind: 'corrupt', error: e } };
      throw e;
    }
    for (const p of extractor.points(ev)) points.push(p);
  }
  return { points, end: parsed.end, stop: parsed.stop };
}
