import type { Task } from '../tasks/task.js';
import type { RewardModel, RewardScore } from './reward.js';
import { verifierReadsGold } from './verifier.js';

/**
 * The task's exact step checks (Task.checkSteps) as a process reward: a step scores 1 while it
 * and every step before it are right, 0 from the first wrong step on; a complete solution's last
 * score also requires the verifier's verdict. This is what a perfect PRM would say (Lightman
 * et al. 2023's human step labels; Math-Shepherd's automatic ones approximate it), so it makes
 * training data by search on training problems. At test time it is an oracle for arith: checking
 * every column is computing the answer. Countdown's checks read only the numbers and the target
 * (is each step a legal move; does the final path reach the target), so there it is a deployable
 * checker, as its verifier is.
 */
export function createStepCheckReward(task: Task): RewardModel {
  const check = task.checkSteps;
  if (!check) throw new Error(`task ${task.name} has no step checker; use verifier, majority or a learned PRM`);
  return {
    id: `step-check:${task.name}`,
    kind: 'process',
    oracle: verifierReadsGold(task),
    async score(items) {
      const scores: RewardScore[] = items.map((item) => {
        let ok = true;
        const stepScores = check(item.problem, item.steps).map((c) => ((ok = ok && c) ? 1 : 0));
        if (item.complete && stepScores.length > 0 && !task.verify(item.problem, item.steps.join(task.stepDelimiter)).correct) stepScores[stepScores.length - 1] = 0;
        return { score: stepScores.length > 0 ? Math.min(...stepScores) : 0, stepScores };
      });
      return { scores, usage: { calls: items.length > 0 ? 1 : 0, tokens: 0 } };
    },
  };
}
