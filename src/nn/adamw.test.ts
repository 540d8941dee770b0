import { describe, expect, it, vi } from 'vitest';
import { Rng } from '../core/rng.js';
import { AdamW, adamwConstants, adamwRange, defaultAdamWConfig, sumOfSquares } from './adamw.js';

/** Parameters, gradients and workers' gradients of realistic scale (init 0.02, gradients ~1e-3 with a few large ones). */
function problem(n: number, seed: number) {
  const rng = new Rng(seed);
  const params = Float32Array.from({ length: n }, () => rng.normal() * 0.02);
  const grad = () => Float32Array.from({ length: n }, () => rng.normal() * (rng.next() < 0.01 ? 0.5 : 1e-3));
  return { params, grad };
}

describe('AdamW', () => {
  it('the SIMD kernels give the reference loops\u2019 bits, over unaligned decay ranges, clipping on and off, with and without workers\u2019 gradients', () => {
    // n not a multiple of 4 and ranges that start and end inside groups of four.
    const n = 1031;
    const ranges = [{ offset: 3, size: 501 }, { offset: 517, size: 6 }, { offset: 600, size: 431 }];
    for (const clipNorm of [0.05, 1000]) {
      const { params, grad } = problem(n, clipNorm > 1 ? 1 : 2);
      const a = { params: params.slice(), grads: new Float32Array(n) };
      const b = { params: params.slice(), grads: new Float32Array(n) };
      const config = { ...defaultAdamWConfig, clipNorm };
      const simd = new AdamW(a.params, a.grads, ranges, config, { kernel: 'simd' });
      const ref = new AdamW(b.params, b.grads, ranges, config, { kernel: 'reference' });
      for (let step = 0; step < 6; step++) {
        const g = grad();
        a.grads.set(g);
        b.grads.set(g);
        const more = step % 2 === 1 ? [grad(), grad()] : [];
        const lr = 3e-3 * (step + 1);
        const na = simd.update(lr, more);
        const nb = ref.update(lr, more);
        expect(na).toBe(nb);
        expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
        expect(Buffer.from(a.grads.buffer).equals(Buffer.from(b.grads.buffer))).toBe(true);
        expect(Buffer.from(simd.m.slice().buffer).equals(Buffer.from(ref.m.slice().buffer))).toBe(true);
        expect(Buffer.from(simd.v.slice().buffer).equals(Buffer.from(ref.v.slice().buffer))).toBe(true);
      }
      // The update moved every parameter, and clipping was on for the small clip norm.
      expect(a.params.every((x, i) => x !== params[i])).toBe(true);
      expect(clipNorm < 1 ? simd.gradNorm() > clipNorm : true).toBe(true);
    }
  });

  it('adds the workers\u2019 gradients into grads and keeps m and v across the memory growing for them', () => {
    const n = 64;
    const { params, grad } = problem(n, 3);
    const grads = grad();
    const opt = new AdamW(params, grads, [{ offset: 0, size: n }], defaultAdamWConfig, { kernel: 'simd' });
    opt.update(1e-3);
    const m1 = opt.m.slice();
    expect(m1.some((x) => x !== 0)).toBe(true);
    const w = grad();
    const sum = grads.map((x, i) => Math.fround(x + w[i]!));
    opt.update(1e-3, [w]);
    expect(Array.from(grads)).toEqual(Array.from(sum));
    // m after the second step follows from m1: β1·m1 + (1 − β1)·g'.
    const k = adamwConstants(defaultAdamWConfig, 1e-3, 2, 1);
    const p = new Float32Array(n);
    const m = m1.slice();
    const v = new Float32Array(n);
    adamwRange(p, sum, m, v, 0, n, false, k);
    expect(Array.from(opt.m)).toEqual(Array.from(m));
    expect(() => opt.update(1e-3, [new Float32Array(3)])).toThrow(/a gradient of 3 values for 64 parameters/);
  });

  it('adds the workers’ gradients as a plain loop, with the same bits, when its memory cannot grow for them', () => {
    // 4,091 parameters: the four regions fill one 64 KiB page, so the staging area needs a second.
    const n = 4091;
    const { params, grad } = problem(n, 4);
    const a = { params: params.slice(), grads: grad() };
    const b = { params: params.slice(), grads: a.grads.slice() };
    const simd = new AdamW(a.params, a.grads, [{ offset: 2, size: 4000 }], defaultAdamWConfig, { kernel: 'simd' });
    const ref = new AdamW(b.params, b.grads, [{ offset: 2, size: 4000 }], defaultAdamWConfig, { kernel: 'reference' });
    const grow = vi.spyOn(WebAssembly.Memory.prototype, 'grow').mockImplementation(() => {
      throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
    });
    try {
      const more = [grad(), grad()];
      expect(simd.update(1e-3, more)).toBe(ref.update(1e-3, more));
      expect(grow).toHaveBeenCalled();
    } finally {
      grow.mockRestore();
    }
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    expect(Array.from(a.grads)).toEqual(Array.from(b.grads));
  });

  it('matches a textbook AdamW step computed independently', () => {
    // One parameter, no clipping: after step 1, m̂ = g and v̂ = g², so p moves by lr·(g/(|g|+ε)) plus decay.
    const params = Float32Array.of(0.5, -0.25, 0.125, 1);
    const grads = Float32Array.of(0.2, -0.1, 0, 3);
    const config = { ...defaultAdamWConfig, clipNorm: 0 };
    for (const kernel of ['simd', 'reference'] as const) {
      const p = params.slice();
      new AdamW(p, grads.slice(), [{ offset: 0, size: 4 }], config, { kernel }).update(0.01);
      for (let i = 0; i < 4; i++) {
        const decayed = params[i]! * (1 - 0.01 * config.weightDecay);
        const g = grads[i]!;
        expect(p[i]).toBeCloseTo(decayed - (0.01 * g) / (Math.abs(g) + config.eps), 6);
      }
    }
  });

  it('its float32 arithmetic stays within float32 rounding of the same steps in doubles', () => {
    // 4,096 parameters over 20 steps with clipping on, against a float64 AdamW written out here:
    // the largest difference relative to the largest move.
    const n = 4096;
    const { params, grad } = problem(n, 5);
    const config = { ...defaultAdamWConfig, clipNorm: 0.5 };
    for (const kernel of ['simd', 'reference'] as const) {
      const p = params.slice();
      const g = new Float32Array(n);
      const opt = new AdamW(p, g, [{ offset: 0, size: n / 2 }], config, { kernel });
      const q = Float64Array.from(params);
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      const rng = new Rng(6);
      for (let t = 1; t <= 20; t++) {
        g.set(grad());
        const lr = 1e-3 * (1 + rng.next());
        let ss = 0;
        for (let i = 0; i < n; i++) ss += g[i]! * g[i]!;
        const clip = Math.min(1, config.clipNorm / Math.sqrt(ss));
        for (let i = 0; i < n; i++) {
          const gi = g[i]! * clip;
          m[i] = config.beta1 * m[i]! + (1 - config.beta1) * gi;
          v[i] = config.beta2 * v[i]! + (1 - config.beta2) * gi * gi;
          if (i < n / 2) q[i] -= lr * config.weightDecay * q[i]!;
          q[i] -= (lr * (m[i]! / (1 - config.beta1 ** t))) / (Math.sqrt(v[i]! / (1 - config.beta2 ** t)) + config.eps);
        }
        opt.update(lr);
      }
      let err = 0;
      let moved = 0;
      for (let i = 0; i < n; i++) {
        err = Math.max(err, Math.abs(p[i]! - q[i]!));
        moved = Math.max(moved, Math.abs(q[i]! - params[i]!));
      }
      // Weight decay alone moves a parameter about 2e-3 of the largest move: a missed decay fails.
      expect(err / moved).toBeLessThan(1e-4);
    }
  });

  it('sums squares in four partial sums whatever the length', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 9]) {
      const g = Float32Array.from({ length: n }, (_, i) => (i + 1) / 3);
      let s = 0;
      for (const x of g) s += x * x;
      expect(sumOfSquares(g)).toBeCloseTo(s, 12);
    }
  });
});
