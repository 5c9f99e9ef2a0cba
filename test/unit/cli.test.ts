/**
 * The `cai` command-line contract, checked on the built `dist/cli.js` (run `node scripts/build.mjs`
 * first; `npm test` does). Every test works in its own temporary folder.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';

const repoRoot = path.resolve(__dirname, '../..');
const CLI = path.join(repoRoot, 'dist', 'cli.js');
const EXAMPLES = path.join(repoRoot, 'examples');
const ANTHROPIC = path.resolve(repoRoot, '../shared/data/anthropic-cai/prompts');
const ANTHROPIC_FILES = ['CritiqueRevisionFewShotPrompts.json', 'CritiqueRevisionInstructions.json', 'RLMadisonFewShotPrompts.json', 'RLMadisonInstructions.json', 'RLMadisonPrecogFewShotPrompts.json'];
const skipAnthropic = existsSync(ANTHROPIC) ? false : `Anthropic's prompt files are not at ${ANTHROPIC}`;
const PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment a user has: no colours forced on, no debug stacks. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.CAI_DEBUG;
  delete env.FORCE_COLOR;
  delete env.NODE_OPTIONS;
  return env;
}

function cai(args: string[], cwd: string = repoRoot): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const show = (r: Run) => `exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}\n--- stdout ---\n${r.stdout.slice(0, 3000)}\n--- stderr ---\n${r.stderr.slice(0, 3000)}`;

/** A failure the user caused or the system refused: one `cai: ` line on stderr, nothing else. */
function assertOneLineFailure(r: Run, opts: { code?: number; matches?: RegExp } = {}): string {
  assert.equal(r.signal, null, show(r));
  assert.ok(r.code !== 0 && r.code !== null, `a non-zero exit\n${show(r)}`);
  if (opts.code !== undefined) assert.equal(r.code, opts.code, show(r));
  assert.equal(r.stdout, '', `nothing on stdout\n${show(r)}`);
  assert.ok(r.stderr.endsWith('\n'), `stderr ends with a line break\n${show(r)}`);
  const lines = r.stderr.slice(0, -1).split('\n');
  assert.equal(lines.length, 1, `exactly one line on stderr\n${show(r)}`);
  const line = lines[0] as string;
  assert.ok(line.startsWith('cai: '), `the line starts with 'cai: '\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `no stack trace\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /\b[A-Z][A-Za-z]*Error\b|\bError:/, `no error class names\n${show(r)}`);
  assert.doesNotMatch(line, /internal error/i, `not reported as an internal error\n${show(r)}`);
  if (opts.matches) assert.match(line, opts.matches, show(r));
  return line;
}

const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'cai-cli-'));
  tempDirs.push(d);
  return d;
}

function write(dir: string, rel: string, text: string | Buffer): string {
  const p = path.join(dir, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** The newest .ts file under a folder (to tell whether dist/cli.js is older than its sources). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** A constitution with one known error: `revison` (line 5, column 5) is not a key of a principle. */
const TYPO = 'name: typo\nprinciples:\n  - id: kind\n    critique: Is the answer kind?\n    revison: Make it kind.\n';

const GOOD = 'name: good\nprinciples:\n  - id: kind\n    critique: Is the answer kind to the person asking?\n    revision: Rewrite the answer so that it is kind.\n';

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: build it with \`node scripts/build.mjs\` before running these tests`);
});

after(() => {
  for (const d of tempDirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // a folder left behind in the temporary directory is harmless
    }
  }
});

describe('cai: build', () => {
  it('dist/cli.js exists (a diagnostic says when it is older than src/)', (t) => {
    const built = statSync(CLI).mtimeMs;
    const src = newestSource(path.join(repoRoot, 'src'));
    if (src > built) t.diagnostic(`dist/cli.js is ${Math.round((src - built) / 1000)} s older than the newest file in src/: rebuild for current results`);
    assert.ok(existsSync(CLI));
  });
});

