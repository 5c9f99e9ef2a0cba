// Scale-out job export (src/core/scaleout/exportJob.ts) and its TRL runner
// (resources/scaleout/runner.py): golden job folders, file hashes, the soft-label strategies,
// both OpenRLHF flag tables, and the runner's data helpers read by Python.
// UPDATE_GOLDEN=1 rewrites test/fixtures/scaleout/golden/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  buildJob,
  flagTableFor,
  marginOf,
  OPENRLHF_FLAGS,
  preferenceRows,
  shellQuote,
  toYaml,
  yamlNumber,
  JobError,
  type JobInput,
  type JobManifest,
  type JobOutput,
} from '../../src/core/scaleout/exportJob.js';
import { nodeHashing } from '../../src/node/jobHashing';
import { latestReviews, isReviewRecord, type ReviewStatus } from '../../src/core/runs/pairs.js';
import type { Manifest, PairRecord, RevisionRecord } from '../../src/core/runs/records.js';

const root = path.resolve(__dirname, '../..');
const runDir = path.join(root, 'test/fixtures/scaleout/run');
const goldenDir = path.join(root, 'test/fixtures/scaleout/golden');
const runnerPath = path.join(root, 'resources/scaleout/runner.py');
const update = process.env['UPDATE_GOLDEN'] === '1';

function readJsonl<T>(file: string): T[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
}

function fixtureRun(): Pick<JobInput, 'manifest' | 'revisions' | 'pairs' | 'reviews'> {
  const manifest = JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8')) as Manifest;
  const reviews = latestReviews(readJsonl<unknown>(path.join(runDir, 'reviews.jsonl')).filter(isReviewRecord));
  return { manifest, revisions: readJsonl<RevisionRecord>(path.join(runDir, 'revisions.jsonl')), pairs: readJsonl<PairRecord>(path.join(runDir, 'pairs.jsonl')), reviews };
}

const MODEL = 'Qwen/Qwen2.5-0.5B-Instruct';

const GOLDENS: { name: string; input: Pick<JobInput, 'engine' | 'stage' | 'options'> }[] = [
  { name: 'trl-sft', input: { engine: 'trl', stage: 'sft', options: { model: MODEL } } },
  { name: 'trl-pm', input: { engine: 'trl', stage: 'pm', options: { model: MODEL } } },
  { name: 'trl-ppo', input: { engine: 'trl', stage: 'ppo', options: { model: MODEL, rewardModel: '../trl-pm/output' } } },
  { name: 'openrlhf-pm-flat', input: { engine: 'openrlhf', stage: 'pm', options: { model: MODEL, openrlhfVersion: '0.10.1' } } },
  { name: 'openrlhf-pm-dotted', input: { engine: 'openrlhf', stage: 'pm', options: { model: MODEL, openrlhfVersion: '0.11.2' } } },
];

function build(input: Pick<JobInput, 'engine' | 'stage' | 'options'>): JobOutput {
  return buildJob({ ...fixtureRun(), ...input, hashing: nodeHashing });
}

const bytesOf = (c: string | Uint8Array): Buffer => (typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c));

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(path.join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

for (const g of GOLDENS) {
  test(`golden job folder ${g.name} matches byte for byte`, () => {
    const job = build(g.input);
    const dir = path.join(goldenDir, g.name);
    if (update) {
      fs.rmSync(dir, { recursive: true, force: true });
      for (const [rel, c] of job.files) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), bytesOf(c));
      }
    }
    assert.deepEqual(listFiles(dir), [...job.files.keys()].sort(), `${g.name}: file list (UPDATE_GOLDEN=1 rewrites the goldens)`);
    for (const [rel, c] of job.files) assert.ok(bytesOf(c).equals(fs.readFileSync(path.join(dir, rel))), `${g.name}/${rel} differs (UPDATE_GOLDEN=1 rewrites the goldens)`);
  });
}

