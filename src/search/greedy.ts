import type { Problem } from '../core/problem.js';
import type { AggregationChoice } from './trajectories.js';
import { Meter } from './compute.js';
import { isSolution } from './select.js';
import type { SearchContext, SearchResult } from './search.js';
import { makeTrajectory, scoreTrajectories, searchResult } from './trajectories.js';

/**
 * Greedy decoding: one sample at temperature 0, the baseline every search is measured against
 * (the "pass@1 greedy" column of Snell et al. 2024 and search-and-learn).
 */
export interface GreedyConfig {
  /** Score the sample with the reward model (for reports; the choice does not depend on it). */
  score: boolean;
  /** Step-score aggregation when the reward is a process model. */
  aggregation: AggregationChoice;
}

export const defaultGreedyConfig = {
  // Greedy chooses nothing: scoring would spend reward compute it does not use.
  score: false,
  // The reward model's own aggregation (the one it was trained and measured with), else 'last'.
  aggregation: 'reward',
} satisfies GreedyConfig;

export async function greedy(problem: Problem, ctx: SearchContext, config: GreedyConfig = defaultGreedyConfig): Promise<SearchResult> {
  const meter = new Meter(ctx.budget);
  const prompt = ctx.task.formatPrompt(problem);
  const { count, maxTokens } = meter.fit(1, ctx.maxTokens);
  if (count < 1) return searchResult(problem, 'greedy', meter, [], { answer: null, best: null });
  const res = await ctx.policy.generate({ prefixes: [prompt], n: 1, maxTokens, temperature: 0, seed: ctx.rng.seed(), signal: ctx.signal });
  meter.policy(res.usage);
  const c = res.completions[0]![0]!;
  const t = makeTrajectory(ctx.task, problem, c.text, c.finishReason, c.tokens, c.logprobs);
  meter.samples++;
  if (config.score) await scoreTrajectories(ctx, problem, prompt, [t], config.aggregation, meter);
  // A sample cut at the cap, or without an answer line, answers nothing.
  return searchResult(problem, 'greedy', meter, [t], isSolution(t) ? { answer: t.answer, best: t } : { answer: null, best: null });
}
