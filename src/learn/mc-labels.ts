import { UserError } from '../core/errors.js';
import type { Problem } from '../core/problem.js';
import { Rng } from '../core/rng.js';
import { emptyUsage, type Policy, type Usage } from '../policy/policy.js';
import type { Task } from '../tasks/task.js';

/**
 * Monte-Carlo step labels (Math-Shepherd, Wang et al. 2024, §3.3): a step is good when the
 * policy can still reach the right answer from it. For each sampled solution and each step
 * prefix, k rollouts continue from `prompt + steps[0..i] + delimiter`; the verifier checks them.
 *
 *   hard estimation (HE): label 1 when any rollout is correct
 *   soft estimation (SE): the fraction of rollouts that are correct
 *
 * The last step of a solution needs no rollout: its label is the solution's own outcome (as in
 * Math-Shepherd, where the final step is judged by the golden answer). With `rollouts: 0`, every
 * step gets the outcome label (outcome supervision, Uesato et al. 2022).
 */

export interface McLabelConfig {
  /** Solutions sampled per problem (S; default 4). */
  samples: number;
  /** Rollouts per step prefix (k; default 8, as Math-Shepherd's N = 8). */
  rollouts: number;
  /**
   * Sampling temperature of solutions and rollouts (default 0.8, the search algorithms' default):
   * a step's label is the chance that *search's* sampling reaches the right answer from it, and
   * the labelled solutions should look like the ones search will score.
   */
  temperature: number;
  /** Token cap per solution or rollout (default: the policy's context length). */
  maxTokens?: number;
  /** Step prefixes per generate call (each continued k times; default 32). */
  prefixBatch: number;
  /** Problems whose solutions are sampled in one call (default 16). */
  problemBatch: number;
  seed: number;
  /**
   * Where step labels come from (default `mc`): Monte-Carlo rollouts (Math-Shepherd: the chance
   * that the policy finishes right from the step), or `exact`: the task's own step checker, where
   * it has one (arith's column arithmetic, Countdown's equations). Exact labels are process
   * supervision as PRM800K's human labels are (Lightman et al. 2023): a step is right or wrong
   * whatever the policy does next. Every step after the first wrong one is labelled wrong, and
   * the last also needs the right answer. No rollouts are drawn.
   */
  source: 'mc' | 'exact';
}

export const defaultMcLabelConfig = {
  samples: 4,
  rollouts: 8,
  temperature: 0.8,
  prefixBatch: 32,
  problemBatch: 16,
  seed: 0,
  source: 'mc',
} satisfies McLabelConfig;

/** One sampled solution with a label per step: what reward training consumes. */
export interface StepLabelRow {
  problemId: string;
  prompt: string;
  steps: string[];
  labels: { hard: number[]; soft: number[] };
  /** Whether the sampled solution itself is correct. */
  outcome: boolean;
}

export interface McLabelResult {
  rows: StepLabelRow[];
  usage: Usage;
  /** Step prefixes rolled out (after merging identical prefixes of one problem). */
  prefixes: number;
  /** Rollouts generated. */
  rollouts: number;
}

/**
 * Exact step labels from the task's step checker (McLabelConfig.source `exact`): 1 up to the
 * first wrong step, 0 from there on; the last step also needs the right answer.
 */
export function exactLabels(task: Task, problem: Problem, steps: readonly string[], outcome: boolean): number[] {
  const checks = task.checkSteps!(problem, steps);
  let ok = true;
  return steps.map((_, i) => ((ok = ok && (checks[i] ?? true) && (i < steps.length - 1 || outcome)) ? 1 : 0));
}

/** Splits solution text on the delimiter; a trailing delimiter does not make an empty step. */
export function splitSolution(text: string, delimiter: string): string[] {
  if (text === '') return [];
  const steps = text.split(delimiter);
  if (steps[steps.length - 1] === '') steps.pop();
  return steps;
}

function addUsage(into: Usage, u: Usage): void {
  into.promptTokens += u.promptTokens;
  into.cachedPromptTokens += u.cachedPromptTokens;
  into.outputTokens += u.outputTokens;
  into.calls += u.calls;
}

/**
 * Samples `samples` solutions per problem and labels every step by rollouts. Generate calls are
 * batched across problems (solutions) and across step prefixes (rollouts); identical prefixes of
 * one problem are rolled out once. Deterministic given the config's seed and the policy.
 */
