import { defaultDpoConfig, dpoLearner, dpoLossChoices, dpoTokenChoices, type DpoConfig } from './dpo.js';
import { externalConfigOf, externalLearner, type ExternalChoice } from './external.js';
import { defaultGrpoConfig, grpoAdvantages, grpoLearner, type GrpoConfig } from './grpo.js';
import type { Learner } from './learner.js';
import { defaultPpoConfig, ppoLearner, ppoRewards, ppoShapings, type PpoConfig } from './ppo.js';
import { defaultSftConfig, sftLearner, sftModes, type SftConfig } from './sft.js';

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

/** What each learner's `learnerConfig` may set: its defaults give the fields and their types. */
const learnerFields: Record<LearnerName, Record<string, unknown>> = { sft: defaultSftConfig, dpo: defaultDpoConfig, grpo: defaultGrpoConfig, ppo: defaultPpoConfig, external: {} };
/** The string fields that take one of a few values. */
const learnerChoices: Record<string, readonly string[]> = {
  'sft.mode': sftModes,
  'dpo.tokens': dpoTokenChoices,
  'dpo.loss': dpoLossChoices,
  'grpo.advantage': grpoAdvantages,
  'ppo.reward': ppoRewards,
  'ppo.shaping': ppoShapings,
};

/**
 * The first field of a learner config that its learner would not read as given (a misspelt
 * name is otherwise ignored and a string where a number belongs trains with NaN), or null.
 */
export function learnerConfigIssue(learner: LearnerName, config: Record<string, unknown>): { path: string[]; message: string } | null {
  const walk = (fields: Record<string, unknown>, value: Record<string, unknown>, path: string[]): { path: string[]; message: string } | null => {
    for (const [key, v] of Object.entries(value)) {
      const at = [...path, key];
      if (!Object.hasOwn(fields, key)) {
        const valid = Object.keys(fields);
        return { path: at, message: valid.length ? `not a field of the ${learner} learner (valid: ${valid.join(', ')})` : `the ${learner} learner takes no learnerConfig` };
      }
      const d = fields[key];
      if (d !== null && typeof d === 'object') {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return { path: at, message: `expected an object of ${Object.keys(d).join(', ')}, got ${JSON.stringify(v)}` };
        const inner = walk(d as Record<string, unknown>, v as Record<string, unknown>, at);
        if (inner) return inner;
        continue;
      }
      if (typeof v !== typeof d || (typeof v === 'number' && !Number.isFinite(v))) return { path: at, message: `expected a ${typeof d}, got ${JSON.stringify(v)}` };
      const choices = learnerChoices[`${learner}.${at.join('.')}`];
      if (choices && !choices.includes(v as string)) return { path: at, message: `expected one of ${choices.join(', ')}, got ${JSON.stringify(v)}` };
    }
    return null;
  };
  return walk(learnerFields[learner], config, []);
}