describe('cai validate', () => {
  it('prints file:line:col: severity code: message with 1-based positions, the file as given; summary on stderr; exit 1 on errors', () => {
    const dir = tempDir();
    write(dir, 'sub/typo.constitution.yaml', TYPO);
    const r = cai(['validate', 'sub/typo.constitution.yaml'], dir);
    assert.equal(r.code, 1, show(r));
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.includes("sub/typo.constitution.yaml:5:5: error unknown-key: Unknown key 'revison' in a principle. Did you mean 'revision'?"), show(r));
    for (const l of lines) assert.match(l, /^sub\/typo\.constitution\.yaml:\d+:\d+: (error|warning|information|hint) [a-z-]+: \S/, `every stdout line is a diagnostic: ${l}`);
    assert.match(r.stderr, /^1 file checked: \d+ errors?, \d+ warnings?, \d+ other\.\n$/, show(r));
  });

  it('--json prints only a JSON array of diagnostics with 0-based LSP ranges', () => {
    const dir = tempDir();
    write(dir, 'typo.constitution.yaml', TYPO);
    const r = cai(['validate', '--json', 'typo.constitution.yaml'], dir);
    assert.equal(r.code, 1, show(r));
    const diags = JSON.parse(r.stdout) as { file: string; range: unknown; severity: string; code: string; message: string }[];
    assert.ok(Array.isArray(diags), show(r));
    for (const d of diags) {
      assert.deepEqual(Object.keys(d).sort(), ['code', 'file', 'message', 'range', 'severity'], JSON.stringify(d));
      assert.equal(d.file, 'typo.constitution.yaml');
      assert.ok(['error', 'warning', 'information', 'hint'].includes(d.severity));
    }
    const unknown = diags.find((d) => d.code === 'unknown-key');
    assert.ok(unknown, r.stdout);
    // `revison` is on the fifth line (4), after four spaces (4), seven characters long
    assert.deepEqual(unknown.range, { start: { line: 4, character: 4 }, end: { line: 4, character: 11 } });
    assert.equal(unknown.severity, 'error');
    assert.doesNotMatch(r.stderr, /\S/, `nothing else on stderr with --json\n${show(r)}`);
  });

  it('exit 0 when there are only warnings', () => {
    const dir = tempDir();
    write(dir, 'warn.constitution.yaml', 'name: lonely\n');
    const r = cai(['validate', 'warn.constitution.yaml'], dir);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^warn\.constitution\.yaml:1:\d+: warning /m, show(r));
    assert.match(r.stderr, /0 errors, 1 warning/, show(r));
  });

  it('exit 0 and no output lines for a clean file', () => {
    const dir = tempDir();
    write(dir, 'good.constitution.yaml', GOOD);
    const r = cai(['validate', 'good.constitution.yaml'], dir);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, '', show(r));
  });

  it('a folder validates every *.constitution.yaml inside it, and nothing else', () => {
    const dir = tempDir();
    write(dir, 'd/a.constitution.yaml', 'name: a\n');
    write(dir, 'd/deeper/b.constitution.yaml', 'name: b\n');
    write(dir, 'd/plain.yaml', 'name: c\nthis is: [not checked\n');
    write(dir, 'd/notes.txt', 'hello');
    const r = cai(['validate', '--json', 'd'], dir);
    assert.equal(r.code, 0, show(r));
    const files = new Set((JSON.parse(r.stdout) as { file: string }[]).map((d) => d.file));
    assert.deepEqual([...files].sort(), ['d/a.constitution.yaml', 'd/deeper/b.constitution.yaml']);
    const human = cai(['validate', 'd'], dir);
    assert.match(human.stderr, /^2 files checked/m, show(human));
  });

  it('both example constitutions validate with exit 0', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.constitution.yaml'));
    assert.ok(files.length >= 2, files.join(', '));
    const r = cai(['validate', ...files.map((f) => `examples/${f}`)]);
    assert.equal(r.code, 0, show(r));
    assert.doesNotMatch(r.stdout, / error /, show(r));
    const folder = cai(['validate', 'examples']);
    assert.equal(folder.code, 0, show(folder));
    assert.match(folder.stderr, new RegExp(`^${files.length} files checked: 0 errors`, 'm'), show(folder));
  });

  it('usage errors exit 2 with one line: no files, an unknown flag, a bad --near-duplicate-threshold', () => {
    const dir = tempDir();
    write(dir, 'good.constitution.yaml', GOOD);
    assertOneLineFailure(cai(['validate'], dir), { code: 2 });
    assertOneLineFailure(cai(['validate', '--bogus', 'good.constitution.yaml'], dir), { code: 2, matches: /bogus/ });
    for (const bad of ['abc', '2', '-0.5', 'NaN']) {
      assertOneLineFailure(cai(['validate', '--near-duplicate-threshold', bad, 'good.constitution.yaml'], dir), { code: 2, matches: /near-duplicate-threshold/ });
    }
    const ok = cai(['validate', '--near-duplicate-threshold', '0.5', 'good.constitution.yaml'], dir);
    assert.equal(ok.code, 0, show(ok));
  });
});

