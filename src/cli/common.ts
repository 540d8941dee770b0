import { z } from 'zod';
import { BuiltinPolicy } from '../policy/builtin.js';
import { policyFromSpec, policySpecForms } from '../policy/factory.js';
import type { Policy } from '../policy/policy.js';
import type { RewardModel } from '../reward/reward.js';
import { createVerifierReward } from '../reward/verifier.js';
import { getTask } from '../tasks/registry.js';
import type { Task } from '../tasks/task.js';
import type { Problem } from '../core/problem.js';
import { CliError, num } from './args.js';

/**
 * `--task-option key=value` flags (repeatable) as a task config record; a flag without `=` gets
 * one error line. Values stay strings: each task validates its own keys and ranges.
 */
export function parseTaskOptions(flags: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new CliError(`--task-option ${JSON.stringify(f)}: expected key=value (e.g. --task-option maxDigits=4)`);
    out[f.slice(0, eq).trim()] = f.slice(eq + 1).trim();
  }
  return out;
}

/** The task named on the command line with its `--task-option`s, or one clear error line. */
export function taskFromFlag(name: string, options: readonly string[] | Record<string, unknown> = []): Task {
  const record = Array.isArray(options) ? parseTaskOptions(options) : (options as Record<string, unknown>);
  try {
    return getTask(name, record);
  } catch (e) {
    throw new CliError(`--task ${name}: ${(e as Error).message}`);
  }
}

/** The repeatable `--task-option key=value` flag, for every command that takes `--task`. */
export const taskOptionFlag = { 'task-option': { type: 'string', multiple: true } } as const;
export const taskOptionShape = { 'task-option': z.array(z.string()).optional() };

/** The policy flags of eval and search: exactly one of `--checkpoint DIR` and `--policy SPEC` (with `--model NAME`). */
export interface PolicyFlags {
  checkpoint?: string | undefined;
  policy?: string | undefined;
  model?: string | undefined;
  kernels?: 'fast' | 'reference';
  /** Worker threads for the built-in policy (default: one per further core). */
  workers?: number | undefined;
}

/**
 * The policy a command runs on. `policyFromFlag(a)` with the parsed flags: the built-in model from
 * `--checkpoint`, or any backend from `--policy` (`openai:URL[,URL...]` with `--model`, `gguf:FILE`),
 * probed before the command starts. The older form `policyFromFlag(dir, kernels)` loads a checkpoint.
 */
export function policyFromFlag(dir: string | undefined, kernels?: 'fast' | 'reference', workers?: number): BuiltinPolicy;
export function policyFromFlag(flags: PolicyFlags): Promise<Policy>;
export function policyFromFlag(arg: string | undefined | PolicyFlags, kernels: 'fast' | 'reference' = 'fast', workers?: number): BuiltinPolicy | Promise<Policy> {
  if (typeof arg === 'object') return policyFromFlags(arg);
  if (arg === undefined) throw new CliError('--checkpoint missing: required: a checkpoint or run directory');
  try {
    return BuiltinPolicy.load(arg, kernels, workers !== undefined ? { workers } : {});
  } catch (e) {
    throw new CliError(`--checkpoint: ${(e as Error).message}`);
  }
}

async function policyFromFlags(f: PolicyFlags): Promise<Policy> {
  if ((f.checkpoint === undefined) === (f.policy === undefined)) {
    throw new CliError(`--checkpoint ${f.checkpoint === undefined ? 'missing' : JSON.stringify(f.checkpoint)}: give exactly one of --checkpoint DIR and --policy ${policySpecForms}`);
  }
  if (f.checkpoint !== undefined) return policyFromFlag(f.checkpoint, f.kernels, f.workers);
  if (f.model !== undefined && !f.policy!.startsWith('openai:')) throw new CliError(`--model ${JSON.stringify(f.model)}: only an openai: policy takes a model name`);
  try {
    return await policyFromSpec(f.policy!, { ...(f.model ? { model: f.model } : {}), kernels: f.kernels ?? 'fast', ...(f.workers !== undefined ? { workers: f.workers } : {}) });
  } catch (e) {
    throw new CliError(`--policy ${JSON.stringify(f.policy)}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** A reward model from a CLI spec: `verifier`, `prm:DIR` or `orm:DIR`. */
export async function rewardFromFlag(spec: string, task: Task, policy?: Policy): Promise<RewardModel> {
  if (spec === 'verifier') return createVerifierReward(task);
  try {
    const { parseRewardSpec } = await import('./reward-spec.js');
    return await parseRewardSpec(spec, task, policy);
  } catch (e) {
    throw new CliError(`--reward ${JSON.stringify(spec)}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Token budget for one sample: the task's traces must fit (built-in tasks stay under 230 characters). */
export function sampleTokens(task: Task, policy: Policy): number {
  return Math.min(task.alphabet ? 200 : 1024, policy.contextLength - 32);
}

export const kernelsSchema = z.enum(['fast', 'reference'], { message: 'expected fast or reference' });

/** Flags shared by the commands that run a policy on held-out problems (eval, search). */
export const policyRunOptions = {
  checkpoint: { type: 'string' },
  policy: { type: 'string' },
  model: { type: 'string' },
  task: { type: 'string' },
  ...taskOptionFlag,
  reward: { type: 'string', default: 'verifier' },
  seed: { type: 'string', default: '0' },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
  kernels: { type: 'string', default: 'fast' },
  workers: { type: 'string' },
} as const;

export const policyRunShape = {
  checkpoint: z.string({ message: 'required: a checkpoint or run directory' }).optional(),
  policy: z.string().min(1, { message: `expected ${policySpecForms}` }).optional(),
  model: z.string().min(1, { message: 'expected the served model name' }).optional(),
  task: z.string({ message: 'required: arith, countdown, gsm8k, math500 or jsonl:PATH' }),
  ...taskOptionShape,
  reward: z.string(),
  seed: num({ int: true, min: 0 }),
  out: z.string().optional(),
  json: z.boolean(),
  kernels: kernelsSchema,
  workers: num({ int: true, min: 0, max: 256 }).optional(),
};

/** `count` held-out (test split) problems of the task, or one clear error line. */
export function heldOutProblems(task: Task, count: number, seed: number): Problem[] {
  try {
    return task.problems('test', count, seed);
  } catch (e) {
    throw new CliError(`--task ${task.name}: ${(e as Error).message}`);
  }
}
