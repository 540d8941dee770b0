import { describe, expect, it, vi } from 'vitest';
import { BufferPool, sizeClass } from './pool.js';

describe('BufferPool', () => {
  it('reuses the buffers of the last step after reset, best fit first', () => {
    const pool = new BufferPool();
    const a = pool.take(100);
    const b = pool.take(1000);
    expect(pool.memory).toBeNull();
    pool.reset();
    const c = pool.take(900);
    expect(c.buffer).toBe(b.buffer);
    const d = pool.take(50);
    expect(d.buffer).toBe(a.buffer);
    expect(pool.held).toBe(sizeClass(100) + sizeClass(1000));
  });

  it('with wasm, a step that overflows takes ordinary arrays; the next reset moves them into the memory', () => {
    const pool = new BufferPool({ wasm: true });
    const first = [pool.take(1000), pool.take(5000), pool.take(3)];
    // No memory yet: every buffer is an ordinary array.
    expect(first.every((b) => !pool.inMemory(b))).toBe(true);
    expect(pool.memory).toBeNull();
    pool.reset();
    expect(pool.memory).not.toBeNull();
    // The same step again lies wholly in the memory, each buffer 16-byte aligned and apart from the others.
    const again = [pool.take(1000), pool.take(5000), pool.take(3)];
    expect(again.every((b) => pool.inMemory(b) && b.byteOffset % 16 === 0)).toBe(true);
    const offsets = again.map((b) => b.byteOffset);
    again[0]!.fill(1);
    again[1]!.fill(2);
    again[2]!.fill(3);
    expect(again[0]!.every((v) => v === 1) && again[1]!.every((v) => v === 2) && again[2]!.every((v) => v === 3)).toBe(true);
    // The ordinary arrays were dropped from what the pool holds.
    expect(pool.held).toBe(sizeClass(1000) + sizeClass(5000) + 3);
    // A larger step overflows again, and the next reset grows the memory: old buffers re-made as views of the new one.
    pool.reset();
    const bigger = [pool.take(1000), pool.take(5000), pool.take(3), pool.take(200_000)];
    expect(pool.inMemory(bigger[3]!)).toBe(false);
    const before = pool.memory!.buffer.byteLength;
    pool.reset();
    // Growing detached the views handed out before (they were invalid after reset anyway).
    expect(bigger[0]!.length).toBe(0);
    expect(pool.memory!.buffer.byteLength).toBeGreaterThan(before);
    const grown = [pool.take(200_000), pool.take(5000), pool.take(1000), pool.take(3)];
    expect(grown.every((b) => pool.inMemory(b))).toBe(true);
    expect(new Set(grown.map((b) => b.byteOffset)).size).toBe(4);
    // The buffers kept their places across the growth: the small ones are where they were.
    expect(grown[1]!.byteOffset).toBe(offsets[1]);
    expect(grown[2]!.byteOffset).toBe(offsets[0]);
    expect(pool.held).toBe(sizeClass(200_000) + sizeClass(1000) + sizeClass(5000) + 3);
    // Steady state: the same step again and again neither grows the memory nor adds buffers.
    const size = pool.memory!.buffer.byteLength;
    for (let i = 0; i < 5; i++) {
      pool.reset();
      const step = [pool.take(200_000), pool.take(5000), pool.take(1000), pool.take(3)];
      expect(step.every((b) => pool.inMemory(b))).toBe(true);
    }
    expect(pool.memory!.buffer.byteLength).toBe(size);
    expect(pool.held).toBe(sizeClass(200_000) + sizeClass(1000) + sizeClass(5000) + 3);
  });

  it('clear drops the memory too', () => {
    const pool = new BufferPool({ wasm: true });
    pool.take(10);
    pool.reset();
    expect(pool.memory).not.toBeNull();
    pool.clear();
    expect(pool.memory).toBeNull();
    expect(pool.held).toBe(0);
    expect(pool.inMemory(pool.take(10))).toBe(false);
  });

  it('when the memory cannot grow, keeps its ordinary arrays and goes on without one', () => {
    const pool = new BufferPool({ wasm: true });
    pool.take(100);
    pool.reset();
    const grow = vi.spyOn(WebAssembly.Memory.prototype, 'grow').mockImplementation(() => {
      throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
    });
    try {
      pool.take(100);
      const big = pool.take(1_000_000);
      big.fill(7);
      pool.reset();
      expect(grow).toHaveBeenCalled();
      const again = pool.take(1_000_000);
      expect(pool.inMemory(again)).toBe(false);
      expect(again.length).toBe(1_000_000);
      expect(again[0]).toBe(7);
    } finally {
      grow.mockRestore();
    }
  });
});
