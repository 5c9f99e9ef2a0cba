// The guard against NaN and infinities: a training step reads its loss and gradient norm back,
// checks them here, and refuses to apply an update built from non-finite numbers.

/**
 * The first non-finite value in `values`, as a diagnostic such as "loss is NaN at step 12";
 * undefined when all are finite. Keys name the values in the message.
 */
export function checkFinite(values: Record<string, number>, step?: number): string | undefined {
  const bad = firstNonFinite(values);
  if (!bad) return undefined;
  return describe(bad.what, bad.value, step);
}

function firstNonFinite(values: Record<string, number>): { what: string; value: number } | undefined {
  for (const [what, value] of Object.entries(values)) if (!Number.isFinite(value)) return { what, value };
  return undefined;
}

function describe(what: string, value: number, step: number | undefined): string {
  const kind = Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return step === undefined ? `${what} is ${kind}` : `${what} is ${kind} at step ${step}`;
}

/** Thrown when a step's loss or gradients are not finite; the weights were left as they were. */
export class NonFiniteError extends Error {
  /** Which value was not finite ("loss", "gradient norm", …). */
  readonly what: string;
  readonly step: number;
  readonly value: number;

  constructor(what: string, step: number, value: number) {
    super(describe(what, value, step));
    this.name = 'NonFiniteError';
    this.what = what;
    this.step = step;
    this.value = value;
  }

  /** The error for the first non-finite value in `values`, or undefined when all are finite. */
  static check(values: Record<string, number>, step: number): NonFiniteError | undefined {
    const bad = firstNonFinite(values);
    return bad && new NonFiniteError(bad.what, step, bad.value);
  }
}
