import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseRunConfig, STAGE_NAMES, type RunConfig, type StageName } from '../../src/core/runs/config.js';
import { fnv1a64, recordId, type Manifest, type MetricRecord, type PairRecord, type StageState } from '../../src/core/runs/records.js';
import { RunDirectory, RunFileError } from '../../src/node/runDir.js';

const REPO = path.resolve(__dirname, '..', '..');

function manifest(): Manifest {
  const config = parseRunConfig(fs.readFileSync(path.join(REPO, 'examples', 'smoke.run.yaml'), 'utf8'), 'smoke.run.yaml').config as RunConfig;
  const now = new Date().toISOString();
  return {
    manifestVersion: 1,
    runId: 'smoke-test',
    createdAt: now,
    updatedAt: now,
    configFile: 'examples/smoke.run.yaml',
    config,
    constitution: { path: 'examples/harmless-helpful.constitution.yaml', sha256: '0'.repeat(64), snapshot: 'name: x\n' },
    versions: { studio: '0.1.0', node: process.version },
    backend: { requested: 'auto' },
    seeds: { run: 7 },
    stages: Object.fromEntries(STAGE_NAMES.map((s) => [s, { status: 'pending' }])) as Record<StageName, StageState>,
  };
}

const pair = (i: number): PairRecord => ({
  id: recordId(['pair', String(i)]),
  prompt: `prompt ${i}\nwith a line break`,
  response_a: 'a',
  response_b: 'b',
  principle: 'harmful-content',
  p_a: 0.6,
  p_a_forward: 0.7,
  p_a_reversed: 0.5,
  flipped: false,
  label_method: 'exact',
});

describe('record ids', () => {
  it('are 64-bit FNV-1a of the parts, separated so that boundaries count', () => {
    assert.equal(fnv1a64([]), 'cbf29ce484222325');
    assert.equal(fnv1a64([0x61]), 'af63dc4c8601ec8c');
    assert.equal(recordId(['a']), 'af63dc4c8601ec8c');
    assert.equal(recordId(['foobar']), '85944171f73967e8');
    assert.notEqual(recordId(['a', 'bc']), recordId(['ab', 'c']));
    assert.equal(recordId(['é', '😀']), recordId(['é', '😀']));
    assert.match(recordId(['x', 'y']), /^[0-9a-f]{16}$/);
  });
});

