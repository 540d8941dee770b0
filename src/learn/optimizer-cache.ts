import { AdamW, type AdamWConfig } from '../nn/adamw.js';
import type { Transformer } from '../nn/model.js';

/**
 * An AdamW per learner whose moments persist across updates of the same model, as in one TRL
 * or verl run, where the optimizer lives as long as training. A fresh AdamW at every update would
 * make each update's first step a sign-SGD step of size lr on every weight (m̂ = g, v̂ = g²).
 * Weight decay covers matrices only (nanoGPT's convention, as LmTrainer).
 */
export function optimizerCache(): (model: Transformer, config: AdamWConfig, keep: boolean) => AdamW {
  let cached: { model: Transformer; opt: AdamW; config: AdamWConfig } | null = null;
  return (model, config, keep) => {
    if (keep && cached && cached.model === model && sameConfig(cached.config, config)) return cached.opt;
    const decay = [...model.named.values()].filter((e) => e.shape.length === 2);
    cached = { model, opt: new AdamW(model.params, model.grads, decay, config), config };
    return cached.opt;
  };
}

function sameConfig(a: AdamWConfig, b: AdamWConfig): boolean {
  return a.lr === b.lr && a.beta1 === b.beta1 && a.beta2 === b.beta2 && a.eps === b.eps && a.weightDecay === b.weightDecay && a.clipNorm === b.clipNorm;
}
