// Fault injection for tests of the failure paths that real runs rarely hit: with
// CAI_INJECT_NAN="train-lm:5,pm:3,ppo:2", the optimizer step with that index (0-based, as the
// guard reports it) of that kind of training sees a NaN loss, so the NaN/Inf guard, the stage's
// diagnostic and the checkpoint rules are exercised exactly as a real divergence would.
// Unset (always, outside tests), nothing changes.

export type InjectionScope = 'train-lm' | 'pm' | 'ppo';

export function injectedNanStep(scope: InjectionScope, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const spec = env['CAI_INJECT_NAN'];
  if (!spec) return undefined;
  for (const part of spec.split(',')) {
    const [s, n] = part.split(':');
    if (s === scope && n !== undefined && /^\d+$/.test(n)) return Number(n);
  }
  return undefined;
}
