import type { Problem } from '../core/problem.js';
import { Meter } from './compute.js';
import { chainChoice, defaultRevisionConfig, revisionChains, type RevisionConfig } from './revision.js';
import type { SearchContext, SearchResult } from './search.js';
import { selectAnswer, type Canonical, type Selection } from './select.js';
import { searchResult } from './trajectories.js';

/**
 * Parallel revision chains: n attempts split between breadth (independent chains, like
 * best-of-N) and depth (revisions within a chain), Snell et al. 2024 §6.2, who find the best
 * ratio depends on difficulty (easy problems: mostly sequential; hard: some parallel).
 *
 *     chains = round(n ^ breadthFraction),  attempts per chain = floor(n / chains)
 *
 * so breadthFraction 0 is one chain of n revisions, 1 is n independent attempts (best-of-N),
 * and the ratio moves on a log scale as Snell et al.'s sequential-to-parallel sweep does.
 * The answer (Snell et al.'s hierarchical selection): pick within each chain (`withinChain`),
 * then across the chains' picks (`select`).
 */
export interface HybridConfig extends Omit<RevisionConfig, 'attempts' | 'select'> {
  /** Total attempts over all chains (N). */
  n: number;
  /** log_n of the number of chains, in [0, 1]. */
  breadthFraction: number;
  withinChain: 'last' | Selection;
  /** Across the chains' picks: reward-weighted vote (Snell et al.), plain vote, or best score. */
  select: Selection;
  canonical?: Canonical;
}

export const defaultHybridConfig = {
  ...defaultRevisionConfig,
  n: 16,
  // Snell et al. 2024 find an intermediate sequential/parallel ratio best at moderate budgets.
  breadthFraction: 0.5,
  withinChain: 'best',
  select: 'weighted',
} satisfies HybridConfig;

/** Chains and attempts per chain for n attempts at a given breadth fraction. */
export function splitCompute(n: number, breadthFraction: number): { chains: number; attempts: number } {
  const f = Math.min(1, Math.max(0, breadthFraction));
  const chains = Math.min(n, Math.max(1, Math.round(n ** f)));
  return { chains, attempts: Math.max(1, Math.floor(n / chains)) };
}

export async function hybrid(problem: Problem, ctx: SearchContext, config: HybridConfig = defaultHybridConfig): Promise<SearchResult> {
  const meter = new Meter(ctx.budget);
  const { chains, attempts } = splitCompute(config.n, config.breadthFraction);
  const out = await revisionChains(problem, ctx, config, chains, attempts, meter);
  const picks = out.map((chain) => chainChoice(chain, config.withinChain).best).filter((t) => t !== null);
  return searchResult(problem, 'hybrid', meter, out.flat(), selectAnswer(picks, config.select, config.canonical));
}
