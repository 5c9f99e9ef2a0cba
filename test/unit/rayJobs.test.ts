// The Ray Jobs client (src/node/ray/jobsClient.ts) against a loopback stand-in that behaves as
// Ray documents: content-addressed package upload with dedup, submit/status/list/stop/delete,
// typed errors from plain-text bodies, refusal of an open http:// cluster, and the WebSocket log
// tail (lines split across frames, replay after a dropped connection, end, cancellation).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RayJobsClient, RayJobsError, meaningfulLine } from '../../src/node/ray/jobsClient';
import { RayStandIn } from '../fixtures/rayStandIn';
import { until } from '../fixtures/until';

const fast = { minBackoffMs: 20, maxBackoffMs: 100 };

async function rejectsKind(p: Promise<unknown>, kind: string, status: number, re: RegExp): Promise<RayJobsError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RayJobsError, `expected RayJobsError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    assert.equal(e.status, status);
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('Ray Jobs client', { timeout: 60_000 }, () => {
  let ray: RayStandIn;
  let client: RayJobsClient;
  before(async () => {
    ray = await RayStandIn.start();
    client = new RayJobsClient({ address: ray.address });
  });
  after(() => ray.close());

  it('reads the API version', async () => {
    const v = await client.version();
    assert.equal(v.version, '4');
    assert.equal(v.ray_version, '2.52.0');
  });

  it('uploads a package once, named by the SHA-1 of its bytes', async () => {
    const zip = Buffer.from('PK\u0003\u0004 not really a zip, but bytes are bytes');
    const sha = createHash('sha1').update(zip).digest('hex');
    const first = await client.uploadPackage(zip);
    assert.deepEqual(first, { uri: `gcs://_ray_pkg_${sha}.zip`, uploaded: true });
    assert.equal(ray.count('PUT', '/api/packages/gcs/'), 1);
    assert.deepEqual(ray.packages.get(first.uri), zip);
    const second = await client.uploadPackage(new Uint8Array(zip));
    assert.deepEqual(second, { uri: first.uri, uploaded: false });
    assert.equal(ray.count('PUT', '/api/packages/gcs/'), 1, 'the second upload does no PUT');
    assert.equal(ray.count('GET', `/api/packages/gcs/_ray_pkg_${sha}.zip`), 2);
  });

  it('submits to /api/jobs/ with only the given fields, then status, list, stop, delete', async () => {
    const id = await client.submit({
      entrypoint: 'python -m openrlhf.cli.train_ppo_ray --help',
      submissionId: 'cs-run-1',
      runtimeEnv: { workingDir: 'gcs://_ray_pkg_abc.zip', pip: ['openrlhf==0.10.4'], envVars: { HF_HOME: '/tmp/hf' } },
      entrypointNumGpus: 1,
      entrypointResources: { accel: 1 },
      metadata: { run: 'r1' },
    });
    assert.equal(id, 'cs-run-1');
    assert.equal(ray.count('POST', '/api/jobs/'), 1);
    assert.deepEqual(ray.jobs.get(id)?.body, {
      entrypoint: 'python -m openrlhf.cli.train_ppo_ray --help',
      submission_id: 'cs-run-1',
      runtime_env: { working_dir: 'gcs://_ray_pkg_abc.zip', pip: ['openrlhf==0.10.4'], env_vars: { HF_HOME: '/tmp/hf' } },
      entrypoint_num_gpus: 1,
      entrypoint_resources: { accel: 1 },
      metadata: { run: 'r1' },
    });
    assert.equal((await client.status(id)).status, 'PENDING');
    ray.setStatus(id, 'RUNNING');
    const s = await client.status(id);
    assert.equal(s.status, 'RUNNING');
    assert.equal(s.message, 'Job is currently running.');
    assert.ok((await client.list()).some((j) => j.submission_id === id));

    await rejectsKind(client.delete(id), 'jobNotTerminal', 500, /still running.*stop it first/);
    assert.equal(await client.stop(id), true);
    assert.equal((await client.status(id)).status, 'STOPPED');
    assert.equal(await client.stop(id), false, 'stopping an ended job reports false');
    assert.equal(await client.delete(id), true);
    await rejectsKind(client.status(id), 'notFound', 404, /Unknown Ray job 'cs-run-1'/);
  });

  it('lets the server choose the submission id and reports PENDING → RUNNING → SUCCEEDED / FAILED', async () => {
    const a = await client.submit({ entrypoint: 'echo a' });
    assert.match(a, /^raysubmit_/);
    assert.deepEqual(ray.jobs.get(a)?.body, { entrypoint: 'echo a' });
    ray.setStatus(a, 'RUNNING');
    ray.appendLog(a, 'a\n');
    ray.setStatus(a, 'SUCCEEDED');
    assert.equal((await client.status(a)).status, 'SUCCEEDED');
    assert.equal(await client.logs(a), 'a\n');
    const b = await client.submit({ entrypoint: 'false' });
    assert.equal(await client.logs(b), '', 'no log while pending');
    ray.setStatus(b, 'RUNNING');
    ray.setStatus(b, 'FAILED');
    assert.equal((await client.status(b)).status, 'FAILED');
  });

  it('refuses runtime_env mistakes before sending', async () => {
    const before = ray.count('POST', '/api/jobs/');
    await rejectsKind(client.submit({ entrypoint: 'x', runtimeEnv: { workingDir: './src' } }), 'badRequest', 0, /must be a URI/);
    await rejectsKind(client.submit({ entrypoint: 'x', runtimeEnv: { pip: ['a'], imageUri: 'img' } }), 'badRequest', 0, /either pip or imageUri/);
    assert.equal(ray.count('POST', '/api/jobs/'), before);
  });

  it('turns a duplicate submission id into its own error', async () => {
    await client.submit({ entrypoint: 'echo', submissionId: 'dup-1' });
    const e = await rejectsKind(client.submit({ entrypoint: 'echo', submissionId: 'dup-1' }), 'duplicateSubmission', 400, /'dup-1' already exists.*different submission id/);
    assert.equal(e.method, 'POST');
    assert.equal(e.path, '/api/jobs/');
    assert.match(e.detail, /^ValueError: Job with submission_id dup-1 already exists/);
  });

  it('reports unknown jobs, other 400s and 404 from a non-Jobs server', async () => {
    await rejectsKind(client.logs('nope'), 'notFound', 404, /Unknown Ray job 'nope'/);
    await rejectsKind(client.stop('nope'), 'notFound', 404, /Unknown Ray job/);
    await rejectsKind(client.followLogs('nope', () => undefined), 'notFound', 404, /Unknown Ray job 'nope'/);
    const other = await RayStandIn.start();
    try {
      // A server with no /api/version route: the stand-in's prefix path answers 404 for everything.
      const wrong = new RayJobsClient({ address: `${other.address}/not-ray` });
      await rejectsKind(wrong.version(), 'notFound', 404, /No Ray Jobs API/);
    } finally {
      await other.close();
    }
  });

  it('extracts the exception line of a traceback body', () => {
    assert.equal(meaningfulLine('Traceback (most recent call last):\n  File "x", line 1\n    y()\nTypeError: bad key\n'), 'TypeError: bad key');
    assert.equal(meaningfulLine('\n\nJob x does not exist\nmore'), 'Job x does not exist');
    assert.equal(meaningfulLine(''), '');
  });

  it('is refused as browser traffic when sent through fetch, which adds Sec-Fetch-Mode', async () => {
    const r = await fetch(`${ray.address}/api/jobs/`, { method: 'POST', body: JSON.stringify({ entrypoint: 'x' }) });
    assert.equal(r.status, 405);
    assert.equal(await r.text(), 'Method Not Allowed for browser traffic.');
    const sent = ray.requests.filter((q) => q.method === 'POST' && q.headers['user-agent']?.startsWith('constitution-studio'));
    assert.ok(sent.length > 0);
    for (const q of sent) {
      for (const h of ['origin', 'referer', 'sec-fetch-mode']) assert.equal(q.headers[h], undefined);
    }
  });

  it('times out and honours an AbortSignal on REST calls', async () => {
    const never = await import('node:net').then((net) => net.createServer(() => undefined));
    await new Promise<void>((r) => never.listen(0, '127.0.0.1', r));
    const port = (never.address() as { port: number }).port;
    try {
      const slow = new RayJobsClient({ address: `http://127.0.0.1:${port}`, timeoutMs: 100 });
      await rejectsKind(slow.version(), 'timeout', 0, /within 100 ms/);
      const ac = new AbortController();
      const p = slow.list({ signal: ac.signal, timeoutMs: 10_000 });
      setTimeout(() => ac.abort(new Error('user cancelled')), 20);
      await assert.rejects(p, /user cancelled/);
      await assert.rejects(slow.version({ signal: AbortSignal.abort(new Error('already')) }), /already/);
    } finally {
      never.close();
    }
  });
});

