import { yieldTurn } from '../core/progress.js';
import { Rng } from '../core/rng.js';
import { cosineSchedule, defaultAdamWConfig, type AdamWConfig } from '../nn/adamw.js';
import { clippedSurrogate, entropyOf, klPenalty, sumLosses } from '../nn/rl-ops.js';
import { backward } from '../nn/tensor.js';
import type { RolloutGroup } from './examples.js';
import { meanMetrics, type Learner, type LearnResult, type StepMetrics } from './learner.js';
import { defaultPtxConfig, replayTerm, type PtxConfig } from './ptx.js';
import { optimizerCache } from './optimizer-cache.js';
import { completionLength, encodeSequences, forwardLogprobs, microBatches, scatter, sequenceLogprobs, tokenBatch } from './logprobs.js';

/** `advantage`: group-normalized (GRPO) or leave-one-out (RLOO). */
export const grpoAdvantages = ['grpo', 'rloo'] as const;

/**
 * Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath) with the Dr. GRPO
 * corrections (Liu et al. 2025, "Understanding R1-Zero-Like Training"), readable top to bottom.
 *
 * | needs | from |
 * |---|---|
 * | groups of rollouts of one prompt, each with a reward | `examples.ts` (`RolloutGroup`), sampled from the current policy |
 * | the policy (updated in place) | `ctx.policy` |
 * | a frozen reference (KL anchor) | `ctx.reference` |
 *
 * 1. Advantages per rollout, from its group only: r − mean(r) (optionally / std), or RLOO's
 *    leave-one-out baseline. Groups whose rewards are all equal carry no signal: dropped, counted
 *    as `frac_reward_zero_std`.
 * 2. Old log-probs (the policy that sampled) and reference log-probs, once, before any step.
 * 3. `epochs` passes over the rollouts in minibatches of `miniBatch`, one optimizer step each:
 *    Σ_tokens [clipped surrogate + β·k3 KL to the reference] / (rollouts in the step × max completion length).
 *    Dividing by a constant, not by each sequence's length, removes GRPO's length bias (Dr. GRPO).
 */
export interface GrpoConfig extends PtxConfig {
  /**
   * Advantage estimator. 'grpo': r − mean of the group (Shao et al. 2024). 'rloo': r − mean of
   * the OTHER rollouts of the group, the REINFORCE leave-one-out baseline (Kool et al. 2019;
   * Ahmadian et al. 2024), = n/(n−1)·(r − mean). Default 'grpo'.
   */
  advantage: (typeof grpoAdvantages)[number];
  /** Divide group advantages by the group's reward std (default false: Dr. GRPO, Liu et al. 2025, found it biases toward too-easy and too-hard questions; TRL's scale_rewards). */
  scaleRewards: boolean;
  /** Clipping ε of the ratio (default 0.2: PPO, Schulman et al. 2017; TRL's epsilon). */
  epsilon: number;
  /** β of the k3 KL penalty to the reference (default 0.04: TRL's GRPO default; 0 is allowed, as Dr. GRPO and DAPO do). */
  beta: number;
  /** Weight of an entropy bonus (default 0: off, as TRL and verl's default). */
  entropyCoef: number;
  /** Passes over each batch of rollouts (default 1: on-policy; TRL's num_iterations, GRPO's μ). */
  epochs: number;
  /** Rollouts per optimizer step (default 64). */
  miniBatch: number;
  /**
   * The constant that token-loss sums are divided by, per rollout (Dr. GRPO's MAX_TOKENS; TRL's
   * max_completion_length). Default 0: the longest completion of the update's data.
   */
  maxCompletionLength: number;
  /** AdamW; lr 1e-4 by default, no weight decay (see DpoConfig.optimizer). */
  optimizer: AdamWConfig;
  /** Fraction of steps warming up (default 0) and the cosine floor (default 1: constant rate, TRL's RL default). */
  warmupRatio: number;
  minLrRatio: number;
  /** Most padded tokens in one forward/backward pass (default 4096). */
  microBatchTokens: number;
  /** Keep AdamW's moments across updates of the same model (default true: one optimizer for the whole run, as TRL); false starts each update afresh. */
  keepOptimizerState: boolean;
}

