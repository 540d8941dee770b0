import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import type { ModelConfig } from './config.js';
import { accumulateGradients, type PackedRows } from './microbatch.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { bucketLength, packRows } from './pack-rows.js';
import { makeBatch, type Encoded } from './train.js';

const PAD = 0;

/** Rows of the given lengths (ids.length − 1 = length), with distinct ids so each can be traced. */
function rowsOf(lengths: number[], rng = new Rng(3)): Encoded[] {
  return lengths.map((n, r) => ({ ids: Array.from({ length: n + 1 }, (_, t) => 1 + ((r * 7 + t + Math.floor(rng.next() * 5)) % 20)), lossFrom: 1 + (r % 3), weight: r % 4 === 0 ? 0.5 : 1 }));
}

/** The rows a packed share holds, read back from its chunks (inputs up to the last non-pad position). */
function unpack(p: PackedRows): number[][] {
  const out: number[][] = [];
  let at = 0;
  for (const { B, T } of p.chunks) {
    for (let b = 0; b < B; b++) {
      const row = Array.from(p.inputs.subarray(at + b * T, at + (b + 1) * T));
      while (row.length > 0 && row[row.length - 1] === PAD) row.pop();
      out.push(row);
    }
    at += B * T;
  }
  return out;
}

/** The least cost over every cut of sorted rows into contiguous chunks, by enumeration (the naive reference for the dynamic programme). */
function bruteCost(lengths: number[], overhead: number, maxTokens: number, multiple: number): number {
  const L = lengths.map((n) => bucketLength(n, Infinity, multiple)).sort((a, b) => a - b);
  let best = Infinity;
  for (let mask = 0; mask < 1 << (L.length - 1); mask++) {
    let cost = 0;
    let start = 0;
    let ok = true;
    for (let i = 0; i < L.length; i++) {
      if (i === L.length - 1 || mask & (1 << i)) {
        const B = i + 1 - start;
        if (B > 1 && B * L[i]! > maxTokens) ok = false;
        cost += B * L[i]! + overhead;
        start = i + 1;
      }
    }
    if (ok) best = Math.min(best, cost);
  }
  return best;
}

describe('packRows (length-sorted chunks)', () => {
  it('holds every row exactly once, in chunks within the token bound, split evenly between threads', () => {
    const rng = new Rng(9);
    const lengths = Array.from({ length: 33 }, () => 10 + Math.floor(rng.next() * 120));
    const rows = rowsOf(lengths);
    for (const threads of [1, 2, 3]) {
      const shares = packRows(rows, PAD, { threads, maxChunkTokens: 512, chunkOverheadTokens: 64 });
      expect(shares).toHaveLength(threads);
      const seen = shares.flatMap(unpack).map((r) => r.join(','));
      expect(seen.sort()).toEqual(rows.map((r) => r.ids.slice(0, -1).join(',')).sort());
      for (const s of shares) {
        for (const ch of s.chunks) expect(ch.B === 1 || ch.B * ch.T <= 512).toBe(true);
        expect(s.chunks.reduce((n, ch) => n + ch.B, 0)).toBeGreaterThanOrEqual(Math.floor(33 / threads));
        expect(s.chunks.reduce((n, ch) => n + ch.B, 0)).toBeLessThanOrEqual(Math.ceil(33 / threads));
      }
      // Snake dealing: each thread's real tokens within one longest row of the others'.
      const real = shares.map((s) => unpack(s).reduce((n, r) => n + r.length, 0));
      expect(Math.max(...real) - Math.min(...real)).toBeLessThanOrEqual(Math.max(...lengths));
    }
  });

  it('cuts where the dynamic programme says: the least padded tokens plus overhead, as by enumeration', () => {
    const rng = new Rng(17);
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + Math.floor(rng.next() * 9);
      const lengths = Array.from({ length: n }, () => 5 + Math.floor(rng.next() * 140));
      const overhead = [0, 16, 100, 1000][trial % 4]!;
      const maxTokens = [256, 1024, 1 << 20][trial % 3]!;
      const [share] = packRows(rowsOf(lengths), PAD, { threads: 1, maxChunkTokens: maxTokens, chunkOverheadTokens: overhead, multiple: 8 });
      const cost = share!.chunks.reduce((s, ch) => s + ch.B * ch.T + overhead, 0);
      expect(cost).toBe(bruteCost(lengths, overhead, maxTokens, 8));
    }
  });

  it('a large overhead keeps one chunk; none splits rows of different padded lengths apart', () => {
    const rows = rowsOf([12, 12, 12, 100, 100]);
    expect(packRows(rows, PAD, { chunkOverheadTokens: 1e6 })[0]!.chunks).toEqual([{ B: 5, T: 112 }]);
    expect(packRows(rows, PAD, { chunkOverheadTokens: 1 })[0]!.chunks).toEqual([{ B: 3, T: 16 }, { B: 2, T: 112 }]);
  });

  it('gives the gradient and loss of the same rows in one padded batch', () => {
    const cfg: ModelConfig = { vocabSize: 24, dModel: 32, nLayers: 2, nHeads: 2, dFF: 64, contextLength: 64, ropeTheta: 10000, normEps: 1e-5 };
    const model = new Transformer(cfg, createOrtKernels({ threads: 1 }));
    model.init(new Rng(5));
    const rng = new Rng(21);
    const rows = rowsOf(Array.from({ length: 11 }, () => 3 + Math.floor(rng.next() * 55)));
    const batch = makeBatch(rows, PAD, 16, 64);
    let total = 0;
    for (let i = 0; i < batch.mask.length; i++) total += batch.mask[i]!;
    model.zeroGrad();
    // The reference: every row in one pass, padded to the longest (makeBatch, not packRows).
    const wholeLoss = accumulateGradients(model, { inputs: batch.inputs, targets: batch.targets, mask: batch.mask, chunks: [{ B: batch.B, T: batch.T }] }, total);
    const whole = model.grads.slice();
    let packedLoss = 0;
    model.zeroGrad();
    for (const share of packRows(rows, PAD, { threads: 2, chunkOverheadTokens: 0, maxT: 64 })) packedLoss += accumulateGradients(model, share, total);
    expect(Math.abs(packedLoss - wholeLoss) / wholeLoss).toBeLessThan(1e-5);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < whole.length; i++) {
      scale = Math.max(scale, Math.abs(whole[i]!));
      diff = Math.max(diff, Math.abs(whole[i]! - model.grads[i]!));
    }
    expect(diff / scale).toBeLessThan(1e-5);
  });
});
