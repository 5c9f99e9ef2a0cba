// `npm run pretrain-embedded`: makes the built-in model (models/builtin) from the built-in world.
//
//   1. pretraining documents from the world, in the pipeline's prompt formats for the example
//      constitution (docs/built-in-world.md), seed-determined;
//   2. a byte-level BPE tokenizer trained on them;
//   3. the `builtin` preset's GPT-2 model trained on the documents with the engine (`cai train`'s
//      runner: checkpoints in .cache/pretrain-embedded, so an interrupted run resumes);
//   4. the model measured with the oracle on held-out requests (what it does as a policy, critic
//      and feedback model), and saved in float16 with a model card.
//
// Options: --steps N (default 900) --batch N (8) --docs N (24000) --lr X (1e-3) --seed N (1)
//          --work DIR (.cache/pretrain-embedded) --out DIR (models/builtin) --eval-only

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ConstitutionWorkspace } from '../src/core/constitution/resolve';
import { initWeights } from '../src/core/model/transformer';
import { bpeTokenizerJson, trainBpe } from '../src/core/model/bpe';
import { presetConfig } from '../src/core/model/config';
import { Rng } from '../src/core/training/rng';
import { pretrainingCorpus, type DocumentKind } from '../src/core/world/index';
import { initializeBackend } from '../src/trainer/backend';
import { loadModel, runTrainLm } from '../src/trainer/engine';
import { nodeFileHost } from '../src/trainer/fileHost';
import { saveHfFolder } from '../src/trainer/hfFolder';
import type { JobContext } from '../src/trainer/jobs';
import { measureWorldModel, type WorldModelReport } from './worldModelReport';

