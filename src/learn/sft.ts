import { yieldTurn } from '../core/progress.js';
import { defaultAdamWConfig } from '../nn/adamw.js';
import { LmTrainer, type LmExample } from '../nn/train.js';
import type { SftRow } from './examples.js';
import { meanMetrics, type Learner, type LearnerContext, type LearnResult, type StepMetrics } from './learner.js';

/** `mode`: continue training the current policy, or retrain from the initial one each round (ReST-EM). */
export const sftModes = ['continue', 'restart'] as const;

/**
 * Behaviour cloning on what search found: rejection-sampling fine-tuning / expert iteration
 * (Anthony et al. 2017; STaR, Zelikman et al. 2022; ReST-EM, Singh et al. 2023). The data is a
 * set of verified (or majority-agreed) solutions, optionally mixed with replayed initialization
 * traces, and the update is plain next-token cross-entropy on the completions.
 *
 *     mode 'continue': keep training the current policy (expert iteration)
 *     mode 'restart' : start again from the loop's initial policy each round (ReST-EM, which
 *                      found that fine-tuning the base model on the latest data overfits less)
 */
export interface SftConfig {
  /** Optimizer steps per update. Default 200 (the prototype: 200 steps a round). */
  steps: number;
  /** Sequences per step. Default 32. */
  batchSize: number;
  /** Peak learning rate (warmup over 5% of steps, cosine decay to 10%). Default 1e-3: a fraction of initialization's 5e-3, as fine-tuning does. */
  lr: number;
  mode: (typeof sftModes)[number];
  /** Rows of `replay` mixed in (initialization traces), so the initial distribution does not collapse. Default: none given by the learner; the loop passes them. */
  replay?: readonly SftRow[];
}

export const defaultSftConfig = { steps: 200, batchSize: 32, lr: 1e-3, mode: 'continue' } satisfies SftConfig;

export function sftLearner(config: Partial<SftConfig> = {}): Learner<SftRow[]> {
  const c: SftConfig = { ...defaultSftConfig, ...config };
  return {
    name: 'sft',
    async update(rows: SftRow[], ctx: LearnerContext): Promise<LearnResult> {
      const { model, tokenizer } = ctx.policy;
      if (c.mode === 'restart') {
        if (!ctx.initial) throw new Error("sft: mode 'restart' needs the loop's initial policy (ctx.initial)");
        model.params.set(ctx.initial.params);
      }
      const examples: LmExample[] = [...rows, ...(c.replay ?? [])].map((r) => ({ prompt: r.prompt, completion: r.completion, ...(r.weight !== undefined ? { weight: r.weight } : {}) }));
      if (examples.length === 0) return { steps: 0, trainedTokens: 0, metrics: {} };
      const trainer = new LmTrainer(model, tokenizer, examples, {
        steps: c.steps,
        batchSize: c.batchSize,
        seed: ctx.seed,
        warmupSteps: Math.max(1, Math.round(c.steps * 0.05)),
        optimizer: { ...defaultAdamWConfig, lr: c.lr },
      });
      const log: StepMetrics[] = [];
      let trainedTokens = 0;
      ctx.onPlan?.(c.steps);
      while (trainer.step < c.steps) {
        const s = trainer.trainStep();
        trainedTokens += s.realTokens;
        const m: StepMetrics = { step: s.step, loss: s.loss, grad_norm: s.gradNorm, learning_rate: s.lr };
        log.push(m);
        ctx.onStep?.(m);
        if (!Number.isFinite(s.loss)) throw new Error(`sft: loss ${s.loss} at step ${s.step}; lower the learning rate`);
        if (ctx.shouldStop?.()) break;
        await yieldTurn();
      }
      return { steps: trainer.step, trainedTokens, metrics: meanMetrics(log) };
    },
  };
}
