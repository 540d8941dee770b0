import { describe, expect, it } from 'vitest';
import { FloatArena } from './arena.js';

describe('FloatArena', () => {
  it('aligns blocks to 16 bytes, reuses freed blocks of the same size, and counts bytes', () => {
    const a = new FloatArena(65536);
    const x = a.alloc(5);
    const y = a.alloc(8);
    expect(x % 4).toBe(0);
    expect(y % 4).toBe(0);
    expect(a.bytesInUse).toBe((8 + 8) * 4);
    a.release(x, 5);
    expect(a.bytesInUse).toBe(8 * 4);
    expect(a.alloc(7)).toBe(x); // same rounded size: the freed block
    expect(a.peakBytes).toBe(16 * 4);
  });

  it('keeps data when the memory grows, and gives fresh views after growth', () => {
    const a = new FloatArena(65536);
    const x = a.alloc(100);
    a.f32.set([1, 2, 3], x);
    const before = a.f32;
    const big = a.alloc(1_000_000); // beyond the first pages: the memory grows
    expect(a.reservedBytes).toBeGreaterThanOrEqual((big + 1_000_000) * 4);
    expect(before.length).toBe(0); // detached by growth
    expect([...a.f32.subarray(x, x + 3)]).toEqual([1, 2, 3]);
    a.i32[big] = 7;
    expect(a.i32[big]).toBe(7);
  });
});
