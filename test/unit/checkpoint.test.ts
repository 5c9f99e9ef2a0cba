/**
 * The checkpoint store (src/trainer/checkpoint.ts): round trips, pruning, leftovers of crashed
 * saves, damaged checkpoints, and a writer SIGKILLed in the middle of saves, after which the
 * newest checkpoint found is always complete and intact.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { HostTensor } from '../../src/core/model/config.js';
import { COMPLETE_MARKER, CheckpointStore, stepDirName } from '../../src/trainer/checkpoint.js';

const SAVE_LOOP = path.join(__dirname, '..', 'fixtures', 'checkpoint', 'saveLoop.ts');
const root = mkdtempSync(path.join(os.tmpdir(), 'cai-ckpt-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(root, `run-${++n}`);

function t(shape: number[], f: (i: number) => number): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: size }, (_, i) => f(i)) };
}

function sample(step: number) {
  const weights = new Map([
    ['wte', t([4, 3], (i) => i + step)],
    ['ln_f.g', t([3], () => 1 / 3)],
    ['scalar', t([], () => -step)],
  ]);
  const optimizer = {
    m: new Map([['wte', t([4, 3], (i) => i * 0.5)]]),
    v: new Map([['wte', t([4, 3], (i) => i * 0.25)]]),
    step: step * 2,
  };
  return { weights, optimizer, state: { rng: [1, 2, 3, step], cursor: { file: 0, offset: step * 100 }, config: { lr: 1e-3 } } };
}

/** A pid that is surely not running. */
const DEAD_PID = 2 ** 30;

function collectWarnings() {
  const warnings: string[] = [];
  return { warnings, warn: (m: string) => warnings.push(m) };
}

