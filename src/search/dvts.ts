import type { Problem } from '../core/problem.js';
import type { Trajectory } from '../core/trajectory.js';
import type { AggregationChoice } from './trajectories.js';
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
 * Every finished candidate of every round is a complete sample and joins the trajectories
 * (answers are chosen among all of them). Like is compared with like: a subtree goes on with its
 * best *unfinished* candidate (intermediate values against intermediate values; an answer line's
 * score is a different quantity), and ends when all its candidates have finished.
 */
export interface DvtsConfig {
  /** Total candidates per round (N); n / beamWidth subtrees. */
  n: number;
  /** Candidates per subtree per round (M). */
  beamWidth: number;
  maxSteps: number;
  temperature: number;
  topP: number;
  aggregation: AggregationChoice;
  /** Merge identical candidates within a round (one path, one score). */
  dedupe: boolean;
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
  // The reward model's own aggregation (the one it was trained and measured with), else 'last'.
  aggregation: 'reward',
  dedupe: true,
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
    // Subtrees whose beams share a text would merge under dedupe: only finished duplicates are dropped there.
    const opts = { temperature: config.temperature, topP: config.topP, aggregation: config.aggregation, dedupe: false, final: round === config.maxSteps - 1 };
    const candidates = await expandSteps(problem, ctx, prompt, active, config.beamWidth, opts, meter, tree);
    if (candidates === null) break;
    const seen = new Set(finished.map((t) => t.text));
    for (const c of byScore(candidates.filter((c) => c.finished))) {
      if (meter.samplesLeft() < 1) break;
      if (config.dedupe && seen.has(c.text)) continue;
      seen.add(c.text);
      finished.push(candidateTrajectory(ctx, problem, c));
      meter.samples++;
    }
    // Each subtree goes on with its best unfinished candidate; one with none left ends.
    const next: PartialSolution[] = [];
    active.forEach((_, s) => {
      const best = byScore(candidates.filter((c) => c.from === s && !c.finished))[0];
      if (best !== undefined) next.push(best);
    });
    active = next;
  }
  const trajectories = finished.length > 0 ? finished : active.filter((b) => b.node !== ROOT_INDEX).map((b) => candidateTrajectory(ctx, problem, { ...b, from: 0, finished: false, finishReason: 'length', score: tree.reward[b.node] ?? 0 }));
  return searchResult(problem, 'dvts', meter, trajectories, selectAnswer(trajectories, config.select, config.canonical), { tree });
}
