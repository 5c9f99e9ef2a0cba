/**
 * Every setting the extension contributes: key, type, allowed values, default, description.
 * package.json's `contributes.configuration` must hold the same (a unit test compares them);
 * src/extension/config.ts is the only reader of workspace settings.
 */

export interface SettingSpec {
  type: 'number' | 'string' | 'boolean';
  default: number | string | boolean;
  description: string;
  minimum?: number;
  maximum?: number;
  enum?: readonly string[];
  scope?: 'application' | 'machine' | 'window' | 'resource';
}

export const SETTINGS = {
  'constitution.validation.nearDuplicateThreshold': {
    type: 'number',
    default: 0.7,
    minimum: 0,
    maximum: 1,
    scope: 'resource',
    description: 'Share of word pairs two principles must have in common to be reported as near-duplicates (0 turns the hint off).',
  },
  'constitution.trace.server': {
    type: 'string',
    default: 'off',
    enum: ['off', 'messages', 'verbose'],
    scope: 'window',
    description: 'Log the messages between VS Code and the constitution language server.',
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

/** What the language server asks for with `workspace/configuration` (section `constitution`). */
export interface ServerSettings {
  validation: { nearDuplicateThreshold: number };
}

export const DEFAULT_SERVER_SETTINGS: ServerSettings = {
  validation: { nearDuplicateThreshold: SETTINGS['constitution.validation.nearDuplicateThreshold'].default },
};