test('manifest hashes and sizes match every file written, and only those', () => {
  for (const g of GOLDENS) {
    const job = build(g.input);
    const m = JSON.parse(job.files.get('manifest.json') as string) as JobManifest;
    const others = [...job.files.keys()].filter((k) => k !== 'manifest.json').sort();
    assert.deepEqual(Object.keys(m.files).sort(), others);
    for (const rel of others) {
      const b = bytesOf(job.files.get(rel)!);
      assert.equal(m.files[rel]!.sha256, createHash('sha256').update(b).digest('hex'), `${g.name}/${rel}`);
      assert.equal(m.files[rel]!.bytes, b.length);
    }
    assert.equal(m.engine, g.input.engine);
    assert.equal(m.stage, g.input.stage);
    assert.equal(m.source.runId, 'scaleout-fixture');
    assert.match(m.source.configSha256, /^[0-9a-f]{64}$/);
    assert.ok(m.pins.packages.every((p) => /^[a-z0-9_.-]+==\d+(\.\d+)*$/.test(p)), 'pins are exact');
    assert.match(m.pins.note, /pinned/);
  }
});

test('SFT rows are TRL conversational prompt/completion with the final revision', () => {
  const run = fixtureRun();
  const job = build({ engine: 'trl', stage: 'sft', options: { model: MODEL } });
  const rows = (job.files.get('data/sft.jsonl') as string).trim().split('\n').map((l) => JSON.parse(l) as { prompt: unknown; completion: unknown });
  assert.equal(rows.length, run.revisions.length);
  assert.deepEqual(rows[0]!.prompt, [{ role: 'user', content: run.revisions[0]!.prompt }]);
  assert.deepEqual(rows[0]!.completion, [{ role: 'assistant', content: run.revisions[0]!.final }]);
  const yaml = job.files.get('config.yaml') as string;
  assert.match(yaml, /config_class: "SFTConfig"/);
  assert.match(yaml, /learning_rate: 0\.0003\n/);
  assert.match(yaml, /per_device_train_batch_size: 8\n/);
  assert.match(yaml, /max_steps: 40\n/);
  assert.match(yaml, /max_length: 256\n/);
  assert.match(yaml, /seed: 11\n/);
});

test('soft strategy keeps every labelled pair once with p_chosen, and reviews as export-dataset applies them', () => {
  const { pairs, reviews } = fixtureRun();
  const { rows, stats } = preferenceRows(pairs, reviews!, 'soft');
  // fixture labels 0.7, 0.25, 0.5 (tie), 0.95, 0.55 flipped in review → 0.45, 0.62 flagged
  assert.deepEqual(stats.dropped, { tie: 1, flagged: 1, invalid: 0, belowThreshold: 0 });
  assert.equal(stats.pairs, 6);
  assert.equal(stats.pairsKept, 4);
  assert.equal(stats.rows, 4);
  assert.deepEqual(rows.map((r) => r.p_chosen), [0.7, 0.75, 0.95, 0.55]);
  assert.ok(Math.abs(stats.labelMean! - (0.7 + 0.75 + 0.95 + 0.55) / 4) < 1e-12);
  assert.equal(stats.effectiveLabelMean, stats.labelMean);
  assert.deepEqual(stats.reviews, { flipped: 1, accepted: 0 });
  const flipped = rows[3]!;
  const orig = pairs[4]!;
  assert.equal(flipped.chosen, orig.response_b, 'a flipped review makes B the chosen response');
  assert.equal(flipped.review, 'flip');
});

test('duplicate strategy writes K copies per pair in proportion to the label', () => {
  const { pairs } = fixtureRun();
  const none = new Map<string, ReviewStatus>();
  const { rows, stats } = preferenceRows(pairs, none, 'duplicate', { copies: 10 });
  // labelled pairs: 0.7, 0.75 (0.25 for A), 0.95, 0.55, 0.62 — the tie is dropped
  assert.equal(stats.pairsKept, 5);
  assert.equal(stats.rows, 50);
  const byId = new Map<string, { fwd: number; back: number }>();
  for (const r of rows) {
    const c = byId.get(r.id) ?? { fwd: 0, back: 0 };
    if (r.reversed) c.back++;
    else c.fwd++;
    byId.set(r.id, c);
  }
  assert.deepEqual(byId.get(pairs[0]!.id), { fwd: 7, back: 3 });
  assert.deepEqual(byId.get(pairs[1]!.id), { fwd: 8, back: 2 }, '0.75 × 10 = 7.5 rounds half up');
  assert.deepEqual(byId.get(pairs[3]!.id), { fwd: 10, back: 0 }, '0.95 × 10 = 9.5 rounds half up');
  assert.deepEqual(byId.get(pairs[4]!.id), { fwd: 6, back: 4 });
  assert.deepEqual(byId.get(pairs[5]!.id), { fwd: 6, back: 4 });
  assert.ok(Math.abs(stats.effectiveLabelMean! - (0.7 + 0.8 + 1 + 0.6 + 0.6) / 5) < 1e-12);
  assert.ok(Math.abs(stats.labelMean! - (0.7 + 0.75 + 0.95 + 0.55 + 0.62) / 5) < 1e-12);
  assert.ok(Math.abs(stats.quantisationError! - (0 + 0.05 + 0.05 + 0.05 + 0.02) / 5) < 1e-9);
  const back = rows.find((r) => r.reversed && r.id === pairs[0]!.id)!;
  assert.equal(back.chosen, pairs[0]!.response_b);
  assert.ok(Math.abs(back.p_chosen - 0.3) < 1e-12);
  // with K = 100 the share of copies matches the label to 0.005
  const fine = preferenceRows(pairs, none, 'duplicate', { copies: 100 }).stats;
  assert.ok(Math.abs(fine.effectiveLabelMean! - fine.labelMean!) <= 0.005);
  assert.throws(() => preferenceRows(pairs, none, 'duplicate', { copies: 0 }), JobError);
});

