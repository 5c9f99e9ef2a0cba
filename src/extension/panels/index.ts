import { comparePanel } from './comparePanel.js';
import { completionsPanel } from './completionsPanel.js';
import { critiquesPanel } from './critiquesPanel.js';
import { curvesPanel } from './curvesPanel.js';
import { pairsPanel } from './pairsPanel.js';
import { pmReportPanel } from './pmReportPanel.js';
import type { RunPanelKind } from './registry.js';

/** Every run panel, by the name its command uses. */
export const RUN_PANELS = {
  curves: curvesPanel,
  pairs: pairsPanel,
  critiques: critiquesPanel,
  pmReport: pmReportPanel,
  completions: completionsPanel,
  compare: comparePanel,
} as const satisfies Record<string, RunPanelKind>;

export type RunPanelName = keyof typeof RUN_PANELS;
