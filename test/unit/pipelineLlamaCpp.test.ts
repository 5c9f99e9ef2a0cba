// The llama-cpp provider inside `cai run` and `cai eval hhh`: a model exported to GGUF by
// `cai export-gguf` critiques, revises and labels in a run, with exact answer probabilities.
// Skips (one line) without node-llama-cpp unless CAI_REQUIRE_LLAMA_CPP=1.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { caiSync, REPO, runWorkspace } from '../support/runs';
import { findNodeLlamaCpp } from '../../src/trainer/llamaCppProvider';

const root = REPO;
const installed = findNodeLlamaCpp() !== undefined;
const skip: string | false = installed || process.env.CAI_REQUIRE_LLAMA_CPP === '1' ? false : 'node-llama-cpp is not installed (npm install node-llama-cpp@3.21.1)';

const cai = (args: string[]): ReturnType<typeof caiSync> => caiSync(args);

describe('llama-cpp models in runs', { skip }, () => {
  it('critiques and labels with a GGUF model in cai run, and answers the HHH eval', () => {
    const dir = runWorkspace('cai-llama-');
    const exp = cai(['export-gguf', 'nano', '-o', path.join(dir, 'nano.gguf')]);
    assert.equal(exp.code, 0, exp.stderr);
    const file = path.join(dir, 'llama.run.yaml');
    fs.writeFileSync(file, [
      'name: llama', 'constitution: harmless-helpful.constitution.yaml', 'seed: 2',
      'models:', '  local: { provider: embedded, model: nano }', '  gguf: { provider: llama-cpp, model: nano.gguf, threads: 1 }',
      'roles:', '  policy: local', '  critic: gguf', '  feedback: gguf',
      'datasets:', '  redTeam: { path: data/red-team.jsonl, limit: 3 }',
      'stages:', '  critique: { rounds: 1, maxTokens: 8, fewShot: false }', '  sft: false', '  pairs: { maxTokens: 8 }',
      '  feedback: { fewShot: false }', '  pm: false', '  ppo: false', '  eval: false', '',
    ].join('\n'));
    const r = cai(['run', file, '--out', path.join(dir, 'runs'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const run = (JSON.parse(r.stdout) as { dir: string }).dir;
    const pairs = fs.readFileSync(path.join(run, 'pairs.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { label_method: string; p_a: number });
    assert.equal(pairs.length, 3);
    for (const p of pairs) {
      assert.equal(p.label_method, 'exact');
      assert.ok(p.p_a > 0 && p.p_a < 1);
    }
    const revisions = fs.readFileSync(path.join(run, 'revisions.jsonl'), 'utf8').split('\n').filter(Boolean);
    assert.equal(revisions.length, 3);

    fs.writeFileSync(path.join(dir, 'missing.run.yaml'), fs.readFileSync(file, 'utf8').replace('model: nano.gguf', 'model: absent.gguf'));
    const bad = cai(['run', path.join(dir, 'missing.run.yaml'), '--out', path.join(dir, 'runs-bad')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /models\.gguf\.model: no such GGUF file \S*absent\.gguf/);
    assert.equal(fs.existsSync(path.join(dir, 'runs-bad')), false);

    const hhh = cai(['eval', 'hhh', path.join(root, 'examples', 'data', 'hhh.jsonl'), '--model', path.join(dir, 'nano.gguf'), '--json']);
    assert.equal(hhh.code, 0, hhh.stderr);
    const rep = JSON.parse(hhh.stdout) as { items: number; method: string };
    assert.equal(rep.items, 8);
    assert.equal(rep.method, 'exact');
  });
});
