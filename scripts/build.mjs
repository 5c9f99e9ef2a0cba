// One esbuild script for every process and every webview. `--production` minifies;
// `--watch` rebuilds on change. Type checking is `tsc -b`, a separate step.
import * as esbuild from 'esbuild';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Node processes: the extension host, the language server, the CLI. */
const nodeEntries = [
  { in: 'src/extension/main.ts', out: 'extension', external: ['vscode'] },
  { in: 'src/server/main.ts', out: 'server' },
  { in: 'src/server/worker.ts', out: 'worker' },
  { in: 'src/cli/main.ts', out: 'cli', banner: '#!/usr/bin/env node' },
];

/** Webview bundles: browser code, one per panel. */
const webviewEntries = [{ in: 'webview/preview/main.ts', out: 'webview/preview' }];

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
      external: e.external ?? [],
      banner: e.banner ? { js: e.banner } : undefined,
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
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  mkdirSync('dist', { recursive: true });
  if (existsSync('dist/cli.js')) chmodSync('dist/cli.js', 0o755);
}
