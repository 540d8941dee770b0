import { getSearch } from '../search/registry.js';
import { isIndependentSampler, runSearch, type EvalResult, type EvalRow, type SearchRunOptions } from './eval.js';
import { withSampleCache } from './sample-cache.js';
import { withScoreCache } from './score-cache.js';

/**
 * A test-time scaling table: every algorithm at every budget (greedy once, at 1) on the same
 * problems. Cells run budget by budget, and the cells of one budget share their samples (see
 * sample-cache.ts): best-of-n, majority and weighted-majority at N draw one set of N samples per
 * problem instead of three, and are compared on identical samples; best-of-n and weighted-majority
 * also share the reward model's scores of them (score-cache.ts). Rows come back in the order
 * asked for (algorithms as listed, each over its budgets); `onRow` sees them as they finish.
 */
export interface TableOptions extends Omit<SearchRunOptions, 'algo' | 'budget' | 'onResult'> {
  algos: readonly string[];
  budgets: readonly number[];
  /** Cells of one budget share identical policy requests (default true); false draws every cell afresh. */
  shareSamples?: boolean;
  onCellStart?: (algo: string, budget: number) => void;
  onResult?: (algo: string, budget: number, r: EvalResult, index: number, done: number) => void;
  onRow?: (row: EvalRow) => void;
}

/** The (algorithm, budget) cells in the order they run: greedy first, then budget by budget. */
export function tableCells(algos: readonly string[], budgets: readonly number[]): { algo: string; budget: number }[] {
  const isGreedy = (a: string) => a === 'greedy' || a.startsWith('greedy:');
  const cells = algos.filter(isGreedy).map((algo) => ({ algo, budget: 1 }));
  for (const budget of budgets) for (const algo of algos) if (!isGreedy(algo)) cells.push({ algo, budget });
  return cells;
}

export async function runTable(o: TableOptions): Promise<EvalRow[]> {
  const { algos, budgets, shareSamples = true, onCellStart, onResult, onRow, ...run } = o;
  // A row that reads the samples' log-probabilities (best-of-n:kl=β) would miss samples drawn
  // without them: draw every shared request with them then.
  const readsLogprobs = algos.some((a) => ((getSearch(a).budgetToConfig(1) as { kl?: number }).kl ?? 0) > 0);
  const policy = shareSamples ? withSampleCache(o.policy, { logprobs: readsLogprobs }) : null;
  const reward = shareSamples ? withScoreCache(o.reward) : null;
  const rows: EvalRow[] = [];
  let lastBudget: number | null = null;
  for (const { algo, budget } of tableCells(algos, budgets)) {
    // Memory holds one budget's samples: later budgets never repeat an earlier one's requests.
    if (policy && budget !== lastBudget) policy.clear();
    if (reward && budget !== lastBudget) reward.clear();
    lastBudget = budget;
    onCellStart?.(algo, budget);
    const reusedBefore = policy?.reused ?? 0;
    const scoresBefore = reward?.reused ?? 0;
    // Only independent samplers score calls that another row repeats; a tree search's calls on
    // partial solutions never repeat, and the cache would only hold them until the budget ends.
    const scorer = reward && isIndependentSampler(algo) ? reward : o.reward;
    const { row } = await runSearch({ ...run, policy: policy ?? o.policy, reward: scorer, algo, budget, onResult: (r, i, done) => onResult?.(algo, budget, r, i, done) });
    const reused = (policy?.reused ?? 0) - reusedBefore;
    const reusedScores = (reward?.reused ?? 0) - scoresBefore;
    const full: EvalRow = { ...row, ...(reused > 0 ? { reused_calls: reused } : {}), ...(reusedScores > 0 ? { reused_reward_calls: reusedScores } : {}) };
    rows.push(full);
    onRow?.(full);
  }
  const rank = (r: EvalRow) => algos.indexOf(r.algo) * (budgets.length + 1) + Math.max(0, budgets.indexOf(r.budget));
  return rows.sort((a, b) => rank(a) - rank(b));
}
