// Entry of a training worker thread (dist/replica.js): one replica on its own backend instance,
// driven by parallel.ts through the messages of replicaProtocol.ts.

import { parentPort } from 'node:worker_threads';
import { initializeBackend } from './backend';
import { Replica } from './replica';
import type { WorkerReply, WorkerRequest } from './replicaProtocol';

let replica: Replica | undefined;
let buffers: Float32Array[] = [];
let own: Float32Array | undefined;

function need(): Replica {
  if (!replica) throw new Error('the worker has no replica yet');
  return replica;
}

async function handle(m: WorkerRequest): Promise<unknown> {
  switch (m.kind) {
    case 'init': {
      await initializeBackend({ backend: m.backend });
      replica = new Replica(m.init);
      buffers = m.buffers.map((b) => new Float32Array(b));
      own = buffers[m.index];
      if (!own || own.length !== replica.layout.total) throw new Error(`gradient buffer holds ${own?.length} numbers, the model has ${replica.layout.total}`);
      return true;
    }
    case 'grads': {
      const r = need();
      let loss = 0;
      const margins: number[] = [];
      const stats: Record<string, number> = {};
      for (const [i, p] of m.parts.entries()) {
        const g = await r.gradients(p.batch, own!, p.scale, i > 0);
        loss += g.loss * p.weight;
        if (g.margins) margins.push(...g.margins);
        for (const [k, v] of Object.entries(g.stats ?? {})) stats[k] = (stats[k] ?? 0) + v * p.weight;
      }
      if (m.parts.length === 0) own!.fill(0);
      return { loss, margins, stats };
    }
    case 'apply':
      return need().apply(buffers, m.lr, m.clipNorm, m.step, m.loss);
    case 'margins':
      return need().margins(m.batch);
    case 'generate':
      return need().generate(m.req);
    case 'tokenStats':
      return need().tokenStats(m.rows, m.temperature);
    case 'values':
      return need().values(m.rows);
    case 'rewards':
      return need().rewards(m.batch);
    case 'score':
      return need().score(m.prompt, m.continuations);
    case 'exportWeights':
      return need().exportWeights();
    case 'optimizerState':
      return need().optimizerState();
    case 'loadOptimizerState':
      need().loadOptimizerState(m.state);
      return true;
  }
}

parentPort?.on('message', (m: WorkerRequest) => {
  handle(m).then(
    (result) => parentPort!.postMessage({ id: m.id, ok: true, result } satisfies WorkerReply),
    (e: Error & { what?: string; step?: number }) => parentPort!.postMessage({ id: m.id, ok: false, error: { name: e.name, message: e.message, ...(e.what ? { what: e.what, step: e.step ?? 0 } : {}) } } satisfies WorkerReply),
  );
});
