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
 * Step-level beam search guided by a process reward (Snell et al. 2024 §5; search-and-learn
 * `beam_search`). A step is the text up to the task's delimiter.
 *
 *     round 0: sample n first steps from the prompt
 *     every round: score all candidates with the PRM; finished ones become trajectories;
 *                  keep the n / beamWidth best unfinished; expand each beamWidth ways
 *     stop: n trajectories finished, no beam left, maxSteps rounds, or the budget is spent
 *
 * So each round generates about n steps, and a whole search about n samples' worth of tokens.
 * Unlike search-and-learn, beams that finish are not replaced by duplicates of the survivors, so
 * later rounds are cheaper. With an outcome reward (e.g. the verifier) unfinished beams all score
 * 0 and the search degenerates to sampling: use a process reward.
 */
export interface BeamConfig {
  /** Candidates per round, and the number of finished solutions that ends the search (N). */
  n: number;
  /** Expansions per kept beam (M); n / M beams are kept each round. */
  beamWidth: number;
  /** Rounds at most; the last one generates to the end. */
  maxSteps: number;
  temperature: number;
  topP: number;
  aggregation: Aggregation;
  /** Final answer selection over finished beams. */
  select: Selection;
  canonical?: Canonical;
}

export const defaultBeamConfig = {
  n: 16,
  // search-and-learn's beam_width: M = 4 (Snell et al. 2024 use M = 4 in their comparisons).
  beamWidth: 4,
  // search-and-learn's num_iterations.
  maxSteps: 40,
  temperature: 0.8,
  topP: 1,
  aggregation: 'last',
  // Snell et al. 2024 choose the final answer by best-of-N weighted over the finished beams.
  select: 'weighted',
} satisfies BeamConfig;

export async function beam(problem: Problem, ctx: SearchContext, config: BeamConfig = defaultBeamConfig): Promise<SearchResult> {
  const meter = new Meter(ctx.budget);
  const prompt = ctx.task.formatPrompt(problem);
  const tree = newTree();
  const keep = Math.max(1, Math.floor(config.n / config.beamWidth));
  let active: PartialSolution[] = [{ node: ROOT_INDEX, text: '', tokens: 0, logprob: 0 }];
  const finished: Trajectory[] = [];
  for (let round = 0; round < config.maxSteps && active.length > 0 && finished.length < config.n; round++) {
    if (meter.samplesLeft() < 1) break;
    const perBeam = round === 0 ? config.n : config.beamWidth;
    const opts = { temperature: config.temperature, topP: config.topP, aggregation: config.aggregation, final: round === config.maxSteps - 1 };
    const candidates = await expandSteps(problem, ctx, prompt, active, perBeam, opts, meter, tree);
    if (candidates === null) break;
    const ranked = byScore(candidates);
    for (const c of ranked.filter((c) => c.finished)) {
      if (meter.samplesLeft() < 1 || finished.length >= config.n) break;
      finished.push(candidateTrajectory(ctx, problem, c));
      meter.samples++;
    }
    active = ranked.filter((c) => !c.finished).slice(0, keep);
  }
  // Out of budget before anything finished: report the best partial solutions, cut short.
  const trajectories = finished.length > 0 ? finished : active.filter((b) => b.node !== ROOT_INDEX).map((b) => candidateTrajectory(ctx, problem, { ...b, from: 0, finished: false, finishReason: 'length', score: tree.reward[b.node] ?? 0 }));
  return searchResult(problem, 'beam', meter, trajectories, selectAnswer(trajectories, config.select, config.canonical), { tree });
}