describe('cai: unreadable input fails with one line', () => {
  it('a file that does not exist', () => {
    const dir = tempDir();
    assertOneLineFailure(cai(['validate', 'missing.constitution.yaml'], dir), { matches: /missing\.constitution\.yaml/ });
    assertOneLineFailure(cai(['preview', 'missing.constitution.yaml'], dir), { matches: /missing\.constitution\.yaml/ });
    assertOneLineFailure(cai(['format', 'missing.constitution.yaml'], dir), { matches: /missing\.constitution\.yaml/ });
    assertOneLineFailure(cai(['export', 'anthropic', 'missing.constitution.yaml', '-o', 'out'], dir), { matches: /missing\.constitution\.yaml/ });
    assertOneLineFailure(cai(['import', 'anthropic', 'no-such-folder', '-o', 'x.constitution.yaml'], dir), { matches: /no-such-folder/ });
    assertOneLineFailure(cai(['import', 'langchain', 'no-such.json', '-o', 'x.constitution.yaml'], dir), { matches: /no-such\.json/ });
    assert.equal(existsSync(path.join(dir, 'x.constitution.yaml')), false, 'nothing written');
  });

  it('a folder passed to preview', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'folder.constitution.yaml'));
    assertOneLineFailure(cai(['preview', 'folder.constitution.yaml'], dir), { matches: /folder/ });
  });

  it('a file without read permission', { skip: process.getuid?.() === 0 ? 'running as root, which can read a file with mode 000 anyway' : false }, () => {
    const dir = tempDir();
    const p = write(dir, 'locked.constitution.yaml', GOOD);
    chmodSync(p, 0o000);
    try {
      assertOneLineFailure(cai(['validate', 'locked.constitution.yaml'], dir), { matches: /locked\.constitution\.yaml/ });
      assertOneLineFailure(cai(['preview', 'locked.constitution.yaml'], dir), { matches: /locked\.constitution\.yaml/ });
    } finally {
      chmodSync(p, 0o600);
    }
  });

  // Root reads any file, so the test above cannot run as root; as root, run the CLI as an
  // unprivileged user instead (uid/gid 65534, "nobody"), which a file with mode 000 does keep out.
  it('a file without read permission, read by an unprivileged user', { skip: process.getuid?.() === 0 ? false : 'only as root (the test above covers other users)' }, () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const p = write(dir, 'locked.constitution.yaml', GOOD);
    chmodSync(p, 0o000);
    const asNobody = (args: string[]): Run => {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: cleanEnv(), timeout: 60_000, uid: 65534, gid: 65534 });
      if (r.error) throw r.error;
      return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    };
    assertOneLineFailure(asNobody(['validate', 'locked.constitution.yaml']), { matches: /locked\.constitution\.yaml/ });
    assertOneLineFailure(asNobody(['preview', 'locked.constitution.yaml']), { matches: /locked\.constitution\.yaml/ });
    assertOneLineFailure(asNobody(['format', 'locked.constitution.yaml']), { matches: /locked\.constitution\.yaml/ });
  });

  it('a binary file', () => {
    const dir = tempDir();
    write(dir, 'packed.constitution.yaml', gzipSync(Buffer.from(GOOD.repeat(20))));
    write(dir, 'image.json', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]));
    assertOneLineFailure(cai(['validate', 'packed.constitution.yaml'], dir), { matches: /packed\.constitution\.yaml/ });
    assertOneLineFailure(cai(['preview', 'packed.constitution.yaml'], dir), { matches: /packed\.constitution\.yaml/ });
    assertOneLineFailure(cai(['import', 'langchain', 'image.json', '-o', 'x.constitution.yaml'], dir), { matches: /image\.json/ });
  });

  it('a wrong format name, an unknown command, an unknown flag', () => {
    const dir = tempDir();
    write(dir, 'good.constitution.yaml', GOOD);
    assertOneLineFailure(cai(['import', 'nope', 'x', '-o', 'y'], dir), { matches: /nope/ });
    assertOneLineFailure(cai(['export', 'nope', 'good.constitution.yaml', '-o', 'y'], dir), { matches: /nope/ });
    assertOneLineFailure(cai(['frobnicate'], dir), { matches: /frobnicate/ });
    assertOneLineFailure(cai(['--frobnicate'], dir), { matches: /frobnicate/ });
    assertOneLineFailure(cai(['preview', 'good.constitution.yaml', '--bogus'], dir), { matches: /bogus/ });
    assertOneLineFailure(cai(['format', 'good.constitution.yaml', '--indent', 'wide'], dir), { matches: /indent/ });
    assertOneLineFailure(cai(['lsp'], dir), { matches: /stdio/ });
  });

  it('help for an unknown command is a usage error too', () => {
    assertOneLineFailure(cai(['help', 'frobnicate']), { code: 2, matches: /frobnicate/ });
  });

  it('files of another tool that are not in its format', () => {
    const dir = tempDir();
    write(dir, 'broken.json', '{"critique_request": ');
    write(dir, 'wrong.json', '[{"critic": 3, "revision": "Fix it."}]');
    assertOneLineFailure(cai(['import', 'langchain', 'broken.json', '-o', 'a.constitution.yaml'], dir), { code: 1, matches: /broken\.json/ });
    assertOneLineFailure(cai(['import', 'llm-swarm', 'wrong.json', '-o', 'b.constitution.yaml'], dir), { code: 1, matches: /wrong\.json/ });
    write(dir, 'empty/readme.txt', 'no prompt files here');
    assertOneLineFailure(cai(['import', 'anthropic', 'empty', '-o', 'c.constitution.yaml'], dir), { matches: /empty/ });
    for (const f of ['a', 'b', 'c']) assert.equal(existsSync(path.join(dir, `${f}.constitution.yaml`)), false, `${f}.constitution.yaml not written`);
  });
});

