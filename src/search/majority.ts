import type { Problem } from '../core/problem.js';
import type { AggregationChoice } from './trajectories.js';
import { sampleAndScore } from './best-of-n.js';
import { Meter } from './compute.js';
import type { SearchContext, SearchResult } from './search.js';
import { selectAnswer, type Canonical } from './select.js';
import { searchResult } from './trajectories.js';

/**
 * Majority voting, "self-consistency" (Wang et al. 2022): sample N solutions and answer the
 * most frequent final answer. No reward model is needed to choose; `score` only annotates the
 * trajectories for reports (turn it off to spend no reward compute).
 */
export interface MajorityConfig {
  n: number;
  temperature: number;
  topP: number;
  /** Score the samples with the reward model (annotation only). */
  score: boolean;
  aggregation: AggregationChoice;
  /** Answer normalization before counting (default: trim, collapse whitespace). */
  canonical?: Canonical;
}

export const defaultMajorityConfig = {
  n: 16,
  // Wang et al. 2022 sample at T = 0.5–0.7; search-and-learn uses 0.8 for every method.
  temperature: 0.8,
  topP: 1,
  // Voting needs no reward model: do not spend reward compute on it (turn on to annotate reports).
  score: false,
  // The reward model's own aggregation (the one it was trained and measured with), else 'last'.
  aggregation: 'reward',
} satisfies MajorityConfig;

export async function majority(problem: Problem, ctx: SearchContext, config: MajorityConfig = defaultMajorityConfig): Promise<SearchResult> {
  const meter = new Meter(ctx.budget);
  const trajectories = await sampleAndScore(problem, ctx, config, meter);
  return searchResult(problem, 'majority', meter, trajectories, selectAnswer(trajectories, 'majority', config.canonical));
}