describe('Ray Jobs client: token auth and address safety', { timeout: 30_000 }, () => {
  let ray: RayStandIn;
  before(async () => {
    ray = await RayStandIn.start({ token: 's3cret' });
  });
  after(() => ray.close());

  it('sends the bearer token', async () => {
    const c = new RayJobsClient({ address: ray.address, token: 's3cret' });
    assert.equal((await c.version()).version, '4');
    const id = await c.submit({ entrypoint: 'echo' });
    assert.equal(ray.requests.at(-1)?.headers['authorization'], 'Bearer s3cret');
    ray.setStatus(id, 'RUNNING');
    ray.appendLog(id, 'ok\n');
    ray.setStatus(id, 'SUCCEEDED');
    const got: string[] = [];
    await c.followLogs(id, (t) => got.push(t), undefined, fast);
    assert.equal(got.join(''), 'ok\n');
  });

  it('tells a missing token (401) from a token not allowed (403)', async () => {
    const none = new RayJobsClient({ address: ray.address });
    const e401 = await rejectsKind(none.list(), 'unauthorized', 401, /token is missing or not recognised/);
    assert.equal(e401.detail, 'Unauthorized: Missing authentication token');
    const wrong = new RayJobsClient({ address: ray.address, token: 'nope' });
    const e403 = await rejectsKind(wrong.list(), 'forbidden', 403, /not allowed/);
    assert.equal(e403.detail, 'Forbidden: Invalid authentication token');
    await rejectsKind(wrong.followLogs('any', () => undefined), 'forbidden', 403, /not allowed/);
  });

  it('refuses an open http:// cluster that is not loopback, unless told otherwise', () => {
    assert.throws(() => new RayJobsClient({ address: 'http://10.1.2.3:8265' }), (e: unknown) => e instanceof RayJobsError && e.kind === 'insecure' && /an open Ray cluster runs anyone's code/.test(e.message));
    assert.throws(() => new RayJobsClient({ address: 'http://ray.example.com:8265' }), /runs anyone's code/);
    assert.throws(() => new RayJobsClient({ address: 'ray://10.1.2.3:10001' }), (e: unknown) => e instanceof RayJobsError && e.kind === 'badAddress' && /not a ray:\/\/ client address/.test(e.message));
    assert.throws(() => new RayJobsClient({ address: 'not a url' }), /Not a URL/);
    new RayJobsClient({ address: 'http://10.1.2.3:8265', allowInsecure: true });
    new RayJobsClient({ address: 'http://10.1.2.3:8265', token: 't' });
    new RayJobsClient({ address: 'https://ray.example.com' });
    for (const a of ['http://127.0.0.1:8265', 'http://localhost:8265', 'http://[::1]:8265', 'http://127.0.0.2']) new RayJobsClient({ address: a });
  });
});

describe('Ray Jobs client: following logs', { timeout: 60_000 }, () => {
  let ray: RayStandIn;
  let client: RayJobsClient;
  before(async () => {
    ray = await RayStandIn.start({ frameChars: 7 });
    client = new RayJobsClient({ address: ray.address });
  });
  after(() => ray.close());

  const logText = Array.from({ length: 30 }, (_, i) => `step ${i} loss=${(1 / (i + 1)).toFixed(4)} é\n`).join('');

  it('reassembles whole lines across frames and ends with the job, last partial line included', async () => {
    const id = await client.submit({ entrypoint: 'train' });
    ray.setStatus(id, 'RUNNING');
    ray.appendLog(id, logText.slice(0, 200));
    const chunks: string[] = [];
    const done = client.followLogs(id, (t) => chunks.push(t), undefined, fast);
    await until(() => chunks.join('').length > 150);
    ray.appendLog(id, logText.slice(200));
    ray.appendLog(id, 'final line without newline');
    await until(() => chunks.join('') === logText);
    ray.setStatus(id, 'SUCCEEDED');
    const r = await done;
    assert.equal(r.status, 'SUCCEEDED');
    assert.equal(r.reconnects, 0);
    assert.equal(chunks.join(''), `${logText}final line without newline`);
    for (const c of chunks.slice(0, -1)) assert.ok(c.endsWith('\n'), `whole lines only: ${JSON.stringify(c)}`);
    assert.equal(r.lines, 31);
    assert.ok(ray.pongs >= 1, 'the ping got a pong');
  });

  it('reconnects after an abnormal close and delivers no line twice', async () => {
    const id = await client.submit({ entrypoint: 'train' });
    ray.setStatus(id, 'RUNNING');
    ray.appendLog(id, logText);
    ray.dropTailOnceAfter(123); // mid-line
    const chunks: string[] = [];
    const connections = ray.tailConnections;
    const done = client.followLogs(id, (t) => chunks.push(t), undefined, fast);
    await until(() => chunks.join('') === logText);
    assert.equal(ray.tailConnections - connections, 2, 'one reconnect');
    ray.appendLog(id, 'after reconnect\n');
    await until(() => chunks.join('').endsWith('after reconnect\n'));
    ray.setStatus(id, 'SUCCEEDED');
    const r = await done;
    assert.equal(r.reconnects, 1);
    assert.equal(chunks.join(''), `${logText}after reconnect\n`);
    const lines = chunks.join('').split('\n').filter(Boolean);
    assert.equal(new Set(lines).size, lines.length, 'no duplicates');
  });

  it('reads frames that arrive in pieces', async () => {
    const split = await RayStandIn.start({ frameChars: 40, splitWrites: true });
    try {
      const c = new RayJobsClient({ address: split.address });
      const id = await c.submit({ entrypoint: 'x' });
      split.setStatus(id, 'RUNNING');
      split.appendLog(id, logText);
      split.setStatus(id, 'SUCCEEDED');
      const got: string[] = [];
      const r = await c.followLogs(id, (t) => got.push(t), undefined, fast);
      assert.equal(got.join(''), logText);
      assert.equal(r.lines, 30);
      assert.equal(r.reconnects, 0);
    } finally {
      await split.close();
    }
  });

  it('takes the rest from the whole log when the tail of an ended job keeps dropping', async () => {
    const id = await client.submit({ entrypoint: 'x' });
    ray.setStatus(id, 'RUNNING');
    ray.appendLog(id, `${logText}tail end`);
    ray.setStatus(id, 'SUCCEEDED');
    ray.dropTailAfter(60, 10);
    const got: string[] = [];
    const r = await client.followLogs(id, (t) => got.push(t), undefined, fast);
    ray.dropTailAfter(0, 0);
    assert.equal(got.join(''), `${logText}tail end`);
    assert.equal(r.lines, 31);
    assert.equal(r.status, 'SUCCEEDED');
    assert.equal(r.reconnects, 2);
    assert.equal(ray.requests.filter((q) => q.path === `/api/jobs/${id}/logs`).length, 1, 'one whole-log read');
  });

  it('ends at once for a job that has already ended', async () => {
    const id = await client.submit({ entrypoint: 'x' });
    ray.setStatus(id, 'RUNNING');
    ray.appendLog(id, 'one\ntwo\n');
    ray.setStatus(id, 'FAILED');
    const got: string[] = [];
    const r = await client.followLogs(id, (t) => got.push(t), undefined, fast);
    assert.deepEqual({ status: r.status, text: got.join(''), lines: r.lines }, { status: 'FAILED', text: 'one\ntwo\n', lines: 2 });
  });

  it('stops following when the signal aborts', async () => {
    const id = await client.submit({ entrypoint: 'x' });
    ray.setStatus(id, 'RUNNING');
    ray.appendLog(id, 'first\n');
    const ac = new AbortController();
    const got: string[] = [];
    const p = client.followLogs(id, (t) => got.push(t), ac.signal, fast);
    await until(() => got.join('') === 'first\n');
    ac.abort(new Error('closed by the user'));
    await assert.rejects(p, /closed by the user/);
    ray.setStatus(id, 'STOPPED');
  });
});
