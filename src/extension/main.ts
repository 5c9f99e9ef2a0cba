import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { PreviewPanelState } from '../protocol/webview.js';
import { startLanguageClient } from './client.js';
import { COMMANDS, type Services } from './commands.js';
import { log } from './log.js';
import { PREVIEW_VIEW_TYPE, PreviewPanel } from './panels/previewPanel.js';

let client: LanguageClient | undefined;

/**
 * Composition root: start the language client, register commands and panel serializers.
 * Activation happens when a constitution is opened or one of our commands runs.
 */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const started = Date.now();
  try {
    let starting: Promise<LanguageClient> | undefined;
    const getClient = () => (starting ??= startLanguageClient(context).then((c) => (client = c)));
    const services: Services = { context, client: getClient };
    for (const [id, handler] of Object.entries(COMMANDS)) {
      context.subscriptions.push(vscode.commands.registerCommand(id, (...args: unknown[]) => handler(services, ...args)));
    }
    context.subscriptions.push(
      vscode.window.registerWebviewPanelSerializer(PREVIEW_VIEW_TYPE, {
        async deserializeWebviewPanel(panel, state: PreviewPanelState | undefined) {
          PreviewPanel.restore(panel, context.extensionUri, await getClient(), state);
        },
      }),
      log,
    );
    void getClient().catch((e: Error) => {
      log.error(`Language server failed to start: ${e.message}`);
      void vscode.window.showErrorMessage(`Constitution language server failed to start: ${e.message}`);
    });
    log.info(`Constitution Studio activated in ${Date.now() - started} ms`);
  } catch (e) {
    void vscode.window.showErrorMessage(`Constitution Studio failed to activate: ${(e as Error).message}`);
    throw e;
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