describe('cai preview', () => {
  const file = 'examples/harmless-helpful.constitution.yaml';
  const doc = parseYaml(readFileSync(path.join(repoRoot, file), 'utf8')) as {
    principles: { id: string; critique: string; revision: string }[];
    comparisons: { id: string; question: string }[];
  };
  const principle = doc.principles[0] as { id: string; critique: string; revision: string };
  const comparison = doc.comparisons[1] as { id: string; question: string };

  it('--principle ID prints the critique and revision prompts of that principle', () => {
    const r = cai(['preview', file, '--principle', principle.id]);
    assert.equal(r.code, 0, show(r));
    assert.ok(r.stdout.includes(`CritiqueRequest: ${principle.critique}\n\nCritique:\n`), `the critique request, then the default template's "Critique:" ending\n${show(r)}`);
    assert.ok(r.stdout.includes(`RevisionRequest: ${principle.revision}\n\nRevision:`), show(r));
    assert.ok(r.stdout.includes(principle.id), show(r));
    assert.doesNotMatch(r.stdout, /comparison prompt/, 'only the principle asked for');
    for (const other of doc.principles.slice(1)) assert.ok(!r.stdout.includes(other.critique), `not the critique of ${other.id}`);
  });

  it('--comparison ID prints the comparison prompts of that comparison', () => {
    const r = cai(['preview', file, '--comparison', comparison.id]);
    assert.equal(r.code, 0, show(r));
    assert.ok(r.stdout.includes(comparison.question), show(r));
    assert.match(r.stdout, /\(A\) /);
    assert.match(r.stdout, /\(B\) /);
    assert.doesNotMatch(r.stdout, /CritiqueRequest:/, 'no critique prompt when only a comparison is asked for');
  });

  it('--json gives parseable JSON with principle.critique.text', () => {
    const r = cai(['preview', file, '--principle', principle.id, '--json']);
    assert.equal(r.code, 0, show(r));
    const j = JSON.parse(r.stdout) as { principle: { id: string; critique: { text: string }; revision: { text: string } } };
    assert.equal(j.principle.id, principle.id);
    assert.equal(typeof j.principle.critique.text, 'string');
    assert.ok(j.principle.critique.text.includes(`CritiqueRequest: ${principle.critique}`));
    assert.ok(j.principle.critique.text.endsWith('\n\nCritique:'), JSON.stringify(j.principle.critique.text.slice(-80)));
    assert.ok(j.principle.revision.text.endsWith('\n\nRevision:'), JSON.stringify(j.principle.revision.text.slice(-80)));
  });

  it('an unknown principle id exits 1 with one line naming the available ids', () => {
    const line = assertOneLineFailure(cai(['preview', file, '--principle', 'no-such-principle']), { code: 1, matches: /no-such-principle/ });
    for (const p of doc.principles) assert.ok(line.includes(p.id), `names ${p.id}: ${line}`);
    const cline = assertOneLineFailure(cai(['preview', file, '--comparison', 'no-such-comparison']), { code: 1 });
    for (const c of doc.comparisons) assert.ok(cline.includes(c.id), `names ${c.id}: ${cline}`);
  });
});

