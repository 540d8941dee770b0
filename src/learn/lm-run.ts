import { existsSync } from 'node:fs';
import { yieldTurn } from '../core/progress.js';
import { readSafetensors, writeSafetensors } from '../nn/safetensors.js';
import { saveModel } from '../nn/model-io.js';
import type { Transformer } from '../nn/model.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import { LmTrainer, type LmExample, type StepInfo, type TrainConfig } from '../nn/train.js';
import type { RunDir } from './run-dir.js';

export interface LmRunOptions {
  run: RunDir;
  model: Transformer;
  tokenizer: CharTokenizer;
  examples: LmExample[];
  config: Partial<TrainConfig> & { steps: number };
  /** Save a checkpoint every this many steps (default 100). */
  checkpointEvery?: number;
  /** Extra fields stored in the checkpoint's meta. */
  meta?: Record<string, unknown>;
  /** Called after every step. */
  onStep?: (info: StepInfo & { tokensPerSec: number }) => void;
  /** Set to true (e.g. by a SIGINT handler) to stop after the current step. */
  shouldStop?: () => boolean;
}

export interface LmRunResult {
  steps: number;
  finalLoss: number;
  stopped: boolean;
  resumedFrom: number;
  tokensPerSec: number;
}

const OPTIMIZER_FILE = 'optimizer.safetensors';

/**
 * Trains in a run directory: resumes from its checkpoint and optimizer state when present,
 * logs `train/*` metrics, checkpoints periodically, at the end, and when asked to stop.
 */
export async function trainLm(o: LmRunOptions): Promise<LmRunResult> {
  const trainer = new LmTrainer(o.model, o.tokenizer, o.examples, o.config);
  const every = o.checkpointEvery ?? 100;
  let resumedFrom = 0;
  const optPath = o.run.file(OPTIMIZER_FILE);
  if (existsSync(optPath) && o.run.hasCheckpoint()) {
    const st = readSafetensors(optPath);
    const step = Number(st.metadata['step']);
    const m = st.tensors['m'];
    const v = st.tensors['v'];
    if (Number.isInteger(step) && m && v && m.data.length === trainer.optimizer.m.length) {
      trainer.optimizer.m.set(m.data as Float32Array);
      trainer.optimizer.v.set(v.data as Float32Array);
      trainer.optimizer.step = step;
      resumedFrom = step;
    }
  }
  let loss = NaN;
  let stopped = false;
  let tokens = 0;
  let ms = 0;
  const save = (): void => {
    // Optimizer first, model second: the model's meta step is the authority on resume.
    writeSafetensors(optPath, { m: { dtype: 'F32', shape: [trainer.optimizer.m.length], data: trainer.optimizer.m }, v: { dtype: 'F32', shape: [trainer.optimizer.v.length], data: trainer.optimizer.v } }, { step: String(trainer.step) });
    saveModel(o.run.checkpointDir, o.model, o.tokenizer, { ...o.meta, step: trainer.step, loss });
    o.run.log({ event: 'checkpoint', step: trainer.step });
  };
  while (trainer.step < o.config.steps) {
    const info = trainer.trainStep();
    loss = info.loss;
    tokens += info.tokens;
    ms += info.ms;
    const tokensPerSec = (tokens / ms) * 1000;
    o.run.log({ step: info.step, 'train/loss': info.loss, 'train/lr': info.lr, 'train/grad_norm': info.gradNorm, 'charts/tokens_per_s': Math.round((info.tokens / info.ms) * 1000) });
    o.onStep?.({ ...info, tokensPerSec });
    if (!Number.isFinite(info.loss)) throw new Error(`training diverged at step ${info.step} (loss ${info.loss}); lower the learning rate`);
    if (info.step % every === 0 && info.step < o.config.steps) save();
    // Let signal handlers run between steps.
    await yieldTurn();
    if (o.shouldStop?.()) {
      stopped = true;
      break;
    }
  }
  if (trainer.step > resumedFrom || !o.run.hasCheckpoint()) save();
  return { steps: trainer.step, finalLoss: loss, stopped, resumedFrom, tokensPerSec: ms > 0 ? (tokens / ms) * 1000 : 0 };
}
