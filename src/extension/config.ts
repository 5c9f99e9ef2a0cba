import * as vscode from 'vscode';
import { SETTINGS, type SettingKey } from '../protocol/settings.js';

/** The only reader of workspace settings; defaults come from protocol/settings.ts. */
export function setting<K extends SettingKey>(key: K, scope?: vscode.Uri): (typeof SETTINGS)[K]['default'] {
  const [section, ...rest] = key.split('.');
  const value = vscode.workspace.getConfiguration(section, scope).get(rest.join('.'));
  const spec = SETTINGS[key];
  if (typeof value !== spec.type) return spec.default;
  return value as (typeof SETTINGS)[K]['default'];
}