describe('cai import / export', () => {
  // the real files when this machine has them; the project's own files of the same shape always
  const anthropicSources: [string, string, string | false][] = [
    ['the real files', ANTHROPIC, skipAnthropic],
    ['test/fixtures/formats/anthropic-mini', path.join(repoRoot, 'test', 'fixtures', 'formats', 'anthropic-mini'), false],
  ];
  for (const [label, source, skip] of anthropicSources) it(`anthropic (${label}): import, validate, refuse to overwrite, export five byte-identical files`, { skip }, () => {
    const ANTHROPIC = source;
    const dir = tempDir();
    const rel = path.relative(dir, ANTHROPIC);
    const imp = cai(['import', 'anthropic', rel, '-o', 'out.constitution.yaml'], dir);
    assert.equal(imp.code, 0, show(imp));
    const out = path.join(dir, 'out.constitution.yaml');
    assert.ok(existsSync(out), 'the constitution is written');
    const written = readFileSync(out, 'utf8');
    const v = cai(['validate', 'out.constitution.yaml'], dir);
    assert.equal(v.code, 0, show(v));

    const again = cai(['import', 'anthropic', rel, '-o', 'out.constitution.yaml'], dir);
    assertOneLineFailure(again, { code: 1, matches: /out\.constitution\.yaml/ });
    assert.equal(readFileSync(out, 'utf8'), written, 'left unchanged without --force');
    const forced = cai(['import', 'anthropic', rel, '-o', 'out.constitution.yaml', '--force'], dir);
    assert.equal(forced.code, 0, show(forced));

    const exp = cai(['export', 'anthropic', 'out.constitution.yaml', '-o', 'folder'], dir);
    assert.equal(exp.code, 0, show(exp));
    const exported = readdirSync(path.join(dir, 'folder')).sort();
    assert.deepEqual(exported, ANTHROPIC_FILES);
    for (const f of ANTHROPIC_FILES) {
      const a = readFileSync(path.join(dir, 'folder', f));
      const b = readFileSync(path.join(ANTHROPIC, f));
      assert.ok(a.equals(b), `${f} is byte-identical to the original (${a.length} vs ${b.length} bytes)`);
    }
    assertOneLineFailure(cai(['export', 'anthropic', 'out.constitution.yaml', '-o', 'folder'], dir), { code: 1 });
  });

  // Written as Python's json.dumps(value, indent=2, ensure_ascii=False) + "\n" writes them, so that
  // an exact round trip gives the same bytes.
  const py = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

  it('llm-swarm: import, validate, export gives the same bytes', () => {
    const dir = tempDir();
    const swarm = {
      constitutions: [
        { critic: 'Does the reply promise something the assistant cannot actually do? Name each such promise.', revision: 'Rewrite the reply so that it only offers what the assistant can really do.' },
        { critic: 'Is the reply curt or dismissive toward someone who is clearly upset?', revision: 'Rewrite the reply with patience and warmth, keeping every useful detail — and the café tip.' },
      ],
      system_chat: [
        [
          { role: 'user', content: 'Can you call my bank and cancel the payment for me?' },
          { role: 'assistant', content: "Sure, I'll call them right now and sort it out." },
          { role: 'user', content: 'Does the reply promise something the assistant cannot actually do? Name each such promise.' },
          { role: 'assistant', content: 'It promises to phone the bank, which the assistant cannot do.' },
          { role: 'user', content: 'Rewrite the reply so that it only offers what the assistant can really do.' },
          { role: 'assistant', content: "I can't make calls, but I can help you write what to say when you ring your bank's card line." },
        ],
      ],
    };
    const text = py(swarm);
    write(dir, 'swarm.json', text);
    const imp = cai(['import', 'llm-swarm', 'swarm.json', '-o', 'swarm.constitution.yaml'], dir);
    assert.equal(imp.code, 0, show(imp));
    const v = cai(['validate', 'swarm.constitution.yaml'], dir);
    assert.equal(v.code, 0, show(v));
    const exp = cai(['export', 'llm-swarm', 'swarm.constitution.yaml', '-o', 'back.json'], dir);
    assert.equal(exp.code, 0, show(exp));
    const back = readFileSync(path.join(dir, 'back.json'), 'utf8');
    assert.deepEqual(JSON.parse(back), swarm);
    assert.equal(back, text, 'byte-identical');
  });

  it('langchain: import, validate, export gives the same bytes', () => {
    const dir = tempDir();
    const principles = [
      { critique_request: 'Does the reply give a precise figure where only an estimate is possible?', revision_request: 'Rewrite the reply to give a range and say what it depends on.', name: 'honest-numbers' },
      { critique_request: 'Is the reply written for an expert when the question came from a beginner?', revision_request: 'Rewrite the reply in plain words a beginner can follow.', name: 'Plain Words' },
    ];
    const text = py(principles);
    write(dir, 'chain.json', text);
    const imp = cai(['import', 'langchain', 'chain.json', '-o', 'chain.constitution.yaml'], dir);
    assert.equal(imp.code, 0, show(imp));
    const v = cai(['validate', 'chain.constitution.yaml'], dir);
    assert.equal(v.code, 0, show(v));
    const exp = cai(['export', 'langchain', 'chain.constitution.yaml', '-o', 'back.json'], dir);
    assert.equal(exp.code, 0, show(exp));
    const back = readFileSync(path.join(dir, 'back.json'), 'utf8');
    assert.deepEqual(JSON.parse(back), principles);
    assert.equal(back, text, 'byte-identical');
  });

  it('export of a file with errors exits 1 with one line and writes nothing', () => {
    const dir = tempDir();
    write(dir, 'typo.constitution.yaml', TYPO);
    assertOneLineFailure(cai(['export', 'langchain', 'typo.constitution.yaml', '-o', 'out.json'], dir), { code: 1, matches: /typo\.constitution\.yaml/ });
    assertOneLineFailure(cai(['export', 'anthropic', 'typo.constitution.yaml', '-o', 'folder'], dir), { code: 1 });
    assert.equal(existsSync(path.join(dir, 'out.json')), false);
    assert.equal(existsSync(path.join(dir, 'folder')), false);
  });
});

