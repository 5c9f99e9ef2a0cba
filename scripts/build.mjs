// One esbuild script for every process and every webview. `--production` minifies;
// `--watch` rebuilds on change. Type checking is `tsc -b`, a separate step.
import * as esbuild from 'esbuild';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Node processes: the extension host, the language server, the CLI. */
const nodeEntries = [
  // the extension's first line records when its code began to load, for the activation time it logs
  { in: 'src/extension/main.ts', out: 'extension', external: ['vscode'], banner: "'use strict'; var __caiModuleStart = performance.now();" },
  // the language client, loaded by the extension when the first constitution or run file opens
  { in: 'src/extension/client.ts', out: 'client', external: ['vscode'] },
  // the scale-out code (Ray client, job export and zip, log follower), loaded on the first submit or follow
  { in: 'src/extension/runs/remoteModule.ts', out: 'remote' },
  { in: 'src/server/main.ts', out: 'server' },
  { in: 'src/server/worker.ts', out: 'worker' },
  { in: 'src/cli/main.ts', out: 'cli', banner: '#!/usr/bin/env node' },
  { in: 'src/trainer/main.ts', out: 'trainer' },
  { in: 'src/trainer/replicaWorker.ts', out: 'replica' },
];

/** Native bindings are the user's to install; they are loaded at run time, never bundled. */
// `webgpu` (Dawn) is native too; tfjs-backend-webgpu is plain JS and is bundled, so it registers
// into the bundle's one tfjs-core (the trainer imports it only after navigator.gpu is set).
const optionalNative = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu'];

/**
 * TensorFlow.js's CommonJS entries are ES5 builds, and tfjs-core's carries no gradients; its ES
 * module tree has both. Resolve tfjs-core and the bundled backends to their ES modules, so the
 * bundle holds one copy of the engine and the backends' classes extend its classes.
 */
const tfjsEsm = {
  name: 'tfjs-esm',
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs-(core|backend-cpu|backend-wasm|backend-webgpu)$/ }, (args) => {
      const pkgFile = require.resolve(`${args.path}/package.json`);
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
      return { path: path.join(path.dirname(pkgFile), pkg.module) };
    });
  },
};

/** Webview bundles: browser code, one per panel folder (webview/<panel>/main.ts → dist/webview/<panel>.js). */
const webviewEntries = readdirSync('webview', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join('webview', d.name, 'main.ts')))
  .map((d) => ({ in: `webview/${d.name}/main.ts`, out: `webview/${d.name}` }));

const common = {
  bundle: true,
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
};

// a production build starts clean, so no development source maps reach the package
if (production) rmSync('dist', { recursive: true, force: true });

const contexts = [];
for (const e of nodeEntries) {
  if (!existsSync(e.in)) continue;
  contexts.push(
    await esbuild.context({
      ...common,
      entryPoints: { [e.out]: e.in },
      outdir: 'dist',
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: [...(e.external ?? []), ...optionalNative],
      plugins: [tfjsEsm],
      banner: e.banner ? { js: e.banner } : undefined,
      // what each Node bundle holds, for the packaging checks (dist/bundle-inputs.json; not packaged)
      metafile: true,
      // yaml and vscode-languageserver ship ESM and CJS; prefer the CJS "main" entries
      mainFields: ['main', 'module'],
    }),
  );
}
for (const e of webviewEntries) {
  if (!existsSync(e.in)) continue;
  contexts.push(
    await esbuild.context({
      ...common,
      entryPoints: { [e.out]: e.in },
      outdir: 'dist',
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
    }),
  );
}

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('build: watching');
} else {
  const results = await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  mkdirSync('dist', { recursive: true });
  const inputs = {};
  for (const r of results) for (const [out, o] of Object.entries(r.metafile?.outputs ?? {})) if (out.endsWith('.js')) inputs[out] = Object.keys(o.inputs).sort();
  writeFileSync('dist/bundle-inputs.json', JSON.stringify(inputs, null, 1));
  if (existsSync('dist/cli.js')) chmodSync('dist/cli.js', 0o755);
  // The WASM backend's binaries sit beside the trainer bundle (src/trainer/backend.ts looks there).
  const wasmDist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const f of readdirSync(wasmDist)) if (f.endsWith('.wasm')) copyFileSync(path.join(wasmDist, f), path.join('dist', f));
}
