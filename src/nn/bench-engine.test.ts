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

describe('fixed-length sampling', () => {
  it('a never-ending model fills every sample to maxTokens (fill 1), the untouched one stops at EOS sometimes', async () => {
    // prompt 16 + 12 new tokens fit the tiny model's context of 32
    const fixed = await sampleRepeats(tiny, referenceKernels, tok, 0, 16, 12, 1, 1, { fixedLength: true });
    expect(fixed.fill).toBe(1);
    const free = await sampleRepeats(tiny, referenceKernels, tok, 0, 16, 12, 1, 1);
    expect(free.fill).toBeLessThan(1);
  });
});

describe('training memory', () => {
  it('reports the peak resident set of a training run, above the process base', async () => {
    const { trainMemory } = await import('./bench-engine-memory.js');
    const m = await trainMemory('demo', 0, 1);
    expect(m.peak_rss_mib).toBeGreaterThan(m.base_rss_mib);
    expect(m.pool_mib).toBeGreaterThan(0);
    expect(m.params_mib).toBeGreaterThan(0);
  }, 60_000);
});
