import { addCompute, zeroCompute, type Compute } from '../core/compute.js';
import type { Problem } from '../core/problem.js';
import { Rng } from '../core/rng.js';
import type { Policy } from '../policy/policy.js';
import type { RewardModel } from '../reward/reward.js';
import { effectiveAggregation, getSearch, matchedBudget, searchBaseName } from '../search/registry.js';
import type { SearchResult } from '../search/search.js';
import type { AggregationChoice } from '../search/trajectories.js';
import type { Task } from '../tasks/task.js';

/**
 * Test-time scaling tables: each (algorithm, budget N) cell runs one search per held-out problem
 * and reports accuracy against what it *measured*: output tokens (the x-axis, not the cap
 * N × maxTokens), prompt and cached prompt tokens, reward calls and tokens.
 *
 * Honest labels: a reward that reads the gold answer (the exact verifier of arith or GSM8K) makes
 * any search that uses it an oracle: best-of-N with it is pass@N, not a test-time method. Such
 * rows carry `oracle: true` and say so in the table. Algorithms that use no reward (greedy,
 * majority) are given none, so they never call one and are never oracles.
 */

/** Algorithms whose choice reads the reward model. */
export const rewardFreeAlgos: ReadonlySet<string> = new Set(['greedy', 'majority', 'adaptive-majority']);

/** Algorithms whose trajectories are independent samples (their mean correctness is pass@1 at T). */
const independentSamplers: ReadonlySet<string> = new Set(['best-of-n', 'majority', 'weighted-majority']);

/** True for the algorithms that draw N independent samples per problem (one request, the same for each of them at a budget). */
export function isIndependentSampler(algo: string): boolean {
  return independentSamplers.has(searchBaseName(algo));
}

export function usesReward(algo: string): boolean {
  return !rewardFreeAlgos.has(searchBaseName(algo));
}

/** One (algorithm, budget) cell of a test-time scaling table (one line of eval.jsonl). */
export interface EvalRow {
  algo: string;
  budget: number;
  accuracy: number;
  problems: number;
  /** The reward model the search used ("none" for greedy and majority). */
  reward: string;
  /** True when that reward reads the gold answer: the row is an oracle bound, not a deployable method. */
  oracle: boolean;
  /** Sampling temperature of the search (greedy: 0). */
  temperature: number;
  /** Step-score aggregation of the reward (process models), when one was used. */
  aggregation?: string;
  /** Mean measured output tokens per problem: the x-axis of scaling curves. */
  output_tokens: number;
  /** Mean prompt tokens per problem, and how many of them came from the prefix cache. */
  prompt_tokens: number;
  cached_prompt_tokens: number;
  policy_calls: number;
  reward_calls: number;
  /** Mean tokens the reward model read per problem. */
  reward_tokens: number;
  /**
   * Mean correctness of the individual samples the search drew (sampling algorithms): the
   * single-sample accuracy at `temperature`, the baseline a search must beat.
   */
  sample_accuracy?: number;
  /** Wall time of the whole row (problems in flight together overlap: not a sum over problems). */
  wall_ms: number;
  /**
   * Policy requests this row was served from samples an earlier row of its table drew (the same
   * request: eval/sample-cache.ts). Its tokens count as measured when drawn; its wall time leaves
   * that generation out. Absent when none.
   */
  reused_calls?: number;
  /**
   * Reward calls this row was served from the scores an earlier row of its table computed for
   * the same samples (eval/score-cache.ts). Counted as measured when computed; the wall time
   * leaves that scoring out. Absent when none.
   */
  reused_reward_calls?: number;
}

export type EvalResult = SearchResult & { correct: boolean };

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
  /** Sampling temperature (default: each search's own, 0.8). */
  temperature?: number;
  /** Step-score aggregation (default: the reward model's own). */
  aggregation?: AggregationChoice;
  /** Merge identical beams (beam, DVTS; default on). */
  dedupe?: boolean;
  /**
   * Problems searched at once (default 1). Helps backends that serve concurrent requests (a
   * server batching across requests); the built-in policy computes each call synchronously, so
   * there it only interleaves. Results do not depend on it: each problem has its own seeded Rng.
   */
  concurrency?: number;
  /** Typical steps per solution (sets MCTS's simulations under a PRM). */
  stepsPerSample?: number;
  onResult?: (r: EvalResult, index: number, done: number) => void;
  signal?: AbortSignal;
}

/** A reward model that must never be called (given to algorithms that use none). */
const noReward: RewardModel = {
  id: 'none',
  kind: 'outcome',
  async score() {
    throw new Error('this search uses no reward model, yet it asked for one');
  },
};

/**
 * Runs one search algorithm at budget N on every problem, each with its own seeded Rng
 * (`${seed}/${problem.id}`), and scores the chosen solution with the task's exact verifier.
 */
