import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { referenceKernels } from './kernels.js';
import { createOrtKernels } from './ort/ort-kernels.js';

function rand(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** max |x−y| / (max |y| + eps): the relative error the 1e-4 bound refers to. */
function relErr(x: Float32Array, y: Float32Array): number {
  expect(x.length).toBe(y.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i]! - y[i]!));
    den = Math.max(den, Math.abs(y[i]!));
  }
  return num / (den + 1e-12);
}

describe('gemm in row blocks', () => {
  it('computes every output element exactly as one call does, with and without accumulation, for every cut of the rows', () => {
    const whole = createOrtKernels({ threads: 1, gemmRowBlock: Infinity });
    const rng = new Rng(11);
    // Row counts that cut into equal blocks, unequal ones, and a last block of a few rows.
    for (const [M, block] of [[96, 32], [101, 32], [257, 64], [40, 8]] as const) {
      const blocked = createOrtKernels({ threads: 1, gemmRowBlock: block });
      for (const transB of [false, true]) {
        const K = 24, N = 20;
        const a = rand(M * K, rng);
        const b = rand(K * N, rng);
        const c = rand(M * N, rng);
        expect(blocked.gemm(a, b, M, K, N, false, transB)).toEqual(whole.gemm(a, b, M, K, N, false, transB));
        expect(blocked.gemm(a, b, M, K, N, false, transB, c.slice())).toEqual(whole.gemm(a, b, M, K, N, false, transB, c.slice()));
        expect(relErr(blocked.gemm(a, b, M, K, N, false, transB), referenceKernels.gemm(a, b, M, K, N, false, transB))).toBeLessThan(1e-4);
      }
    }
    expect(() => createOrtKernels({ gemmRowBlock: 0 })).toThrow('gemmRowBlock 0: expected a number >= 8');
  });
});

describe('attention in chunks of sequences', () => {
  it('gives exactly the floats of one call over the batch, forward and backward, for any chunk size', () => {
    const [B, T, H, D] = [5, 12, 2, 8];
    const whole = createOrtKernels({ threads: 1, attentionChunkBytes: Infinity });
    const rng = new Rng(13);
    const qkv = rand(B * T * 3 * H * D, rng);
    const dOut = rand(B * T * H * D, rng);
    const w = whole.attentionForward(qkv, B, T, H, D);
    const wd = whole.attentionBackward(qkv, w.probs, w.out, dOut, B, T, H, D);
    // One sequence a call, two (the last chunk holds one), and the whole batch.
    for (const perChunk of [1, 2, 5]) {
      const chunked = createOrtKernels({ threads: 1, attentionChunkBytes: perChunk * H * T * T * 4 });
      const c = chunked.attentionForward(qkv, B, T, H, D);
      expect(c.out).toEqual(w.out);
      expect(c.probs).toEqual(w.probs);
      expect(chunked.attentionBackward(qkv, c.probs, c.out, dOut, B, T, H, D)).toEqual(wd);
    }
  });
});

describe('attention with the SIMD layout changes', () => {
  it('gives exactly the floats of the graphs’ Transpose/Split/Concat layout, forward and backward, whole and in chunks', () => {
    const [B, T, H, D] = [5, 12, 3, 8];
    const rng = new Rng(17);
    const qkv = rand(B * T * 3 * H * D, rng);
    const dOut = rand(B * T * H * D, rng);
    const graph = createOrtKernels({ threads: 1, attentionLayout: 'graph' });
    const g = graph.attentionForward(qkv, B, T, H, D);
    const gd = graph.attentionBackward(qkv, g.probs, g.out, dOut, B, T, H, D);
    expect(graph.attentionChunks.simd).toBe(0);
    for (const perChunk of [1, 2, 5]) {
      const k = createOrtKernels({ threads: 1, attentionChunkBytes: perChunk * H * T * T * 4 });
      // The kernels work in place on the pool's WebAssembly memory, which a first step sizes.
      const pooled = (): Float32Array[] => [k.pool.copy(qkv), k.pool.copy(dOut)];
      pooled();
      k.attentionBackward(qkv, g.probs, g.out, dOut, B, T, H, D);
      k.attentionForward(qkv, B, T, H, D);
      k.pool.reset();
      const [q, d] = pooled() as [Float32Array, Float32Array];
      expect(k.pool.inMemory(q) && k.pool.inMemory(d)).toBe(true);
      const before = k.attentionChunks.simd;
      const f = k.attentionForward(q, B, T, H, D);
      expect(f.out).toEqual(g.out);
      expect(f.probs).toEqual(g.probs);
      expect(k.attentionBackward(q, f.probs, f.out, d, B, T, H, D)).toEqual(gd);
      expect(k.attentionChunks.simd - before).toBe(2 * Math.ceil(B / perChunk));
    }
  });
});

