import type { OnProgress } from '../core/progress.js';
import { Rng } from '../core/rng.js';
import { greedyAccuracy } from '../eval/greedy.js';
import { configForSize, parameterCount, type ModelSize } from '../nn/config.js';
import { kernelsFor } from '../nn/engine.js';
import { loadModel } from '../nn/model-io.js';
import { Transformer } from '../nn/model.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { trainConfigFor, type LmExample } from '../nn/train.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { formatBehaviours, parseBehaviours } from '../tasks/behaviours.js';
import { getTask } from '../tasks/registry.js';
import type { Behaviours, BuiltinTask } from '../tasks/task.js';
import { trainLm } from './lm-run.js';
import { footholdMixture } from './mixture.js';
import { RunDir } from './run-dir.js';

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

export interface InitOptions {
  task: BuiltinTask;
  behaviours: Behaviours;
  out: string;
  steps: number;
  seed: number;
  size: ModelSize;
  batchSize: number;
  lr: number;
  trainProblems: number;
  evalProblems: number;
  kernels: 'fast' | 'reference';
  /** Worker threads beside the main thread, for training (TrainConfig.workers) and the closing evaluation's sampling (default cores − 1; 0: the main thread alone). */
  workers?: number;
  /** The task's options (recorded in config.json, so the loop can rebuild the same data). */
  taskOptions?: Record<string, unknown>;
  /**
   * Traces of a harder level mixed into the initialization data: the foothold a
   * self-improvement loop needs, since nothing is learned from samples that are never right
   * (Lee et al. 2025 start each round from a little data one level up; STaR adds one digit a round).
   */
  foothold?: Foothold;
  onProgress?: OnProgress;
  /** Polled between steps: true stops training after the current step (the checkpoint is saved). */
  shouldStop?: () => boolean;
  /** Informational lines (resume notice, a sample trace). */
  log?: (line: string) => void;
}

export interface Foothold {
  count: number;
  /** Task options of the foothold's problems (e.g. {minDigits: 3, maxDigits: 3}), over the task's own. */
  taskOptions: Record<string, unknown>;
  /**
   * Share of the initialization's training rows drawn from the foothold traces (repeated to it,
   * `footholdMixture`); unset: one row per trace, so 500 traces beside 10,000 are 5% of the rows.
   */
  share?: number;
}

export interface InitResult {
  task: string;
  behaviours: string;
  steps: number;
  loss: number;
  accuracy: number;
  problems: number;
  tokens_per_s: number;
  checkpoint: string;
  stopped: boolean;
}

/** The traces of policy initialization: one per training problem, behaviours drawn at their rates. */
export function initExamples(task: BuiltinTask, behaviours: Behaviours, count: number, seed: number): LmExample[] {
  const rng = new Rng(`${seed}/traces`);
  return task.problems('train', count, seed).map((p) => ({ prompt: task.formatPrompt(p), completion: task.trace(p, rng, behaviours) }));
}

/** What an init run trained on, as its config.json records it: enough to rebuild the same traces. */
export interface InitData {
  task: string;
  taskOptions: Record<string, unknown>;
  behaviours: string;
  trainProblems: number;
  seed: number;
  foothold?: Foothold;
}

/** The initialization data, rebuilt deterministically (the loop's replay and its control train on it). */
export function initData(d: InitData): LmExample[] {
  const task = getTask(d.task, d.taskOptions) as BuiltinTask;
  const behaviours = parseBehaviours(d.behaviours, task.defaultBehaviours);
  const examples = initExamples(task, behaviours, d.trainProblems, d.seed);
  if (d.foothold && d.foothold.count > 0) {
    const hard = getTask(d.task, { ...d.taskOptions, ...d.foothold.taskOptions }) as BuiltinTask;
    examples.push(...initExamples(hard, behaviours, d.foothold.count, d.seed + 7919));
  }
  return examples;
}

/**
 * Policy initialization (roadmap §3): trains (or resumes) the built-in model on task traces that
 * show human-like reasoning, in a run directory, then evaluates it greedily on held-out problems.
 */
export async function initPolicy(o: InitOptions): Promise<InitResult> {
  const task = o.task;
  const run = new RunDir(o.out);
  const kernels = kernelsFor(o.kernels);
  const tokenizer = new CharTokenizer(task.alphabet);
  let model: Transformer;
  if (run.hasCheckpoint()) {
    ({ model } = loadModel(run.checkpointDir, kernels));
    o.log?.(`resuming from ${run.checkpointDir}`);
  } else {
    model = new Transformer(configForSize(o.size, tokenizer.vocabSize), kernels);
    model.init(new Rng(o.seed));
  }
  const data: InitData = { task: task.name, taskOptions: o.taskOptions ?? {}, behaviours: formatBehaviours(o.behaviours), trainProblems: o.trainProblems, seed: o.seed, ...(o.foothold ? { foothold: o.foothold } : {}) };
  const examples = initData(data);
  const trained = footholdMixture(examples, o.foothold?.count ?? 0, o.foothold?.share);
  run.writeJson('config.json', { command: 'init', ...data, steps: o.steps, size: o.size, batchSize: o.batchSize, lr: o.lr, model: model.config });
  o.log?.(`init ${task.name} (behaviours ${formatBehaviours(o.behaviours)}): ${parameterCount(model.config).toLocaleString('en-US')} parameters, ${examples.length} traces, e.g.\n${examples[0]!.prompt}${examples[0]!.completion}\n`);
  o.onProgress?.({ stage: 'init', done: 0, total: o.steps, unit: 'step' });
  const r = await trainLm({
    run,
    model,
    tokenizer,
    examples: trained,
    config: trainConfigFor(o),
    meta: { command: 'init', task: task.name, behaviours: formatBehaviours(o.behaviours) },
    onStep: (s) => o.onProgress?.({ stage: 'init', done: s.step, total: o.steps, unit: 'step', fields: { loss: s.loss, 'tok/s': Math.round(s.tokensPerSec) } }),
    ...(o.shouldStop ? { shouldStop: o.shouldStop } : {}),
  });
  o.onProgress?.({ stage: 'init', done: o.steps, total: o.steps, unit: 'step', fields: { loss: r.finalLoss } });
  const policy = new BuiltinPolicy(model, tokenizer, o.workers !== undefined ? { workers: o.workers } : {});
  const test = task.problems('test', o.evalProblems, o.seed);
  o.onProgress?.({ stage: 'eval', done: 0, total: test.length, unit: 'problem' });
  const ev = await greedyAccuracy(policy, task, test, { maxTokens: model.config.contextLength, onProgress: (d) => o.onProgress?.({ stage: 'eval', done: d, total: test.length, unit: 'problem' }) });
  run.log({ step: r.steps, 'eval/greedy_accuracy': ev.accuracy, 'eval/problems': ev.problems });
  return { task: task.name, behaviours: formatBehaviours(o.behaviours), steps: r.steps, loss: Number(r.finalLoss.toFixed(4)), accuracy: ev.accuracy, problems: ev.problems, tokens_per_s: Math.round(r.tokensPerSec), checkpoint: run.checkpointDir, stopped: r.stopped };
}
