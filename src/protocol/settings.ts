/**
 * Every setting the extension contributes: key, type, allowed values, default, description.
 * package.json's `contributes.configuration` must hold the same (a unit test compares them);
 * src/extension/config.ts is the only reader of workspace settings.
 */

export interface SettingSpec {
  type: 'number' | 'string' | 'boolean' | 'array';
  default: number | string | boolean | readonly unknown[];
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
  'constitution.training.backend': {
    type: 'string',
    default: 'runConfig',
    enum: ['runConfig', 'auto', 'tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'],
    scope: 'machine',
    description: 'Compute backend of runs started from the editor: `runConfig` uses the run file\'s `backend`; any other value overrides it (set it with "Constitution: Select Training Backend").',
  },
  'constitution.training.maxRestarts': {
    type: 'number',
    default: 2,
    minimum: 0,
    maximum: 10,
    scope: 'machine',
    description: 'How often a trainer that crashed is started again to resume the same run before the run is reported as failed. Bad configurations and NaN losses are never retried.',
  },
  'constitution.training.stopTimeoutSeconds': {
    type: 'number',
    default: 30,
    minimum: 1,
    maximum: 600,
    scope: 'machine',
    description: 'How long Stop Run waits for the trainer to checkpoint and exit before sending SIGTERM, and again before SIGKILL.',
  },
  'constitution.clusters': {
    type: 'array',
    default: [],
    scope: 'machine',
    description: 'Ray clusters runs can be submitted to ("Constitution: Submit Run to Cluster…"): each a `name`, the dashboard `address` (http(s)://host:8265), and optionally a `syncTarget` (a shared folder or s3:// URI the job copies its output to), `gpus` for the job (default 1), a container `image`, and `allowInsecure` for a plain-http cluster without a token. Tokens are kept in secret storage ("Constitution: Set Cluster Token").',
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
