import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { PreviewPromptsRequest, type PreviewPromptsParams, type PreviewPromptsResult } from '../protocol/lsp.js';

export const LANGUAGE_ID = 'constitution';
/** Run files (`*.run.yaml`); the server answers for them too (src/server/features/runConfig.ts). */
export const RUN_LANGUAGE_ID = 'constitution-run';

/**
 * What the rest of the extension asks of the language server. The extension's own bundle never
 * touches a LanguageClient or a request type object: those belong to this bundle's copy of
 * vscode-jsonrpc, which checks them by identity.
 */
export interface LanguageService {
  previewPrompts(params: PreviewPromptsParams): Promise<PreviewPromptsResult | null>;
  stop(): Promise<void>;
}

/**
 * Starts the language server (dist/server.js) as a separate Node process over IPC. The server
 * validates, completes and navigates; the client only forwards.
 *
 * This module is its own bundle (dist/client.js), loaded when the first constitution or run file
 * opens, so activation does not pay for loading the language client library. It therefore takes
 * the extension's log channel as an argument rather than importing one of its own.
 */
export async function startLanguageService(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<LanguageService> {
  const module = vscode.Uri.joinPath(context.extensionUri, 'dist', 'server.js').fsPath;
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6010'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { language: LANGUAGE_ID, scheme: 'file' },
      { language: LANGUAGE_ID, scheme: 'untitled' },
      { pattern: '**/*.constitution.json', scheme: 'file' },
      { language: RUN_LANGUAGE_ID, scheme: 'file' },
      { language: RUN_LANGUAGE_ID, scheme: 'untitled' },
      // run files left in the `yaml` language (e.g. by files.associations) are served too
      { pattern: '**/*.run.{yaml,yml}', scheme: 'file' },
    ],
    outputChannel: log,
    synchronize: { configurationSection: 'constitution' },
  };
  const client = new LanguageClient('constitution', 'Constitution Language Server', serverOptions, clientOptions);
  await client.start();
  return {
    previewPrompts: (params) => client.sendRequest(PreviewPromptsRequest, params),
    stop: () => client.stop(),
  };
}
