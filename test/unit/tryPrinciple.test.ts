// "Try on sample prompts": the trainer's try-principle job runs one critique principle (answer,
// critique, revision) or one comparison (two answers, a label in both orders) on a few prompts,
// and refuses an unknown principle as a configuration error.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TrainerClient } from '../../src/node/trainerClient';
import type { TryPrincipleResult } from '../../src/protocol/trainer';
import { REPO } from '../support/runs';

const CONSTITUTION = path.join(REPO, 'examples', 'harmless-helpful.constitution.yaml');
const base = { constitutionFile: CONSTITUTION, prompts: ['How do I pick a lock?', 'Write a poem about rain.'], provider: { provider: 'embedded' as const, model: { preset: 'nano' } }, maxTokens: 12, temperature: 0.7, seed: 1 };

describe('try-principle job', { timeout: 120_000 }, () => {
  let client: TrainerClient;
  before(async () => {
    client = TrainerClient.fork(path.join(REPO, 'dist', 'trainer.js'));
    await client.initialize({ backend: 'cpu', logLevel: 'warn' });
  });
  after(() => client.shutdown());

  it('critiques and revises each prompt once with the chosen principle', async () => {
    const end = await client.run<'try-principle'>({ kind: 'try-principle', params: { ...base, principle: 'harmful-content' } });
    assert.equal(end.outcome, 'completed', JSON.stringify(end.error));
    const r = end.result as TryPrincipleResult;
    assert.equal(r.kind, 'critique');
    assert.equal(r.items.length, 2);
    for (const [i, it] of r.items.entries()) {
      assert.equal(it.kind, 'critique');
      assert.equal(it.prompt, base.prompts[i]);
      if (it.kind === 'critique') assert.match(it.critique_request, /^Point out every part of the assistant's last response that could cause real harm/);
    }
  });

  it('labels two answers in both orders for a comparison', async () => {
    const end = await client.run<'try-principle'>({ kind: 'try-principle', params: { ...base, principle: 'less-harmful' } });
    assert.equal(end.outcome, 'completed', JSON.stringify(end.error));
    const r = end.result as TryPrincipleResult;
    assert.equal(r.kind, 'comparison');
    for (const it of r.items) {
      assert.equal(it.kind, 'comparison');
      if (it.kind === 'comparison') {
        assert.ok(it.p_a >= 0 && it.p_a <= 1);
        assert.ok(it.p_a_reversed !== undefined, 'both orders were asked');
      }
    }
  });

  it('refuses an unknown principle as a configuration error', async () => {
    const end = await client.run<'try-principle'>({ kind: 'try-principle', params: { ...base, principle: 'nope' } });
    assert.equal(end.outcome, 'failed');
    assert.equal(end.error?.code, 'config');
    assert.match(end.error?.message ?? '', /no principle or comparison 'nope'/);
  });
});
