// `cai serve`: the engine's model behind an OpenAI-compatible HTTP API (src/trainer/serve.ts),
// in this process, until SIGINT or SIGTERM.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendChoice, ModelRef } from '../protocol/trainer';
import { CliError, parse, UsageError } from './args';
import type { Command } from './commands';

const BACKENDS = ['auto', 'tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];

function modelRef(value: string | undefined, cwd: string, usage: string): ModelRef {
  if (!value) throw new UsageError(`--model is required (a preset name such as tiny, or a model folder) — usage: ${usage}`);
  const asPath = path.resolve(cwd, value);
  if (fs.existsSync(asPath)) return { path: asPath };
  if (/[\\/]/.test(value)) throw new CliError(`${value}: no such model folder`, 2);
  return { preset: value };
}

function integer(v: string | boolean | string[] | undefined, name: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} takes an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` from ${min} to ${max}`}`);
  }
  return n;
}

export const SERVE_COMMAND: Command = {
  summary: 'Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions) until Ctrl-C.',
  usage: 'cai serve --model DIR_OR_PRESET [--host H] [--port P] [--backend B] [--latency-ms N] [--max-batch N] [--seed S]',
  async run(args, cwd) {
    const { values, positionals } = parse(args, {
      model: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, backend: { type: 'string' },
      'latency-ms': { type: 'string' }, 'max-batch': { type: 'string' }, seed: { type: 'string' },
    }, this.usage);
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' — usage: ${this.usage}`);
    const model = modelRef(values['model'] as string | undefined, cwd, this.usage);
    const backend = typeof values['backend'] === 'string' ? values['backend'] : process.env.CAI_BACKEND ?? 'auto';
    if (!BACKENDS.includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
    const host = (values['host'] as string | undefined) ?? '127.0.0.1';
    const port = integer(values['port'], 'port', 8000, 0, 65535);
    const latencyMs = integer(values['latency-ms'], 'latency-ms', 0, 0);
    const maxBatch = integer(values['max-batch'], 'max-batch', 8, 1);
    const seed = integer(values['seed'], 'seed', 0, Number.MIN_SAFE_INTEGER);

    const { startServer } = await import('../trainer/serve.js');
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer({
        model, host, port, backend: backend as BackendChoice, latencyMs, maxBatch, seed,
        ...(process.env.CAI_DEBUG ? { log: (line: string) => void process.stderr.write(`${line}\n`) } : {}),
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { code?: string };
      if (err.code === 'EADDRINUSE') throw new CliError(`${host}:${port} is already in use (choose another --port, or 0 for any free port)`);
      if (err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${host}:${port} (${err.code})`);
      if (err.name === 'JobError') throw new CliError(err.message, 2);
      throw e;
    }
    if (process.stderr.isTTY) process.stderr.write(`serve: backend ${server.backend.backend} (${server.backend.reason})\n`);
    process.stdout.write(`serving ${server.model} at ${server.baseUrl}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
    return 0;
  },
};
