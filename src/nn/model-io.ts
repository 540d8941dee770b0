import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint, CHECKPOINT_FILES, type Weight } from './checkpoint.js';
import { modelConfigSchema, parameterShapes, type ModelConfig } from './config.js';
import type { Kernels } from './kernels.js';
import { Transformer } from './model.js';
import type { CharTokenizer } from './tokenizer.js';

/** Saves the model (GGUF tensor names, [out,in] shapes), its config and tokenizer as a checkpoint directory. */
export function saveModel(dir: string, model: Transformer, tokenizer: CharTokenizer, meta?: Record<string, unknown>): void {
  const weights: Record<string, Weight> = {};
  for (const [name, e] of model.named) weights[name] = { shape: e.shape, data: model.params.subarray(e.offset, e.offset + e.size) };
  saveCheckpoint(dir, { weights, config: { architecture: 'llama', ...model.config }, tokenizer, ...(meta ? { meta } : {}) });
}

/**
 * A directory given on the command line may be a checkpoint or a run directory that holds one
 * (`checkpoint/`); returns the checkpoint directory.
 */
export function resolveCheckpointDir(dir: string): string {
  if (existsSync(join(dir, CHECKPOINT_FILES.weights))) return dir;
  const inner = join(dir, 'checkpoint');
  if (existsSync(join(inner, CHECKPOINT_FILES.weights))) return inner;
  return dir; // loadCheckpoint names what is missing
}

/** Loads a checkpoint directory (or a run directory holding `checkpoint/`) into a model. */
export function loadModel(dir: string, kernels: Kernels): { model: Transformer; tokenizer: CharTokenizer; meta: Record<string, unknown> | undefined; dir: string } {
  const ckptDir = resolveCheckpointDir(dir);
  const ckpt = loadCheckpoint<ModelConfig>(ckptDir, modelConfigSchema, (c) => Object.fromEntries(parameterShapes(c)));
  const config = ckpt.config;
  if (config.vocabSize !== ckpt.tokenizer.vocabSize) {
    throw new Error(`checkpoint ${join(ckptDir, CHECKPOINT_FILES.config)}: vocabSize ${config.vocabSize} does not match the tokenizer's ${ckpt.tokenizer.vocabSize} tokens`);
  }
  const model = new Transformer(config, kernels);
  for (const [name, e] of model.named) model.params.set(ckpt.weights[name]!.data, e.offset);
  return { model, tokenizer: ckpt.tokenizer, meta: ckpt.meta, dir: ckptDir };
}