export async function mcStepLabels(
  task: Task,
  policy: Policy,
  problems: readonly Problem[],
  config: Partial<McLabelConfig> = {},
  onProgress?: (problemsDone: number) => void,
): Promise<McLabelResult> {
  const c: McLabelConfig = { ...defaultMcLabelConfig, ...config };
  if (c.source === 'exact' && !task.checkSteps) throw new UserError(`exact step labels: task ${task.name} has no step checker (use Monte-Carlo labels)`);
  const delim = task.stepDelimiter;
  const maxTokens = c.maxTokens ?? policy.contextLength;
  const rng = new Rng(`${c.seed}/mc-labels`);
  const usage = emptyUsage();
  const rows: StepLabelRow[] = [];
  let prefixCount = 0;
  let rolloutCount = 0;

  for (let p0 = 0; p0 < problems.length; p0 += c.problemBatch) {
    const chunk = problems.slice(p0, p0 + c.problemBatch);
    const prompts = chunk.map((p) => task.formatPrompt(p));
    const sampled = await policy.generate({ prefixes: prompts, n: c.samples, maxTokens, temperature: c.temperature, seed: rng.seed() });
    addUsage(usage, sampled.usage);

    // Every step prefix (but the last of each solution) needs rollouts; one job per distinct prefix.
    interface Job { problem: number; prefix: string; correct: number }
    const jobs: Job[] = [];
    const jobIndex = new Map<string, number>();
    const chunkRows: { row: StepLabelRow; problem: number; jobs: (number | null)[] }[] = [];
    chunk.forEach((problem, pi) => {
      for (const comp of sampled.completions[pi]!) {
        const steps = splitSolution(comp.text, delim);
        const outcome = comp.finishReason !== 'length' && task.verify(problem, comp.text).correct;
        const row: StepLabelRow = { problemId: problem.id, prompt: prompts[pi]!, steps, labels: { hard: [], soft: [] }, outcome };
        if (c.source === 'exact') {
          const hard = exactLabels(task, problem, steps, outcome);
          rows.push({ ...row, labels: { hard, soft: [...hard] } });
          continue;
        }
        const stepJobs: (number | null)[] = [];
        steps.forEach((_, i) => {
          const last = i === steps.length - 1;
          const prefix = prompts[pi]! + steps.slice(0, i + 1).join(delim) + delim;
          // +1 for BOS; a prefix that fills the context cannot be continued.
          if (last || c.rollouts === 0 || policy.countTokens(prefix) + 2 >= policy.contextLength) {
            stepJobs.push(null);
            return;
          }
          const key = `${pi}\u0000${prefix}`;
          let j = jobIndex.get(key);
          if (j === undefined) {
            j = jobs.length;
            jobIndex.set(key, j);
            jobs.push({ problem: pi, prefix, correct: 0 });
          }
          stepJobs.push(j);
        });
        chunkRows.push({ row, problem: pi, jobs: stepJobs });
      }
    });

    for (let j0 = 0; j0 < jobs.length; j0 += c.prefixBatch) {
      const batch = jobs.slice(j0, j0 + c.prefixBatch);
      const r = await policy.generate({ prefixes: batch.map((j) => j.prefix), n: c.rollouts, maxTokens, temperature: c.temperature, seed: rng.seed() });
      addUsage(usage, r.usage);
      batch.forEach((job, bi) => {
        const problem = chunk[job.problem]!;
        const solutionSoFar = job.prefix.slice(prompts[job.problem]!.length);
        for (const roll of r.completions[bi]!) {
          if (roll.finishReason !== 'length' && task.verify(problem, solutionSoFar + roll.text).correct) job.correct++;
        }
      });
      rolloutCount += batch.length * c.rollouts;
    }
    prefixCount += jobs.length;

    for (const { row, jobs: stepJobs } of chunkRows) {
      for (const j of stepJobs) {
        const soft = j === null ? (row.outcome ? 1 : 0) : jobs[j]!.correct / c.rollouts;
        row.labels.soft.push(soft);
        row.labels.hard.push(soft > 0 ? 1 : 0);
      }
      rows.push(row);
    }
    onProgress?.(Math.min(problems.length, p0 + chunk.length));
  }
  return { rows, usage, prefixes: prefixCount, rollouts: rolloutCount };
}

/**
 * TRL's stepwise-supervision format (`PRMTrainer`): {prompt, completions: steps, labels: bool[]}
 * with the hard labels; soft labels, outcome and problem id ride along as extra fields
 * (PRMTrainer drops unknown columns).
 */
export function toTrlStepwise(row: StepLabelRow): { prompt: string; completions: string[]; labels: boolean[]; soft_labels: number[]; outcome: boolean; problem_id: string } {
  return { prompt: row.prompt, completions: row.steps, labels: row.labels.hard.map((l) => l > 0), soft_labels: row.labels.soft, outcome: row.outcome, problem_id: row.problemId };
}

/** Reads a row back from its TRL stepwise form (hard labels from `labels`, soft from `soft_labels` when present). */
export function fromTrlStepwise(obj: { prompt: string; completions: string[]; labels: boolean[]; soft_labels?: number[]; outcome?: boolean; problem_id?: string }, index: number): StepLabelRow {
  const hard = obj.labels.map((l) => (l ? 1 : 0));
  return {
    problemId: obj.problem_id ?? String(index),
    prompt: obj.prompt,
    steps: obj.completions,
    labels: { hard, soft: obj.soft_labels ?? hard },
    outcome: obj.outcome ?? (hard.length > 0 && hard[hard.length - 1] === 1),
  };
}
