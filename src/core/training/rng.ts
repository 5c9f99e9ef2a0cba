// A deterministic, seeded random number generator: xoshiro128** seeded through splitmix32.
// Data order, weight initialisation and sampling during generation all draw from it, and its
// state is plain JSON so that a checkpoint can resume a run on exactly the same stream.

/** The generator's state: four unsigned 32-bit words, not all zero. */
export interface RngState {
  readonly s: readonly [number, number, number, number];
}

/** splitmix32: spreads a 32-bit seed over well-mixed words for the main generator. */
function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the UTF-16 code units of a label: names a forked stream. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** Any number works as a seed; only its low 32 bits (after truncation) count. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`RNG seed must be a finite number (got ${seed})`);
    const sm = splitmix32(Math.trunc(seed) >>> 0);
    this.setWords(sm(), sm(), sm(), sm());
  }

  private setWords(a: number, b: number, c: number, d: number): void {
    this.s0 = a >>> 0;
    this.s1 = b >>> 0;
    this.s2 = c >>> 0;
    this.s3 = d >>> 0;
    // The all-zero state is the one fixed point of xoshiro; splitmix never yields it, but a
    // hand-written state could.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next unsigned 32-bit word. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1), with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), without modulo bias. `n` must be an integer in [1, 2^32]. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new Error(`nextInt bound must be an integer in [1, 2^32] (got ${n})`);
    // Reject the top sliver of words that would favour small results.
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (mean 0, deviation 1), by Box–Muller; each call uses two uniforms. */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** A copy of the state, safe to JSON.stringify and to keep while the generator moves on. */
  state(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3] };
  }

  static fromState(state: RngState): Rng {
    const s = (state as { s?: unknown } | null)?.s;
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new Error('RNG state must be { s: [four unsigned 32-bit integers] }');
    }
    const r = new Rng(0);
    r.setWords(s[0] as number, s[1] as number, s[2] as number, s[3] as number);
    return r;
  }

  /**
   * An independent stream named by `label`, derived from this generator's current state. The
   * parent does not move, so adding a fork leaves the parent's own sequence as it was; forking
   * the same label twice from the same state gives the same stream.
   */
  fork(label: string): Rng {
    const h = hashLabel(label);
    const sm = splitmix32(h);
    const child = new Rng(0);
    // Mix the parent's words with the label through splitmix so that neighbouring labels and
    // neighbouring parent states both give unrelated streams.
    const mix = (w: number, salt: number): number => splitmix32((w ^ salt ^ Math.imul(h, 0x27d4eb2d)) >>> 0)();
    child.setWords(mix(this.s0, sm()), mix(this.s1, sm()), mix(this.s2, sm()), mix(this.s3, sm()));
    return child;
  }

  /** Fisher–Yates shuffle, in place; returns the same array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = a[i] as T;
      a[i] = a[j] as T;
      a[j] = t;
    }
    return a;
  }
}

/**
 * A fixed sequence of numbers uniform in [−width/2, width/2) from a linear congruential generator:
 * the same on every platform and independent of `Rng`'s algorithm, for weights whose values
 * checks depend on (the backend self-test, the device tests).
 */
export function fixedUniform(seed: number, width: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * width;
  };
}
