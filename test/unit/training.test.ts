import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GradAccumulator } from '../../src/core/training/accumulate.js';
import { clipByGlobalNorm, globalNorm } from '../../src/core/training/clip.js';
import { checkFinite, NonFiniteError } from '../../src/core/training/guard.js';
import { AdamW } from '../../src/core/training/optimizer.js';
import { Rng, type RngState } from '../../src/core/training/rng.js';
import { learningRate, parseSchedule, type LrSchedule } from '../../src/core/training/schedule.js';
import { trainStep } from '../../src/core/training/step.js';

before(async () => {
  await tf.setBackend('cpu');
});

const draw = (r: Rng, n: number): number[] => Array.from({ length: n }, () => r.next());
/** A variable whose initial value is freed at once (tf.variable shares, not moves, its data). */
const variable = (make: () => tf.Tensor): tf.Variable => tf.tidy(() => tf.variable(make()));
const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ''): void {
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  }
}

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    assert.deepEqual(draw(new Rng(42), 50), draw(new Rng(42), 50));
    assert.notDeepEqual(draw(new Rng(42), 50), draw(new Rng(43), 50));
    const a = new Rng(7);
    const b = new Rng(7);
    for (let i = 0; i < 100; i++) {
      assert.equal(a.nextInt(10), b.nextInt(10));
      assert.equal(a.normal(), b.normal());
    }
  });

  it('draws in range with sensible statistics', () => {
    const r = new Rng(1);
    const counts = new Array<number>(6).fill(0);
    let sum = 0;
    let sumSq = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      assert.ok(u >= 0 && u < 1);
      const k = r.nextInt(6);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 6);
      counts[k]!++;
      const z = r.normal();
      sum += z;
      sumSq += z * z;
    }
    for (const c of counts) assert.ok(Math.abs(c / n - 1 / 6) < 0.02, `bucket share ${c / n}`);
    assert.ok(Math.abs(sum / n) < 0.05, `normal mean ${sum / n}`);
    assert.ok(Math.abs(sumSq / n - 1) < 0.05, `normal variance ${sumSq / n}`);
    assert.throws(() => r.nextInt(0), /nextInt/);
  });

  it('round-trips its state through JSON', () => {
    const r = new Rng(123);
    draw(r, 17);
    r.normal();
    const saved = JSON.parse(JSON.stringify(r.state())) as RngState;
    const expected = [...draw(r, 20), r.nextInt(1000), r.normal()];
    const resumed = Rng.fromState(saved);
    assert.deepEqual([...draw(resumed, 20), resumed.nextInt(1000), resumed.normal()], expected);
    assert.throws(() => Rng.fromState({ s: [1, 2, 3] } as unknown as RngState), /RNG state/);
  });

  it('forks independent, reproducible streams without moving the parent', () => {
    const parent = new Rng(9);
    const untouched = new Rng(9);
    const a = parent.fork('data');
    const b = parent.fork('sample');
    const a2 = new Rng(9).fork('data');
    assert.deepEqual(draw(parent, 20), draw(untouched, 20), 'forking leaves the parent sequence alone');
    const sa = draw(a, 20);
    const sb = draw(b, 20);
    assert.deepEqual(draw(a2, 20), sa, 'same seed and label give the same stream');
    assert.notDeepEqual(sa, sb);
    assert.notDeepEqual(sa, draw(new Rng(9), 20));
    assert.notDeepEqual(sa, draw(new Rng(10).fork('data'), 20));
    // No obvious correlation between two forks.
    const x = draw(new Rng(5).fork('x'), 5000);
    const y = draw(new Rng(5).fork('y'), 5000);
    const mean = (v: number[]) => v.reduce((s, e) => s + e, 0) / v.length;
    const mx = mean(x);
    const my = mean(y);
    let cov = 0;
    let vx = 0;
    let vy = 0;
    for (let i = 0; i < x.length; i++) {
      cov += (x[i]! - mx) * (y[i]! - my);
      vx += (x[i]! - mx) ** 2;
      vy += (y[i]! - my) ** 2;
    }
    assert.ok(Math.abs(cov / Math.sqrt(vx * vy)) < 0.05);
  });

  it('shuffles deterministically into a permutation', () => {
    const base = Array.from({ length: 30 }, (_, i) => i);
    const s1 = new Rng(3).shuffle([...base]);
    const s2 = new Rng(3).shuffle([...base]);
    assert.deepEqual(s1, s2);
    assert.notDeepEqual(s1, base);
    assert.deepEqual([...s1].sort((p, q) => p - q), base);
  });
});