describe('fast kernels agree with the reference kernels', () => {
  const fast = createOrtKernels({ threads: 1 });
  const ref = referenceKernels;
  const rng = new Rng(7);

  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    it(`gemm transA=${transA} transB=${transB}`, () => {
      const M = 37, K = 53, N = 29;
      const a = rand(M * K, rng);
      const b = rand(K * N, rng);
      expect(relErr(fast.gemm(a, b, M, K, N, transA, transB), ref.gemm(a, b, M, K, N, transA, transB))).toBeLessThan(1e-4);
      const c = rand(M * N, rng);
      const c2 = c.slice();
      expect(relErr(fast.gemm(a, b, M, K, N, transA, transB, c), ref.gemm(a, b, M, K, N, transA, transB, c2))).toBeLessThan(1e-4);
    });
  }

  it('attention forward and backward', () => {
    const B = 2, T = 9, H = 3, D = 8;
    const qkv = rand(B * T * 3 * H * D, rng);
    const f = fast.attentionForward(qkv, B, T, H, D);
    const r = ref.attentionForward(qkv, B, T, H, D);
    expect(relErr(f.out, r.out)).toBeLessThan(1e-4);
    expect(relErr(f.probs, r.probs)).toBeLessThan(1e-4);
    const dOut = rand(B * T * H * D, rng);
    expect(relErr(fast.attentionBackward(qkv, f.probs, f.out, dOut, B, T, H, D), ref.attentionBackward(qkv, r.probs, r.out, dOut, B, T, H, D))).toBeLessThan(1e-4);
  });

  it('reference attention backward matches finite differences', () => {
    const B = 1, T = 4, H = 2, D = 3;
    const qkv = rand(B * T * 3 * H * D, rng);
    const w = rand(B * T * H * D, rng);
    const loss = (x: Float32Array): number => {
      const { out } = ref.attentionForward(x, B, T, H, D);
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i]! * w[i]!;
      return s;
    };
    const { out, probs } = ref.attentionForward(qkv, B, T, H, D);
    const g = ref.attentionBackward(qkv, probs, out, w, B, T, H, D);
    const x = Float64Array.from(qkv);
    for (let i = 0; i < qkv.length; i++) {
      const h = 1e-2;
      const p = Float32Array.from(x); p[i] = x[i]! + h;
      const m = Float32Array.from(x); m[i] = x[i]! - h;
      const numeric = (loss(p) - loss(m)) / (2 * h);
      expect(Math.abs(numeric - g[i]!)).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
    }
  });
});

describe('element-wise kernels: onnxruntime agrees with the reference', () => {
  const fast = createOrtKernels({ threads: 1 });
  const ref = referenceKernels;
  const rng = new Rng(11);

  // Widths that are multiples of 4 take the SIMD kernels, others the onnxruntime graphs.
  for (const F of [12, 10]) it(`swiglu forward and backward (F=${F})`, () => {
    const N = 7;
    const gu = rand(N * 2 * F, rng);
    const dy = rand(N * F, rng);
    expect(relErr(fast.swigluForward(gu, N, F), ref.swigluForward(gu, N, F))).toBeLessThan(1e-5);
    expect(relErr(fast.swigluBackward(gu, dy, N, F), ref.swigluBackward(gu, dy, N, F))).toBeLessThan(1e-5);
  });

  // Rows of 53 floats start anywhere in a group of four; 8 and 3 cover whole groups only and the scalar tail only.
  for (const V of [53, 8, 3]) it(`cross-entropy's log-sum-exp and softmax rows (V=${V}), in the pool's memory and outside it`, () => {
    const N = 11;
    const k = createOrtKernels({ threads: 1 });
    // Logits of a trained model's spread, one row with a dominant logit, one far below the rest.
    const x = rand(N * V, rng).map((v) => 3 * v);
    x[2 * V + 1] = 40;
    for (let v = 0; v < V; v++) x[5 * V + v] -= 80;
    const coef = Float32Array.from({ length: N }, (_, n) => (n % 4 === 1 ? 0 : n % 3 === 0 ? -0.5 : 1 / 32));
    const rl = ref.logSumExpRows(x, N, V);
    const rg = ref.softmaxRows(x, rl, coef, N, V);
    k.pool.copy(x);
    k.pool.copy(coef);
    k.logSumExpRows(x, N, V);
    k.softmaxRows(x, rl, coef, N, V);
    k.pool.reset();
    const px = k.pool.copy(x);
    const pc = k.pool.copy(coef);
    expect(k.pool.inMemory(px)).toBe(true);
    for (const [xs, cs] of [[px, pc], [x, coef]] as const) {
      const fl = k.logSumExpRows(xs, N, V);
      expect(k.pool.inMemory(fl)).toBe(true);
      for (let n = 0; n < N; n++) expect(Math.abs(fl[n]! - rl[n]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(rl[n]!)));
      const fg = k.softmaxRows(xs, fl, cs, N, V);
      expect(relErr(fg, rg)).toBeLessThan(1e-5);
      for (let n = 0; n < N; n++) if (coef[n] === 0) expect(fg.subarray(n * V, n * V + V).every((v) => v === 0)).toBe(true);
      // Each row with coef k sums to k (a softmax times k).
      for (let n = 0; n < N; n++) expect(fg.subarray(n * V, n * V + V).reduce((a, b) => a + b, 0)).toBeCloseTo(coef[n]!, 5);
    }
  });

  for (const C of [16, 10]) it(`rmsnorm forward and backward (C=${C})`, () => {
    const N = 9;
    const x = rand(N * C, rng);
    const w = rand(C, rng);
    const dy = rand(N * C, rng);
    const f = fast.rmsnormForward(x, w, N, C, 1e-5);
    const r = ref.rmsnormForward(x, w, N, C, 1e-5);
    expect(relErr(f.out, r.out)).toBeLessThan(1e-5);
    expect(relErr(f.rstd, r.rstd)).toBeLessThan(1e-5);
    const fb = fast.rmsnormBackward(x, w, f.rstd, dy, N, C);
    const rb = ref.rmsnormBackward(x, w, r.rstd, dy, N, C);
    expect(relErr(fb.dx, rb.dx)).toBeLessThan(1e-5);
    expect(relErr(fb.dw, rb.dw)).toBeLessThan(1e-5);
  });
});
