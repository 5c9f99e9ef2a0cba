import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelFileError } from '../../src/core/model/errors.js';
import {
  decodeTensor,
  floatToHalf,
  halfToFloat,
  parseSafetensors,
  parseSafetensorsHeader,
  safetensorsHeaderLength,
  writeSafetensors,
} from '../../src/core/model/safetensors.js';

/** A safetensors file from a header object and raw data bytes, exactly as given (no checks). */
function rawFile(header: unknown, data: number[] | Uint8Array, pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): number[] {
  return Array.from(new Uint8Array(new Float32Array(values).buffer));
}

function u16Bytes(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, v >>> 8]);
}

/** Runs `fn`, expecting a ModelFileError naming the file (and the tensor when given). */
function expectError(fn: () => unknown, file: string, tensor?: string, pattern?: RegExp): ModelFileError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ModelFileError, `expected ModelFileError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    if (tensor !== undefined) {
      assert.equal(e.tensor, tensor);
      assert.ok(e.message.includes(tensor), `message names the tensor: ${e.message}`);
    }
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.fail('expected an error');
}

describe('safetensors round trip', () => {
  const tensors: [string, { shape: number[]; data: Float32Array }][] = [
    ['b.weight', { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, -0, 1e-3]) }],
    ['a.bias', { shape: [3], data: new Float32Array([0.25, 100, -7]) }],
    ['scalar', { shape: [], data: new Float32Array([42]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
  ];

  it('writes F32 exactly, names sorted, offsets contiguous, header padded to 8', () => {
    const bytes = writeSafetensors(tensors, { dtype: 'F32', metadata: { format: 'pt' } });
    const n = safetensorsHeaderLength(bytes, 'x');
    assert.equal(n % 8, 0);
    const header = parseSafetensorsHeader(bytes, 'x.safetensors');
    assert.deepEqual(header.metadata, { format: 'pt' });
    assert.deepEqual([...header.tensors.keys()], ['a.bias', 'b.weight', 'empty', 'scalar']);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.ok(text.indexOf('"a.bias"') < text.indexOf('"b.weight"'));
    assert.match(text, / *$/);
    let at = header.dataStart;
    for (const e of header.tensors.values()) {
      assert.equal(e.start, at);
      at = e.end;
    }
    assert.equal(at, bytes.length);

    const back = parseSafetensors(bytes, 'x.safetensors');
    for (const [name, t] of tensors) {
      const r = back.get(name)!;
      assert.equal(r.dtype, 'F32');
      assert.deepEqual(r.shape, t.shape);
      assert.deepEqual(Array.from(r.data), Array.from(t.data));
    }
    assert.ok(Object.is(back.get('b.weight')!.data[4], -0));
  });

  it('writes F16 and reads it back as the nearest half values', () => {
    const bytes = writeSafetensors(tensors, { dtype: 'F16' });
    const back = parseSafetensors(bytes, 'x.safetensors');
    assert.equal(back.get('a.bias')!.dtype, 'F16');
    assert.deepEqual(Array.from(back.get('a.bias')!.data), [0.25, 100, -7]);
    const w = back.get('b.weight')!.data;
    assert.deepEqual(Array.from(w.subarray(0, 5)), [1, -2, 3.5, 0, -0]);
    assert.ok(Math.abs(w[5]! - 1e-3) < 1e-6);
    assert.equal(halfToFloat(floatToHalf(1e-3)), w[5]);
  });

  it('writes no metadata entry when none is given, and refuses shapes that do not match the data', () => {
    const bytes = writeSafetensors([['t', { shape: [1], data: new Float32Array([1]) }]], { dtype: 'F32' });
    assert.ok(!new TextDecoder().decode(bytes).includes('__metadata__'));
    expectError(() => writeSafetensors([['t', { shape: [2, 2], data: new Float32Array(3) }]], { dtype: 'F32', fileName: 'out.safetensors' }), 'out.safetensors', 't', /shape \[2, 2\]/);
  });
});

describe('F16 conversion', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // just under the midpoint: rounds down
    [65520, 0x7c00], // midpoint to 65536: ties to even, which overflows to infinity
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of it: tie to even → 0
    [1.5 * 2 ** -25, 0x0001], // above the tie
    [3 * 2 ** -25, 0x0002], // 1.5 units: tie to even → 2
    [5 * 2 ** -25, 0x0002], // 2.5 units: tie to even → 2
    [1e-10, 0x0000],
    [-1e-10, 0x8000],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: even mantissa 0
    [1 + 3 * 2 ** -11, 0x3c02], // tie between mantissas 1 and 2: even 2
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    [2 ** -14 - 2 ** -25, 0x0400], // tie between the largest subnormal and the smallest normal (even)
  ];
  for (const [value, bits] of cases) {
    it(`${Object.is(value, -0) ? '-0' : value} → 0x${bits.toString(16).padStart(4, '0')}`, () => {
      assert.equal(floatToHalf(value), bits);
    });
  }

  it('keeps NaN a NaN', () => {
    const h = floatToHalf(NaN);
    assert.equal(h & 0x7c00, 0x7c00);
    assert.notEqual(h & 0x3ff, 0);
    assert.ok(Number.isNaN(halfToFloat(h)));
  });

  it('every finite half converts back to itself', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      assert.equal(floatToHalf(halfToFloat(h)), h);
    }
  });

  it('round-trips edge values through a file', () => {
    const values = [65520, 2 ** -25, 3 * 2 ** -25, Infinity, -Infinity, NaN, 1023 * 2 ** -24];
    const bytes = writeSafetensors([['t', { shape: [values.length], data: new Float32Array(values) }]], { dtype: 'F16' });
    const back = Array.from(parseSafetensors(bytes, 'f').get('t')!.data);
    assert.deepEqual(back.slice(0, 5), [Infinity, 0, 2 ** -23, Infinity, -Infinity]);
    assert.ok(Number.isNaN(back[5]));
    assert.equal(back[6], 1023 * 2 ** -24);
  });
});

describe('reading BF16', () => {
  it('widens bfloat16 to float32', () => {
    // 1.0 = 0x3f80, -2.5 = 0xc020, 0.15625 = 0x3e20, +inf = 0x7f80, smallest bf16 subnormal = 0x0001
    const file = rawFile({ t: { dtype: 'BF16', shape: [5], data_offsets: [0, 10] } }, u16Bytes([0x3f80, 0xc020, 0x3e20, 0x7f80, 0x0001]));
    const t = parseSafetensors(file, 'bf.safetensors').get('t')!;
    assert.equal(t.dtype, 'BF16');
    assert.deepEqual(Array.from(t.data), [1, -2.5, 0.15625, Infinity, 2 ** -133]);
  });

  it('reads F16 written by hand and a header padded with spaces', () => {
    const file = rawFile({ __metadata__: { format: 'pt' }, t: { dtype: 'F16', shape: [1, 3], data_offsets: [0, 6] } }, u16Bytes([0x3c00, 0xc000, 0x0001]), 5);
    const t = parseSafetensors(file, 'h.safetensors').get('t')!;
    assert.deepEqual(t.shape, [1, 3]);
    assert.deepEqual(Array.from(t.data), [1, -2, 2 ** -24]);
  });

  it('decodes one tensor from a slice of the file', () => {
    const file = rawFile(
      { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      f32Bytes([1, 2, 3]),
    );
    const header = parseSafetensorsHeader(file, 'f');
    const e = header.tensors.get('b')!;
    const t = decodeTensor(file.slice(e.start, e.end), e, 'b', 'f', e.start);
    assert.deepEqual(Array.from(t.data), [2, 3]);
  });
});

describe('safetensors errors name the file and the tensor', () => {
  const F = 'bad.safetensors';

  it('a file shorter than the length prefix', () => {
    expectError(() => parseSafetensors(new Uint8Array(5), F), F, undefined, /shorter than the 8-byte/);
  });

  it('a header longer than the file', () => {
    const file = rawFile({}, []);
    new DataView(file.buffer).setBigUint64(0, 1000n, true);
    expectError(() => parseSafetensors(file, F), F, undefined, /cut short/);
  });

  it('a header that is not JSON', () => {
    const file = rawFile({}, []);
    file.set(new TextEncoder().encode('{x'), 8);
    expectError(() => parseSafetensors(file, F), F, undefined, /not valid JSON/);
  });

  it('a header that is not an object', () => {
    expectError(() => parseSafetensors(rawFile([1, 2], []), F), F, undefined, /not a JSON object/);
  });

  it('a dtype we cannot load', () => {
    const file = rawFile({ 'pos.ids': { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16));
    expectError(() => parseSafetensors(file, F), F, 'pos.ids', /I64/);
    // …unless that tensor is left out
    assert.equal(parseSafetensors(file, F, { include: (n) => n !== 'pos.ids' }).size, 0);
  });

  it('an unknown dtype', () => {
    const file = rawFile({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2));
    expectError(() => parseSafetensors(file, F), F, 'w', /unknown dtype 'Q4'/);
  });

  it('offsets past the end of the file', () => {
    const file = rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32Bytes([1]));
    expectError(() => parseSafetensors(file, F), F, 'w', /past the end/);
  });

  it('offsets that end before they begin', () => {
    const file = rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32Bytes([1]));
    expectError(() => parseSafetensors(file, F), F, 'w');
  });

  it('a shape that does not match the bytes', () => {
    const file = rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32Bytes([1, 2]));
    expectError(() => parseSafetensors(file, F), F, 'w', /shape \[3\] in F32 needs 12 bytes/);
  });

  it('a malformed shape or missing offsets', () => {
    expectError(() => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, []), F), F, 'w', /shape/);
    expectError(() => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [1] } }, f32Bytes([1])), F), F, 'w', /data_offsets/);
    expectError(() => parseSafetensors(rawFile({ w: 3 }, []), F), F, 'w');
  });

  it('overlapping tensors', () => {
    const file = rawFile(
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } },
      f32Bytes([1, 2]),
    );
    expectError(() => parseSafetensors(file, F), F, 'b', /overlap those of 'a'/);
  });

  it('bytes that belong to no tensor, between tensors or at the end', () => {
    const gap = rawFile(
      { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
      f32Bytes([1, 2, 3]),
    );
    expectError(() => parseSafetensors(gap, F), F, 'b', /4 bytes between the end of 'a'/);
    const start = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32Bytes([1, 2]));
    expectError(() => parseSafetensors(start, F), F, 'a', /start of the data/);
    const tail = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes([1, 2]));
    expectError(() => parseSafetensors(tail, F), F, undefined, /4 bytes after the last tensor 'a'/);
  });

  it('metadata that is not text', () => {
    expectError(() => parseSafetensors(rawFile({ __metadata__: { n: 1 } }, []), F), F, undefined, /__metadata__/);
  });

  it('writing a tensor twice', () => {
    const t = { shape: [1], data: new Float32Array(1) };
    expectError(() => writeSafetensors([['x', t], ['x', t]], { dtype: 'F32' }), 'model.safetensors', 'x', /twice/);
  });
});
