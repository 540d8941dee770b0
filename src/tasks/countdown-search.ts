/**
 * The search a Countdown trace shows, after Stream of Search (Gandhi et al. 2024), who trained on
 * the traces of heuristic-guided DFS/BFS (failed branches included) rather than on the optimal path.
 *
 * `dfs` (the default): a depth-first search over the first step, children ordered by a heuristic
 * the model can read off the line it writes (the first result closest to the target comes first,
 * ties in random order). Each attempt then continues greedily, every later step the move whose
 * result is closest to the target, so with 3 numbers an attempt is two lines and its second line
 * is a function of the first. An attempt that misses the target is a dead end (`back`), a first
 * step is never tried twice, and the search stops at the first attempt that reaches the target.
 * The dead ends are thus the branches the search really visited before the solution, so a model
 * that imitates the trace is imitating the search, and every dead end ends honestly on a value
 * that is not the target (the optimal-path-only model learns instead that a last step always
 * equals the target, the "19+17=34" failure of issue 8).
 *
 * `random`: the earlier traces, random complete paths that miss the target, unrelated to the
 * solution and to each other (kept to compare).
 */
import type { Rng } from '../core/rng.js';
import { after, moves, solveCountdown, type CountdownStep } from './countdown-solve.js';

/** How dead ends are chosen: `dfs` (the search's own failed branches) or `random` (unrelated random paths). */
export type CountdownSearch = 'dfs' | 'random';
export const countdownSearches: readonly CountdownSearch[] = ['dfs', 'random'];

export interface SearchTrace {
  /** Failed attempts in the order visited, each a complete path from the start. */
  deadEnds: CountdownStep[][];
  /** The path that reaches the target ([] when the target is given). */
  path: CountdownStep[];
}

/** Moves in heuristic order: the result closest to the target first, ties shuffled by rng. */
function ordered(pool: readonly number[], target: number, rng: Rng): ReturnType<typeof moves> {
  return rng.shuffle(moves(pool)).sort((x, y) => Math.abs(x.step.c - target) - Math.abs(y.step.c - target));
}

/** The greedy continuation from a pool: always the move closest to the target, until it is reached or one number is left. */
function greedyRollout(pool: readonly number[], target: number, rng: Rng): CountdownStep[] {
  const steps: CountdownStep[] = [];
  let p = [...pool];
  while (p.length > 1 && !steps.some((s) => s.c === target)) {
    const ms = ordered(p, target, rng);
    if (ms.length === 0) break;
    const { i, j, step } = ms[0]!;
    steps.push(step);
    p = after(p, i, j, step.c);
  }
  return steps;
}

/**
 * Depth-first search over the first step in heuristic order (see the file comment). With more
 * than 3 numbers a first step whose greedy continuation misses may still lead to a solution; then
 * the solver's shortest continuation from there is the path. Null when the puzzle has no solution.
 */
export function dfsSearch(numbers: readonly number[], target: number, rng: Rng): SearchTrace | null {
  if (numbers.includes(target)) return { deadEnds: [], path: [] };
  const deadEnds: CountdownStep[][] = [];
  const tried = new Set<string>();
  for (const { i, j, step } of ordered(numbers, target, rng)) {
    // Equal numbers give the same step twice (21+1 from 21 21 1): one branch, tried once.
    const key = `${step.a}${step.op}${step.b}`;
    if (tried.has(key)) continue;
    tried.add(key);
    if (step.c === target) return { deadEnds, path: [step] };
    const pool = after(numbers, i, j, step.c);
    const rollout = greedyRollout(pool, target, rng);
    if (rollout.some((s) => s.c === target)) return { deadEnds, path: [step, ...rollout.slice(0, rollout.findIndex((s) => s.c === target) + 1)] };
    const rest = pool.length > 2 ? solveCountdown(pool, target, rng) : null;
    if (rest !== null) return { deadEnds, path: [step, ...rest] };
    deadEnds.push([step, ...rollout]);
  }
  return null;
}
