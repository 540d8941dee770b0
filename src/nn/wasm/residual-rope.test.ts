import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { referenceElementwise } from '../kernels.js';
import { ropeTables } from '../ops.js';
import { BufferPool } from '../pool.js';
import { wasmTrainElementwise } from './train-elementwise.js';

/** Bit patterns, so that the comparison is exact (and −0 differs from 0). */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.slice().buffer);

/** A pool whose WebAssembly memory already holds eight buffers of `floats` floats (a warm-up step's worth). */
function warmPool(floats: number): BufferPool {
  const pool = new BufferPool({ wasm: true });
  for (let i = 0; i < 8; i++) pool.take(floats);
  pool.reset();
  expect(pool.memory).not.toBeNull();
  return pool;
}

/** A copy of `a` inside the pool's memory (as an activation of the step would be). */
function inPool(pool: BufferPool, a: Float32Array): Float32Array {
  const b = pool.take(a.length);
  b.set(a);
  return b;
}

const normals = (rng: Rng, n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * scale);

describe('SIMD residual adds, gradient accumulation and RoPE', () => {
  const ref = referenceElementwise(new BufferPool());

  it('add and addInto equal the plain loops bit for bit, in the pool memory and outside it, any length', () => {
    const rng = new Rng(21);
    for (const n of [1, 3, 4, 7, 64, 1001, 4096 + 2]) {
      for (const scale of [1e-30, 1, 3e4]) {
        const a = normals(rng, n, scale);
        const b = normals(rng, n, scale * 0.7);
        const want = ref.add(a, b);
        for (const pool of [new BufferPool(), warmPool(n)]) {
          const simd = wasmTrainElementwise(pool);
          const ai = inPool(pool, a);
          const bi = inPool(pool, b);
          const sum = simd.add(ai, bi);
          // With a warm pool, everything lies in its memory: the SIMD kernel ran.
          for (const t of [ai, bi, sum]) expect(pool.inMemory(t)).toBe(pool.memory !== null);
          expect(bits(sum)).toEqual(bits(want));
          const dst = inPool(pool, a);
          simd.addInto(dst, bi);
          expect(bits(dst)).toEqual(bits(want));
          // One operand outside the memory: the plain loop, the same bits.
          const out = new Float32Array(a);
          simd.addInto(out, bi);
          expect(bits(out)).toEqual(bits(want));
        }
      }
    }
  });

  it('RoPE forward and back equals the plain rotation bit for bit, positions wrapping across sequences', () => {
    const rng = new Rng(22);
    for (const [B, T, H, D] of [[1, 1, 1, 4], [2, 5, 3, 8], [3, 17, 4, 32], [2, 128, 4, 32]] as const) {
      const { cos, sin } = ropeTables(T, D, 10000);
      const x = normals(rng, B * T * 3 * H * D, 2);
      for (const sign of [1, -1] as const) {
        const want = ref.rope(x, B, T, H, D, cos, sin, sign);
        const pool = warmPool(x.length);
        const simd = wasmTrainElementwise(pool);
        const xi = inPool(pool, x);
        const got = simd.rope(xi, B, T, H, D, cos, sin, sign);
        expect(pool.inMemory(got)).toBe(true);
        expect(bits(got)).toEqual(bits(want));
        // The input is left as it was (the op is out of place).
        expect(bits(xi)).toEqual(bits(x));
        // Outside the memory: the plain loop.
        expect(bits(wasmTrainElementwise(new BufferPool()).rope(x, B, T, H, D, cos, sin, sign))).toEqual(bits(want));
      }
    }
  });

  it('RoPE rotates: back after forth returns the input to float rounding, and a wrong table would show', () => {
    const rng = new Rng(23);
    const [B, T, H, D] = [2, 9, 2, 8];
    const { cos, sin } = ropeTables(T, D, 10000);
    const x = normals(rng, B * T * 3 * H * D, 1);
    const pool = warmPool(x.length);
    const simd = wasmTrainElementwise(pool);
    const there = simd.rope(inPool(pool, x), B, T, H, D, cos, sin, 1);
    const back = simd.rope(there, B, T, H, D, cos, sin, -1);
    expect(pool.inMemory(back)).toBe(true);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(back[i]! - x[i]!));
    expect(worst).toBeLessThan(1e-5);
    // Position 0 is the identity; position 1 is not (the kernel does use each row's own position).
    const C = H * D;
    for (let i = 0; i < 2 * C; i++) expect(there[i]).toBe(x[i]);
    let moved = 0;
    for (let i = 3 * C; i < 5 * C; i++) if (there[i] !== x[i]) moved++;
    expect(moved).toBeGreaterThan(C);
    // The second sequence starts again at position 0.
    for (let i = 0; i < 2 * C; i++) expect(there[T * 3 * C + i]).toBe(x[T * 3 * C + i]);
    // v passes through untouched.
    for (let i = 2 * C; i < 3 * C; i++) expect(there[i]).toBe(x[i]);
  });
});
