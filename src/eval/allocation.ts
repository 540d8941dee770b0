import type { Problem } from '../core/problem.js';
import type { Policy } from '../policy/policy.js';
import type { RewardModel } from '../reward/reward.js';
import type { SearchResult } from '../search/search.js';
import type { Task } from '../tasks/task.js';
import { runSearch } from './eval.js';

/**
 * Compute-optimal test-time allocation (Snell et al. 2024, "Scaling LLM Test-Time Compute
 * Optimally can be More Effective than Scaling Model Parameters", §3 and §6): the best way to
 * spend a budget depends on how hard the problem is. Easy problems gain most from sequential
 * revision and saturate at small budgets; hard ones need parallel samples. The recipe:
 *
 * 1. **Difficulty bins** from a feature that needs no gold answer at test time: arith's operand
 *    digits (read off the prompt), or the policy's own agreement over a few probe samples (the
 *    share of the most common answer), or its pass rate under a reward (the task checker for
 *    Countdown, deployable; arith's exact verifier, oracle: Snell et al.'s "oracle difficulty").
 * 2. **Sweep**: on calibration problems (train split), every split of a budget between parallel
 *    and sequential compute (majority = all parallel, hybrid = √N chains of √N revisions,
 *    revision = one chain of N) × budgets, accuracy and measured tokens per bin.
 * 3. **Allocator**: per bin, the cheapest arm (by measured output tokens) within `tolerance` of the
 *    bin's best accuracy, so easy bins get little compute (the roadmap's "overthinking" failure).
 * 4. **Run** the allocator on held-out problems; its tokens include the probes that predicted the bin.
 *
 * Arms run through `runSearch` and the search registry unchanged, each problem with the seed
 * runSearch gives it, so a cell of the sweep and the allocator's choice of that arm agree.
 */

/** A way to spend a budget: a search algorithm from the registry and its budget N. */
export interface Arm {
  algo: string;
  budget: number;
}

export const armName = (a: Arm): string => `${a.algo}@${a.budget}`;

export interface AllocationConfig {
  /** Budgets N swept (samples' worth of compute). Default 4 and 16 (Snell et al. also go to 64 and 256). */
  budgets: number[];
  /** Splits of a budget, from all parallel to all sequential. Default majority, hybrid, revision. */
  splits: string[];
  /** Accuracy (fraction) a cheaper arm may give up against its bin's best. Default 0.02. */
  tolerance: number;
}

export const defaultAllocationConfig = {
  budgets: [4, 16],
  splits: ['majority', 'hybrid', 'revision'],
  tolerance: 0.02,
} satisfies AllocationConfig;

/** A problem's predicted difficulty bin and the tokens spent predicting it. */
export interface Difficulty {
  bin: string;
  outputTokens: number;
}

export type DifficultyFn = (problems: Problem[]) => Promise<Difficulty[]>;

/** Arith's difficulty from the prompt alone: the most digits of an operand (`d1`..`d7`). */
export const difficultyByDigits: DifficultyFn = async (problems) =>
  problems.map((p) => {
    const digits = (p.prompt.match(/\d+/g) ?? []).map((s) => s.length);
    return { bin: `d${Math.max(0, ...digits)}`, outputTokens: 0 };
  });

export interface ProbeOptions {
  task: Task;
  policy: Policy;
  /** Probe samples per problem. Default 4. */
  k?: number;
  temperature?: number;
  maxTokens: number;
  seed: number;
  /**
   * 'agreement': share of the most common extracted answer (no reward, no gold: deployable).
   * A RewardModel: share of probes it scores ≥ 0.5 (deployable when the reward is, e.g.
   * Countdown's checker; with arith's exact verifier it is the oracle pass rate).
   */
  judge: 'agreement' | RewardModel;
}

/**
 * Difficulty from k probe samples: the bin is the judged share rounded to quarters, written
 * `p0.00`..`p1.00` (higher is easier). Probe tokens are counted against the allocator.
 */
