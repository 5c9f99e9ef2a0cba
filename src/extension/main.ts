import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { PreviewPanelState } from '../protocol/webview.js';
import { startLanguageClient } from './client.js';
import { COMMANDS, type Services } from './commands.js';
import { registerInlineInspection } from './inline/index.js';
import { log } from './log.js';
import { RUN_PANELS } from './panels/index.js';
import { PREVIEW_VIEW_TYPE, PreviewPanel } from './panels/previewPanel.js';
import type { PanelServices } from './panels/registry.js';
import { registerStepDocuments } from './panels/stepDocuments.js';
import { RunIndex } from './runs/runIndex.js';
import { RunsView } from './runs/runsView.js';
import { RunController, trainerLog } from './training/runController.js';

let client: LanguageClient | undefined;

/**
 * Composition root: start the language client, register commands, the runs view, panel
 * serializers and inline inspection. Activation happens when a constitution or run file is
 * opened, the runs view is shown, or one of our commands runs — never at start-up.
 */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const started = Date.now();
  try {
    let starting: Promise<LanguageClient> | undefined;
    const getClient = () => (starting ??= startLanguageClient(context).then((c) => (client = c)));
    const index = new RunIndex(context);
    const controller = new RunController(context, {
      runDirKnown: (dir) => {
        index.touch(dir);
        void view.reveal(dir);
      },
      ended: (end) => end.runDir && index.touch(end.runDir),
    });
    const view = new RunsView(index, controller);
    const services: Services = { context, client: getClient, index, controller, view: () => view };
    for (const [id, handler] of Object.entries(COMMANDS)) {
      context.subscriptions.push(vscode.commands.registerCommand(id, (...args: unknown[]) => handler(services, ...args)));
    }
    const panelServices: PanelServices = { context, extensionUri: context.extensionUri };
    for (const kind of Object.values(RUN_PANELS)) {
      context.subscriptions.push(
        vscode.window.registerWebviewPanelSerializer(kind.viewType, {
          async deserializeWebviewPanel(panel, state: unknown) {
            kind.restore(panelServices, panel, state);
          },
        }),
      );
    }
    context.subscriptions.push(
      vscode.window.registerWebviewPanelSerializer(PREVIEW_VIEW_TYPE, {
        async deserializeWebviewPanel(panel, state: PreviewPanelState | undefined) {
          PreviewPanel.restore(panel, context.extensionUri, await getClient(), state);
        },
      }),
      registerStepDocuments(context),
      registerInlineInspection(context, index),
      index,
      view,
      controller,
      trainerLog,
      log,
    );
    // The language server starts with the first constitution or run file (it is what activated us then).
    const languageFile = vscode.workspace.textDocuments.some((d) => d.languageId === 'constitution' || d.languageId === 'constitution-run');
    const startServer = () =>
      void getClient().catch((e: Error) => {
        log.error(`Language server failed to start: ${e.message}`);
        void vscode.window.showErrorMessage(`Constitution language server failed to start: ${e.message}`);
      });
    if (languageFile) startServer();
    else {
      const sub = vscode.workspace.onDidOpenTextDocument((d) => {
        if (d.languageId === 'constitution' || d.languageId === 'constitution-run') {
          sub.dispose();
          startServer();
        }
      });
      context.subscriptions.push(sub);
    }
    log.info(`Constitution Studio activated in ${Date.now() - started} ms`);
  } catch (e) {
    void vscode.window.showErrorMessage(`Constitution Studio failed to activate: ${(e as Error).message}`);
    throw e;
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
