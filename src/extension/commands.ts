import * as vscode from 'vscode';
import type { LanguageService } from './client.js';
import { isConstitutionFile } from '../core/constitution/fileNames.js';
import type { CommandId } from '../protocol/commands.js';
import { exportCommand, importCommand } from './importExport.js';
import { PreviewPanel } from './panels/previewPanel.js';
import { compareRuns, exportRunDataset, openRun, resumeRun, revealRun, type RunServices, showPanel, startRun, stopRun } from './runs/runCommands.js';
import { cancelRun, type RemoteRuns, setClusterToken, submitRun } from './runs/remoteRuns.js';
import { selectBackend } from './training/backendPick.js';
import { trainerLog } from './training/runController.js';
import { setApiKeyCommand } from './training/secrets.js';
import { tryPrinciple } from './training/tryPrinciple.js';

export interface Services extends RunServices {
  context: vscode.ExtensionContext;
  client: () => Promise<LanguageService>;
  remote: RemoteRuns;
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
    const info = await client.previewPrompts({ uri: uri.toString() });
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
  'constitution.startRun': (s, arg) => startRun(s, arg),
  'constitution.stopRun': (s) => stopRun(s),
  'constitution.resumeRun': (s, arg) => resumeRun(s, arg),
  'constitution.openRun': (s, arg) => openRun(s, arg),
  'constitution.showCurves': (s, arg) => showPanel(s, 'curves', arg),
  'constitution.showPairs': (s, arg, options) => showPanel(s, 'pairs', arg, options),
  'constitution.showCritiques': (s, arg, options) => showPanel(s, 'critiques', arg, options),
  'constitution.showPreferenceModel': (s, arg) => showPanel(s, 'pmReport', arg),
  'constitution.showCompletions': (s, arg) => showPanel(s, 'completions', arg),
  'constitution.compareRuns': (s, ...args) => compareRuns(s, ...args),
  'constitution.setApiKey': (s) => setApiKeyCommand(s.context, knownKeyNames(s)),
  'constitution.selectBackend': () => selectBackend(),
  'constitution.tryPrinciple': (s, uri, principle) => tryPrinciple(s, uri, principle),
  'constitution.revealRun': (s, arg) => revealRun(s, arg),
  'constitution.exportRunDataset': (s, arg) => exportRunDataset(s, arg),
  'constitution.refreshRuns': (s) => s.index.refresh(),
  'constitution.showTrainerLog': () => trainerLog.show(true),
  'constitution.submitRun': (s, arg, options) => submitRun(s, s.remote, arg, options),
  'constitution.cancelRemoteRun': (s, arg) => cancelRun(s, s.remote, arg),
  'constitution.setClusterToken': (s, profile, token) => setClusterToken(s.context, profile, token),
};

/** API key variable names the workspace's runs use (offered first by Set Provider API Key). */
function knownKeyNames(s: Services): string[] {
  const names = new Set<string>();
  for (const r of s.index.all()) {
    for (const m of Object.values(r.manifest?.config.models ?? {})) if (m.provider === 'openai' && m.apiKeyEnv) names.add(m.apiKeyEnv);
  }
  return [...names];
}
