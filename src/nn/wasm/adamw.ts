import { addFunction } from './residual-rope.js';
import { buildModule, Code, type FunctionDef, type ValType } from './wasm-builder.js';

/**
 * AdamW's update as WebAssembly SIMD kernels, bit for bit what the plain-TS loops of ../adamw.ts
 * compute (`adamwRange`, `sumOfSquares`): the update in float32 lanes, the same operations in the
 * same order (WebAssembly's f32x4 arithmetic is IEEE's, correctly rounded, with no fused
 * multiply-add); the sum of squares in float64, in the reference's four partial sums (element i
 * into sum i mod 4). adamw.test.ts checks the equality bit for bit.
 *
 * Why: the JavaScript loop took 49 ms a step for the `small` size's 3.2M parameters (15 ns a
 * parameter; V8 does not vectorize typed-array loops), 4% of a one-core step; with data-parallel
 * workers it runs on the main thread alone while the workers wait, and so did the JavaScript sum
 * of the workers' gradients (7–14 ms). The first SIMD kernel computed in float64 lanes, two at a
 * time, as the JavaScript reference did, and took 9 ms of the 13.5 ms that AdamW took in a
 * two-core `small` step (session 37); in float32 lanes, four at a time, as PyTorch's AdamW
 * computes for float32 parameters, it takes 3 ms.
 */

const updateParams: [string, ValType][] = [
  ['p', 'i32'], ['g', 'i32'], ['m', 'i32'], ['v', 'i32'], ['n4', 'i32'], ['decay', 'i32'],
  ['clip', 'f32'], ['beta1', 'f32'], ['omb1', 'f32'], ['beta2', 'f32'], ['omb2', 'f32'],
  ['lr', 'f32'], ['lrwd', 'f32'], ['bc1', 'f32'], ['bc2', 'f32'], ['eps', 'f32'],
];
const constants = ['clip', 'beta1', 'omb1', 'beta2', 'omb2', 'lr', 'lrwd', 'bc1', 'bc2', 'eps'] as const;
/** Bytes 8–15 moved to 0–7: the upper two floats of a group, for f64x2.promote_low. */
const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];

/**
 * One AdamW update over n4 groups of four parameters, with weight decay when `decay` is nonzero;
 * every constant as ../adamw.ts's `adamwConstants` makes it (float32). Per element, each
 * operation rounded to float32: g' = g·clip; m' = β1·m + (1−β1)·g'; v' = β2·v + ((1−β2)·g')·g';
 * p' = p − (lr·wd)·p (decay only); p'' = p' − (lr·(m'/bc1)) / (√(v'/bc2) + ε).
 */
export function adamwFunction(): FunctionDef {
  const c = new Code(updateParams);
  c.local('end', 'i32');
  for (const n of constants) c.local(`k_${n}`, 'v128');
  for (const n of ['G', 'M', 'V', 'P']) c.local(n, 'v128');
  for (const n of constants) c.get(n).v('f32x4.splat').set(`k_${n}`);
  c.get('p').get('n4').i32(4).op('i32.shl').op('i32.add').set('end');
  const loop = (decay: boolean): void => {
    c.whileLoop((cc) => void cc.get('p').get('end').op('i32.lt_s'), () => {
      c.get('g').vmem('v128.load').get('k_clip').v('f32x4.mul').set('G');
      c.get('m').get('k_beta1').get('m').vmem('v128.load').v('f32x4.mul');
      c.get('k_omb1').get('G').v('f32x4.mul').v('f32x4.add').tee('M').vmem('v128.store');
      c.get('v').get('k_beta2').get('v').vmem('v128.load').v('f32x4.mul');
      c.get('k_omb2').get('G').v('f32x4.mul').get('G').v('f32x4.mul').v('f32x4.add').tee('V').vmem('v128.store');
      c.get('p').vmem('v128.load').set('P');
      if (decay) c.get('P').get('k_lrwd').get('P').v('f32x4.mul').v('f32x4.sub').set('P');
      c.get('p').get('P');
      c.get('k_lr').get('M').get('k_bc1').v('f32x4.div').v('f32x4.mul');
      c.get('V').get('k_bc2').v('f32x4.div').v('f32x4.sqrt').get('k_eps').v('f32x4.add');
      c.v('f32x4.div').v('f32x4.sub').vmem('v128.store');
      c.inc('p', 16).inc('g', 16).inc('m', 16).inc('v', 16);
    });
  };
  c.block();
  c.get('decay').op('i32.eqz').brIf(0);
  loop(true);
  c.op('return');
  c.end();
  loop(false);
  return { name: 'adamw', params: updateParams, code: c };
}

const sumsqParams: [string, ValType][] = [['g', 'i32'], ['n4', 'i32'], ['out', 'i32']];

/**
 * Σ g² over n4 groups of four floats, in float64 (squares of float32 values are exact there), as
 * four partial sums: the f64x2 at `out` holds (s0 + s2, s1 + s3), where s_j sums elements
 * i ≡ j (mod 4) in order; the caller adds its two lanes.
 */
export function sumOfSquaresFunction(): FunctionDef {
  const c = new Code(sumsqParams);
  c.local('end', 'i32');
  for (const n of ['x', 'lo', 'hi', 'd']) c.local(n, 'v128');
  c.f32x4(0).set('lo').f32x4(0).set('hi');
  c.get('g').get('n4').i32(4).op('i32.shl').op('i32.add').set('end');
  c.whileLoop((cc) => void cc.get('g').get('end').op('i32.lt_s'), () => {
    c.get('g').vmem('v128.load').set('x');
    c.get('x').v('f64x2.promote_low_f32x4').set('d');
    c.get('lo').get('d').get('d').v('f64x2.mul').v('f64x2.add').set('lo');
    c.get('x').get('x').shuffle(HIGH).v('f64x2.promote_low_f32x4').set('d');
    c.get('hi').get('d').get('d').v('f64x2.mul').v('f64x2.add').set('hi');
    c.inc('g', 16);
  });
  c.get('out').get('lo').get('hi').v('f64x2.add').vmem('v128.store');
  return { name: 'sumsq', params: sumsqParams, code: c };
}

export interface AdamWExports {
  adamw(p: number, g: number, m: number, v: number, n4: number, decay: number, clip: number, beta1: number, omb1: number, beta2: number, omb2: number, lr: number, lrwd: number, bc1: number, bc2: number, eps: number): void;
  sumsq(g: number, n4: number, out: number): void;
  add(a: number, b: number, out: number, n4: number): void;
}

let compiled: WebAssembly.Module | null = null;

/** An instance of the AdamW kernels over `memory`. */
export function adamwKernels(memory: WebAssembly.Memory): AdamWExports {
  compiled ??= new WebAssembly.Module(buildModule([adamwFunction(), sumOfSquaresFunction(), addFunction()]));
  return new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as AdamWExports;
}
