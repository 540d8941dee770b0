import { aggregate, type Aggregation, type RewardItem, type RewardModel, type RewardScore, type RewardUsage } from './reward.js';

/**
 * An evaluator's step scores mixed with the policy's own confidence, as Self-Evaluation Guided
 * Beam Search does (Xie et al. 2023, eq. 3: a step's score is P_LM(s)^λ · C(s)^(1−λ), the
 * generation probability times the evaluator's confidence in the step). Why: a reward model
 * trained on the policy's samples ranks steps by what it learned, the policy's likelihood by what
 * the policy finds plausible, and the two err on different steps. Best-of-N regularized by the
 * policy's likelihood (`best-of-n:kl=β`) held as N grew where the plain reward fell; this makes
 * the same regularization a process reward, so beam search, MCTS and weighted voting use it too.
 *
 * Step k scores conf_k^λ · eval_k^(1−λ) (both in [0, 1]), and the solution aggregates those with
 * the evaluator's aggregation (a learned PRM's stored one). An outcome evaluator (no step scores)
 * mixes its score with the aggregated confidence. λ = 0 is the evaluator alone, λ = 1 the
 * confidence alone. Reading the gold answer is the evaluator's property: an oracle stays one.
 */
export interface GeometricMixConfig {
  /** Weight λ of the confidence (default 0.5). */
  lambda: number;
}

export const defaultGeometricMixConfig = { lambda: 0.5 } satisfies GeometricMixConfig;

/** One step's mixed score: conf^λ · eval^(1−λ) (scores below 0 read as 0). */
export function mixScore(confidence: number, evaluator: number, lambda: number): number {
  return Math.pow(Math.max(confidence, 0), lambda) * Math.pow(Math.max(evaluator, 0), 1 - lambda);
}

/** Step k of the evaluator mixed with step k of the confidence (a step it did not score counts as 1). */
export function mixStepScores(confidence: readonly number[], evaluator: readonly number[], lambda: number): number[] {
  return evaluator.map((e, k) => mixScore(confidence[k] ?? 1, e, lambda));
}

export function geometricMix(evaluator: RewardModel, confidence: RewardModel, config: Partial<GeometricMixConfig> = {}): RewardModel & { readonly oracle: boolean } {
  const { lambda } = { ...defaultGeometricMixConfig, ...config };
  if (!(lambda >= 0 && lambda <= 1)) throw new Error(`confidence weight must be in [0, 1], got ${lambda}`);
  const aggregation: Aggregation = evaluator.aggregation ?? 'min';
  return {
    id: `${evaluator.id}+confidence=${lambda}`,
    kind: evaluator.kind,
    aggregation,
    oracle: evaluator.oracle ?? false,
    async score(items: RewardItem[]) {
      const [e, c] = await Promise.all([evaluator.score(items), confidence.score(items)]);
      const usage: RewardUsage = { calls: e.usage.calls + c.usage.calls, tokens: e.usage.tokens + c.usage.tokens };
      const scores: RewardScore[] = items.map((_, i) => {
        const es = e.scores[i]!;
        const cs = c.scores[i]!;
        const conf = cs.stepScores ?? [cs.score];
        if (!es.stepScores) return { score: mixScore(aggregate(conf, 'min'), es.score, lambda) };
        const stepScores = mixStepScores(conf, es.stepScores, lambda);
        return { score: aggregate(stepScores, aggregation), stepScores };
      });
      return { scores, usage };
    },
  };
}