export async function runSearch(o: SearchRunOptions): Promise<{ row: EvalRow; results: EvalResult[] }> {
  const algo = getSearch(o.algo);
  const needsReward = usesReward(o.algo);
  const reward = needsReward ? o.reward : noReward;
  const aggregation = needsReward && reward.kind === 'process' ? effectiveAggregation(reward, o.aggregation) : undefined;
  const config = algo.budgetToConfig(o.budget, {
    rewardKind: reward.kind,
    stepsPerSample: o.stepsPerSample ?? 4,
    ...(aggregation ? { aggregation } : {}),
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.dedupe !== undefined ? { dedupe: o.dedupe } : {}),
  });
  const temperature = searchBaseName(o.algo) === 'greedy' ? 0 : ((config as { temperature?: number }).temperature ?? 0);
  const total: Compute = zeroCompute();
  const results: EvalResult[] = new Array(o.problems.length);
  let correct = 0;
  let done = 0;
  let samples = 0;
  let rightSamples = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < o.problems.length) {
      const i = next++;
      o.signal?.throwIfAborted();
      const problem = o.problems[i]!;
      const r = await algo.search(
        problem,
        { task: o.task, policy: o.policy, reward, rng: new Rng(`${o.seed}/${problem.id}`), budget: matchedBudget(o.budget, o.maxTokens), maxTokens: o.maxTokens, ...(o.signal ? { signal: o.signal } : {}) },
        config,
      );
      // Correctness of the chosen solution by the exact verifier (never seen by the search).
      const ok = r.best !== null && o.task.verify(problem, r.best.text).correct;
      if (ok) correct++;
      for (const t of r.trajectories) {
        samples++;
        if (t.correct) rightSamples++;
      }
      addCompute(total, r.compute);
      results[i] = { ...r, correct: ok };
      done++;
      o.onResult?.(results[i]!, i, done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 1, o.problems.length)) }, worker));
  const n = Math.max(1, o.problems.length);
  const mean = (x: number, digits = 0): number => Math.round((x / n) * 10 ** digits) / 10 ** digits;
  const row: EvalRow = {
    algo: o.algo,
    budget: o.budget,
    accuracy: o.problems.length ? correct / o.problems.length : 0,
    problems: o.problems.length,
    reward: reward.id,
    oracle: needsReward && reward.oracle === true,
    temperature,
    ...(aggregation ? { aggregation } : {}),
    output_tokens: mean(total.outputTokens),
    prompt_tokens: mean(total.promptTokens),
    cached_prompt_tokens: mean(total.cachedPromptTokens),
    policy_calls: mean(total.policyCalls, 1),
    reward_calls: mean(total.rewardCalls, 1),
    reward_tokens: mean(total.rewardTokens),
    ...(isIndependentSampler(o.algo) && samples > 0 ? { sample_accuracy: Math.round((rightSamples / samples) * 1000) / 1000 } : {}),
    // Elapsed, not the sum of the problems' search times: those overlap when C > 1.
    wall_ms: Math.round(performance.now() - started),
  };
  return { row, results };
}

/** The row's name in tables: oracle rows say what they are (best-of-N with an oracle is pass@N). */
export function rowLabel(r: Pick<EvalRow, 'algo' | 'oracle'>): string {
  if (!r.oracle) return r.algo;
  return searchBaseName(r.algo) === 'best-of-n' ? 'ORACLE pass@N (best-of-n, gold verifier)' : `ORACLE ${r.algo} (gold verifier)`;
}

/** A fixed-width table of rows (for terminals and closing notes); oracle rows labelled and footnoted. */
export function formatTable(rows: EvalRow[]): string {
  const pct = (x: number | undefined): string => (x === undefined ? '' : `${(x * 100).toFixed(1)}%`);
  const head = ['algo', 'budget', 'accuracy', 'out tok', 'prompt tok', 'cached', 'policy calls', 'reward calls', 'reward tok', 'sample acc', 'T', 'reward'];
  const body = rows.map((r) => [
    rowLabel(r),
    String(r.budget),
    pct(r.accuracy),
    String(r.output_tokens),
    String(r.prompt_tokens),
    String(r.cached_prompt_tokens),
    String(r.policy_calls),
    String(r.reward_calls),
    String(r.reward_tokens),
    pct(r.sample_accuracy),
    String(r.temperature),
    r.reward === 'none' ? '-' : `${r.reward.replace(/^(prm|orm):.*\//, '$1:…/')}${r.aggregation ? ` (${r.aggregation})` : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
  if (rows.some((r) => r.oracle)) out.push('', 'ORACLE rows use a verifier that reads the gold answer: an upper bound (pass@N), not a deployable test-time method.');
  out.push('Tokens are measured means per problem (not caps); "sample acc" is the mean accuracy of single samples at temperature T.');
  return out.join('\n');
}
