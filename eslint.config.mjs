// Lint, including the layer rules of docs/architecture.md: each folder may import only
// what its layer allows, checked here so that a wrong import fails CI.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (patterns) => ({
  'no-restricted-imports': ['error', { patterns: patterns.map((p) => ({ group: [p.group].flat(), message: p.message })) }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', 'test/fixtures/**', 'scratch/**', 'bench-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: restrict([
      { group: ['vscode', 'vscode-languageserver*', 'vscode-languageclient*', 'vscode-jsonrpc*'], message: 'src/core is pure: no editor or protocol libraries.' },
      { group: ['node:*', 'fs', 'path', 'child_process', 'os', 'worker_threads'], message: 'src/core is pure: reach files through a FileHost.' },
      { group: ['**/extension/**', '**/server/**', '**/cli/**', '**/trainer/**', '**/protocol/**'], message: 'src/core imports nothing above it.' },
    ]),
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: restrict([
      { group: ['vscode', 'vscode-languageserver', 'vscode-languageclient*', 'node:*'], message: 'src/protocol holds message types only.' },
      { group: ['**/extension/**', '**/server/**', '**/cli/**', '**/trainer/**'], message: 'src/protocol imports only core types.' },
    ]),
  },
  {
    files: ['src/server/**/*.ts'],
    rules: restrict([
      { group: ['vscode', 'vscode-languageclient*'], message: 'The language server does not import vscode.' },
      { group: ['**/extension/**', '**/trainer/**', '**/cli/**'], message: 'The language server imports core and protocol only.' },
    ]),
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: restrict([
      { group: ['vscode-languageserver', 'vscode-languageserver/*'], message: 'The extension talks to the server through the client.' },
      { group: ['**/server/**', '**/trainer/**', '**/cli/**'], message: 'The extension starts the server and trainer as processes; it does not import them.' },
    ]),
  },
  {
    files: ['src/node/**/*.ts'],
    rules: restrict([
      { group: ['vscode', 'vscode-languageserver*', 'vscode-languageclient*', '@tensorflow/*'], message: 'src/node is shared by cai and the extension host: no editor API, no engine.' },
      { group: ['**/extension/**', '**/server/**', '**/cli/**', '**/trainer/**'], message: 'src/node imports core and protocol only.' },
    ]),
  },
  {
    files: ['webview/**/*.ts'],
    rules: restrict([
      { group: ['vscode', 'vscode-*', 'node:*', 'fs', 'path', 'child_process'], message: 'Webview code runs in a browser.' },
      { group: ['**/src/extension/**', '**/src/server/**', '**/src/cli/**', '**/src/trainer/**'], message: 'Webviews import protocol and pure helpers only.' },
    ]),
  },
);
