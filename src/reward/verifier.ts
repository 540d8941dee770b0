import type { Task } from '../tasks/task.js';
import type { RewardModel, RewardScore } from './reward.js';

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
    async score(items) {
      const scores: RewardScore[] = items.map((item) => {
        if (!item.complete) return { score: 0 };
        return { score: task.verify(item.problem, item.steps.join(task.stepDelimiter)).correct ? 1 : 0 };
      });
      return { scores, usage: { calls: items.length > 0 ? 1 : 0, tokens: 0 } };
    },
  };
}
