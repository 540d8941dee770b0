import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { configForSize, type ModelConfig } from './config.js';
import { Generator } from './generate.js';
import { InferenceEngine } from './infer.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { CharTokenizer } from './tokenizer.js';

const tok = new CharTokenizer('abcdefghij0123456789 +=\n');

function model(cfg: ModelConfig, seed = 1): Transformer {
  const m = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  m.init(new Rng(seed));
  for (let i = 0; i < m.params.length; i++) m.params[i]! *= 4;
  return m;
}

describe('InferenceEngine: SIMD decode kernels and fused dense graphs against the plain-TS, op-by-op path', () => {
  it('the same logits through prefill, forks of forks, growing tails and mixed batches', () => {
    for (const [dModel, nHeads] of [[16, 2], [32, 2], [64, 4]] as const) {
      const m = model({ vocabSize: tok.vocabSize, dModel, nLayers: 2, nHeads, dFF: 24, contextLength: 96, ropeTheta: 10000, normEps: 1e-5 });
      const engines = [new InferenceEngine(m, { decodeKernels: 'wasm', dense: 'fused' }), new InferenceEngine(m, { decodeKernels: 'reference', dense: 'op-by-op' })];
      expect(engines[0]!.decode.name).toBe('wasm-simd128');
      expect(engines[0]!.dense).toBe('fused');
      expect(engines[1]!.decode.name).toBe('reference');
      expect(engines[1]!.dense).toBe('op-by-op');
      const V = tok.vocabSize;
      const outs = engines.map((e) => {
        const r = new Rng(dModel); // the same token stream for both engines
        const got: Float32Array[] = [];
        const root = e.newSequence(1);
        got.push(...e.append([root], [Array.from({ length: 13 }, () => r.int(3, V - 1))], true));
        // Three generations of forks, each appended unevenly (tails grow past their first capacity).
        let seqs = [root.fork(), root.fork(), root.fork()];
        for (let gen = 0; gen < 3; gen++) {
          for (let step = 0; step < 6; step++) {
            const toks = seqs.map((_, i) => Array.from({ length: (i + step) % 3 === 0 ? 1 + r.int(0, 9) : 1 }, () => r.int(3, V - 1)));
            got.push(...e.append(seqs, toks, step % 2 === 0));
          }
          seqs = seqs.flatMap((s, i) => (i < 2 ? [s.fork(), s.fork(2)] : []));
        }
        return got;
      });
      expect(outs[0]!.length).toBe(outs[1]!.length);
      let worst = 0;
      let scale = 0;
      outs[0]!.forEach((a, i) => {
        const b = outs[1]![i]!;
        expect(a.length).toBe(b.length);
        for (let j = 0; j < a.length; j++) {
          worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
          scale = Math.max(scale, Math.abs(b[j]!));
        }
      });
      expect(scale).toBeGreaterThan(0.1);
      expect(worst / scale).toBeLessThan(1e-5);
    }
  });
});

