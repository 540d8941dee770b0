import type { Problem } from '../core/problem.js';

/** One partial or complete solution to score. */
export interface RewardItem {
  problem: Problem;
  /** The prompt the policy was given. */
  prompt: string;
  /** Steps written so far (solution text split on the task delimiter). */
  steps: string[];
  /** True when the solution is finished (outcome models need complete solutions). */
  complete: boolean;
}

export interface RewardScore {
  /** Outcome score, or step scores aggregated. Higher is better; in [0, 1] for probabilistic models. */
  score: number;
  /** One score per step (process reward models only). */
  stepScores?: number[];
}

export interface RewardUsage {
  calls: number;
  tokens: number;
}

/**
 * The RewardModel interface: outcome models score finished solutions; process models score
 * every step (Lightman et al. 2023; Wang et al. 2024, Math-Shepherd).
 */
export interface RewardModel {
  readonly id: string;
  readonly kind: 'outcome' | 'process';
  /**
   * The aggregation this model was trained and measured with (a learned PRM's stored choice).
   * Searches use it unless told otherwise, so search ranks with the scorer that was measured.
   */
  readonly aggregation?: Aggregation;
  /**
   * True when the model reads the gold answer (an exact verifier against the reference): best-of-N
   * with it is pass@N, an oracle, not a deployable test-time method. Absent means deployable.
   */
  readonly oracle?: boolean;
  score(items: RewardItem[]): Promise<{ scores: RewardScore[]; usage: RewardUsage }>;
}

/** How step scores become one score (search-and-learn's `aggregate_scores`). */
export type Aggregation = 'min' | 'prod' | 'last' | 'mean';

export function aggregate(stepScores: readonly number[], how: Aggregation): number {
  if (stepScores.length === 0) return 0;
  switch (how) {
    case 'min':
      return Math.min(...stepScores);
    case 'prod':
      return stepScores.reduce((a, b) => a * b, 1);
    case 'last':
      return stepScores[stepScores.length - 1]!;
    case 'mean':
      return stepScores.reduce((a, b) => a + b, 0) / stepScores.length;
  }
}
