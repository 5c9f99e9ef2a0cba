// Choosing the TensorFlow.js backend. Only this module (and the worker threads it starts) picks a
// backend. `auto` tries, in order: tfjs-node-gpu (installed and a CUDA device visible),
// tfjs-node (native CPU), WASM, pure JS. Each candidate must pass a self-test — one forward and
// backward pass of a tiny transformer checked against the pure-JS backend — before it is used;
// a failure is logged as a fallback with its reason.

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import type { BackendChoice, BackendName, BackendReport, InitializeParams } from '../protocol/trainer';
import { CausalLM } from '../core/model/transformer';
import type { ModelConfig } from '../core/model/config';
import { installFastWasmMatMul } from './wasmKernels';

/** The bundled backends (a live reference also keeps bundlers from dropping their registration). */
export const BUNDLED_BACKENDS: Readonly<Record<'cpu' | 'wasm', string>> = { cpu: version_cpu, wasm: version_wasm };

const TFJS_NAMES: Record<BackendName, string> = { 'tfjs-node-gpu': 'tensorflow', 'tfjs-node': 'tensorflow', wasm: 'wasm', cpu: 'cpu' };
const AUTO_ORDER: BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

let current: BackendReport | undefined;
let wasmPrepared = false;

/** Where the WASM binaries are: beside the bundle (dist/) or in the installed package. */
export function wasmDir(): string {
  const beside = path.join(__dirname, 'tfjs-backend-wasm-simd.wasm');
  if (fs.existsSync(beside)) return __dirname + path.sep;
  for (const base of [__dirname, process.cwd()]) {
    try {
      const pkg = createRequire(path.join(base, 'noop.js')).resolve('@tensorflow/tfjs-backend-wasm/package.json');
      return path.join(path.dirname(pkg), 'dist') + path.sep;
    } catch {
      // try the next base
    }
  }
  throw new Error('the WASM backend binaries (tfjs-backend-wasm-simd.wasm) were not found beside the trainer or in node_modules');
}

/** Loads an optional native package from the user's installation, never from the bundle. */
function loadOptional(name: string): void {
  const bases = [process.cwd(), __dirname, path.join(os.homedir(), '.constitution-studio')];
  let lastError: unknown;
  for (const base of bases) {
    try {
      createRequire(path.join(base, 'noop.js'))(name);
      return;
    } catch (e) {
      lastError = e;
      if (!String((e as Error).message).includes('Cannot find module')) break;
    }
  }
  const msg = String((lastError as Error)?.message ?? lastError).split('\n')[0];
  throw new Error(msg?.includes('Cannot find module') ? `${name} is not installed (npm install ${name})` : `${name} failed to load: ${msg}`);
}

function cudaVisible(): boolean {
  if (process.platform === 'linux') return fs.existsSync('/dev/nvidiactl') || fs.existsSync('/dev/nvidia0');
  return process.platform === 'win32';
}

async function activate(name: BackendName): Promise<void> {
  switch (name) {
    case 'tfjs-node-gpu':
      if (!cudaVisible()) throw new Error('no CUDA device is visible (/dev/nvidia* missing)');
      loadOptional('@tensorflow/tfjs-node-gpu');
      break;
    case 'tfjs-node':
      loadOptional('@tensorflow/tfjs-node');
      break;
    case 'wasm':
      if (!wasmPrepared) {
        setWasmPaths(wasmDir());
        installFastWasmMatMul();
        wasmPrepared = true;
      }
      break;
    case 'cpu':
      break;
  }
  if (name === 'cpu') {
    await tf.setBackend('cpu');
    quietCpu();
  }
  const ok = await tf.setBackend(TFJS_NAMES[name]);
  // A failed initialisation can leave getBackend() naming the backend anyway: check both.
  if (!ok || tf.getBackend() !== TFJS_NAMES[name]) throw new Error(`tf.setBackend('${TFJS_NAMES[name]}') failed`);
  await tf.ready();
}

const SELF_TEST_CONFIGS: ModelConfig[] = [
  { arch: 'gpt2', vocabSize: 37, dModel: 16, nLayers: 2, nHeads: 2, nKvHeads: 2, headDim: 8, dFf: 64, maxPositions: 16, normEps: 1e-5, ropeTheta: 10000, activation: 'gelu_new', tieEmbeddings: true, qkvBias: true, projBias: true, eosTokenIds: [] },
  { arch: 'llama', vocabSize: 37, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 4, dFf: 24, maxPositions: 16, normEps: 1e-6, ropeTheta: 10000, activation: 'silu', tieEmbeddings: false, qkvBias: true, projBias: false, eosTokenIds: [] },
];

