// Faster matrix products for TensorFlow.js's WASM backend.
//
// The WASM backend multiplies quickly (XNNPACK) only when both operands are plain, untransposed
// 2-D matrices; a transposed operand (every gradient of a product) or a batch dimension (every
// attention product) falls back to a naive loop that is 10–30× slower. This kernel replaces
// BatchMatMul: it transposes operands first, folds a shared right operand into one tall 2-D
// product, and runs the remaining batch as 2-D products on views into the operands' memory
// (tensor ids registered on the same bytes, so nothing is copied).

import * as tf from '@tensorflow/tfjs-core';

interface WasmTensorData { id: number; memoryOffset: number; shape: number[]; dtype: string; refCount: number }
interface WasmBackendLike {
  wasm: {
    HEAPU8: Uint8Array;
    HEAPF32: Float32Array;
    cwrap: (name: string, ret: null, args: string[]) => (...args: unknown[]) => void;
    tfjs: { registerTensor: (id: number, size: number, offset: number) => void; disposeData: (id: number) => void };
  };
  dataIdMap: { get: (dataId: object) => WasmTensorData };
  dataIdNextNumber: number;
  makeOutput: (shape: number[], dtype: string) => tf.TensorInfo;
  disposeData: (dataId: object, force?: boolean) => boolean;
}

type NativeMatMul = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number, ta: boolean, tb: boolean, outId: number) => void;

let native: NativeMatMul | undefined;

/** Below this many multiply-adds per batch element, batched products stay in the backend's loop. */
const SMALL_PRODUCT = 16384;

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** Swaps the last two axes with a cache-blocked loop on the heap (the backend's own 2-D transpose is slow). */
function transposeLast2(x: tf.TensorInfo, backend: WasmBackendLike): tf.TensorInfo {
  const rank = x.shape.length;
  const R = x.shape[rank - 2]!;
  const C = x.shape[rank - 1]!;
  const batch = x.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([...x.shape.slice(0, -2), C, R], 'float32');
  const heap = backend.wasm.HEAPF32;
  const src = backend.dataIdMap.get(x.dataId).memoryOffset >>> 2;
  const dst = backend.dataIdMap.get(out.dataId).memoryOffset >>> 2;
  const BS = 32;
  for (let b = 0; b < batch; b++) {
    const s0 = src + b * R * C;
    const d0 = dst + b * R * C;
    for (let r0 = 0; r0 < R; r0 += BS) {
      const r1 = Math.min(R, r0 + BS);
      for (let c0 = 0; c0 < C; c0 += BS) {
        const c1 = Math.min(C, c0 + BS);
        for (let r = r0; r < r1; r++) {
          const srow = s0 + r * C;
          for (let c = c0; c < c1; c++) heap[d0 + c * R + r] = heap[srow + c]!;
        }
      }
    }
  }
  return out;
}

function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const nativeMatMul = native;
  if (!nativeMatMul) throw new Error('fast BatchMatMul used before set-up');
  let a = args.inputs['a'] as tf.TensorInfo;
  let b = args.inputs['b'] as tf.TensorInfo;
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error('BatchMatMul supports float32 tensors only');
  const temps: tf.TensorInfo[] = [];
  if (transposeA) temps.push((a = transposeLast2(a, backend)));
  if (transposeB) temps.push((b = transposeLast2(b, backend)));
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = a.shape[ra - 2]!;
  const K = a.shape[ra - 1]!;
  const K2 = b.shape[rb - 2]!;
  const N = b.shape[rb - 1]!;
  if (K !== K2) throw new Error(`matMul: inner dimensions ${K} and ${K2} of shapes [${args.inputs['a']!.shape.join(', ')}] and [${args.inputs['b']!.shape.join(', ')}] differ (transposeA=${transposeA}, transposeB=${transposeB})`);
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((x, y) => x * y, 1);
  const batchB = outerB.reduce((x, y) => x * y, 1);
  const outOuter = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = Math.max(batchA, batchB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) throw new Error(`matMul: batch dimensions [${outerA.join(', ')}] and [${outerB.join(', ')}] cannot be broadcast`);
  const out = backend.makeOutput([...outOuter, M, N], 'float32');
  const aData = backend.dataIdMap.get(a.dataId);
  const bData = backend.dataIdMap.get(b.dataId);
  const oData = backend.dataIdMap.get(out.dataId);
  if (batchA === batchB && M * K * N <= SMALL_PRODUCT) {
    // Small products (one decoding step's attention): the backend's own batched loop beats
    // one call per batch element.
    nativeMatMul(aData.id, shapeBytes([batchA, M, K]), 3, bData.id, shapeBytes([batchB, K, N]), 3, false, false, oData.id);
  } else if (batchB === 1) {
    // A shared right operand: one tall product [batch·M, K] × [K, N].
    nativeMatMul(aData.id, shapeBytes([1, batchA * M, K]), 3, bData.id, shapeBytes([1, K, N]), 3, false, false, oData.id);
  } else {
    const views: number[] = [];
    const view = (offset: number, size: number): number => {
      const id = backend.dataIdNextNumber++;
      backend.wasm.tfjs.registerTensor(id, size, offset);
      views.push(id);
      return id;
    };
    const aShape = shapeBytes([1, M, K]);
    const bShape = shapeBytes([1, K, N]);
    for (let i = 0; i < batch; i++) {
      const ai = batchA === 1 ? 0 : i;
      const aId = view(aData.memoryOffset + ai * M * K * 4, M * K);
      const bId = view(bData.memoryOffset + i * K * N * 4, K * N);
      const oId = view(oData.memoryOffset + i * M * N * 4, M * N);
      nativeMatMul(aId, aShape, 3, bId, bShape, 3, false, false, oId);
    }
    for (const id of views) backend.wasm.tfjs.disposeData(id);
  }
  for (const t of temps) backend.disposeData(t.dataId);
  return out;
}

