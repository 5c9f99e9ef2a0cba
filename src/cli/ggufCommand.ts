// `cai export-gguf`: an engine model (a Hugging Face folder or a preset) and its tokenizer written
// as one GGUF file (src/trainer/gguf.ts) that llama.cpp, Ollama and the `llama-cpp` provider load.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelRef } from '../protocol/trainer';
import { CliError, parse, UsageError } from './args';
import type { Command } from './commands';
import { displayPath } from './io';

function modelRef(value: string, cwd: string): ModelRef {
  const asPath = path.resolve(cwd, value);
  if (fs.existsSync(asPath)) return { path: asPath };
  if (/[\\/]/.test(value)) throw new CliError(`${value}: no such model folder`, 2);
  return { preset: value };
}

function size(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

export const EXPORT_GGUF_COMMAND: Command = {
  summary: 'Write a model (folder or preset) and its tokenizer as a GGUF file for llama.cpp (the llama-cpp provider, Ollama).',
  usage: 'cai export-gguf MODEL_DIR_OR_PRESET -o FILE.gguf [--dtype f32|f16] [--name NAME] [--seed S]',
  async run(args, cwd) {
    const { values, positionals } = parse(args, {
      output: { type: 'string', short: 'o' }, dtype: { type: 'string' }, name: { type: 'string' }, seed: { type: 'string' },
    }, this.usage);
    if (positionals.length !== 1) throw new UsageError(`${positionals.length === 0 ? 'a model folder or preset is required' : `unexpected argument '${positionals[1]}'`} — usage: ${this.usage}`);
    const output = values['output'];
    if (typeof output !== 'string' || output === '') throw new UsageError(`-o FILE.gguf is required — usage: ${this.usage}`);
    const dtypeArg = ((values['dtype'] as string | undefined) ?? 'f32').toUpperCase();
    if (dtypeArg !== 'F32' && dtypeArg !== 'F16') throw new UsageError('--dtype must be f32 or f16');
    const seedArg = values['seed'] as string | undefined;
    const seed = seedArg === undefined ? 0 : Number(seedArg);
    if (!Number.isSafeInteger(seed)) throw new UsageError('--seed takes an integer');
    const ref = modelRef(positionals[0]!, cwd);
    const target = path.resolve(cwd, output);

    const { loadModel } = await import('../trainer/engine.js');
    const { saveGguf } = await import('../trainer/gguf.js');
    let model;
    try {
      model = await loadModel(ref, seed);
    } catch (e) {
      if ((e as Error).name === 'JobError' || (e as Error).name === 'ModelFileError') throw new CliError((e as Error).message, 2);
      throw e;
    }
    if (!model.tokenizerJson) throw new CliError(`${model.source}: the model has no tokenizer.json to export`, 2);
    let result;
    try {
      result = await saveGguf(target, model.config, model.weights, model.tokenizerJson, { dtype: dtypeArg, ...(typeof values['name'] === 'string' ? { name: values['name'] } : {}) });
    } catch (e) {
      if ((e as Error).name === 'ModelFileError') throw new CliError((e as Error).message, 1);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new CliError(`${displayPath(cwd, target)}: cannot be written (${code})`, 1);
      throw e;
    }
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`${displayPath(cwd, result.file)}: ${result.architecture}, ${result.tensors} tensors, ${dtypeArg}, ${size(result.bytes)}\n`);
    return 0;
  },
};
