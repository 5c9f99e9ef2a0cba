// `cai generate`, `cai score`, `cai train` (through a forked trainer process, as the extension
// does) and `cai bench` (the engine in this process against PyTorch on the same model).

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackendChoice, BackendReport, GenerateResult, HhhReport, ProviderSpec, PipelineParams, PipelineResult, JobEndParams, JobSpec, ModelRef, ScoreResult, TrainLmResult } from '../protocol/trainer';
import { TrainerClient } from '../node/trainerClient';
import { CliError, parse, UsageError } from './args';
import { ProgressLines } from './progress';
import { oracleResults, oracleTable } from './report';
import type { Command } from './commands';

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const BACKENDS = ['auto', 'tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];

function modelRef(value: string | undefined, cwd: string): ModelRef {
  if (!value) throw new UsageError('--model is required (a preset name such as tiny, or a model folder)');
  const asPath = path.resolve(cwd, value);
  if (fs.existsSync(asPath)) return { path: asPath };
  if (/[\\/]/.test(value)) throw new CliError(`${value}: no such model folder`, 2);
  return { preset: value };
}

function backendOf(v: string | boolean | string[] | undefined): BackendChoice {
  const b = typeof v === 'string' ? v : process.env.CAI_BACKEND || 'auto';
  if (!BACKENDS.includes(b)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
  return b as BackendChoice;
}

function num(v: string | boolean | string[] | undefined, name: string, dflt: number, integer = false): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} takes ${integer ? 'an integer' : 'a number'}`);
  return n;
}

/** Runs one job in a forked trainer process; Ctrl-C stops it (with a checkpoint for training). */
async function runInTrainer<K extends JobSpec['kind']>(job: JobSpec, backend: BackendChoice, label: string, onReport?: (r: BackendReport) => void): Promise<JobEndParams<K>> {
  const entry = path.join(__dirname, 'trainer.js');
  if (!fs.existsSync(entry)) throw new CliError(`the trainer bundle is missing (${entry}); run npm run build`);
  const client = TrainerClient.fork(entry, { onLog: (e) => process.env.CAI_DEBUG && process.stderr.write(`[trainer] ${e.message}\n`) });
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(`\n${label}: stopping after the current step with a checkpoint (Ctrl-C again to stop at once)\n`);
      abort.abort();
    } else {
      process.stderr.write(`${label}: stopping at once; resume continues from the last checkpoint\n`);
      client.kill('SIGKILL');
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const report = await client.initialize({ backend, logLevel: 'info' });
    if (process.stderr.isTTY) process.stderr.write(`${label}: backend ${report.backend} (${report.reason})\n`);
    onReport?.(report);
    const progress = new ProgressLines(label, process.stderr);
    const end = await client.run(job, { signal: abort.signal, onProgress: (p) => progress.update(p) });
    progress.finish();
    if (end.outcome === 'failed' || end.outcome === 'cancelled') throw new CliError(`${label}: ${end.error?.message ?? end.outcome}`, end.error?.code === 'config' || end.error?.code === 'model-file' ? 2 : 1);
    return end as JobEndParams<K>;
  } finally {
    process.off('SIGINT', onSigint);
    await client.shutdown().catch(() => client.kill());
  }
}

const generateCmd: Command = {
  summary: 'Generate text from a model (a preset or a Hugging Face model folder).',
  usage: 'cai generate --model DIR_OR_PRESET --prompt TEXT [--prompt TEXT...] [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--stop S...] [--seed S] [--backend B] [--json]',
  async run(args, cwd) {
    const { values } = parse(args, {
      model: { type: 'string' }, prompt: { type: 'string', multiple: true }, 'max-new-tokens': { type: 'string' }, temperature: { type: 'string' },
      'top-k': { type: 'string' }, 'top-p': { type: 'string' }, stop: { type: 'string', multiple: true }, seed: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' },
    }, this.usage);
    const prompts = (values['prompt'] as string[] | undefined) ?? [];
    if (prompts.length === 0) throw new UsageError(`--prompt is required — usage: ${this.usage}`);
    const job: JobSpec = {
      kind: 'generate',
      params: {
        model: modelRef(values['model'] as string | undefined, cwd), prompts,
        maxNewTokens: num(values['max-new-tokens'], 'max-new-tokens', 32, true), temperature: num(values['temperature'], 'temperature', 1),
        ...(values['top-k'] !== undefined ? { topK: num(values['top-k'], 'top-k', 0, true) } : {}),
        ...(values['top-p'] !== undefined ? { topP: num(values['top-p'], 'top-p', 1) } : {}),
        ...(values['stop'] ? { stop: values['stop'] as string[] } : {}), seed: num(values['seed'], 'seed', 0, true),
      },
    };
    const end = await runInTrainer<'generate'>(job, backendOf(values['backend']), 'generate');
    const outputs = (end.result as GenerateResult).outputs;
    if (values['json']) {
      const rows = outputs.map((o) => ({ tokens: o.tokens, text: o.text, logprobs: o.logprobs, finish_reason: o.finishReason }));
      out(JSON.stringify(rows.length === 1 ? rows[0] : rows));
    } else for (const o of outputs) out(o.text);
    return 0;
  },
};

const scoreCmd: Command = {
  summary: 'Log-probability of continuations of a prompt, per token and in total.',
  usage: 'cai score --model DIR_OR_PRESET --prompt TEXT --continuation TEXT [--continuation TEXT...] [--backend B] [--json]',
  async run(args, cwd) {
    const { values } = parse(args, { model: { type: 'string' }, prompt: { type: 'string' }, continuation: { type: 'string', multiple: true }, backend: { type: 'string' }, json: { type: 'boolean' } }, this.usage);
    const conts = (values['continuation'] as string[] | undefined) ?? [];
    if (values['prompt'] === undefined || conts.length === 0) throw new UsageError(`--prompt and --continuation are required — usage: ${this.usage}`);
    const end = await runInTrainer<'score'>({ kind: 'score', params: { model: modelRef(values['model'] as string | undefined, cwd), prompt: values['prompt'] as string, continuations: conts } }, backendOf(values['backend']), 'score');
    const scores = (end.result as ScoreResult).scores;
    if (values['json']) {
      const rows = scores.map((s) => ({ tokens: s.tokens, logprobs: s.logprobs, total: s.total }));
      out(JSON.stringify(rows.length === 1 ? rows[0] : rows));
    } else for (const [i, s] of scores.entries()) out(`${s.total.toFixed(4)}\t${conts[i]}`);
    return 0;
  },
};

const trainCmd: Command = {
  summary: 'Train a language model on text (JSONL with a "text" field, or plain text); resumes from its checkpoints.',
  usage: 'cai train --model DIR_OR_PRESET --data FILE --out DIR [--steps N] [--batch-size B] [--seq-len T] [--lr X] [--warmup N] [--cosine] [--weight-decay X] [--clip X] [--accumulate N] [--checkpoint-every N] [--keep N] [--seed S] [--backend B] [--json]',
  async run(args, cwd) {
    const { values } = parse(args, {
      model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, steps: { type: 'string' }, 'batch-size': { type: 'string' }, 'seq-len': { type: 'string' },
      lr: { type: 'string' }, warmup: { type: 'string' }, cosine: { type: 'boolean' }, 'weight-decay': { type: 'string' }, clip: { type: 'string' }, accumulate: { type: 'string' },
      'checkpoint-every': { type: 'string' }, keep: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' },
    }, this.usage);
    const data = values['data'] as string | undefined;
    const outDir = values['out'] as string | undefined;
    if (!data || !outDir) throw new UsageError(`--data and --out are required — usage: ${this.usage}`);
    const dataPath = path.resolve(cwd, data);
    if (!fs.existsSync(dataPath)) throw new CliError(`${data}: no such file`, 2);
    const steps = num(values['steps'], 'steps', 100, true);
    const warmup = num(values['warmup'], 'warmup', 0, true);
    const outAbs = path.resolve(cwd, outDir);
    const job: JobSpec = {
      kind: 'train-lm',
      params: {
        model: modelRef(values['model'] as string | undefined, cwd), data: { path: dataPath, format: dataPath.endsWith('.jsonl') ? 'jsonl-text' : 'text' },
        steps, batchSize: num(values['batch-size'], 'batch-size', 8, true), seqLen: num(values['seq-len'], 'seq-len', 64, true), lr: num(values['lr'], 'lr', 3e-4),
        schedule: values['cosine'] ? { kind: 'cosine', warmupSteps: warmup, totalSteps: steps } : warmup > 0 ? { kind: 'linear-warmup', warmupSteps: warmup } : { kind: 'constant' },
        weightDecay: num(values['weight-decay'], 'weight-decay', 0.01), clipNorm: num(values['clip'], 'clip', 1), accumulate: num(values['accumulate'], 'accumulate', 1, true),
        seed: num(values['seed'], 'seed', 0, true), checkpointDir: path.join(outAbs, 'checkpoints'), checkpointEvery: num(values['checkpoint-every'], 'checkpoint-every', 50, true),
        keepLast: num(values['keep'], 'keep', 2, true), saveTo: path.join(outAbs, 'model'),
      },
    };
    let backendReport: BackendReport | undefined;
    const started = new Date().toISOString();
    const end = await runInTrainer<'train-lm'>(job, backendOf(values['backend']), 'train', (r) => (backendReport = r));
    const r = end.result as TrainLmResult;
    // What ran where: the job, the backend chosen and why, versions, outcome.
    fs.writeFileSync(path.join(outAbs, 'manifest.json'), `${JSON.stringify({ kind: 'train-lm', started, finished: new Date().toISOString(), outcome: end.outcome, backend: backendReport, job: job.params, result: r }, null, 2)}\n`);
    if (values['json']) out(JSON.stringify({ outcome: end.outcome, ...r }));
    else out(`${end.outcome}: ${r.steps} steps, loss ${r.finalLoss.toFixed(4)}${r.savedTo ? `, model in ${r.savedTo}` : ''}`);
    return 0;
  },
};

const runCmd: Command = {
  summary: 'Run the Constitutional AI pipeline from a run configuration (*.run.yaml); --resume continues a run directory.',
  usage: 'cai run RUN.yaml [--out DIR] [--resume RUN_DIR] [--stages critique,sft,pairs,feedback,pm,ppo,eval] [--backend B] [--json]',
  async run(args, cwd) {
    const { values, positionals } = parse(args, { out: { type: 'string' }, resume: { type: 'string' }, stages: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } }, this.usage);
    const file = positionals[0];
    if (!file) throw new UsageError(`no run configuration given — usage: ${this.usage}`);
    const runFile = path.resolve(cwd, file);
    if (!fs.existsSync(runFile)) throw new CliError(`${file}: no such file`, 2);
    // The run's own checks (config, constitution, datasets) happen before the trainer starts.
    const { prepareRun } = await import('../trainer/pipeline.js');
    let backend: BackendChoice;
    try {
      backend = values['backend'] !== undefined ? backendOf(values['backend']) : prepareRun(runFile).config.backend;
    } catch (e) {
      throw new CliError((e as Error).message, 2);
    }
    const stages = typeof values['stages'] === 'string' ? values['stages'].split(',').map((x) => x.trim()).filter(Boolean) : undefined;
    const known = ['critique', 'sft', 'pairs', 'feedback', 'pm', 'ppo', 'eval'];
    for (const s of stages ?? []) if (!known.includes(s)) throw new UsageError(`--stages: unknown stage '${s}' (stages: ${known.join(', ')})`);
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(__dirname), 'package.json'), 'utf8')) as { version: string };
    const started = Date.now();
    const end = await runInTrainer<'pipeline'>({
      kind: 'pipeline',
      params: {
        runFile,
        ...(typeof values['out'] === 'string' ? { out: path.resolve(cwd, values['out']) } : {}),
        ...(typeof values['resume'] === 'string' ? { resume: path.resolve(cwd, values['resume']) } : {}),
        ...(stages ? { stages: stages as NonNullable<PipelineParams['stages']> } : {}),
        studioVersion: pkg.version,
      },
    }, backend, 'run');
    const r = end.result as PipelineResult;
    if (values['json']) out(JSON.stringify({ outcome: end.outcome, dir: r.dir }));
    else if (end.outcome === 'stopped') out(`stopped: ${r.dir} (continue with cai run ${file} --resume ${r.dir})`);
    else {
      // A run scored by the built-in world's oracle ends with its table; the last line is the run directory.
      const evalFile = path.join(r.dir, 'eval.json');
      const results = fs.existsSync(evalFile) ? oracleResults(JSON.parse(fs.readFileSync(evalFile, 'utf8'))) : undefined;
      const minutes = (Date.now() - started) / 60_000;
      out(`${end.outcome} in ${minutes.toFixed(1)} min`);
      if (results) out(`\n${oracleTable(results)}\n`);
      out(r.dir);
    }
    // Interrupted (Ctrl-C): the shell's convention for a run ended by SIGINT.
    return end.outcome === 'stopped' ? 130 : 0;
  },
};

/** The Python that has PyTorch: $CAI_PYTHON, Debian's /usr/bin/python3, or python3 on PATH. */
function pythonCandidates(): string[] {
  return [process.env.CAI_PYTHON, '/usr/bin/python3', 'python3'].filter((x): x is string => Boolean(x));
}

function runPython(script: string, args: string[]): Promise<Record<string, unknown>> {
  const tries = pythonCandidates();
  return new Promise((resolve, reject) => {
    const attempt = (i: number, lastErr: string): void => {
      const py = tries[i];
      if (!py) return reject(new CliError(`PyTorch reference could not run: ${lastErr} (install python3-torch, or set CAI_PYTHON)`));
      execFile(py, [script, ...args], { env: { ...process.env, OMP_NUM_THREADS: '1', OMP_WAIT_POLICY: 'passive' }, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
        if (error) return attempt(i + 1, `${py}: ${String(stderr).trim().split('\n').pop() ?? error.message}`);
        const line = String(stdout).trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as Record<string, unknown>);
        } catch {
          attempt(i + 1, `${py}: unexpected output ${line.slice(0, 200)}`);
        }
      });
    };
    attempt(0, '');
  });
}

const benchCmd: Command = {
  summary: 'Benchmark training, generation or a matrix product against PyTorch (CPU or CUDA) on the same model; prints the ratio.',
  usage: 'cai bench train|generate|matmul [--preset NAME] [--batch B] [--context T] [--steps N] [--new-tokens N] [--size N] [--backend B] [--workers N] [--reference-device cpu|cuda] [--no-reference] [--json]',
  async run(args) {
    const { values, positionals } = parse(args, {
      preset: { type: 'string' }, batch: { type: 'string' }, context: { type: 'string' }, steps: { type: 'string' }, 'new-tokens': { type: 'string' }, size: { type: 'string' },
      backend: { type: 'string' }, workers: { type: 'string' }, 'reference-device': { type: 'string' }, 'no-reference': { type: 'boolean' }, json: { type: 'boolean' },
    }, this.usage);
    const mode = positionals[0];
    if (mode !== 'train' && mode !== 'generate' && mode !== 'matmul') throw new UsageError(`say what to benchmark: train, generate or matmul — usage: ${this.usage}`);
    const device = (values['reference-device'] as string | undefined) ?? 'cpu';
    if (device !== 'cpu' && device !== 'cuda') throw new UsageError(`--reference-device must be cpu or cuda (got '${device}')`);
    const { runBench, benchConfig } = await import('../trainer/bench.js');
    const preset = (values['preset'] as string | undefined) ?? 'tiny';
    try {
      benchConfig(preset);
    } catch (e) {
      throw new UsageError(`${(e as Error).message}, or gpt2-small`);
    }
    const opts = {
      mode, preset, backend: backendOf(values['backend']), batch: num(values['batch'], 'batch', 16, true),
      steps: num(values['steps'], 'steps', mode === 'train' ? 6 : mode === 'matmul' ? 10 : 3, true), newTokens: num(values['new-tokens'], 'new-tokens', 64, true),
      ...(values['context'] !== undefined ? { context: num(values['context'], 'context', 128, true) } : {}),
      ...(values['workers'] !== undefined ? { workers: num(values['workers'], 'workers', 1, true) } : {}),
      ...(values['size'] !== undefined ? { size: num(values['size'], 'size', 2048, true) } : {}),
    } as const;
    const ours = await runBench(opts);
    let reference: Record<string, unknown> | undefined;
    let referenceError: string | undefined;
    if (!values['no-reference']) {
      const script = path.join(path.dirname(__dirname), 'bench', 'torch_reference.py');
      const c = ours.config;
      const shape = mode === 'matmul'
        ? ['--size', String(opts.size ?? 2048)]
        : ['--arch', c.arch, '--vocab', String(c.vocabSize), '--d-model', String(c.dModel), '--layers', String(c.nLayers), '--heads', String(c.nHeads),
            '--kv-heads', String(c.nKvHeads), '--d-ff', String(c.dFf), '--context', String(ours.context), '--batch', String(opts.batch),
            '--new-tokens', String(opts.newTokens), '--prompt-len', String(ours.promptLen)];
      // On the CPU, PyTorch at its best: one thread, and (on more cores) all cores with
      // OMP_WAIT_POLICY=passive so its OpenMP pool does not fight OpenBLAS's threads; the faster
      // run is the reference. On CUDA the thread count does not matter.
      const threadCounts = device === 'cuda' ? [1] : [...new Set([1, Math.min(os.availableParallelism(), 4)])];
      const better = (r: Record<string, unknown>): boolean => !reference || (mode === 'matmul' ? Number(r['tflops']) > Number(reference['tflops']) : Number(r['tokens_per_s']) > Number(reference['tokens_per_s']));
      for (const threads of threadCounts) {
        try {
          const r = await runPython(script, ['--mode', mode, '--device', device, ...shape, '--steps', String(opts.steps), '--threads', String(threads)]);
          if (better(r)) reference = r;
        } catch (e) {
          referenceError = (e as Error).message;
        }
      }
    }
    const refInfo = reference ? { device, threads: reference['threads'], torch_version: reference['torch_version'], load_avg_1m: reference['load_avg_1m'], ...(reference['device_name'] ? { device_name: reference['device_name'] } : {}) } : { error: referenceError ?? 'skipped' };
    const backendLine = `${ours.backend}${ours.adapter ? ` (${ours.adapter.description || ours.adapter.device || ours.adapter.vendor})` : ''}`;
    if (mode === 'matmul') {
      const refTflops = typeof reference?.['tflops'] === 'number' ? reference['tflops'] : undefined;
      const row = { mode, size: opts.size ?? 2048, backend: ours.backend, ...(ours.adapter ? { adapter: ours.adapter } : {}), ours_tflops: sig4(ours.tflops ?? 0), reference_tflops: refTflops !== undefined ? sig4(refTflops) : null, ratio: refTflops ? sig4((ours.tflops ?? 0) / refTflops) : null, reference: refInfo, steps: opts.steps };
      if (values['json']) out(JSON.stringify(row));
      else {
        out(`matmul ${row.size}×${row.size} float32 on ${backendLine}: ${row.ours_tflops} TFLOP/s`);
        out(refTflops ? `PyTorch on ${device}: ${row.reference_tflops} TFLOP/s — ratio ${row.ratio}` : `PyTorch reference: ${referenceError ?? 'skipped'}`);
      }
      return 0;
    }
    const refTps = typeof reference?.['tokens_per_s'] === 'number' ? reference['tokens_per_s'] : undefined;
    const row = {
      mode, preset, backend: ours.backend, ...(ours.adapter ? { adapter: ours.adapter } : {}), workers: ours.workers, ours_tokens_per_s: round(ours.tokensPerSecond), reference_tokens_per_s: refTps !== undefined ? round(refTps) : null,
      ratio: refTps ? Number((ours.tokensPerSecond / refTps).toFixed(3)) : null, ours_gflops: round(ours.gflops), reference_gflops: typeof reference?.['gflops'] === 'number' ? round(reference['gflops']) : null,
      reference: refInfo,
      batch: opts.batch, context: ours.context, ...(mode === 'generate' ? { prompt_len: ours.promptLen, new_tokens: opts.newTokens } : { steps: opts.steps }), params: ours.params,
    };
    if (values['json']) out(JSON.stringify(row));
    else {
      out(`${mode} ${preset} on ${backendLine} (${ours.workers} worker${ours.workers === 1 ? '' : 's'}): ${row.ours_tokens_per_s} tokens/s, ${row.ours_gflops} GFLOP/s`);
      out(refTps ? `PyTorch on ${device === 'cuda' ? 'CUDA' : `the CPU (${String(reference?.['threads'])} thread(s), OMP_WAIT_POLICY=passive)`}: ${row.reference_tokens_per_s} tokens/s — ratio ${row.ratio}` : `PyTorch reference: ${referenceError ?? 'skipped'}`);
    }
    return 0;
  },
};

/** Four significant figures: TFLOP/s of small products are far below 0.001, so fixed decimals would print 0. */
function sig4(x: number): number {
  return x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(4));
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

const evalCmd: Command = {
  summary: 'Evaluate a model as an AI-feedback labeller on a multiple-choice file (Anthropic\'s HHH eval shape): accuracy and calibration.',
  usage: 'cai eval hhh FILE (--model DIR_OR_PRESET | --model FILE.gguf [--threads N] | --base-url URL --model NAME [--api chat|completions] [--api-key-env VAR]) [--limit N] [--concurrency N] [--backend B] [--json]',
  async run(args, cwd) {
    const { values, positionals } = parse(args, {
      model: { type: 'string' }, 'base-url': { type: 'string' }, api: { type: 'string' }, 'api-key-env': { type: 'string' }, threads: { type: 'string' },
      limit: { type: 'string' }, concurrency: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' },
    }, this.usage);
    const [what, file] = positionals;
    if (what !== 'hhh' || !file) throw new UsageError(`usage: ${this.usage}`);
    const abs = path.resolve(cwd, file);
    if (!fs.existsSync(abs)) throw new CliError(`${file}: no such file`, 2);
    const api = values['api'] ?? 'completions';
    if (api !== 'chat' && api !== 'completions') throw new UsageError('--api must be chat or completions');
    const baseUrl = values['base-url'];
    let provider: ProviderSpec;
    if (typeof baseUrl === 'string') {
      if (typeof values['model'] !== 'string') throw new UsageError('--model NAME is required with --base-url (the model the endpoint serves)');
      provider = { provider: 'openai', baseUrl, model: values['model'], api, ...(typeof values['api-key-env'] === 'string' ? { apiKeyEnv: values['api-key-env'] } : {}) };
    } else if (typeof values['model'] === 'string' && values['model'].toLowerCase().endsWith('.gguf')) {
      const gguf = path.resolve(cwd, values['model']);
      if (!fs.existsSync(gguf)) throw new CliError(`${values['model']}: no such GGUF file`, 2);
      provider = { provider: 'llama-cpp', path: gguf, threads: num(values['threads'], 'threads', 1, true) };
    } else {
      provider = { provider: 'embedded', model: modelRef(values['model'] as string | undefined, cwd) };
    }
    const limit = values['limit'] !== undefined ? num(values['limit'], 'limit', 0, true) : undefined;
    const end = await runInTrainer<'eval-hhh'>({ kind: 'eval-hhh', params: { file: abs, provider, ...(limit !== undefined ? { limit } : {}), concurrency: num(values['concurrency'], 'concurrency', 4, true) } }, backendOf(values['backend']), 'eval');
    const r = end.result as HhhReport;
    if (values['json']) out(JSON.stringify(r));
    else {
      out(`items      ${r.items}`);
      out(`accuracy   ${(100 * r.accuracy).toFixed(1)} %`);
      out(`P(correct) ${r.mean_p_correct.toFixed(3)} (mean)`);
      out(`ECE        ${r.ece.toFixed(3)}`);
      out(`method     ${r.method}`);
    }
    return 0;
  },
};

export const ENGINE_COMMANDS: Record<string, Command> = { eval: evalCmd, run: runCmd, generate: generateCmd, score: scoreCmd, train: trainCmd, bench: benchCmd };
