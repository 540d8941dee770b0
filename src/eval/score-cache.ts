import type { RewardItem, RewardModel, RewardScore, RewardUsage } from '../reward/reward.js';

/**
 * The reward side of sample-cache.ts: rows of one eval table that score the same samples share
 * the scores. best-of-n and weighted-majority at N draw the same samples (served once by the
 * sample cache) and then each asked the reward model to score them, so a table with both rows
 * ran every PRM (or PRM + confidence) pass twice. This wrapper answers a repeated `score` call
 * from its cache.
 *
 * - A call is repeated when its items are: the same problems, prompts, steps and completeness,
 *   in the same order. Reward models are deterministic in their items (a sampled one, such as
 *   self-verdict, seeds from them), so the answer is the one a fresh call would give.
 * - A served answer carries the usage measured when it was computed, as a served sample does:
 *   a row's reward compute is what its search costs. `reused` counts the calls served.
 * - Every answer is a fresh copy (callers may write to the scores they get).
 * - `clear()` forgets everything (the table clears between budgets, with the sample cache).
 */
export interface ScoreCache extends RewardModel {
  /** Calls answered from the cache since creation. */
  readonly reused: number;
  clear(): void;
}

type Answer = { scores: RewardScore[]; usage: RewardUsage };

const copy = (a: Answer): Answer => ({
  scores: a.scores.map((s) => ({ score: s.score, ...(s.stepScores ? { stepScores: [...s.stepScores] } : {}) })),
  usage: { ...a.usage },
});

function keyOf(items: readonly RewardItem[]): string {
  return JSON.stringify(items.map((it) => [it.problem.id, it.prompt, it.steps, it.complete]));
}

export function withScoreCache(reward: RewardModel): ScoreCache {
  // In-flight calls are cached too, so two concurrent identical calls compute once.
  const cache = new Map<string, Promise<Answer>>();
  let reused = 0;
  return {
    id: reward.id,
    kind: reward.kind,
    ...(reward.aggregation ? { aggregation: reward.aggregation } : {}),
    ...(reward.oracle !== undefined ? { oracle: reward.oracle } : {}),
    get reused() {
      return reused;
    },
    clear: () => cache.clear(),
    async score(items) {
      const key = keyOf(items);
      const hit = cache.get(key);
      if (hit) {
        reused++;
        return copy(await hit);
      }
      const result = reward.score(items);
      cache.set(key, result);
      try {
        return copy(await result);
      } catch (e) {
        // A failed call is not an answer: the next one computes again.
        if (cache.get(key) === result) cache.delete(key);
        throw e;
      }
    },
  };
}
