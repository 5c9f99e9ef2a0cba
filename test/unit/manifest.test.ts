import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { constitutionJsonSchema } from '../../src/core/constitution/jsonSchema.js';
import { COMMAND_TITLES, TRUSTED_ONLY_COMMANDS, untrustedMessage } from '../../src/protocol/commands.js';
import { SETTINGS } from '../../src/protocol/settings.js';

const REPO = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));

describe('extension manifest', () => {
  it('contributes exactly the commands of the command table', () => {
    const contributed = (pkg.contributes.commands as { command: string; title: string; category: string; enablement?: string }[]);
    assert.deepEqual(contributed.map((c) => c.command).sort(), Object.keys(COMMAND_TITLES).sort());
    for (const c of contributed) {
      assert.equal(c.title, COMMAND_TITLES[c.command as keyof typeof COMMAND_TITLES], c.command);
      assert.equal(c.category, 'Constitution');
      // Restricted Mode refuses these with a message (untrustedMessage) instead of hiding them
      assert.equal(c.enablement, undefined, `${c.command}: no enablement, so Restricted Mode can say why it refuses`);
    }
    for (const id of TRUSTED_ONLY_COMMANDS) assert.match(untrustedMessage(id), new RegExp(`^Constitution: ${COMMAND_TITLES[id].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} needs a trusted workspace`));
    const table = fs.readFileSync(path.join(REPO, 'src', 'extension', 'commands.ts'), 'utf8');
    for (const id of Object.keys(COMMAND_TITLES)) assert.ok(table.includes(`'${id}':`), `${id} has a handler`);
  });

  it('declares the settings of protocol/settings.ts, with the same types and defaults', () => {
    const props = pkg.contributes.configuration.properties as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(props).sort(), Object.keys(SETTINGS).sort());
    for (const [key, spec] of Object.entries(SETTINGS)) {
      const p = props[key] as Record<string, unknown>;
      assert.equal(p.type, spec.type, key);
      assert.deepEqual(p.default, spec.default, key);
      assert.equal(p.description, spec.description, key);
      for (const k of ['minimum', 'maximum', 'enum', 'scope'] as const) {
        if (k in spec) assert.deepEqual(p[k], (spec as Record<string, unknown>)[k], `${key}.${k}`);
      }
    }
  });

  it('activates only on constitutions, run files, JSONL records, its views and commands, never at start-up', () => {
    assert.deepEqual(pkg.activationEvents, ['onLanguage:constitution', 'onLanguage:constitution-run', 'onLanguage:jsonl']);
    assert.ok(!pkg.activationEvents.some((e: string) => e.startsWith('workspaceContains') || e === 'onStartupFinished'));
    assert.ok(!JSON.stringify(pkg.activationEvents).includes('*'));
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  });

  it('points only at files that exist', () => {
    const c = pkg.contributes;
    const paths = [
      pkg.main.replace(/^\.\//, '').replace('dist/', 'src/').replace(/extension\.js$/, 'extension/main.ts'),
      c.languages[0].configuration,
      c.languages[0].icon.light,
      ...c.grammars.map((g: { path: string }) => g.path),
      ...c.snippets.map((s: { path: string }) => s.path),
      ...c.yamlValidation.map((v: { url: string }) => v.url),
      ...c.jsonValidation.map((v: { url: string }) => v.url),
    ];
    for (const p of paths) assert.ok(fs.existsSync(path.join(REPO, p)), `${p} exists`);
    assert.equal(pkg.bin.cai, 'dist/cli.js');
  });

  it('ships the JSON Schema generated from the format description (npm run gen:schema)', () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', 'constitution.schema.json'), 'utf8'));
    assert.deepEqual(shipped, constitutionJsonSchema());
  });

  it('the JSON Schema accepts the examples and rejects what the validator rejects', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const validate = ajv.compile(constitutionJsonSchema());
    for (const f of fs.readdirSync(path.join(REPO, 'examples')).filter((n) => n.endsWith('.constitution.yaml'))) {
      const doc = parse(fs.readFileSync(path.join(REPO, 'examples', f), 'utf8'));
      assert.ok(validate(doc), `${f}: ${JSON.stringify(validate.errors)}`);
    }
    const bad = (doc: unknown) => assert.equal(validate(doc), false, JSON.stringify(doc));
    bad({ name: 'x', principles: [{ id: 'a', critique: 'c', revison: 'r' }] });
    bad({ name: 'x', principles: [{ id: '9a', critique: 'c', revision: 'r' }] });
    bad({ name: 'x', principles: [{ id: 'a', critique: ' ', revision: 'r' }] });
    bad({ name: 'x', principles: [{ id: 'a', critique: 'c', revision: 'r', weight: -1 }] });
    bad({ name: 'x', examples: { comparison: [{ conversation: [{ human: 'h', assistant: 'a' }], response_a: 'a', response_b: 'b', answer: 'A' }] } });
    assert.ok(validate({ name: 'x', 'x-tool': { anything: 1 }, principles: [{ id: 'a', critique: 'c', revision: 'r', 'x-note': 1 }] }));
  });
});
