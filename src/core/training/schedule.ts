// Learning-rate schedules. `step` is the index of the update about to be taken, counting from
// 0, so the first update of a warm-up already has a small non-zero rate and update number
// `warmupSteps - 1` is the first at the full rate.

export type LrSchedule =
  | { readonly kind: 'constant' }
  /** Ramp linearly up to the base rate over `warmupSteps`, then hold it. */
  | { readonly kind: 'linear-warmup'; readonly warmupSteps: number }
  /** Warm up as above, then follow a half cosine from the base rate down to `minRatio`·base at `totalSteps`. */
  | { readonly kind: 'cosine'; readonly warmupSteps: number; readonly totalSteps: number; readonly minRatio?: number };

function warmupFactor(warmupSteps: number, step: number): number {
  return warmupSteps > 0 && step < warmupSteps ? (step + 1) / warmupSteps : 1;
}

/** The rate for update `step` (0-based). Past `totalSteps` a cosine schedule stays at its floor. */
export function learningRate(schedule: LrSchedule, baseLr: number, step: number): number {
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'linear-warmup':
      return baseLr * warmupFactor(schedule.warmupSteps, step);
    case 'cosine': {
      if (step < schedule.warmupSteps) return baseLr * warmupFactor(schedule.warmupSteps, step);
      const minRatio = schedule.minRatio ?? 0;
      const span = Math.max(1, schedule.totalSteps - schedule.warmupSteps);
      const progress = Math.min(1, Math.max(0, (step - schedule.warmupSteps) / span));
      return baseLr * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
  }
}

const SCHEDULE_KINDS = ['constant', 'linear-warmup', 'cosine'] as const;

function nonNegativeInt(o: Record<string, unknown>, key: string, field: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new Error(`${field}.${key} must be a non-negative integer (got ${JSON.stringify(v)})`);
  }
  return v;
}

/**
 * Reads a schedule from configuration (parsed JSON or YAML). The string `'constant'` is
 * accepted as shorthand for `{ kind: 'constant' }`. Errors name `field`.
 */
export function parseSchedule(obj: unknown, field: string): LrSchedule {
  if (obj === 'constant') return { kind: 'constant' };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new Error(`${field} must be an object with a 'kind' (${SCHEDULE_KINDS.join(', ')}) (got ${JSON.stringify(obj)})`);
  }
  const o = obj as Record<string, unknown>;
  const allowed: Record<(typeof SCHEDULE_KINDS)[number], readonly string[]> = {
    constant: ['kind'],
    'linear-warmup': ['kind', 'warmupSteps'],
    cosine: ['kind', 'warmupSteps', 'totalSteps', 'minRatio'],
  };
  const kind = o.kind;
  if (typeof kind !== 'string' || !(SCHEDULE_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`${field}.kind must be one of ${SCHEDULE_KINDS.join(', ')} (got ${JSON.stringify(kind)})`);
  }
  const k = kind as (typeof SCHEDULE_KINDS)[number];
  for (const key of Object.keys(o)) {
    if (!allowed[k].includes(key)) throw new Error(`${field}.${key} is not a setting of a '${k}' schedule (settings: ${allowed[k].join(', ')})`);
  }
  switch (k) {
    case 'constant':
      return { kind: 'constant' };
    case 'linear-warmup':
      return { kind: 'linear-warmup', warmupSteps: nonNegativeInt(o, 'warmupSteps', field) };
    case 'cosine': {
      const warmupSteps = nonNegativeInt(o, 'warmupSteps', field);
      const totalSteps = nonNegativeInt(o, 'totalSteps', field);
      if (totalSteps <= warmupSteps) throw new Error(`${field}.totalSteps (${totalSteps}) must be greater than ${field}.warmupSteps (${warmupSteps})`);
      const minRatio = o.minRatio;
      if (minRatio === undefined) return { kind: 'cosine', warmupSteps, totalSteps };
      if (typeof minRatio !== 'number' || !(minRatio >= 0 && minRatio <= 1)) {
        throw new Error(`${field}.minRatio must be a number in [0, 1] (got ${JSON.stringify(minRatio)})`);
      }
      return { kind: 'cosine', warmupSteps, totalSteps, minRatio };
    }
  }
}
