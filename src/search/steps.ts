import type { Problem } from '../core/problem.js';
import type { FinishReason, Trajectory } from '../core/trajectory.js';
import type { Aggregation } from '../reward/reward.js';
import type { Meter } from './compute.js';
import type { SearchContext, SearchTree } from './search.js';
import { sampleEach } from './sample.js';
import { addNode } from './tree.js';
import { isFinished, makeTrajectory, scorePaths, splitSteps } from './trajectories.js';

/**
 * One round of step-level search shared by beam search and DVTS: continue each partial
 * solution by `perBeam` next steps (generation stops at the task's step delimiter), then score
 * every candidate with the reward model in one call (search-and-learn's inner loop).
 */

/** A partial solution: the text after the prompt, and its node in the search tree. */
export interface PartialSolution {
  node: number;
  text: string;
  tokens: number;
  logprob?: number;
}

export interface Candidate extends PartialSolution {
  /** Index of the partial solution it extends. */
  from: number;
  finishReason: FinishReason;
  finished: boolean;
  score: number;
  stepScores?: number[];
}

export interface StepOptions {
  temperature: number;
  topP: number;
  aggregation: Aggregation;
  /** Last round: generate to the end (no stop), as search-and-learn's final iteration does. */
  final: boolean;
}

/** Returns null when the budget leaves no room for the round. */
export async function expandSteps(
  problem: Problem,
  ctx: SearchContext,
  prompt: string,
  beams: readonly PartialSolution[],
  perBeam: number,
  opts: StepOptions,
  meter: Meter,
  tree: SearchTree,
): Promise<Candidate[] | null> {
  if (beams.length === 0) return [];
  const maxTokens = meter.cap(beams.length * perBeam, ctx.maxTokens);
  if (maxTokens < 1) return null;
  const completions = await sampleEach(
    ctx,
    meter,
    beams.map((b) => prompt + b.text),
    perBeam,
    { stop: opts.final ? undefined : [ctx.task.stepDelimiter], maxTokens, temperature: opts.temperature, topP: opts.topP },
  );
  const candidates: Candidate[] = [];
  completions.forEach((samples, from) => {
    const beam = beams[from]!;
    for (const c of samples) {
      const text = beam.text + c.text;
      const stepLogprob = c.logprobs?.reduce((a, b) => a + b, 0);
      candidates.push({
        node: -1,
        from,
        text,
        tokens: beam.tokens + c.tokens,
        logprob: beam.logprob !== undefined && stepLogprob !== undefined ? beam.logprob + stepLogprob : undefined,
        finishReason: c.finishReason,
        // An empty step cannot advance the solution: treat it as the end.
        finished: opts.final || c.text === '' || isFinished(ctx.task, problem, text, c.finishReason),
        score: 0,
      });
    }
  });
  const delimiter = ctx.task.stepDelimiter;
  const scores = await scorePaths(
    ctx,
    problem,
    prompt,
    candidates.map((c) => ({ steps: splitSteps(c.text, delimiter), complete: c.finished && c.finishReason !== 'length' })),
    opts.aggregation,
    meter,
  );
  candidates.forEach((c, i) => {
    c.score = scores[i]!.score;
    if (scores[i]!.stepScores) c.stepScores = scores[i]!.stepScores;
    // Beam-like searches back nothing up: each candidate node is scored once (visits 1, q = reward).
    c.node = addNode(tree, beams[c.from]!.node, c.text.slice(beams[c.from]!.text.length), 1 / perBeam, c.finished);
    tree.visits[c.node] = 1;
    tree.q[c.node] = c.score;
    tree.reward[c.node] = c.score;
  });
  return candidates;
}

/** A finished candidate as a trajectory (with the scores it got during the search). */
export function candidateTrajectory(ctx: SearchContext, problem: Problem, c: Candidate): Trajectory {
  const t = makeTrajectory(ctx.task, problem, c.text, c.finishReason, c.tokens);
  if (c.logprob !== undefined) t.logprob = c.logprob;
  t.score = c.score;
  if (c.stepScores) t.stepScores = c.stepScores;
  return t;
}

/** Sorts by score, highest first; ties keep generation order (deterministic). */
export function byScore(candidates: readonly Candidate[]): Candidate[] {
  return candidates
    .map((c, i) => ({ c, i }))
    .sort((a, b) => b.c.score - a.c.score || a.i - b.i)
    .map((x) => x.c);
}
