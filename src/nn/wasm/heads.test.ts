import { describe, expect, it } from 'vitest';
import { headsFunction, headsReference } from './heads.js';
import { buildModule } from './wasm-builder.js';

describe('attention layout kernel', () => {
  it('moves the same floats as the plain loops, both ways, for several shapes', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const e = new WebAssembly.Instance(new WebAssembly.Module(buildModule([headsFunction()])), { env: { memory } }).exports as { heads: (...a: number[]) => void };
    for (const [n, T, S, H, D] of [[1, 1, 1, 1, 4], [2, 5, 3, 3, 8], [3, 7, 1, 2, 12], [2, 4, 3, 4, 32]] as const) {
      const size = n * T * S * H * D;
      const f = new Float32Array(memory.buffer);
      for (let i = 0; i < size; i++) f[i] = i + 0.5;
      e.heads(0, size * 4, n, T, S, H, D, 1);
      const want = new Float32Array(size);
      headsReference(f.subarray(0, size), want, n, T, S, H, D, true);
      expect(f.subarray(size, 2 * size)).toEqual(want);
      // Head-major [S, n, H, T, D]: the second float of head 1's block at t = 0 (when there is a head 1) is token 0's d = 1.
      if (H > 1) expect(want[T * D + 1]).toBe(f[D + 1]);
      // And back.
      f.fill(0, 2 * size, 3 * size);
      e.heads(2 * size * 4, size * 4, n, T, S, H, D, 0);
      expect(f.subarray(2 * size, 3 * size)).toEqual(f.subarray(0, size));
    }
  });
});