export const defaultGrpoConfig = {
  advantage: 'grpo',
  scaleRewards: false,
  epsilon: 0.2,
  beta: 0.04,
  entropyCoef: 0,
  epochs: 1,
  miniBatch: 64,
  maxCompletionLength: 0,
  optimizer: { ...defaultAdamWConfig, lr: 1e-4, weightDecay: 0 },
  warmupRatio: 0,
  minLrRatio: 1,
  microBatchTokens: 4096,
  keepOptimizerState: true,
  ...defaultPtxConfig,
} satisfies GrpoConfig;

/** Per-rollout advantages of one group, or null when its rewards are all equal (no signal). */
export function groupAdvantages(rewards: readonly number[], kind: GrpoConfig['advantage'], scale: boolean): number[] | null {
  const n = rewards.length;
  if (n < 2) return null;
  const mean = rewards.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1));
  if (std < 1e-9) return null;
  const k = kind === 'rloo' ? n / (n - 1) : 1;
  return rewards.map((r) => (k * (r - mean)) / (scale ? std + 1e-4 : 1));
}

/** Batch statistics under TRL's names (computed over all groups, dropped ones included). */
export function rolloutStats(groups: readonly RolloutGroup[], tokenLengths: number[]): Record<string, number> {
  const all = groups.flatMap((g) => g.rollouts);
  const n = Math.max(1, all.length);
  let stdSum = 0;
  let zeroStd = 0;
  for (const g of groups) {
    const rs = g.rollouts.map((r) => r.reward);
    const mean = rs.reduce((a, b) => a + b, 0) / Math.max(1, rs.length);
    const std = rs.length > 1 ? Math.sqrt(rs.reduce((a, r) => a + (r - mean) ** 2, 0) / (rs.length - 1)) : 0;
    stdSum += std;
    if (std < 1e-9) zeroStd++;
  }
  return {
    reward: all.reduce((a, r) => a + r.reward, 0) / n,
    reward_std: stdSum / Math.max(1, groups.length),
    frac_reward_zero_std: zeroStd / Math.max(1, groups.length),
    'completions/mean_length': tokenLengths.reduce((a, b) => a + b, 0) / Math.max(1, tokenLengths.length),
    'completions/clipped_ratio': all.filter((r) => r.truncated).length / n,
  };
}

