/**
 * Validation and language-server latency on a 5,000-principle constitution.
 *
 *   npm run bench            (after npm run build)
 *
 * Prints, from one invocation:
 *  - full validation time (parse + schema + includes + semantic checks) divided by a bare
 *    `yaml` parse of the same text (target ≤ 3×);
 *  - p50/p95/max latency of completion and hover through the running language server
 *    (`cai lsp --stdio`), with the document at rest and while it is being edited (target p95 ≤ 50 ms).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompletionRequest, HoverRequest } from 'vscode-languageserver-protocol';
import { parseDocument } from 'yaml';
import { ConstitutionWorkspace } from '../src/core/constitution/resolve.js';
import { LspClient, uriOf } from '../test/lsp/harness.js';
import { generateConstitution } from './generate.js';

const PRINCIPLES = Number(process.env.BENCH_PRINCIPLES ?? 5000);
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

function timeRuns(f: () => void): number[] {
  f(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    f();
    out.push(performance.now() - t);
  }
  return out;
}

function line(label: string, xs: number[]): string {
  return `${label.padEnd(34)} p50 ${median(xs).toFixed(1).padStart(7)} ms   p95 ${percentile(xs, 95).toFixed(1).padStart(7)} ms   max ${Math.max(...xs).toFixed(1).padStart(7)} ms`;
}

async function main(): Promise<void> {
  const text = generateConstitution(PRINCIPLES);
  const lines = text.split('\n');
  console.log(`constitution: ${PRINCIPLES} principles, ${lines.length} lines, ${(text.length / 1024).toFixed(0)} KiB; ${RUNS} runs each; node ${process.version}, ${os.cpus().length} cpus`);

  // 1. validation against a bare parse
  const bare = timeRuns(() => parseDocument(text));
  const full = timeRuns(() => new ConstitutionWorkspace({ read: () => text, resolve: (_f, r) => r }).resolve('bench.constitution.yaml'));
  console.log(line('bare yaml parseDocument', bare));
  console.log(line('full validation', full));
  console.log(`validation / bare parse: ${(median(full) / median(bare)).toFixed(2)}×  (target ≤ 3×)`);

  // 2. latency through the language server
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-bench-'));
  const file = path.join(dir, 'bench.constitution.yaml');
  fs.writeFileSync(file, text);
  const client = new LspClient();
  try {
    await client.initialize(dir);
    const t0 = performance.now();
    client.open(file, text);
    await client.diagnosticsFor(file, () => true, 120000);
    console.log(`first diagnostics after open: ${(performance.now() - t0).toFixed(0)} ms`);
    const t1 = performance.now();
    await client.conn.sendRequest(HoverRequest.type, { textDocument: { uri: uriOf(file) }, position: { line: 20, character: 9 } });
    console.log(`first hover after the diagnostics: ${(performance.now() - t1).toFixed(0)} ms (the main thread's own analysis)`);

    const uri = uriOf(file);
    // positions: keys inside principles, principle references in examples, placeholders, ids
    const keyLines = lines.flatMap((l, i) => (/^ {4}weight: /.test(l) ? [i] : []));
    const refLines = lines.flatMap((l, i) => (/^ {4}- principle: /.test(l) ? [i] : []));
    const idLines = lines.flatMap((l, i) => (/^ {2}- id: principle-/.test(l) ? [i] : []));
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 16807) % 2147483647;
      return seed % n;
    };
    const completionAt = (i: number) => {
      const kind = i % 3;
      if (kind === 0) return { line: keyLines[rnd(keyLines.length)] as number, character: 4 };
      if (kind === 1) return { line: refLines[rnd(refLines.length)] as number, character: '    - principle: '.length };
      const tpl = lines.findIndex((l) => l.startsWith('  critique: "'));
      return { line: tpl, character: '  critique: "{'.length };
    };
    const hoverAt = (i: number) => {
      const kind = i % 3;
      if (kind === 0) return { line: idLines[rnd(idLines.length)] as number, character: '  - id: p'.length };
      if (kind === 1) return { line: refLines[rnd(refLines.length)] as number, character: '    - principle: p'.length };
      return { line: keyLines[rnd(keyLines.length)] as number, character: 5 };
    };
    const measure = async (req: 'completion' | 'hover', n: number, before?: (i: number) => void) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        before?.(i);
        const position = req === 'completion' ? completionAt(i) : hoverAt(i);
        const t = performance.now();
        if (req === 'completion') await client.conn.sendRequest(CompletionRequest.type, { textDocument: { uri }, position });
        else await client.conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position });
        out.push(performance.now() - t);
      }
      return out;
    };
    const restCompletion = await measure('completion', REQUESTS);
    const restHover = await measure('hover', REQUESTS);
    console.log(line('completion, document at rest', restCompletion));
    console.log(line('hover, document at rest', restHover));

    // typing: one character typed at the end of a principle's critique before every request,
    // sent as an incremental edit the way editors send keystrokes
    const type = (i: number) => {
      const l = (idLines[rnd(idLines.length)] as number) + 1; // the critique line
      const character = (lines[l] as string).length;
      client.edit(file, { start: { line: l, character }, end: { line: l, character } }, i % 2 ? ' ' : 's');
      lines[l] = `${lines[l]}${i % 2 ? ' ' : 's'}`;
    };
    const typingCompletion = await measure('completion', Math.min(REQUESTS, 100), type);
    const typingHover = await measure('hover', Math.min(REQUESTS, 40), type);
    console.log(line('completion, while typing', typingCompletion));
    console.log(line('hover, while typing', typingHover));
    const p95 = Math.max(percentile(restCompletion, 95), percentile(restHover, 95));
    console.log(`p95 at rest (completion, hover): ${percentile(restCompletion, 95).toFixed(1)} ms, ${percentile(restHover, 95).toFixed(1)} ms  (target ≤ 50 ms)${p95 <= 50 ? '' : '  ← over target'}`);
  } finally {
    await client.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
