import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DiagnosticCodes } from '../../src/core/constitution/diagnostics.js';
import { ConstitutionWorkspace } from '../../src/core/constitution/resolve.js';
import { PLACEHOLDERS, TEMPLATES, TEMPLATE_NAMES } from '../../src/core/constitution/templates.js';
import { constitutionSpec } from '../../src/core/constitution/schema.js';

const REPO = path.resolve(__dirname, '..', '..');
const DOC = fs.readFileSync(path.join(REPO, 'docs', 'constitution-format.md'), 'utf8');

const fsHost = {
  read: (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
  },
  resolve: (from: string, rel: string) => path.resolve(path.dirname(from), rel),
  display: (f: string) => path.basename(f),
};

describe('docs/constitution-format.md agrees with the validator', () => {
  const codes = Object.values(DiagnosticCodes);

  it('lists every diagnostic code in its table and has a section for each', () => {
    for (const c of codes) {
      assert.ok(DOC.includes(`| [\`${c}\`]`), `table row for ${c}`);
      assert.ok(DOC.includes(`#### \`${c}\``), `section for ${c}`);
    }
  });

  const sections = DOC.split(/^#### `/m).slice(1);
  for (const sec of sections) {
    const code = sec.slice(0, sec.indexOf('`'));
    if (code === 'internal-error') continue;
    it(`its example for ${code} produces ${code}`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-doc-'));
      try {
        const blocks = [...sec.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
        assert.ok(blocks.length > 0, `a yaml example under ${code}`);
        let root: string | undefined;
        for (const b of blocks) {
          const m = /^# (\S+\.constitution\.yaml)\n/.exec(b);
          const name = m ? (m[1] as string) : 'demo.constitution.yaml';
          fs.writeFileSync(path.join(dir, name), b);
          if (!m && root === undefined) root = name;
        }
        root ??= /^# (\S+)/.exec(blocks[0] as string)?.[1];
        const res = new ConstitutionWorkspace(fsHost).resolve(path.join(dir, root as string));
        assert.ok(res);
        assert.ok(
          res.diagnostics.some((d) => d.code === code),
          `${code} expected; got ${res.diagnostics.map((d) => d.code).join(', ')}`,
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('documents every key of the format and every template with its exact default', () => {
    const keys = new Set<string>();
    const walk = (spec: { type: string; fields?: Record<string, { spec: unknown }>; items?: unknown }) => {
      if (spec.type === 'object') for (const [k, f] of Object.entries(spec.fields ?? {})) {
        keys.add(k);
        walk(f.spec as never);
      }
      if (spec.type === 'array') walk(spec.items as never);
    };
    walk(constitutionSpec as never);
    for (const k of keys) assert.ok(DOC.includes(`\`${k}\``) || DOC.includes(`${k}:`), `key ${k} documented`);
    for (const name of TEMPLATE_NAMES) {
      assert.ok(DOC.includes(`\`${name}\``), `template ${name} documented`);
      assert.ok(DOC.includes(JSON.stringify(TEMPLATES[name].default)) || DOC.includes(TEMPLATES[name].default), `default of ${name} shown exactly`);
    }
    for (const p of Object.keys(PLACEHOLDERS)) assert.ok(DOC.includes(`{${p}}`), `placeholder {${p}} documented`);
  });
});
