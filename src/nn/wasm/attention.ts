import { emitExp } from './exp.js';
import { Code, lt, type FunctionDef, type ValType } from './wasm-builder.js';

/** Attention weights with s − max below this are exactly 0 in the SIMD kernel (see pass 2). */
export const NEGLIGIBLE_LOG_WEIGHT = -69;

const attendParams: [string, ValType][] = [['desc', 'i32'], ['nRows', 'i32'], ['H', 'i32'], ['layer', 'i32'], ['scale', 'f32'], ['scores', 'i32']];

/**
 * Decode-time attention over a chain of cached KV segments: softmax(q·Kᵀ/√D)·V for every row
 * and head, as a WebAssembly SIMD kernel, with the plain-TS reference beside it (the same
 * inputs, read from the same memory; tests hold them to 1e-5).
 *
 * Everything lies in one WebAssembly memory (`FloatArena`), addressed in bytes:
 *
 *   row descriptor (i32s): qOff, outOff, nLinks, then per link: base, headStride, count
 *   segment block at `base`: for each layer l, k [H, cap, D] then v [H, cap, D]
 *     headStride = cap·D·4 bytes; layer l's k starts at base + l·2·H·headStride, its v H·headStride later
 *   q at qOff + h·D·4 (D floats per head), out at outOff + h·D·4
 *   scores: scratch of at least (longest chain + 4) floats
 *
 * A row attends over each link's first `count` positions, in chain order (root first); the
 * caller sets the last link's count so that a row sees its own position and nothing after it.
 */
export interface AttentionKernel {
  /** Runs `nRows` descriptors starting at byte `desc`, for one layer. */
  attend(desc: number, nRows: number, H: number, layer: number, scale: number, scores: number): void;
}

/** Ints in a descriptor with `nLinks` links. */
export function descriptorInts(nLinks: number): number {
  return 3 + 3 * nLinks;
}

/** The plain-TS reference: the scalar loops the engine used before the SIMD kernel. */
export function referenceAttention(memory: WebAssembly.Memory, D: number): AttentionKernel {
  return {
    attend(desc, nRows, H, layer, scale, scores) {
      const f = new Float32Array(memory.buffer);
      const m = new Int32Array(memory.buffer);
      let p = desc >> 2;
      const sc = scores >> 2;
      for (let r = 0; r < nRows; r++) {
        const q = m[p]! >> 2;
        const out = m[p + 1]! >> 2;
        const nLinks = m[p + 2]!;
        const links = p + 3;
        for (let h = 0; h < H; h++) {
          const qh = q + h * D;
          let t = 0;
          let max = -Infinity;
          for (let li = 0; li < nLinks; li++) {
            const stride = m[links + 3 * li + 1]! >> 2;
            const count = m[links + 3 * li + 2]!;
            let base = (m[links + 3 * li]! >> 2) + layer * 2 * H * stride + h * stride;
            for (let j = 0; j < count; j++, base += D) {
              let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
              for (let d = 0; d < D; d += 4) {
                d0 += f[qh + d]! * f[base + d]!;
                d1 += f[qh + d + 1]! * f[base + d + 1]!;
                d2 += f[qh + d + 2]! * f[base + d + 2]!;
                d3 += f[qh + d + 3]! * f[base + d + 3]!;
              }
              const dot = (d0 + d1 + d2 + d3) * scale;
              f[sc + t++] = dot;
              if (dot > max) max = dot;
            }
          }
          let sum = 0;
          for (let j = 0; j < t; j++) {
            const e = Math.exp(f[sc + j]! - max);
            f[sc + j] = e;
            sum += e;
          }
          const inv = 1 / sum;
          const o = out + h * D;
          f.fill(0, o, o + D);
          t = 0;
          for (let li = 0; li < nLinks; li++) {
            const stride = m[links + 3 * li + 1]! >> 2;
            const count = m[links + 3 * li + 2]!;
            let base = (m[links + 3 * li]! >> 2) + layer * 2 * H * stride + H * stride + h * stride;
            for (let j = 0; j < count; j++, base += D) {
              const pj = f[sc + t++]! * inv;
              for (let d = 0; d < D; d += 4) {
                f[o + d]! += pj * f[base + d]!;
                f[o + d + 1]! += pj * f[base + d + 1]!;
                f[o + d + 2]! += pj * f[base + d + 2]!;
                f[o + d + 3]! += pj * f[base + d + 3]!;
              }
            }
          }
        }
        p = links + 3 * nLinks;
      }
    },
  };
}

