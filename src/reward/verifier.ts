import type { Task } from '../tasks/task.js';
import type { RewardModel, RewardScore } from './reward.js';

/**
 * Tasks whose verifier is a checker that needs no gold answer (Countdown's reads only the
 * numbers and the target): guiding search with it at test time is legitimate, as code execution
 * is for rStar-Math. Every other task's verifier compares with the reference answer.
 */
export const goldFreeCheckers: ReadonlySet<string> = new Set(['countdown']);

/** Whether the task's exact verifier reads the gold answer (so search guided by it is an oracle). */
export function verifierReadsGold(task: Task): boolean {
  return !goldFreeCheckers.has(task.name);
}

/**
 * The task's exact verifier as an outcome reward: 1 when the finished solution's answer is
 * correct, else 0 (the "oracle" verifier of Snell et al. 2024 and the rule-based reward of
 * DeepSeek-R1). Unfinished solutions score 0: an outcome model judges only complete answers.
 *
 * It runs no model, so it reports one call per batch and no reward tokens.
 */
export function createVerifierReward(task: Task): RewardModel {
  return {
    id: `verifier:${task.name}`,
    kind: 'outcome',
    oracle: verifierReadsGold(task),
    async score(items) {
      const scores: RewardScore[] = items.map((item) => {
        if (!item.complete) return { score: 0 };
        return { score: task.verify(item.problem, item.steps.join(task.stepDelimiter)).correct ? 1 : 0 };
      });
      return { scores, usage: { calls: items.length > 0 ? 1 : 0, tokens: 0 } };
    },
  };
}
