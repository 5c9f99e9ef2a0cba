import * as path from 'node:path';
import * as vscode from 'vscode';
import type * as ClientModule from './client.js';
import { TRUSTED_ONLY_COMMANDS, untrustedMessage, type CommandId } from '../protocol/commands.js';
import type { PreviewPanelState } from '../protocol/webview.js';
import { COMMANDS, type Services } from './commands.js';
import { registerInlineInspection } from './inline/index.js';
import { log } from './log.js';
import { RUN_PANELS } from './panels/index.js';
import { PREVIEW_VIEW_TYPE, PreviewPanel } from './panels/previewPanel.js';
import type { PanelServices } from './panels/registry.js';
import { registerStepDocuments } from './panels/stepDocuments.js';
import { RemoteRuns } from './runs/remoteRuns.js';
import { RunIndex } from './runs/runIndex.js';
import { RunsView } from './runs/runsView.js';
import { RunController, trainerLog } from './training/runController.js';

let client: ClientModule.LanguageService | undefined;

/** Set by the bundle's first line (scripts/build.mjs): when the extension's code began to load. */
declare const __caiModuleStart: number | undefined;

/**
 * The language client lives in its own bundle, dist/client.js, next to this one; it is loaded
 * only when the language server is first needed. A computed path keeps the bundler from inlining it.
 */
function loadClientModule(): typeof ClientModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(__dirname, 'client.js')) as typeof ClientModule;
}

/**
 * Composition root: start the language client, register commands, the runs view, panel
 * serializers and inline inspection. Activation happens when a constitution or run file is
 * opened, the runs view is shown, or one of our commands runs — never at start-up.
 */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const started = performance.now();
  try {
    let starting: Promise<ClientModule.LanguageService> | undefined;
    const getClient = () => (starting ??= Promise.resolve().then(() => loadClientModule().startLanguageService(context, log)).then((c) => (client = c)));
    const index = new RunIndex(context);
    const controller = new RunController(context, {
      runDirKnown: (dir) => {
        index.touch(dir);
        void view.reveal(dir);
      },
      ended: (end) => end.runDir && index.touch(end.runDir),
    });
    const remote = new RemoteRuns(context, index);
    const view = new RunsView(index, controller, remote);
    const services: Services = { context, client: getClient, index, controller, view: () => view, remote };
    for (const [id, handler] of Object.entries(COMMANDS)) {
      const trustedOnly = (TRUSTED_ONLY_COMMANDS as readonly string[]).includes(id);
      context.subscriptions.push(
        vscode.commands.registerCommand(id, (...args: unknown[]) => (trustedOnly && !vscode.workspace.isTrusted ? refuseUntrusted(id as CommandId) : handler(services, ...args))),
      );
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
      remote,
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
    const done = performance.now();
    // From the bundle's first line: includes the time VS Code takes to prepare the extension
    // context between loading the code and calling activate (VS Code's Running Extensions view
    // shows its own, narrower measurement).
    const since = typeof __caiModuleStart === 'number' ? ` (${Math.round(done - __caiModuleStart)} ms since its code began to load)` : '';
    log.info(`Constitution Studio activated: activate took ${Math.round(done - started)} ms${since}`);
  } catch (e) {
    void vscode.window.showErrorMessage(`Constitution Studio failed to activate: ${(e as Error).message}`);
    throw e;
  }
}

/** Restricted Mode's answer to a command that needs trust: why, and the way to trust the folder. */
async function refuseUntrusted(id: CommandId): Promise<void> {
  const pick = await vscode.window.showErrorMessage(untrustedMessage(id), 'Manage Workspace Trust');
  if (pick) await vscode.commands.executeCommand('workbench.trust.manage');
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