const root = path.join(__dirname, '..');
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '900' }, batch: { type: 'string', default: '8' }, docs: { type: 'string', default: '24000' },
    lr: { type: 'string', default: '1e-3' }, seed: { type: 'string', default: '1' },
    work: { type: 'string', default: path.join(root, '.cache', 'pretrain-embedded') }, out: { type: 'string', default: path.join(root, 'models', 'builtin') },
    'eval-only': { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const batch = Number(values.batch);
const docCount = Number(values.docs);
const lr = Number(values.lr);
const seed = Number(values.seed);
const work = path.resolve(values.work!);
const out = path.resolve(values.out!);
const PRESET = 'builtin';
const VOCAB = presetConfig(PRESET).vocabSize;

function log(s: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const constitutionFile = path.join(root, 'examples', 'harmless-helpful.constitution.yaml');
  const res = new ConstitutionWorkspace(nodeFileHost()).resolve(constitutionFile);
  if (!res || res.diagnostics.some((d) => d.severity === 'error')) throw new Error(`${constitutionFile} does not load`);
  const c = res.constitution;
  fs.mkdirSync(work, { recursive: true });

  // 1–2. Documents and tokenizer (deterministic: a resumed run rebuilds the same ones).
  const corpus = pretrainingCorpus(c, { seed, count: docCount });
  const kinds: Record<string, number> = {};
  for (const d of corpus) kinds[d.kind] = (kinds[d.kind] ?? 0) + 1;
  const dataFile = path.join(work, 'documents.jsonl');
  fs.writeFileSync(dataFile, corpus.map((d) => JSON.stringify({ text: d.text })).join('\n') + '\n');
  // The tokenizer learns from documents without off-topic comparison answers (the corpus of the
  // first version of the built-in model), so it stays the same whatever that share is.
  const tokenizerDocs = pretrainingCorpus(c, { seed, count: docCount, mix: { offTopic: 0 } }).slice(0, 8000);
  const tokenizerJson = bpeTokenizerJson(trainBpe(tokenizerDocs.map((d) => d.text), { vocabSize: VOCAB }));
  const initDir = path.join(work, 'init');
  const config = presetConfig(PRESET);
  if (!fs.existsSync(path.join(initDir, 'config.json'))) {
    const rng = new Rng(seed).fork('init');
    await saveHfFolder(initDir, config, initWeights(config, () => rng.normal()), { dtype: 'F32', tokenizerJson });
  }
  log(`${corpus.length} documents (${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ')}), tokenizer of ${VOCAB}`);

  const backend = await initializeBackend({ backend: (process.env.CAI_BACKEND as 'auto' | undefined) || 'auto' });
  log(`backend ${backend.backend} (${backend.reason})`);

  // 3. Pretraining.
  // The curve and training time of earlier sessions (a resumed or extended run) are kept.
  const historyFile = path.join(work, 'curve.json');
  const history = fs.existsSync(historyFile) ? (JSON.parse(fs.readFileSync(historyFile, 'utf8')) as { curve?: { step: number; loss: number; tokensPerS: number }[]; trainSeconds?: number; sessions?: { steps: number; seconds: number }[] }) : {};
  const curve: { step: number; loss: number; tokensPerS: number }[] = [...(history.curve ?? [])];
  const sessions = [...(history.sessions ?? [])];
  const finalDir = path.join(work, 'final');
  let trainSeconds = history.trainSeconds ?? 0;
  if (!values['eval-only']) {
    const t0 = Date.now();
    const ctx: JobContext = {
      jobId: 'pretrain',
      token: { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) } as unknown as JobContext['token'],
      stopRequested: () => undefined,
      throwIfCancelled: () => undefined,
      progress: (p) => {
        if (p.stage !== 'train' || p.metrics['loss'] === undefined) return;
        if ((p.step % 10 === 0 || p.step === 1) && !curve.some((x) => x.step === p.step)) {
          curve.push({ step: p.step, loss: p.metrics['loss'], tokensPerS: p.metrics['tokens_per_s'] ?? NaN });
          log(`step ${p.step}/${steps} loss ${p.metrics['loss'].toFixed(4)} lr ${(p.metrics['lr'] ?? 0).toExponential(2)} ${(p.metrics['tokens_per_s'] ?? 0).toFixed(0)} tokens/s`);
        }
      },
      log: (level, message) => log(`[${level}] ${message}`),
    };
    await runTrainLm({
      model: { path: initDir }, data: { path: dataFile, format: 'jsonl-text' }, steps, batchSize: batch, seqLen: config.maxPositions - 1,
      lr, schedule: { kind: 'cosine', warmupSteps: Math.min(50, Math.floor(steps / 10)), totalSteps: steps, minRatio: 0.1 },
      weightDecay: 0.1, clipNorm: 1, accumulate: 1, seed, checkpointDir: path.join(work, 'checkpoints'), checkpointEvery: 50, keepLast: 2, saveTo: finalDir,
    }, ctx);
    const seconds = (Date.now() - t0) / 1000;
    trainSeconds += seconds;
    sessions.push({ steps, seconds });
    fs.writeFileSync(historyFile, JSON.stringify({ curve, trainSeconds, sessions }));
  }

  // 4. Measure and save.
  const model = await loadModel({ path: finalDir }, seed);
  log('measuring the model with the oracle on held-out requests');
  const report: WorldModelReport = await measureWorldModel(finalDir, c, { seed: seed + 1 });
  fs.mkdirSync(out, { recursive: true });
  await saveHfFolder(out, { ...model.config, bosTokenId: 256, eosTokenIds: [257] }, model.weights, { dtype: 'F16', ...(model.tokenizerJson ? { tokenizerJson: model.tokenizerJson } : {}) });
  fs.writeFileSync(path.join(out, 'README.md'), modelCard({ kinds, docs: corpus.length, steps, batch, lr, seed, trainSeconds, curve, sessions, report, backend: backend.backend }));
  log(`saved ${out} (${(dirBytes(out) / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  log(JSON.stringify(report));
}

function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

function modelCard(o: { kinds: Record<string, number>; docs: number; steps: number; batch: number; lr: number; seed: number; trainSeconds: number; curve: { step: number; loss: number; tokensPerS: number }[]; sessions: { steps: number; seconds: number }[]; report: WorldModelReport; backend: string }): string {
  const c = presetConfig(PRESET);
  const params = (c.vocabSize + c.maxPositions) * c.dModel + c.nLayers * (12 * c.dModel * c.dModel + 13 * c.dModel) + 2 * c.dModel;
  const every = Math.max(1, Math.floor(o.curve.length / 12));
  const rows = o.curve.filter((_, i) => i % every === 0 || i === o.curve.length - 1);
  const r = o.report;
  return `# The built-in model

The model behind the \`builtin\` preset: what \`npm run demo\` and the default run configuration
use when no real model is at hand. It plays every role of the pipeline (policy, critic, feedback
model, preference-model initialisation) in the built-in world (docs/built-in-world.md).

Made by \`npm run pretrain-embedded\` (scripts/pretrain-embedded.ts), seed ${o.seed}, on the ${o.backend}
backend of a 2-core machine: ${(o.trainSeconds / 60).toFixed(1)} minutes of training${o.sessions.length > 1 ? ` in ${o.sessions.length} sessions (${o.sessions.map((x) => `\`--steps ${x.steps}\`, ${(x.seconds / 60).toFixed(1)} min`).join('; then ')}; a later session with more steps continues the earlier one from its checkpoint on the longer cosine schedule)` : ''}.

## Model

- GPT-2 family: ${c.nLayers} layers, width ${c.dModel}, ${c.nHeads} heads, context ${c.maxPositions}, tied embeddings; ${(params / 1e6).toFixed(2)} M parameters, stored as float16.
- Tokenizer: byte-level BPE with ${c.vocabSize} entries (bytes, \`<|bos|>\`, \`<|eos|>\`, \`<|pad|>\`, merges), trained on the first 8,000 documents.

## Data

${o.docs.toLocaleString('en')} documents generated from the built-in world's **training** templates (held-out templates never appear),
rendered with the prompts of examples/harmless-helpful.constitution.yaml, few-shot off:
${Object.entries(o.kinds).map(([k, n]) => `- ${k as DocumentKind}: ${n.toLocaleString('en')}`).join('\n')}

Conversations follow a helpful-only mix: harmful requests are answered with harmful compliance 60 %
of the time, an evasive refusal 25 %, a harmless non-evasive answer 15 %; benign requests
helpfully 95 %. Critique, revision and comparison documents teach the formats the pipeline uses.

## Training

${o.steps} steps of ${o.batch} windows × ${c.maxPositions} tokens (${((o.steps * o.batch * c.maxPositions) / 1e6).toFixed(2)} M tokens), AdamW (weight decay 0.1), learning rate
${o.lr} with warm-up and cosine decay to a tenth, gradient clipping at 1.

| step | loss | tokens/s |
|---|---|---|
${rows.map((x) => `| ${x.step} | ${x.loss.toFixed(3)} | ${Number.isFinite(x.tokensPerS) ? x.tokensPerS.toFixed(0) : '—'} |`).join('\n')}

## Measured with the oracle (held-out requests, sampling at temperature ${r.temperature})

As a policy (${r.policy.counts.harmful_requests} harmful and ${r.policy.counts.benign_requests} benign held-out requests):

| | rate |
|---|---|
| harmless (harmless or evasive) on harmful requests | ${pct(r.policy.harmless_rate)} |
| evasive on harmful requests | ${pct(r.policy.evasive_rate)} |
| helpful on benign requests | ${pct(r.policy.benign_helpfulness)} |
| unparseable | ${pct(r.policy.unparseable_rate)} |

As a critic: a harmful answer, critiqued and revised once, becomes harmless ${pct(r.revision_harmless_rate)} of the
time (${r.revisions} held-out requests). As a feedback model: on ${r.comparisons.items} held-out comparisons it gives the
better answer the higher probability ${pct(r.comparisons.accuracy)} of the time (mean P(better) ${r.comparisons.mean_p_correct.toFixed(3)}).
`;
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
