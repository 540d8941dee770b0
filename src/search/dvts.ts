import type { Problem } from '../core/problem.js';
import type { Trajectory } from '../core/trajectory.js';
import type { Aggregation } from '../reward/reward.js';
import { Meter } from './compute.js';
import { ROOT_INDEX, type SearchContext, type SearchResult } from './search.js';
import { selectAnswer, type Canonical, type Selection } from './select.js';
import { byScore, candidateTrajectory, expandSteps, type PartialSolution } from './steps.js';
import { newTree } from './tree.js';
import { searchResult } from './trajectories.js';

/**
 * Diverse Verifier Tree Search (Beeching, Tunstall & Rush 2024, search-and-learn `dvts`): split
 * the n candidates into n / beamWidth independent subtrees, each a greedy PRM-guided search that
 * expands its single beam beamWidth ways per round and keeps the best. Independent subtrees
 * avoid beam search's collapse onto one prefix, which helps at large budgets.
 *
 * A subtree ends when its best candidate finishes; every finished candidate of every round is a
 * complete sample and joins the trajectories (answers are chosen among all of them).
 */
export interface DvtsConfig {
  /** Total candidates per round (N); n / beamWidth subtrees. */
  n: number;
  /** Candidates per subtree per round (M). */
  beamWidth: number;
  maxSteps: number;
  temperature: number;
  topP: number;
  aggregation: Aggregation;
  select: Selection;
  canonical?: Canonical;
}

export const defaultDvtsConfig = {
  n: 16,
  // search-and-learn's DVTS runs use beam_width 4.
  beamWidth: 4,
  maxSteps: 40,
  temperature: 0.8,
  topP: 1,
  aggregation: 'last',
  // search-and-learn reports DVTS with weighted best-of-N answer selection.
  select: 'weighted',
} satisfies DvtsConfig;

export async function dvts(problem: Problem, ctx: SearchContext, config: DvtsConfig = defaultDvtsConfig): Promise<SearchResult> {
  const meter = new Meter(ctx.budget);
  const prompt = ctx.task.formatPrompt(problem);
  const tree = newTree();
  const subtrees = Math.max(1, Math.floor(config.n / config.beamWidth));
  // One beam per live subtree; all subtrees start at the root and diverge by sampling.
  let active: PartialSolution[] = Array.from({ length: subtrees }, () => ({ node: ROOT_INDEX, text: '', tokens: 0, logprob: 0 }));
  const finished: Trajectory[] = [];
  for (let round = 0; round < config.maxSteps && active.length > 0; round++) {
    if (meter.samplesLeft() < 1) break;
    const opts = { temperature: config.temperature, topP: config.topP, aggregation: config.aggregation, final: round === config.maxSteps - 1 };
    const candidates = await expandSteps(problem, ctx, prompt, active, config.beamWidth, opts, meter, tree);
    if (candidates === null) break;
    for (const c of byScore(candidates.filter((c) => c.finished))) {
      if (meter.samplesLeft() < 1) break;
      finished.push(candidateTrajectory(ctx, problem, c));
      meter.samples++;
    }
    // Each subtree keeps its own best candidate; it lives on only if that one is unfinished.
    active = active.map((_, s) => byScore(candidates.filter((c) => c.from === s))[0]!).filter((c) => !c.finished);
  }
  const trajectories = finished.length > 0 ? finished : active.filter((b) => b.node !== ROOT_INDEX).map((b) => candidateTrajectory(ctx, problem, { ...b, from: 0, finished: false, finishReason: 'length', score: tree.reward[b.node] ?? 0 }));
  return searchResult(problem, 'dvts', meter, trajectories, selectAnswer(trajectories, config.select, config.canonical), { tree });
}
