import type { Problem } from '../core/problem.js';
import type { Trajectory } from '../core/trajectory.js';
import { sampleAndScore } from './best-of-n.js';
import { Meter } from './compute.js';
import type { SearchContext, SearchResult } from './search.js';
import { answerTotals, defaultCanonical, selectAnswer, type Canonical } from './select.js';
import { searchResult, type AggregationChoice } from './trajectories.js';

/**
 * Adaptive self-consistency: majority voting that samples in rounds and stops once the vote is
 * decided (Aggarwal et al. 2023, "Let Me Sample Step by Step: Adaptive-Consistency for Efficient
 * Reasoning and Coding with LLMs"; Li et al. 2024's early-stopping self-consistency). It is
 * compute allocation by difficulty (Snell et al. 2024; the roadmap's second open question) with
 * the difficulty read from the samples themselves: a problem whose first samples agree is easy
 * and gets few, one whose samples scatter gets up to `n`. No reward model and no gold answer.
 *
 * Stopping rule (Adaptive-Consistency's Beta criterion): with v₁ votes for the leading answer
 * and v₂ for the runner-up, stop when P(p₁ > p₂) ≥ `confidence`, where p₁ / (p₁ + p₂) has the
 * posterior Beta(v₁ + 1, v₂ + 1). Also stop when the leader's lead exceeds the samples left,
 * since then majority@n would give the same answer whatever they say.
 */
export interface AdaptiveMajorityConfig {
  /** Most samples per problem (the budget N). */
  n: number;
  /** Samples drawn per round, in one batched call (default 4: small enough to stop early on easy problems, large enough to batch). */
  round: number;
  /** Stop when the leading answer beats the runner-up with this posterior probability (default 0.95, Aggarwal et al.'s threshold). */
  confidence: number;
  temperature: number;
  topP: number;
  /** Score the samples with the reward model (annotation only; voting needs none). */
  score: boolean;
  aggregation: AggregationChoice;
  canonical?: Canonical;
}

export const defaultAdaptiveMajorityConfig = {
  n: 64,
  round: 4,
  confidence: 0.95,
  temperature: 0.8,
  topP: 1,
  score: false,
  aggregation: 'reward',
} satisfies AdaptiveMajorityConfig;

/**
 * P(X > ½) for X ~ Beta(a + 1, b + 1): the posterior probability that the leader's share of the
 * two leading answers is the larger. For integer parameters P(X ≤ x) = P(Bin(a + b + 1, x) ≥ a + 1),
 * so this is P(Bin(a + b + 1, ½) ≤ a), an exact finite sum.
 */
export function leaderProbability(a: number, b: number): number {
  const m = a + b + 1;
  let term = Math.pow(0.5, m); // C(m, 0) / 2^m
  let sum = term;
  for (let k = 1; k <= a; k++) {
    term *= (m - k + 1) / k;
    sum += term;
  }
  return Math.min(1, sum);
}

/** The two largest vote counts among finished solutions. */
export function topTwoVotes(trajectories: readonly Trajectory[], canonical: Canonical = defaultCanonical): [number, number] {
  const counts = answerTotals(trajectories, () => 1, canonical);
  let first = 0;
  let second = 0;
  for (const c of counts.values()) {
    if (c > first) [first, second] = [c, first];
    else if (c > second) second = c;
  }
  return [first, second];
}

/** Whether the vote is decided after `drawn` of at most `n` samples (see the file comment). */
export function voteDecided(first: number, second: number, drawn: number, n: number, confidence: number): boolean {
  if (first === 0) return false;
  if (first - second > n - drawn) return true;
  return leaderProbability(first, second) >= confidence;
}

/** What is wrong with a config, in one phrase, or null (the search and the spec parser both ask). */
export function adaptiveMajorityConfigIssue(config: Pick<AdaptiveMajorityConfig, 'confidence' | 'round'>): string | null {
  if (!(config.confidence > 0 && config.confidence < 1)) return `confidence must be between 0 and 1 (exclusive), not ${config.confidence}`;
  if (!(Number.isInteger(config.round) && config.round >= 1)) return `round must be a whole number of samples ≥ 1, not ${config.round}`;
  return null;
}

export async function adaptiveMajority(problem: Problem, ctx: SearchContext, config: AdaptiveMajorityConfig = defaultAdaptiveMajorityConfig): Promise<SearchResult> {
  const issue = adaptiveMajorityConfigIssue(config);
  if (issue) throw new Error(`adaptive-majority: ${issue}`);
  const meter = new Meter(ctx.budget);
  const trajectories: Trajectory[] = [];
  const round = config.round;
  while (trajectories.length < config.n) {
    const drawn = await sampleAndScore(problem, ctx, { ...config, n: Math.min(round, config.n - trajectories.length) }, meter);
    if (drawn.length === 0) break; // the budget holds no more
    trajectories.push(...drawn);
    const [first, second] = topTwoVotes(trajectories, config.canonical);
    if (voteDecided(first, second, trajectories.length, config.n, config.confidence)) break;
  }
  return searchResult(problem, 'adaptive-majority', meter, trajectories, selectAnswer(trajectories, 'majority', config.canonical));
}
