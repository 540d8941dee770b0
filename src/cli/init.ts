import { z } from 'zod';
import { Rng } from '../core/rng.js';
import { greedyAccuracy } from '../eval/greedy.js';
import { trainLm } from '../learn/lm-run.js';
import { RunDir } from '../learn/run-dir.js';
import { configForSize, modelSizes, parameterCount, type ModelSize } from '../nn/config.js';
import { kernelsFor } from '../nn/engine.js';
import { loadModel } from '../nn/model-io.js';
import { Transformer } from '../nn/model.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { trainConfigFor } from '../nn/train.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { formatBehaviours, parseBehaviours } from '../tasks/behaviours.js';
import { getTask } from '../tasks/registry.js';
import type { BuiltinTask } from '../tasks/task.js';
import { CliError, num, parseCommand, type Command } from './args.js';
import { onInterrupt } from './interrupt.js';
import { Progress } from './progress.js';

/**
 * Defaults of policy initialization, sized for arith on a 2-vCPU laptop: about 5 minutes, and a
 * held-out greedy accuracy well below 100% so that search and learning have room to improve it
 * (measured on a busy 2-vCPU VM: 700 steps gave 29.5% in 5 min 42 s, 1,500 steps 56.5% in 11 min 49 s).
 */
export const defaultInitConfig = {
  steps: 700,
  batchSize: 32,
  lr: 5e-3,
  /** Distinct training problems (each with one trace drawn at the behaviour rates). */
  trainProblems: 20000,
  /** Held-out problems for the closing greedy accuracy. */
  evalProblems: 200,
};

const options = {
  task: { type: 'string' },
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
} as const;

const schema = z.object({
  task: z.enum(['arith', 'countdown'], { message: 'expected arith or countdown (built-in tasks with reasoning traces)' }),
  behaviours: z.string(),
  out: z.string({ message: 'required: the run directory to write' }),
  steps: num({ int: true, min: 1 }),
  seed: num({ int: true, min: 0 }),
  size: z.enum(Object.keys(modelSizes) as [ModelSize, ...ModelSize[]], { message: `expected one of ${Object.keys(modelSizes).join(', ')}` }),
  'batch-size': num({ int: true, min: 1, max: 4096 }),
  lr: num({ gt: 0, max: 1 }),
  'train-problems': num({ int: true, min: 1 }),
  'eval-problems': num({ int: true, min: 0 }),
  kernels: z.enum(['fast', 'reference'], { message: 'expected fast or reference' }),
});

export const initCommand: Command = {
  name: 'init',
  summary: 'policy initialization: train the built-in model on reasoning traces of a task, then report held-out greedy accuracy',
  usage: 'init --task arith|countdown [--behaviours plan,check,correct,alternatives|none|default|plan=0.5,...] --out RUN_DIR [--steps N] [--seed K] [--size demo|small]',
  async run(argv) {
    const a = parseCommand('init', argv, options, schema);
    const task = getTask(a.task) as BuiltinTask;
    let behaviours;
    try {
      behaviours = parseBehaviours(a.behaviours, task.defaultBehaviours);
    } catch (e) {
      throw new CliError(`init: --behaviours: ${(e as Error).message}`);
    }
    const result = await initPolicy({ ...a, task, behaviours, batchSize: a['batch-size'], trainProblems: a['train-problems'], evalProblems: a['eval-problems'] });
    console.log(JSON.stringify(result));
  },
};

export interface InitOptions {
  task: BuiltinTask;
  behaviours: ReturnType<typeof parseBehaviours>;
  out: string;
  steps: number;
  seed: number;
  size: ModelSize;
  batchSize: number;
  lr: number;
  trainProblems: number;
  evalProblems: number;
  kernels: 'fast' | 'reference';
  quiet?: boolean;
}

/** Trains (or resumes) a policy on task traces in a run directory and evaluates it greedily on held-out problems. */
export async function initPolicy(o: InitOptions): Promise<{ task: string; behaviours: string; steps: number; loss: number; accuracy: number; problems: number; tokens_per_s: number; checkpoint: string }> {
  const task = o.task;
  const run = new RunDir(o.out);
  const kernels = kernelsFor(o.kernels);
  const tokenizer = new CharTokenizer(task.alphabet);
  let model: Transformer;
  if (run.hasCheckpoint()) {
    ({ model } = loadModel(run.checkpointDir, kernels));
    if (!o.quiet) console.error(`resuming from ${run.checkpointDir}`);
  } else {
    model = new Transformer(configForSize(o.size, tokenizer.vocabSize), kernels);
    model.init(new Rng(o.seed));
  }
  const rng = new Rng(`${o.seed}/traces`);
  const problems = task.problems('train', o.trainProblems, o.seed);
  const examples = problems.map((p) => ({ prompt: task.formatPrompt(p), completion: task.trace(p, rng, o.behaviours) }));
  run.writeJson('config.json', { command: 'init', task: task.name, behaviours: formatBehaviours(o.behaviours), steps: o.steps, seed: o.seed, size: o.size, batchSize: o.batchSize, lr: o.lr, trainProblems: o.trainProblems, model: model.config });
  if (!o.quiet) console.error(`init ${task.name} (behaviours ${formatBehaviours(o.behaviours)}): ${parameterCount(model.config).toLocaleString('en-US')} parameters, ${examples.length} traces, e.g.\n${examples[0]!.prompt}${examples[0]!.completion}\n`);
  const progress = new Progress('init', o.steps, 'step');
  const stop = onInterrupt();
  const r = await trainLm({
    run,
    model,
    tokenizer,
    examples,
    config: trainConfigFor(o),
    meta: { command: 'init', task: task.name, behaviours: formatBehaviours(o.behaviours) },
    onStep: (s) => progress.update(s.step, { loss: s.loss, 'tok/s': Math.round(s.tokensPerSec) }),
    shouldStop: stop.requested,
  });
  stop.dispose();
  progress.done({ loss: r.finalLoss });
  if (r.stopped) console.error(`stopped at step ${r.steps}; checkpoint saved in ${run.checkpointDir} (run the same command to resume)`);
  const policy = new BuiltinPolicy(model, tokenizer);
  const test = task.problems('test', o.evalProblems, o.seed);
  const evalProgress = new Progress('eval', test.length, 'problem');
  const ev = await greedyAccuracy(policy, task, test, { maxTokens: model.config.contextLength, onProgress: (d) => evalProgress.update(d) });
  evalProgress.done({ accuracy: ev.accuracy });
  run.log({ step: r.steps, 'eval/greedy_accuracy': ev.accuracy, 'eval/problems': ev.problems });
  if (!o.quiet) console.error(`held-out greedy accuracy: ${(ev.accuracy * 100).toFixed(1)}% (${ev.correct}/${ev.problems})`);
  return { task: task.name, behaviours: formatBehaviours(o.behaviours), steps: r.steps, loss: Number(r.finalLoss.toFixed(4)), accuracy: ev.accuracy, problems: ev.problems, tokens_per_s: Math.round(r.tokensPerSec), checkpoint: run.checkpointDir };
}
