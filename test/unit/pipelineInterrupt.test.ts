// Ctrl-C during `cai run`: the terminal signals the whole process group (CLI and trainer); the
// run stops after the current step with a checkpoint, exits 130, and resumes to the same records.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { caiEnv, CLI, REPO, runWorkspace } from '../support/runs';

const env = caiEnv();
const root = REPO;

function records(file: string, stage?: string): { id: string; stage?: string; step?: number }[] {
  if (!fs.existsSync(file)) return [];
  const out: { id: string; stage?: string; step?: number }[] = [];
  for (const l of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    try {
      out.push(JSON.parse(l) as { id: string; stage?: string });
    } catch {
      // a line being written
    }
  }
  return out.filter((r) => stage === undefined || r.stage === stage);
}

describe('Ctrl-C during cai run', () => {
  it('stops PPO with a checkpoint, exits 130, and resumes without repeating an iteration', async () => {
    const dir = runWorkspace('cai-int-');
    const file = path.join(dir, 'int.run.yaml');
    fs.writeFileSync(file, [
      'name: int', 'constitution: harmless-helpful.constitution.yaml', 'seed: 9',
      'models:', '  m: { provider: embedded, model: nano }', 'roles:', '  policy: m',
      'datasets:', '  redTeam: { path: data/red-team.jsonl, limit: 4 }',
      'stages:', '  critique: { rounds: 1, maxTokens: 8, fewShot: false }', '  sft: { steps: 4, batchSize: 2, seqLen: 64 }',
      '  pairs: { maxTokens: 8 }', '  feedback: { fewShot: false }', '  pm: { steps: 4, batchSize: 2 }',
      '  ppo: { steps: 12, batchSize: 2, epochs: 1, maxNewTokens: 8 }', '  eval: false', '',
    ].join('\n'));
    const out = path.join(dir, 'runs');
    const child = spawn(process.execPath, [CLI, 'run', file, '--out', out, '--json'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let run = '';
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        const runs = fs.existsSync(out) ? fs.readdirSync(out) : [];
        if (runs[0]) run = path.join(out, runs[0]);
        if (run && records(path.join(run, 'metrics.jsonl'), 'ppo').length >= 2) {
          clearInterval(poll);
          // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
          process.kill(-child.pid!, 'SIGINT');
          resolve();
        } else if (Date.now() - started > 240_000 || child.exitCode !== null) {
          clearInterval(poll);
          reject(new Error(`PPO never got going: ${stderr}`));
        }
      }, 25);
    });
    const code = await exited;
    assert.equal(code, 130, stderr);
    assert.equal((JSON.parse(stdout) as { outcome: string }).outcome, 'stopped');
    assert.match(stderr, /stopping after the current step with a checkpoint/);
    const manifest = JSON.parse(fs.readFileSync(path.join(run, 'manifest.json'), 'utf8')) as { stages: Record<string, { status: string }> };
    assert.equal(manifest.stages['ppo']!.status, 'pending');
    const done = records(path.join(run, 'metrics.jsonl'), 'ppo').length;
    assert.ok(done >= 2 && done < 12, `${done} iterations before the stop`);
    const ckpts = fs.readdirSync(path.join(run, 'checkpoints', 'ppo')).filter((n) => n.startsWith('step-'));
    assert.ok(ckpts.includes(`step-${String(done).padStart(6, '0')}`), `checkpoint of iteration ${done}: ${ckpts.join(', ')}`);

    const r = spawnSync(process.execPath, [CLI, 'run', file, '--resume', run, '--json'], { cwd: root, env, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const steps = records(path.join(run, 'metrics.jsonl'), 'ppo').map((x) => x.step);
    assert.deepEqual(steps, Array.from({ length: 12 }, (_, i) => i + 1));
    const samples = records(path.join(run, 'samples.jsonl'), 'ppo');
    assert.equal(samples.length, 24);
    assert.equal(new Set(samples.map((s) => s.id)).size, 24);
  });
});
