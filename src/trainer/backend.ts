// Choosing the TensorFlow.js backend. Only this module (and the worker threads it starts) picks a
// backend. `auto` tries, in order: tfjs-node-gpu (installed and a CUDA device visible), WebGPU
// through Dawn (the optional `webgpu` package; a hardware adapter only — a software one such as
// Mesa's lavapipe is used only when asked for by name), tfjs-node (native CPU), WASM, pure JS.
// Each candidate must pass a self-test — one forward and backward pass of a tiny transformer
// checked against the pure-JS backend — before it is used; a failure is logged as a fallback with
// its reason.

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import type { BackendChoice, BackendName, BackendReport, GpuAdapterInfo, InitializeParams } from '../protocol/trainer';
import { fixedUniform } from '../core/training/rng';
import { CausalLM } from '../core/model/transformer';
import type { ModelConfig } from '../core/model/config';
import { installFastWasmMatMul } from './wasmKernels';

/** The bundled backends (a live reference also keeps bundlers from dropping their registration). */
export const BUNDLED_BACKENDS: Readonly<Record<'cpu' | 'wasm', string>> = { cpu: version_cpu, wasm: version_wasm };

const TFJS_NAMES: Record<BackendName, string> = { 'tfjs-node-gpu': 'tensorflow', webgpu: 'webgpu', 'tfjs-node': 'tensorflow', wasm: 'wasm', cpu: 'cpu' };
export const AUTO_ORDER: readonly BackendName[] = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];

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

const OPTIONAL_BASES = (): string[] => [process.cwd(), __dirname, path.join(os.homedir(), '.constitution-studio')];

function optionalLoadError(name: string, e: unknown): Error {
  const msg = String((e as Error)?.message ?? e).split('\n')[0];
  return new Error(msg?.includes('Cannot find module') ? `${name} is not installed (npm install ${name})` : `${name} failed to load: ${msg}`);
}

/** Loads an optional native package from the user's installation, never from the bundle. */
function loadOptional(name: string): void {
  let lastError: unknown;
  for (const base of OPTIONAL_BASES()) {
    try {
      createRequire(path.join(base, 'noop.js'))(name);
      return;
    } catch (e) {
      lastError = e;
      if (!String((e as Error).message).includes('Cannot find module')) break;
    }
  }
  throw optionalLoadError(name, lastError);
}

/** Imports an optional ES-module package (such as `webgpu`) from the user's installation, never from the bundle. */
async function importOptional(name: string): Promise<unknown> {
  let file: string | undefined;
  let lastError: unknown;
  for (const base of OPTIONAL_BASES()) {
    try {
      file = createRequire(path.join(base, 'noop.js')).resolve(name);
      break;
    } catch (e) {
      lastError = e;
    }
  }
  if (!file) throw optionalLoadError(name, lastError);
  try {
    return await import(pathToFileURL(file).href);
  } catch (e) {
    throw optionalLoadError(name, e);
  }
}

// ---------------------------------------------------------------------------------------------
// WebGPU (Dawn through the optional `webgpu` package)

/** The parts of Dawn's WebGPU objects used here. */
interface DawnAdapterInfo { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }
interface DawnAdapter { info?: DawnAdapterInfo; isFallbackAdapter?: boolean }
interface DawnGpu { requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<DawnAdapter | null> }
interface WebGpuPackage { create(flags: string[]): DawnGpu; globals: Record<string, unknown> }

/** What looking for a WebGPU adapter found: the adapter, or one line saying why there is none. */
export type WebGpuProbe = { adapter: GpuAdapterInfo } | { error: string };

/** Whether an adapter is a CPU implementation rather than a GPU. */
export function isSoftwareAdapter(info: DawnAdapterInfo): boolean {
  if (info.isFallbackAdapter) return true;
  return /\b(software|cpu|llvmpipe|lavapipe|swiftshader|warp)\b/i.test([info.architecture, info.device, info.description].join(' '));
}

/** Why `requested` may not use this adapter, or undefined: `auto` never prefers a software adapter to WASM. */
export function webgpuRefusal(adapter: GpuAdapterInfo, requested: BackendChoice): string | undefined {
  if (requested === 'auto' && adapter.software) {
    return `the only WebGPU adapter is a software one (${adapter.description || adapter.device}), slower than WASM; set the backend to webgpu to use it anyway`;
  }
  return undefined;
}

