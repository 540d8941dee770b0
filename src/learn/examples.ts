import { UserError } from '../core/errors.js';
import type { Problem } from '../core/problem.js';
import type { Trajectory } from '../core/trajectory.js';
import { exactLabels, type StepLabelRow } from './mc-labels.js';
import { defaultRevisionFormat, type RevisionFormat } from '../search/revision.js';
import type { SearchResult } from '../search/search.js';
import type { Task } from '../tasks/task.js';

/**
 * From search results to training data (roadmap §6): what every learner consumes.
 * Builders live below these types; this header is the contract between search and learning.
 */

/** A verified solution to imitate (behaviour cloning, rejection sampling, expert iteration). */
export interface SftRow {
  problemId: string;
  /** The prompt the policy was given (task.formatPrompt). */
  prompt: string;
  completion: string;
  /** Loss weight (default 1). */
  weight?: number;
}

/**
 * A preference: `chosen` is better than `rejected` as a continuation of `prompt`. Sequence
 * level: two whole solutions of one problem, one correct and one not. Step level: `prompt`
 * ends with the steps two siblings share, and chosen/rejected are the sibling steps (with the
 * rest of their solutions) whose values differ, e.g. the first wrong step against a right one.
 */
export interface PreferencePair {
  problemId: string;
  prompt: string;
  chosen: string;
  rejected: string;
  level: 'sequence' | 'step';
}

/** One sampled solution with its reward, for on-policy learners (PPO, GRPO). */
export interface Rollout {
  /** The completion text (after the prompt), as generated. */
  text: string;
  /** Outcome reward (e.g. 1 verified correct, 0 otherwise; or a learned reward's score). */
  reward: number;
  /** The solution's steps (text split on the task's delimiter), joined by `delimiter` they give `text`. */
  steps: string[];
  /** Process reward per step (PRM scores or exact step checks), when available. */
  stepRewards?: number[];
  /** Whether generation hit the length limit (counted as `completions/clipped_ratio`). */
  truncated: boolean;
}

/** Rollouts of one prompt: GRPO's group, PPO's batch rows. */
export interface RolloutGroup {
  problemId: string;
  prompt: string;
  /** The task's step delimiter (to find step ends in the text). */
  delimiter: string;
  rollouts: Rollout[];
}

/**
 * How a trajectory earns a place in the training data.
 * - `verified`: the task's verifier says correct. It reads the gold answer, which training
 *   problems may have (outcome-reward RL, STaR, ReST-EM); never a test-time reward.
 * - `majority`: no answer needed: the trajectory's answer is its problem's majority answer,
 *   held by at least `minAgreement` of the finished samples (Lee et al. 2025's self-filtering;
 *   Huang et al. 2022 "Large language models can self-improve").
 * - `score`: a reward model's score (set by the search) of at least `minScore`.
 * - `process`: verified, and every step passes the task's exact step check (`Task.checkSteps`).
 *   An outcome verifier also keeps right answers reached through wrong steps (measured on arith's
 *   three-digit samples: 40% of the verified ones had a wrong step), and SFT then teaches the
 *   wrong steps; process supervision (Lightman et al. 2023) rejects them, here exactly.
 */
export type ExampleFilter = 'verified' | 'majority' | 'score' | 'process';

export interface ExampleConfig {
  filter: ExampleFilter;
  /** Most rows kept per problem (distinct texts, earliest first). Default 4. */
  maxPerProblem: number;
  /** `majority`: the least share of finished samples that must agree. Default 0.5. */
  minAgreement: number;
  /** `score`: the least score kept. Default 0.5. */
  minScore: number;
}

export const defaultExampleConfig = { filter: 'verified', maxPerProblem: 4, minAgreement: 0.5, minScore: 0.5 } satisfies ExampleConfig;

/** A finished solution: an answer, not cut at the length limit (search/select.ts's rule). */
const finished = (t: Trajectory): boolean => t.answer !== null && t.finishReason !== 'length';

/** Distinct texts, first occurrence kept. */
function distinct(ts: readonly Trajectory[]): Trajectory[] {
  const seen = new Set<string>();
  return ts.filter((t) => !seen.has(t.text) && seen.add(t.text));
}

function majorityAnswer(ts: readonly Trajectory[], minAgreement: number): string | null {
  const done = ts.filter(finished);
  const counts = new Map<string, number>();
  for (const t of done) counts.set(t.answer!.trim(), (counts.get(t.answer!.trim()) ?? 0) + 1);
  let best: string | null = null;
  for (const [a, c] of counts) if (best === null || c > counts.get(best)!) best = a;
  return best !== null && counts.get(best)! >= minAgreement * done.length ? best : null;
}

/** Whether the task's verifier accepts the trajectory (recomputed: a search's own flag is not trusted). */
const verified = (task: Task, problem: Problem, t: Trajectory): boolean => finished(t) && task.verify(problem, t.text).correct;