describe('RunDirectory', () => {
  let dir: string;
  beforeEach(() => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cai-run-')), 'smoke-test');
  });
  afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('creates the directory, and refuses to create it twice', () => {
    const rd = RunDirectory.create(dir, manifest());
    assert.ok(fs.statSync(path.join(dir, 'checkpoints')).isDirectory());
    assert.equal(rd.readManifest().runId, 'smoke-test');
    assert.throws(() => RunDirectory.create(dir, manifest()), /exists already/);
  });

  it('round-trips records, one whole line each', () => {
    const rd = RunDirectory.create(dir, manifest());
    assert.equal(rd.append('pairs.jsonl', pair(1)), true);
    assert.equal(rd.appendMany('pairs.jsonl', [pair(2), pair(3)]), 2);
    rd.flush();
    const text = fs.readFileSync(path.join(dir, 'pairs.jsonl'), 'utf8');
    assert.equal(text.split('\n').length, 4);
    assert.ok(text.endsWith('\n'));
    const { records, tornLine } = rd.read<PairRecord>('pairs.jsonl');
    assert.equal(tornLine, undefined);
    assert.deepEqual(records, [pair(1), pair(2), pair(3)]);
    rd.close();
  });

  it('skips ids already present, in the file and within a batch', () => {
    const rd = RunDirectory.create(dir, manifest());
    rd.append('pairs.jsonl', pair(1));
    assert.equal(rd.append('pairs.jsonl', { ...pair(1), p_a: 0.1 }), false);
    assert.equal(rd.appendMany('pairs.jsonl', [pair(2), pair(2), pair(1)]), 1);
    assert.ok(rd.has('pairs.jsonl', pair(2).id));
    assert.equal(rd.count('pairs.jsonl'), 2);
    assert.equal(rd.read<PairRecord>('pairs.jsonl').records[0]?.p_a, 0.6);
    assert.throws(() => rd.append('pairs.jsonl', { id: '' }), /non-empty string id/);
    rd.close();
  });

  it('keeps ids on reopen, so a resumed run never duplicates', () => {
    const rd = RunDirectory.create(dir, manifest());
    const m: MetricRecord = { id: recordId(['sft', '1']), stage: 'sft', step: 1, loss: 2.5 };
    rd.appendMany('metrics.jsonl', [m]);
    rd.close();
    const again = RunDirectory.open(dir);
    assert.ok(again.has('metrics.jsonl', m.id));
    assert.equal(again.append('metrics.jsonl', m), false);
    again.append('metrics.jsonl', { ...m, id: recordId(['sft', '2']), step: 2 });
    again.close();
    assert.deepEqual(
      RunDirectory.open(dir).read<MetricRecord>('metrics.jsonl').records.map((r) => r.step),
      [1, 2],
    );
  });

  it('skips and reports a torn last line, and cuts it off before the next append', () => {
    const rd = RunDirectory.create(dir, manifest());
    rd.appendMany('pairs.jsonl', [pair(1), pair(2)]);
    rd.close();
    const file = path.join(dir, 'pairs.jsonl');
    const whole = JSON.stringify(pair(3));
    fs.appendFileSync(file, whole.slice(0, 25)); // a crash in the middle of a write
    const again = RunDirectory.open(dir);
    assert.deepEqual(again.tornLines, [{ file: 'pairs.jsonl', line: 3, text: whole.slice(0, 25) }]);
    const r = again.read<PairRecord>('pairs.jsonl');
    assert.equal(r.records.length, 2);
    assert.deepEqual(r.tornLine, { line: 3, text: whole.slice(0, 25) });
    assert.equal(again.has('pairs.jsonl', pair(3).id), false);
    assert.equal(again.append('pairs.jsonl', pair(3)), true);
    again.close();
    const after = fs.readFileSync(file, 'utf8');
    assert.equal(after.split('\n').filter(Boolean).length, 3);
    const final = RunDirectory.open(dir);
    assert.deepEqual(final.tornLines, []);
    assert.deepEqual(final.read<PairRecord>('pairs.jsonl').records, [pair(1), pair(2), pair(3)]);
  });

  it('adds the missing line break after a whole last record', () => {
    const rd = RunDirectory.create(dir, manifest());
    rd.close();
    fs.writeFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ id: 'e1', kind: 'x' }));
    const again = RunDirectory.open(dir);
    assert.deepEqual(again.tornLines, []);
    again.append('events.jsonl', { id: 'e2', kind: 'y' });
    again.close();
    assert.deepEqual(
      RunDirectory.open(dir).read<{ id: string }>('events.jsonl').records.map((r) => r.id),
      ['e1', 'e2'],
    );
  });

  it('treats a broken middle line as an error naming file:line', () => {
    const rd = RunDirectory.create(dir, manifest());
    rd.close();
    fs.writeFileSync(path.join(dir, 'samples.jsonl'), `${JSON.stringify({ id: 's1' })}\n{"id": "s2", "pro\n${JSON.stringify({ id: 's3' })}\n`);
    assert.throws(() => RunDirectory.open(dir), (e: Error) => e instanceof RunFileError && /^samples\.jsonl:2: not valid JSON/.test(e.message));
    fs.writeFileSync(path.join(dir, 'samples.jsonl'), `${JSON.stringify({ id: 's1' })}\n${JSON.stringify({ step: 1 })}\n`);
    assert.throws(() => RunDirectory.open(dir), /samples\.jsonl:2: the record has no string `id`/);
  });

  it('updates the manifest atomically and stamps stage status', () => {
    const rd = RunDirectory.create(dir, manifest());
    rd.setStageStatus('critique', 'running', { seed: 11 });
    let m = rd.readManifest();
    assert.equal(m.stages.critique.status, 'running');
    assert.equal(m.stages.critique.seed, 11);
    assert.ok(m.stages.critique.startedAt);
    rd.setStageStatus('critique', 'done', { records: 8 });
    m = rd.readManifest();
    assert.equal(m.stages.critique.status, 'done');
    assert.equal(m.stages.critique.records, 8);
    assert.ok(m.stages.critique.finishedAt);
    rd.updateManifest((x) => {
      x.backend.used = 'cpu';
    });
    assert.equal(rd.readManifest().backend.used, 'cpu');
    // no temporary files left behind
    assert.deepEqual(fs.readdirSync(dir).sort(), ['checkpoints', 'manifest.json']);
    rd.writeJsonAtomic('eval.json', { accuracy: 0.5 });
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'eval.json'), 'utf8')), { accuracy: 0.5 });
  });
});
