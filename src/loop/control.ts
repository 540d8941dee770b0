import { yieldTurn, type OnProgress } from '../core/progress.js';
import { initData, type InitData } from '../learn/init-policy.js';
import { footholdMixture } from '../learn/mixture.js';
import type { RunDir } from '../learn/run-dir.js';
import { defaultAdamWConfig } from '../nn/adamw.js';
import { kernelsFor } from '../nn/engine.js';
import { loadModel, saveModel } from '../nn/model-io.js';
import { encodeExamples, LmTrainer } from '../nn/train.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import type { LoopConfig } from './config.js';
import { evalConfigFor, evaluateLevels, type EvalLevel, type LevelScores } from './evaluate.js';

/**
 * The control that would explain a loop's gain away: the initial policy trained further on its
 * own initialization data (traces and foothold, in the loop's replay mixture), with the loop's
 * SFT settings, for as many trained tokens as the loop spent, then evaluated the same way. A loop that does no better
 * than this has shown only that the initialization was undertrained.
 */
export async function runControl(o: {
  run: RunDir;
  init: InitData;
  initialDir: string;
  config: LoopConfig;
  levels: EvalLevel[];
  trainedTokens: number;
  onProgress?: OnProgress;
  shouldStop?: () => boolean;
}): Promise<{ levels: Record<string, LevelScores>; trainedTokens: number } | null> {
  const { model, tokenizer } = loadModel(o.initialDir, kernelsFor('fast'));
  // The initialization data in the mixture the loop replays it (with its foothold share).
  const examples = footholdMixture(initData(o.init), o.init.foothold?.count ?? 0, o.config.replayFoothold);
  // The cosine schedule spans the steps that reach the token target (estimated from the data's
  // mean length), so the control anneals as each of the loop's updates does; a schedule cut short
  // at a high learning rate would handicap it. The loop below stops when the target is reached.
  const meanInputs = encodeExamples(examples, tokenizer, model.config.contextLength).reduce((sum, e) => sum + e.ids.length - 1, 0) / examples.length;
  const trainer = new LmTrainer(model, tokenizer, examples, {
    steps: Math.max(1, Math.ceil((1.02 * o.trainedTokens) / (meanInputs * o.config.batchSize))),
    batchSize: o.config.batchSize,
    seed: o.config.seed + 31337,
    warmupSteps: Math.max(1, Math.round(o.config.steps * 0.05)),
    optimizer: { ...defaultAdamWConfig, lr: o.config.lr },
  });
  let tokens = 0;
  o.onProgress?.({ stage: 'control sft', done: 0, total: o.trainedTokens, unit: 'token' });
  while (tokens < o.trainedTokens) {
    const s = trainer.trainStep();
    tokens += s.realTokens;
    o.run.log({ event: 'train', control: true, step: s.step, loss: s.loss, grad_norm: s.gradNorm });
    o.onProgress?.({ stage: 'control sft', done: Math.min(tokens, o.trainedTokens), total: o.trainedTokens, unit: 'token', fields: { loss: s.loss } });
    await yieldTurn();
    if (o.shouldStop?.()) return null;
    if (trainer.step >= trainer.config.steps) break;
  }
  saveModel(o.run.file('control/checkpoint'), model, tokenizer, { command: 'loop-control', trainedTokens: tokens });
  const levels = await evaluateLevels(new BuiltinPolicy(model, tokenizer), o.levels, evalConfigFor(o.config), o.config.seed, o.onProgress);
  return { levels, trainedTokens: tokens };
}
