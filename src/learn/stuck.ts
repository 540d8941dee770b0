import type { Problem } from '../core/problem.js';
import type { SearchResult } from '../search/search.js';
import type { Task } from '../tasks/task.js';

/**
 * Where a round's unsolved problems get stuck, for tasks with exact step checks: the share of the
 * problems no trajectory solved (right answer, every step right) that have a step no trajectory
 * with a right prefix wrote right, with at least `minReached` of them reaching it. Step-level
 * search resamples a wrong step from a right prefix; on these problems that cannot help, since
 * the right step is not in the policy's distribution there (its error is systematic, not noise).
 * Measured on the demo's seed-0 rounds 2 and 3: 57% and 62% of the unsolved problems were stuck,
 * and beam search guided by the same step checks made no better training data than sampling
 * at matched tokens (README, "Data from search against data from sampling"). Read it on
 * independent samples: a step-level search keeps only right prefixes and returns finished
 * solutions, so its unsolved problems are stuck by construction (beam's were, 792 of 792).
 */
export interface StuckProfile {
  /** Problems no trajectory solved. */
  unsolved: number;
  /** Of those, problems with a step that every trajectory reaching it with a right prefix got wrong. */
  stuck: number;
}

export function stuckProfile(task: Task, problems: readonly Problem[], results: readonly SearchResult[], minReached = 4): StuckProfile | null {
  const check = task.checkSteps;
  if (!check) return null;
  const byId = new Map(problems.map((p) => [p.id, p]));
  let unsolved = 0;
  let stuck = 0;
  for (const r of results) {
    const problem = byId.get(r.problemId);
    if (!problem) continue;
    const checked = r.trajectories.map((t) => ({ steps: check(problem, t.steps), right: task.verify(problem, t.text).correct }));
    if (checked.some((c) => c.right && c.steps.every(Boolean))) continue;
    unsolved++;
    const depth = Math.max(0, ...checked.map((c) => c.steps.length));
    for (let j = 0; j < depth; j++) {
      // Trajectories whose first j steps are right and that wrote a step j.
      const reached = checked.filter((c) => c.steps.length > j && c.steps.slice(0, j).every(Boolean));
      if (reached.length >= minReached && reached.every((c) => !c.steps[j])) {
        stuck++;
        break;
      }
    }
  }
  return { unsolved, stuck };
}