describe('learning-rate schedules', () => {
  it('constant', () => {
    assert.equal(learningRate({ kind: 'constant' }, 0.1, 0), 0.1);
    assert.equal(learningRate({ kind: 'constant' }, 0.1, 5000), 0.1);
  });

  it('linear warm-up then constant', () => {
    const s: LrSchedule = { kind: 'linear-warmup', warmupSteps: 10 };
    assert.equal(learningRate(s, 1, 0), 0.1);
    assert.equal(learningRate(s, 1, 4), 0.5);
    assert.equal(learningRate(s, 1, 9), 1);
    assert.equal(learningRate(s, 1, 10), 1);
    assert.equal(learningRate(s, 1, 1000), 1);
    assert.equal(learningRate({ kind: 'linear-warmup', warmupSteps: 0 }, 2, 0), 2);
  });

  it('cosine with warm-up decays to minRatio', () => {
    const s: LrSchedule = { kind: 'cosine', warmupSteps: 10, totalSteps: 110, minRatio: 0.1 };
    assert.equal(learningRate(s, 1, 0), 0.1);
    assert.equal(learningRate(s, 1, 10), 1);
    assert.ok(Math.abs(learningRate(s, 1, 60) - 0.55) < 1e-12, 'midpoint is halfway between base and floor');
    assert.ok(Math.abs(learningRate(s, 1, 110) - 0.1) < 1e-12);
    assert.ok(Math.abs(learningRate(s, 1, 500) - 0.1) < 1e-12);
    const noFloor: LrSchedule = { kind: 'cosine', warmupSteps: 0, totalSteps: 100 };
    assert.equal(learningRate(noFloor, 3, 0), 3);
    assert.ok(Math.abs(learningRate(noFloor, 3, 100)) < 1e-12);
    // Monotone after warm-up.
    let prev = Infinity;
    for (let t = 10; t <= 110; t++) {
      const lr = learningRate(s, 1, t);
      assert.ok(lr <= prev);
      prev = lr;
    }
  });

  it('parses good input and names the field on bad input', () => {
    assert.deepEqual(parseSchedule({ kind: 'constant' }, 'train.schedule'), { kind: 'constant' });
    assert.deepEqual(parseSchedule('constant', 'train.schedule'), { kind: 'constant' });
    assert.deepEqual(parseSchedule({ kind: 'linear-warmup', warmupSteps: 5 }, 'f'), { kind: 'linear-warmup', warmupSteps: 5 });
    assert.deepEqual(parseSchedule({ kind: 'cosine', warmupSteps: 5, totalSteps: 50, minRatio: 0.1 }, 'f'), {
      kind: 'cosine',
      warmupSteps: 5,
      totalSteps: 50,
      minRatio: 0.1,
    });
    const bad: unknown[] = [
      null,
      42,
      [],
      { kind: 'step' },
      { kind: 'linear-warmup' },
      { kind: 'linear-warmup', warmupSteps: -1 },
      { kind: 'linear-warmup', warmupSteps: 1.5 },
      { kind: 'cosine', warmupSteps: 5 },
      { kind: 'cosine', warmupSteps: 50, totalSteps: 50 },
      { kind: 'cosine', warmupSteps: 5, totalSteps: 50, minRatio: 2 },
      { kind: 'constant', warmupSteps: 3 },
    ];
    for (const b of bad) assert.throws(() => parseSchedule(b, 'train.schedule'), /train\.schedule/, JSON.stringify(b));
  });
});

