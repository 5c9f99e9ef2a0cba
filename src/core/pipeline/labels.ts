// Soft labels from a feedback model's answer probabilities.
//
// The feedback model sees a multiple-choice question and we read the log-probabilities of the
// two answers (" (A)", " (B)"). Normalised, they give P(A is better). Asked in both orders
// (the second time with the responses swapped), the two estimates are averaged, which cancels
// the labeller's preference for a position; whether its preferred *position* changed between the
// orders is kept too (it should, when it judges the content).

/** P(first option) from two log-probabilities, normalised over the pair. */
export function normalisedFirst(logpA: number, logpB: number): number {
  if (!Number.isFinite(logpA) && !Number.isFinite(logpB)) return 0.5;
  const m = Math.max(logpA, logpB);
  const a = Math.exp(logpA - m);
  const b = Math.exp(logpB - m);
  return a / (a + b);
}

export interface OrderedLabel {
  /** P(response_a preferred) asked with response_a shown as (A). */
  p_a_forward: number;
  /** P(response_a preferred) asked with response_a shown as (B), i.e. 1 − P(answer A) in that order. */
  p_a_reversed?: number;
  /** The final soft label: the mean of the two orders (or the forward one alone). */
  p_a: number;
  /**
   * Both orders asked: true when the preferred position changed with the swap (the labeller
   * followed the content), false when it kept the same letter (position bias).
   */
  flipped?: boolean;
}

/**
 * Combines the answers of both orders. `forwardA` is P(answer A) with response_a as (A);
 * `reversedA` is P(answer A) with response_b as (A).
 */
export function combineOrders(forwardA: number, reversedA?: number): OrderedLabel {
  if (reversedA === undefined) return { p_a_forward: forwardA, p_a: forwardA };
  const pReversed = 1 - reversedA;
  const forwardLetter = forwardA >= 0.5 ? 'A' : 'B';
  const reversedLetter = reversedA >= 0.5 ? 'A' : 'B';
  return { p_a_forward: forwardA, p_a_reversed: pReversed, p_a: (forwardA + pReversed) / 2, flipped: forwardLetter !== reversedLetter };
}

/**
 * Chain-of-thought labels come out near 0 or 1; they are clamped into [lo, hi] (40–60 % worked
 * best in the method's ablations) so that no single label dominates the preference model.
 */
export function clampLabel(p: number, range: readonly [number, number]): number {
  const [lo, hi] = range;
  return Math.min(hi, Math.max(lo, p));
}

/** The letter a chain-of-thought answer ends with ("… So the answer is: (B)"), if any. */
export function answerLetter(text: string): 'A' | 'B' | undefined {
  const m = /\(([AB])\)[^()]*$/.exec(text.trim()) ?? /answer is:?\s*\(?([AB])\b/i.exec(text);
  const letter = m?.[1]?.toUpperCase();
  return letter === 'A' || letter === 'B' ? letter : undefined;
}
