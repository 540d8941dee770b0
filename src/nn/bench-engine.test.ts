import { describe, expect, it } from 'vitest';
import { median, sampleRepeats, trainRepeats } from './bench-engine.js';
import type { ModelConfig } from './config.js';
import { referenceKernels } from './kernels.js';
import { CharTokenizer } from './tokenizer.js';

const tok = new CharTokenizer('0123456789+-*=: \nabcdefghijklmnopqrstuvwxyzAPQ.,()');
const tiny: ModelConfig = { vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, contextLength: 32, ropeTheta: 10000, normEps: 1e-5 };

describe('bench engine', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });

  it('gives one positive rate per repeat for training and sampling (one core, tiny model)', async () => {
    const train = trainRepeats(tiny, referenceKernels, tok, 0, 2, 8, 1, 3);
    expect(train.rates).toHaveLength(3);
    expect(train.rates.every((r) => r > 0 && Number.isFinite(r))).toBe(true);
    const sample = await sampleRepeats(tiny, referenceKernels, tok, 0, 4, 6, 2, 3);
    expect(sample.rates).toHaveLength(3);
    expect(sample.rates.every((r) => r > 0 && Number.isFinite(r))).toBe(true);
    expect(sample.fill).toBeGreaterThan(0);
    expect(sample.fill).toBeLessThanOrEqual(1);
  });
});
