import { emitExp } from './exp.js';
import { Code, unrolled, type FunctionDef, type ValType } from './wasm-builder.js';

/**
 * SwiGLU activation (Shazeer 2020, as in Llama): out[r, f] = silu(g[r, f])·u[r, f] with
 * silu(g) = g / (1 + e^-g), where each row of `gu` is [gate F | up F]. A SIMD kernel over
 * WebAssembly memory (byte offsets) and the plain-TS reference beside it.
 */
export interface SwigluKernel {
  swiglu(gu: number, out: number, N: number, F: number): void;
}

export function referenceSwiglu(memory: WebAssembly.Memory): SwigluKernel {
  return {
    swiglu(gu, out, N, F) {
      const f = new Float32Array(memory.buffer);
      const g0 = gu >> 2;
      const o0 = out >> 2;
      for (let r = 0; r < N; r++) {
        const o = g0 + r * 2 * F;
        for (let j = 0; j < F; j++) {
          const g = f[o + j]!;
          f[o0 + r * F + j] = (g / (1 + Math.exp(-g))) * f[o + F + j]!;
        }
      }
    },
  };
}

const params: [string, ValType][] = [['gu', 'i32'], ['out', 'i32'], ['N', 'i32'], ['F', 'i32']];

/** The SIMD kernel, four lanes at a time: needs F to be a multiple of 4 (the engine checks). */
export function swigluFunction(): FunctionDef {
  const c = new Code(params);
  for (const n of ['g', 'end', 'Fb']) c.local(n, 'i32');
  for (const n of ['x', 'fx', 'gv']) c.local(n, 'v128');
  c.get('F').i32(2).op('i32.shl').set('Fb');
  // Rows are contiguous: walk gate blocks row by row, out advancing with them.
  c.get('gu').get('N').get('Fb').op('i32.mul').i32(1).op('i32.shl').op('i32.add').set('end');
  // Four lanes at byte offset `at` from gu and out.
  const lanes = (at: number): void => {
    c.get('gu').vmem('v128.load', at).set('gv');
    c.f32x4(0).get('gv').v('f32x4.sub').set('x');
    c.get('out');
    c.get('gv');
    emitExp(c);
    c.f32x4(1).v('f32x4.add').v('f32x4.div');
    c.get('gu').get('Fb').op('i32.add').vmem('v128.load', at).v('f32x4.mul');
    c.vmem('v128.store', at);
  };
  c.whileLoop((cc) => void cc.get('gu').get('end').op('i32.lt_s'), () => {
    c.get('gu').get('Fb').op('i32.add').set('g'); // end of this row's gate block
    // Eight lanes a turn while they fit (two independent exp chains: about 20% faster), then four.
    unrolled(c, 'g', lanes, ['gu', 'out']);
    c.get('gu').get('Fb').op('i32.add').set('gu'); // skip the up block
  });
  return { name: 'swiglu', params, code: c };
}