describe('checkpoint store', () => {
  it('saves and loads a checkpoint exactly', async () => {
    const dir = freshDir();
    const store = new CheckpointStore(dir, { keepLast: 3 });
    const data = sample(5);
    const saved = await store.save(5, data);
    assert.equal(saved, path.join(dir, 'step-000005'));
    assert.deepEqual(readdirSync(saved).sort(), [COMPLETE_MARKER, 'optimizer.safetensors', 'state.json', 'weights.safetensors']);
    const marker = JSON.parse(readFileSync(path.join(saved, COMPLETE_MARKER), 'utf8')) as { step: number; files: Record<string, { sha256: string }> };
    assert.equal(marker.step, 5);
    assert.match(marker.files['weights.safetensors']!.sha256, /^[0-9a-f]{64}$/);

    for (const loaded of [await store.load(saved), await store.latest()]) {
      assert.ok(loaded);
      assert.equal(loaded.step, 5);
      assert.equal(loaded.path, saved);
      assert.deepEqual(loaded.weights, data.weights);
      assert.deepEqual(loaded.optimizer, data.optimizer);
      assert.deepEqual(loaded.state, data.state);
    }
    assert.deepEqual(await store.list(), [{ step: 5, path: saved, complete: true }]);
  });

  it('saves without optimizer state, and saves a step again by replacing it', async () => {
    const dir = freshDir();
    const store = new CheckpointStore(dir, { keepLast: 2 });
    await store.save(1, { weights: sample(1).weights, state: { a: 1 } });
    const first = await store.latest();
    assert.equal(first?.optimizer, undefined);
    assert.deepEqual(first?.state, { a: 1 });
    await store.save(1, { weights: sample(7).weights, state: { a: 2 } });
    const again = await store.latest();
    assert.deepEqual(again?.weights, sample(7).weights);
    assert.deepEqual(again?.state, { a: 2 });
    assert.deepEqual(readdirSync(dir), ['step-000001']);
  });

  it('has nothing to load in an empty or missing folder', async () => {
    const store = new CheckpointStore(freshDir(), { keepLast: 1 });
    assert.equal(await store.latest(), undefined);
    assert.deepEqual(await store.list(), []);
  });

  it('keeps the newest keepLast checkpoints', async () => {
    const dir = freshDir();
    const store = new CheckpointStore(dir, { keepLast: 2 });
    for (let step = 10; step <= 50; step += 10) await store.save(step, sample(step));
    assert.deepEqual(
      (await store.list()).map((c) => c.step),
      [40, 50],
    );
    assert.equal((await store.latest())?.step, 50);
    // concurrent saves are queued, not interleaved
    await Promise.all([store.save(60, sample(60)), store.save(70, sample(70)), store.save(80, sample(80))]);
    assert.deepEqual(readdirSync(dir).sort(), ['step-000070', 'step-000080']);
    assert.throws(() => new CheckpointStore(dir, { keepLast: 0 }), RangeError);
  });

  it('ignores the leftovers of a crashed save, and cleans them on the next save', async () => {
    const dir = freshDir();
    const { warnings, warn } = collectWarnings();
    const store = new CheckpointStore(dir, { keepLast: 5, warn });
    await store.save(5, sample(5));
    // a temporary folder of a dead writer, with everything in it, marker included: never a checkpoint
    const stale = path.join(dir, `.tmp-${stepDirName(9)}-${DEAD_PID}`);
    mkdirSync(stale);
    for (const f of readdirSync(path.join(dir, 'step-000005'))) writeFileSync(path.join(stale, f), readFileSync(path.join(dir, 'step-000005', f)));
    // a step folder without a marker (a deletion cut short): skipped with a warning
    mkdirSync(path.join(dir, 'step-000010'));
    writeFileSync(path.join(dir, 'step-000010', 'weights.safetensors'), 'partial');
    // a temporary folder of a writer that is alive (this test's parent stands in): left alone
    const live = path.join(dir, `.tmp-${stepDirName(11)}-${process.ppid}`);
    mkdirSync(live);

    assert.equal((await store.latest())?.step, 5);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /step-000010: incomplete/);
    assert.deepEqual(
      (await store.list()).map((c) => [c.step, c.complete]),
      [
        [5, true],
        [10, false],
      ],
    );
    await store.save(6, sample(6));
    assert.ok(!existsSync(stale), 'the stale temporary folder is removed');
    assert.ok(existsSync(live), "a live writer's folder is kept");
    assert.equal((await store.latest())?.step, 6, "the folder without a marker is still skipped");
  });

  it('skips a damaged checkpoint with a warning and falls back to the one before', async () => {
    const dir = freshDir();
    const { warnings, warn } = collectWarnings();
    const store = new CheckpointStore(dir, { keepLast: 5, warn });
    await store.save(1, sample(1));
    await store.save(2, sample(2));
    await store.save(3, sample(3));

    // same size, one bit flipped in the data: only the hash sees it
    const w3 = path.join(dir, 'step-000003', 'weights.safetensors');
    const bytes = readFileSync(w3);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(w3, bytes);
    // truncated state: the size in the marker sees it
    const s2 = path.join(dir, 'step-000002', 'state.json');
    writeFileSync(s2, readFileSync(s2).subarray(0, 10));

    const latest = await store.latest();
    assert.equal(latest?.step, 1);
    assert.deepEqual(latest?.weights, sample(1).weights);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /step-000003.*weights\.safetensors: does not match the sha256/);
    assert.match(warnings[1]!, /step-000002: incomplete/);
    await assert.rejects(store.load(path.join(dir, 'step-000003')), /sha256/);
    // a marker that is not one
    writeFileSync(path.join(dir, 'step-000001', COMPLETE_MARKER), '{"format":"other"}');
    assert.equal(await store.latest(), undefined);
  });

  it('after SIGKILLs at random moments of saving, the newest checkpoint is always complete and intact', async (t) => {
    const dir = freshDir();
    let lastSaved = 0;
    let killedMidSave = 0;
    const rounds = 8;
    for (let round = 0; round < rounds; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', SAVE_LOOP, dir, String(lastSaved + 1), '1000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // wait for one or two saves to complete, then kill after a random delay (a save of these
      // ~32 MB takes a hundred milliseconds or more, most of it writing and fsyncing)
      const saves = 1 + (round % 3 === 2 ? 1 : 0);
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if ((out.match(/saved \d+/g) ?? []).length >= saves) resolve();
        });
        child.once('exit', () => reject(new Error(`the writer exited early: ${out}`)));
      });
      if (round % 2 === 0) {
        // half the rounds aim at the writing itself: kill soon after a temporary folder appears
        while (!readdirSync(dir).some((name) => name.startsWith('.tmp-'))) await new Promise((resolve) => setTimeout(resolve, 1));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 60));
      } else {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 200));
      }
      child.kill('SIGKILL');
      await exited;
      const reported = [...out.matchAll(/saved (\d+)/g)].map((m) => Number(m[1]));
      lastSaved = Math.max(lastSaved, ...reported);
      if (readdirSync(dir).some((name) => name.startsWith('.tmp-'))) killedMidSave++;

      const { warnings, warn } = collectWarnings();
      const store = new CheckpointStore(dir, { keepLast: 2, warn });
      const latest = await store.latest();
      assert.ok(latest, `round ${round}: no checkpoint found`);
      // durable: every save that resolved is there (or a newer one that completed after it)
      assert.ok(latest.step >= lastSaved, `round ${round}: latest step ${latest.step} < last reported save ${lastSaved}`);
      lastSaved = latest.step;
      for (const [name, w] of latest.weights) assert.ok(w.data.every((x) => x === latest.step), `round ${round}: tensor ${name} is not all ${latest.step}`);
      assert.equal(latest.optimizer?.step, latest.step);
      assert.ok(latest.optimizer.m.get('a')!.data.every((x) => x === latest.step));
      assert.deepEqual(latest.state, { step: latest.step, cursor: latest.step * 10 });
      // never a partial checkpoint: every step folder with a marker loads, hashes and all
      for (const c of await store.list()) {
        if (c.complete) await store.load(c.path);
      }
      assert.deepEqual(warnings, []);
    }
    t.diagnostic(`${rounds} kills, ${killedMidSave} of them while a checkpoint was being written; reached step ${lastSaved}`);
  });
});