/** Loss and gradient of tiny models with fixed weights: the numbers every backend must reproduce. */
function selfTestValues(): number[] {
  const values: number[] = [];
  for (const config of SELF_TEST_CONFIGS) {
    let s = 12345;
    const normal = (): number => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return (s / 2147483648 - 0.5) * 3.4;
    };
    const model = CausalLM.init(config, normal);
    model.embeddingGrad = tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? 'native' : 'host';
    try {
      const ids = tf.tensor2d(Int32Array.from({ length: 2 * 9 }, (_, i) => (i * 7 + 3) % config.vocabSize), [2, 9], 'int32');
      const vars = [...model.params.values()];
      const { value, grads } = tf.variableGrads(() => model.lmLoss(ids), vars);
      values.push(value.dataSync()[0]!);
      for (const v of vars) {
        const g = grads[v.name];
        values.push(g ? tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]!) : 0);
      }
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
      ids.dispose();
    } finally {
      model.dispose();
    }
  }
  return values;
}

let referenceValues: number[] | undefined;

/** The pure-JS backend advertises tfjs-node on its first write; the engine reports its choice itself. */
function quietCpu(): void {
  const b = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (b) b.firstUse = false;
}

async function selfTest(name: BackendName): Promise<{ ok: boolean; seconds: number; error?: string }> {
  const start = performance.now();
  try {
    if (!referenceValues) {
      const was = tf.getBackend();
      await tf.setBackend('cpu');
      quietCpu();
      referenceValues = selfTestValues();
      await tf.setBackend(was);
    }
    const got = selfTestValues();
    for (let i = 0; i < got.length; i++) {
      const want = referenceValues[i]!;
      const have = got[i]!;
      if (!Number.isFinite(have) || Math.abs(have - want) > 1e-3 * Math.max(1, Math.abs(want))) {
        return { ok: false, seconds: (performance.now() - start) / 1000, error: `self-test value ${i} is ${have}, expected ${want}` };
      }
    }
    return { ok: true, seconds: (performance.now() - start) / 1000 };
  } catch (e) {
    void name;
    return { ok: false, seconds: (performance.now() - start) / 1000, error: (e as Error).message };
  }
}

/** Makes a backend current (with its self-test) and reports what happened. */
export async function initializeBackend(params: Pick<InitializeParams, 'backend' | 'wasmThreads'>, testing: { corruptSelfTest?: BackendName[] } = {}): Promise<BackendReport> {
  const requested: BackendChoice = params.backend;
  if (!BUNDLED_BACKENDS.cpu || !BUNDLED_BACKENDS.wasm) throw new Error('the bundled TensorFlow.js backends are missing');
  const candidates = requested === 'auto' ? AUTO_ORDER : [requested];
  const fallbacks: { backend: BackendName; error: string }[] = [];
  for (const name of candidates) {
    try {
      await activate(name);
    } catch (e) {
      fallbacks.push({ backend: name, error: (e as Error).message });
      continue;
    }
    const test = await selfTest(name);
    if (testing.corruptSelfTest?.includes(name)) Object.assign(test, { ok: false, error: 'self-test value 0 is NaN, expected a finite loss (corrupted for a test)' });
    if (!test.ok) {
      fallbacks.push({ backend: name, error: `self-test failed: ${test.error}` });
      continue;
    }
    const threads = name === 'wasm' ? Math.max(1, Math.min(params.wasmThreads ?? os.availableParallelism(), os.availableParallelism())) : name === 'cpu' ? 1 : os.availableParallelism();
    const why = requested === 'auto'
      ? fallbacks.length ? `auto: ${fallbacks.map((f) => `${f.backend} unavailable (${f.error})`).join('; ')}; using ${name}` : `auto: ${name} is the first available backend`
      : `requested ${name}`;
    current = {
      backend: name,
      requested,
      reason: why,
      fallbacks,
      tfjsVersion: tf.version_core,
      nodeVersion: process.version,
      platform: `${process.platform}-${process.arch}`,
      threads,
      selfTest: { ok: true, seconds: test.seconds },
    };
    return current;
  }
  throw new Error(`no usable backend for '${requested}': ${fallbacks.map((f) => `${f.backend}: ${f.error}`).join('; ')}`);
}

export function currentBackend(): BackendReport | undefined {
  return current;
}

/** The gradient path for token embeddings on the current backend. */
export function embeddingGradMode(): 'native' | 'host' {
  return tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? 'native' : 'host';
}
