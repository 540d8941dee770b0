import { Rng } from '../core/rng.js';
import type { ModelConfig } from '../nn/config.js';
import { Transformer } from '../nn/model.js';
import { saveModel } from '../nn/model-io.js';
import { createOrtKernels } from '../nn/ort/ort-kernels.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { arithAlphabet } from '../tasks/arith.js';

/**
 * A tiny random checkpoint for server and backend tests (no training, no download): the arith
 * alphabet plus a few letters, weights scaled up so that samples differ visibly across seeds and
 * end of sequence comes often enough to keep samples short.
 */
export function writeTinyCheckpoint(dir: string, opts: { contextLength?: number; seed?: number } = {}): void {
  const tok = new CharTokenizer(arithAlphabet + 'HeloYsN');
  const cfg: ModelConfig = { vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, contextLength: opts.contextLength ?? 128, ropeTheta: 10000, normEps: 1e-5 };
  const m = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  m.init(new Rng(opts.seed ?? 4));
  for (let i = 0; i < m.params.length; i++) m.params[i]! *= 10;
  saveModel(dir, m, tok);
}
