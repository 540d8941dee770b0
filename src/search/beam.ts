import type { Problem } from '../core/problem.js';
import type { Trajectory } from '../core/trajectory.js';
import type { AggregationChoice } from './trajectories.js';
import { Meter } from './compute.js';
import { ROOT_INDEX, type SearchContext, type SearchResult } from './search.js';
import { selectAnswer, type Canonical, type Selection } from './select.js';
import { byScore, candidateTrajectory, expandSteps, rankFinished, spread, type PartialSolution } from './steps.js';
import { newTree } from './tree.js';
import { searchResult } from './trajectories.js';

/**
 * Step-level beam search guided by a process reward (Snell et al. 2024 §5; search-and-learn
 * `beam_search`). A step is the text up to the task's delimiter.
 *
 *     round 0: sample n first steps from the prompt
 *     every round: score all candidates with the PRM (identical texts merged: one path, one
 *                  score); finished ones join the pool; keep the n / beamWidth best unfinished
 *                  distinct beams; expand them n ways in all (beamWidth each when all are
 *                  distinct; fewer distinct beams get more each, so no compute is lost)
 *     stop: no beam left, maxSteps rounds, or the budget is spent
 *     answer: the n best-scored finished solutions of the pool, then `select` among them
 *
 * Finished beams are ranked by score at the end, not admitted first come first served: a short
 * wrong solution that finishes in round 2 does not crowd out better ones that finish later.
 * Unlike search-and-learn, beams that finish are not replaced by duplicates of the survivors, so
 * later rounds are cheaper. With an outcome reward (e.g. the verifier) unfinished beams all score
 * 0 and the search degenerates to sampling: use a process reward.
 */
export interface BeamConfig {
  /** Candidates per round, and the number of finished solutions the answer is chosen from (N). */
  n: number;
  /** Expansions per kept beam (M); n / M beams are kept each round. */
  beamWidth: number;
  /** Rounds at most; the last one generates to the end. */
  maxSteps: number;
  temperature: number;
  topP: number;
  aggregation: AggregationChoice;
  /** Merge identical beams (at small N, sampling often repeats one text; keeping copies wastes the beam). */
  dedupe: boolean;
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
  // The reward model's own aggregation (the one it was trained and measured with), else 'last'.
  aggregation: 'reward',
  // search-and-learn filters duplicate completions (`filter_duplicates`) before choosing beams.
  dedupe: true,
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
  for (let round = 0; round < config.maxSteps && active.length > 0; round++) {
    if (meter.samplesLeft() < 1) break;
    // Distinct beams share the round's n expansions (a surviving beam that had copies keeps their
    // share, as search-and-learn's refill does); without dedupe each copy gets beamWidth.
    const perBeam = round === 0 ? config.n : config.dedupe ? spread(keep * config.beamWidth, active.length) : config.beamWidth;
    const opts = { temperature: config.temperature, topP: config.topP, aggregation: config.aggregation, dedupe: config.dedupe, final: round === config.maxSteps - 1 };
    const candidates = await expandSteps(problem, ctx, prompt, active, perBeam, opts, meter, tree);
    if (candidates === null) break;
    const ranked = byScore(candidates);
    for (const c of ranked.filter((c) => c.finished)) {
      if (meter.samplesLeft() < 1) break;
      finished.push(candidateTrajectory(ctx, problem, c));
      meter.samples++;
    }
    active = ranked.filter((c) => !c.finished).slice(0, keep);
  }
  // Out of budget before anything finished: report the best partial solutions, cut short (no answer wins from them).
  const trajectories = finished.length > 0 ? finished : active.filter((b) => b.node !== ROOT_INDEX).map((b) => candidateTrajectory(ctx, problem, { ...b, from: 0, finished: false, finishReason: 'length', score: tree.reward[b.node] ?? 0 }));
  const top = rankFinished(trajectories).slice(0, config.n);
  return searchResult(problem, 'beam', meter, trajectories, selectAnswer(top, config.select, config.canonical), { tree });
}
