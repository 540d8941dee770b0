import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { FloatArena } from './arena.js';
import { wasmDecodeKernels } from './decode-kernels.js';
import { referenceSwiglu } from './swiglu.js';

describe('WebAssembly SIMD SwiGLU', () => {
  it('agrees with the plain-TS reference to 1e-5 (relative), across the range of exp', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 20; trial++) {
      const N = rng.int(1, 9);
      const F = 4 * rng.int(1, 40);
      const spread = [0.1, 1, 10, 200][trial % 4]!;
      const arena = new FloatArena();
      const gu = arena.alloc(N * 2 * F);
      const a = arena.alloc(N * F);
      const b = arena.alloc(N * F);
      const f = arena.f32;
      for (let i = 0; i < N * 2 * F; i++) f[gu + i] = rng.normal() * spread;
      referenceSwiglu(arena.memory).swiglu(gu * 4, a * 4, N, F);
      wasmDecodeKernels(arena.memory, 4).swiglu(gu * 4, b * 4, N, F);
      let nonzero = 0;
      for (let i = 0; i < N * F; i++) {
        const want = f[a + i]!;
        expect(Math.abs(f[b + i]! - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
        if (Math.abs(want) > 1e-3) nonzero++;
      }
      expect(nonzero).toBeGreaterThan(0);
    }
  });

  it('leaves memory past the output untouched and reads gate and up from the right halves', () => {
    const arena = new FloatArena();
    const gu = arena.alloc(16);
    const out = arena.alloc(12);
    arena.f32.set([0, 1, -1, 50, 2, 2, 2, 2, 1, 2, 3, 4, 1, 1, 1, 1], gu); // 2 rows, F = 4
    arena.f32.fill(7, out, out + 12);
    wasmDecodeKernels(arena.memory, 4).swiglu(gu * 4, out * 4, 2, 4);
    const silu = (g: number): number => g / (1 + Math.exp(-g));
    const want = [0, 2 * silu(1), 2 * silu(-1), 2 * silu(50), silu(1), silu(2), silu(3), silu(4)];
    [...arena.f32.subarray(out, out + 8)].forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 5));
    expect([...arena.f32.subarray(out + 8, out + 12)]).toEqual([7, 7, 7, 7]);
  });
});
