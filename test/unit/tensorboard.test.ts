import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  EventFileError,
  ScalarExtractor,
  crc32c,
  decodeEvent,
  maskCrc,
  maskedCrc32c,
  parseRecords,
  readScalars,
  type ScalarPoint,
} from '../../src/core/tensorboard/events.js';
import { EventFileFollower, listEventFiles } from '../../src/node/tensorboardFollow.js';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'tensorboard');
const SCRIPT = path.join(FIXTURES, 'make_events.py');
const PYTHON = '/usr/bin/python3';

interface ExpectedPoint {
  tag: string;
  step: number;
  wallTime: number;
  /** A number, or "NaN" / "Infinity" (JSON has no literal for them). */
  value: number | string;
}
interface ExpectedFile {
  file: string;
  records: number;
  points: ExpectedPoint[];
  size?: number;
  end?: number;
  need?: number;
  have?: number;
  offset?: number;
}
type Expected = Record<'good' | 'truncated' | 'badDataCrc' | 'badLengthCrc' | 'wire', ExpectedFile>;

const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected;

function points(e: ExpectedFile): ScalarPoint[] {
  return e.points.map((p) => ({ ...p, value: typeof p.value === 'number' ? p.value : Number(p.value) }));
}

function load(e: ExpectedFile): Uint8Array {
  return new Uint8Array(fs.readFileSync(path.join(FIXTURES, e.file)));
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('CRC-32C', () => {
  it('has the standard check value', () => {
    assert.equal(crc32c(ascii('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    // Sub-range form equals the copy form.
    const b = ascii('xx123456789yy');
    assert.equal(crc32c(b, 2, 11), 0xe3069283);
  });

  it('masks by rotating 15 bits and adding 0xA282EAD8', () => {
    const crc = 0xe3069283;
    const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
    assert.equal(maskCrc(crc), (rotated + 0xa282ead8) % 2 ** 32);
    assert.equal(maskedCrc32c(ascii('123456789')), maskCrc(0xe3069283));
    assert.equal(maskCrc(0), 0xa282ead8);
  });
});

describe('event file fixtures (written with python3-protobuf)', () => {
  it('reads every scalar of the good file, exact to float32', () => {
    const bytes = load(expected.good);
    const rec = parseRecords(bytes);
    assert.deepEqual(rec.stop, { kind: 'end' });
    assert.equal(rec.records.length, expected.good.records);
    assert.equal(rec.end, bytes.length);
    const first = decodeEvent(rec.records[0]!.data);
    assert.equal(first.fileVersion, 'brain.Event:2');
    const ex = new ScalarExtractor();
    const res = readScalars(bytes, {}, ex);
    assert.deepEqual(res.stop, { kind: 'end' });
    assert.equal(ex.fileVersion, 'brain.Event:2');
    assert.deepEqual(res.points, points(expected.good));
    // Spot checks against float32 rounding done here rather than in the script.
    const at = (tag: string, step: number) => res.points.find((p) => p.tag === tag && p.step === step)?.value;
    assert.equal(at('train/learning_rate', 0), Math.fround(1e-4));
    assert.equal(at('eval/reward', 1), Math.fround(0.1));
    assert.equal(at('eval/kl', 1), 0.123456789012345);
    assert.equal(at('tf/accuracy', 2), 0.875);
    assert.equal(at('tf/loss64', 2), 1 / 3);
    assert.equal(at('tf/accuracy', 3), Math.fround(0.9));
    // Text, histograms (old and tensor style, even a one-element one) are skipped.
    for (const tag of ['args/text_summary', 'weights/old', 'weights/tf2', 'weights/one']) {
      assert.ok(!res.points.some((p) => p.tag === tag), `${tag} skipped`);
    }
  });

  it('accepts unpacked repeated floats, skips unknown fields of every wire type, and reads int64 steps', () => {
    const res = readScalars(load(expected.wire));
    assert.deepEqual(res.stop, { kind: 'end' });
    assert.deepEqual(res.points, points(expected.wire));
    assert.equal(res.points.find((p) => p.tag === 'u/float')?.value, Math.fround(0.7));
    assert.equal(res.points.find((p) => p.tag === 'u/double')?.value, 0.1);
    // A two-element tensor is not a scalar.
    assert.ok(!res.points.some((p) => p.tag === 'u/two'));
    // Beyond 2^53 a step is rounded to the nearest double (documented limit).
    assert.equal(res.points.find((p) => p.tag === 'big')?.step, 2 ** 53);
    assert.equal(res.points.find((p) => p.tag === 'neg')?.step, -3);
    assert.ok(Number.isNaN(res.points.find((p) => p.tag === 'nan')?.value));
  });

  it('returns the complete records of a truncated file and reports the tail as incomplete, not an error', () => {
    const t = expected.truncated;
    const bytes = load(t);
    assert.equal(bytes.length, t.size);
    const rec = parseRecords(bytes);
    assert.equal(rec.records.length, t.records);
    assert.equal(rec.end, t.end);
    assert.deepEqual(rec.stop, { kind: 'incomplete', need: t.need, have: t.have });
    const res = readScalars(bytes);
    assert.deepEqual(res.points, points(t));
    assert.equal(res.stop.kind, 'incomplete');
    // Cut inside the 12-byte header too.
    const shortHeader = parseRecords(bytes.subarray(0, t.end! + 5));
    assert.equal(shortHeader.end, t.end);
    assert.deepEqual(shortHeader.stop, { kind: 'incomplete', need: 12, have: 5 });
    // Every cut point of the good file gives a prefix of its records and no error.
    const good = load(expected.good);
    for (let cut = 0; cut <= good.length; cut++) {
      const r = parseRecords(good.subarray(0, cut));
      assert.notEqual(r.stop.kind, 'corrupt', `cut at ${cut}`);
      assert.equal(r.stop.kind === 'end', r.end === cut);
    }
  });

  for (const [key, what] of [
    ['badDataCrc', 'data CRC'],
    ['badLengthCrc', 'length CRC'],
  ] as const) {
    it(`stops at a record with a bad ${what} with an error naming its offset`, () => {
      const e = expected[key];
      const res = readScalars(load(e), { file: e.file });
      assert.equal(res.end, e.offset);
      assert.deepEqual(res.points, points(e));
      assert.equal(res.stop.kind, 'corrupt');
      if (res.stop.kind !== 'corrupt') return;
      const err = res.stop.error;
      assert.ok(err instanceof EventFileError);
      assert.equal(err.offset, e.offset);
      assert.equal(err.file, e.file);
      assert.match(err.message, new RegExp(`^${e.file.replace(/\./g, '\\.')}: corrupted record at byte ${e.offset}: ${what} mismatch`));
      const rec = parseRecords(load(e), { baseOffset: 1000 });
      assert.equal(rec.records.length, e.records);
      assert.equal(rec.stop.kind === 'corrupt' && rec.stop.error.offset, 1000 + e.offset!);
    });
  }

  it('reports a record whose payload is not an Event as corrupt', () => {
    // A well-framed record holding a truncated varint.
    const data = new Uint8Array([0x10, 0xff]);
    const frame = new Uint8Array(12 + data.length + 4);
    const dv = new DataView(frame.buffer);
    dv.setUint32(0, data.length, true);
    dv.setUint32(8, maskedCrc32c(frame, 0, 8), true);
    frame.set(data, 12);
    dv.setUint32(12 + data.length, maskedCrc32c(data), true);
    const res = readScalars(frame, { file: 'x' });
    assert.equal(res.stop.kind, 'corrupt');
    if (res.stop.kind === 'corrupt') assert.match(res.stop.error.message, /^x: malformed Event in record at byte 0: varint runs past/);
  });
});

describe('event files on disk', () => {
  it('lists event files recursively in path order', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-list-'));
    try {
      fs.mkdirSync(path.join(dir, 'eval'));
      for (const f of ['events.out.tfevents.2.h', 'events.out.tfevents.1.h', 'eval/events.out.tfevents.0.h', 'notes.txt', 'eval/x.tfevents']) {
        fs.writeFileSync(path.join(dir, f), '');
      }
      assert.deepEqual(
        listEventFiles(dir).map((f) => path.relative(dir, f)),
        ['eval/events.out.tfevents.0.h', 'events.out.tfevents.1.h', 'events.out.tfevents.2.h'].map((f) => f.split('/').join(path.sep)),
      );
      assert.deepEqual(listEventFiles(path.join(dir, 'missing')), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows a file grown a few bytes at a time without losing or repeating points', async () => {
    const good = load(expected.good);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-grow-'));
    const file = path.join(dir, 'events.out.tfevents.1.h');
    try {
      const f = new EventFileFollower(file, { chunkBytes: 64 });
      assert.deepEqual(await f.poll(), [], 'missing file: nothing yet');
      const got: ScalarPoint[] = [];
      for (let pos = 0; pos < good.length; ) {
        const next = Math.min(good.length, pos + 37);
        fs.appendFileSync(file, good.subarray(pos, next));
        pos = next;
        got.push(...(await f.poll()));
      }
      got.push(...(await f.poll()));
      assert.deepEqual(got, points(expected.good));
      assert.equal(f.offset, good.length);
      assert.equal(f.waiting, false);
      assert.equal(f.fileVersion, 'brain.Event:2');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follower: truncated tail waits, corruption throws naming file and offset', async () => {
    const t = new EventFileFollower(path.join(FIXTURES, expected.truncated.file));
    assert.deepEqual(await t.poll(), points(expected.truncated));
    assert.equal(t.offset, expected.truncated.end);
    assert.equal(t.waiting, true);
    assert.deepEqual(await t.poll(), []);

    const e = expected.badLengthCrc;
    const file = path.join(FIXTURES, e.file);
    const c = new EventFileFollower(file, { chunkBytes: 100 });
    const before: ScalarPoint[] = [];
    let thrown: unknown;
    for (let i = 0; i < 20 && thrown === undefined; i++) {
      try {
        before.push(...(await c.poll()));
      } catch (err) {
        thrown = err;
      }
    }
    assert.deepEqual(before, points(e), 'points before the damage are delivered');
    assert.ok(thrown instanceof EventFileError);
    assert.equal(thrown.offset, e.offset);
    assert.ok(thrown.message.startsWith(`${file}: corrupted record at byte ${e.offset}`), thrown.message);
    await assert.rejects(c.poll(), EventFileError);
  });

  const protobufCheck = spawnSync(PYTHON, [SCRIPT, 'check'], { encoding: 'utf8' });
  const protobufMissing =
    protobufCheck.status === 0
      ? undefined
      : `python3-protobuf/protoc not usable by ${PYTHON} (${(protobufCheck.error?.message ?? protobufCheck.stderr).trim().split('\n').pop()})`;
  const requireProtobuf = process.env.CAI_REQUIRE_PROTOBUF === '1';

  it('follows a file while make_events.py appends to it', { skip: requireProtobuf ? false : protobufMissing ?? false, timeout: 60_000 }, async () => {
    assert.equal(protobufMissing, undefined, `CAI_REQUIRE_PROTOBUF=1: ${protobufMissing}`);
    const count = 40;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-append-'));
    const file = path.join(dir, 'events.out.tfevents.1700000000.append');
    try {
      const child = spawn(PYTHON, [SCRIPT, 'append', file, String(count), '0.01'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      let finished = false;
      void exited.then(() => (finished = true));
      const follower = new EventFileFollower(file, { chunkBytes: 32 });
      const got: ScalarPoint[] = [];
      // Partial records are covered deterministically above; here timing decides how many polls land mid-record.
      let polls = 0;
      while (!finished) {
        got.push(...(await follower.poll()));
        polls++;
        await new Promise((r) => setTimeout(r, 3));
      }
      assert.equal(await exited, 0, `make_events.py append failed: ${stderr}`);
      got.push(...(await follower.poll()));
      assert.ok(polls > 1, `polled while appending (${polls} polls)`);
      const want: ScalarPoint[] = [];
      for (let i = 0; i < count; i++) {
        want.push({ tag: 'append/loss', step: i, wallTime: 1700000000.25 + i, value: Math.fround(1 / (i + 1)) });
        want.push({ tag: 'append/acc', step: i, wallTime: 1700000000.25 + i, value: Math.fround(i / 100) });
      }
      assert.deepEqual(got, want, 'no point missing, none repeated, in order');
      assert.equal(follower.offset, fs.statSync(file).size);
      assert.equal(follower.waiting, false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
