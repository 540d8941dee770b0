import type { Transformer } from '../nn/model.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import type { SftRow } from './examples.js';

/**
 * The Learner interface: one update of a trainable policy from data that search produced
 * (roadmap §6: behaviour cloning / expert iteration, DPO, PPO, GRPO). Each learner lives in its
 * own file, readable top to bottom (cleanrl), with a typed config and documented defaults beside it;
 * the data it consumes is built by `examples.ts` from SearchResults.
 */

/** The built-in model being trained (updated in place) and its tokenizer. */
export interface TrainablePolicy {
  model: Transformer;
  tokenizer: CharTokenizer;
}

/** Metrics of one optimizer step, under the names TRL and verl use (`loss`, `kl`, `entropy`, `grad_norm`, ...). */
export interface StepMetrics {
  step: number;
  [name: string]: number;
}

export interface LearnerContext {
  policy: TrainablePolicy;
  /**
   * Frozen reference model (the policy before learning began, or before this round): DPO's
   * reference and the KL anchor of PPO and GRPO. Never updated by a learner.
   */
  reference: Transformer;
  /** The policy as the loop began (ReST-EM's restart point); absent outside a loop. */
  initial?: Transformer;
  /**
   * Initialization traces the learner may mix into its updates: the RL and preference learners'
   * replay term (`ptxCoef`, src/learn/ptx.ts), drawn only by a learner whose term is on; the SFT
   * learner takes its replay as data instead.
   */
  replay?: () => readonly SftRow[];
  /** Seeds batching and any sampling the learner does itself. */
  seed: number;
  /** Called after every optimizer step. */
  onStep?: (m: StepMetrics) => void;
  /** Called once the update knows how many optimizer steps it will take (for progress bars). */
  onPlan?: (totalSteps: number) => void;
  /** Polled between steps: true ends the update early (what was learned so far is kept). */
  shouldStop?: () => boolean;
}

export interface LearnResult {
  steps: number;
  /** Tokens that went through forward and backward passes (padding excluded): the x-axis of train-time compute. */
  trainedTokens: number;
  /** Means over the update of its step metrics. */
  metrics: Record<string, number>;
}

export interface Learner<Data> {
  readonly name: string;
  update(data: Data, ctx: LearnerContext): Promise<LearnResult>;
}

/** A frozen copy of a model (same config and kernels): the reference of DPO and of KL penalties. */
export function frozenCopy(model: Transformer): Transformer {
  const Ctor = model.constructor as new (config: Transformer['config'], kernels: Transformer['kernels']) => Transformer;
  const copy = new Ctor(model.config, model.kernels);
  copy.params.set(model.params);
  return copy;
}

/** Means of the numeric fields of step metrics (the `step` field excluded). */
export function meanMetrics(steps: readonly StepMetrics[]): Record<string, number> {
  const sums: Record<string, { s: number; n: number }> = {};
  for (const m of steps) {
    for (const [k, v] of Object.entries(m)) {
      if (k === 'step' || !Number.isFinite(v)) continue;
      const e = (sums[k] ??= { s: 0, n: 0 });
      e.s += v;
      e.n++;
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([k, { s, n }]) => [k, s / n]));
}
