import type { BufferPool } from '../pool.js';
import { emitExp } from './exp.js';
import { swigluFunction } from './swiglu.js';
import { addInto as plainAddInto, addTo, logSumExpRowsTo, ropeTo, softmaxRowsTo, type Kernels } from '../kernels.js';
import { rowSumExpFunction, softmaxRowsFunction } from './cross-entropy.js';
import { addFunction, fillRopeTables, ropeFunction } from './residual-rope.js';
import { headsFunction } from './heads.js';
import { buildModule, Code, unrolled, type FunctionDef, type ValType } from './wasm-builder.js';

/**
 * The training step's SwiGLU and RMSNorm, forward and backward, as WebAssembly SIMD kernels over
 * Float32Arrays (with the residual adds and RoPE of residual-rope.ts): in place on the buffer
 * pool's WebAssembly memory where the pool has one, else through a scratch memory (inputs copied
 * in, one pass, the result copied out into a pooled buffer). The plain-TS definitions are
 * `referenceElementwise` in ../kernels.ts; train-elementwise.test.ts checks that the two agree.
 *
 * Why: as a JavaScript loop SwiGLU's Math.exp was a tenth of a demo-size training step, and as an
 * onnxruntime graph (Split, Sigmoid, six Muls, Concat) its backward still made ten passes over
 * B·T·F floats; here it is one pass plus the copies (measured in the commit that added this file:
 * forward and backward together about 4× less CPU than the onnxruntime graphs).
 */

const bwdParams: [string, ValType][] = [['gu', 'i32'], ['dy', 'i32'], ['dgu', 'i32'], ['N', 'i32'], ['F', 'i32']];

/**
 * d(gu) from gu [N,2F] and dy [N,F], four lanes at a time (F a multiple of 4):
 * s = σ(g), silu = g·s, d(up) = dy·silu, d(gate) = dy·u·(s + silu·(1 − s)).
 */
export function swigluBackwardFunction(): FunctionDef {
  const c = new Code(bwdParams);
  for (const n of ['rowEnd', 'end', 'Fb']) c.local(n, 'i32');
  for (const n of ['x', 'fx', 'gv', 'uv', 'dv', 's', 'silu']) c.local(n, 'v128');
  c.get('F').i32(2).op('i32.shl').set('Fb');
  c.get('gu').get('N').get('Fb').op('i32.mul').i32(1).op('i32.shl').op('i32.add').set('end');
  // Four lanes at byte offset `at` from gu, dy and dgu.
  const lanes = (at: number): void => {
    c.get('gu').vmem('v128.load', at).set('gv');
    c.get('gu').get('Fb').op('i32.add').vmem('v128.load', at).set('uv');
    c.get('dy').vmem('v128.load', at).set('dv');
    // s = 1 / (1 + e^-g)
    c.f32x4(0).get('gv').v('f32x4.sub').set('x');
    c.f32x4(1);
    emitExp(c);
    c.f32x4(1).v('f32x4.add').v('f32x4.div').set('s');
    c.get('gv').get('s').v('f32x4.mul').set('silu');
    // d(up) = dy·silu, stored in the up half of the row
    c.get('dgu').get('Fb').op('i32.add');
    c.get('dv').get('silu').v('f32x4.mul');
    c.vmem('v128.store', at);
    // d(gate) = dy·u·(s + silu·(1 − s))
    c.get('dgu');
    c.get('dv').get('uv').v('f32x4.mul');
    c.get('s').get('silu').f32x4(1).get('s').v('f32x4.sub').v('f32x4.mul').v('f32x4.add');
    c.v('f32x4.mul');
    c.vmem('v128.store', at);
  };
  c.whileLoop((cc) => void cc.get('gu').get('end').op('i32.lt_s'), () => {
    c.get('gu').get('Fb').op('i32.add').set('rowEnd');
    unrolled(c, 'rowEnd', lanes, ['gu', 'dy', 'dgu']);
    c.get('gu').get('Fb').op('i32.add').set('gu');
    c.get('dgu').get('Fb').op('i32.add').set('dgu');
  });
  return { name: 'swiglu_backward', params: bwdParams, code: c };
}

/** Pushes the sum of the four lanes of the v128 local `v` (one f32). */
function hsum(c: Code, v: string): void {
  c.get(v).lane(0).get(v).lane(1).op('f32.add').get(v).lane(2).op('f32.add').get(v).lane(3).op('f32.add');
}

