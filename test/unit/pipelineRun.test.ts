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
    for (const s of ['critique', 'sft', 'pairs', 'feedback', 'pm']) assert.equal(manifest.stages[s]!.status, 'done', s);
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
    assert.ok(metrics.some((m) => m['stage'] === 'pm' && typeof m['accuracy'] === 'number'));
    const evalJson = JSON.parse(fs.readFileSync(path.join(dir, 'eval.json'), 'utf8')) as { preference_model: Record<string, { accuracy: number; ece: number }> };
    assert.ok(typeof evalJson.preference_model['eval_pairs']!.accuracy === 'number');
    assert.ok(fs.existsSync(path.join(dir, 'models', 'sft', 'model.safetensors')));
    assert.ok(fs.existsSync(path.join(dir, 'models', 'pm', 'model.safetensors')));
    // Running --resume on a finished run does nothing more.
    const again = cai(['run', SMOKE, '--resume', dir, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(lines(path.join(dir, 'pairs.jsonl')).length, 8);
  });

  it('resumes after SIGKILL mid-stage with the same record ids, no duplicates, every line parsing', async () => {
    assert.ok(reference, 'the first test made the reference run');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-run-kill-'));
    // Detached: its own process group, so the kill takes the CLI and its trainer together.
    const child = spawn(process.execPath, [CLI, 'run', SMOKE, '--out', out, '--json'], { cwd: root, env, detached: true, stdio: 'ignore' });
    const dir = await new Promise<string>((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        const runs = fs.existsSync(out) ? fs.readdirSync(out) : [];
        const d = runs[0] ? path.join(out, runs[0]) : undefined;
        if (d && lines(path.join(d, 'revisions.jsonl')).length >= 3) {
          clearInterval(poll);
          process.kill(-child.pid!, 'SIGKILL');
          resolve(d);
        } else if (Date.now() - started > 300_000) {
          clearInterval(poll);
          reject(new Error('the run never reached the critique stage'));
        }
      }, 50);
    });
    await new Promise((r) => child.once('exit', r));
    const before = lines(path.join(dir, 'revisions.jsonl')).length;
    assert.ok(before >= 3 && before < 8, `killed after ${before} revisions`);
    const r = cai(['run', SMOKE, '--resume', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['revisions.jsonl', 'samples.jsonl', 'pairs.jsonl']) {
      const got = lines(path.join(dir, f));
      const want = lines(path.join(reference!, f));
      const ids = got.map((x) => x['id'] as string);
      assert.equal(new Set(ids).size, ids.length, `${f}: duplicate ids`);
      assert.deepEqual([...ids].sort(), want.map((x) => x['id'] as string).sort(), `${f}: ids differ from the uninterrupted run`);
    }
    // The critique stage draws per prompt from the run seed: the resumed records equal the reference's.
    const byId = new Map(lines(path.join(reference!, 'revisions.jsonl')).map((x) => [x['id'], x]));
    for (const rec of lines(path.join(dir, 'revisions.jsonl'))) assert.deepEqual(rec, byId.get(rec['id']));
    for (const f of FILES) for (const l of fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean)) JSON.parse(l);
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
      ['ppo', text.replace('ppo: false', 'ppo: true'), /stage ppo is not available/],
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

