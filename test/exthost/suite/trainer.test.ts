import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite, suiteSetup, suiteTeardown, test } from 'mocha';
import * as vscode from 'vscode';
import type { Manifest } from '../../../src/core/runs/records.js';
import { runStatus } from '../../../src/node/runReader.js';
import { trainerProcesses, waitFor, workspaceDir } from './util.js';

/**
 * Start Run, Stop Run and Resume Run through the commands, with a real trainer process forked by
 * the extension host: a run folder appears, stopping leaves a resumable run and no trainer,
 * resuming finishes it without a duplicated record. The run file (test/exthost/fixtures) is small:
 * about a minute in all on two cores.
 *
 * The commands are called with arguments, so no quick pick is asked: Start Run with the run
 * file's URI, Resume Run with the run folder. Start and Resume resolve only when the run has ended
 * and its closing notification is dismissed, so they are not awaited; the tests wait on the run
 * folder instead. The test window has Workspace Trust off (the runners' settings), which starting
 * a run needs.
 */

const readManifest = (dir: string): Manifest => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
const stages = (m: Manifest): string => Object.entries(m.stages).map(([s, st]) => `${s}:${st.status}`).join(' ');
const manifestOf = (dir: string | undefined) => (): string => {
  try {
    return dir ? `stages: ${stages(readManifest(dir))}` : 'no run folder';
  } catch (e) {
    return (e as Error).message;
  }
};

/** Trainer processes below this host; [] where they cannot be listed (Windows), so waits pass there. */
const trainers = () => trainerProcesses() ?? [];
const describeTrainers = () => `trainer processes: ${JSON.stringify(trainers())}`;

suite('trainer start, stop and resume', () => {
  let ws: string;
  let runFile: string;
  let runDir: string | undefined;
  /** A start or resume command that failed (they are not awaited). */
  let commandError: unknown;
  const notAwaited = (p: Thenable<unknown>) => void Promise.resolve(p).catch((e: unknown) => (commandError = e));

  suiteSetup(() => {
    ws = workspaceDir();
    runFile = path.join(ws, 'exthost.run.yaml');
    assert.ok(fs.existsSync(runFile), `${runFile} is missing from the test workspace`);
    fs.rmSync(path.join(ws, 'runs'), { recursive: true, force: true });
  });

  suiteTeardown(async function () {
    this.timeout(60_000);
    // a failed test may leave a trainer going: stop it (at a checkpoint) so that none outlives the suite
    if (trainers().length > 0) await vscode.commands.executeCommand('constitution.stopRun');
  });

  test('Start Run with a run file forks a trainer, which makes a run folder under runs/', async function () {
    this.timeout(120_000);
    notAwaited(vscode.commands.executeCommand('constitution.startRun', vscode.Uri.file(runFile)));
    const runs = path.join(ws, 'runs');
    runDir = await waitFor(
      'a run folder with manifest.json under runs/',
      () => {
        if (commandError) throw commandError;
        const dirs = fs.existsSync(runs) ? fs.readdirSync(runs).filter((d) => fs.existsSync(path.join(runs, d, 'manifest.json'))) : [];
        return dirs.length === 1 ? path.join(runs, dirs[0]!) : undefined;
      },
      90_000,
    );
    assert.match(path.basename(runDir), /^exthost-/);
    assert.equal(readManifest(runDir).configFile, runFile);
    if (trainerProcesses()) await waitFor('a trainer process below the extension host', () => trainers().length > 0, 30_000, describeTrainers);
  });

  test('Stop Run stops it at a checkpoint: the run is resumable and no trainer process is left', async function () {
    this.timeout(180_000);
    assert.ok(runDir, 'no run folder (the previous test failed)');
    const dir = runDir;
    // stop once a stage has finished and the run is still going, so the run has progress to keep
    await waitFor(
      'a finished stage while the run is still going',
      () => {
        const m = readManifest(dir);
        const st = Object.values(m.stages).map((s) => s.status);
        return st.includes('done') && st.includes('running');
      },
      150_000,
      manifestOf(dir),
    );
    await vscode.commands.executeCommand('constitution.stopRun');
    const m = readManifest(dir);
    assert.equal(runStatus(m), 'stopped', `after Stop Run: ${stages(m)}`);
    assert.ok(!Object.values(m.stages).some((s) => s.status === 'running' || s.status === 'failed'), stages(m));
    const events = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8');
    assert.match(events, /"kind":"stage-stopped"/, 'no stage-stopped event in events.jsonl');
    await waitFor('no trainer process left', () => trainers().length === 0, 15_000, describeTrainers);
    // the controller forgets the session a few promise turns after the trainer has gone; a turn of the event loop covers that
    await new Promise((r) => setImmediate(r));
  });

  test('Resume Run finishes it, with no duplicated record', async function () {
    this.timeout(600_000);
    assert.ok(runDir, 'no run folder (the first test failed)');
    const dir = runDir;
    const before = readManifest(dir);
    assert.equal(runStatus(before), 'stopped', `not a stopped run: ${stages(before)}`);
    notAwaited(vscode.commands.executeCommand('constitution.resumeRun', dir));
    // the same folder goes on (no new run folder) and every stage ends done
    await waitFor(
      'the resumed run to finish',
      () => {
        if (commandError) throw commandError;
        const m = readManifest(dir);
        if (Object.values(m.stages).some((s) => s.status === 'failed')) throw new Error(`the run failed: ${stages(m)}`);
        return runStatus(m) === 'done';
      },
      540_000,
      manifestOf(dir),
      500,
    );
    assert.deepEqual(fs.readdirSync(path.join(ws, 'runs')), [path.basename(dir)], 'resuming made another run folder');
    const m = readManifest(dir);
    assert.ok(Object.values(m.stages).every((s) => s.status === 'done'), stages(m));
    const pairs = path.join(dir, 'pairs.jsonl');
    assert.ok(fs.existsSync(pairs), 'no pairs.jsonl');
    // the record files, whose ids a resumed run keeps (metrics and events are logs, not records)
    for (const f of ['revisions.jsonl', 'samples.jsonl', 'pairs.jsonl']) {
      const file = path.join(dir, f);
      if (!fs.existsSync(file)) continue;
      const ids = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { id?: string }).id);
      if (f === 'pairs.jsonl') assert.ok(ids.length > 0, 'pairs.jsonl is empty');
      const dup = ids.filter((id, i) => id !== undefined && ids.indexOf(id) !== i);
      assert.deepEqual(dup, [], `${f}: duplicated ids`);
    }
    await waitFor('no trainer process left', () => trainers().length === 0, 30_000, describeTrainers);
  });
});
