/**
 * `cai run` end to end on examples/smoke.run.yaml (the built-in tiny model in every role):
 * the run directory's contract, a SIGKILL in the middle of a stage followed by --resume (same
 * record ids as an uninterrupted run, no duplicates, every line parses), and bad configurations
 * refused before anything is written.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '../..');
const CLI = path.join(root, 'dist', 'cli.js');
const SMOKE = path.join(root, 'examples', 'smoke.run.yaml');
const env = { ...process.env, CAI_BACKEND: '' };

function cai(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: root, encoding: 'utf8', env, timeout: 600_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lines(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const FILES = ['revisions.jsonl', 'samples.jsonl', 'pairs.jsonl', 'metrics.jsonl', 'events.jsonl'];

describe('cai run', () => {
  let reference: string | undefined;

  it('runs the smoke configuration through every available stage and writes the run directory contract', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-run-'));
    const r = cai(['run', SMOKE, '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { outcome, dir } = JSON.parse(r.stdout) as { outcome: string; dir: string };
    assert.equal(outcome, 'completed');
    reference = dir;
    assert.match(path.basename(dir), /^smoke-\d{8}-\d{6}$/);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { stages: Record<string, { status: string }>; constitution: { sha256: string; snapshot: string }; backend: { used: string }; config: { seed: number } };
    for (const s of ['critique', 'sft', 'pairs', 'feedback', 'pm', 'ppo', 'eval']) assert.equal(manifest.stages[s]!.status, 'done', s);
    assert.match(manifest.constitution.sha256, /^[0-9a-f]{64}$/);
    assert.ok(manifest.constitution.snapshot.includes('principles:'));
    assert.ok(manifest.backend.used);
    const revisions = lines(path.join(dir, 'revisions.jsonl'));
    assert.equal(revisions.length, 8);
    for (const rev of revisions) assert.equal((rev['rounds'] as unknown[]).length, 2);
    const pairs = lines(path.join(dir, 'pairs.jsonl'));
    assert.equal(pairs.length, 8);
    for (const p of pairs) {
      for (const k of ['id', 'prompt', 'response_a', 'response_b', 'principle', 'p_a', 'p_a_forward', 'p_a_reversed', 'flipped', 'label_method']) assert.ok(k in p, `pairs.jsonl lacks ${k}`);
      assert.ok(Math.abs((p['p_a'] as number) - ((p['p_a_forward'] as number) + (p['p_a_reversed'] as number)) / 2) < 1e-12);
      assert.equal(p['label_method'], 'exact');
    }
    const metrics = lines(path.join(dir, 'metrics.jsonl'));
    assert.ok(metrics.some((m) => m['stage'] === 'sft' && typeof m['loss'] === 'number'));
    // PM: pretraining steps (with the LM loss on the better answer), then finetuning.
    const pm = metrics.filter((m) => m['stage'] === 'pm');
    assert.deepEqual(pm.map((m) => m['phase']), [...Array(4).fill('pmp'), ...Array(10).fill('finetune')]);
    for (const m of pm) assert.ok(Number.isFinite(m['loss']) && Number.isFinite(m['accuracy']) && Number.isFinite(m['margin']));
    assert.ok(pm.filter((m) => m['phase'] === 'pmp').every((m) => (m['lm_loss'] as number) > 0));
    assert.ok(pm.filter((m) => m['phase'] === 'finetune').every((m) => m['lm_loss'] === undefined));
    // The run's repository is recorded.
    const git = (JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { git?: { commit: string } }).git;
    if (fs.existsSync(path.join(root, '.git'))) assert.match(git?.commit ?? '', /^[0-9a-f]{40}$/);
    // PPO logs TRL's metric names, one record per iteration, and its sampled completions.
    const ppo = metrics.filter((m) => m['stage'] === 'ppo');
    assert.deepEqual(ppo.map((m) => m['step']), [1, 2, 3]);
    for (const m of ppo) {
      for (const k of ['objective/kl', 'objective/entropy', 'objective/scores', 'objective/rlhf_reward', 'objective/non_score_reward', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'lr', 'episode']) {
        assert.ok(Number.isFinite(m[k]), `ppo metric ${k} at step ${m['step']}: ${m[k]}`);
      }
      assert.ok(Math.abs((m['objective/rlhf_reward'] as number) - (m['objective/scores'] as number) - (m['objective/non_score_reward'] as number)) < 1e-9);
    }
    // The first iteration's policy is the reference: no KL yet; later ones have moved.
    assert.equal(ppo[0]!['objective/kl'], 0);
    assert.ok((ppo[2]!['objective/kl'] as number) !== 0);
    assert.deepEqual(ppo.map((m) => m['episode']), [4, 8, 12]);
    const ppoSamples = lines(path.join(dir, 'samples.jsonl')).filter((x) => x['stage'] === 'ppo');
    assert.equal(ppoSamples.length, 12);
    for (const x of ppoSamples) assert.ok(typeof x['response'] === 'string' && Number.isFinite(x['score']));
    const evalJson = JSON.parse(fs.readFileSync(path.join(dir, 'eval.json'), 'utf8')) as {
      preference_model: Record<string, { accuracy: number; ece: number }>;
      evaluation: { feedback_model: { hhh: { items: number; accuracy: number; ece: number; method: string } }; preference_model: Record<string, { pairs: number; accuracy: number }>; policies: Record<string, { mean_pm_score: number }>; win_rates: Record<string, { pm: { win_rate: number }; judge: { soft_win_rate: number } }> };
    };
    assert.ok(typeof evalJson.preference_model['eval_pairs']!.accuracy === 'number');
    assert.equal((evalJson.preference_model['held_out_helpfulness'] as unknown as { pairs: number }).pairs, 2);
    assert.equal((evalJson.preference_model['eval_pairs'] as unknown as { accuracy_by_margin: { count: number }[] }).accuracy_by_margin.reduce((a, b) => a + b.count, 0), 12);
    const ev = evalJson.evaluation;
    assert.equal(ev.feedback_model.hhh.items, 8);
    assert.equal(ev.feedback_model.hhh.method, 'exact');
    assert.ok(ev.feedback_model.hhh.accuracy >= 0 && ev.feedback_model.hhh.accuracy <= 1);
    assert.equal(ev.preference_model['eval_pairs']!.pairs, 12);
    assert.equal(ev.preference_model['hhh']!.pairs, 8);
    assert.deepEqual(Object.keys(ev.policies), ['base', 'sl_cai', 'rl_cai']);
    assert.deepEqual(Object.keys(ev.win_rates), ['rl_cai_vs_sl_cai', 'rl_cai_vs_base', 'sl_cai_vs_base']);
    for (const w of Object.values(ev.win_rates)) {
      assert.ok(w.pm.win_rate >= 0 && w.pm.win_rate <= 1);
      assert.ok(w.judge.soft_win_rate > 0 && w.judge.soft_win_rate < 1);
    }
    assert.ok(fs.existsSync(path.join(dir, 'models', 'ppo', 'model.safetensors')));
    // Running --resume on a finished run does nothing more.
    const again = cai(['run', SMOKE, '--resume', dir, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(lines(path.join(dir, 'pairs.jsonl')).length, 8);
  });

  it('resumes after a SIGKILL during each stage: same record ids as an uninterrupted run, no duplicates, every line parsing', async () => {
    assert.ok(reference, 'the first test made the reference run');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-run-kill-'));
    const manifestOf = (d: string): { stages: Record<string, { status: string }> } | undefined => {
      try {
        return JSON.parse(fs.readFileSync(path.join(d, 'manifest.json'), 'utf8')) as { stages: Record<string, { status: string }> };
      } catch {
        return undefined;
      }
    };
    const count = (d: string, file: string, stage?: string): number => {
      try {
        return lines(path.join(d, file)).filter((x) => stage === undefined || x['stage'] === stage).length;
      } catch {
        return 0; // a line being written right now
      }
    };
    // When to pull the plug in each stage: once it has written some of its work, not all.
    const midStage: Record<string, (d: string) => boolean> = {
      critique: (d) => count(d, 'revisions.jsonl') >= 2,
      sft: (d) => count(d, 'metrics.jsonl', 'sft') >= 3,
      pairs: (d) => count(d, 'samples.jsonl', 'pairs') >= 2,
      feedback: (d) => count(d, 'pairs.jsonl') >= 2,
      pm: (d) => count(d, 'metrics.jsonl', 'pm') >= 4,
      ppo: (d) => count(d, 'metrics.jsonl', 'ppo') >= 1,
      eval: (d) => count(d, 'samples.jsonl', 'eval') >= 2,
    };
    let dir: string | undefined;
    const killedIn: string[] = [];
    for (const stage of Object.keys(midStage)) {
      const args = dir ? ['run', SMOKE, '--resume', dir, '--json'] : ['run', SMOKE, '--out', out, '--json'];
      // Detached: its own process group, so the kill takes the CLI and its trainer together.
      const child = spawn(process.execPath, [CLI, ...args], { cwd: root, env, detached: true, stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      const killed = await new Promise<boolean>((resolve, reject) => {
        const started = Date.now();
        const poll = setInterval(() => {
          const runs = fs.existsSync(out) ? fs.readdirSync(out) : [];
          dir ??= runs[0] ? path.join(out, runs[0]) : undefined;
          const m = dir ? manifestOf(dir) : undefined;
          if (dir && m?.stages[stage]?.status === 'running' && midStage[stage]!(dir)) {
            clearInterval(poll);
            process.kill(-child.pid!, 'SIGKILL');
            resolve(true);
          } else if (m?.stages[stage]?.status === 'done' || child.exitCode !== null) {
            clearInterval(poll);
            resolve(false);
          } else if (Date.now() - started > 300_000) {
            clearInterval(poll);
            reject(new Error(`the run never reached the ${stage} stage`));
          }
        }, 25);
      });
      await exited;
      if (killed) killedIn.push(stage);
    }
    // Every stage was interrupted in the middle (a stage that raced to its end would not count).
    assert.deepEqual(killedIn, Object.keys(midStage));
    const r = cai(['run', SMOKE, '--resume', dir!, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const m = manifestOf(dir!)!;
    for (const s of Object.keys(midStage)) assert.equal(m.stages[s]!.status, 'done', s);
    for (const f of ['revisions.jsonl', 'samples.jsonl', 'pairs.jsonl', 'metrics.jsonl']) {
      const got = lines(path.join(dir!, f));
      const want = lines(path.join(reference!, f));
      const ids = got.map((x) => x['id'] as string);
      assert.equal(new Set(ids).size, ids.length, `${f}: duplicate ids`);
      assert.deepEqual([...ids].sort(), want.map((x) => x['id'] as string).sort(), `${f}: ids differ from the uninterrupted run`);
    }
    // Records drawn per item from the run seed equal the reference's.
    const byId = new Map(lines(path.join(reference!, 'revisions.jsonl')).map((x) => [x['id'], x]));
    for (const rec of lines(path.join(dir!, 'revisions.jsonl'))) assert.deepEqual(rec, byId.get(rec['id']));
    for (const f of FILES) for (const l of fs.readFileSync(path.join(dir!, f), 'utf8').split('\n').filter(Boolean)) JSON.parse(l);
  });

  it('refuses a bad configuration before anything starts, naming the file, line and field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-run-bad-'));
    const text = fs.readFileSync(SMOKE, 'utf8');
    const write = (name: string, t: string): string => {
      const f = path.join(path.dirname(SMOKE), `.${name}.tmp.run.yaml`);
      fs.writeFileSync(f, t);
      return f;
    };
    const cases: [string, string, RegExp][] = [
      ['wrong-type', text.replace('rounds: 2', 'rounds: two'), /\.wrong-type\.tmp\.run\.yaml:\d+:\d+: .*stages\.critique\.rounds/],
      ['missing-file', text.replace('data/red-team.jsonl', 'data/nope.jsonl'), /datasets\.redTeam: no such file/],
      ['unknown-key', text.replace('seed: 7', 'seed: 7\nsede: 8'), /\.unknown-key\.tmp\.run\.yaml:\d+:1: .*sede/],
      ['unreachable', text.replace('    provider: embedded\n    model: tiny', '    provider: openai\n    model: tiny\n    baseUrl: http://127.0.0.1:9/v1'), /models\.tiny: .*127\.0\.0\.1:9/],
    ];
    try {
      for (const [name, t, re] of cases) {
        const f = write(name, t);
        const r = cai(['run', f, '--out', path.join(dir, name)]);
        assert.notEqual(r.code, 0, name);
        assert.match(r.stderr, re, name);
        assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
        assert.equal(fs.existsSync(path.join(dir, name)), false, `${name}: nothing written`);
      }
    } finally {
      for (const [name] of cases) fs.rmSync(path.join(path.dirname(SMOKE), `.${name}.tmp.run.yaml`), { force: true });
    }
  });

  it('lists, inspects and exports a run (TRL and HH rows); a torn last line is skipped and reported', () => {
    assert.ok(reference, 'the first test made the reference run');
    const ls = cai(['runs', 'ls', path.dirname(reference!), '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    const listed = JSON.parse(ls.stdout) as { dir: string; stages: Record<string, string> }[];
    assert.deepEqual(listed.map((r) => r.dir), [reference]);
    assert.equal(listed[0]!.stages['pm'], 'done');
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-run-copy-'));
    fs.cpSync(reference!, copy, { recursive: true });
    fs.appendFileSync(path.join(copy, 'pairs.jsonl'), '{"id": "half a rec');
    const ins = cai(['inspect', copy, '--json']);
    assert.equal(ins.code, 0, ins.stderr);
    const summary = JSON.parse(ins.stdout) as { counts: Record<string, number>; headline: Record<string, number>; tornLines: string[] };
    assert.equal(summary.counts['pairs'], 8);
    assert.deepEqual(summary.tornLines, ['pairs.jsonl']);
    assert.ok(typeof summary.headline['mean_p_a'] === 'number' && typeof summary.headline['sft_loss'] === 'number');
    const pairs = lines(path.join(reference!, 'pairs.jsonl'));
    const decided = pairs.filter((p) => p['p_a'] !== 0.5).length;
    const trl = path.join(copy, 'trl.jsonl');
    const e1 = cai(['export-dataset', reference!, '--format', 'trl', '-o', trl]);
    assert.equal(e1.code, 0, e1.stderr);
    const rows = lines(trl);
    assert.equal(rows.length, decided);
    for (const r of rows) {
      assert.ok(typeof r['prompt'] === 'string' && typeof r['chosen'] === 'string' && typeof r['rejected'] === 'string');
      assert.ok((r['score'] as number) > 0.5);
    }
    const hh = path.join(copy, 'hh.jsonl');
    assert.equal(cai(['export-dataset', reference!, '--format', 'hh', '-o', hh]).code, 0);
    for (const r of lines(hh)) assert.ok((r['chosen'] as string).startsWith('\n\nHuman: ') && (r['rejected'] as string).includes('\n\nAssistant: '));
    const again = cai(['export-dataset', reference!, '--format', 'hh', '-o', hh]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists \(use --force/);
    const notRun = cai(['inspect', os.tmpdir()]);
    assert.equal(notRun.code, 2);
    assert.match(notRun.stderr, /not a run directory/);
  });
});

