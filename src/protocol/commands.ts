/**
 * Every command id the extension contributes, with its title. The extension's command table is
 * typed by these ids (so it cannot miss one or add another), and a unit test checks that
 * package.json `contributes.commands` holds exactly the same.
 */
export const COMMAND_TITLES = {
  'constitution.previewPrompts': 'Preview Rendered Prompts',
  'constitution.import': 'Import…',
  'constitution.export': 'Export…',
  'constitution.startRun': 'Start Run',
  'constitution.stopRun': 'Stop Run',
  'constitution.resumeRun': 'Resume Run',
  'constitution.openRun': 'Open Run…',
  'constitution.showCurves': 'Show Training Curves',
  'constitution.showPairs': 'Show Preference Pairs',
  'constitution.showCritiques': 'Show Critiques and Revisions',
  'constitution.showPreferenceModel': 'Show Preference Model Report',
  'constitution.showCompletions': 'Show Completions over Training',
  'constitution.compareRuns': 'Compare Runs',
  'constitution.setApiKey': 'Set Provider API Key',
  'constitution.selectBackend': 'Select Training Backend',
  'constitution.tryPrinciple': 'Try Principle on Sample Prompts',
  'constitution.revealRun': 'Reveal Run Folder',
  'constitution.exportRunDataset': 'Export Preference Dataset…',
  'constitution.refreshRuns': 'Refresh Runs',
  'constitution.showTrainerLog': 'Show Trainer Log',
  'constitution.submitRun': 'Submit Run to Cluster…',
  'constitution.cancelRemoteRun': 'Cancel Remote Run',
  'constitution.setClusterToken': 'Set Cluster Token',
} as const;

export type CommandId = keyof typeof COMMAND_TITLES;

/**
 * Commands that write files, start training, call a model endpoint or a cluster. In Restricted Mode
 * (untrusted workspaces) they stay in the Command Palette, so a user who looks for one finds it,
 * and running one is refused with a message that says why and offers Manage Workspace Trust.
 * The extension's command registration (src/extension/main.ts) is the one place that checks;
 * the run controller checks again before it forks a trainer, whoever asks it to.
 */
export const TRUSTED_ONLY_COMMANDS: readonly CommandId[] = [
  'constitution.import',
  'constitution.export',
  'constitution.startRun',
  'constitution.resumeRun',
  'constitution.setApiKey',
  'constitution.selectBackend',
  'constitution.tryPrinciple',
  'constitution.exportRunDataset',
  'constitution.submitRun',
  'constitution.cancelRemoteRun',
  'constitution.setClusterToken',
];

/** What Restricted Mode answers to a command of TRUSTED_ONLY_COMMANDS. */
export function untrustedMessage(id: CommandId): string {
  return (
    `Constitution: ${COMMAND_TITLES[id]} needs a trusted workspace: it starts training, calls model endpoints or writes files. ` +
    'In Restricted Mode constitutions are still validated and previewed, and runs can be viewed. Trust this folder to use it.'
  );
}
