import { addCompute, zeroCompute, type Compute } from '../core/compute.js';
import type { Problem } from '../core/problem.js';
import { Rng } from '../core/rng.js';
import type { Policy } from '../policy/policy.js';
import type { RewardModel } from '../reward/reward.js';
import { getSearch, matchedBudget } from '../search/registry.js';
import type { SearchResult } from '../search/search.js';
import type { Task } from '../tasks/task.js';

/** One (algorithm, budget) cell of a test-time scaling table. */
export interface EvalRow {
  algo: string;
  budget: number;
  accuracy: number;
  problems: number;
  /** Mean output tokens per problem: the x-axis of scaling curves. */
  output_tokens: number;
  policy_calls: number;
  reward_calls: number;
  wall_ms: number;
}

export interface SearchRunOptions {
  task: Task;
  policy: Policy;
  reward: RewardModel;
  algo: string;
  budget: number;
  problems: Problem[];
  /** Tokens of one sample (or step). */
  maxTokens: number;
  seed: number;
  /** Typical steps per solution (sets MCTS's simulations under a PRM). */
  stepsPerSample?: number;
  onResult?: (r: SearchResult & { correct: boolean }, index: number) => void;
  signal?: AbortSignal;
}

/**
 * Runs one search algorithm at budget N on every problem, each with its own seeded Rng
 * (`${seed}/${problem.id}`), and scores the chosen solution with the task's exact verifier.
 */
export async function runSearch(o: SearchRunOptions): Promise<{ row: EvalRow; results: (SearchResult & { correct: boolean })[] }> {
  const algo = getSearch(o.algo);
  const config = algo.budgetToConfig(o.budget, { rewardKind: o.reward.kind, stepsPerSample: o.stepsPerSample ?? 4 });
  const total: Compute = zeroCompute();
  const results: (SearchResult & { correct: boolean })[] = [];
  let correct = 0;
  for (let i = 0; i < o.problems.length; i++) {
    o.signal?.throwIfAborted();
    const problem = o.problems[i]!;
    const r = await algo.search(
      problem,
      { task: o.task, policy: o.policy, reward: o.reward, rng: new Rng(`${o.seed}/${problem.id}`), budget: matchedBudget(o.budget, o.maxTokens), maxTokens: o.maxTokens, ...(o.signal ? { signal: o.signal } : {}) },
      config,
    );
    // Correctness of the chosen solution by the exact verifier (never seen by the search).
    const ok = r.best !== null && o.task.verify(problem, r.best.text).correct;
    if (ok) correct++;
    addCompute(total, r.compute);
    const withCorrect = { ...r, correct: ok };
    results.push(withCorrect);
    o.onResult?.(withCorrect, i);
  }
  const n = Math.max(1, o.problems.length);
  return {
    row: {
      algo: o.algo,
      budget: o.budget,
      accuracy: o.problems.length ? correct / o.problems.length : 0,
      problems: o.problems.length,
      output_tokens: Math.round(total.outputTokens / n),
      policy_calls: Math.round((total.policyCalls / n) * 10) / 10,
      reward_calls: Math.round((total.rewardCalls / n) * 10) / 10,
      wall_ms: Math.round(total.wallMs),
    },
    results,
  };
}

/** A fixed-width table of rows (for terminals and closing notes). */
export function formatTable(rows: EvalRow[]): string {
  const head = ['algo', 'budget', 'accuracy', 'out tokens/problem', 'policy calls', 'reward calls'];
  const body = rows.map((r) => [r.algo, String(r.budget), `${(r.accuracy * 100).toFixed(1)}%`, String(r.output_tokens), String(r.policy_calls), String(r.reward_calls)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
