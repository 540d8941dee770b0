/**
 * A tiny trained checkpoint for the export and llama.cpp tests: two layers, d=32, trained for a
 * few seconds on additions written as `Q: a+b\nA: c`. Trained rather than random so that its
 * next-token distributions are peaked, as a real model's are, and greedy comparisons across
 * engines test the arithmetic, not the tie-breaking of near-equal logits.
 */
import { Rng } from '../core/rng.js';
import type { ModelConfig } from './config.js';
import { saveModel } from './model-io.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { CharTokenizer } from './tokenizer.js';
import { LmTrainer, type LmExample } from './train.js';

export interface TinyCheckpoint {
  dir: string;
  model: Transformer;
  tokenizer: CharTokenizer;
  /** Prompts of the kind the model was trained on (half of them held out). */
  prompts: string[];
}

function sum(a: number, b: number): LmExample {
  return { prompt: `Q: ${a}+${b}\n`, completion: `A: ${a + b}` };
}

/** Trains and saves the tiny checkpoint at `dir` (about 1–3 s of CPU). */
export function trainTinyCheckpoint(dir: string, opts: { steps?: number; seed?: number } = {}): TinyCheckpoint {
  const rng = new Rng(opts.seed ?? 7);
  const train: LmExample[] = [];
  const held: LmExample[] = [];
  for (let i = 0; i < 60; i++) {
    const ex = sum(rng.int(0, 30), rng.int(0, 30));
    (i % 3 === 0 ? held : train).push(ex);
  }
  // The alphabet also holds letters the prompts lack, so round trips see more than digits.
  const tokenizer = new CharTokenizer('\n +0123456789:=AQHelo,!');
  const config: ModelConfig = { vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, dFF: 64, contextLength: 48, ropeTheta: 10000, normEps: 1e-5 };
  const model = new Transformer(config, createOrtKernels({ threads: 1 }));
  model.init(new Rng(opts.seed ?? 7));
  const steps = opts.steps ?? 150;
  const trainer = new LmTrainer(model, tokenizer, train, {
    steps,
    batchSize: 16,
    warmupSteps: 10,
    seed: 1,
    optimizer: { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, clipNorm: 1 },
  });
  for (let i = 0; i < steps; i++) trainer.trainStep();
  saveModel(dir, model, tokenizer, { fixture: 'gguf-fixture' });
  const prompts = [...train.slice(0, 10), ...held.slice(0, 10)].map((e) => e.prompt!);
  return { dir, model, tokenizer, prompts };
}
