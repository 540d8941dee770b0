import { z } from 'zod';
import type { Problem } from '../core/problem.js';
import type { Aggregation, RewardModel } from '../reward/reward.js';
import { resolveAggregation, type AggregationChoice } from './trajectories.js';
import { adaptiveMajority, adaptiveMajorityConfigIssue, defaultAdaptiveMajorityConfig, type AdaptiveMajorityConfig } from './adaptive-majority.js';
import { beam, defaultBeamConfig, type BeamConfig } from './beam.js';
import { bestOfN, bestOfNConfigIssue, defaultBestOfNConfig, type BestOfNConfig } from './best-of-n.js';
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
 * | adaptive-majority | n = N (most samples) | N samples on problems whose vote stays open, a round of 4 on easy ones |
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
  /** The values a spec may give the config's string fields (`revision:select=majority`); other string fields are not settable. */
  readonly choices?: Readonly<Record<string, readonly string[]>>;
  /** What is wrong with a config (a number out of its range), in one phrase, or null; a spec is checked with it. */
  readonly configIssue?: (config: C) => string | null;
}

const selections = ['best', 'majority', 'weighted'] as const;

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
    choices: { select: selections },
    configIssue: bestOfNConfigIssue,
  } satisfies SearchAlgorithm<BestOfNConfig>,
  majority: {
    name: 'majority',
    description: 'N samples, the most frequent answer wins (self-consistency)',
    defaultConfig: defaultMajorityConfig,
    search: majority,
    budgetToConfig: (n, h = {}) => ({ ...defaultMajorityConfig, ...common(h), n }),
  } satisfies SearchAlgorithm<MajorityConfig>,
  'adaptive-majority': {
    name: 'adaptive-majority',
    description: 'majority vote that samples in rounds and stops once the vote is decided (adaptive consistency)',
    defaultConfig: defaultAdaptiveMajorityConfig,
    search: adaptiveMajority,
    budgetToConfig: (n, h = {}) => ({ ...defaultAdaptiveMajorityConfig, ...common(h), n }),
    configIssue: adaptiveMajorityConfigIssue,
  } satisfies SearchAlgorithm<AdaptiveMajorityConfig>,
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
    choices: { select: selections },
  } satisfies SearchAlgorithm<BeamConfig>,
  dvts: {
    name: 'dvts',
    description: 'diverse verifier tree search: independent PRM-guided subtrees',
    defaultConfig: defaultDvtsConfig,
    search: dvts,
    budgetToConfig: (n, h = {}) => ({ ...defaultDvtsConfig, ...common(h), ...dedupeOf(h), n, beamWidth: width(n) }),
    choices: { select: selections },
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
    choices: { select: ['visits', 'value'] },
  } satisfies SearchAlgorithm<MctsConfig>,
  revision: {
    name: 'revision',
    description: 'sequential revisions conditioned on earlier attempts',
    defaultConfig: defaultRevisionConfig,
    search: revision,
    budgetToConfig: (n, h = {}) => ({ ...defaultRevisionConfig, ...common(h), attempts: n }),
    choices: { select: ['last', ...selections] },
  } satisfies SearchAlgorithm<RevisionConfig>,
  hybrid: {
    name: 'hybrid',
    description: 'parallel revision chains (breadth vs depth)',
    defaultConfig: defaultHybridConfig,
    search: hybrid,
    budgetToConfig: (n, h = {}) => ({ ...defaultHybridConfig, ...common(h), n }),
    choices: { select: selections, withinChain: ['last', ...selections] },
  } satisfies SearchAlgorithm<HybridConfig>,
};

export type SearchName = keyof typeof searchAlgorithms;

export const searchNames = Object.keys(searchAlgorithms) as SearchName[];

/**
 * A search spec: an algorithm's name, optionally with fields of its config over the budget's
 * mapping, `name:key=value[:key=value...]` (e.g. `revision:select=majority`, `beam:beamWidth=2`).
 * Numbers and booleans where the default config has them, strings from the algorithm's `choices`.
 * A bad spec throws one line naming the bad part and what is valid.
 */
export function parseSearchSpec(spec: string): { name: SearchName; options: Record<string, number | boolean | string> } {
  const [name, ...parts] = spec.split(':');
  if (!name || !Object.hasOwn(searchAlgorithms, name)) throw new Error(`unknown search '${name ?? spec}'; valid: ${searchNames.join(', ')} (options as name:key=value)`);
  const algo = searchAlgorithms[name as SearchName] as unknown as SearchAlgorithm<Record<string, unknown>>;
  const defaults = algo.defaultConfig;
  const settable = Object.keys(defaults).filter((k) => typeof defaults[k] === 'number' || typeof defaults[k] === 'boolean' || (typeof defaults[k] === 'string' && algo.choices?.[k]));
  const options: Record<string, number | boolean | string> = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq) : part;
    const raw = eq > 0 ? part.slice(eq + 1) : '';
    if (!settable.includes(key)) throw new Error(`search ${spec}: '${key}' is not an option of ${name}; valid: ${settable.join(', ')}`);
    const d = defaults[key];
    if (typeof d === 'number') {
      const v = Number(raw);
      if (raw === '' || !Number.isFinite(v)) throw new Error(`search ${spec}: ${key} must be a number, not '${raw}'`);
      options[key] = v;
    } else if (typeof d === 'boolean') {
      if (raw !== 'true' && raw !== 'false') throw new Error(`search ${spec}: ${key} must be true or false, not '${raw}'`);
      options[key] = raw === 'true';
    } else {
      const valid = algo.choices![key]!;
      if (!valid.includes(raw)) throw new Error(`search ${spec}: ${key} must be one of ${valid.join(', ')}, not '${raw}'`);
      options[key] = raw;
    }
  }
  const issue = algo.configIssue?.({ ...defaults, ...options });
  if (issue) throw new Error(`search ${spec}: ${issue}`);
  return { name: name as SearchName, options };
}

/**
 * A search spec as a zod schema (`allow` names values that are not specs, such as the loop's
 * `sample`): a bad spec fails with `parseSearchSpec`'s one line. Every edge that takes an
 * algorithm validates with it.
 */
export function searchSpecSchema(allow: readonly string[] = []) {
  return z.string().superRefine((s, ctx) => {
    if (allow.includes(s)) return;
    try {
      parseSearchSpec(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });
}

/**
 * The algorithm a spec names (`parseSearchSpec`), its options laid over every config its budget
 * mapping makes; an unknown name or option throws one line listing the valid ones.
 */
export function getSearch(spec: string): SearchAlgorithm {
  const { name, options } = parseSearchSpec(spec);
  // Type-erased: each entry pairs its own config type with its own search.
  const algo = searchAlgorithms[name] as unknown as SearchAlgorithm;
  if (Object.keys(options).length === 0) return algo;
  return { ...algo, name: spec, budgetToConfig: (n, h) => ({ ...(algo.budgetToConfig(n, h) as object), ...options }) };
}

/** The algorithm's name in a spec (`revision:select=majority` → `revision`). */
export function searchBaseName(spec: string): string {
  return spec.split(':')[0]!;
}