const rmsFwdParams: [string, ValType][] = [['x', 'i32'], ['w', 'i32'], ['out', 'i32'], ['rstd', 'i32'], ['N', 'i32'], ['C', 'i32'], ['invC', 'f32'], ['eps', 'f32']];

/** RMSNorm over rows of x [N,C] (C a multiple of 4): rstd[n] = 1/√(mean(x²)+eps), out = x·rstd·w. */
export function rmsnormForwardFunction(): FunctionDef {
  const c = new Code(rmsFwdParams);
  for (const n of ['end', 'rowEnd', 'Cb', 'p', 'q', 'o']) c.local(n, 'i32');
  c.local('r', 'f32');
  for (const n of ['acc', 'v', 'rv']) c.local(n, 'v128');
  c.get('C').i32(2).op('i32.shl').set('Cb');
  c.get('x').get('N').get('Cb').op('i32.mul').op('i32.add').set('end');
  c.whileLoop((cc) => void cc.get('x').get('end').op('i32.lt_s'), () => {
    c.get('x').get('Cb').op('i32.add').set('rowEnd');
    c.f32x4(0).set('acc');
    c.get('x').set('p');
    c.whileLoop((cc) => void cc.get('p').get('rowEnd').op('i32.lt_s'), () => {
      c.get('p').vmem('v128.load').set('v');
      c.get('acc').get('v').get('v').v('f32x4.mul').v('f32x4.add').set('acc');
      c.get('p').i32(16).op('i32.add').set('p');
    });
    c.f32(1);
    hsum(c, 'acc');
    c.get('invC').op('f32.mul').get('eps').op('f32.add').op('f32.sqrt').op('f32.div').set('r');
    c.get('rstd').get('r').mem('f32.store');
    c.get('r').v('f32x4.splat').set('rv');
    c.get('x').set('p');
    c.get('w').set('q');
    c.get('out').set('o');
    c.whileLoop((cc) => void cc.get('p').get('rowEnd').op('i32.lt_s'), () => {
      c.get('o').get('p').vmem('v128.load').get('rv').v('f32x4.mul').get('q').vmem('v128.load').v('f32x4.mul').vmem('v128.store');
      c.get('p').i32(16).op('i32.add').set('p');
      c.get('q').i32(16).op('i32.add').set('q');
      c.get('o').i32(16).op('i32.add').set('o');
    });
    c.get('rowEnd').set('x');
    c.get('out').get('Cb').op('i32.add').set('out');
    c.get('rstd').i32(4).op('i32.add').set('rstd');
  });
  return { name: 'rmsnorm_forward', params: rmsFwdParams, code: c };
}

const rmsBwdParams: [string, ValType][] = [['x', 'i32'], ['w', 'i32'], ['rstd', 'i32'], ['dy', 'i32'], ['dx', 'i32'], ['dw', 'i32'], ['N', 'i32'], ['C', 'i32'], ['invC', 'f32']];

