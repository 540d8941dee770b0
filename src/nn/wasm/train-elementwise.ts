import type { BufferPool } from '../pool.js';
import { emitExp } from './exp.js';
import { swigluFunction } from './swiglu.js';
import { buildModule, Code, type FunctionDef, type ValType } from './wasm-builder.js';

/**
 * The training step's SwiGLU, forward and backward, as WebAssembly SIMD kernels over Float32Arrays:
 * inputs are copied into a scratch WebAssembly memory, the kernel makes one pass, the result is
 * copied out into a pooled buffer. The plain-TS definitions are `referenceElementwise` in
 * ../kernels.ts; train-elementwise.test.ts checks that the two agree.
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
  c.whileLoop((cc) => void cc.get('gu').get('end').op('i32.lt_s'), () => {
    c.get('gu').get('Fb').op('i32.add').set('rowEnd');
    c.whileLoop((cc) => void cc.get('gu').get('rowEnd').op('i32.lt_s'), () => {
      c.get('gu').vmem('v128.load').set('gv');
      c.get('gu').get('Fb').op('i32.add').vmem('v128.load').set('uv');
      c.get('dy').vmem('v128.load').set('dv');
      // s = 1 / (1 + e^-g)
      c.f32x4(0).get('gv').v('f32x4.sub').set('x');
      c.f32x4(1);
      emitExp(c);
      c.f32x4(1).v('f32x4.add').v('f32x4.div').set('s');
      c.get('gv').get('s').v('f32x4.mul').set('silu');
      // d(up) = dy·silu, stored in the up half of the row
      c.get('dgu').get('Fb').op('i32.add');
      c.get('dv').get('silu').v('f32x4.mul');
      c.vmem('v128.store');
      // d(gate) = dy·u·(s + silu·(1 − s))
      c.get('dgu');
      c.get('dv').get('uv').v('f32x4.mul');
      c.get('s').get('silu').f32x4(1).get('s').v('f32x4.sub').v('f32x4.mul').v('f32x4.add');
      c.v('f32x4.mul');
      c.vmem('v128.store');
      c.get('gu').i32(16).op('i32.add').set('gu');
      c.get('dy').i32(16).op('i32.add').set('dy');
      c.get('dgu').i32(16).op('i32.add').set('dgu');
    });
    c.get('gu').get('Fb').op('i32.add').set('gu');
    c.get('dgu').get('Fb').op('i32.add').set('dgu');
  });
  return { name: 'swiglu_backward', params: bwdParams, code: c };
}

let compiled: WebAssembly.Module | null = null;

export interface SwigluTrainKernels {
  swigluForward(gu: Float32Array, N: number, F: number): Float32Array;
  swigluBackward(gu: Float32Array, dy: Float32Array, N: number, F: number): Float32Array;
}

/** SIMD SwiGLU for the training step (F must be a multiple of 4), outputs taken from `pool`. */
export function wasmSwigluTrain(pool: BufferPool): SwigluTrainKernels {
  compiled ??= new WebAssembly.Module(buildModule([swigluFunction(), swigluBackwardFunction()]));
  const memory = new WebAssembly.Memory({ initial: 1 });
  const e = new WebAssembly.Instance(compiled, { env: { memory } }).exports as {
    swiglu: (gu: number, out: number, N: number, F: number) => void;
    swiglu_backward: (gu: number, dy: number, dgu: number, N: number, F: number) => void;
  };
  let f32 = new Float32Array(memory.buffer);
  // The scratch memory holds one call's inputs and output (floats), grown to the largest call.
  const room = (floats: number): Float32Array => {
    const bytes = floats * 4;
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
    if (f32.buffer !== memory.buffer) f32 = new Float32Array(memory.buffer);
    return f32;
  };
  const check = (F: number): void => {
    if (F % 4 !== 0) throw new Error(`SIMD SwiGLU needs a width that is a multiple of 4, got ${F}`);
  };
  return {
    swigluForward(gu, N, F) {
      check(F);
      const n = N * F;
      const m = room(3 * n);
      m.set(gu, 0);
      e.swiglu(0, 2 * n * 4, N, F);
      const out = pool.take(n);
      out.set(m.subarray(2 * n, 3 * n));
      return out;
    },
    swigluBackward(gu, dy, N, F) {
      check(F);
      const n = N * F;
      const m = room(5 * n);
      m.set(gu, 0);
      m.set(dy, 2 * n);
      e.swiglu_backward(0, 2 * n * 4, 3 * n * 4, N, F);
      const dgu = pool.take(2 * n);
      dgu.set(m.subarray(3 * n, 5 * n));
      return dgu;
    },
  };
}
