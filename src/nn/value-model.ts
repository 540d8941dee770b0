import { outputSizeOf } from './config.js';
import type { Kernels } from './kernels.js';
import { loadModel } from './model-io.js';
import { Transformer } from './model.js';
import type { CharTokenizer } from './tokenizer.js';

/**
 * A scalar value model started from a policy: the same trunk, with the output projection
 * replaced by one row (`output.weight` [1, C]) initialized at zero, so every value starts at
 * logit 0 (probability ½) and training moves only what the labels ask for. Reward models start
 * from the policy, as in Math-Shepherd (Wang et al. 2024) and OpenAI's PRM (Lightman et al. 2023).
 */
export function valueModelFromPolicy(policy: Transformer, kernels: Kernels = policy.kernels): Transformer {
  const value = new Transformer({ ...policy.config, outputSize: 1 }, kernels);
  for (const [name, e] of value.named) {
    if (name === 'output.weight') continue; // stays zero
    const src = policy.named.get(name);
    if (!src || src.size !== e.size) throw new Error(`valueModelFromPolicy: policy has no parameter "${name}" of size ${e.size}`);
    value.params.set(policy.params.subarray(src.offset, src.offset + src.size), e.offset);
  }
  return value;
}

/** A value model started from a policy checkpoint (or a run directory holding one), with its tokenizer. */
export function valueModelFromCheckpoint(dir: string, kernels: Kernels): { model: Transformer; tokenizer: CharTokenizer } {
  const { model: policy, tokenizer } = loadModel(dir, kernels);
  if (isValueModel(policy)) throw new Error(`${dir}: already a value model (outputSize 1); start a reward model from a policy checkpoint`);
  return { model: valueModelFromPolicy(policy), tokenizer };
}

/** Whether the model outputs one value per position (a reward / value model). */
export function isValueModel(model: Transformer): boolean {
  return outputSizeOf(model.config) === 1;
}
