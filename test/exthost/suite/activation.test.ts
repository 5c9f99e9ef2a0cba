import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import { COMMAND_TITLES } from '../../../src/protocol/commands.js';
import { extensionId, waitFor, workspaceDir } from './util.js';

/**
 * Activation, as the extension host sees it: nothing runs at start-up, opening a constitution
 * activates the extension, and then every command of the command table is registered. Runs
 * first (index.ts orders it so), before any other test opens a file of ours.
 */
suite('activation', () => {
  test('is not active before a constitution or run file is opened', function () {
    this.timeout(10_000);
    const ext = vscode.extensions.getExtension(extensionId());
    assert.ok(ext, `extension ${extensionId()} is not loaded (extensionDevelopmentPath should be the repository)`);
    assert.equal(ext.isActive, false, 'the extension activated at start-up, before any trigger');
  });

  test('opening a .constitution.yaml activates it, and activate() resolves', async function () {
    this.timeout(60_000);
    const ext = vscode.extensions.getExtension(extensionId())!;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(workspaceDir(), 'harmless-helpful.constitution.yaml')));
    assert.equal(doc.languageId, 'constitution');
    await vscode.window.showTextDocument(doc);
    // activation follows the onLanguage:constitution event; it is not asked for here
    await waitFor('the extension to activate after opening a constitution', () => ext.isActive, 30_000);
    // resolves once activate() has (its rejection would reject this)
    await ext.activate();
  });

  test('registers every command of src/protocol/commands.ts', async function () {
    this.timeout(10_000);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = Object.keys(COMMAND_TITLES).filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], `commands not registered: ${missing.join(', ')}`);
  });
});