/** The trajectories of one search that pass the filter, distinct, at most `maxPerProblem`. */
export function keptTrajectories(task: Task, problem: Problem, result: SearchResult, config: ExampleConfig = defaultExampleConfig): Trajectory[] {
  const ts = distinct(result.trajectories);
  let kept: Trajectory[];
  if (config.filter === 'verified') kept = ts.filter((t) => verified(task, problem, t));
  else if (config.filter === 'process') {
    const check = task.checkSteps;
    if (!check) throw new UserError(`the process filter needs exact step checks, which task ${task.name} does not have`);
    kept = ts.filter((t) => verified(task, problem, t) && check(problem, t.steps).every(Boolean));
  }
  else if (config.filter === 'majority') {
    const a = majorityAnswer(result.trajectories, config.minAgreement);
    kept = a === null ? [] : ts.filter((t) => finished(t) && t.answer!.trim() === a);
  } else kept = ts.filter((t) => finished(t) && (t.score ?? -Infinity) >= config.minScore);
  return kept.slice(0, config.maxPerProblem);
}

/** SFT rows (expert iteration / rejection sampling): kept trajectories of every search. */
export function sftRows(task: Task, problems: readonly Problem[], results: readonly SearchResult[], config: ExampleConfig = defaultExampleConfig): SftRow[] {
  const byId = new Map(problems.map((p) => [p.id, p]));
  return results.flatMap((r) => {
    const problem = byId.get(r.problemId);
    if (!problem) throw new Error(`sftRows: search result for unknown problem ${r.problemId}`);
    return keptTrajectories(task, problem, r, config).map((t) => ({ problemId: problem.id, prompt: task.formatPrompt(problem), completion: t.text }));
  });
}

export interface RevisionRowConfig {
  /** Revision rows per problem (one per kept solution, at most). Default 2. */
  maxPerProblem: number;
  /** Most wrong attempts before the right one (Snell et al. 2024 keep up to four). Default 4. */
  context: number;
  /** The layout revision search gives the policy (search/revision.ts); rows must be laid out alike. */
  format: RevisionFormat;
  /** Whether the rows carry the reward's verdict on each earlier attempt ("Check: wrong."), as revision search with feedback shows it. Default true. */
  feedback: boolean;
  /** Whether a row fits the policy's context (prompt + completion); attempts are dropped from the front until it does. Default: always. */
  fits: (prompt: string, completion: string) => boolean;
}

export const defaultRevisionRowConfig = { maxPerProblem: 2, context: 4, format: defaultRevisionFormat, feedback: true, fits: () => true } satisfies RevisionRowConfig;

/** Leading steps two trajectories share. */
function sharedSteps(a: Trajectory, b: Trajectory): number {
  let k = 0;
  while (k < a.steps.length && k < b.steps.length && a.steps[k] === b.steps[k]) k++;
  return k;
}

/**
 * Revision rows (Snell et al. 2024 §6.1, their revision model's training data): a kept solution
 * (the filter's, as SFT rows) written after 1 to `context` wrong finished attempts of the same
 * problem, laid out as revision search lays out its context, each attempt marked wrong. Snell et
 * al. choose the wrong attempts nearest the right one in edit distance, so that the model learns
 * to correct a slip rather than to start over; here nearest is most leading steps shared (on
 * step-by-step traces a slip is the first step where two attempts part). Without such rows the
 * policy has never seen an earlier attempt in its context, and revision search is sampling with a
 * longer prompt (revision@8 34.5% against majority@8 70.0% on arith, session 16).
 */
export function revisionRows(task: Task, problems: readonly Problem[], results: readonly SearchResult[], filter: ExampleConfig = defaultExampleConfig, config: Partial<RevisionRowConfig> = {}): SftRow[] {
  const c = { ...defaultRevisionRowConfig, ...config };
  const byId = new Map(problems.map((p) => [p.id, p]));
  return results.flatMap((r) => {
    const problem = byId.get(r.problemId);
    if (!problem) throw new Error(`revisionRows: search result for unknown problem ${r.problemId}`);
    const prompt = task.formatPrompt(problem);
    const kept = keptTrajectories(task, problem, r, { ...filter, maxPerProblem: c.maxPerProblem });
    const wrong = distinct(r.trajectories).filter((t) => finished(t) && !verified(task, problem, t));
    if (wrong.length === 0) return [];
    return kept.flatMap((right, i) => {
      // 1..context attempts, cycling over kept solutions so that rows of every depth appear.
      const n = Math.min(wrong.length, 1 + (i % c.context));
      const nearest = [...wrong].sort((a, b) => sharedSteps(b, right) - sharedSteps(a, right)).slice(0, n).reverse();
      for (let k = nearest.length; k > 0; k--) {
        const context = c.format(prompt, nearest.slice(-k).map((t) => ({ text: t.text, score: 0 })), c.feedback);
        if (c.fits(context, right.text)) return [{ problemId: problem.id, prompt: context, completion: right.text }];
      }
      return [];
    });
  });
}

/**
 * Sequence-level preference pairs: a verified solution against a finished wrong one of the same
 * problem (distinct texts), at most `maxPerProblem` per problem, each text used once.
 */
