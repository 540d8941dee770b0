import { Code, lt, type FunctionDef, type ValType } from './wasm-builder.js';

const ropeStoreParams: [string, ValType][] = [['desc', 'i32'], ['nRows', 'i32'], ['H', 'i32'], ['layer', 'i32'], ['table', 'i32']];

/**
 * The decode step's per-row work between the qkv projection and attention, for one layer:
 * rotary embedding of q and k at each row's absolute position (adjacent pairs, as the model's
 * `ropeQK`), then k and v written into the row's slot of its own KV segment. It reads the same
 * row descriptors as attention (attention.ts), in the same WebAssembly memory:
 *
 *   qOff: the row's qkv, [3, H, D] floats (q heads, then k heads, then v heads), rotated in place
 *   the last link is the row's tail segment; its count is the row's slot + 1
 *   the row's position is (Σ of its links' counts) − 1: the positions it attends over are
 *   exactly those before it and itself (a sequence's tail starts where its history ends)
 *
 * `table` addresses a RoPE table (`ropeStoreTable`): for each position, D floats cos with each
 * pair's cosine twice, then D floats sin as (−sin, +sin) per pair, so a pair (x0, x1) becomes
 * x·cos + swap(x)·sin = (x0·c − x1·s, x1·c + x0·s) four lanes at a time.
 *
 * In JavaScript this was 16% of a batch-64 decode step (element loops over typed arrays and
 * eight `copyWithin` calls per row and layer); here it is one call per layer.
 */
export interface RopeStoreKernel {
  ropeStore(desc: number, nRows: number, H: number, layer: number, table: number): void;
}

/** The table `ropeStore` reads, from the model's tables (cos and sin [positions, D/2]). */
export function ropeStoreTable(cos: Float32Array, sin: Float32Array, positions: number, D: number): Float32Array {
  const half = D / 2;
  const t = new Float32Array(positions * 2 * D);
  for (let p = 0; p < positions; p++) {
    const at = p * 2 * D;
    for (let i = 0; i < half; i++) {
      const c = cos[p * half + i]!;
      const s = sin[p * half + i]!;
      t[at + 2 * i] = c;
      t[at + 2 * i + 1] = c;
      t[at + D + 2 * i] = -s;
      t[at + D + 2 * i + 1] = s;
    }
  }
  return t;
}

/** The plain-TS reference: the loops `InferenceEngine.append` ran before the kernel, over the same memory. */
export function referenceRopeStore(memory: WebAssembly.Memory, D: number): RopeStoreKernel {
  return {
    ropeStore(desc, nRows, H, layer, table) {
      const f = new Float32Array(memory.buffer);
      const m = new Int32Array(memory.buffer);
      const C = H * D;
      let p = desc >> 2;
      for (let r = 0; r < nRows; r++) {
        const q = m[p]! >> 2;
        const nLinks = m[p + 2]!;
        const links = p + 3;
        let pos = -1;
        for (let li = 0; li < nLinks; li++) pos += m[links + 3 * li + 2]!;
        const cos = (table >> 2) + pos * 2 * D;
        const sin = cos + D;
        for (let o = q; o < q + 2 * C; o += D) {
          for (let i = 0; i < D; i += 2) {
            const x0 = f[o + i]!;
            const x1 = f[o + i + 1]!;
            f[o + i] = x0 * f[cos + i]! + x1 * f[sin + i]!;
            f[o + i + 1] = x1 * f[cos + i + 1]! + x0 * f[sin + i + 1]!;
          }
        }
        const tail = links + 3 * (nLinks - 1);
        const stride = m[tail + 1]! >> 2;
        const slot = m[tail + 2]! - 1;
        const kAt = (m[tail]! >> 2) + layer * 2 * H * stride + slot * D;
        for (let h = 0; h < H; h++) {
          f.copyWithin(kAt + h * stride, q + C + h * D, q + C + (h + 1) * D);
          f.copyWithin(kAt + H * stride + h * stride, q + 2 * C + h * D, q + 2 * C + (h + 1) * D);
        }
        p = links + 3 * nLinks;
      }
    },
  };
}

