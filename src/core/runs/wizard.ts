// The run file that "Constitution: Start Run" writes when the user makes a run from an open
// constitution with its short wizard: a commented *.run.yaml that the language server, `cai run`
// and the extension all read. Pure text generation; the wizard's questions are in the extension.

/** Who plays the critic and the feedback model (the policy and the preference model are always trained locally). */
export type WizardModel =
  | { kind: 'builtin' }
  | { kind: 'folder'; path: string }
  | { kind: 'endpoint'; baseUrl: string; model: string; api: 'chat' | 'completions'; apiKeyEnv?: string }
  | { kind: 'gguf'; path: string };

/** How big the run is. */
export type WizardProfile = 'smoke' | 'demo' | 'full';

export interface WizardChoice {
  name: string;
  /** The constitution, relative to the run file's folder. */
  constitution: string;
  model: WizardModel;
  /** Dataset files relative to the run file's folder (the built-in world's names when copied). */
  data: { redTeam: string; helpfulness?: string; pmp?: string; helpfulnessPairs?: string; evalPairs?: string; evalPrompts?: string; hhh?: string };
  profile: WizardProfile;
  seed: number;
  /** Whether the data is the built-in world's (then the oracle evaluates too). */
  world: boolean;
}

export const PROFILE_DESCRIPTIONS: Record<WizardProfile, string> = {
  smoke: 'every stage on 16 prompts: checks the set-up in a few minutes',
  demo: 'the README demo\'s size: 64 prompts, about 7 minutes on two cores with the built-in model',
  full: 'every prompt of the data and longer training: for real experiments',
};

interface ProfileNumbers {
  limit?: number;
  rounds: number;
  sftSteps: number;
  pmpSteps: number;
  pmSteps: number;
  ppoSteps: number;
  ppoBatch: number;
  evalLimit?: number;
}

const PROFILES: Record<WizardProfile, ProfileNumbers> = {
  smoke: { limit: 16, rounds: 1, sftSteps: 10, pmpSteps: 5, pmSteps: 20, ppoSteps: 3, ppoBatch: 8, evalLimit: 32 },
  demo: { limit: 64, rounds: 2, sftSteps: 40, pmpSteps: 20, pmSteps: 60, ppoSteps: 16, ppoBatch: 16 },
  full: { rounds: 2, sftSteps: 400, pmpSteps: 200, pmSteps: 600, ppoSteps: 100, ppoBatch: 32 },
};

/** A name for `name:` (letters, digits, `.`, `_`, `-`), from a file or constitution name. */
export function runNameFrom(s: string): string {
  const n = s.replace(/\.constitution\.(ya?ml|json)$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/-+$/, '');
  return n || 'run';
}

/** YAML for a scalar string: plain when safe, else double-quoted JSON (a subset of YAML). */
function str(s: string): string {
  return /^[A-Za-z0-9_./][A-Za-z0-9_./-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/^[0-9.]+$/.test(s) ? s : JSON.stringify(s);
}

export function runFileText(c: WizardChoice): string {
  const p = PROFILES[c.profile];
  const lim = (n?: number) => (n !== undefined ? `, limit: ${n}` : '');
  const lines: string[] = [
    `# Made by "Constitution: Start Run" (${c.profile} profile: ${PROFILE_DESCRIPTIONS[c.profile]}).`,
    '# Every field is described in docs/run-config.md; hover a key for its meaning.',
    '',
    `name: ${str(c.name)}`,
    `constitution: ${str(c.constitution)}`,
    `seed: ${c.seed}`,
    'backend: auto',
    'out: runs/',
    '',
    'models:',
    '  # the policy and the preference model are trained here, on the built-in model',
    '  builtin:',
    '    provider: embedded',
    '    model: builtin',
  ];
  let labeller = 'builtin';
  switch (c.model.kind) {
    case 'folder':
      lines.push('  local:', '    provider: embedded', `    model: ${str(c.model.path)}`);
      labeller = 'local';
      break;
    case 'endpoint':
      lines.push('  # critiques, revisions and AI feedback from an OpenAI-compatible endpoint', '  endpoint:', '    provider: openai', `    baseUrl: ${str(c.model.baseUrl)}`, `    model: ${str(c.model.model)}`, `    api: ${c.model.api}`);
      if (c.model.apiKeyEnv) lines.push(`    apiKeyEnv: ${c.model.apiKeyEnv}`);
      labeller = 'endpoint';
      break;
    case 'gguf':
      lines.push('  gguf:', '    provider: llama-cpp', `    model: ${str(c.model.path)}`);
      labeller = 'gguf';
      break;
  }
  const policy = c.model.kind === 'folder' ? 'local' : 'builtin';
  lines.push('', 'roles:', `  policy: ${policy}`, `  critic: ${labeller}`, `  feedback: ${labeller}`, `  preferenceModel: ${policy}`, '', 'datasets:');
  const d = c.data;
  lines.push(`  redTeam: { path: ${str(d.redTeam)}${lim(p.limit)} }`);
  if (d.helpfulness) lines.push(`  helpfulness: { path: ${str(d.helpfulness)}${lim(p.limit)} }`);
  if (d.pmp) lines.push(`  pmp: { path: ${str(d.pmp)}, format: qa-votes }`);
  if (d.helpfulnessPairs) lines.push(`  helpfulnessPairs: { path: ${str(d.helpfulnessPairs)}, format: pairs }`);
  if (d.evalPairs) lines.push(`  evalPairs: { path: ${str(d.evalPairs)}, format: pairs${lim(p.evalLimit ?? p.limit)} }`);
  if (d.evalPrompts) lines.push(`  evalPrompts: { path: ${str(d.evalPrompts)}${lim(p.evalLimit)} }`);
  lines.push(
    '',
    'stages:',
    '  critique:',
    `    rounds: ${p.rounds}`,
    '    maxTokens: 64',
    '    temperature: 0.7',
    '    fewShot: false',
    '  sft:',
    `    steps: ${p.sftSteps}`,
    '    batchSize: 8',
    '    seqLen: 256',
    '    lr: 3.0e-4',
    '    schedule: { kind: linear-warmup, warmupSteps: 4 }',
    `    helpfulnessRatio: ${d.helpfulness ? 0.5 : 0}`,
    '  pairs:',
    '    samplesPerPrompt: 2',
    '    maxTokens: 64',
    '    temperature: 1',
    '  feedback:',
    '    bothOrders: true',
    '    fewShot: false',
    '  pm:',
    `    pmpSteps: ${d.pmp ? p.pmpSteps : 0}`,
    `    steps: ${p.pmSteps}`,
    '    batchSize: 8',
    '    evalFraction: 0.2',
    `    helpfulnessMix: ${d.helpfulnessPairs ? 0.3 : 0}`,
    '  ppo:',
    `    steps: ${p.ppoSteps}`,
    `    batchSize: ${p.ppoBatch}`,
    '    minibatches: 2',
    '    epochs: 2',
    '    lr: 3.0e-5',
    '    klCoef: 0.1',
    '    maxNewTokens: 48',
    `    helpfulnessShare: ${d.helpfulness ? 0.5 : 0}`,
  );
  const evalParts: string[] = [];
  if (d.hhh) evalParts.push(`    hhh: ${str(d.hhh)}`);
  if (c.world) evalParts.push('    oracle: world');
  if (d.evalPairs || d.hhh || c.world) lines.push('  eval:', ...evalParts, '    maxTokens: 64', '    temperature: 0.7');
  else lines.push('  eval: false');
  lines.push('', 'budgets:', '  concurrency: 2', '');
  return lines.join('\n');
}
