import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { parse } from 'yaml';
import type { Diagnostic } from '../../src/core/constitution/diagnostics.js';
import { joinPath, parseRunConfig, resolveRunPaths, runConfigFieldList, runConfigJsonSchema, STAGE_NAMES, type RunConfig } from '../../src/core/runs/config.js';
import { rangeOf } from '../support/ranges';

const REPO = path.resolve(__dirname, '..', '..');
const SMOKE = path.join(REPO, 'examples', 'smoke.run.yaml');


const BASE = `name: t
constitution: c.constitution.yaml
models:
  pol:
    provider: embedded
    model: tiny
roles:
  policy: pol
datasets:
  redTeam: { path: red.jsonl }
`;

/** The one diagnostic a text produces (fails on zero or several). */
function only(text: string): Diagnostic {
  const r = parseRunConfig(text, 'x.run.yaml');
  assert.equal(r.diagnostics.length, 1, r.diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n'));
  return r.diagnostics[0] as Diagnostic;
}

describe('run configuration', () => {
  it('parses the smoke example with no diagnostics', () => {
    const r = parseRunConfig(fs.readFileSync(SMOKE, 'utf8'), SMOKE);
    assert.deepEqual(r.diagnostics, []);
    const c = r.config as RunConfig;
    assert.equal(c.name, 'smoke');
    for (const role of ['policy', 'critic', 'feedback', 'preferenceModel'] as const) assert.equal(c.models[c.roles[role]]?.model, 'tiny');
    // Every stage is on: the smoke run goes through the whole pipeline.
    for (const s of STAGE_NAMES) assert.equal(c.stages[s].enabled, true, s);
    assert.equal(c.stages.eval.hhh, 'data/hhh.jsonl');
    assert.deepEqual(c.stages.sft.schedule, { kind: 'linear-warmup', warmupSteps: 2 });
  });

  it('fills defaults', () => {
    const r = parseRunConfig(BASE, 'x.run.yaml');
    assert.deepEqual(r.diagnostics, []);
    const c = r.config as RunConfig;
    assert.equal(c.seed, 0);
    assert.equal(c.backend, 'auto');
    assert.equal(c.out, 'runs/');
    assert.deepEqual(c.roles, { policy: 'pol', critic: 'pol', feedback: 'pol', preferenceModel: 'pol' });
    assert.deepEqual(c.stages.critique, { enabled: true, rounds: 4, temperature: 1, direct: false, fewShot: true, maxTokens: 256 });
    assert.deepEqual(c.stages.feedback.clamp, [0.4, 0.6]);
    assert.equal(c.stages.feedback.bothOrders, true);
    assert.equal(c.stages.feedback.selfConsistency, 1);
    assert.deepEqual(c.stages.sft.schedule, { kind: 'constant' });
    assert.equal(c.stages.pairs.samplesPerPrompt, 2);
    const ppo = c.stages.ppo;
    assert.deepEqual([ppo.epochs, ppo.klCoef, ppo.adaptiveKl, ppo.cliprange, ppo.cliprangeValue, ppo.vfCoef, ppo.gamma, ppo.lam], [4, 0.05, false, 0.2, 0.2, 0.1, 1, 0.95]);
    assert.equal(c.budgets.concurrency, 4);
    assert.equal(c.budgets.maxRequests, undefined);
  });

  it('skips a stage written as false or with enabled: false, keeping its defaults', () => {
    const r = parseRunConfig(`${BASE}stages:\n  ppo: false\n  pm: { enabled: false, steps: 3 }\n`, 'x.run.yaml');
    assert.deepEqual(r.diagnostics, []);
    const c = r.config as RunConfig;
    assert.equal(c.stages.ppo.enabled, false);
    assert.equal(c.stages.ppo.epochs, 4);
    assert.equal(c.stages.pm.enabled, false);
    assert.equal(c.stages.pm.steps, 3);
    assert.equal(c.stages.sft.enabled, true);
  });

  it('warns about an unknown key with a suggestion, at the key', () => {
    const text = `${BASE}stages:\n  critique:\n    rouds: 2\n`;
    const d = only(text);
    assert.equal(d.code, 'unknown-key');
    assert.equal(d.severity, 'warning');
    assert.deepEqual(d.range, rangeOf(text, 'rouds'));
    assert.match(d.message, /`stages\.critique\.rouds`/);
    assert.match(d.message, /Did you mean 'rounds'\?/);
    assert.deepEqual(d.fixes?.[0]?.edits[0], { range: rangeOf(text, 'rouds'), newText: 'rounds' });
    // a warning leaves the configuration usable
    assert.ok(parseRunConfig(text, 'x').config);
  });

  it('reports a wrong type at the value, naming the field path', () => {
    const text = `${BASE}stages:\n  feedback:\n    bothOrders: yes\n`;
    const d = only(text);
    assert.equal(d.code, 'wrong-type');
    assert.deepEqual(d.range, rangeOf(text, 'yes'));
    assert.match(d.message, /`stages\.feedback\.bothOrders` must be true or false/);
    assert.equal(parseRunConfig(text, 'x').config, undefined);
  });

  it('reports an out-of-range number inside a list with its index', () => {
    const text = `${BASE}stages:\n  feedback:\n    clamp: [0.4, 1.5]\n`;
    const d = only(text);
    assert.equal(d.code, 'invalid-value');
    assert.deepEqual(d.range, rangeOf(text, '1.5'));
    assert.match(d.message, /`stages\.feedback\.clamp\[1\]` must be between 0 and 1 \(got 1\.5\)/);
  });

  it('checks integers, exclusive minimums and enums', () => {
    let text = `${BASE}stages:\n  ppo: { epochs: 2.5 }\n`;
    assert.match(only(text).message, /`stages\.ppo\.epochs` must be a whole number/);
    text = `${BASE}stages:\n  sft: { lr: 0 }\n`;
    assert.match(only(text).message, /`stages\.sft\.lr` must be greater than 0 and at most 1/);
    text = `${BASE}backend: gpu\n`;
    const d = only(text);
    assert.deepEqual(d.range, rangeOf(text, 'gpu', 'backend'));
    assert.match(d.message, /`backend` must be one of auto, tfjs-node-gpu, webgpu, tfjs-node, wasm, cpu \(got 'gpu'\)/);
  });

  it('reports a missing required field at the entry that lacks it', () => {
    const text = BASE.replace('    model: tiny\n', '');
    const d = only(text);
    assert.equal(d.code, 'missing-field');
    assert.deepEqual(d.range, rangeOf(text, 'pol', 'models'));
    assert.match(d.message, /`models\.pol\.model` is missing/);
    const noConstitution = BASE.replace('constitution: c.constitution.yaml\n', '');
    const d2 = only(noConstitution);
    assert.equal(d2.code, 'missing-field');
    assert.match(d2.message, /`constitution` is missing/);
    assert.deepEqual(d2.range, rangeOf(noConstitution, 'name'));
  });

  it('reports a role naming an unknown model at the value, with a suggestion', () => {
    const text = BASE.replace('  policy: pol\n', '  policy: pol\n  critic: poll\n');
    const d = only(text);
    assert.equal(d.code, 'unknown-reference');
    assert.deepEqual(d.range, rangeOf(text, 'poll'));
    assert.match(d.message, /`roles\.critic` names 'poll'/);
    assert.match(d.message, /Did you mean 'pol'\?/);
  });

  it('refuses a literal API key, in apiKeyEnv or as a key of its own', () => {
    const model = `  remote:\n    provider: openai\n    model: gpt-x\n    baseUrl: http://127.0.0.1:8000/v1\n`;
    let text = BASE.replace('roles:', `${model}    apiKeyEnv: sk-proj-4f9XqL2mN8vB1cZ7\nroles:`);
    let d = only(text);
    assert.equal(d.code, 'invalid-value');
    assert.deepEqual(d.range, rangeOf(text, 'sk-proj-4f9XqL2mN8vB1cZ7'));
    assert.match(d.message, /`models\.remote\.apiKeyEnv` looks like an API key itself/);
    text = BASE.replace('roles:', `${model}    apiKey: abc\nroles:`);
    d = only(text);
    assert.deepEqual(d.range, rangeOf(text, 'apiKey'));
    assert.match(d.message, /`models\.remote\.apiKey`: Never write an API key/);
    text = BASE.replace('roles:', `${model}    apiKeyEnv: OPENAI_API_KEY\nroles:`);
    const ok = parseRunConfig(text, 'x');
    assert.deepEqual(ok.diagnostics, []);
    assert.equal(ok.config?.models.remote?.api, 'completions');
  });

  it('reports a bad schedule with the message of parseSchedule, at the schedule', () => {
    const text = `${BASE}stages:\n  sft:\n    schedule: { kind: cosine, warmupSteps: 5, totalSteps: 2 }\n`;
    const d = only(text);
    assert.equal(d.code, 'invalid-value');
    assert.deepEqual(d.range, rangeOf(text, '{ kind: cosine, warmupSteps: 5, totalSteps: 2 }'));
    assert.match(d.message, /`stages\.sft\.schedule\.totalSteps` \(2\) must be greater than/);
    assert.match(only(`${BASE}stages:\n  sft: { schedule: exponential }\n`).message, /`stages\.sft\.schedule`/);
  });

  it('checks what needs more than one field', () => {
    assert.match(only(`${BASE}stages:\n  ppo: { batchSize: 6, minibatches: 4 }\n`).message, /`stages\.ppo\.minibatches` \(4\) must divide/);
    assert.match(only(`${BASE}stages:\n  feedback: { clamp: [0.7, 0.3] }\n`).message, /low < high/);
    assert.match(only(`${BASE}stages:\n  pm: { pmpSteps: 5 }\n`).message, /`datasets\.pmp` is not set/);
    assert.match(only(`${BASE}stages:\n  sft: { seqLen: 512 }\n`).message, /longer than the context/);
    assert.match(only(BASE.replace('model: tiny', 'model: x.bin').replace('embedded', 'llama-cpp')).message, /\.gguf/);
    assert.match(only(BASE.replace('  redTeam: { path: red.jsonl }\n', '  redTeam: { path: red.jsonl, format: qa-votes }\n')).message, /`datasets\.redTeam\.format` must be one of prompts, hh/);
    const noRed = only(BASE.replace('  redTeam: { path: red.jsonl }\n', ''));
    assert.equal(noRed.code, 'missing-field');
    assert.match(noRed.message, /`datasets\.redTeam` is missing/);
    const preset = only(BASE.replace('model: tiny', 'model: tinny'));
    assert.equal(preset.severity, 'warning');
    assert.match(preset.message, /Did you mean 'tiny'\?/);
  });

  it('reports YAML errors and an empty file', () => {
    assert.equal(only('').code, 'missing-field');
    assert.equal(only('- a\n- b\n').code, 'wrong-type');
    assert.ok(parseRunConfig('name: [\n', 'x').diagnostics.some((d) => d.code === 'yaml-syntax'));
  });

  it('resolves paths against the run file folder', () => {
    const c = parseRunConfig(fs.readFileSync(SMOKE, 'utf8'), SMOKE).config as RunConfig;
    const p = resolveRunPaths(c, '/w/examples');
    assert.equal(p.constitution, '/w/examples/harmless-helpful.constitution.yaml');
    assert.equal(p.datasets.redTeam, '/w/examples/data/red-team.jsonl');
    assert.equal(p.out, '/w/examples/runs/');
    assert.deepEqual(p.models, {});
    assert.equal(joinPath('/a/b', '../c/./d'), '/a/c/d');
    assert.equal(joinPath('C:\\w\\x', '..\\y/z.jsonl'), 'C:\\w\\y\\z.jsonl');
    assert.equal(joinPath('rel', '../../up'), '../up');
    assert.equal(joinPath('/a', '/abs/file'), '/abs/file');
    assert.equal(resolveRunPaths(c, 'D:\\runs', (d, r) => `${d}|${r}`).constitution, 'D:\\runs|harmless-helpful.constitution.yaml');
  });

  it('ships the JSON Schema generated from RUN_CONFIG_FIELDS (scripts/gen-run-schema.ts)', () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', 'run.schema.json'), 'utf8'));
    assert.deepEqual(shipped, runConfigJsonSchema());
  });

  it('the JSON Schema accepts the smoke example and rejects what the parser rejects', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(runConfigJsonSchema());
    const smoke = parse(fs.readFileSync(SMOKE, 'utf8'));
    assert.ok(validate(smoke), JSON.stringify(validate.errors));
    const base = parse(BASE) as Record<string, unknown>;
    assert.ok(validate(base), JSON.stringify(validate.errors));
    const bad = (doc: unknown) => assert.equal(validate(doc), false, JSON.stringify(doc));
    bad({ ...base, backend: 'gpu' });
    bad({ ...base, stages: { feedback: { clamp: [0.4, 1.5] } } });
    bad({ ...base, stages: { sft: { schedule: { kind: 'cosine', warmupSteps: 1 } } } });
    bad({ ...base, models: { pol: { provider: 'openai', model: 'm', apiKeyEnv: 'has spaces' } } });
    bad({ ...base, stages: { critique: { rouds: 2 } } });
    assert.ok(validate({ ...base, stages: { ppo: false } }));
  });

  it('documents every field in docs/run-config.md', () => {
    const doc = fs.readFileSync(path.join(REPO, 'docs', 'run-config.md'), 'utf8');
    for (const f of runConfigFieldList()) assert.ok(doc.includes(`\`${f.path}\``), `docs/run-config.md lists ${f.path}`);
  });
});