/** RMSNorm's gradient: dx = r·(dy⊙w) − x·r³·mean(x⊙dy⊙w), and dw += dy⊙x·r (dw zeroed by the caller). */
export function rmsnormBackwardFunction(): FunctionDef {
  const c = new Code(rmsBwdParams);
  for (const n of ['end', 'rowEnd', 'Cb', 'p', 'q', 'g', 'o']) c.local(n, 'i32');
  c.local('r', 'f32');
  for (const n of ['acc', 'xv', 'gv', 'rv', 'kv']) c.local(n, 'v128');
  c.get('C').i32(2).op('i32.shl').set('Cb');
  c.get('x').get('N').get('Cb').op('i32.mul').op('i32.add').set('end');
  c.whileLoop((cc) => void cc.get('x').get('end').op('i32.lt_s'), () => {
    c.get('x').get('Cb').op('i32.add').set('rowEnd');
    c.get('rstd').mem('f32.load').set('r');
    c.get('r').v('f32x4.splat').set('rv');
    c.f32x4(0).set('acc');
    c.get('x').set('p');
    c.get('w').set('q');
    c.get('dy').set('g');
    c.get('dw').set('o');
    c.whileLoop((cc) => void cc.get('p').get('rowEnd').op('i32.lt_s'), () => {
      c.get('p').vmem('v128.load').set('xv');
      c.get('g').vmem('v128.load').set('gv');
      c.get('acc').get('gv').get('q').vmem('v128.load').v('f32x4.mul').get('xv').v('f32x4.mul').v('f32x4.add').set('acc');
      c.get('o').get('o').vmem('v128.load').get('gv').get('xv').v('f32x4.mul').get('rv').v('f32x4.mul').v('f32x4.add').vmem('v128.store');
      c.get('p').i32(16).op('i32.add').set('p');
      c.get('q').i32(16).op('i32.add').set('q');
      c.get('g').i32(16).op('i32.add').set('g');
      c.get('o').i32(16).op('i32.add').set('o');
    });
    // k = mean(x⊙dy⊙w)·r³
    hsum(c, 'acc');
    c.get('invC').op('f32.mul').get('r').op('f32.mul').get('r').op('f32.mul').get('r').op('f32.mul').v('f32x4.splat').set('kv');
    c.get('x').set('p');
    c.get('w').set('q');
    c.get('dy').set('g');
    c.get('dx').set('o');
    c.whileLoop((cc) => void cc.get('p').get('rowEnd').op('i32.lt_s'), () => {
      c.get('o');
      c.get('g').vmem('v128.load').get('q').vmem('v128.load').v('f32x4.mul').get('rv').v('f32x4.mul');
      c.get('p').vmem('v128.load').get('kv').v('f32x4.mul');
      c.v('f32x4.sub').vmem('v128.store');
      c.get('p').i32(16).op('i32.add').set('p');
      c.get('q').i32(16).op('i32.add').set('q');
      c.get('g').i32(16).op('i32.add').set('g');
      c.get('o').i32(16).op('i32.add').set('o');
    });
    c.get('rowEnd').set('x');
    c.get('dy').get('Cb').op('i32.add').set('dy');
    c.get('dx').get('Cb').op('i32.add').set('dx');
    c.get('rstd').i32(4).op('i32.add').set('rstd');
  });
  return { name: 'rmsnorm_backward', params: rmsBwdParams, code: c };
}

let compiled: WebAssembly.Module | null = null;

type Exports = {
  swiglu: (gu: number, out: number, N: number, F: number) => void;
  swiglu_backward: (gu: number, dy: number, dgu: number, N: number, F: number) => void;
  rmsnorm_forward: (x: number, w: number, out: number, rstd: number, N: number, C: number, invC: number, eps: number) => void;
  rmsnorm_backward: (x: number, w: number, rstd: number, dy: number, dx: number, dw: number, N: number, C: number, invC: number) => void;
  add: (a: number, b: number, out: number, n4: number) => void;
  rope: (x: number, out: number, rows: number, C: number, D: number, T: number, cc: number, ss: number) => void;
  heads: (tok: number, hm: number, n: number, T: number, S: number, H: number, D: number, toHeads: number) => void;
  row_sum_exp: (row: number, N: number, V: number, V4: number, maxOut: number, sumOut: number) => void;
  softmax_rows: (logits: number, lse: number, coef: number, g: number, N: number, V: number, V4: number) => void;
};

export type TrainElementwiseKernels = Pick<Kernels, 'swigluForward' | 'swigluBackward' | 'rmsnormForward' | 'rmsnormBackward' | 'add' | 'addInto' | 'rope' | 'logSumExpRows' | 'softmaxRows'>;

/** Attention's layout changes (heads.ts), for kernels whose batched products want each head's T×D block contiguous. */
export interface HeadLayoutKernels {
  /**
   * Token-major x [n, T, S, H, D] → head-major `out` [S, n, H, T, D]. False (nothing written)
   * when either lies outside the pool's WebAssembly memory or D is not a multiple of 4: the
   * caller then changes the layout its own way.
   */
  splitHeads(x: Float32Array, n: number, T: number, S: number, H: number, D: number, out: Float32Array): boolean;
  /** Head-major hm [S, n, H, T, D] → token-major `out` [n, T, S, H, D]; false as splitHeads. */
  mergeHeads(hm: Float32Array, n: number, T: number, S: number, H: number, D: number, out: Float32Array): boolean;
}

/**
 * SIMD SwiGLU, RMSNorm, residual adds and RoPE for the training step (F, C and D multiples of 4),
 * outputs taken from `pool`. Where the pool keeps its buffers in WebAssembly memory (pool.ts)
 * the kernels run on them in place; an input outside it is copied into a pool buffer first. When
 * the pool has no room, SwiGLU and RMSNorm copy through a scratch memory of their own, and the
 * adds and RoPE run as their plain-TS loops, which give the same bits (residual-rope.ts).
 */
