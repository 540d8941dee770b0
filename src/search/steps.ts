import type { Problem } from '../core/problem.js';
import type { FinishReason, Trajectory } from '../core/trajectory.js';
import type { AggregationChoice } from './trajectories.js';
import type { Meter } from './compute.js';
import type { SearchContext, SearchTree } from './search.js';
import { sampleEach } from './sample.js';
import { isSolution } from './select.js';
import { addNode } from './tree.js';
import { contextRoom, isFinished, makeTrajectory, scorePaths, splitSteps } from './trajectories.js';

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
  /** Merge candidates with identical text (same path: one node, one score). */
  dedupe?: boolean;
  topP: number;
  aggregation: AggregationChoice;
  /** Last round: generate to the end (no stop), as search-and-learn's final iteration does. */
  final: boolean;
}

/** Returns null when the budget leaves no room for the round. */
export async function expandSteps(
  problem: Problem,
  ctx: SearchContext,
  prompt: string,
  beams: readonly PartialSolution[],
  perBeam: number | readonly number[],
  opts: StepOptions,
  meter: Meter,
  tree: SearchTree,
): Promise<Candidate[] | null> {
  if (beams.length === 0) return [];
  const countOf = (i: number): number => (typeof perBeam === 'number' ? perBeam : perBeam[i]!);
  const total = beams.reduce((a, _, i) => a + countOf(i), 0);
  const maxTokens = meter.cap(total, ctx.maxTokens);
  if (maxTokens < 1) return null;
  const completions = await sampleEach(
    ctx,
    meter,
    beams.map((b) => prompt + b.text),
    perBeam,
    { stop: opts.final ? undefined : [ctx.task.stepDelimiter], maxTokens, temperature: opts.temperature, topP: opts.topP },
  );
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  completions.forEach((samples, from) => {
    const beam = beams[from]!;
    for (const c of samples) {
      const text = beam.text + c.text;
      const ended = c.text === '' || c.finishReason === 'length' || isFinished(ctx.task, problem, text, c.finishReason);
      // A partial solution that fills the context cannot take another step: it ends cut.
      const finishReason: FinishReason = !ended && contextRoom(ctx.policy, prompt + text) < 1 ? 'length' : c.finishReason;
      const finished = opts.final || ended || finishReason === 'length';
      // Only partial solutions merge: identical finished solutions are separate samples (votes).
      if (opts.dedupe && !finished) {
        if (seen.has(text)) continue;
        seen.add(text);
      }
      const stepLogprob = c.logprobs?.reduce((a, b) => a + b, 0);
      candidates.push({
        node: -1,
        from,
        text,
        tokens: beam.tokens + c.tokens,
        logprob: beam.logprob !== undefined && stepLogprob !== undefined ? beam.logprob + stepLogprob : undefined,
        finishReason,
        // An empty step cannot advance the solution, and a step cut at its cap is no step to build
        // on: both end here (a cut one without an answer is no solution, `isSolution`).
        finished,
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
    c.node = addNode(tree, beams[c.from]!.node, c.text.slice(beams[c.from]!.text.length), 1 / countOf(c.from), c.finished);
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

/**
 * `total` expansions split over `beams` ranked beams as evenly as possible, the extra ones to the
 * best-ranked (search-and-learn refills its n active beams by repeating the distinct survivors).
 */
export function spread(total: number, beams: number): number[] {
  if (beams <= 0) return [];
  const base = Math.floor(total / beams);
  return Array.from({ length: beams }, (_, i) => base + (i < total - base * beams ? 1 : 0));
}

/** Finished candidates first ranked as solutions (answered, uncut) above non-solutions, then by score. */
export function rankFinished(trajectories: readonly Trajectory[]): Trajectory[] {
  return trajectories
    .map((t, i) => ({ t, i }))
    .sort((a, b) => Number(isSolution(b.t)) - Number(isSolution(a.t)) || (b.t.score ?? -Infinity) - (a.t.score ?? -Infinity) || a.i - b.i)
    .map((x) => x.t);
}

/** Sorts by score, highest first; ties keep generation order (deterministic). */
export function byScore(candidates: readonly Candidate[]): Candidate[] {
  return candidates
    .map((c, i) => ({ c, i }))
    .sort((a, b) => b.c.score - a.c.score || a.i - b.i)
    .map((x) => x.c);
}
