import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { gradcheck } from './gradcheck.js';
import { createReferenceKernels, referenceKernels } from './kernels.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { add, attention, crossEntropy, embedding, linear, rmsnorm, ropeQK, ropeTables, swiglu } from './ops.js';
import { Tensor } from './tensor.js';

const rng = new Rng(3);
const K = createReferenceKernels();
function param(shape: number[], scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, () => rng.normal() * scale), shape, { requiresGrad: true });
}

// Float32 central differences: errors of a few 1e-3 are rounding; a wrong gradient is O(1).
const TOL = 1e-2;

describe('every op passes a finite-difference gradient check', () => {
  for (const k of [referenceKernels, createOrtKernels({ threads: 1 })]) {
    it(`linear (${k.name})`, () => {
      expect(gradcheck(([x, w]) => linear(x!, w!, k), [param([5, 4]), param([3, 4])])).toBeLessThan(TOL);
    });
    it(`rmsnorm (${k.name})`, () => {
      expect(gradcheck(([x, w]) => rmsnorm(x!, w!, 1e-5, k), [param([3, 6]), param([6])])).toBeLessThan(TOL);
    });
    it(`swiglu (${k.name})`, () => {
      expect(gradcheck(([x]) => swiglu(x!, k), [param([3, 8])])).toBeLessThan(TOL);
    });
    it(`cross-entropy with a loss mask and weights, logits from a product (${k.name})`, () => {
      const targets = Int32Array.from([1, 0, 6, 2, 4]);
      const mask = Float32Array.from([1, 0, 0.5, -0.25, 1]);
      expect(gradcheck(([x, w]) => crossEntropy(linear(x!, w!, k), targets, mask, k), [param([5, 4]), param([7, 4])])).toBeLessThan(TOL);
    });
    it(`attention (${k.name})`, () => {
      const B = 2, T = 4, H = 2, D = 4;
      expect(gradcheck(([qkv]) => attention(qkv!, B, T, H, D, k), [param([B * T, 3 * H * D])])).toBeLessThan(TOL);
    });
  }
  it('embedding', () => {
    const ids = Int32Array.from([0, 2, 2, 1]);
    expect(gradcheck(([t]) => embedding(t!, ids, K), [param([3, 5])])).toBeLessThan(TOL);
  });
  it('rmsnorm', () => {
    expect(gradcheck(([x, w]) => rmsnorm(x!, w!, 1e-5, K), [param([3, 6]), param([6])])).toBeLessThan(TOL);
  });
  it('add', () => {
    expect(gradcheck(([a, b]) => add(a!, b!, K), [param([2, 3]), param([2, 3])])).toBeLessThan(TOL);
  });
  it('rope', () => {
    const B = 1, T = 3, H = 2, D = 4;
    const { cos, sin } = ropeTables(T, D, 10000);
    expect(gradcheck(([x]) => ropeQK(x!, B, T, H, D, cos, sin, K), [param([B * T, 3 * H * D])])).toBeLessThan(TOL);
  });
  it('swiglu', () => {
    expect(gradcheck(([x]) => swiglu(x!, K), [param([3, 8])])).toBeLessThan(TOL);
  });
  it('cross-entropy with a loss mask', () => {
    const targets = Int32Array.from([1, 0, 3]);
    const mask = Float32Array.from([1, 0, 1]);
    expect(gradcheck(([l]) => crossEntropy(l!, targets, mask, K), [param([3, 4])])).toBeLessThan(TOL);
  });
  it('a gradient check that must fail does fail (the checker can detect a wrong backward)', () => {
    const wrong = (x: Tensor): Tensor => {
      const y: Tensor = new Tensor(x.data.map((v) => v * v), x.shape, { parents: [x], backward: () => x.accumulateGrad(y.grad!) });
      return y;
    };
    expect(gradcheck(([x]) => wrong(x!), [param([4], 2)])).toBeGreaterThan(0.1);
  });
});

describe('rope', () => {
  it('rotates adjacent pairs (llama.cpp NORM layout) and preserves norms', () => {
    const T = 3, H = 1, D = 4;
    const { cos, sin } = ropeTables(T, D, 10000);
    const x = new Tensor(Float32Array.from({ length: T * 3 * D }, (_, i) => (i % 7) - 3), [T, 3 * D]);
    const y = ropeQK(x, 1, T, H, D, cos, sin, K);
    // position 1, pair 0: angle 1 rad applied to (x0, x1)
    const o = 1 * 3 * D;
    const [x0, x1] = [x.data[o]!, x.data[o + 1]!];
    expect(y.data[o]).toBeCloseTo(x0 * Math.cos(1) - x1 * Math.sin(1), 5);
    expect(y.data[o + 1]).toBeCloseTo(x0 * Math.sin(1) + x1 * Math.cos(1), 5);
    // v is untouched
    expect(Array.from(y.data.subarray(o + 2 * D, o + 3 * D))).toEqual(Array.from(x.data.subarray(o + 2 * D, o + 3 * D)));
  });
});