/** Slice as block copies on the heap: the backend's own kernel copies element by element. */
function slice(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs['x'] as tf.TensorInfo;
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, args.attrs['begin'] as number[], args.attrs['size'] as number[]) as [number[], number[]];
  const shape = x.shape;
  const rank = shape.length;
  const bpe = x.dtype === 'bool' ? 1 : 4;
  const out = backend.makeOutput([...size], x.dtype);
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  // Innermost run of contiguous elements: trailing axes taken whole, plus the first partial one.
  let inner = 1;
  let axis = rank - 1;
  while (axis >= 0 && begin[axis] === 0 && size[axis] === shape[axis]) inner *= shape[axis--]!;
  if (axis >= 0) inner *= size[axis]!;
  const strides = new Array<number>(rank);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) { strides[i] = acc; acc *= shape[i]!; }
  const heap = backend.wasm.HEAPU8;
  const srcBase = backend.dataIdMap.get(x.dataId).memoryOffset;
  let dst = backend.dataIdMap.get(out.dataId).memoryOffset;
  const runBytes = inner * bpe;
  const outerAxes = Math.max(axis, 0);
  const idx = new Array<number>(outerAxes).fill(0);
  const runs = total / inner;
  for (let r = 0; r < runs; r++) {
    let off = 0;
    for (let i = 0; i < outerAxes; i++) off += (begin[i]! + idx[i]!) * strides[i]!;
    if (axis >= 0) off += begin[axis]! * strides[axis]!;
    const src = srcBase + off * bpe;
    heap.copyWithin(dst, src, src + runBytes);
    dst += runBytes;
    for (let i = outerAxes - 1; i >= 0; i--) {
      if (++idx[i]! < size[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

let originalSum: tf.KernelFunc | undefined;
let onesId: { id: number; offset: number; length: number } | undefined;

/** Sum over leading axes as a product with a row of ones (XNNPACK); other reductions go to the backend's kernel. */
function sum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs['x'] as tf.TensorInfo;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(args.attrs['axis'] as number | number[], x.shape).sort((a, b) => a - b);
  const keepDims = Boolean(args.attrs['keepDims']);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32' || !native) return originalSum!(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const M = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const N = x.shape.slice(axes.length).reduce((a, b) => a * b, 1);
  if (!onesId || onesId.length < M) {
    if (onesId) backend.wasm.tfjs.disposeData(onesId.id);
    const length = Math.max(M, 4096);
    const t = backend.makeOutput([length], 'float32');
    const d = backend.dataIdMap.get(t.dataId);
    backend.wasm.HEAPF32.fill(1, d.memoryOffset >>> 2, (d.memoryOffset >>> 2) + length);
    // Kept for the backend's lifetime: dropped from tfjs's bookkeeping but not freed.
    onesId = { id: d.id, offset: d.memoryOffset, length };
  }
  const outShape = keepDims ? x.shape.map((s, i) => (i < axes.length ? 1 : s)) : x.shape.slice(axes.length);
  const out = backend.makeOutput(outShape, 'float32');
  const viewId = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(viewId, M, onesId.offset);
  native(viewId, shapeBytes([1, 1, M]), 3, backend.dataIdMap.get(x.dataId).id, shapeBytes([1, M, N]), 3, false, false, backend.dataIdMap.get(out.dataId).id);
  backend.wasm.tfjs.disposeData(viewId);
  return out;
}

/** Replaces the WASM backend's BatchMatMul. Call after the backend is registered, before it is used. */
export function installFastWasmMatMul(): void {
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    setupFunc: (backend: unknown) => {
      native = (backend as WasmBackendLike).wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as unknown as NativeMatMul;
    },
    kernelFunc: batchMatMul as unknown as tf.KernelFunc,
  });
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel({ kernelName: 'Slice', backendName: 'wasm', kernelFunc: slice as unknown as tf.KernelFunc });
  const sumKernel = tf.getKernel('Sum', 'wasm');
  if (sumKernel) {
    originalSum = sumKernel.kernelFunc;
    tf.unregisterKernel('Sum', 'wasm');
    tf.registerKernel({ kernelName: 'Sum', backendName: 'wasm', ...(sumKernel.setupFunc ? { setupFunc: sumKernel.setupFunc } : {}), kernelFunc: sum as unknown as tf.KernelFunc });
  }
}
