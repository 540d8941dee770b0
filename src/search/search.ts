import type { Compute } from '../core/compute.js';
import type { Problem } from '../core/problem.js';
import type { Rng } from '../core/rng.js';
import type { Trajectory } from '../core/trajectory.js';
import type { Policy } from '../policy/policy.js';
import type { RewardModel } from '../reward/reward.js';
import type { Task } from '../tasks/task.js';

/** A compute cap. Searches stop within it and report what they spent. */
export interface Budget {
  /** Maximum generated tokens summed over all policy calls. */
  outputTokens?: number;
  /** Maximum complete samples (best-of-N's N). */
  samples?: number;
}

/** Everything a search uses, passed in (no hidden globals, no unseeded randomness). */
export interface SearchContext {
  task: Task;
  policy: Policy;
  reward: RewardModel;
  rng: Rng;
  budget: Budget;
  /** Maximum tokens of one sample or one step. */
  maxTokens: number;
  signal?: AbortSignal;
}

/** A search tree as flat arrays (mctx's layout): node 0 is the root, parent -1 means none. */
export interface SearchTree {
  parent: number[];
  /** Text of the step that leads into each node ("" for the root). */
  step: string[];
  visits: number[];
  /** Mean value of each node. */
  q: number[];
  prior: number[];
  reward: (number | null)[];
  terminal: boolean[];
}

export const ROOT_INDEX = 0;
export const NO_PARENT = -1;

export interface SearchResult {
  problemId: string;
  algo: string;
  answer: string | null;
  best: Trajectory | null;
  /** Every complete trajectory considered, with scores. */
  trajectories: Trajectory[];
  tree?: SearchTree;
  /**
   * Tree searches: the root's visit distribution, one weight per child of the root in index
   * order (`childrenOf(tree, ROOT_INDEX)`), summing to 1 — the training target for learning
   * (mctx's `action_weights`).
   */
  actionWeights?: number[];
  compute: Compute;
}

export type SearchFn<C> = (problem: Problem, ctx: SearchContext, config: C) => Promise<SearchResult>;
