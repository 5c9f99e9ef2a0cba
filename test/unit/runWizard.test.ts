// The run file the Start Run wizard writes (src/core/runs/wizard.ts) is a valid run
// configuration for every model choice and profile, names what was chosen, and runs.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseRunConfig } from '../../src/core/runs/config';
import { runFileText, runNameFrom, type WizardChoice, type WizardModel } from '../../src/core/runs/wizard';
import { prepareRun } from '../../src/trainer/pipeline';
import { REPO } from '../support/runs';

const world = { redTeam: 'cai-data/red-team.jsonl', helpfulness: 'cai-data/helpful.jsonl', pmp: 'cai-data/pmp.jsonl', helpfulnessPairs: 'cai-data/helpful-pairs.jsonl', evalPairs: 'cai-data/eval-pairs.jsonl', evalPrompts: 'cai-data/eval-prompts.jsonl', hhh: 'cai-data/hhh.jsonl' };
const models: WizardModel[] = [
  { kind: 'builtin' },
  { kind: 'folder', path: 'models/my model' },
  { kind: 'endpoint', baseUrl: 'http://127.0.0.1:8000/v1', model: 'qwen2.5:7b', api: 'chat', apiKeyEnv: 'OPENAI_API_KEY' },
  { kind: 'gguf', path: 'models/q.gguf' },
];

describe('Start Run wizard: run file', () => {
  it('names runs from constitution file names', () => {
    assert.equal(runNameFrom('harmless-helpful.constitution.yaml'), 'harmless-helpful');
    assert.equal(runNameFrom('my rules!.constitution.yml'), 'my-rules');
    assert.equal(runNameFrom('---'), 'run');
  });

  for (const model of models) {
    for (const profile of ['smoke', 'demo', 'full'] as const) {
      it(`is a valid run configuration: ${model.kind}, ${profile}`, () => {
        const c: WizardChoice = { name: 'x', constitution: '../my rules.constitution.yaml', model, data: world, profile, seed: 5, world: true };
        const { config, diagnostics } = parseRunConfig(runFileText(c), 'x.run.yaml');
        assert.deepEqual(diagnostics.filter((d) => d.severity === 'error'), []);
        assert.ok(config);
        assert.equal(config.constitution, '../my rules.constitution.yaml');
        assert.equal(config.seed, 5);
        assert.equal(config.models[config.roles.policy]?.provider, 'embedded', 'the policy is trained locally');
        if (model.kind === 'endpoint') {
          assert.equal(config.models[config.roles.feedback]?.provider, 'openai');
          assert.equal(config.models[config.roles.feedback]?.apiKeyEnv, 'OPENAI_API_KEY');
        }
        assert.equal(config.stages.eval.oracle, 'world');
        if (profile === 'smoke') assert.equal(config.datasets.redTeam?.limit, 16);
        if (profile === 'full') assert.equal(config.datasets.redTeam?.limit, undefined);
      });
    }
  }

  it('leaves out what the data does not have', () => {
    const { config, diagnostics } = parseRunConfig(runFileText({ name: 'y', constitution: 'c.constitution.yaml', model: { kind: 'builtin' }, data: { redTeam: 'p.jsonl' }, profile: 'smoke', seed: 1, world: false }), 'y.run.yaml');
    assert.deepEqual(diagnostics.filter((d) => d.severity === 'error' || d.severity === 'warning'), []);
    assert.ok(config);
    assert.equal(config.stages.eval.enabled, false);
    assert.equal(config.stages.pm.pmpSteps, 0);
    assert.equal(config.stages.sft.helpfulnessRatio, 0);
  });

  it('a smoke run file made for the built-in world passes the checks cai run makes before starting', () => {
    const dir = fs.mkdtempSync(path.join(REPO, '.cache', 'wizard-'));
    try {
      fs.cpSync(path.join(REPO, 'examples', 'world', 'data'), path.join(dir, 'cai-data'), { recursive: true });
      fs.copyFileSync(path.join(REPO, 'examples', 'harmless-helpful.constitution.yaml'), path.join(dir, 'h.constitution.yaml'));
      const file = path.join(dir, 'h.run.yaml');
      fs.writeFileSync(file, runFileText({ name: 'h', constitution: 'h.constitution.yaml', model: { kind: 'builtin' }, data: world, profile: 'smoke', seed: 1, world: true }));
      const { config, paths } = prepareRun(file);
      assert.equal(config.name, 'h');
      assert.ok(fs.existsSync(paths.datasets.redTeam!));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
