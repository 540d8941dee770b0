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
import { formatBehaviours } from '../tasks/behaviours.js';
import type { Behaviours, BuiltinTask } from '../tasks/task.js';
import { trainLm } from './lm-run.js';
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
  /**
   * Extra traces mixed into the initialization data (e.g. a few traces of a harder level: the
   * foothold a self-improvement loop needs, Lee et al. 2025), with the task options they came from.
   */
  extraExamples?: LmExample[];
  /** Recorded in config.json (e.g. the task options), so a run says what it was trained on. */
  meta?: Record<string, unknown>;
  onProgress?: OnProgress;
  /** Polled between steps: true stops training after the current step (the checkpoint is saved). */
  shouldStop?: () => boolean;
  /** Informational lines (resume notice, a sample trace). */
  log?: (line: string) => void;
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
  const examples = [...initExamples(task, o.behaviours, o.trainProblems, o.seed), ...(o.extraExamples ?? [])];
  run.writeJson('config.json', { command: 'init', task: task.name, behaviours: formatBehaviours(o.behaviours), steps: o.steps, seed: o.seed, size: o.size, batchSize: o.batchSize, lr: o.lr, trainProblems: o.trainProblems, extraExamples: o.extraExamples?.length ?? 0, ...o.meta, model: model.config });
  o.log?.(`init ${task.name} (behaviours ${formatBehaviours(o.behaviours)}): ${parameterCount(model.config).toLocaleString('en-US')} parameters, ${examples.length} traces, e.g.\n${examples[0]!.prompt}${examples[0]!.completion}\n`);
  const r = await trainLm({
    run,
    model,
    tokenizer,
    examples,
    config: trainConfigFor(o),
    meta: { command: 'init', task: task.name, behaviours: formatBehaviours(o.behaviours) },
    onStep: (s) => o.onProgress?.({ stage: 'init', done: s.step, total: o.steps, unit: 'step', fields: { loss: s.loss, 'tok/s': Math.round(s.tokensPerSec) } }),
    ...(o.shouldStop ? { shouldStop: o.shouldStop } : {}),
  });
  o.onProgress?.({ stage: 'init', done: o.steps, total: o.steps, unit: 'step', fields: { loss: r.finalLoss } });
  const policy = new BuiltinPolicy(model, tokenizer);
  const test = task.problems('test', o.evalProblems, o.seed);
  const ev = await greedyAccuracy(policy, task, test, { maxTokens: model.config.contextLength, onProgress: (d) => o.onProgress?.({ stage: 'eval', done: d, total: test.length, unit: 'problem' }) });
  run.log({ step: r.steps, 'eval/greedy_accuracy': ev.accuracy, 'eval/problems': ev.problems });
  return { task: task.name, behaviours: formatBehaviours(o.behaviours), steps: r.steps, loss: Number(r.finalLoss.toFixed(4)), accuracy: ev.accuracy, problems: ev.problems, tokens_per_s: Math.round(r.tokensPerSec), checkpoint: run.checkpointDir, stopped: r.stopped };
}