/**
 * The kernel, specialized for head size D (a multiple of 4): q's head and the output's head stay
 * in D/4 v128 locals, the loops over D are unrolled. Three passes per head, as the reference:
 * scores (two accumulators per key, then a horizontal sum), exp by a Cephes-style polynomial
 * on four lanes at once (WebAssembly has no exp), then the probability-weighted sum of values.
 */
export function attentionFunction(D: number): FunctionDef {
  if (D % 4 !== 0 || D <= 0) throw new Error(`head size ${D} is not a positive multiple of 4`);
  const nv = D / 4;
  const Db = D * 4;
  const c = new Code(attendParams);
  for (const n of ['r', 'p', 'q', 'out', 'nLinks', 'links', 'h', 'li', 'lp', 'kp', 'cnt', 'j', 'sp', 'tEnd', 'hs', 'qh', 'oh', 'vOff']) c.local(n, 'i32');
  for (const n of ['mx', 'inv']) c.local(n, 'f32');
  for (const n of ['a0', 'a1', 'pv', 'x', 'fx', 'y', 'vsum']) c.local(n, 'v128');
  for (let i = 0; i < nv; i++) c.local(`q${i}`, 'v128').local(`o${i}`, 'v128');

  // Start of link li's k (layer `layer`, head h): base + layer·2·H·hs + h·hs, with hs its head stride.
  const linkHead = (vPart: boolean): void => {
    c.get('links').get('li').i32(12).op('i32.mul').op('i32.add').set('lp');
    c.get('lp').mem('i32.load', 4).set('hs');
    c.get('lp').mem('i32.load', 8).set('cnt');
    c.get('lp').mem('i32.load', 0);
    c.get('layer').i32(2).op('i32.mul').get('H').op('i32.mul').get('hs').op('i32.mul').op('i32.add');
    c.get('h').get('hs').op('i32.mul').op('i32.add');
    if (vPart) c.get('H').get('hs').op('i32.mul').op('i32.add');
    c.set('kp');
  };

  c.get('desc').set('p');
  c.i32(0).set('r');
  c.whileLoop(lt('r', 'nRows'), () => {
    c.get('p').mem('i32.load', 0).set('q');
    c.get('p').mem('i32.load', 4).set('out');
    c.get('p').mem('i32.load', 8).set('nLinks');
    c.get('p').i32(12).op('i32.add').set('links');
    c.i32(0).set('h');
    c.whileLoop(lt('h', 'H'), () => {
      c.get('q').get('h').i32(Db).op('i32.mul').op('i32.add').set('qh');
      c.get('out').get('h').i32(Db).op('i32.mul').op('i32.add').set('oh');
      for (let i = 0; i < nv; i++) c.get('qh').vmem('v128.load', 16 * i).set(`q${i}`);
      // Pass 1: scores and their maximum.
      c.get('scores').set('sp');
      c.f32(-Infinity).set('mx');
      c.i32(0).set('li');
      c.whileLoop(lt('li', 'nLinks'), () => {
        linkHead(false);
        c.get('H').get('hs').op('i32.mul').set('vOff');
        c.i32(0).set('j');
        c.whileLoop(lt('j', 'cnt'), () => {
          // Touch the key's value (one load per 64-byte line, result dropped): WebAssembly has no
          // prefetch, and without it pass 3 waited on each value line from memory in turn; now
          // those misses overlap with this pass's own and pass 3 reads from cache.
          for (let off = 0; off < Db; off += 64) c.get('kp').get('vOff').op('i32.add').mem('i32.load', off).op('drop');
          for (let i = 0; i < nv; i++) {
            const acc = i % 2 === 0 ? 'a0' : 'a1';
            c.get(`q${i}`).get('kp').vmem('v128.load', 16 * i).v('f32x4.mul');
            if (i >= 2) c.get(acc).v('f32x4.add');
            c.set(acc);
          }
          if (nv === 1) c.get('a0');
          else c.get('a0').get('a1').v('f32x4.add');
          c.tee('x');
          c.lane(0).get('x').lane(1).op('f32.add').get('x').lane(2).op('f32.add').get('x').lane(3).op('f32.add');
          c.get('scale').op('f32.mul');
          c.set('inv'); // reused as a scalar temporary here
          c.get('sp').get('inv').mem('f32.store');
          c.get('mx').get('inv').op('f32.max').set('mx');
          c.inc('sp', 4);
          c.inc('kp', Db);
          c.inc('j', 1);
        });
        c.inc('li', 1);
      });
      // Pad to a multiple of four lanes with -inf (exp → ~0; the value pass never reads them).
      for (let i = 0; i < 3; i++) c.get('sp').f32(-Infinity).mem('f32.store', 4 * i);
      // Pass 2: e = exp(s - max) in place, four at a time; their sum.
      c.get('sp').set('tEnd');
      c.get('scores').set('sp');
      c.f32x4(0).set('vsum');
      c.get('mx').v('f32x4.splat').set('pv');
      // Weights below e^-69 (1e-30 of the largest) are set to exactly 0: left as they were, a
      // weight near the clamp of exp (e^-87.3) times 1/sum, and its products with the values,
      // are subnormal floats, on which each multiply-add costs ~100 cycles: attention whose
      // queries prefer some keys by 90 nats or more ran up to two thirds slower (12.5 against
      // 20.7 ns a key). Their share of the output is below 1e-28, far under float32's rounding.
      c.whileLoop(lt('sp', 'tEnd'), () => {
        // s − max, kept in a0 (pass 1's accumulator, free here) for the mask below.
        c.get('sp').vmem('v128.load').get('pv').v('f32x4.sub').tee('a0');
        c.f32x4(NEGLIGIBLE_LOG_WEIGHT - 1).v('f32x4.max').set('x'); // exp itself makes subnormals near its clamp
        emitExp(c);
        c.get('a0').f32x4(NEGLIGIBLE_LOG_WEIGHT).v('f32x4.gt').v('v128.and');
        c.set('y');
        c.get('sp').get('y').vmem('v128.store');
        c.get('vsum').get('y').v('f32x4.add').set('vsum');
        c.inc('sp', 16);
      });
      c.f32(1);
      c.get('vsum').lane(0).get('vsum').lane(1).op('f32.add').get('vsum').lane(2).op('f32.add').get('vsum').lane(3).op('f32.add');
      c.op('f32.div').set('inv');
      // Pass 3: out = Σ p_j·v_j, the output head in locals.
      for (let i = 0; i < nv; i++) c.f32x4(0).set(`o${i}`);
      c.get('scores').set('sp');
      c.i32(0).set('li');
      c.whileLoop(lt('li', 'nLinks'), () => {
        linkHead(true);
        c.i32(0).set('j');
        c.whileLoop(lt('j', 'cnt'), () => {
          c.get('sp').mem('f32.load').get('inv').op('f32.mul').v('f32x4.splat').set('pv');
          for (let i = 0; i < nv; i++) c.get(`o${i}`).get('pv').get('kp').vmem('v128.load', 16 * i).v('f32x4.mul').v('f32x4.add').set(`o${i}`);
          c.inc('sp', 4);
          c.inc('kp', Db);
          c.inc('j', 1);
        });
        c.inc('li', 1);
      });
      for (let i = 0; i < nv; i++) c.get('oh').get(`o${i}`).vmem('v128.store', 16 * i);
      c.inc('h', 1);
    });
    c.get('links').get('nLinks').i32(12).op('i32.mul').op('i32.add').set('p');
    c.inc('r', 1);
  });
  return { name: 'attend', params: attendParams, code: c };
}
