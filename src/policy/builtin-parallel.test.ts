import { afterAll } from 'vitest';
import { Rng } from '../core/rng.js';
import type { ModelConfig } from '../nn/config.js';
import { Transformer } from '../nn/model.js';
import { createOrtKernels } from '../nn/ort/ort-kernels.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { BuiltinPolicy } from './builtin.js';
import { policyConformanceSuite } from './conformance.js';

/** The built-in backend with a worker thread, splitting every request of 2+ samples: the same behaviour suite. */
let made: BuiltinPolicy | null = null;
function tinyParallelPolicy(): BuiltinPolicy {
  const tok = new CharTokenizer('0123456789+-*= \nHelo');
  const cfg: ModelConfig = { vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, contextLength: 64, ropeTheta: 10000, normEps: 1e-5 };
  const m = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  m.init(new Rng(4));
  for (let i = 0; i < m.params.length; i++) m.params[i]! *= 10;
  made = new BuiltinPolicy(m, tok, { workers: 1, minSamplesPerEngine: 1 });
  return made;
}
afterAll(async () => {
  await made?.dispose();
});

policyConformanceSuite('builtin with a worker thread', async () => tinyParallelPolicy(), { prefixes: ['1+2=', 'Hello'] });
