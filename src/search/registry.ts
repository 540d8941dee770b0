import type { Problem } from '../core/problem.js';
import type { Aggregation, RewardModel } from '../reward/reward.js';
import { resolveAggregation, type AggregationChoice } from './trajectories.js';
import { beam, defaultBeamConfig, type BeamConfig } from './beam.js';
import { bestOfN, defaultBestOfNConfig, type BestOfNConfig } from './best-of-n.js';
import { defaultDvtsConfig, dvts, type DvtsConfig } from './dvts.js';
import { defaultGreedyConfig, greedy, type GreedyConfig } from './greedy.js';
import { defaultHybridConfig, hybrid, type HybridConfig } from './hybrid.js';
import { defaultMajorityConfig, majority, type MajorityConfig } from './majority.js';
import { defaultMctsConfig, mcts, type MctsConfig } from './mcts.js';
import { defaultRevisionConfig, revision, type RevisionConfig } from './revision.js';
import type { Budget, SearchContext, SearchResult } from './search.js';
import { defaultWeightedMajorityConfig, weightedMajority, type WeightedMajorityConfig } from './weighted-majority.js';

/**
 * The search algorithms by CLI name, each with its default config and a mapping from a budget
 * "N" to a config so that algorithms compare at matched compute: N samples' worth of output
 * tokens (search-and-learn and Snell et al. 2024 put generated tokens / N on the x-axis).
 *
 * | name | N maps to | spends about |
 * |---|---|---|
 * | greedy | (ignores N) | 1 sample |
 *
 * (Hints set what every config shares: the reward's aggregation, the sampling temperature, dedupe.)
 *
 * | best-of-n, majority, weighted-majority | n = N | N samples |
 * | beam, dvts | n = N candidates per round, beamWidth = min(4, N) | N samples (N steps per round) |
 * | mcts | numSimulations = N with rollouts; N × stepsPerSample with PRM evaluation (one new step per simulation) | N samples |
 * | revision | attempts = N | N samples (plus longer prompts) |
 * | hybrid | n = N attempts over round(N^breadthFraction) chains | N samples |
 *
 * The mapping sets expected spend; `matchedBudget(N, maxTokens)` is the hard cap to run it
 * under (N × maxTokens output tokens), which a search never exceeds.
 */
export interface BudgetHints {
  /** Typical steps in one solution (sets MCTS's simulations under PRM evaluation). Default 4. */
  stepsPerSample?: number;
  /** The reward model's kind, when known (MCTS 'auto' evaluation depends on it). Default 'process'. */
  rewardKind?: RewardModel['kind'];
  /**
   * Step-score aggregation: pass the reward model's own (`reward.aggregation`, the one it was
   * measured with) or the user's choice; default: each config's default.
   */
  aggregation?: AggregationChoice;
  /** Sampling temperature of every search that samples (greedy stays at 0). */
  temperature?: number;
  /** Merge identical beams (beam, DVTS). */
  dedupe?: boolean;
}

/** The hints that apply to every sampling search's config. */
function common(h: BudgetHints): { aggregation?: AggregationChoice; temperature?: number } {
  return { ...(h.aggregation ? { aggregation: h.aggregation } : {}), ...(h.temperature !== undefined ? { temperature: h.temperature } : {}) };
}

function dedupeOf(h: BudgetHints): { dedupe?: boolean } {
  return h.dedupe !== undefined ? { dedupe: h.dedupe } : {};
}

/** The aggregation a search with this reward uses: the user's choice, else the model's own, else 'last'. */
export function effectiveAggregation(reward: Pick<RewardModel, 'aggregation'>, choice?: AggregationChoice): Aggregation {
  return resolveAggregation(choice ?? 'reward', reward);
}

export interface SearchAlgorithm<C = unknown> {
  readonly name: string;
  readonly description: string;
  readonly defaultConfig: C;
  search(problem: Problem, ctx: SearchContext, config: C): Promise<SearchResult>;
  /** A config that spends about N samples' worth of output tokens. */
  budgetToConfig(n: number, hints?: BudgetHints): C;
}

/** The hard cap that goes with budget N: N samples of at most maxTokens each. */
export function matchedBudget(n: number, maxTokens: number): Budget {
  return { outputTokens: n * maxTokens };
}

