import type { SftRow } from './examples.js';
import type { Learner } from './learner.js';
import { sftLearner, type SftConfig } from './sft.js';

export const learnerNames = ['sft', 'dpo', 'ppo', 'grpo'] as const;
export type LearnerName = (typeof learnerNames)[number];

/** The settings every learner shares, as a loop config gives them. */
export interface LearnerChoice {
  learner: LearnerName;
  steps: number;
  batchSize: number;
  lr: number;
  sftMode: SftConfig['mode'];
}

/** The learner a choice names, set up from the shared settings; SFT also replays `replay`. */
export function makeLearner(c: LearnerChoice, replay: readonly SftRow[]): Learner<never> {
  switch (c.learner) {
    case 'sft':
      return sftLearner({ steps: c.steps, batchSize: c.batchSize, lr: c.lr, mode: c.sftMode, replay }) as Learner<never>;
    default:
      throw new Error(`learner ${c.learner} is not available yet`);
  }
}
