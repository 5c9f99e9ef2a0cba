import * as vscode from 'vscode';
import { SETTINGS, type SettingKey } from '../protocol/settings.js';

/** The only reader of workspace settings; defaults come from protocol/settings.ts. */
export function setting<K extends SettingKey>(key: K, scope?: vscode.Uri): SettingValue<K> {
  const [section, ...rest] = key.split('.');
  const value = vscode.workspace.getConfiguration(section, scope).get(rest.join('.'));
  const spec = SETTINGS[key];
  if (spec.type === 'array' ? !Array.isArray(value) : typeof value !== spec.type) return spec.default as SettingValue<K>;
  if ('enum' in spec && !(spec.enum as readonly unknown[]).includes(value)) return spec.default as SettingValue<K>;
  return value as SettingValue<K>;
}

/** A setting's values: its enum's members, else its type. */
export type SettingValue<K extends SettingKey> = (typeof SETTINGS)[K] extends { enum: readonly (infer E)[] } ? E : (typeof SETTINGS)[K]['default'] extends readonly unknown[] ? unknown[] : (typeof SETTINGS)[K]['default'] extends number ? number : (typeof SETTINGS)[K]['default'] extends boolean ? boolean : string;

/** Writes a setting (user settings unless a target is given); the only writer of settings too. */
export async function updateSetting<K extends SettingKey>(key: K, value: SettingValue<K>, target = vscode.ConfigurationTarget.Global): Promise<void> {
  const [section, ...rest] = key.split('.');
  await vscode.workspace.getConfiguration(section).update(rest.join('.'), value, target);
}
