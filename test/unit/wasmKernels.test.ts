// The replaced WASM kernels (BatchMatMul, Slice, Sum) against the pure-JS backend on shapes the
// models use and on edge cases: transposes, broadcast batches, small and large products, slices
// of every rank, int32 and bool slices, reductions over leading axes with and without keepDims.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initializeBackend } from '../../src/trainer/backend';
import { Rng } from '../../src/core/training/rng';

function data(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

async function onBoth(f: () => tf.Tensor): Promise<[Float32Array | Int32Array | Uint8Array, Float32Array | Int32Array | Uint8Array, number[], number[]]> {
  await tf.setBackend('cpu');
  const a = f();
  const av = a.dataSync() as Float32Array;
  const as = a.shape;
  a.dispose();
  await tf.setBackend('wasm');
  const b = f();
  const bv = b.dataSync() as Float32Array;
  const bs = b.shape;
  b.dispose();
  return [av, bv, as, bs];
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * Math.max(1, Math.abs(a[i]!)), `element ${i}: ${a[i]} vs ${b[i]}`);
}

describe('WASM kernels match the pure-JS backend', () => {
  before(async () => {
    await initializeBackend({ backend: 'wasm' });
  });

  const products: [number[], number[], boolean, boolean][] = [
    [[64, 32], [32, 48], false, false],
    [[64, 32], [48, 32], false, true],
    [[32, 64], [32, 48], true, false],
    [[32, 64], [48, 32], true, true],
    [[3, 4, 16, 8], [3, 4, 8, 16], false, false],
    [[3, 4, 16, 8], [3, 4, 16, 8], false, true],
    [[3, 4, 16, 8], [3, 4, 16, 8], true, false],
    [[2, 2, 128, 64], [2, 2, 128, 64], false, true],
    [[5, 7, 9], [9, 11], false, false],
    [[7, 9], [5, 9, 11], false, false],
    [[4, 1, 64], [4, 64, 40], false, false],
  ];
  for (const [sa, sb, ta, tb] of products) {
    it(`matMul [${sa}]${ta ? 'ᵀ' : ''} × [${sb}]${tb ? 'ᵀ' : ''}`, async () => {
      const [want, got, ws, gs] = await onBoth(() => tf.matMul(tf.tensor(data(sa.reduce((x, y) => x * y), 1), sa), tf.tensor(data(sb.reduce((x, y) => x * y), 2), sb), ta, tb));
      assert.deepEqual(gs, ws);
      close(want, got);
    });
  }

  it('gradients of a transposed product', async () => {
    const f = (): tf.Tensor => {
      const a = tf.tensor(data(12 * 8, 3), [12, 8]);
      const b = tf.tensor(data(10 * 8, 4), [10, 8]);
      const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, false, true))))([a, b]);
      return tf.concat([tf.reshape(g[0]!, [-1]), tf.reshape(g[1]!, [-1])]);
    };
    const [want, got] = await onBoth(f);
    close(want, got);
  });

  const slices: [number[], number[], number[]][] = [
    [[2048, 768], [0, 256], [2048, 256]],
    [[16, 12, 128, 64], [0, 4, 0, 0], [16, 4, 128, 64]],
    [[5, 6, 7], [1, 2, 3], [3, 2, 4]],
    [[5, 6, 7], [0, 0, 0], [5, 6, 7]],
    [[10], [3], [4]],
    [[4, 5], [1, 0], [0, 5]],
    [[3, 4, 5, 6, 2], [1, 1, 1, 1, 1], [2, 2, 2, 2, 1]],
  ];
  for (const [shape, begin, size] of slices) {
    it(`slice [${shape}] from [${begin}] size [${size}]`, async () => {
      const n = shape.reduce((x, y) => x * y);
      const [want, got, ws, gs] = await onBoth(() => tf.slice(tf.tensor(data(n, 5), shape), begin, size));
      assert.deepEqual(gs, ws);
      close(want, got, 0);
      const [wi, gi] = await onBoth(() => tf.slice(tf.tensor(Int32Array.from({ length: n }, (_, i) => i), shape, 'int32'), begin, size));
      assert.deepEqual([...gi], [...wi]);
      const [wb, gb] = await onBoth(() => tf.slice(tf.tensor(Uint8Array.from({ length: n }, (_, i) => i % 3 === 0 ? 1 : 0), shape, 'bool'), begin, size));
      assert.deepEqual([...gb], [...wb]);
    });
  }

  const sums: [number[], number | number[], boolean][] = [
    [[2048, 256], 0, false],
    [[16, 128, 64], [0, 1], true],
    [[16, 128, 64], [0, 1], false],
    [[4, 5, 6], 2, false],
    [[4, 5, 6], [0, 2], false],
    [[7, 3], -1, true],
    [[9], 0, false],
  ];
  for (const [shape, axis, keepDims] of sums) {
    it(`sum [${shape}] over ${JSON.stringify(axis)}${keepDims ? ' keeping dims' : ''}`, async () => {
      const [want, got, ws, gs] = await onBoth(() => tf.sum(tf.tensor(data(shape.reduce((x, y) => x * y), 6), shape), axis, keepDims));
      assert.deepEqual(gs, ws);
      close(want, got);
    });
  }
});