export function grpoLearner(config: Partial<GrpoConfig> = {}): Learner<RolloutGroup[]> {
  const cfg: GrpoConfig = { ...defaultGrpoConfig, ...config, optimizer: { ...defaultGrpoConfig.optimizer, ...config.optimizer } };
  const optimizerFor = optimizerCache();
  return {
    name: 'grpo',
    async update(groups, ctx): Promise<LearnResult> {
      const { model, tokenizer: tok } = ctx.policy;
      const ctxLen = model.config.contextLength;
      const all = groups.flatMap((g) => g.rollouts.map((r) => ({ prompt: g.prompt, completion: r.text, eos: !r.truncated })));
      const batchStats = rolloutStats(groups, encodeSequences(all, tok, ctxLen).map(completionLength));

      // 1. Advantages; zero-variance groups dropped.
      const kept: { prompt: string; completion: string; eos: boolean; advantage: number }[] = [];
      for (const g of groups) {
        const adv = groupAdvantages(g.rollouts.map((r) => r.reward), cfg.advantage, cfg.scaleRewards);
        if (adv) g.rollouts.forEach((r, i) => kept.push({ prompt: g.prompt, completion: r.text, eos: !r.truncated, advantage: adv[i]! }));
      }
      if (kept.length === 0) return { steps: 0, trainedTokens: 0, metrics: batchStats };
      const seqs = encodeSequences(kept, tok, ctxLen);
      const lengths = seqs.map(completionLength);
      const maxLen = cfg.maxCompletionLength > 0 ? cfg.maxCompletionLength : Math.max(...lengths);

      // 2. Log-probs of the sampling policy and of the reference, computed once.
      const oldLogps = sequenceLogprobs(model, seqs, tok.pad, cfg.microBatchTokens);
      const refLogps = sequenceLogprobs(ctx.reference, seqs, tok.pad, cfg.microBatchTokens);

      // 3. Optimizer steps.
      const perEpoch = Math.ceil(seqs.length / cfg.miniBatch);
      const totalSteps = perEpoch * cfg.epochs;
      ctx.onPlan?.(totalSteps);
      const opt = optimizerFor(model, cfg.optimizer, cfg.keepOptimizerState);
      let step = 0;
      const warmup = Math.round(cfg.warmupRatio * totalSteps);
      const history: StepMetrics[] = [];
      let trainedTokens = 0;
      const replay = replayTerm(ctx.replay, cfg, tok, ctxLen, ctx.seed, cfg.microBatchTokens);
      for (let epoch = 0; epoch < cfg.epochs; epoch++) {
        const order = new Rng(`${ctx.seed}/grpo/epoch/${epoch}`).shuffle(seqs.map((_, i) => i));
        for (let s0 = 0; s0 < order.length; s0 += cfg.miniBatch) {
          if (ctx.shouldStop?.()) break;
          const mini = order.slice(s0, s0 + cfg.miniBatch);
          const normalizer = mini.length * maxLen;
          const acc = { loss: 0, kl: 0, entropy: 0, clipped: 0, tokens: 0 };
          model.zeroGrad();
          for (const mb of microBatches(seqs, mini, cfg.microBatchTokens)) {
            const tb = tokenBatch(mb.map((i) => seqs[i]!), tok.pad, ctxLen);
            model.kernels.pool.reset();
            const { logits, logps } = forwardLogprobs(model, tb);
            const mask = tb.mask;
            const advantages = scatter(tb, mb.map((i) => new Float32Array(lengths[i]!).fill(kept[i]!.advantage)));
            const pg = clippedSurrogate(logps, scatter(tb, mb.map((i) => oldLogps[i]!)), advantages, mask, cfg.epsilon, normalizer);
            const kl = klPenalty(logps, scatter(tb, mb.map((i) => refLogps[i]!)), mask, normalizer);
            const ent = entropyOf(logits, mask, normalizer, model.kernels);
            const loss = sumLosses([
              { loss: pg.loss, weight: 1 },
              { loss: kl.loss, weight: cfg.beta },
              { loss: ent.loss, weight: -cfg.entropyCoef },
            ]);
            backward(loss);
            acc.loss += loss.data[0]!;
            acc.kl += kl.klSum;
            acc.entropy += ent.entropySum;
            acc.clipped += pg.stats.clipped;
            acc.tokens += pg.stats.tokens;
            for (const i of mb) trainedTokens += seqs[i]!.ids.length - 1;
          }
          const ptx = replay?.(model, step);
          if (ptx) trainedTokens += ptx.tokens;
          const lr = cosineSchedule(step++, totalSteps, cfg.optimizer.lr, warmup, cfg.minLrRatio);
          const gradNorm = opt.update(lr);
          const t = Math.max(1, acc.tokens);
          const m: StepMetrics = { step, loss: acc.loss, kl: acc.kl / t, entropy: acc.entropy / t, clip_ratio: acc.clipped / t, grad_norm: gradNorm, lr, ...batchStats, ...(ptx ? { ptx_loss: ptx.nll } : {}) };
          history.push(m);
          ctx.onStep?.(m);
          await yieldTurn();
        }
      }
      model.kernels.pool.reset();
      return { steps: history.length, trainedTokens, metrics: meanMetrics(history) };
    },
  };
}
