import { Code, type FunctionDef, type ValType } from './wasm-builder.js';

/**
 * The training step's residual adds, gradient accumulation and RoPE as WebAssembly SIMD kernels,
 * each bit for bit what its plain-TS loop in ../kernels.ts (`referenceElementwise`) computes, so
 * that a run gives the same numbers on either: a float32 sum rounded once is what JavaScript's
 * double sum rounded to float32 gives; RoPE runs in float64 lanes as JavaScript does (products of
 * two float32 values are exact in float64, then one rounding per sum, then one to float32).
 * residual-rope.test.ts checks the equality bit for bit.
 *
 * Why: as JavaScript loops these took about 2 ns a float (V8 does not vectorize typed-array
 * loops): a tenth of a demo-size training step.
 */

const binParams: [string, ValType][] = [['a', 'i32'], ['b', 'i32'], ['out', 'i32'], ['n4', 'i32']];

/** out = a + b over n4 groups of four floats (out may be a or b). */
export function addFunction(): FunctionDef {
  const c = new Code(binParams);
  c.local('end', 'i32');
  c.get('a').get('n4').i32(4).op('i32.shl').op('i32.add').set('end');
  c.whileLoop((cc) => void cc.get('a').get('end').op('i32.lt_s'), () => {
    c.get('out').get('a').vmem('v128.load').get('b').vmem('v128.load').v('f32x4.add').vmem('v128.store');
    c.inc('a', 16).inc('b', 16).inc('out', 16);
  });
  return { name: 'add', params: binParams, code: c };
}

const ropeParams: [string, ValType][] = [['x', 'i32'], ['out', 'i32'], ['rows', 'i32'], ['C', 'i32'], ['D', 'i32'], ['T', 'i32'], ['cc', 'i32'], ['ss', 'i32']];

/**
 * RoPE on the q and k parts of rows [rows, 3C] (row r at position r mod T), v copied; adjacent
 * pairs (2i, 2i+1) of each head of size D (D a multiple of 4). Per position t and pair i the
 * tables hold float64 pairs cc = (cos, cos) and ss = (−sin, sin) (sin with the rotation's sign):
 * (x0, x1) → (x0·cos − x1·sin, x1·cos + x0·sin).
 */
export function ropeFunction(): FunctionDef {
  const c = new Code(ropeParams);
  for (const n of ['t', 'rowEnd', 'qkEnd', 'headEnd', 'tab', 'tabRow', 'halfB', 'Db', 'Cb']) c.local(n, 'i32');
  for (const n of ['v', 'lo', 'hi']) c.local(n, 'v128');
  c.get('C').i32(2).op('i32.shl').set('Cb');
  c.get('D').i32(2).op('i32.shl').set('Db');
  // Table bytes per position: D/2 pairs × 16 bytes = D·8.
  c.get('D').i32(3).op('i32.shl').set('halfB');
  c.i32(0).set('t');
  c.whileLoop((cc) => void cc.get('rows').i32(0).op('i32.gt_s'), () => {
    c.get('x').get('Cb').i32(3).op('i32.mul').op('i32.add').set('rowEnd');
    c.get('x').get('Cb').i32(1).op('i32.shl').op('i32.add').set('qkEnd');
    c.get('t').get('halfB').op('i32.mul').set('tabRow');
    // q then k: 2H heads of D floats, each with the position's table from its start.
    c.whileLoop((cc) => void cc.get('x').get('qkEnd').op('i32.lt_s'), () => {
      c.get('x').get('Db').op('i32.add').set('headEnd');
      c.get('tabRow').set('tab');
      c.whileLoop((cc) => void cc.get('x').get('headEnd').op('i32.lt_s'), () => {
        c.get('x').vmem('v128.load').set('v');
        rotatePair(c, 'v', 0, 'lo');
        // The upper two floats moved down, then rotated with the next pair's table.
        c.get('v').get('v').shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).set('v');
        rotatePair(c, 'v', 16, 'hi');
        c.get('out').get('lo').get('hi').shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]).vmem('v128.store');
        c.inc('x', 16).inc('out', 16).inc('tab', 32);
      });
    });
    // v passes through.
    c.whileLoop((cc) => void cc.get('x').get('rowEnd').op('i32.lt_s'), () => {
      c.get('out').get('x').vmem('v128.load').vmem('v128.store');
      c.inc('x', 16).inc('out', 16);
    });
    c.inc('t', 1);
    c.block();
    c.get('t').get('T').op('i32.lt_s').brIf(0);
    c.i32(0).set('t');
    c.end();
    c.inc('rows', -1);
  });
  return { name: 'rope', params: ropeParams, code: c };

  /** Rotates the low pair of v128 `v` in float64 with the tables at tab + `at`; leaves (r0, r1, 0, 0) as float32 in `dst`. */
  function rotatePair(c: Code, v: string, at: number, dst: string): void {
    c.get(v).v('f64x2.promote_low_f32x4').set(dst);
    c.get(dst).get('cc').get('tab').op('i32.add').vmem('v128.load', at).v('f64x2.mul');
    c.get(dst).get(dst).shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]);
    c.get('ss').get('tab').op('i32.add').vmem('v128.load', at).v('f64x2.mul');
    c.v('f64x2.add').v('f32x4.demote_f64x2_zero').set(dst);
  }
}

/**
 * The float64 tables `ropeFunction` reads, for positions 0..T−1 from float32 cos/sin [T, D/2]
 * and a rotation sign (−1 rotates back): cc then ss, each T·D/2 pairs, 4·T·D floats in all.
 */
export function fillRopeTables(into: Float64Array, cos: Float32Array, sin: Float32Array, T: number, D: number, sign: 1 | -1): void {
  const half = D / 2;
  const n = T * half;
  for (let j = 0; j < n; j++) {
    const cv = cos[j]!;
    const sv = sign * sin[j]!;
    into[2 * j] = cv;
    into[2 * j + 1] = cv;
    into[2 * n + 2 * j] = -sv;
    into[2 * n + 2 * j + 1] = sv;
  }
}
