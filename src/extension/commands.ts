import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { isConstitutionFile } from '../core/constitution/fileNames.js';
import type { CommandId } from '../protocol/commands.js';
import { PreviewPromptsRequest } from '../protocol/lsp.js';
import { exportCommand, importCommand } from './importExport.js';
import { PreviewPanel } from './panels/previewPanel.js';

export interface Services {
  context: vscode.ExtensionContext;
  client: () => Promise<LanguageClient>;
}

type Handler = (services: Services, ...args: unknown[]) => unknown;

const isConstitution = (uri: vscode.Uri | undefined): uri is vscode.Uri => Boolean(uri && isConstitutionFile(uri.path));

async function chooseConstitution(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri && isConstitution(arg)) return arg;
  const active = vscode.window.activeTextEditor?.document;
  if (active && (active.languageId === 'constitution' || isConstitution(active.uri))) return active.uri;
  const found = await vscode.workspace.findFiles('**/*.constitution.{yaml,yml,json}', '**/node_modules/**', 200);
  if (found.length === 0) {
    void vscode.window.showWarningMessage('No *.constitution.yaml file is open or in the workspace.');
    return undefined;
  }
  if (found.length === 1) return found[0];
  const pick = await vscode.window.showQuickPick(
    found.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })),
    { title: 'Preview prompts of which constitution?' },
  );
  return pick?.uri;
}

async function previewPrompts(s: Services, arg?: unknown, principleArg?: unknown): Promise<void> {
  const uri = await chooseConstitution(arg);
  if (!uri) return;
  const client = await s.client();
  let principle = typeof principleArg === 'string' ? principleArg : undefined;
  if (!principle) {
    const info = await client.sendRequest(PreviewPromptsRequest, { uri: uri.toString() });
    if (!info) {
      void vscode.window.showErrorMessage(`${vscode.workspace.asRelativePath(uri)} could not be read.`);
      return;
    }
    if (info.principles.length > 1) {
      const pick = await vscode.window.showQuickPick(
        info.principles.map((p) => ({ label: p.id, detail: p.detail, id: p.id })),
        { title: 'Preview the prompts of which principle?', matchOnDetail: true },
      );
      if (!pick) return;
      principle = pick.id;
    }
  }
  PreviewPanel.show(s.context.extensionUri, client, { uri: uri.toString(), principle });
}

/** Every command the extension contributes (ids and titles: protocol/commands.ts). */
export const COMMANDS: Record<CommandId, Handler> = {
  'constitution.previewPrompts': (s, arg, principle) => previewPrompts(s, arg, principle),
  'constitution.import': () => importCommand(),
  'constitution.export': (_s, arg) => exportCommand(arg instanceof vscode.Uri ? arg : undefined),
};
