import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { referenceElementwise } from '../kernels.js';
import { BufferPool } from '../pool.js';
import { wasmTrainElementwise } from './train-elementwise.js';

function maxRelErr(x: Float32Array, y: Float32Array): number {
  expect(x.length).toBe(y.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(y[i]!)));
  return worst;
}

describe('WebAssembly SIMD SwiGLU for training', () => {
  const ref = referenceElementwise(new BufferPool());
  const simd = wasmTrainElementwise(new BufferPool());

  it('forward and backward agree with the plain-TS reference to 1e-5 across the range of exp', () => {
    const rng = new Rng(9);
    for (let trial = 0; trial < 12; trial++) {
      const N = rng.int(1, 9);
      const F = 4 * rng.int(1, 30);
      const spread = [0.1, 1, 10, 200][trial % 4]!;
      const gu = Float32Array.from({ length: N * 2 * F }, () => rng.normal() * spread);
      const dy = Float32Array.from({ length: N * F }, () => rng.normal());
      expect(maxRelErr(simd.swigluForward(gu, N, F), ref.swigluForward(gu, N, F))).toBeLessThan(1e-5);
      expect(maxRelErr(simd.swigluBackward(gu, dy, N, F), ref.swigluBackward(gu, dy, N, F))).toBeLessThan(1e-5);
    }
  });

  it('grows its scratch memory for a larger call and still agrees', () => {
    const rng = new Rng(10);
    const N = 300, F = 344;
    const gu = Float32Array.from({ length: N * 2 * F }, () => rng.normal());
    const dy = Float32Array.from({ length: N * F }, () => rng.normal());
    expect(maxRelErr(simd.swigluBackward(gu, dy, N, F), ref.swigluBackward(gu, dy, N, F))).toBeLessThan(1e-5);
  });

  it('RMSNorm forward and backward agree with the plain-TS reference to 1e-5', () => {
    const rng = new Rng(12);
    for (let trial = 0; trial < 8; trial++) {
      const N = rng.int(1, 40);
      const C = 4 * rng.int(1, 40);
      const scale = [0.01, 1, 30, 1][trial % 4]!;
      const x = Float32Array.from({ length: N * C }, () => rng.normal() * scale);
      const w = Float32Array.from({ length: C }, () => 1 + 0.3 * rng.normal());
      const dy = Float32Array.from({ length: N * C }, () => rng.normal());
      const f = simd.rmsnormForward(x, w, N, C, 1e-5);
      const r = ref.rmsnormForward(x, w, N, C, 1e-5);
      expect(maxRelErr(f.out, r.out)).toBeLessThan(1e-5);
      expect(maxRelErr(f.rstd, r.rstd)).toBeLessThan(1e-5);
      // The same rstd for both, so the backward comparison checks the backward alone.
      const fb = simd.rmsnormBackward(x, w, r.rstd, dy, N, C);
      const rb = ref.rmsnormBackward(x, w, r.rstd, dy, N, C);
      expect(maxRelErr(fb.dx, rb.dx)).toBeLessThan(1e-5);
      expect(maxRelErr(fb.dw, rb.dw)).toBeLessThan(1e-4);
    }
  });

  it('on a pool in WebAssembly memory the kernels run in place and give the bits of the scratch path', () => {
    const rng = new Rng(13);
    const N = 37, F = 44, C = 24;
    const gu = Float32Array.from({ length: N * 2 * F }, () => rng.normal() * 3);
    const dy = Float32Array.from({ length: N * F }, () => rng.normal());
    const x = Float32Array.from({ length: N * C }, () => rng.normal());
    const w = Float32Array.from({ length: C }, () => 1 + 0.3 * rng.normal());
    const dyC = Float32Array.from({ length: N * C }, () => rng.normal());
    const bits = (a: Float32Array): number[] => [...new Uint32Array(a.slice().buffer)];
    const run = (pool: BufferPool) => {
      const k = wasmTrainElementwise(pool);
      const f = k.rmsnormForward(x, w, N, C, 1e-5);
      const b = k.rmsnormBackward(x, w, f.rstd, dyC, N, C);
      return { outs: [k.swigluForward(gu, N, F), k.swigluBackward(gu, dy, N, F), f.out, f.rstd, b.dx, b.dw] };
    };
    const scratch = run(new BufferPool());
    const pool = new BufferPool({ wasm: true });
    run(pool); // the first step overflows into ordinary arrays
    pool.reset();
      const inPlace = run(pool);
    for (const o of inPlace.outs) expect(pool.inMemory(o)).toBe(true);
    inPlace.outs.forEach((o, i) => expect(bits(o)).toEqual(bits(scratch.outs[i]!)));
  });

  it('refuses a width that is not a multiple of 4', () => {
    expect(() => simd.swigluForward(new Float32Array(6), 1, 3)).toThrow(/multiple of 4/);
  });
});
