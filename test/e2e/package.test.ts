import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import yauzl from 'yauzl';
import { REPO, VSIX } from './workbench.js';

/**
 * The packaged .vsix (`npm run package`), as a user installs it: what it holds, its size, and that
 * the optional native packages stay out of it yet load when the user has installed them.
 */

/** The budget for the .vsix: the bundles, the built-in model (7.3 MB) and the demo world's data. */
const VSIX_BUDGET_BYTES = 12 * 1024 * 1024;
const OPTIONAL_NATIVE = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'node-llama-cpp', 'webgpu'];

interface Entry {
  name: string;
  size: number;
}

function listZip(file: string): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error(`cannot open ${file}`));
      const out: Entry[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        out.push({ name: e.fileName, size: e.uncompressedSize });
        zip.readEntry();
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

function extract(file: string, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error(`cannot open ${file}`));
      zip.on('entry', (e: yauzl.Entry) => {
        const target = path.join(dir, e.fileName);
        if (!target.startsWith(dir + path.sep)) return reject(new Error(`entry outside the folder: ${e.fileName}`));
        if (e.fileName.endsWith('/')) {
          fs.mkdirSync(target, { recursive: true });
          return zip.readEntry();
        }
        fs.mkdirSync(path.dirname(target), { recursive: true });
        zip.openReadStream(e, (err2, stream) => {
          if (err2 || !stream) return reject(err2 ?? new Error(`cannot read ${e.fileName}`));
          stream.pipe(fs.createWriteStream(target)).on('finish', () => zip.readEntry()).on('error', reject);
        });
      });
      zip.on('end', () => resolve());
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('The packaged extension (.vsix)', () => {
  let entries: Entry[];
  let installed: string;
  let home: string;

  before(async () => {
    assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run npm run package first`);
    entries = await listZip(VSIX);
    installed = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-vsix-'));
    await extract(VSIX, installed);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-home-'));
  });

  after(() => {
    for (const d of [installed, home]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('stays within its size budget and holds only what a user needs', () => {
    const size = fs.statSync(VSIX).size;
    const unpacked = entries.reduce((a, e) => a + e.size, 0);
    console.log(`# .vsix: ${(size / 1024 / 1024).toFixed(2)} MB (${entries.length} files, ${(unpacked / 1024 / 1024).toFixed(2)} MB unpacked); budget ${VSIX_BUDGET_BYTES / 1024 / 1024} MB`);
    assert.ok(size <= VSIX_BUDGET_BYTES, `.vsix is ${size} bytes, over the budget of ${VSIX_BUDGET_BYTES}`);
    const names = entries.map((e) => e.name.replace(/^extension\//, ''));
    for (const f of ['package.json', 'dist/extension.js', 'dist/client.js', 'dist/remote.js', 'dist/server.js', 'dist/trainer.js', 'dist/replica.js', 'dist/cli.js', 'models/builtin/model.safetensors']) {
      assert.ok(names.includes(f), `${f} is missing from the .vsix`);
    }
    const stray = names.filter((n) => /(^|\/)node_modules\/|\.map$|^src\/|^test\/|^scratch\/|^runs\/|bundle-inputs\.json$|\.ts$/.test(n));
    assert.deepEqual(stray, [], 'sources, source maps, node_modules and local runs stay out');
  });

  it('bundles none of the optional native packages (tfjs-node, tfjs-node-gpu, node-llama-cpp, webgpu), and tfjs-backend-webgpu over the one tfjs-core', () => {
    const inputs = JSON.parse(fs.readFileSync(path.join(REPO, 'dist', 'bundle-inputs.json'), 'utf8')) as Record<string, string[]>;
    assert.ok(Object.keys(inputs).length >= 6, 'every Node bundle is listed');
    for (const [bundle, files] of Object.entries(inputs)) {
      const native = files.filter((f) => OPTIONAL_NATIVE.some((p) => f.includes(`node_modules/${p}/`)));
      assert.deepEqual(native, [], `${bundle} bundles an optional native package`);
    }
    // the scale-out code (Ray client, ws, zip) is its own bundle, loaded on the first submit or follow
    const lazy = (inputs['dist/extension.js'] ?? []).filter((f) => /node_modules\/(ws|yazl)\/|src\/node\/(ray|scaleout)\//.test(f));
    assert.deepEqual(lazy, [], 'the extension bundle holds none of the scale-out code');
    assert.ok((inputs['dist/remote.js'] ?? []).some((f) => f.includes('node_modules/ws/')), 'dist/remote.js holds the Ray client');
    // the WebGPU backend is bundled from its ES modules, so it registers into the bundle's one tfjs-core
    const trainerInputs = inputs['dist/trainer.js'] ?? [];
    assert.ok(trainerInputs.some((f) => f.includes('node_modules/@tensorflow/tfjs-backend-webgpu/dist/')));
    assert.deepEqual(trainerInputs.filter((f) => /node_modules\/@tensorflow\/tfjs-(core|backend-webgpu)\/dist\/tf-/.test(f)), [], 'no CommonJS copy of tfjs-core or of the WebGPU backend');
    // the trainer asks for them by name at run time
    const trainer = fs.readFileSync(path.join(installed, 'extension', 'dist', 'trainer.js'), 'utf8');
    assert.match(trainer, /"@tensorflow\/tfjs-node-gpu"/);
    assert.match(trainer, /"@tensorflow\/tfjs-node"/);
    assert.match(trainer, /"webgpu"/);
  });

  it('the installed trainer says how to install a native package it lacks, and loads node-llama-cpp once installed in ~/.constitution-studio', { timeout: 300_000 }, () => {
    const cli = path.join(installed, 'extension', 'dist', 'cli.js');
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-work-'));
    try {
      // a process started outside any node_modules, as the extension starts its trainer
      const env = { ...process.env, HOME: home, USERPROFILE: home, CAI_BACKEND: '' };
      const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: work, env, encoding: 'utf8', timeout: 240_000 });
      const gguf = path.join(work, 'nano.gguf');
      const exp = run(['export-gguf', 'nano', '-o', gguf]);
      assert.equal(exp.status, 0, exp.stderr);
      const hhh = path.join(work, 'hhh.jsonl');
      fs.copyFileSync(path.join(REPO, 'examples', 'data', 'hhh.jsonl'), hhh);

      const native = run(['generate', '--model', 'nano', '--prompt', 'Hi', '--max-new-tokens', '2', '--backend', 'tfjs-node']);
      assert.notEqual(native.status, 0, 'tfjs-node is not installed in this home');
      assert.match(native.stderr + native.stdout, /@tensorflow\/tfjs-node is not installed \(npm install @tensorflow\/tfjs-node\)/);

      const before = run(['eval', 'hhh', hhh, '--model', gguf, '--limit', '2', '--json']);
      assert.notEqual(before.status, 0, 'node-llama-cpp is not installed in this home yet');
      assert.match(before.stderr + before.stdout, /node-llama-cpp/);

      // what `npm install --prefix ~/.constitution-studio node-llama-cpp` leaves: the package in that node_modules
      const lib = path.join(home, '.constitution-studio', 'node_modules');
      fs.mkdirSync(lib, { recursive: true });
      fs.symlinkSync(path.join(REPO, 'node_modules', 'node-llama-cpp'), path.join(lib, 'node-llama-cpp'), 'dir');
      const afterInstall = run(['eval', 'hhh', hhh, '--model', gguf, '--limit', '2', '--json']);
      assert.equal(afterInstall.status, 0, afterInstall.stderr);
      const report = JSON.parse(afterInstall.stdout) as { n?: number; accuracy?: number };
      assert.equal(typeof report.accuracy, 'number', afterInstall.stdout);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
