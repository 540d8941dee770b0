import { z } from 'zod';
import { BuiltinPolicy } from '../policy/builtin.js';
import type { Policy } from '../policy/policy.js';
import type { RewardModel } from '../reward/reward.js';
import { createVerifierReward } from '../reward/verifier.js';
import { getTask } from '../tasks/registry.js';
import type { Task } from '../tasks/task.js';
import { CliError } from './args.js';

/** The task named on the command line, or one clear error line listing the valid names. */
export function taskFromFlag(name: string): Task {
  try {
    return getTask(name);
  } catch (e) {
    throw new CliError(`--task: ${(e as Error).message}`);
  }
}

/** Loads the policy a command runs on (the built-in model from a checkpoint or run directory). */
export function policyFromFlag(dir: string, kernels: 'fast' | 'reference' = 'fast'): BuiltinPolicy {
  try {
    return BuiltinPolicy.load(dir, kernels);
  } catch (e) {
    throw new CliError(`--checkpoint: ${(e as Error).message}`);
  }
}

/** A reward model from a CLI spec: `verifier`, `prm:DIR` or `orm:DIR`. */
export async function rewardFromFlag(spec: string, task: Task): Promise<RewardModel> {
  if (spec === 'verifier') return createVerifierReward(task);
  try {
    const { parseRewardSpec } = await import('./reward-spec.js');
    return await parseRewardSpec(spec, task);
  } catch (e) {
    throw new CliError(`--reward ${JSON.stringify(spec)}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Token budget for one sample: the task's traces must fit (built-in tasks stay under 230 characters). */
export function sampleTokens(task: Task, policy: Policy): number {
  return Math.min(task.alphabet ? 200 : 1024, policy.contextLength - 32);
}

export const kernelsSchema = z.enum(['fast', 'reference'], { message: 'expected fast or reference' });
