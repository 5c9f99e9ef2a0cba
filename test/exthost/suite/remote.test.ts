import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite, suiteSetup, suiteTeardown, test } from 'mocha';
import * as vscode from 'vscode';
import type { Manifest, MetricRecord } from '../../../src/core/runs/records.js';
import { RayStandIn } from '../../fixtures/rayStandIn.js';
import { REPO, waitFor, workspaceDir } from './util.js';

/**
 * Submit Run to Cluster, following and Cancel Remote Run in the real extension host, against the
 * loopback stand-in of Ray's Jobs API started inside the host. The commands get their answers as
 * arguments (cluster profile, engine, stage, model), so no picker is asked; the cluster profile
 * is a user setting and the token goes through Set Cluster Token into secret storage.
 */

const TOKEN = 'exthost-token-42';
const readManifest = (dir: string): Manifest => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
const metrics = (dir: string): MetricRecord[] => {
  const f = path.join(dir, 'metrics.jsonl');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as MetricRecord) : [];
};
const remoteOf = (dir: string) => () => {
  try {
    return JSON.stringify(readManifest(dir).remote);
  } catch (e) {
    return (e as Error).message;
  }
};

suite('runs on a Ray cluster', () => {
  let ray: RayStandIn;
  let runDir: string;
  let shared: string;

  suiteSetup(async function () {
    this.timeout(30_000);
    ray = await RayStandIn.start({ token: TOKEN, frameChars: 50 });
    const ws = workspaceDir();
    runDir = path.join(ws, 'cluster-runs', 'scaleout-fixture');
    shared = path.join(ws, 'shared');
    fs.cpSync(path.join(REPO, 'test', 'fixtures', 'scaleout', 'run'), runDir, { recursive: true });
    await vscode.workspace.getConfiguration('constitution').update('clusters', [{ name: 'stand-in', address: ray.address, syncTarget: shared, gpus: 0 }], vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('constitution.setClusterToken', 'stand-in', TOKEN);
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('constitution.setClusterToken', 'stand-in', '');
    await vscode.workspace.getConfiguration('constitution').update('clusters', undefined, vscode.ConfigurationTarget.Global);
    await ray.close();
  });

  test('Submit Run to Cluster submits the stage and its run folder follows the job: live metrics, status, then the pulled output', async function () {
    this.timeout(90_000);
    const dir = await vscode.commands.executeCommand<string | undefined>('constitution.submitRun', runDir, { profile: 'stand-in', engine: 'trl', stage: 'pm', model: 'Qwen/Qwen2.5-0.5B-Instruct' });
    assert.ok(dir && fs.existsSync(path.join(dir, 'manifest.json')), `no run folder: ${String(dir)}`);
    assert.equal(path.dirname(dir), path.dirname(runDir));
    const remote = readManifest(dir).remote!;
    assert.equal(remote.profile, 'stand-in');
    const job = ray.jobs.get(remote.submissionId)!;
    assert.ok(job, `the stand-in has no job ${remote.submissionId}`);
    assert.equal('entrypoint_num_gpus' in job.body, false, 'gpus: 0 in the profile');
    assert.deepEqual((job.runtime_env as { env_vars: unknown }).env_vars, { CAI_SYNC_TARGET: `${shared}/${remote.submissionId}` });

    ray.setStatus(remote.submissionId, 'RUNNING');
    ray.appendLog(remote.submissionId, 'loading\n@@cai-metric {"step": 1, "stage": "pm", "loss": 0.69, "accuracy": 0.5}\n');
    await waitFor('the live metric line in metrics.jsonl', () => metrics(dir).length === 1, 30_000, remoteOf(dir));
    await waitFor('RUNNING in the manifest', () => readManifest(dir).remote?.status === 'RUNNING', 30_000, remoteOf(dir));
    assert.equal(readManifest(dir).stages.pm.status, 'running');

    const out = path.join(shared, remote.submissionId);
    fs.mkdirSync(path.join(out, 'checkpoint-1'), { recursive: true });
    const state = JSON.stringify({ global_step: 1, log_history: [{ step: 1, loss: 0.69, accuracy: 0.5 }, { step: 1, eval_accuracy: 0.75 }] });
    fs.writeFileSync(path.join(out, 'trainer_state.json'), state);
    fs.writeFileSync(path.join(out, 'checkpoint-1', 'trainer_state.json'), state);
    ray.setStatus(remote.submissionId, 'SUCCEEDED');
    await waitFor('SUCCEEDED and the output pulled', () => readManifest(dir).remote?.pulledAt !== undefined, 30_000, remoteOf(dir));
    const m = readManifest(dir);
    assert.equal(m.remote?.status, 'SUCCEEDED');
    assert.equal(m.stages.pm.status, 'done');
    assert.deepEqual(m.remote?.checkpoints?.map((c) => c.path), ['artifacts/checkpoint-1']);
    assert.deepEqual(metrics(dir).map((r) => r.id), ['log-0', 'log-1']);
    assert.ok(fs.readFileSync(path.join(dir, 'driver.log'), 'utf8').startsWith('loading\n'));
  });

  test('Cancel Remote Run stops the job on the cluster and the run folder records it', async function () {
    this.timeout(60_000);
    const dir = await vscode.commands.executeCommand<string | undefined>('constitution.submitRun', runDir, { profile: 'stand-in', engine: 'openrlhf', stage: 'sft', model: 'Qwen/Qwen2.5-0.5B-Instruct' });
    assert.ok(dir);
    const id = readManifest(dir).remote!.submissionId;
    ray.setStatus(id, 'RUNNING');
    const stopped = await vscode.commands.executeCommand<boolean>('constitution.cancelRemoteRun', dir);
    assert.equal(stopped, true);
    assert.equal(ray.jobs.get(id)!.status, 'STOPPED');
    await waitFor('the stage failed as stopped', () => readManifest(dir).stages.sft.error === 'stopped on the cluster', 30_000, remoteOf(dir));
  });

  test('without its token the cluster refuses the submission and no run folder is made', async function () {
    this.timeout(60_000);
    await vscode.commands.executeCommand('constitution.setClusterToken', 'stand-in', '');
    const before = fs.readdirSync(path.dirname(runDir)).filter((d) => fs.existsSync(path.join(path.dirname(runDir), d, 'manifest.json'))).length;
    try {
      const dir = await vscode.commands.executeCommand<string | undefined>('constitution.submitRun', runDir, { profile: 'stand-in', engine: 'trl', stage: 'sft', model: 'Qwen/Qwen2.5-0.5B-Instruct' });
      assert.equal(dir, undefined);
      const after = fs.readdirSync(path.dirname(runDir)).filter((d) => fs.existsSync(path.join(path.dirname(runDir), d, 'manifest.json'))).length;
      assert.equal(after, before);
      assert.ok(ray.requests.some((r) => r.path === '/api/version' && !r.headers.authorization), 'the request went out without a token');
    } finally {
      await vscode.commands.executeCommand('constitution.setClusterToken', 'stand-in', TOKEN);
    }
  });
});
