import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { FloatArena } from './arena.js';
import { descriptorInts, NEGLIGIBLE_LOG_WEIGHT, referenceAttention } from './attention.js';
import { decodeModuleBytes, simdAvailable, wasmDecodeKernels } from './decode-kernels.js';

interface Seg {
  offset: number;
  cap: number;
}

/**
 * Random segments filled with normal values, random chains over them (shared prefixes, short
 * and long links, empty links), one descriptor per row; returns both kernels' outputs.
 */
function runBoth(seed: number, H: number, D: number, nLayers: number, layer: number, scaleMul: number): { ref: Float32Array; simd: Float32Array; rows: number } {
  const rng = new Rng(seed);
  const arena = new FloatArena(1 << 16); // small: the setup grows it
  const segs: Seg[] = [];
  const nSegs = rng.int(1, 6);
  for (let i = 0; i < nSegs; i++) {
    const cap = rng.int(1, 40);
    segs.push({ offset: arena.alloc(2 * nLayers * H * cap * D), cap });
  }
  const nRows = rng.int(1, 9);
  const chains = Array.from({ length: nRows }, () => {
    const n = rng.int(1, 4);
    const chain = Array.from({ length: n }, () => {
      const s = segs[rng.int(0, segs.length - 1)]!;
      return { s, count: rng.int(0, s.cap) };
    });
    // At least one visible position (a row always sees itself).
    if (chain.every((l) => l.count === 0)) chain[0]!.count = Math.max(1, chain[0]!.s.cap);
    return chain;
  });
  const longest = Math.max(...chains.map((c) => c.reduce((a, l) => a + l.count, 0)));
  const qAt = arena.alloc(nRows * H * D);
  const outRef = arena.alloc(nRows * H * D);
  const outSimd = arena.alloc(nRows * H * D);
  const scores = arena.alloc(longest + 4);
  const descInts = chains.reduce((a, c) => a + descriptorInts(c.length), 0);
  const descRef = arena.alloc(descInts);
  const descSimd = arena.alloc(descInts);
  const f = arena.f32;
  const m = arena.i32;
  for (const s of segs) for (let i = 0; i < 2 * nLayers * H * s.cap * D; i++) f[s.offset + i] = rng.normal();
  for (let i = 0; i < nRows * H * D; i++) f[qAt + i] = rng.normal() * scaleMul;
  for (const [desc, out] of [[descRef, outRef], [descSimd, outSimd]] as const) {
    let p = desc;
    chains.forEach((chain, r) => {
      m[p++] = (qAt + r * H * D) * 4;
      m[p++] = (out + r * H * D) * 4;
      m[p++] = chain.length;
      for (const l of chain) {
        m[p++] = l.s.offset * 4;
        m[p++] = l.s.cap * D * 4;
        m[p++] = l.count;
      }
    });
  }
  const scale = 1 / Math.sqrt(D);
  referenceAttention(arena.memory, D).attend(descRef * 4, nRows, H, layer, scale, scores * 4);
  wasmDecodeKernels(arena.memory, D).attend(descSimd * 4, nRows, H, layer, scale, scores * 4);
  const g = arena.f32;
  return { ref: g.slice(outRef, outRef + nRows * H * D), simd: g.slice(outSimd, outSimd + nRows * H * D), rows: nRows };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe('WebAssembly SIMD attention', () => {
  it('the module validates on this runtime (128-bit SIMD, no relaxed SIMD)', () => {
    expect(simdAvailable()).toBe(true);
    for (const D of [4, 8, 32, 64, 128]) expect(WebAssembly.validate(decodeModuleBytes(D))).toBe(true);
    expect(() => decodeModuleBytes(6)).toThrow(/multiple of 4/);
  });

  it('agrees with the plain-TS reference to 1e-5 over random shapes, chains and lengths', () => {
    let cases = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const rng = new Rng(1000 + seed);
      const D = [4, 8, 16, 32, 64][rng.int(0, 4)]!;
      const H = rng.int(1, 4);
      const nLayers = rng.int(1, 3);
      const layer = rng.int(0, nLayers - 1);
      const { ref, simd } = runBoth(seed, H, D, nLayers, layer, 1);
      expect(maxAbsDiff(ref, simd)).toBeLessThan(1e-5);
      cases++;
    }
    expect(cases).toBe(60);
  });

  it('peaked and flat softmaxes alike (exp across its range, clamped far below the max)', () => {
    for (const [seed, mul] of [[3, 0.01], [4, 5], [5, 30], [6, 100]] as const) {
      const { ref, simd } = runBoth(seed, 2, 32, 1, 0, mul);
      for (const x of simd) expect(Number.isFinite(x)).toBe(true);
      expect(maxAbsDiff(ref, simd)).toBeLessThan(1e-5);
    }
  });

  it('weights more than 69 nats below the largest are exactly 0, never subnormal (each subnormal multiply-add costs ~100 cycles)', () => {
    const arena = new FloatArena();
    const n = 10;
    const seg = arena.alloc(2 * n * 4);
    const q = arena.alloc(4);
    const out = arena.alloc(4);
    const scores = arena.alloc(n + 4);
    const desc = arena.alloc(6);
    const f = arena.f32;
    // Key j's score is −10·j (scale 1): keys 0–6 lie within 69 nats of key 0, key 7 (−70) beyond,
    // and keys 8–9 (−80, −90, near exp's clamp at −87.3) would give subnormal weights.
    for (let j = 0; j < n; j++) f.set([-10 * j, 0, 0, 0], seg + 4 * j);
    for (let j = 0; j < n; j++) f.set([1, 1, 1, 1], seg + 4 * n + 4 * j);
    f.set([1, 0, 0, 0], q);
    arena.i32.set([q * 4, out * 4, 1, seg * 4, n * 4 * 4, n], desc);
    wasmDecodeKernels(arena.memory, 4).attend(desc * 4, 1, 1, 0, 1, scores * 4);
    const e = [...arena.f32.subarray(scores, scores + n)];
    const smallestNormal = 2 ** -126;
    for (const x of e) expect(x === 0 || x >= smallestNormal).toBe(true);
    expect(e.slice(0, 7).every((x) => x > 0)).toBe(true);
    expect(-10 * 7).toBeLessThan(NEGLIGIBLE_LOG_WEIGHT);
    expect(e.slice(7)).toEqual([0, 0, 0]);
    for (const x of arena.f32.subarray(out, out + 4)) expect(x).toBeCloseTo(1, 6);
  });

  it('differs from the reference when a value is wrong (the comparison can fail)', () => {
    const arena = new FloatArena();
    const seg = arena.alloc(2 * 4 * 4);
    const q = arena.alloc(4);
    const out = arena.alloc(4);
    const scores = arena.alloc(8);
    const desc = arena.alloc(6);
    const f = arena.f32;
    f.set([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], seg); // k: 4 keys
    f.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], seg + 16); // v
    f.set([10, 0, 0, 0], q); // attends almost only to key 0
    arena.i32.set([q * 4, out * 4, 1, seg * 4, 4 * 4 * 4, 4], desc);
    wasmDecodeKernels(arena.memory, 4).attend(desc * 4, 1, 1, 0, 1, scores * 4);
    const got = [...arena.f32.subarray(out, out + 4)];
    // softmax weights e^10 : 1 : 1 : 1, so out ≈ v0 plus a little of the others.
    const w = [Math.exp(10), 1, 1, 1];
    const s = w.reduce((a, b) => a + b, 0);
    const expected = [0, 1, 2, 3].map((d) => w.reduce((a, wj, j) => a + (wj / s) * (1 + d + 4 * j), 0));
    got.forEach((x, d) => expect(x).toBeCloseTo(expected[d]!, 5));
  });
});
