import { describe, expect, it } from 'vitest';
import { CachedSequence, KVSegment, PrefixCache, segmentCapacity } from './kv-cache.js';
import { FloatArena } from './wasm/arena.js';

const L = 2;
const H = 2;
const D = 4;
const bytesPerToken = 2 * L * H * D * 4;

function seq(arena: FloatArena, tokens: number): CachedSequence {
  const s = CachedSequence.empty(arena, tokens, L, H, D);
  s.tail.length = tokens;
  return s;
}

describe('KV segments', () => {
  it('are sized to need (powers of two from 8) and double when full, keeping what was written', () => {
    expect([1, 8, 9, 17, 100].map(segmentCapacity)).toEqual([8, 8, 16, 32, 128]);
    const arena = new FloatArena();
    const s = new KVSegment(arena, 0, 8, L, H, D);
    s.retain();
    // Write position j of every (layer, k/v, head) row as a recognizable value.
    const f = arena.f32;
    for (let part = 0; part < 2 * L; part++) for (let h = 0; h < H; h++) for (let j = 0; j < 8; j++) f[s.offset + ((part * H + h) * 8 + j) * D] = 1000 * part + 100 * h + j;
    s.length = 8;
    s.ensure(9);
    expect(s.capacity).toBe(16);
    const g = arena.f32;
    for (let part = 0; part < 2 * L; part++) for (let h = 0; h < H; h++) for (let j = 0; j < 8; j++) expect(g[s.offset + ((part * H + h) * 16 + j) * D]).toBe(1000 * part + 100 * h + j);
    expect(arena.bytesInUse).toBe(16 * bytesPerToken);
    s.releaseRef();
    expect(arena.bytesInUse).toBe(0);
  });

  it('return to the arena when the last sequence holding them is disposed', () => {
    const arena = new FloatArena();
    const root = seq(arena, 10); // 16 slots
    const a = root.fork();
    const b = root.fork();
    expect(arena.bytesInUse).toBe((16 + 8 + 8) * bytesPerToken);
    root.dispose();
    a.dispose();
    expect(arena.bytesInUse).toBe((16 + 8) * bytesPerToken); // b still reads the root's segment
    expect(() => a.fork()).toThrow(/disposed/);
    b.dispose();
    expect(arena.bytesInUse).toBe(0);
  });
});

describe('PrefixCache', () => {
  it('bounds the bytes it keeps alive, counts shared segments once, and evicts least recently used', () => {
    const arena = new FloatArena();
    const cache = new PrefixCache(4 * 16 * bytesPerToken);
    const root = seq(arena, 16);
    cache.put([1, 2], root, new Float32Array(1));
    const kids = [3, 4, 5].map(() => {
      const k = root.fork();
      k.tail.length = 8;
      return k;
    });
    kids.forEach((k, i) => cache.put([1, 2, 10 + i], k, new Float32Array(1)));
    // Root 16 slots once, plus three 8-slot tails.
    expect(cache.bytes).toBe((16 + 3 * 8) * bytesPerToken);
    cache.longest([1, 2, 10, 7]); // touch the first child
    root.dispose();
    kids.forEach((k) => k.dispose());
    expect(arena.bytesInUse).toBe((16 + 3 * 8) * bytesPerToken); // all held by the cache
    // A big entry pushes the total over budget: least recently used go first, down to half.
    const big = seq(arena, 40); // 64 slots
    cache.put([9], big, new Float32Array(1));
    big.dispose();
    expect(cache.bytes).toBe(64 * bytesPerToken);
    expect(cache.stats.evictions).toBe(4);
    expect(cache.longest([9])?.length).toBe(1);
    // One entry alone over the budget is not kept.
    const huge = seq(arena, 65);
    cache.put([8], huge, new Float32Array(1));
    huge.dispose();
    expect(cache.longest([8])).toBeNull();
    expect(arena.bytesInUse).toBe(cache.bytes);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
    expect(arena.bytesInUse).toBe(0);
  });

  it('reports its hit rate in lookups and in prompt tokens', () => {
    const arena = new FloatArena();
    const cache = new PrefixCache();
    const s = seq(arena, 3);
    cache.put([1, 2, 3], s, new Float32Array(1));
    expect(cache.longest([1, 2, 3, 4, 5])?.length).toBe(3);
    expect(cache.longest([7, 8, 9])).toBeNull();
    const st = cache.stats;
    expect(st).toMatchObject({ lookups: 2, hits: 1, lookupTokens: 8, hitTokens: 3, entries: 1 });
    cache.resetStats();
    expect(cache.stats.lookups).toBe(0);
  });

  it('a zero budget keeps nothing', () => {
    const arena = new FloatArena();
    const cache = new PrefixCache(0);
    const s = seq(arena, 3);
    cache.put([1, 2, 3], s, new Float32Array(1));
    s.dispose();
    expect(cache.size).toBe(0);
    expect(arena.bytesInUse).toBe(0);
  });
});
