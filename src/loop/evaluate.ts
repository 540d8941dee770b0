import type { OnProgress } from '../core/progress.js';
import type { Problem } from '../core/problem.js';
import { greedyAccuracy } from '../eval/greedy.js';
import type { Policy } from '../policy/policy.js';
import { verifierReadsGold } from '../reward/verifier.js';
import { voteAnswer } from '../search/select.js';
import type { Task } from '../tasks/task.js';
import { sampleProblems } from './rollouts.js';

/** A difficulty level of held-out problems (e.g. the initialization's distribution, or harder ones). */
export interface EvalLevel {
  name: string;
  task: Task;
  problems: Problem[];
  /** Draw samples here (pass@k, the vote); false: greedy only. Default true. */
  sampled?: boolean;
  /** Draw them on the first this many of `problems` only (default: all); greedy accuracy uses all. */
  sampledProblems?: number;
}

export interface EvalConfig {
  /** Samples per problem at `temperature` for pass@k and the vote. Default 16. */
  samples: number;
  /** pass@k reported for these k (each at most `samples`). Default [1, 8, 16]. */
  passK: number[];
  temperature: number;
  /**
   * The test-time search over this many of the samples (needs no gold answer): a majority vote, or
   * where the task's checker needs no gold answer (Countdown) the first sample it accepts, since
   * a vote means nothing where every finished solution states the target. Default 8.
   */
  voteN: number;
  maxTokens: number;
}

export const defaultEvalConfig = { samples: 16, passK: [1, 8, 16], temperature: 0.8, voteN: 8, maxTokens: 200 } satisfies EvalConfig;

/** The evaluation a loop config asks for: pass@k at 1, 8, 16, 64 up to the samples drawn (and at the samples themselves). */
export function evalConfigFor(c: { evalSamples: number; voteN: number; temperature: number; maxTokens: number }): EvalConfig {
  const passK = [1, 8, 16, 64].filter((k) => k <= c.evalSamples);
  return { samples: c.evalSamples, passK: passK.includes(c.evalSamples) ? passK : [...passK, c.evalSamples], temperature: c.temperature, voteN: Math.min(c.voteN, c.evalSamples), maxTokens: c.maxTokens };
}

/** Unbiased pass@k from c correct of n samples (Chen et al. 2021): 1 − C(n−c, k) / C(n, k). */
export function passAtK(n: number, c: number, k: number): number {
  if (n - c < k) return 1;
  let p = 1;
  for (let i = n - c + 1; i <= n; i++) p *= 1 - k / i;
  return 1 - p;
}

export interface LevelScores {
  greedy: number;
  /** pass@k by k. */
  pass: Record<number, number>;
  /** The test-time search over `voteN` samples, deployable (null: the level was not sampled). */
  vote: number | null;
  /** Which search that was: a majority vote, or the task's gold-free checker choosing (best-of-N). */
  search: 'majority' | 'checker';
  /** Output tokens per problem: greedy, and the vote's samples. */
  greedyTokens: number;
  voteTokens: number;
  problems: number;
  /** The problems pass@k and the vote were measured on, where fewer than `problems` (the first ones). */
  sampledProblems?: number;
}

/**
 * Held-out evaluation of a policy per difficulty level: greedy accuracy; pass@k at the sampling
 * temperature (RL is known to lift pass@1 while narrowing pass@k, Yue et al. 2025: both are
 * reported); and a test-time search over voteN samples that reads no gold answer: majority vote,
 * or best-of-N by the task's checker where that needs no gold answer (Countdown's).
 */
export async function evaluateLevels(policy: Policy, levels: readonly EvalLevel[], config: EvalConfig, seed: number, onProgress?: OnProgress): Promise<Record<string, LevelScores>> {
  const out: Record<string, LevelScores> = {};
  for (const level of levels) {
    const { task, problems } = level;
    const search = verifierReadsGold(task) ? 'majority' : 'checker';
    onProgress?.({ stage: `eval ${level.name} greedy`, done: 0, total: problems.length, unit: 'problem' });
    const g = await greedyAccuracy(policy, task, problems, { maxTokens: config.maxTokens, onProgress: (d) => onProgress?.({ stage: `eval ${level.name} greedy`, done: d, total: problems.length, unit: 'problem' }) });
    const n = Math.max(1, problems.length);
    if (level.sampled === false) {
      out[level.name] = { greedy: g.accuracy, pass: {}, vote: null, search, greedyTokens: g.outputTokens / n, voteTokens: 0, problems: problems.length };
      continue;
    }
    const drawn = problems.slice(0, level.sampledProblems ?? problems.length);
    const results = await sampleProblems(policy, task, drawn, { n: config.samples, temperature: config.temperature, maxTokens: config.maxTokens, seed, stage: `eval ${level.name} samples`, ...(onProgress ? { onProgress } : {}) });
    const pass: Record<number, number> = {};
    for (const k of config.passK) pass[k] = 0;
    let vote = 0;
    let voteTokens = 0;
    results.forEach((r, i) => {
      const c = r.trajectories.filter((t) => t.correct).length;
      for (const k of config.passK) pass[k]! += passAtK(r.trajectories.length, c, Math.min(k, r.trajectories.length));
      const voters = r.trajectories.slice(0, config.voteN);
      voteTokens += voters.reduce((s, t) => s + t.outputTokens, 0);
      if (search === 'checker') {
        if (voters.some((t) => task.verify(drawn[i]!, t.text).correct)) vote++;
        return;
      }
      const choice = voteAnswer(voters, () => 1);
      if (choice.best && task.verify(drawn[i]!, choice.best.text).correct) vote++;
    });
    const m = Math.max(1, drawn.length);
    for (const k of config.passK) pass[k] = pass[k]! / m;
    out[level.name] = { greedy: g.accuracy, pass, vote: vote / m, search, greedyTokens: g.outputTokens / n, voteTokens: voteTokens / m, problems: problems.length, ...(drawn.length < problems.length ? { sampledProblems: drawn.length } : {}) };
  }
  return out;
}