/** Whether the Vulkan loader (libvulkan.so.1) can be found on Linux. */
function vulkanLoaderFound(): boolean {
  const dirs = [...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/lib64', '/lib', '/usr/local/lib'];
  return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

/** One line for "Dawn found no adapter", naming the missing part where it can be told. */
export function noAdapterReason(platform: NodeJS.Platform, loaderFound: boolean): string {
  if (platform === 'linux' && !loaderFound) return 'no WebGPU adapter: the Vulkan loader libvulkan.so.1 is missing (install libvulkan1 and the GPU\'s Vulkan driver)';
  if (platform === 'linux') return 'no WebGPU adapter: no usable Vulkan driver (install the GPU\'s Vulkan driver; in containers NVIDIA_DRIVER_CAPABILITIES must include graphics)';
  return 'no WebGPU adapter: no usable GPU driver (Vulkan, Metal or Direct3D 12) was found';
}

let dawnGpu: DawnGpu | undefined;

/** Makes `navigator.gpu` (and the WebGPU constants) Dawn's, once; tfjs-backend-webgpu needs them before it is evaluated. */
async function installDawn(): Promise<DawnGpu> {
  if (dawnGpu) return dawnGpu;
  const pkg = (await importOptional('webgpu')) as WebGpuPackage;
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(pkg.globals)) if (!(k in g)) g[k] = v;
  const gpu = pkg.create([]);
  const nav = (g['navigator'] as Record<string, unknown> | undefined) ?? {};
  Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  if (g['navigator'] !== nav) Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
  dawnGpu = gpu;
  return gpu;
}

/** Looks for a WebGPU adapter through Dawn (installing `navigator.gpu`), and describes it. */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  let gpu: DawnGpu;
  try {
    gpu = await installDawn();
  } catch (e) {
    return { error: (e as Error).message };
  }
  let adapter: DawnAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { error: `no WebGPU adapter: ${String((e as Error).message).split('\n')[0]}` };
  }
  if (!adapter) return { error: noAdapterReason(process.platform, vulkanLoaderFound()) };
  // Dawn's adapter info keeps its fields as getters on the prototype: read them one by one.
  const i = adapter.info;
  const info: DawnAdapterInfo = { vendor: i?.vendor, architecture: i?.architecture, device: i?.device, description: i?.description, isFallbackAdapter: i?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false };
  return {
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      software: isSoftwareAdapter(info),
    },
  };
}

/**
 * Two guards on the webgpu backend's reads. tfjs-backend-webgpu reads synchronously (dataSync)
 * through an OffscreenCanvas, which Node lacks: say so instead of "OffscreenCanvas is not
 * defined". And a kernel the device rejects (a validation or out-of-memory error) does not throw
 * in tfjs: its output silently stays zero, and the rest of its command batch is lost with it.
 * Such errors are collected from the device, and from then on every read fails with the first of
 * them, so wrong numbers never reach a log or a checkpoint.
 */
function guardWebGpuReads(): void {
  const b = tf.backend() as unknown as {
    readSync(dataId: object): unknown;
    read(dataId: object): Promise<unknown>;
    device?: { addEventListener?(type: 'uncapturederror', f: (ev: { error?: { message?: string } }) => void): void };
    caiGuarded?: boolean;
  };
  if (b.caiGuarded) return;
  b.caiGuarded = true;
  let fault: string | undefined;
  b.device?.addEventListener?.('uncapturederror', (ev) => {
    fault ??= (ev.error?.message ?? 'unknown error').split('\n')[0];
  });
  const check = (): void => {
    if (fault !== undefined) throw new Error(`the GPU rejected a kernel, so results since then are wrong: ${fault}`);
  };
  const readSync = b.readSync.bind(b);
  b.readSync = (dataId: object): unknown => {
    let out: unknown;
    try {
      out = readSync(dataId);
    } catch (e) {
      if (String((e as Error).message).includes('OffscreenCanvas')) throw new Error('the webgpu backend cannot read a tensor synchronously under Node (dataSync); this path must read with await data()', { cause: e });
      throw e;
    }
    check();
    return out;
  };
  const read = b.read.bind(b);
  b.read = async (dataId: object): Promise<unknown> => {
    const out = await read(dataId);
    check();
    return out;
  };
}

let webgpuLoaded = false;

/** Evaluates tfjs-backend-webgpu (bundled, registering into this tfjs-core) after navigator.gpu exists. */
async function loadWebGpuBackend(): Promise<void> {
  if (webgpuLoaded) return;
  await import('@tensorflow/tfjs-backend-webgpu');
  webgpuLoaded = true;
  if (!tf.findBackendFactory('webgpu')) throw new Error('tfjs-backend-webgpu did not register (navigator.gpu was missing when it loaded)');
}

function cudaVisible(): boolean {
  if (process.platform === 'linux') return fs.existsSync('/dev/nvidiactl') || fs.existsSync('/dev/nvidia0');
  return process.platform === 'win32';
}

/** Test hooks: a stand-in for the WebGPU probe, and self-tests made to fail. */
export interface BackendTesting {
  corruptSelfTest?: BackendName[];
  probeWebGpu?: () => Promise<WebGpuProbe>;
}

