import type { Problem } from '../core/problem.js';
import type { AggregationChoice } from './trajectories.js';
import { sampleAndScore } from './best-of-n.js';
import { Meter } from './compute.js';
import type { SearchContext, SearchResult } from './search.js';
import { selectAnswer, type Canonical } from './select.js';
import { searchResult } from './trajectories.js';

/**
 * Reward-weighted majority voting ("weighted best-of-N", Li et al. 2023, DiVeRSe): sample N
 * solutions, weight each final answer by the sum of its samples' rewards, answer the heaviest.
 * Snell et al. 2024 and search-and-learn (`find_answer_with_largest_sum`) found it beats both
 * plain best-of-N and plain voting with a PRM. Scores are used as non-negative weights.
 */
export interface WeightedMajorityConfig {
  n: number;
  temperature: number;
  topP: number;
  aggregation: AggregationChoice;
  canonical?: Canonical;
}

export const defaultWeightedMajorityConfig = {
  n: 16,
  temperature: 0.8,
  topP: 1,
  // The reward model's own aggregation (the one it was trained and measured with), else 'last'.
  aggregation: 'reward',
} satisfies WeightedMajorityConfig;

export async function weightedMajority(
  problem: Problem,
  ctx: SearchContext,
  config: WeightedMajorityConfig = defaultWeightedMajorityConfig,
): Promise<SearchResult> {
  const meter = new Meter(ctx.budget);
  const trajectories = await sampleAndScore(problem, ctx, { ...config, score: true }, meter);
  return searchResult(problem, 'weighted-majority', meter, trajectories, selectAnswer(trajectories, 'weighted', config.canonical));
}