describe('cai format', () => {
  it('--check exits 1 when the file would change, 0 after `cai format` rewrote it; comments survive', () => {
    const dir = tempDir();
    const source = [
      '# A constitution with untidy indentation.',
      'name: untidy   # the name',
      'principles:',
      '    -   id: kind',
      '        # why this principle exists',
      '        critique: Is the answer kind to the person asking?',
      '        revision: Rewrite the answer so that it is kind.',
      '# closing remark',
      '',
    ].join('\n');
    const p = write(dir, 'untidy.constitution.yaml', source);
    const check = cai(['format', 'untidy.constitution.yaml', '--check'], dir);
    assert.equal(check.code, 1, show(check));
    assert.equal(readFileSync(p, 'utf8'), source, '--check leaves the file alone');
    const fmt = cai(['format', 'untidy.constitution.yaml'], dir);
    assert.equal(fmt.code, 0, show(fmt));
    const formatted = readFileSync(p, 'utf8');
    assert.notEqual(formatted, source);
    for (const c of ['# A constitution with untidy indentation.', '# the name', '# why this principle exists', '# closing remark']) assert.ok(formatted.includes(c), `keeps "${c}":\n${formatted}`);
    assert.match(formatted, /^ {2}- id: kind$/m, formatted);
    const recheck = cai(['format', 'untidy.constitution.yaml', '--check'], dir);
    assert.equal(recheck.code, 0, show(recheck));
    const v = cai(['validate', 'untidy.constitution.yaml'], dir);
    assert.equal(v.code, 0, show(v));
  });

  it('a file with a YAML syntax error is left alone, exit 1', () => {
    const dir = tempDir();
    const text = 'name: [unclosed\nprinciples:\n';
    const p = write(dir, 'bad.constitution.yaml', text);
    const r = cai(['format', 'bad.constitution.yaml'], dir);
    assert.equal(r.code, 1, show(r));
    assert.equal(readFileSync(p, 'utf8'), text);
  });
});