async function activate(name: BackendName, requested: BackendChoice, testing: BackendTesting): Promise<GpuAdapterInfo | undefined> {
  let adapter: GpuAdapterInfo | undefined;
  switch (name) {
    case 'tfjs-node-gpu':
      if (!cudaVisible()) throw new Error('no CUDA device is visible (/dev/nvidia* missing)');
      loadOptional('@tensorflow/tfjs-node-gpu');
      break;
    case 'webgpu': {
      const probe = await (testing.probeWebGpu ?? probeWebGpu)();
      if ('error' in probe) throw new Error(probe.error);
      const refusal = webgpuRefusal(probe.adapter, requested);
      if (refusal) throw new Error(refusal);
      adapter = probe.adapter;
      await loadWebGpuBackend();
      break;
    }
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
  if (name === 'webgpu') guardWebGpuReads();
  return adapter;
}

const SELF_TEST_CONFIGS: ModelConfig[] = [
  { arch: 'gpt2', vocabSize: 37, dModel: 16, nLayers: 2, nHeads: 2, nKvHeads: 2, headDim: 8, dFf: 64, maxPositions: 16, normEps: 1e-5, ropeTheta: 10000, activation: 'gelu_new', tieEmbeddings: true, qkvBias: true, projBias: true, eosTokenIds: [] },
  { arch: 'llama', vocabSize: 37, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 4, dFf: 24, maxPositions: 16, normEps: 1e-6, ropeTheta: 10000, activation: 'silu', tieEmbeddings: false, qkvBias: true, projBias: false, eosTokenIds: [] },
];

/**
 * Loss and gradient of tiny models with fixed weights: the numbers every backend must reproduce.
 * Reads are asynchronous: the webgpu backend cannot read synchronously under Node.
 */
async function selfTestValues(): Promise<number[]> {
  const values: number[] = [];
  for (const config of SELF_TEST_CONFIGS) {
    const model = CausalLM.init(config, fixedUniform(12345, 3.4));
    model.embeddingGrad = tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? 'native' : 'host';
    try {
      const ids = tf.tensor2d(Int32Array.from({ length: 2 * 9 }, (_, i) => (i * 7 + 3) % config.vocabSize), [2, 9], 'int32');
      const vars = [...model.params.values()];
      const { value, grads } = tf.variableGrads(() => model.lmLoss(ids), vars);
      values.push((await value.data())[0]!);
      for (const v of vars) {
        const g = grads[v.name];
        const norm = g ? tf.tidy(() => tf.sum(tf.square(g))) : undefined;
        values.push(norm ? (await norm.data())[0]! : 0);
        norm?.dispose();
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
      referenceValues = await selfTestValues();
      await tf.setBackend(was);
    }
    const got = await selfTestValues();
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
export async function initializeBackend(params: Pick<InitializeParams, 'backend' | 'wasmThreads'>, testing: BackendTesting = {}): Promise<BackendReport> {
  const requested: BackendChoice = params.backend;
  if (!BUNDLED_BACKENDS.cpu || !BUNDLED_BACKENDS.wasm) throw new Error('the bundled TensorFlow.js backends are missing');
  const candidates = requested === 'auto' ? AUTO_ORDER : [requested];
  const fallbacks: { backend: BackendName; error: string }[] = [];
  for (const name of candidates) {
    let adapter: GpuAdapterInfo | undefined;
    try {
      adapter = await activate(name, requested, testing);
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
    const threads = name === 'wasm' ? Math.max(1, Math.min(params.wasmThreads ?? os.availableParallelism(), os.availableParallelism())) : name === 'cpu' || name === 'webgpu' ? 1 : os.availableParallelism();
    const why = requested === 'auto'
      ? fallbacks.length ? `auto: ${fallbacks.map((f) => `${f.backend} unavailable (${f.error})`).join('; ')}; using ${name}` : `auto: ${name} is the first available backend`
      : `requested ${name}`;
    const on = adapter ? ` on ${adapter.description || adapter.device || adapter.vendor} (${adapter.software ? 'software' : 'hardware'} adapter)` : '';
    current = {
      backend: name,
      requested,
      reason: why + on,
      fallbacks,
      tfjsVersion: tf.version_core,
      nodeVersion: process.version,
      platform: `${process.platform}-${process.arch}`,
      threads,
      selfTest: { ok: true, seconds: test.seconds },
      ...(adapter ? { adapter } : {}),
    };
    return current;
  }
  throw new Error(`no usable backend for '${requested}': ${fallbacks.map((f) => `${f.backend}: ${f.error}`).join('; ')}`);
}

export function currentBackend(): BackendReport | undefined {
  return current;
}

/**
 * Whether generation picks tokens on the device (GPU backends, where every read is a round trip
 * and the logits are large) rather than reading the logits back to the host.
 */
export function samplesOnDevice(): boolean {
  const b = tf.getBackend();
  return b === 'webgpu' || (b === 'tensorflow' && current?.backend === 'tfjs-node-gpu');
}

/** The gradient path for token embeddings on the current backend. */
export function embeddingGradMode(): 'native' | 'host' {
  return tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? 'native' : 'host';
}
