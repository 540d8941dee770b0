import { z } from 'zod';
import { defaultInitConfig, initPolicy } from '../learn/init-policy.js';
import { modelSizes, type ModelSize } from '../nn/config.js';
import { parseBehaviours } from '../tasks/behaviours.js';
import type { BuiltinTask } from '../tasks/task.js';
import { CliError, num, parseCommand, type Command } from './args.js';
import { kernelsSchema, parseTaskOptions, taskFromFlag, taskOptionFlag, taskOptionShape } from './common.js';
import { onInterrupt } from './interrupt.js';
import { progressPrinter } from './progress.js';

const options = {
  task: { type: 'string' },
  ...taskOptionFlag,
  behaviours: { type: 'string', default: 'default' },
  out: { type: 'string' },
  steps: { type: 'string', default: String(defaultInitConfig.steps) },
  seed: { type: 'string', default: '0' },
  size: { type: 'string', default: 'demo' },
  'batch-size': { type: 'string', default: String(defaultInitConfig.batchSize) },
  lr: { type: 'string', default: String(defaultInitConfig.lr) },
  'train-problems': { type: 'string', default: String(defaultInitConfig.trainProblems) },
  'eval-problems': { type: 'string', default: String(defaultInitConfig.evalProblems) },
  kernels: { type: 'string', default: 'fast' },
  foothold: { type: 'string', default: '0' },
  'foothold-option': { type: 'string', multiple: true },
  'foothold-share': { type: 'string' },
  workers: { type: 'string' },
} as const;

const schema = z.object({
  task: z.enum(['arith', 'countdown'], { message: 'expected arith or countdown (built-in tasks with reasoning traces)' }),
  ...taskOptionShape,
  behaviours: z.string(),
  out: z.string({ message: 'required: the run directory to write' }),
  steps: num({ int: true, min: 1 }),
  seed: num({ int: true, min: 0 }),
  size: z.enum(Object.keys(modelSizes) as [ModelSize, ...ModelSize[]], { message: `expected one of ${Object.keys(modelSizes).join(', ')}` }),
  'batch-size': num({ int: true, min: 1, max: 4096 }),
  lr: num({ gt: 0, max: 1 }),
  'train-problems': num({ int: true, min: 1 }),
  'eval-problems': num({ int: true, min: 0 }),
  kernels: kernelsSchema,
  foothold: num({ int: true, min: 0 }),
  'foothold-option': z.array(z.string()).optional(),
  'foothold-share': num({ gt: 0, max: 0.99 }).optional(),
  workers: num({ int: true, min: 0, max: 256 }).optional(),
});

export const initCommand: Command = {
  name: 'init',
  summary: 'policy initialization: train the built-in model on reasoning traces of a task, then report held-out greedy accuracy',
  usage: 'init --task arith|countdown [--task-option key=value ...] [--foothold N --foothold-option key=value ... [--foothold-share S]] [--behaviours plan,check,correct,alternatives|none|default|plan=0.5,...] --out RUN_DIR [--steps N] [--seed K] [--size demo|small] [--workers N]',
  async run(argv) {
    const a = parseCommand('init', argv, options, schema);
    const taskOptions = parseTaskOptions(a['task-option']);
    const task = taskFromFlag(a.task, taskOptions) as BuiltinTask;
    if (a.foothold > 0) taskFromFlag(a.task, { ...taskOptions, ...parseTaskOptions(a['foothold-option']) });
    let behaviours;
    try {
      behaviours = parseBehaviours(a.behaviours, task.defaultBehaviours);
    } catch (e) {
      throw new CliError(`init: --behaviours: ${(e as Error).message}`);
    }
    const stop = onInterrupt();
    const result = await initPolicy({
      task, behaviours, out: a.out, steps: a.steps, seed: a.seed, size: a.size, lr: a.lr, kernels: a.kernels,
      batchSize: a['batch-size'], trainProblems: a['train-problems'], evalProblems: a['eval-problems'],
      taskOptions, ...(a.workers !== undefined ? { workers: a.workers } : {}), ...(a.foothold > 0 ? { foothold: { count: a.foothold, taskOptions: parseTaskOptions(a['foothold-option']), ...(a['foothold-share'] !== undefined ? { share: a['foothold-share'] } : {}) } } : {}), onProgress: progressPrinter(), shouldStop: stop.requested, log: (l) => console.error(l),
    });
    stop.dispose();
    if (result.stopped) console.error(`stopped at step ${result.steps}; checkpoint saved in ${result.checkpoint} (run the same command to resume)`);
    console.error(`held-out greedy accuracy: ${(result.accuracy * 100).toFixed(1)}% (${Math.round(result.accuracy * result.problems)}/${result.problems})`);
    console.log(JSON.stringify(result));
  },
};