export function difficultyByProbes(o: ProbeOptions): DifficultyFn {
  const k = o.k ?? 4;
  return async (problems) => {
    const out: Difficulty[] = [];
    for (let i = 0; i < problems.length; i += 32) {
      const chunk = problems.slice(i, i + 32);
      const r = await o.policy.generate({
        prefixes: chunk.map((p) => o.task.formatPrompt(p)), n: k, maxTokens: o.maxTokens, temperature: o.temperature ?? 1, seed: o.seed + i,
      });
      for (const [j, p] of chunk.entries()) {
        const samples = r.completions[j]!;
        let share: number;
        if (o.judge === 'agreement') {
          const counts = new Map<string, number>();
          for (const s of samples) {
            const a = o.task.verify(p, s.text).extracted;
            if (a !== null) counts.set(a, (counts.get(a) ?? 0) + 1);
          }
          share = Math.max(0, ...counts.values()) / samples.length;
        } else {
          const delim = o.task.stepDelimiter;
          const prompt = o.task.formatPrompt(p);
          const { scores } = await o.judge.score(samples.map((s) => ({ problem: p, prompt, steps: s.text.split(delim), complete: s.finishReason !== 'length' })));
          share = scores.filter((s) => s.score >= 0.5).length / samples.length;
        }
        out.push({ bin: `p${(Math.round(share * 4) / 4).toFixed(2)}`, outputTokens: samples.reduce((a, s) => a + s.tokens, 0) });
      }
    }
    return out;
  };
}

/** One cell of the sweep: an arm on the problems of one bin. */
export interface SweepCell extends Arm {
  bin: string;
  problems: number;
  accuracy: number;
  /** Mean measured output tokens per problem. */
  output_tokens: number;
}

export interface SweepOptions {
  task: Task;
  policy: Policy;
  reward: RewardModel;
  problems: Problem[];
  bins: string[];
  maxTokens: number;
  seed: number;
  config?: Partial<AllocationConfig>;
  onArm?: (arm: Arm, accuracy: number) => void;
}

type Outcome = Pick<SearchResult, 'compute'> & { correct: boolean };

/** Per-bin accuracy and mean tokens of per-problem outcomes. */
function cellsOf(arm: Arm, bins: readonly string[], results: readonly Outcome[]): SweepCell[] {
  const by = new Map<string, Outcome[]>();
  results.forEach((r, i) => by.set(bins[i]!, [...(by.get(bins[i]!) ?? []), r]));
  return [...by.entries()].map(([bin, rs]) => ({
    ...arm, bin, problems: rs.length,
    accuracy: rs.filter((r) => r.correct).length / rs.length,
    output_tokens: rs.reduce((a, r) => a + r.compute.outputTokens, 0) / rs.length,
  }));
}

/** Runs every split × budget on all problems once and tables accuracy and tokens per bin. */
export async function sweepAllocation(o: SweepOptions): Promise<SweepCell[]> {
  const c = { ...defaultAllocationConfig, ...o.config };
  const cells: SweepCell[] = [];
  for (const budget of c.budgets) {
    for (const algo of c.splits) {
      const { row, results } = await runSearch({ task: o.task, policy: o.policy, reward: o.reward, algo, budget, problems: o.problems, maxTokens: o.maxTokens, seed: o.seed });
      o.onArm?.({ algo, budget }, row.accuracy);
      cells.push(...cellsOf({ algo, budget }, o.bins, results));
    }
  }
  return cells;
}

/** Which arm each bin gets; `fallback` for a bin the sweep never saw. */
export interface Allocator {
  arms: Record<string, Arm>;
  fallback: Arm;
}

/**
 * Per bin, the cheapest arm (measured tokens) whose accuracy is within `tolerance` of the bin's
 * best; `maxBudget` caps the arms considered (the budget being allocated). The fallback, for
 * bins the sweep never saw, is the arm with the best accuracy over all bins.
 */