describe('InferenceEngine.withFrozenWeights: the weights compiled as constants', () => {
  it('gives the reference logits, sees weights changed in place between calls, and compiles once per change', () => {
    const m = model({ vocabSize: tok.vocabSize, dModel: 32, nLayers: 3, nHeads: 2, dFF: 40, contextLength: 64, ropeTheta: 10000, normEps: 1e-5 });
    const fast = new InferenceEngine(m);
    const ref = new InferenceEngine(m, { decodeKernels: 'reference', dense: 'op-by-op' });
    const V = tok.vocabSize;
    const run = (e: InferenceEngine): Float32Array[] => {
      const r = new Rng(7);
      const root = e.newSequence(1);
      const got = e.append([root], [Array.from({ length: 9 }, () => r.int(3, V - 1))], true);
      const seqs = [root.fork(), root.fork(), root.fork()];
      for (let step = 0; step < 5; step++) got.push(...e.append(seqs, seqs.map((_, i) => Array.from({ length: i === step % 3 ? 3 : 1 }, () => r.int(3, V - 1)))));
      for (const s of [root, ...seqs]) s.dispose();
      return got;
    };
    const relErr = (a: Float32Array[], b: Float32Array[]): number => {
      let worst = 0;
      let scale = 0;
      a.forEach((x, i) => x.forEach((v, j) => ((worst = Math.max(worst, Math.abs(v - b[i]![j]!))), (scale = Math.max(scale, Math.abs(b[i]![j]!))))));
      return worst / scale;
    };
    expect(fast.dense).toBe('fused');
    expect(fast.weightsFrozen).toBe(false);
    const before = fast.withFrozenWeights(() => {
      expect(fast.weightsFrozen).toBe(true);
      return run(fast);
    });
    expect(fast.weightsFrozen).toBe(false);
    expect(relErr(before, run(ref))).toBeLessThan(1e-5);
    fast.withFrozenWeights(() => run(fast));
    expect(fast.frozenCompiles).toBe(1);
    // A training step changes the weights in place: one weight of the last block's MLP, and all of them a little.
    const gate = m.named.get('blk.2.ffn_down.weight')!.offset;
    m.params[gate + 5] = m.params[gate + 5]! + 3;
    for (let i = 0; i < m.params.length; i++) m.params[i]! *= 1.01;
    const after = fast.withFrozenWeights(() => run(fast));
    expect(fast.frozenCompiles).toBe(2);
    const want = run(ref);
    expect(relErr(after, want)).toBeLessThan(1e-5);
    expect(relErr(before, want)).toBeGreaterThan(1e-3);
    // Outside, the live weights; and a released copy is compiled again.
    expect(relErr(run(fast), want)).toBeLessThan(1e-5);
    fast.releaseFrozenWeights();
    fast.withFrozenWeights(() => run(fast));
    expect(fast.frozenCompiles).toBe(3);
  });

  it('is a plain call where nothing is fused or freezing is off', () => {
    const m = model({ vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 24, contextLength: 32, ropeTheta: 10000, normEps: 1e-5 });
    for (const e of [new InferenceEngine(m, { dense: 'op-by-op' }), new InferenceEngine(m, { frozenWeights: false })]) {
      expect(e.withFrozenWeights(() => e.weightsFrozen)).toBe(false);
      expect(e.frozenCompiles).toBe(0);
    }
  });
});

describe('KV memory', () => {
  it('a 64-sample search step from one prefix on the demo size holds far less than maxTokens sizing, and returns it after', () => {
    const alphabet = '0123456789+-*=: \nabcdefghijklmnopqrstuvwxyzAPQ.,()';
    const t = new CharTokenizer(alphabet);
    const m = new Transformer(configForSize('demo', t.vocabSize), createOrtKernels({ threads: 1 }));
    m.init(new Rng(1));
    const g = new Generator(m, t);
    const prefix = 'Q: 12+34*5=\n'.repeat(3);
    const { samples } = g.generate([prefix], { n: 64, maxTokens: 200, seed: 1, stop: ['\n'] });
    const longest = Math.max(...samples[0]!.map((s) => s.tokenIds.length));
    const kv = g.engine.kvStats;
    const bytesPerToken = 2 * 2 * 128 * 4; // layers · (k, v) · dModel · 4 bytes
    // Segments double from 8 slots: at most twice the tokens written, plus the prefix and scratch.
    const bound = (64 * 2 * Math.max(8, longest) + 2 * 64) * bytesPerToken + (1 << 20);
    expect(kv.peakBytes).toBeLessThan(bound);
    expect(kv.peakBytes).toBeLessThan(64 * 2 ** 20);
    // Afterwards only what the prefix cache keeps (the prefix and the stopped steps) and scratch stays.
    expect(g.engine.arena.bytesInUse).toBeLessThanOrEqual(g.cacheStats.bytes + (1 << 20));
    g.clearCache();
    expect(g.engine.arena.bytesInUse).toBeLessThan(1 << 20);
  });
});