test('threshold strategy keeps confident pairs as hard labels and counts the drops', () => {
  const { pairs } = fixtureRun();
  const none = new Map<string, ReviewStatus>();
  const { rows, stats } = preferenceRows(pairs, none, 'threshold', { threshold: 0.7 });
  assert.deepEqual(rows.map((r) => r.id), [pairs[0]!.id, pairs[1]!.id, pairs[3]!.id]);
  assert.deepEqual(stats.dropped, { tie: 1, flagged: 0, invalid: 0, belowThreshold: 2 });
  assert.equal(stats.pairsDropped, 3);
  assert.equal(stats.effectiveLabelMean, 1);
  assert.equal(stats.threshold, 0.7);
  assert.equal(preferenceRows(pairs, none, 'threshold', { threshold: 0.96 }).stats.rows, 0);
  assert.throws(() => preferenceRows(pairs, none, 'threshold', { threshold: 0.4 }), JobError);
});

test('the strategy and its statistics go into the job manifest; margins are logits of p_chosen', () => {
  const job = build({ engine: 'trl', stage: 'pm', options: { model: MODEL, softLabels: 'duplicate', copies: 4 } });
  assert.equal(job.manifest.softLabels?.strategy, 'duplicate');
  assert.equal(job.manifest.softLabels?.copies, 4);
  assert.equal(job.manifest.softLabels?.rows, 4 * 4);
  const m = JSON.parse(job.files.get('manifest.json') as string) as JobManifest;
  assert.deepEqual(m.softLabels, job.manifest.softLabels);
  const rows = (job.files.get('data/preference.jsonl') as string).trim().split('\n').map((l) => JSON.parse(l) as { p_chosen: number; margin: number });
  for (const r of rows) assert.equal(r.margin, marginOf(r.p_chosen));
  assert.equal(marginOf(0.5), 0);
  assert.ok(Math.abs(marginOf(0.7) - Math.log(0.7 / 0.3)) < 1e-6);
  assert.ok(marginOf(1) < 14 && marginOf(0) > -14, 'clamped');
  const noMargin = build({ engine: 'trl', stage: 'pm', options: { model: MODEL, softLabels: 'threshold', margin: false } });
  assert.ok(!(noMargin.files.get('data/preference.jsonl') as string).includes('"margin"'));
  assert.match(noMargin.files.get('config.yaml') as string, /soft_labels: "threshold"\nmargin: false\n/);
  assert.throws(() => build({ engine: 'openrlhf', stage: 'pm', options: { softLabels: 'soft' } }), /TRL runner/);
  assert.equal(build({ engine: 'trl', stage: 'sft', options: { model: MODEL } }).manifest.softLabels, null);
});