export function fitAllocator(cells: readonly SweepCell[], opts: { tolerance?: number; maxBudget?: number } = {}): Allocator {
  const tolerance = opts.tolerance ?? defaultAllocationConfig.tolerance;
  const usable = cells.filter((c) => opts.maxBudget === undefined || c.budget <= opts.maxBudget);
  if (usable.length === 0) throw new Error(`allocation: no sweep cell within budget ${opts.maxBudget}`);
  const arms: Record<string, Arm> = {};
  for (const bin of new Set(usable.map((c) => c.bin))) {
    const here = usable.filter((c) => c.bin === bin);
    const best = Math.max(...here.map((c) => c.accuracy));
    const pick = here.filter((c) => c.accuracy >= best - tolerance - 1e-12).sort((a, b) => a.output_tokens - b.output_tokens || b.accuracy - a.accuracy)[0]!;
    arms[bin] = { algo: pick.algo, budget: pick.budget };
  }
  // The fallback: the most accurate arm over all problems, among arms swept on every bin (so
  // that arms compare on the same problems); weighting bins by their problems.
  const binCount = new Set(usable.map((c) => c.bin)).size;
  const overall = new Map<string, { arm: Arm; right: number; n: number; bins: number }>();
  for (const c of usable) {
    const e = overall.get(armName(c)) ?? { arm: { algo: c.algo, budget: c.budget }, right: 0, n: 0, bins: 0 };
    e.right += c.accuracy * c.problems;
    e.n += c.problems;
    e.bins++;
    overall.set(armName(c), e);
  }
  const everywhere = [...overall.values()].filter((e) => e.bins === binCount);
  const fallback = (everywhere.length > 0 ? everywhere : [...overall.values()]).sort((a, b) => b.right / b.n - a.right / a.n)[0]!.arm;
  return { arms, fallback };
}

export interface AllocatedRun {
  accuracy: number;
  problems: number;
  /** Mean output tokens per problem, probes included. */
  output_tokens: number;
  probe_tokens: number;
  /** How many problems each arm got. */
  usage: Record<string, number>;
}

/**
 * Runs the allocator on problems whose bins were predicted (with the tokens that cost): each
 * problem goes to its bin's arm; problems of one arm run in one `runSearch`.
 */
export async function runAllocated(o: Omit<SweepOptions, 'config' | 'bins' | 'onArm'> & { allocator: Allocator; difficulty: Difficulty[]; onProblem?: (done: number) => void }): Promise<AllocatedRun> {
  const groups = new Map<string, { arm: Arm; problems: Problem[] }>();
  o.problems.forEach((p, i) => {
    const arm = o.allocator.arms[o.difficulty[i]!.bin] ?? o.allocator.fallback;
    const g = groups.get(armName(arm)) ?? { arm, problems: [] };
    g.problems.push(p);
    groups.set(armName(arm), g);
  });
  let correct = 0;
  let tokens = 0;
  const usage: Record<string, number> = {};
  let done = 0;
  for (const [name, g] of groups) {
    const { results } = await runSearch({ task: o.task, policy: o.policy, reward: o.reward, algo: g.arm.algo, budget: g.arm.budget, problems: g.problems, maxTokens: o.maxTokens, seed: o.seed, onResult: () => o.onProblem?.(++done) });
    correct += results.filter((r) => r.correct).length;
    tokens += results.reduce((a, r) => a + r.compute.outputTokens, 0);
    usage[name] = g.problems.length;
  }
  const probe = o.difficulty.reduce((a, d) => a + d.outputTokens, 0);
  const n = Math.max(1, o.problems.length);
  return { accuracy: correct / n, problems: o.problems.length, output_tokens: (tokens + probe) / n, probe_tokens: probe / n, usage };
}

/** The sweep as a table: one line per bin × arm. */
export function formatSweep(cells: readonly SweepCell[]): string {
  const head = ['bin', 'arm', 'problems', 'accuracy', 'out tokens/problem'];
  const body = [...cells].sort((a, b) => a.bin.localeCompare(b.bin) || a.budget - b.budget || a.algo.localeCompare(b.algo))
    .map((c) => [c.bin, armName(c), String(c.problems), `${(c.accuracy * 100).toFixed(1)}%`, c.output_tokens.toFixed(0)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
