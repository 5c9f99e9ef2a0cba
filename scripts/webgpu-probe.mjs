// Prints the WebGPU adapter Dawn finds here (vendor, architecture, device, description, software or
// not) and checks a matMul on tfjs-backend-webgpu against the pure-JS backend:
//   node scripts/webgpu-probe.mjs [N]      (N: matrix size, default 256)
// Exits 2 when there is no adapter, 1 when the results differ.
import { performance } from 'node:perf_hooks';
import { create, globals } from 'webgpu';

for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) globalThis[k] = v;
const gpu = create([]);
// tfjs-backend-webgpu registers itself only if navigator.gpu exists when it is evaluated
Object.defineProperty(globalThis, 'navigator', { value: { ...(globalThis.navigator ?? {}), gpu }, configurable: true, writable: true });

let t = performance.now();
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error('no WebGPU adapter (is a Vulkan loader and driver installed?)');
  process.exit(2);
}
const { vendor, architecture, device, description, isFallbackAdapter } = adapter.info;
console.log(JSON.stringify({ vendor, architecture, device, description, isFallbackAdapter, ms: Math.round(performance.now() - t) }));

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) {
  console.error("tf.setBackend('webgpu') failed");
  process.exit(2);
}
const n = Number(process.argv[2] ?? 256);
const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
const [av, bv] = [await a.data(), await b.data()];
t = performance.now();
const got = await tf.matMul(a, b).data();
const ms = performance.now() - t;
await tf.setBackend('cpu');
const want = await tf.matMul(tf.tensor2d(av, [n, n]), tf.tensor2d(bv, [n, n])).data();
let err = 0;
for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
console.log(`matMul ${n}x${n}: ${ms.toFixed(0)} ms (first call: includes compiling its shader unless the driver cached it); max |webgpu - cpu| ${err.toExponential(2)}`);
process.exit(err <= 1e-3 * Math.sqrt(n) ? 0 : 1);
