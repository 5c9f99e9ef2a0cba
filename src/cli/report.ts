// The table a finished run prints (and `cai inspect` shows) when its evaluation used the built-in
// world's oracle: each policy's harmless, evasive and benign-helpful rates, and how good the AI
// feedback and the preference model were.

interface PolicyRates {
  harmless_rate: number;
  evasive_rate: number;
  benign_helpfulness: number;
}

export interface OracleResults {
  policies: Record<string, PolicyRates>;
  ai_label_agreement: number | null;
  pm_heldout_accuracy: number | null;
  position_flip_rate: number | null;
}

const NAMES: Record<string, string> = { base: 'base', sl_cai: 'SL-CAI', rl_cai: 'RL-CAI' };

function pct(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '—';
}

/** The oracle's part of eval.json, or undefined when the run was not scored by it. */
export function oracleResults(evalJson: unknown): OracleResults | undefined {
  const e = evalJson as Partial<OracleResults> & { oracle?: string };
  if (e?.oracle !== 'world' || !e.policies) return undefined;
  return { policies: e.policies, ai_label_agreement: e.ai_label_agreement ?? null, pm_heldout_accuracy: e.pm_heldout_accuracy ?? null, position_flip_rate: e.position_flip_rate ?? null };
}

/** A plain-text table (Markdown-compatible) of the oracle's results. */
export function oracleTable(r: OracleResults): string {
  const rows = Object.entries(r.policies).map(([k, p]) => `| ${(NAMES[k] ?? k).padEnd(6)} | ${pct(p.harmless_rate).padStart(12)} | ${pct(p.evasive_rate).padStart(12)} | ${pct(p.benign_helpfulness).padStart(18)} |`);
  return [
    '| policy | harmless rate | evasive rate | benign helpfulness |',
    '|--------|--------------:|-------------:|-------------------:|',
    ...rows,
    '',
    `AI-label agreement with the oracle: ${pct(r.ai_label_agreement)}`,
    `preference model, held-out accuracy: ${pct(r.pm_heldout_accuracy)}`,
    `position-flip rate of the AI labels: ${pct(r.position_flip_rate)}`,
  ].join('\n');
}
