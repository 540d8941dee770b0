import { dpoLearner, type DpoConfig } from './dpo.js';
import { externalConfigOf, externalLearner, type ExternalChoice } from './external.js';
import { grpoLearner, type GrpoConfig } from './grpo.js';
import type { Learner } from './learner.js';
import { ppoLearner, type PpoConfig } from './ppo.js';
import { sftLearner, type SftConfig } from './sft.js';

export const learnerNames = ['sft', 'dpo', 'ppo', 'grpo', 'external'] as const;
export type LearnerName = (typeof learnerNames)[number];

/** What a loop config says about its learner: SFT's shared settings, and any learner's own fields. */
export interface LearnerChoice extends Partial<ExternalChoice> {
  learner: LearnerName;
  steps: number;
  batchSize: number;
  lr: number;
  sftMode: SftConfig['mode'];
  /** Fields of the learner's own config (DpoConfig, GrpoConfig, PpoConfig) over its defaults. */
  learnerConfig: Record<string, unknown>;
}

/**
 * The learner a choice names. Made once per loop run and used for every iteration, so that
 * what a learner keeps between updates (AdamW moments, PPO's value model) carries over.
 */
export function makeLearner(c: LearnerChoice): Learner<never> {
  switch (c.learner) {
    case 'sft':
      return sftLearner({ steps: c.steps, batchSize: c.batchSize, lr: c.lr, mode: c.sftMode, ...(c.learnerConfig as Partial<SftConfig>) }) as Learner<never>;
    case 'dpo':
      return dpoLearner(c.learnerConfig as Partial<DpoConfig>) as Learner<never>;
    case 'grpo':
      return grpoLearner(c.learnerConfig as Partial<GrpoConfig>) as Learner<never>;
    case 'ppo':
      return ppoLearner(c.learnerConfig as Partial<PpoConfig>) as Learner<never>;
    case 'external':
      // Training by a command of the user's (src/learn/external.ts): its data is an ExternalRound.
      return externalLearner(externalConfigOf({ exportFormat: 'trl-sft', trainTimeoutS: 0, policy: 'builtin', serveTimeoutS: 1800, ...c })) as Learner<never>;
  }
}
