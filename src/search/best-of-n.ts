import type { Problem } from '../core/problem.js';
import type { Trajectory } from '../core/trajectory.js';
import type { AggregationChoice } from './trajectories.js';
import { Meter } from './compute.js';
import type { SearchContext, SearchResult } from './search.js';
import { regularizedBest, selectAnswer, type Canonical, type Selection } from './select.js';
import { makeTrajectory, scoreTrajectories, searchResult } from './trajectories.js';

/**
 * Best-of-N: sample N complete solutions in one batched call, score each with the reward model
 * (outcome, or process with aggregation) and keep the highest (search-and-learn `best_of_n`;
 * Cobbe et al. 2021; Lightman et al. 2023). The same sampling feeds majority voting and
 * weighted voting, which only change `select`.
 */
export interface BestOfNConfig {
  /** Samples (N); also capped by the budget's `samples`. */
  n: number;
  temperature: number;
  /** Nucleus mass (1 = off). */
  topP: number;
  /** Step-score aggregation when the reward is a process model. */
  aggregation: AggregationChoice;
  /** How the answer is chosen among the N: highest reward, most frequent, or reward-weighted vote. */
  select: Selection;
  /** Score the samples even when `select` does not need rewards (for reports). */
  score: boolean;
  /** β of RBoN_KL: choose by reward + β·log π(y) (`select: 'best'` only; needs the policy's log-probabilities). Default 0: plain best-of-N. */
  kl: number;
  /** β of MBR-BoN: choose by reward + β·(share of samples with y's answer) (`select: 'best'` only). Default 0. */
  mbr: number;
  canonical?: Canonical;
}

export const defaultBestOfNConfig = {
  // Snell et al. 2024 sweep N in powers of 2 (up to 256); 16 is search-and-learn's default n.
  n: 16,
  // search-and-learn's sampling temperature for all methods.
  temperature: 0.8,
  topP: 1,
  // The reward model's own aggregation (the one it was trained and measured with), else 'last'.
  aggregation: 'reward',
  select: 'best',
  score: true,
  kl: 0,
  mbr: 0,
} satisfies BestOfNConfig;

/** A range or combination `kl` and `mbr` cannot take, in one phrase, or null. */
export function bestOfNConfigIssue(c: BestOfNConfig): string | null {
  for (const key of ['kl', 'mbr'] as const) if (!(c[key] >= 0) || !Number.isFinite(c[key])) return `${key} must be a finite number >= 0, got ${c[key]}`;
  if ((c.kl > 0 || c.mbr > 0) && c.select !== 'best') return `kl and mbr regularize select=best, got select=${c.select}`;
  return null;
}

/** Samples up to n complete solutions within the budget and scores them. */
export async function sampleAndScore(
  problem: Problem,
  ctx: SearchContext,
  config: Pick<BestOfNConfig, 'n' | 'temperature' | 'topP' | 'aggregation' | 'score'> & { logprobs?: boolean },
  meter: Meter,
): Promise<Trajectory[]> {
  const prompt = ctx.task.formatPrompt(problem);
  const { count: n, maxTokens } = meter.fit(config.n, ctx.maxTokens);
  if (n < 1) return [];
  const res = await ctx.policy.generate({
    prefixes: [prompt],
    n,
    maxTokens,
    temperature: config.temperature,
    topP: config.topP,
    seed: ctx.rng.seed(),
    ...(config.logprobs ? { logprobs: true } : {}),
    signal: ctx.signal,
  });
  meter.policy(res.usage);
  if (config.logprobs && res.completions[0]!.some((c) => !c.logprobs)) throw new Error(`best-of-n: kl needs the log-probabilities of the samples, and policy ${ctx.policy.id} gives none`);
  const trajectories = res.completions[0]!.map((c) => makeTrajectory(ctx.task, problem, c.text, c.finishReason, c.tokens, c.logprobs));
  meter.samples += trajectories.length;
  if (config.score) await scoreTrajectories(ctx, problem, prompt, trajectories, config.aggregation, meter);
  return trajectories;
}

export async function bestOfN(problem: Problem, ctx: SearchContext, config: BestOfNConfig = defaultBestOfNConfig): Promise<SearchResult> {
  // Library callers get the registry's check too: a negative kl would silently reward unlikely samples.
  const issue = bestOfNConfigIssue(config);
  if (issue) throw new Error(`best-of-n: ${issue}`);
  const meter = new Meter(ctx.budget);
  const needsScores = config.select !== 'majority';
  const trajectories = await sampleAndScore(problem, ctx, { ...config, score: config.score || needsScores, logprobs: config.kl > 0 }, meter);
  const regularized = config.select === 'best' && (config.kl > 0 || config.mbr > 0);
  const choice = regularized ? regularizedBest(trajectories, { kl: config.kl, mbr: config.mbr }, config.canonical) : selectAnswer(trajectories, config.select, config.canonical);
  return searchResult(problem, 'best-of-n', meter, trajectories, choice);
}
