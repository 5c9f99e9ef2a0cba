import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import { formatDiagnostics, waitForDiagnostics, workspaceDir } from './util.js';

/**
 * The language server's diagnostics reach the editor: opening a constitution with known mistakes
 * (test/fixtures/lsp/broken.constitution.yaml, copied into the test workspace) gives each one at
 * its place — the same mistakes and places the code-server journey finds in the Problems panel.
 */

/** [message start, 1-based line, 1-based column, severity] */
const EXPECTED: [string, number, number, vscode.DiagnosticSeverity][] = [
  ["Unknown key 'revison' in a principle. Did you mean 'revision'?", 8, 5, vscode.DiagnosticSeverity.Error],
  ['Unknown placeholder {respone_a}', 4, 43, vscode.DiagnosticSeverity.Error],
  ["Duplicate id 'kind'", 9, 9, vscode.DiagnosticSeverity.Error],
  ["Unknown principle 'harmfull'. Did you mean 'harmful'?", 14, 18, vscode.DiagnosticSeverity.Error],
];

const has = (ds: readonly vscode.Diagnostic[], [message, line, col]: (typeof EXPECTED)[number]): vscode.Diagnostic | undefined =>
  ds.find((d) => d.message.startsWith(message) && d.range.start.line === line - 1 && d.range.start.character === col - 1);

suite('diagnostics', () => {
  test('a constitution with mistakes gets them from the language server, at their lines', async function () {
    this.timeout(90_000);
    const uri = vscode.Uri.file(path.join(workspaceDir(), 'broken.constitution.yaml'));
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
    const ds = await waitForDiagnostics(uri, (d) => EXPECTED.every((e) => has(d, e)), 60_000);
    for (const e of EXPECTED) {
      const d = has(ds, e)!;
      assert.equal(d.severity, e[3], `severity of '${d.message}'`);
    }
    // nothing is reported on the lines that are right (the first line: `name: broken`)
    assert.ok(!ds.some((d) => d.range.start.line === 0), `unexpected diagnostic on line 1:\n${formatDiagnostics(ds)}`);
  });
});