const width = (n: number): number => Math.max(1, Math.min(4, n));

export const searchAlgorithms = {
  greedy: {
    name: 'greedy',
    description: 'one sample at temperature 0',
    defaultConfig: defaultGreedyConfig,
    search: greedy,
    budgetToConfig: (_n, h = {}) => ({ ...defaultGreedyConfig, ...(h.aggregation ? { aggregation: h.aggregation } : {}) }),
  } satisfies SearchAlgorithm<GreedyConfig>,
  'best-of-n': {
    name: 'best-of-n',
    description: 'N samples, the highest reward wins',
    defaultConfig: defaultBestOfNConfig,
    search: bestOfN,
    budgetToConfig: (n, h = {}) => ({ ...defaultBestOfNConfig, ...common(h), n }),
  } satisfies SearchAlgorithm<BestOfNConfig>,
  majority: {
    name: 'majority',
    description: 'N samples, the most frequent answer wins (self-consistency)',
    defaultConfig: defaultMajorityConfig,
    search: majority,
    budgetToConfig: (n, h = {}) => ({ ...defaultMajorityConfig, ...common(h), n }),
  } satisfies SearchAlgorithm<MajorityConfig>,
  'weighted-majority': {
    name: 'weighted-majority',
    description: 'N samples, answers weighted by reward',
    defaultConfig: defaultWeightedMajorityConfig,
    search: weightedMajority,
    budgetToConfig: (n, h = {}) => ({ ...defaultWeightedMajorityConfig, ...common(h), n }),
  } satisfies SearchAlgorithm<WeightedMajorityConfig>,
  beam: {
    name: 'beam',
    description: 'step-level beam search guided by a process reward',
    defaultConfig: defaultBeamConfig,
    search: beam,
    budgetToConfig: (n, h = {}) => ({ ...defaultBeamConfig, ...common(h), ...dedupeOf(h), n, beamWidth: width(n) }),
  } satisfies SearchAlgorithm<BeamConfig>,
  dvts: {
    name: 'dvts',
    description: 'diverse verifier tree search: independent PRM-guided subtrees',
    defaultConfig: defaultDvtsConfig,
    search: dvts,
    budgetToConfig: (n, h = {}) => ({ ...defaultDvtsConfig, ...common(h), ...dedupeOf(h), n, beamWidth: width(n) }),
  } satisfies SearchAlgorithm<DvtsConfig>,
  mcts: {
    name: 'mcts',
    description: 'Monte Carlo tree search over steps (PUCT, value backup)',
    defaultConfig: defaultMctsConfig,
    search: mcts,
    budgetToConfig: (n, hints = {}) => {
      const rollouts = defaultMctsConfig.evaluate === 'auto' ? (hints.rewardKind ?? 'process') === 'outcome' : false;
      return { ...defaultMctsConfig, ...common(hints), numSimulations: rollouts ? n : n * (hints.stepsPerSample ?? 4) };
    },
  } satisfies SearchAlgorithm<MctsConfig>,
  revision: {
    name: 'revision',
    description: 'sequential revisions conditioned on earlier attempts',
    defaultConfig: defaultRevisionConfig,
    search: revision,
    budgetToConfig: (n, h = {}) => ({ ...defaultRevisionConfig, ...common(h), attempts: n }),
  } satisfies SearchAlgorithm<RevisionConfig>,
  hybrid: {
    name: 'hybrid',
    description: 'parallel revision chains (breadth vs depth)',
    defaultConfig: defaultHybridConfig,
    search: hybrid,
    budgetToConfig: (n, h = {}) => ({ ...defaultHybridConfig, ...common(h), n }),
  } satisfies SearchAlgorithm<HybridConfig>,
};

export type SearchName = keyof typeof searchAlgorithms;

export const searchNames = Object.keys(searchAlgorithms) as SearchName[];

/** The algorithm called `name`; an unknown name throws one line listing the valid ones. */
export function getSearch(name: string): SearchAlgorithm {
  if (!Object.hasOwn(searchAlgorithms, name)) throw new Error(`unknown search '${name}'; valid: ${searchNames.join(', ')}`);
  // Type-erased: each entry pairs its own config type with its own search.
  return searchAlgorithms[name as SearchName] as unknown as SearchAlgorithm;
}
