import { existsSync } from 'node:fs';
import { loadRewardModel } from '../reward/prm.js';
import type { RewardModel } from '../reward/reward.js';
import { createVerifierReward } from '../reward/verifier.js';
import type { Task } from '../tasks/task.js';

/** The reward specs a command accepts (`--reward`). */
export const rewardSpecs = ['verifier', 'prm:DIR', 'orm:DIR'] as const;

const VALID = `valid: ${rewardSpecs.join(', ')}`;

/**
 * A reward model from its command-line spec:
 *   verifier   the task's exact verifier (outcome, 0/1)
 *   prm:DIR    a process reward model trained by `train-prm --kind process`
 *   orm:DIR    an outcome reward model trained by `train-prm --kind outcome|bt`
 * DIR is a reward checkpoint or the train-prm run directory holding it. A missing directory, a
 * model of the other kind or one trained for another task is one Error line saying what is valid
 * (callers such as common.ts's rewardFromFlag prefix the flag).
 */
export async function parseRewardSpec(spec: string, task: Task): Promise<RewardModel> {
  if (spec === 'verifier') return createVerifierReward(task);
  const m = /^(prm|orm):(.+)$/.exec(spec);
  if (!m) throw new Error(`unknown reward (${VALID})`);
  const want = m[1] as 'prm' | 'orm';
  const dir = m[2]!;
  if (!existsSync(dir)) throw new Error(`no such directory ${dir} (${VALID}, where DIR is a checkpoint written by train-prm or its run directory)`);
  let loaded;
  try {
    loaded = loadRewardModel(dir);
  } catch (e) {
    throw new Error(`${(e as Error).message.split('\n')[0]} (${VALID})`);
  }
  const { meta } = loaded;
  const kind = meta.kind === 'process' ? 'prm' : 'orm';
  if (kind !== want) {
    const what = meta.kind === 'process' ? 'a process reward model (PRM)' : 'an outcome reward model (ORM)';
    throw new Error(`${loaded.dir} holds ${what}: use ${kind}:${dir}`);
  }
  if (meta.task !== task.name) {
    throw new Error(`${loaded.dir} was trained for task "${meta.task}", not "${task.name}" (train one with: searchlearn train-prm --task ${task.name} ...)`);
  }
  if (meta.stepDelimiter !== task.stepDelimiter) {
    throw new Error(`${loaded.dir} splits steps on ${JSON.stringify(meta.stepDelimiter)}, task "${task.name}" on ${JSON.stringify(task.stepDelimiter)}`);
  }
  return loaded.reward;
}
