import { describe, expect, it } from 'vitest';
import { BuiltinPolicy } from '../policy/builtin.js';
import { toyModel, toyTokenizer } from './learner-toy.js';
import { encodeSequences, forwardLogprobs, gather, microBatches, scatter, sequenceLogprobs, tokenBatch } from './logprobs.js';

const seqs = [
  { prompt: 'q', completion: 'abca', eos: true },
  { prompt: 'qab', completion: 'c', eos: true },
  { prompt: 'q', completion: 'bbbbbbb', eos: false },
  { prompt: 'qc', completion: 'a', eos: false },
];

describe('completion log-probs', () => {
  it('equal the inference engine’s (KV-cache) log-probs token for token, EOS scored when the completion ended', async () => {
    const model = toyModel(4);
    const enc = encodeSequences(seqs, toyTokenizer, 16);
    const lp = sequenceLogprobs(model, enc, toyTokenizer.pad);
    const ref = await new BuiltinPolicy(model, toyTokenizer, { prefixCacheTokens: 0 }).logprobsOf(seqs.map((s) => ({ prefix: s.prompt, continuation: s.completion })));
    seqs.forEach((s, i) => {
      expect(lp[i]!.length).toBe(s.completion.length + (s.eos ? 1 : 0));
      ref[i]!.logprobs.forEach((v, j) => expect(lp[i]![j]).toBeCloseTo(v, 4));
    });
    // Microbatching (one row per pass) changes nothing.
    const one = sequenceLogprobs(model, enc, toyTokenizer.pad, 1);
    one.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(lp[i]![j]!, 5)));
    // The graph version holds the same numbers at the completion positions.
    const tb = tokenBatch(enc, toyTokenizer.pad, 16);
    model.kernels.pool.reset();
    const rows = gather(tb, forwardLogprobs(model, tb).logps.data);
    rows.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(lp[i]![j]!, 5)));
  });

  it('lays per-token values out at the completion positions and back', () => {
    const enc = encodeSequences(seqs, toyTokenizer, 16);
    const tb = tokenBatch(enc, toyTokenizer.pad, 16);
    expect(tb.T).toBe(16);
    const values = enc.map((e, i) => Float32Array.from({ length: e.ids.length - e.lossFrom }, (_, j) => 10 * i + j + 1));
    const vec = scatter(tb, values);
    // Exactly the mask's positions carry values.
    for (let n = 0; n < vec.length; n++) expect(vec[n] !== 0).toBe(tb.mask[n] === 1);
    expect(gather(tb, vec).map((r) => Array.from(r))).toEqual(values.map((r) => Array.from(r)));
    expect(() => scatter(tb, [new Float32Array(1), ...values.slice(1)])).toThrow(/completion tokens/);
  });

  it('cuts microbatches by length within the token budget, every index once', () => {
    // Lengths 20..139 in a shuffled order; padded to multiples of 16 as tokenBatch pads.
    const items = Array.from({ length: 120 }, (_, i) => ({ ids: Int32Array.from({ length: 21 + ((i * 37) % 120) }, () => 1), lossFrom: 2 }));
    const order = Array.from({ length: 120 }, (_, i) => (i * 53) % 120);
    const padded = (i: number) => Math.ceil((items[i]!.ids.length - 1) / 16) * 16;
    for (const [budget, overhead] of [[512, 64], [4096, 64], [4096, 0], [100, 64]] as const) {
      const mbs = microBatches(items, order.slice(0, 90), budget, overhead);
      expect(mbs.flat().sort((a, b) => a - b)).toEqual(order.slice(0, 90).sort((a, b) => a - b));
      for (const mb of mbs) {
        const T = Math.max(...mb.map(padded));
        if (mb.length > 1) expect(mb.length * T).toBeLessThanOrEqual(budget);
        // Without a per-pass overhead no microbatch pads a row to a longer bucket.
        if (overhead === 0) expect(new Set(mb.map(padded)).size).toBe(1);
      }
      // Sorted by length: padding is less than one padded batch of the same microbatch count in the given order.
      const waste = mbs.reduce((s, mb) => s + mb.length * Math.max(...mb.map(padded)), 0);
      if (budget === 4096 && overhead === 64) expect(waste).toBeLessThan(90 * 144);
    }
  });
});