describe('AdamW', () => {
  it('matches a hand-computed PyTorch AdamW update for 3 steps', async () => {
    const lr = 0.1;
    const beta1 = 0.9;
    const beta2 = 0.999;
    const eps = 1e-8;
    const wd = 0.1;
    const w0 = [0.5, -1.0, 2.0, 0.25];
    const b0 = [0.1, -0.2];
    const gw = [
      [0.1, -0.2, 0.3, 0.05],
      [0.4, 0.1, -0.5, 0.0],
      [-0.3, 0.2, 0.1, 1.0],
    ];
    const gb = [
      [1, -1],
      [0.5, 0.25],
      [-2, 3],
    ];
    // torch.optim.AdamW, written out on plain numbers.
    const reference = (p0: number[], grads: number[][], decay: boolean): number[] => {
      const p = [...p0];
      const m = p.map(() => 0);
      const v = p.map(() => 0);
      grads.forEach((g, k) => {
        const t = k + 1;
        for (let i = 0; i < p.length; i++) {
          if (decay) p[i]! *= 1 - lr * wd;
          m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
          v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! * g[i]!;
          const bc1 = 1 - beta1 ** t;
          const bc2 = 1 - beta2 ** t;
          const denom = Math.sqrt(v[i]!) / Math.sqrt(bc2) + eps;
          p[i]! -= (lr / bc1) * (m[i]! / denom);
        }
      });
      return p;
    };
    const before = tf.memory().numTensors;
    const w = variable(() => tf.tensor2d(w0, [2, 2]));
    const b = variable(() => tf.tensor1d(b0));
    const opt = new AdamW(new Map([['w', w], ['b', b]]), { lr, beta1, beta2, eps, weightDecay: wd });
    for (let k = 0; k < 3; k++) {
      tf.tidy(() => opt.step(new Map<string, tf.Tensor>([['w', tf.tensor2d(gw[k]!, [2, 2])], ['b', tf.tensor1d(gb[k]!)]]), lr));
    }
    assert.equal(opt.stepCount, 3);
    assertClose(values(w), reference(w0, gw, true), 1e-6, 'w');
    assertClose(values(b), reference(b0, gb, false), 1e-6, 'b (1-D: no decay)');
    const s = await opt.state();
    assert.equal(s.step, 3);
    assert.deepEqual(s.m.get('w')?.shape, [2, 2]);
    assert.ok(Math.abs(s.m.get('b')!.data[0]! - (0.9 * (0.9 * 0.1 * 1 + 0.1 * 0.5) + 0.1 * -2)) < 1e-6);
    opt.dispose();
    w.dispose();
    b.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  });

  it('decays matrices but not 1-D parameters, unless told otherwise', () => {
    const w = variable(() => tf.ones([2, 3]));
    const g = variable(() => tf.ones([3]));
    const opt = new AdamW(new Map([['w', w], ['g', g]]), { lr: 0.5, weightDecay: 0.2 });
    const zeros = () => new Map([['w', tf.zeros([2, 3])], ['g', tf.zeros([3])]]);
    for (let k = 0; k < 2; k++) tf.tidy(() => opt.step(zeros(), 0.5));
    assertClose(values(w), new Array<number>(6).fill(0.9 * 0.9), 1e-7, 'w decays by (1 - lr·wd) per step');
    assertClose(values(g), [1, 1, 1], 0, 'g unchanged');
    opt.dispose();

    const opt2 = new AdamW(new Map([['w', w], ['g', g]]), { lr: 0.5, weightDecay: 0.2, noDecay: (n) => n === 'w' });
    tf.tidy(() => opt2.step(zeros(), 0.5));
    assertClose(values(w), new Array<number>(6).fill(0.81), 1e-7, 'w exempt');
    assertClose(values(g), [0.9, 0.9, 0.9], 1e-7, 'g decays');
    opt2.dispose();
    w.dispose();
    g.dispose();
  });

  it('rejects a state that does not fit its parameters', async () => {
    const w = variable(() => tf.ones([2, 2]));
    const opt = new AdamW(new Map([['w', w]]), { lr: 0.1 });
    const s = await opt.state();
    assert.throws(() => opt.loadState({ ...s, m: new Map([['w', { shape: [4], data: new Float32Array(4) }]]) }), /shape/);
    assert.throws(() => opt.loadState({ ...s, v: new Map() }), /lacks parameter 'w'/);
    assert.throws(() => opt.step(new Map([['x', tf.ones([1])]])), /unknown parameter 'x'/);
    opt.dispose();
    w.dispose();
  });
});