/** The SIMD kernel, specialized for head size D (a multiple of 4): the position's table row in 2·D/4 v128 locals, loops over D unrolled. */
export function ropeStoreFunction(D: number): FunctionDef {
  if (D % 4 !== 0 || D <= 0) throw new Error(`head size ${D} is not a positive multiple of 4`);
  const nv = D / 4;
  const Db = D * 4;
  const c = new Code(ropeStoreParams);
  for (const n of ['r', 'p', 'q', 'nLinks', 'links', 'li', 'pos', 'tab', 'src', 'end', 'tail', 'hs', 'kd', 'vOff', 'h']) c.local(n, 'i32');
  c.local('x', 'v128');
  for (let i = 0; i < nv; i++) c.local(`c${i}`, 'v128').local(`s${i}`, 'v128');
  // f32 lanes (1, 0, 3, 2): each pair swapped.
  const swapPairs = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];

  c.get('desc').set('p');
  c.i32(0).set('r');
  c.whileLoop(lt('r', 'nRows'), () => {
    c.get('p').mem('i32.load', 0).set('q');
    c.get('p').mem('i32.load', 8).set('nLinks');
    c.get('p').i32(12).op('i32.add').set('links');
    // The row's position: the positions it attends over, less itself.
    c.i32(-1).set('pos');
    c.i32(0).set('li');
    c.whileLoop(lt('li', 'nLinks'), () => {
      c.get('pos').get('links').get('li').i32(12).op('i32.mul').op('i32.add').mem('i32.load', 8).op('i32.add').set('pos');
      c.inc('li', 1);
    });
    c.get('table').get('pos').i32(2 * Db).op('i32.mul').op('i32.add').set('tab');
    for (let i = 0; i < nv; i++) {
      c.get('tab').vmem('v128.load', 16 * i).set(`c${i}`);
      c.get('tab').vmem('v128.load', Db + 16 * i).set(`s${i}`);
    }
    // RoPE over the 2H heads of q and k, in place.
    c.get('q').set('src');
    c.get('q').get('H').i32(2 * Db).op('i32.mul').op('i32.add').set('end');
    c.whileLoop(lt('src', 'end'), () => {
      for (let i = 0; i < nv; i++) {
        c.get('src').vmem('v128.load', 16 * i).set('x');
        c.get('src');
        c.get('x').get(`c${i}`).v('f32x4.mul');
        c.get('x').get('x').shuffle(swapPairs).get(`s${i}`).v('f32x4.mul');
        c.v('f32x4.add');
        c.vmem('v128.store', 16 * i);
      }
      c.inc('src', Db);
    });
    // k and v into the tail's slot: layer l's k at base + l·2·H·hs, v H·hs later, head h at + h·hs.
    c.get('links').get('nLinks').i32(1).op('i32.sub').i32(12).op('i32.mul').op('i32.add').set('tail');
    c.get('tail').mem('i32.load', 4).set('hs');
    c.get('tail').mem('i32.load', 0);
    c.get('layer').i32(2).op('i32.mul').get('H').op('i32.mul').get('hs').op('i32.mul').op('i32.add');
    c.get('tail').mem('i32.load', 8).i32(1).op('i32.sub').i32(Db).op('i32.mul').op('i32.add');
    c.set('kd');
    c.get('H').get('hs').op('i32.mul').set('vOff');
    c.get('q').get('H').i32(Db).op('i32.mul').op('i32.add').set('src');
    c.i32(0).set('h');
    c.whileLoop(lt('h', 'H'), () => {
      for (let i = 0; i < nv; i++) {
        c.get('kd').get('src').vmem('v128.load', 16 * i).vmem('v128.store', 16 * i);
        c.get('kd').get('vOff').op('i32.add');
        c.get('src').get('H').i32(Db).op('i32.mul').op('i32.add').vmem('v128.load', 16 * i);
        c.vmem('v128.store', 16 * i);
      }
      c.inc('src', Db);
      c.get('kd').get('hs').op('i32.add').set('kd');
      c.inc('h', 1);
    });
    c.get('links').get('nLinks').i32(12).op('i32.mul').op('i32.add').set('p');
    c.inc('r', 1);
  });
  return { name: 'rope_store', params: ropeStoreParams, code: c };
}
