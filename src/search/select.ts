import type { Trajectory } from '../core/trajectory.js';

/**
 * Final-answer selection over complete trajectories, as in search-and-learn's `score.py`:
 * best (highest reward, "naive" best-of-N), majority (self-consistency, Wang et al. 2022) and
 * weighted (sum of rewards per answer, "weighted best-of-N", Li et al. 2023; Snell et al. 2024
 * found it the best selector for PRM-guided search). Ties go to the earliest, so a seed fixes
 * the choice.
 */
export type Selection = 'best' | 'majority' | 'weighted';

/** Makes equal answers compare equal (default: trim and collapse whitespace). */
export type Canonical = (answer: string) => string;

export const defaultCanonical: Canonical = (a) => a.trim().replace(/\s+/g, ' ');

export interface Choice {
  answer: string | null;
  best: Trajectory | null;
}

const scoreOf = (t: Trajectory): number => t.score ?? -Infinity;

/**
 * A finished solution: it has a final answer and was not cut at the length limit. Only these can
 * win a selection: a sample cut mid-way, or one that stopped after a Check line without an
 * Answer line, is not a solution however well a reward model scored its steps.
 */
export function isSolution(t: Trajectory): boolean {
  return t.answer !== null && t.finishReason !== 'length';
}

/** The highest-scored finished solution (earliest on ties), or null when there is none. */
export function bestByScore(trajectories: readonly Trajectory[]): Trajectory | null {
  let best: Trajectory | null = null;
  for (const t of trajectories) if (isSolution(t) && (best === null || scoreOf(t) > scoreOf(best))) best = t;
  return best;
}

/** Each canonical answer's total weight over the finished solutions (`isSolution`), in first-seen order. */
export function answerTotals(trajectories: readonly Trajectory[], weight: (t: Trajectory) => number, canonical: Canonical = defaultCanonical): Map<string, number> {
  const totals = new Map<string, number>();
  for (const t of trajectories) {
    if (!isSolution(t)) continue;
    const key = canonical(t.answer!);
    totals.set(key, (totals.get(key) ?? 0) + weight(t));
  }
  return totals;
}

/**
 * The answer with the largest total weight (weight(t) = 1 for majority, t.score for weighted),
 * and its highest-scored trajectory. Only finished solutions vote (`isSolution`).
 */
export function voteAnswer(trajectories: readonly Trajectory[], weight: (t: Trajectory) => number, canonical: Canonical = defaultCanonical): Choice {
  const totals = answerTotals(trajectories, weight, canonical);
  let winner: string | null = null;
  for (const [key, w] of totals) if (winner === null || w > totals.get(winner)!) winner = key;
  if (winner === null) return { answer: null, best: null };
  const best = bestByScore(trajectories.filter((t) => isSolution(t) && canonical(t.answer!) === winner));
  return { answer: best!.answer, best };
}

export function selectAnswer(trajectories: readonly Trajectory[], how: Selection, canonical: Canonical = defaultCanonical): Choice {
  switch (how) {
    case 'best': {
      const best = bestByScore(trajectories);
      return { answer: best?.answer ?? null, best };
    }
    case 'majority':
      return voteAnswer(trajectories, () => 1, canonical);
    case 'weighted':
      return voteAnswer(trajectories, (t) => Math.max(0, t.score ?? 0), canonical);
  }
}

/**
 * Regularized best-of-N's choice (Jinnai et al. 2025; see best-of-n.ts): the finished solution
 * with the largest reward + kl·log π(y) + mbr·(share of the finished solutions with its answer).
 * A solution without a score, or without a log-probability when kl > 0, ranks last.
 */
export function regularizedBest(trajectories: readonly Trajectory[], beta: { kl: number; mbr: number }, canonical: Canonical = defaultCanonical): Choice {
  const totals = answerTotals(trajectories, () => 1, canonical);
  let votes = 0;
  for (const v of totals.values()) votes += v;
  const value = (t: Trajectory): number => {
    const kl = beta.kl > 0 ? beta.kl * (t.logprob ?? -Infinity) : 0;
    const mbr = beta.mbr > 0 ? (beta.mbr * totals.get(canonical(t.answer!))!) / votes : 0;
    return scoreOf(t) + kl + mbr;
  };
  let best: Trajectory | null = null;
  let bestValue = -Infinity;
  for (const t of trajectories) {
    if (!isSolution(t)) continue;
    const v = value(t);
    if (best === null || v > bestValue) [best, bestValue] = [t, v];
  }
  return { answer: best?.answer ?? null, best };
}
