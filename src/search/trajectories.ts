import type { Problem } from '../core/problem.js';
import type { FinishReason, Trajectory } from '../core/trajectory.js';
import { aggregate, type Aggregation } from '../reward/reward.js';
import type { Task } from '../tasks/task.js';
import type { Meter } from './compute.js';
import type { SearchContext, SearchResult } from './search.js';

/** Splits solution text on the step delimiter; a trailing delimiter does not make an empty step. */
export function splitSteps(text: string, delimiter: string): string[] {
  if (text === '') return [];
  const steps = text.split(delimiter);
  if (steps[steps.length - 1] === '') steps.pop();
  return steps;
}

/**
 * A trajectory from generated text. The answer is the verifier's *extraction* (never its
 * verdict); `correct` is filled for evaluation and reports only: no search reads it.
 */
export function makeTrajectory(
  task: Task,
  problem: Problem,
  text: string,
  finishReason: FinishReason,
  outputTokens: number,
  logprobs?: readonly number[],
): Trajectory {
  const v = task.verify(problem, text);
  const t: Trajectory = { text, steps: splitSteps(text, task.stepDelimiter), answer: v.extracted, finishReason, outputTokens, correct: v.correct };
  if (logprobs) t.logprob = logprobs.reduce((a, b) => a + b, 0);
  return t;
}

/**
 * Tokens a policy can still write after `prefix` (prompt + partial solution) within its context;
 * one position goes to the BOS token. A partial solution with no room left cannot be continued:
 * a search ends it as cut ('length') rather than send it, since an engine refuses a prompt that
 * fills its context (a step that ended on the context's last position did so in beam search on
 * the built-in model's 256 tokens).
 */
export function contextRoom(policy: { readonly contextLength: number; countTokens(text: string): number }, prefix: string): number {
  return policy.contextLength - policy.countTokens(prefix) - 1;
}

/**
 * Whether a partial solution has ended on its own: the policy stopped (eos), or the text already
 * holds a final answer (a step-wise search generates with stop = [delimiter], so "Answer: 7\n"
 * comes back as 'stop' yet is finished). A generation cut at the length limit ('length') has not
 * ended: it is a cut step, neither a finished solution nor a step to build on (`isCut`).
 */
export function isFinished(task: Task, problem: Problem, text: string, finishReason: FinishReason): boolean {
  return finishReason === 'eos' || task.verify(problem, text).extracted !== null;
}

/** A generation cut at its token cap before it ended (a truncated step is not a solution). */
export function isCut(task: Task, problem: Problem, text: string, finishReason: FinishReason): boolean {
  return finishReason === 'length' && task.verify(problem, text).extracted === null;
}

/**
 * How a search aggregates step scores: one of search-and-learn's `aggregate_scores` strategies, or
 * 'reward' for the reward model's own (`RewardModel.aggregation`, e.g. a PRM trained and measured
 * with 'min'), falling back to 'last' (search-and-learn's default) for models that state none.
 */
export type AggregationChoice = Aggregation | 'reward';

export function resolveAggregation(choice: AggregationChoice, reward: { aggregation?: Aggregation }): Aggregation {
  return choice === 'reward' ? (reward.aggregation ?? 'last') : choice;
}

export interface PathScore {
  /** Step scores aggregated (process models), or the outcome score. */
  score: number;
  stepScores?: number[];
}

/**
 * Scores partial or complete solutions in one reward call and aggregates step scores
 * (search-and-learn keeps PRM scoring apart from aggregation: `aggregate_scores`).
 */
export async function scorePaths(
  ctx: SearchContext,
  problem: Problem,
  prompt: string,
  paths: { steps: string[]; complete: boolean }[],
  aggregation: AggregationChoice,
  meter: Meter,
): Promise<PathScore[]> {
  if (paths.length === 0) return [];
  const how = resolveAggregation(aggregation, ctx.reward);
  const { scores, usage } = await ctx.reward.score(paths.map((p) => ({ problem, prompt, steps: p.steps, complete: p.complete })));
  meter.reward(usage);
  return scores.map((s) => {
    const out: PathScore = { score: s.stepScores && s.stepScores.length > 0 ? aggregate(s.stepScores, how) : s.score };
    if (s.stepScores) out.stepScores = s.stepScores;
    return out;
  });
}

/** Scores complete trajectories in one reward call, filling `score` and `stepScores`. */
export async function scoreTrajectories(
  ctx: SearchContext,
  problem: Problem,
  prompt: string,
  trajectories: Trajectory[],
  aggregation: AggregationChoice,
  meter: Meter,
): Promise<void> {
  const scores = await scorePaths(
    ctx,
    problem,
    prompt,
    trajectories.map((t) => ({ steps: t.steps, complete: t.finishReason !== 'length' })),
    aggregation,
    meter,
  );
  trajectories.forEach((t, i) => {
    t.score = scores[i]!.score;
    if (scores[i]!.stepScores) t.stepScores = scores[i]!.stepScores;
  });
}

/** Assembles a SearchResult, stamping the compute with its wall time. */
export function searchResult(
  problem: Problem,
  algo: string,
  meter: Meter,
  trajectories: Trajectory[],
  choice: { answer: string | null; best: Trajectory | null },
  extra: Partial<Pick<SearchResult, 'tree' | 'actionWeights'>> = {},
): SearchResult {
  return { problemId: problem.id, algo, answer: choice.answer, best: choice.best, trajectories, ...extra, compute: meter.finish() };
}