export function wasmTrainElementwise(pool: BufferPool): TrainElementwiseKernels & HeadLayoutKernels {
  compiled ??= new WebAssembly.Module(buildModule([swigluFunction(), swigluBackwardFunction(), rmsnormForwardFunction(), rmsnormBackwardFunction(), addFunction(), ropeFunction(), headsFunction(), rowSumExpFunction(), softmaxRowsFunction()]));
  const instance = (memory: WebAssembly.Memory): Exports => new WebAssembly.Instance(compiled!, { env: { memory } }).exports as Exports;
  const scratch = new WebAssembly.Memory({ initial: 1 });
  const e = instance(scratch);
  // The instance over the pool's memory, re-made when the pool makes a new memory (pool.clear()).
  let direct: { memory: WebAssembly.Memory; e: Exports } | null = null;
  const inPool = (): Exports | null => {
    const memory = pool.memory;
    if (memory === null) return null;
    if (direct === null || direct.memory !== memory) direct = { memory, e: instance(memory) };
    return direct.e;
  };
  /** `a` as a byte offset in the pool's memory (copied into a pool buffer if it lies elsewhere), or -1 when there is no room. */
  const stage = (a: Float32Array): number => {
    if (pool.inMemory(a)) return a.byteOffset;
    const b = pool.take(a.length);
    if (!pool.inMemory(b)) return -1;
    b.set(a);
    return b.byteOffset;
  };
  let f32 = new Float32Array(scratch.buffer);
  // The scratch memory holds one call's inputs and output (floats), grown to the largest call.
  const room = (floats: number): Float32Array => {
    const bytes = floats * 4;
    if (bytes > scratch.buffer.byteLength) scratch.grow(Math.ceil((bytes - scratch.buffer.byteLength) / 65536));
    if (f32.buffer !== scratch.buffer) f32 = new Float32Array(scratch.buffer);
    return f32;
  };
  /** The layout copy between token-major `tok` and head-major `hm`, in place in the pool's memory (false when either lies outside it). */
  const heads = (tok: Float32Array, hm: Float32Array, n: number, T: number, S: number, H: number, D: number, toHeads: 0 | 1): boolean => {
    const d = inPool();
    if (!d || D % 4 !== 0 || !pool.inMemory(tok) || !pool.inMemory(hm)) return false;
    d.heads(tok.byteOffset, hm.byteOffset, n, T, S, H, D, toHeads);
    return true;
  };
  const check = (F: number): void => {
    if (F % 4 !== 0) throw new Error(`SIMD SwiGLU and RMSNorm need a width that is a multiple of 4, got ${F}`);
  };
  return {
    swigluForward(gu, N, F) {
      check(F);
      const n = N * F;
      const out = pool.take(n);
      const d = inPool();
      const g = d && pool.inMemory(out) ? stage(gu) : -1;
      if (d && g >= 0) {
        d.swiglu(g, out.byteOffset, N, F);
        return out;
      }
      const m = room(3 * n);
      m.set(gu, 0);
      e.swiglu(0, 2 * n * 4, N, F);
      out.set(m.subarray(2 * n, 3 * n));
      return out;
    },
    swigluBackward(gu, dy, N, F) {
      check(F);
      const n = N * F;
      const dgu = pool.take(2 * n);
      const d = inPool();
      const g = d && pool.inMemory(dgu) ? stage(gu) : -1;
      const y = g >= 0 ? stage(dy) : -1;
      if (d && y >= 0) {
        d.swiglu_backward(g, y, dgu.byteOffset, N, F);
        return dgu;
      }
      const m = room(5 * n);
      m.set(gu, 0);
      m.set(dy, 2 * n);
      e.swiglu_backward(0, 2 * n * 4, 3 * n * 4, N, F);
      dgu.set(m.subarray(3 * n, 5 * n));
      return dgu;
    },
    // Layouts in the scratch memory (floats): x | w | out | rstd, and x | w | dy | dx | dw | rstd.
    rmsnormForward(x, w, N, C, eps) {
      check(C);
      const n = N * C;
      const out = pool.take(n);
      const rstd = pool.take(N);
      const d = inPool();
      const px = d && pool.inMemory(out) && pool.inMemory(rstd) ? stage(x) : -1;
      const pw = px >= 0 ? stage(w) : -1;
      if (d && pw >= 0) {
        d.rmsnorm_forward(px, pw, out.byteOffset, rstd.byteOffset, N, C, 1 / C, eps);
        return { out, rstd };
      }
      const m = room(2 * n + C + N);
      m.set(x, 0);
      m.set(w, n);
      e.rmsnorm_forward(0, n * 4, (n + C) * 4, (2 * n + C) * 4, N, C, 1 / C, eps);
      out.set(m.subarray(n + C, 2 * n + C));
      rstd.set(m.subarray(2 * n + C, 2 * n + C + N));
      return { out, rstd };
    },
    rmsnormBackward(x, w, rstd, dy, N, C) {
      check(C);
      const n = N * C;
      const dx = pool.take(n);
      const dw = pool.zeros(C);
      const d = inPool();
      let p = d && pool.inMemory(dx) && pool.inMemory(dw) ? [stage(x)] : [-1];
      for (const a of [w, rstd.subarray(0, N), dy]) if (p[p.length - 1]! >= 0) p.push(stage(a));
      if (d && p.length === 4 && p[3]! >= 0) {
        d.rmsnorm_backward(p[0]!, p[1]!, p[2]!, p[3]!, dx.byteOffset, dw.byteOffset, N, C, 1 / C);
        return { dx, dw };
      }
      const m = room(3 * n + 2 * C + N);
      m.set(x, 0);
      m.set(w, n);
      m.set(dy, n + C);
      m.fill(0, 3 * n + C, 3 * n + 2 * C);
      m.set(rstd.subarray(0, N), 3 * n + 2 * C);
      e.rmsnorm_backward(0, n * 4, (3 * n + 2 * C) * 4, (n + C) * 4, (2 * n + C) * 4, (3 * n + C) * 4, N, C, 1 / C);
      dx.set(m.subarray(2 * n + C, 3 * n + C));
      dw.set(m.subarray(3 * n + C, 3 * n + 2 * C));
      return { dx, dw };
    },
    add(a, b) {
      const out = pool.take(a.length);
      const d = inPool();
      if (!d || !pool.inMemory(a) || !pool.inMemory(b) || !pool.inMemory(out)) return addTo(out, a, b);
      const n4 = a.length >> 2;
      d.add(a.byteOffset, b.byteOffset, out.byteOffset, n4);
      for (let i = 4 * n4; i < a.length; i++) out[i] = a[i]! + b[i]!;
      return out;
    },
    addInto(dst, src) {
      const d = inPool();
      if (!d || !pool.inMemory(dst) || !pool.inMemory(src)) return plainAddInto(dst, src);
      const n4 = dst.length >> 2;
      d.add(dst.byteOffset, src.byteOffset, dst.byteOffset, n4);
      for (let i = 4 * n4; i < dst.length; i++) dst[i]! += src[i]!;
    },
    logSumExpRows(logits, N, V) {
      const lse = pool.take(N);
      const sum = pool.take(N);
      const d = inPool();
      const at = d && pool.inMemory(lse) && pool.inMemory(sum) ? stage(logits) : -1;
      if (!d || at < 0) return logSumExpRowsTo(lse, logits, N, V);
      d.row_sum_exp(at, N, V, V & ~3, lse.byteOffset, sum.byteOffset);
      for (let n = 0; n < N; n++) lse[n] = lse[n]! + Math.log(sum[n]!);
      return lse;
    },
    softmaxRows(logits, lse, coef, N, V) {
      const g = pool.take(N * V);
      const d = inPool();
      let p = d && pool.inMemory(g) ? [stage(logits)] : [-1];
      for (const a of [lse.subarray(0, N), coef.subarray(0, N)]) if (p[p.length - 1]! >= 0) p.push(stage(a));
      if (!d || p.length !== 3 || p[2]! < 0) return softmaxRowsTo(g, logits, lse, coef, N, V);
      d.softmax_rows(p[0]!, p[1]!, p[2]!, g.byteOffset, N, V, V & ~3);
      return g;
    },
    splitHeads: (x, n, T, S, H, D, out) => heads(x, out, n, T, S, H, D, 1),
    mergeHeads: (hm, n, T, S, H, D, out) => heads(out, hm, n, T, S, H, D, 0),
    rope(x, B, T, H, D, cos, sin, sign) {
      const out = pool.take(x.length);
      const d = inPool();
      const tables = D % 4 === 0 && d && pool.inMemory(x) && pool.inMemory(out) ? pool.take(4 * T * D) : null;
      if (!d || tables === null || !pool.inMemory(tables)) return ropeTo(out, x, B, T, H, D, cos, sin, sign);
      fillRopeTables(new Float64Array(tables.buffer, tables.byteOffset, 2 * T * D), cos, sin, T, D, sign);
      d.rope(x.byteOffset, out.byteOffset, B * T, H * D, D, T, tables.byteOffset, tables.byteOffset + 8 * T * D);
      return out;
    },
  };
}
