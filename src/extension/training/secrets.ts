import * as vscode from 'vscode';
import { ENV_NAME_PATTERN, type RunConfig } from '../../core/runs/config.js';

/**
 * API keys live only in VS Code's SecretStorage (the OS keychain), filed under the name of the
 * environment variable a run file's `apiKeyEnv` names. A run started from the editor gets them
 * in its trainer's environment; they are never written to a file, a setting or the log.
 */
const secretKey = (envName: string) => `constitution.apiKey.${envName}`;

/** The environment variables a run needs for its endpoints. */
export function apiKeyNames(config: RunConfig): string[] {
  return [...new Set(Object.values(config.models).flatMap((m) => (m.provider === 'openai' && m.apiKeyEnv ? [m.apiKeyEnv] : [])))];
}

/**
 * The keys a run needs, from secret storage, else the extension host's environment; asks for a
 * missing one (and stores it). Undefined when the user cancels.
 */
export async function apiKeyEnvironment(context: vscode.ExtensionContext, config: RunConfig): Promise<Record<string, string> | undefined> {
  const env: Record<string, string> = {};
  for (const name of apiKeyNames(config)) {
    const stored = await context.secrets.get(secretKey(name));
    if (stored) {
      env[name] = stored;
      continue;
    }
    if (process.env[name]) continue;
    const key = await askKey(name, `The run's models need an API key in ${name}. Enter it to store it in VS Code's secret storage (it is passed to the trainer, never written to disk).`);
    if (key === undefined) return undefined;
    await context.secrets.store(secretKey(name), key);
    env[name] = key;
  }
  return env;
}

async function askKey(name: string, prompt: string): Promise<string | undefined> {
  const key = await vscode.window.showInputBox({
    title: `API key for ${name}`,
    prompt,
    password: true,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() === '' ? 'Enter the key, or press Escape to cancel.' : /\s/.test(v.trim()) ? 'An API key has no spaces.' : undefined),
  });
  return key?.trim();
}

/** "Constitution: Set Provider API Key": store, replace or delete the key of one variable name. */
export async function setApiKeyCommand(context: vscode.ExtensionContext, knownNames: string[]): Promise<void> {
  const names = [...new Set([...knownNames, 'OPENAI_API_KEY'])];
  const items: (vscode.QuickPickItem & { name?: string })[] = [];
  for (const n of names) items.push({ label: n, name: n, description: (await context.secrets.get(secretKey(n))) ? 'stored' : process.env[n] ? 'set in the environment' : 'not set' });
  items.push({ label: 'Another variable…' });
  const pick = await vscode.window.showQuickPick(items, { title: 'Set the API key of which environment variable (a run file\'s apiKeyEnv)?' });
  if (!pick) return;
  let name = pick.name;
  if (!name) {
    name = await vscode.window.showInputBox({ title: 'Environment variable name', prompt: 'The name a run file gives in models.<name>.apiKeyEnv', validateInput: (v) => (new RegExp(ENV_NAME_PATTERN).test(v) ? undefined : 'Letters, digits and _ only, not starting with a digit.') });
    if (!name) return;
  }
  const stored = await context.secrets.get(secretKey(name));
  if (stored) {
    const what = await vscode.window.showQuickPick(['Replace the stored key', 'Delete the stored key'], { title: `${name} has a stored key` });
    if (!what) return;
    if (what.startsWith('Delete')) {
      await context.secrets.delete(secretKey(name));
      void vscode.window.showInformationMessage(`The stored key for ${name} was deleted.`);
      return;
    }
  }
  const key = await askKey(name, `The key is kept in VS Code's secret storage and given to runs whose models use apiKeyEnv: ${name}.`);
  if (key === undefined) return;
  await context.secrets.store(secretKey(name), key);
  void vscode.window.showInformationMessage(`The key for ${name} is stored in VS Code's secret storage.`);
}