describe('gradient clipping', () => {
  it('computes the global norm and scales as clip_grad_norm_', async () => {
    const before = tf.memory().numTensors;
    const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([3, 4])], ['b', tf.tensor2d([[12]])]]);
    {
      const n = globalNorm(grads);
      assert.ok(Math.abs(n.dataSync()[0]! - 13) < 1e-5);
      n.dispose();
      const clipped = await clipByGlobalNorm(grads, 6.5);
      assert.ok(Math.abs(clipped.norm - 13) < 1e-5);
      const scale = 6.5 / (13 + 1e-6);
      assertClose(values(clipped.grads.get('a')!), [3 * scale, 4 * scale], 1e-6, 'a');
      assertClose(values(clipped.grads.get('b')!), [12 * scale], 1e-6, 'b');
      const n2 = globalNorm(clipped.grads);
      assert.ok(Math.abs(n2.dataSync()[0]! - 6.5) < 1e-5);
      n2.dispose();
      tf.dispose([...clipped.grads.values()]);
      const loose = await clipByGlobalNorm(grads, 100);
      assert.equal(loose.grads.get('a'), grads.get('a'), 'below the limit the gradients pass as they are');
    }
    tf.dispose([...grads.values()]);
    assert.equal(tf.memory().numTensors, before, 'clipped gradients are the caller\'s to free, and nothing else is left');
  });
});

/** X [8, 3], Y [8, 1] and a linear model y = X·W + b with mean squared error. */
function linearProblem(seed: number) {
  const r = new Rng(seed);
  const xs = Array.from({ length: 24 }, () => r.normal());
  const ys = Array.from({ length: 8 }, () => r.normal());
  const X = tf.tensor2d(xs, [8, 3]);
  const Y = tf.tensor2d(ys, [8, 1]);
  const W = variable(() => tf.tensor2d([0.3, -0.2, 0.5], [3, 1]));
  const b = variable(() => tf.tensor1d([0.1]));
  const loss = (from: number, to: number): tf.Scalar =>
    tf.tidy(() => {
      const x = tf.slice(X, [from, 0], [to - from, 3]);
      const y = tf.slice(Y, [from, 0], [to - from, 1]);
      return tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, W), b), y))) as tf.Scalar;
    });
  const dispose = () => tf.dispose([X, Y, W, b]);
  return { W, b, loss, dispose };
}

