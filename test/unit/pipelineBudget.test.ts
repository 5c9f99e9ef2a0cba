// Budgets: a run that reaches `budgets.maxRequests` stops with one clear error naming the field,
// its stage left pending and the requests used kept in the manifest; resumed with a larger budget
// it finishes without repeating or losing a record, and the count carries over.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { caiSync, runWorkspace } from '../support/runs';

const cai = (args: string[]): ReturnType<typeof caiSync> => caiSync(args);

describe('run budgets', () => {
  it('stops at budgets.maxRequests, then resumes with a larger budget to the same records', () => {
    const dir = runWorkspace('cai-budget-');
    const config = (maxRequests: number): string => [
      'name: budget', 'constitution: harmless-helpful.constitution.yaml', 'seed: 3',
      'models:', '  tiny: { provider: embedded, model: tiny }', 'roles:', '  policy: tiny',
      'datasets:', '  redTeam: { path: data/red-team.jsonl, limit: 4 }',
      'stages:', '  critique: { rounds: 1, maxTokens: 8, fewShot: false }',
      '  sft: false', '  pairs: false', '  feedback: false', '  pm: false', '  ppo: false', '  eval: false',
      'budgets:', `  maxRequests: ${maxRequests}`, '  concurrency: 1', '',
    ].join('\n');
    const file = path.join(dir, 'budget.run.yaml');
    // Each prompt takes 3 requests (response, critique, revision): 7 allow two prompts, not three.
    fs.writeFileSync(file, config(7));
    const first = cai(['run', file, '--out', path.join(dir, 'runs'), '--json']);
    assert.notEqual(first.code, 0);
    const errors = first.stderr.split('\n').filter((l) => l.startsWith('cai:'));
    assert.equal(errors.length, 1, first.stderr);
    assert.match(errors[0]!, /budgets\.maxRequests is 7/);
    assert.match(errors[0]!, /--resume /);
    const runDir = path.join(dir, 'runs', fs.readdirSync(path.join(dir, 'runs'))[0]!);
    const manifest = (): { stages: Record<string, { status: string }>; budgetUsed: { requests: number } } => JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8'));
    assert.equal(manifest().stages['critique']!.status, 'pending');
    assert.equal(manifest().budgetUsed.requests, 7);
    const lines = (): { id: string }[] => fs.readFileSync(path.join(runDir, 'revisions.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string });
    assert.equal(lines().length, 2);
    const events = fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8');
    assert.match(events, /"kind":"budget-exhausted"/);

    fs.writeFileSync(file, config(100));
    const second = cai(['run', file, '--resume', runDir, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(manifest().stages['critique']!.status, 'done');
    const ids = lines().map((r) => r.id);
    assert.equal(ids.length, 4);
    assert.equal(new Set(ids).size, 4);
    // Both sessions together: the 7 of the first (the third prompt's answer, whose critique the
    // budget refused, is asked again) and 2 prompts × 3 requests.
    assert.equal(manifest().budgetUsed.requests, 13);
  });
});