describe('cai help and version', () => {
  it('--help exits 0 and lists the commands', () => {
    const r = cai(['--help']);
    assert.equal(r.code, 0, show(r));
    for (const c of ['validate', 'format', 'preview', 'import', 'export', 'lsp']) assert.match(r.stdout, new RegExp(`^\\s+${c}\\s`, 'm'), `lists ${c}`);
  });

  it('help validate shows its usage', () => {
    const r = cai(['help', 'validate']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /usage: cai validate /, show(r));
    const flag = cai(['validate', '--help']);
    assert.equal(flag.code, 0, show(flag));
    assert.match(flag.stdout, /usage: cai validate /, show(flag));
  });

  it("--version prints package.json's version", () => {
    const r = cai(['--version']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `${PACKAGE_VERSION}\n`);
  });

  it('npx --no-install cai --version works from the repository root', () => {
    const r = spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--no-install', 'cai', '--version'], { cwd: repoRoot, encoding: 'utf8', env: cleanEnv(), timeout: 60_000 });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout.trim(), PACKAGE_VERSION);
  });
});

describe('cai lsp --stdio', () => {
  it('answers initialize with capabilities, then exits 0 after shutdown and exit', { timeout: 30_000 }, async () => {
    const child = spawn(process.execPath, [CLI, 'lsp', '--stdio'], { cwd: repoRoot, env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let ended = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => {
        ended = true;
        resolve({ code, signal });
      }),
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // responses by id, from Content-Length framed messages
    let buf = Buffer.alloc(0);
    const messages: { id?: number; result?: unknown; error?: unknown; method?: string }[] = [];
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const headerEnd = buf.indexOf('\r\n\r\n');
        if (headerEnd === -1) break;
        const m = /Content-Length: *(\d+)/i.exec(buf.subarray(0, headerEnd).toString('ascii'));
        assert.ok(m, `a Content-Length header: ${buf.subarray(0, headerEnd).toString()}`);
        const len = Number(m[1]);
        if (buf.length < headerEnd + 4 + len) break;
        messages.push(JSON.parse(buf.subarray(headerEnd + 4, headerEnd + 4 + len).toString('utf8')));
        buf = buf.subarray(headerEnd + 4 + len);
      }
      for (const w of waiters.splice(0)) w();
    });
    const send = (msg: object) => {
      const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
      child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
      child.stdin.write(body);
    };
    const response = async (id: number, ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = messages.find((x) => x.id === id && (x.result !== undefined || x.error !== undefined || 'result' in x));
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no response to request ${id} within ${ms} ms; stderr: ${stderr}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), exited, new Promise((r) => setTimeout(r, left).unref())]);
        if (ended && !messages.some((x) => x.id === id)) throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before answering ${id}; stderr: ${stderr}`);
      }
    };
    try {
      send({ id: 1, method: 'initialize', params: { processId: process.pid, rootUri: null, capabilities: {}, workspaceFolders: null } });
      const init = (await response(1, 15_000)) as { result?: { capabilities?: { completionProvider?: unknown } }; error?: unknown };
      assert.equal(init.error, undefined, JSON.stringify(init.error));
      assert.ok(init.result?.capabilities?.completionProvider, JSON.stringify(init.result));
      send({ method: 'initialized', params: {} });
      send({ id: 2, method: 'shutdown' });
      const down = await response(2, 10_000);
      assert.equal(down.error, undefined, JSON.stringify(down.error));
      send({ method: 'exit' });
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000).unref());
      const end = await Promise.race([exited, timeout]);
      assert.notEqual(end, 'timeout', `the server did not exit within 5 s of 'exit'; stderr: ${stderr}`);
      assert.deepEqual(end, { code: 0, signal: null }, `stderr: ${stderr}`);
    } finally {
      if (!ended) {
        child.kill();
        await exited;
      }
    }
  });
});