describe('gradient accumulation', () => {
  it('four micro-batches average to the full-batch gradient', () => {
    const p = linearProblem(11);
    tf.tidy(() => {
      const full = tf.variableGrads(() => p.loss(0, 8), [p.W, p.b]).grads;
      const acc = new GradAccumulator();
      for (let i = 0; i < 4; i++) {
        const g = tf.variableGrads(() => p.loss(2 * i, 2 * i + 2), [p.W, p.b]).grads;
        acc.add(new Map([['W', g[p.W.name]!], ['b', g[p.b.name]!]]), 1);
      }
      assert.equal(acc.count, 4);
      const mean = acc.mean();
      assertClose(values(mean.get('W')!), values(full[p.W.name]!), 1e-6, 'W');
      assertClose(values(mean.get('b')!), values(full[p.b.name]!), 1e-6, 'b');
      acc.reset();
      assert.equal(acc.count, 0);
    });
    p.dispose();
  });

  it('weights micro-batches of different sizes by their size', () => {
    const p = linearProblem(12);
    tf.tidy(() => {
      const full = tf.variableGrads(() => p.loss(0, 8), [p.W, p.b]).grads;
      const acc = new GradAccumulator();
      for (const [from, to] of [[0, 5], [5, 8]] as const) {
        const g = tf.variableGrads(() => p.loss(from, to), [p.W, p.b]).grads;
        acc.add(new Map([['W', g[p.W.name]!], ['b', g[p.b.name]!]]), to - from);
      }
      assertClose(values(acc.mean().get('W')!), values(full[p.W.name]!), 1e-6, 'W');
      acc.reset();
    });
    p.dispose();
  });

  it('trainStep with accumulate = 4 takes the same step as the full batch', async () => {
    const a = linearProblem(13);
    const b = linearProblem(13);
    const optA = new AdamW(new Map([['W', a.W], ['b', a.b]]), { lr: 0.05 });
    const optB = new AdamW(new Map([['W', b.W], ['b', b.b]]), { lr: 0.05 });
    const numTensors = tf.memory().numTensors;
    const ra = await trainStep({ params: new Map([['W', a.W], ['b', a.b]]), lossFn: () => a.loss(0, 8), optimizer: optA, lr: 0.05, step: 0 });
    const rb = await trainStep({
      params: new Map([['W', b.W], ['b', b.b]]),
      lossFn: () => b.loss(0, 8),
      microLoss: (i) => b.loss(2 * i, 2 * i + 2),
      accumulate: 4,
      optimizer: optB,
      lr: 0.05,
      step: 0,
    });
    assert.equal(tf.memory().numTensors, numTensors, 'no leaks with accumulation');
    assert.ok(Math.abs(ra.loss - rb.loss) < 1e-6);
    assert.ok(Math.abs(ra.gradNorm - rb.gradNorm) < 1e-5);
    assertClose(values(b.W), values(a.W), 1e-6, 'W');
    optA.dispose();
    optB.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('NaN/Inf guard', () => {
  it('names the offending value and step', () => {
    assert.equal(checkFinite({ loss: 1.5, 'gradient norm': 2 }, 3), undefined);
    assert.equal(checkFinite({ loss: NaN }, 12), 'loss is NaN at step 12');
    assert.equal(checkFinite({ loss: 1, 'gradient norm': Infinity }, 4), 'gradient norm is Infinity at step 4');
    assert.equal(checkFinite({ loss: -Infinity }), 'loss is -Infinity');
    const e = new NonFiniteError('loss', 12, NaN);
    assert.ok(e instanceof Error);
    assert.equal(e.message, 'loss is NaN at step 12');
    assert.equal(e.what, 'loss');
    assert.equal(e.step, 12);
  });

  it('trainStep throws before touching the weights', async () => {
    const p = linearProblem(14);
    const params = new Map<string, tf.Variable>([['W', p.W], ['b', p.b]]);
    const opt = new AdamW(params, { lr: 0.1 });
    const W0 = values(p.W);
    const b0 = values(p.b);
    const numTensors = tf.memory().numTensors;
    await assert.rejects(
      () => trainStep({ params, lossFn: () => tf.tidy(() => tf.mul(p.loss(0, 8), NaN) as tf.Scalar), optimizer: opt, lr: 0.1, step: 12 }),
      (e: unknown) => e instanceof NonFiniteError && e.what === 'loss' && e.step === 12 && /loss is NaN at step 12/.test(e.message),
    );
    // A finite loss whose gradient is infinite: d√w/dw at w = 0.
    await assert.rejects(
      () => trainStep({ params, lossFn: () => tf.tidy(() => tf.sum(tf.sqrt(tf.mul(p.W, 0))) as tf.Scalar), optimizer: opt, lr: 0.1, step: 13 }),
      (e: unknown) => e instanceof NonFiniteError && e.what === 'gradient norm' && e.step === 13,
    );
    assert.deepEqual(values(p.W), W0);
    assert.deepEqual(values(p.b), b0);
    assert.equal(opt.stepCount, 0);
    assert.equal(tf.memory().numTensors, numTensors, 'nothing leaked on the error path');
    opt.dispose();
    p.dispose();
  });
});

/** A 2-layer MLP (4 → 16 → 1, tanh) regressing a fixed random function, seeded. */
function mlp(seed: number) {
  const rng = new Rng(seed);
  const init = rng.fork('init');
  const data = rng.fork('data');
  const rand = (r: Rng, n: number, scale: number) => Array.from({ length: n }, () => r.normal() * scale);
  const params = new Map<string, tf.Variable>([
    ['w1', variable(() => tf.tensor2d(rand(init, 64, 0.5), [4, 16]))],
    ['b1', variable(() => tf.zeros([16]))],
    ['w2', variable(() => tf.tensor2d(rand(init, 16, 0.5), [16, 1]))],
    ['b2', variable(() => tf.zeros([1]))],
  ]);
  const N = 32;
  const X = tf.tensor2d(rand(data, N * 4, 1), [N, 4]);
  const Y = tf.tidy(() => tf.sin(tf.sum(X, 1, true)));
  const lossFn = (): tf.Scalar =>
    tf.tidy(() => {
      const h = tf.tanh(tf.add(tf.matMul(X, params.get('w1')!), params.get('b1')!));
      const out = tf.add(tf.matMul(h, params.get('w2')!), params.get('b2')!);
      return tf.mean(tf.square(tf.sub(out, Y))) as tf.Scalar;
    });
  const dispose = () => {
    tf.dispose([X, Y]);
    for (const v of params.values()) v.dispose();
  };
  return { params, lossFn, dispose };
}

async function train(m: ReturnType<typeof mlp>, opt: AdamW, from: number, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let s = from; s < from + steps; s++) {
    losses.push((await trainStep({ params: m.params, lossFn: m.lossFn, optimizer: opt, lr: 0.02, clipNorm: 1, step: s })).loss);
  }
  return losses;
}

describe('trainStep on a small MLP', () => {
  it('lowers the loss over 100 steps without leaking tensors', async () => {
    const m = mlp(1);
    const opt = new AdamW(m.params, { lr: 0.02 });
    const losses: number[] = [];
    let afterFirst = 0;
    for (let s = 0; s < 100; s++) {
      const r = await trainStep({ params: m.params, lossFn: m.lossFn, optimizer: opt, lr: 0.02, clipNorm: 1, step: s });
      assert.ok(Number.isFinite(r.gradNorm) && r.gradNorm > 0);
      losses.push(r.loss);
      if (s === 0) afterFirst = tf.memory().numTensors;
    }
    assert.equal(tf.memory().numTensors, afterFirst, 'same tensor count after step 1 and step 100');
    assert.equal(opt.stepCount, 100);
    assert.ok(losses[99]! < 0.5 * losses[0]!, `loss ${losses[0]} → ${losses[99]}`);
    opt.dispose();
    m.dispose();
  });

  it('gives identical losses for the same seed', async () => {
    const runs: number[][] = [];
    for (let k = 0; k < 2; k++) {
      const m = mlp(5);
      const opt = new AdamW(m.params, { lr: 0.02 });
      runs.push(await train(m, opt, 0, 20));
      opt.dispose();
      m.dispose();
    }
    assert.deepEqual(runs[0], runs[1]);
    const other = mlp(6);
    const opt = new AdamW(other.params, { lr: 0.02 });
    assert.notDeepEqual(await train(other, opt, 0, 20), runs[0]);
    opt.dispose();
    other.dispose();
  });

  it('resumes from optimizer state to identical losses', async () => {
    const m = mlp(8);
    const opt = new AdamW(m.params, { lr: 0.02 });
    await train(m, opt, 0, 10);
    const weights = new Map([...m.params].map(([k, v]) => [k, { shape: [...v.shape], data: Float32Array.from(v.dataSync()) }]));
    const saved = await opt.state();
    const continued = await train(m, opt, 10, 10);
    opt.dispose();

    // Fresh variables and a fresh optimizer, loaded from the snapshot.
    const m2 = mlp(8);
    for (const [k, v] of m2.params) {
      const h = weights.get(k)!;
      tf.tidy(() => v.assign(tf.tensor(h.data, h.shape)));
    }
    const opt2 = new AdamW(m2.params, { lr: 0.02 });
    opt2.loadState(saved);
    assert.equal(opt2.stepCount, 10);
    assert.deepEqual(await train(m2, opt2, 10, 10), continued);
    opt2.dispose();
    m.dispose();
    m2.dispose();
  });
});
