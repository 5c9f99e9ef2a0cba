/**
 * Every command id the extension contributes, with its title. The extension's command table is
 * typed by these ids (so it cannot miss one or add another), and a unit test checks that
 * package.json `contributes.commands` holds exactly the same.
 */
export const COMMAND_TITLES = {
  'constitution.previewPrompts': 'Preview Rendered Prompts',
  'constitution.import': 'Import…',
  'constitution.export': 'Export…',
} as const;

export type CommandId = keyof typeof COMMAND_TITLES;

/** Commands that write files: disabled in Restricted Mode (untrusted workspaces). */
export const TRUSTED_ONLY_COMMANDS: readonly CommandId[] = ['constitution.import', 'constitution.export'];