test('OpenRLHF flag tables: flat up to 0.10.1, dotted after, the same options in both', () => {
  assert.equal(flagTableFor('0.10.1').table, 'flat');
  assert.equal(flagTableFor('0.9.8').table, 'flat');
  assert.equal(flagTableFor('v0.10.4').table, 'dotted');
  assert.equal(flagTableFor('0.11.2').table, 'dotted');
  assert.equal(flagTableFor('0.10.2').table, 'dotted');
  assert.ok(flagTableFor('0.10.2').warning);
  assert.throws(() => flagTableFor('latest'), JobError);
  for (const [name, f] of Object.entries(OPENRLHF_FLAGS)) {
    if (f.flat !== null) assert.match(f.flat, /^--[a-z_]+$/, name);
    if (f.dotted !== null) assert.match(f.dotted, /^--[a-z_]+(\.[a-z_]+)+$/, name);
  }
  const flat = build({ engine: 'openrlhf', stage: 'pm', options: { model: MODEL, openrlhfVersion: '0.10.1' } });
  const dotted = build({ engine: 'openrlhf', stage: 'pm', options: { model: MODEL } });
  assert.equal(flat.manifest.launch.flagTable, 'flat');
  assert.equal(dotted.manifest.launch.flagTable, 'dotted');
  assert.equal(dotted.manifest.engineVersion, '0.11.2');
  assert.deepEqual(flat.manifest.pins.packages, ['openrlhf==0.10.1']);
  const fa = flat.manifest.launch.argv;
  const da = dotted.manifest.launch.argv;
  assert.deepEqual(fa.slice(0, 3), ['deepspeed', '--module', 'openrlhf.cli.train_rm']);
  for (const f of ['--pretrain', '--dataset', '--chosen_key', '--rejected_key', '--prompt_key', '--margin_loss', '--learning_rate', '--save_path']) assert.ok(fa.includes(f), f);
  for (const f of ['--model.model_name_or_path', '--data.dataset', '--data.chosen_key', '--data.rejected_key', '--data.prompt_key', '--model.margin_loss_enable', '--adam.lr', '--ckpt.output_dir']) assert.ok(da.includes(f), f);
  assert.ok(!da.some((a) => /^--[a-z_]+$/.test(a) && a !== '--module'), 'no flat flag in the dotted command');
  assert.ok(!fa.some((a) => a.startsWith('--') && a.includes('.')), 'no dotted flag in the flat command');
  assert.equal(fa.length, da.length, 'the same options in both');
  assert.match(flat.files.get('run.sh') as string, /# OpenRLHF 0\.10\.1, flat flags\n/);
  assert.deepEqual(JSON.parse(dotted.files.get('argv.json') as string), da);
  // PPO: the flat table splits prompt and generation lengths, the dotted one has a total
  const ppoFlat = build({ engine: 'openrlhf', stage: 'ppo', options: { model: MODEL, rewardModel: 'rm', openrlhfVersion: '0.10.1' } }).manifest.launch.argv;
  const ppoDotted = build({ engine: 'openrlhf', stage: 'ppo', options: { model: MODEL, rewardModel: 'rm' } }).manifest.launch.argv;
  assert.equal(ppoFlat[ppoFlat.indexOf('--prompt_max_len') + 1], '256');
  assert.equal(ppoFlat[ppoFlat.indexOf('--generate_max_len') + 1], '48');
  assert.equal(ppoDotted[ppoDotted.indexOf('--data.max_len') + 1], String(256 + 48));
  assert.equal(ppoDotted[ppoDotted.indexOf('--rollout.max_new_tokens') + 1], '48');
  assert.equal(ppoDotted[ppoDotted.indexOf('--actor.adam.lr') + 1], '0.00003');
  assert.deepEqual(ppoDotted.slice(0, 3), ['python3', '-m', 'openrlhf.cli.train_ppo_ray']);
});

test('PPO prompts in each engine\'s format; TRL PPO config maps the run\'s PPO settings', () => {
  const trl = build({ engine: 'trl', stage: 'ppo', options: { model: MODEL, rewardModel: 'rm' } });
  const orl = build({ engine: 'openrlhf', stage: 'ppo', options: { model: MODEL, rewardModel: 'rm' } });
  const t = (trl.files.get('data/prompts.jsonl') as string).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const o = (orl.files.get('data/prompts.jsonl') as string).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(t.length > 0 && t.length === o.length);
  assert.deepEqual(t[0]!['prompt'], o[0]!['input']);
  assert.equal(new Set(t.map((r) => JSON.stringify(r['prompt']))).size, t.length, 'each prompt once');
  const yaml = trl.files.get('config.yaml') as string;
  assert.ok(yaml.includes('\nconfig_class: "PPOConfig"\n'));
  for (const line of ['total_episodes: 256', 'num_mini_batches: 2', 'per_device_train_batch_size: 8', 'num_ppo_epochs: 2', 'kl_coef: 0.1', 'response_length: 48', 'learning_rate: 0.00003', 'reward_model_path: "rm"']) assert.ok(yaml.includes(`  ${line}\n`), line);
  const given = buildJob({ ...fixtureRun(), hashing: nodeHashing, engine: 'trl', stage: 'ppo', prompts: [{ prompt: 'a' }, { id: 'x', prompt: 'b' }, { prompt: 'a' }], options: { model: MODEL, rewardModel: 'rm' } });
  assert.equal(given.files.get('data/prompts.jsonl'), '{"prompt":[{"role":"user","content":"a"}]}\n{"prompt":[{"role":"user","content":"b"}],"id":"x"}\n');
  assert.ok(build({ engine: 'trl', stage: 'ppo', options: { model: MODEL } }).warnings.some((w) => /reward model/.test(w)));
});

test('YAML numbers read back as numbers in YAML 1.1; shell quoting survives sh', () => {
  assert.equal(yamlNumber(3e-5), '0.00003');
  assert.equal(yamlNumber(1e-7), '1.0e-7');
  assert.equal(yamlNumber(2.5e-8), '2.5e-8');
  assert.equal(yamlNumber(40), '40');
  assert.equal(toYaml({ a: { b: [1, 'x'], c: [] }, 'odd key': 'q"' }), 'a:\n  b:\n    - 1\n    - "x"\n  c: []\n"odd key": "q\\""\n');
  const args = ['plain', 'it\'s', 'a b', '$HOME', '', '--x.y=1'];
  const line = args.map(shellQuote).join(' ');
  const r = spawnSync('sh', ['-c', `for a in ${line}; do printf '%s\\n' "[$a]"; done`], { encoding: 'utf8' });
  if (r.error) return;
  assert.equal(r.stdout, `${args.map((a) => `[${a}]`).join('\n')}\n`);
});

test('runner.py is written into TRL jobs when given, with its hash', () => {
  const text = fs.readFileSync(runnerPath, 'utf8');
  const job = build({ engine: 'trl', stage: 'pm', options: { model: MODEL, runner: text } });
  assert.equal(job.files.get('runner.py'), text);
  assert.equal(job.manifest.files['runner.py']!.sha256, createHash('sha256').update(text).digest('hex'));
  assert.ok(!job.warnings.some((w) => /runner\.py/.test(w)));
  assert.deepEqual(job.manifest.launch.argv, ['python3', 'runner.py', '.']);
});

const python = ((): string | undefined => {
  const r = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'python3' : undefined;
})();

test('runner.py byte-compiles', { skip: python ? false : 'no python3 on PATH' }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-runner-'));
  try {
    const r = spawnSync(python!, ['-c', 'import py_compile,sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)', runnerPath, path.join(tmp, 'runner.pyc')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('runner.py reads the exported JSONL without trl (data helpers, metric lines)', { skip: python ? false : 'no python3 on PATH' }, () => {
  const script = `
import json, sys, importlib.util
spec = importlib.util.spec_from_file_location("runner", sys.argv[1])
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)
assert "trl" not in sys.modules and "transformers" not in sys.modules and "torch" not in sys.modules
g = sys.argv[2]
out = {
  "sft": runner.load_rows(g + "/trl-sft/data/sft.jsonl", "sft"),
  "pm_soft": runner.load_rows(g + "/trl-pm/data/preference.jsonl", "pm", "soft", True),
  "pm_margin": runner.load_rows(g + "/openrlhf-pm-dotted/data/preference.jsonl", "pm", "duplicate", True),
  "ppo": runner.load_rows(g + "/trl-ppo/data/prompts.jsonl", "ppo"),
  "metric": runner.metric_line("pm", 3, {"loss": 0.5, "epoch": 1.0, "bad": float("nan"), "note": "x", "step": 9}),
}
try:
  import yaml
  cfg = runner.load_config(g + "/trl-ppo")
  out["yaml"] = {k: [type(v).__name__, v] for k, v in cfg["args"].items() if k in ("learning_rate", "kl_coef", "total_episodes", "report_to")}
  import dataclasses
  @dataclasses.dataclass
  class Fake:
    learning_rate: float = 0.0
  logged = []
  out["filtered"] = [runner.config_args(Fake, {"learning_rate": 0.1, "nope": 1}, logged.append).learning_rate, logged]
except ImportError:
  out["yaml"] = None
try:
  runner.load_rows(g + "/trl-ppo/data/prompts.jsonl", "pm")
  out["error"] = None
except runner.JobFormatError as e:
  out["error"] = str(e)
print(json.dumps(out))
`;
  const r = spawnSync(python!, ['-c', script, runnerPath, goldenDir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  const sft = out['sft'] as Record<string, unknown>[];
  assert.equal(sft.length, 3);
  assert.deepEqual(Object.keys(sft[0]!), ['prompt', 'completion']);
  const soft = out['pm_soft'] as { margin: number; prompt: unknown; chosen: unknown }[];
  const trlPm = build({ engine: 'trl', stage: 'pm', options: { model: MODEL } });
  const exported = (trlPm.files.get('data/preference.jsonl') as string).trim().split('\n').map((l) => JSON.parse(l) as { p_chosen: number; prompt: unknown });
  assert.deepEqual(soft.map((x) => x.margin), exported.map((x) => x.p_chosen), 'soft: p_chosen travels in margin');
  assert.deepEqual(soft[0]!.prompt, exported[0]!.prompt);
  const hard = out['pm_margin'] as { margin: number }[];
  assert.equal(hard.length, 40, "4 pairs kept after review × 10 copies");
  assert.ok(hard.some((x) => x.margin < 0), 'reversed copies carry negative margins');
  assert.equal((out['ppo'] as unknown[]).length, (build({ engine: 'trl', stage: 'ppo', options: { model: MODEL, rewardModel: 'rm' } }).files.get('data/prompts.jsonl') as string).trim().split('\n').length);
  assert.equal(out['metric'], '@@cai-metric {"step": 3, "stage": "pm", "epoch": 1.0, "loss": 0.5}');
  assert.match(String(out['error']), /no chosen/);
  if (out['yaml'] !== null) {
    assert.deepEqual(out['yaml'], { learning_rate: ['float', 0.00003], kl_coef: ['float', 0.1], total_episodes: ['int', 256], report_to: ['list', ['tensorboard']] }, 'PyYAML reads the numbers as numbers');
    assert.deepEqual(out['filtered'], [0.1, ['config.yaml: Fake does not know nope; left out']]);
  }
});

test('cai export-job writes the job folder with the runner, its hashes and the golden data; bad input is one line', () => {
  const cli = path.join(root, 'dist', 'cli.js');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-export-job-'));
  const out = path.join(tmp, 'job');
  const cai = (args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  };
  const ok = cai(['export-job', runDir, '--engine', 'trl', '--stage', 'pm', '--model', MODEL, '-o', out]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /trl pm job written to .*: \d+ rows in data\/preference\.jsonl \(soft labels: soft\); start it with run\.sh/);
  const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { files: Record<string, { sha256: string; bytes: number }> };
  assert.ok('runner.py' in m.files, 'the runner travels with the job');
  for (const [rel, f] of Object.entries(m.files)) {
    const b = fs.readFileSync(path.join(out, rel));
    assert.equal(f.bytes, b.length, rel);
    assert.equal(f.sha256, createHash('sha256').update(b).digest('hex'), rel);
  }
  assert.equal(fs.readFileSync(path.join(out, 'data', 'preference.jsonl'), 'utf8'), fs.readFileSync(path.join(goldenDir, 'trl-pm', 'data', 'preference.jsonl'), 'utf8'));
  assert.ok((fs.statSync(path.join(out, 'run.sh')).mode & 0o111) !== 0, 'run.sh is executable');
  const again = cai(['export-job', runDir, '--engine', 'trl', '--stage', 'pm', '-o', out]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /exists and is not empty \(use --force/);
  const engine = cai(['export-job', runDir, '--engine', 'deepspeed', '--stage', 'pm', '-o', path.join(tmp, 'x')]);
  assert.equal(engine.status, 2);
  assert.match(engine.stderr, /--engine must be trl or openrlhf/);
  const notRun = cai(['export-job', tmp, '--engine', 'trl', '--stage', 'sft', '-o', path.join(tmp, 'y')]);
  assert.equal(notRun.status, 2);
  assert.match(notRun.stderr, /not a run directory \(no manifest\.json\)/);
  fs.rmSync(tmp, { recursive: true, force: true });
});
