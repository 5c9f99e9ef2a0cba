// The extension's run supervision without the editor (src/node/runSession.ts): a run that
// completes; a trainer killed mid-run is restarted on the same run directory and finishes with
// every record once; a bad run configuration fails at once, is not retried and writes nothing;
// a stop ends with a checkpoint and a resume finishes the run.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { RunSession, type SessionState } from '../../src/node/runSession';
import { REPO, runWorkspace } from '../support/runs';

const TRAINER = path.join(REPO, 'dist', 'trainer.js');

function ids(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
}

function workspace(prompts: number, extra: string[] = [], maxTokens = 8): { dir: string; file: string } {
  const dir = runWorkspace('cai-session-');
  const file = path.join(dir, 's.run.yaml');
  fs.writeFileSync(file, [
    'name: s', 'constitution: harmless-helpful.constitution.yaml', 'seed: 3', 'out: runs/',
    'models:', '  m: { provider: embedded, model: nano }', 'roles:', '  policy: m',
    'datasets:', `  redTeam: { path: data/red-team.jsonl, limit: ${prompts} }`,
    'stages:', `  critique: { rounds: 1, maxTokens: ${maxTokens}, fewShot: false }`, '  sft: false', '  pairs: false', '  feedback: false', '  pm: false', '  ppo: false', '  eval: false',
    'budgets: { concurrency: 1 }', ...extra, '',
  ].join('\n'));
  return { dir, file };
}

const base = { trainerEntry: TRAINER, backend: 'cpu' as const, studioVersion: 'test', stopTimeoutMs: 20_000 };

describe('RunSession', { timeout: 240_000 }, () => {
  it('runs the pipeline to the end and reports the run directory first', async () => {
    const { file } = workspace(3);
    const states: SessionState[] = [];
    let dirEvent: string | undefined;
    let progress = 0;
    const s = new RunSession({ ...base, runFile: file }, { onState: (st) => states.push(st), onRunDir: (d) => (dirEvent = d), onProgress: () => progress++ });
    const end = await s.whenDone();
    assert.equal(end.outcome, 'completed', JSON.stringify(end));
    assert.ok(end.runDir && fs.existsSync(path.join(end.runDir, 'manifest.json')));
    assert.equal(dirEvent, end.runDir, 'the run directory was announced before the end');
    assert.ok(progress >= 3, 'progress arrived');
    assert.equal(ids(path.join(end.runDir, 'revisions.jsonl')).length, 3);
    assert.deepEqual(states, ['running', 'completed']);
    assert.equal(end.restarts, 0);
  });

  it('restarts a killed trainer on the same run directory; every record is written once', async () => {
    const { file } = workspace(8);
    let killed = false;
    const states: SessionState[] = [];
    const s: RunSession = new RunSession({ ...base, runFile: file, maxRestarts: 2 }, {
      onState: (st) => states.push(st),
      onProgress: (p) => {
        if (!killed && p.stage === 'critique' && p.step >= 3) {
          killed = true;
          s.kill();
        }
      },
    });
    const end = await s.whenDone();
    assert.ok(killed, 'the trainer was killed mid-run');
    assert.equal(end.outcome, 'completed', JSON.stringify(end));
    assert.equal(end.restarts, 1);
    assert.ok(states.includes('restarting'));
    const recs = ids(path.join(end.runDir!, 'revisions.jsonl'));
    assert.equal(recs.length, 8);
    assert.equal(new Set(recs).size, 8, 'no record twice');
    const events = fs.readFileSync(path.join(end.runDir!, 'events.jsonl'), 'utf8');
    assert.match(events, /"kind":"resume"/);
    assert.equal(fs.readdirSync(path.dirname(end.runDir!)).length, 1, 'the restart resumed the run; it did not start another');
  });

  it('fails a bad run configuration at once, without retrying or writing a run', async () => {
    const { dir, file } = workspace(2, ['stages2: {}']);
    const states: SessionState[] = [];
    const s = new RunSession({ ...base, runFile: file, maxRestarts: 3 }, { onState: (st) => states.push(st) });
    const end = await s.whenDone();
    assert.equal(end.outcome, 'failed');
    assert.equal(end.error?.code, 'config');
    assert.match(end.error?.message ?? '', /s\.run\.yaml:\d+:\d+: .*stages2/);
    assert.equal(end.restarts, 0);
    assert.equal(end.resumable, false);
    assert.ok(!states.includes('restarting'));
    assert.equal(fs.existsSync(path.join(dir, 'runs')), false, 'nothing was written');
  });

  it('stops with a checkpoint; a resumed session finishes the same run', async () => {
    const { file } = workspace(8, [], 48);
    let asked = false;
    const s: RunSession = new RunSession({ ...base, runFile: file }, {
      onProgress: (p) => {
        if (!asked && p.stage === 'critique' && p.step >= 1) {
          asked = true;
          void s.stop();
        }
      },
    });
    const end = await s.whenDone();
    assert.equal(end.outcome, 'stopped', JSON.stringify(end));
    assert.ok(end.resumable && end.runDir);
    const before = ids(path.join(end.runDir, 'revisions.jsonl')).length;
    assert.ok(before >= 2 && before < 8, `stopped part-way (${before} of 8)`);
    const r = new RunSession({ ...base, runFile: file, resume: end.runDir });
    const end2 = await r.whenDone();
    assert.equal(end2.outcome, 'completed', JSON.stringify(end2));
    assert.equal(end2.runDir, end.runDir);
    const recs = ids(path.join(end.runDir, 'revisions.jsonl'));
    assert.equal(recs.length, 8);
    assert.equal(new Set(recs).size, 8);
  });
});
