// Inline inspection in the editor (issue 6 §5): hints, hovers and diagnostics on a run's
// pairs.jsonl and revisions.jsonl, and per-principle CodeLenses on constitutions. Registering is
// cheap: providers, a diagnostic collection and document listeners; nothing is searched or read
// until a relevant document is shown.

import * as vscode from 'vscode';
import { ConstitutionLens, type SharedRunIndex } from './constitutionLens.js';
import { JsonlInspection } from './jsonlInspection.js';

export { TRY_PRINCIPLE_COMMAND, type SharedRunIndex } from './constitutionLens.js';
export { SHOW_PAIRS_COMMAND } from './jsonlInspection.js';

/** Documents the JSONL inspection looks at (it then keeps only pairs/revisions files and files whose lines look like them). */
const JSONL: vscode.DocumentSelector = [{ pattern: '**/*.jsonl' }];
const CONSTITUTION: vscode.DocumentSelector = [{ language: 'constitution' }, { pattern: '**/*.constitution.{yaml,yml,json}' }];

/**
 * Registers the inline inspection. The returned disposable is also added to
 * `context.subscriptions`; disposing it earlier (e.g. on a restart of the features) is fine.
 * `runs`: the extension's run index (src/extension/runs/runIndex.ts fits), so that the
 * constitution lenses do not search and watch manifests a second time; without it they do their
 * own search, the first time a constitution is shown.
 */
export function registerInlineInspection(context: vscode.ExtensionContext, runs?: SharedRunIndex): vscode.Disposable {
  const jsonl = new JsonlInspection();
  const lens = new ConstitutionLens(runs);
  const all = vscode.Disposable.from(
    jsonl,
    lens,
    vscode.languages.registerInlayHintsProvider(JSONL, jsonl),
    vscode.languages.registerHoverProvider(JSONL, jsonl),
    vscode.languages.registerCodeLensProvider(CONSTITUTION, lens),
  );
  context.subscriptions.push(all);
  return all;
}