export function sequencePairs(task: Task, problems: readonly Problem[], results: readonly SearchResult[], maxPerProblem = 4): PreferencePair[] {
  const byId = new Map(problems.map((p) => [p.id, p]));
  return results.flatMap((r) => {
    const problem = byId.get(r.problemId)!;
    const ts = distinct(r.trajectories).filter(finished);
    const good = ts.filter((t) => verified(task, problem, t));
    const bad = ts.filter((t) => !verified(task, problem, t));
    const n = Math.min(good.length, bad.length, maxPerProblem);
    return Array.from({ length: n }, (_, i) => ({ problemId: problem.id, prompt: task.formatPrompt(problem), chosen: good[i]!.text, rejected: bad[i]!.text, level: 'sequence' as const }));
  });
}

/**
 * Step-level pairs from exact step checks (tasks with `checkSteps`): two trajectories of one
 * problem that share their first k steps, where one's step k+1 is right (and it goes on to a
 * verified answer) and the other's is its first wrong step. The pair's prompt carries the shared
 * steps; chosen and rejected are the two continuations (Lai et al. 2024, Step-DPO; Setlur et al.
 * 2024 on the value of per-step credit). Trees from beam search and MCTS share prefixes by
 * construction; independent samples share them often on short solutions.
 */
export function stepPairs(task: Task, problems: readonly Problem[], results: readonly SearchResult[], maxPerProblem = 4): PreferencePair[] {
  if (!task.checkSteps) return [];
  const byId = new Map(problems.map((p) => [p.id, p]));
  const d = task.stepDelimiter;
  const out: PreferencePair[] = [];
  for (const r of results) {
    const problem = byId.get(r.problemId)!;
    const ts = distinct(r.trajectories).filter((t) => t.steps.length > 0);
    const good = ts.filter((t) => verified(task, problem, t) && task.checkSteps!(problem, t.steps).every(Boolean));
    const bad = ts
      .map((t) => ({ t, wrong: task.checkSteps!(problem, t.steps).indexOf(false) }))
      .filter((x) => x.wrong >= 0);
    const used = new Set<string>();
    let n = 0;
    for (const b of bad) {
      if (n >= maxPerProblem) break;
      const k = b.wrong;
      const shared = b.t.steps.slice(0, k);
      const g = good.find((t) => t.steps.length > k && shared.every((s, i) => t.steps[i] === s) && t.steps[k] !== b.t.steps[k]);
      if (!g) continue;
      const key = `${k}|${g.steps[k]}|${b.t.steps[k]}`;
      if (used.has(key)) continue;
      used.add(key);
      const prefix = shared.length > 0 ? shared.join(d) + d : '';
      out.push({ problemId: problem.id, prompt: task.formatPrompt(problem) + prefix, chosen: g.steps.slice(k).join(d), rejected: b.t.steps.slice(k).join(d), level: 'step' });
      n++;
    }
  }
  return out;
}

/**
 * Rollout groups for GRPO and PPO: every distinct trajectory of a search with its outcome reward
 * (`reward(problem, t)`; the verifier for training problems by default) and, where the task checks
 * steps, per-step rewards (1 while every step so far is right, then 0).
 */
export function rolloutGroups(
  task: Task,
  problems: readonly Problem[],
  results: readonly SearchResult[],
  reward: (problem: Problem, t: Trajectory) => number = (p, t) => (verified(task, p, t) ? 1 : 0),
): RolloutGroup[] {
  const byId = new Map(problems.map((p) => [p.id, p]));
  return results.map((r) => {
    const problem = byId.get(r.problemId)!;
    return {
      problemId: problem.id,
      prompt: task.formatPrompt(problem),
      delimiter: task.stepDelimiter,
      rollouts: r.trajectories.map((t) => {
        const out: Rollout = { text: t.text, reward: reward(problem, t), steps: t.steps, truncated: t.finishReason === 'length' };
        if (task.checkSteps) {
          let ok = true;
          out.stepRewards = task.checkSteps(problem, t.steps).map((c) => (ok = ok && c) ? 1 : 0);
        }
        return out;
      }),
    };
  });
}

/**
 * Fresh PRM step labels from exact step checks (exactLabels: every step up to it is right, and
 * the answer at the last), in the row format of Monte-Carlo labels (mc-labels.ts), for a PRM of the
 * new policy's own samples.
 */
export function exactStepLabels(task: Task, problems: readonly Problem[], results: readonly SearchResult[]): StepLabelRow[] {
  if (!task.checkSteps) return [];
  const byId = new Map(problems.map((p) => [p.id, p]));
  return results.flatMap((r) => {
    const problem = byId.get(r.problemId)!;
    return distinct(r.trajectories)
      .filter((t) => t.steps.length > 0)
      .map((t) => {
        const outcome = verified(task, problem, t);
        const hard = exactLabels(task, problem, t.steps, outcome);
        return { problemId: problem.id, prompt: task.formatPrompt(problem), steps: t.steps, labels: { hard, soft: [...hard] }, outcome };
      });
  });
}
