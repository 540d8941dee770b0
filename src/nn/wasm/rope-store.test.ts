import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { ropeTables } from '../ops.js';
import { FloatArena } from './arena.js';
import { descriptorInts } from './attention.js';
import { decodeModuleBytes, wasmDecodeKernels } from './decode-kernels.js';
import { referenceRopeStore, ropeStoreTable, type RopeStoreKernel } from './rope-store.js';

interface Setup {
  arena: FloatArena;
  desc: number;
  nRows: number;
  qkv: number;
  table: number;
  /** Per row: its position, its tail segment's offset (floats) and capacity, its slot. */
  rows: { pos: number; tail: number; cap: number; slot: number }[];
}

/**
 * Rows over random chains of segments (history links of any length, a tail with the row's slot
 * last), random qkv rows, the RoPE table of a 64-position context; the same memory for both kernels.
 */
function setup(seed: number, H: number, D: number, nLayers: number): Setup {
  const rng = new Rng(seed);
  const arena = new FloatArena(1 << 16);
  const contextLength = 64;
  const nRows = rng.int(1, 9);
  const rows: Setup['rows'] = [];
  const chains: { offset: number; cap: number; count: number }[][] = [];
  for (let r = 0; r < nRows; r++) {
    const chain = Array.from({ length: rng.int(0, 3) }, () => {
      const cap = rng.int(1, 12);
      return { offset: arena.alloc(2 * nLayers * H * cap * D), cap, count: rng.int(0, cap) };
    });
    const cap = rng.int(1, 12);
    const tail = { offset: arena.alloc(2 * nLayers * H * cap * D), cap, count: rng.int(1, cap) };
    chain.push(tail);
    chains.push(chain);
    rows.push({ pos: chain.reduce((a, l) => a + l.count, 0) - 1, tail: tail.offset, cap, slot: tail.count - 1 });
  }
  const qkv = arena.alloc(nRows * 3 * H * D);
  const desc = arena.alloc(chains.reduce((a, c) => a + descriptorInts(c.length), 0));
  const { cos, sin } = ropeTables(contextLength, D, 10000);
  const tableData = ropeStoreTable(cos, sin, contextLength, D);
  const table = arena.alloc(tableData.length);
  const f = arena.f32;
  const m = arena.i32;
  f.set(tableData, table);
  for (let i = 0; i < nRows * 3 * H * D; i++) f[qkv + i] = rng.normal();
  let p = desc;
  chains.forEach((chain, r) => {
    m[p++] = (qkv + r * 3 * H * D) * 4;
    m[p++] = 0;
    m[p++] = chain.length;
    for (const l of chain) {
      m[p++] = l.offset * 4;
      m[p++] = l.cap * D * 4;
      m[p++] = l.count;
    }
  });
  return { arena, desc, nRows, qkv, table, rows };
}

function run(s: Setup, kernel: (memory: WebAssembly.Memory) => RopeStoreKernel, H: number, D: number, layer: number): Float32Array {
  kernel(s.arena.memory).ropeStore(s.desc * 4, s.nRows, H, layer, s.table * 4);
  return s.arena.f32.slice();
}

describe('rope_store (RoPE on q and k, k and v into the KV cache)', () => {
  it('the module with rope_store validates for every head size the models use', () => {
    for (const D of [4, 8, 32, 64, 128]) expect(WebAssembly.validate(decodeModuleBytes(D))).toBe(true);
  });

  it('the SIMD kernel writes what the reference writes, everywhere in memory', () => {
    for (const [H, D, layer] of [[4, 32, 1], [2, 8, 0], [1, 4, 2], [3, 64, 0]] as const) {
      for (let seed = 0; seed < 4; seed++) {
        const ref = run(setup(seed, H, D, 3), (mem) => referenceRopeStore(mem, D), H, D, layer);
        const simd = run(setup(seed, H, D, 3), (mem) => wasmDecodeKernels(mem, D), H, D, layer);
        let worst = 0;
        for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i]! - simd[i]!));
        expect(worst, `H=${H} D=${D} layer ${layer} seed ${seed}`).toBeLessThan(1e-5);
      }
    }
  });

  it('rotates each pair by its position and stores k and v in the row slot of the layer asked for', () => {
    const H = 2, D = 8, layer = 1, nLayers = 2;
    const s = setup(7, H, D, nLayers);
    const before = s.arena.f32.slice();
    const after = run(s, (mem) => wasmDecodeKernels(mem, D), H, D, layer);
    const { cos, sin } = ropeTables(64, D, 10000);
    const C = H * D;
    s.rows.forEach((row, r) => {
      const q = s.qkv + r * 3 * C;
      for (let o = 0; o < 2 * C; o += 2) {
        const i = (o % D) / 2;
        const c = cos[row.pos * (D / 2) + i]!;
        const sn = sin[row.pos * (D / 2) + i]!;
        const x0 = before[q + o]!, x1 = before[q + o + 1]!;
        expect(after[q + o]).toBeCloseTo(x0 * c - x1 * sn, 5);
        expect(after[q + o + 1]).toBeCloseTo(x0 * sn + x1 * c, 5);
      }
      // v is not rotated: it is copied as it was; k as rotated.
      for (let h = 0; h < H; h++) {
        const kAt = row.tail + layer * 2 * H * row.cap * D + h * row.cap * D + row.slot * D;
        const vAt = kAt + H * row.cap * D;
        for (let d = 0; d < D; d++) {
          expect(after[kAt + d]).toBe(after[q + C + h * D + d]);
          expect(after[vAt + d]).toBe(before[q + 2 * C + h * D + d]);
        }
      }
    });
    // Another layer's slots are untouched (rows' tails are distinct segments here).
    for (const row of s.rows) {
      const other = row.tail + 0 * 2 * H * row.cap * D + row.slot * D;
      for (let d = 0; d < D; d++) expect(after[other + d]).toBe(before[other + d]);
    }
  });
});
