import { emitExp } from './exp.js';
import { Code, type FunctionDef, type ValType } from './wasm-builder.js';

/**
 * Softmax cross-entropy's two passes over the logits [N, V] as WebAssembly SIMD kernels (the
 * plain-TS definitions are `logSumExpRows` and `softmaxRows` of ../kernels.ts's reference
 * kernels; kernels.test.ts checks that they agree). Rows are V floats wide, so they start at any
 * float: four lanes at a time up to V4 = V rounded down to 4, then one float at a time (exp on a
 * splatted lane). float32 arithmetic, with the Cephes exp of exp.ts (relative error about 1e-7).
 *
 * Why: as JavaScript loops (Math.exp on every logit, forward and backward) the loss took about
 * 5% of a demo-size training step.
 */

const fwdParams: [string, ValType][] = [['row', 'i32'], ['N', 'i32'], ['V', 'i32'], ['V4', 'i32'], ['maxOut', 'i32'], ['sumOut', 'i32']];

/** Per row n (rows of V floats from byte offset `row`): maxOut[n] = max_v x[n,v] and sumOut[n] = Σ_v e^(x[n,v] − max) (the caller takes lse = max + log sum). */
export function rowSumExpFunction(): FunctionDef {
  const c = new Code(fwdParams);
  for (const n of ['p', 'end4', 'end', 'rowB']) c.local(n, 'i32');
  for (const n of ['m', 's']) c.local(n, 'f32');
  for (const n of ['x', 'fx', 'vm', 'vs']) c.local(n, 'v128');
  c.get('V').i32(2).op('i32.shl').set('rowB');
  c.whileLoop((cc) => void cc.get('N').i32(0).op('i32.gt_s'), () => {
    c.get('row').get('V4').i32(2).op('i32.shl').op('i32.add').set('end4');
    c.get('row').get('rowB').op('i32.add').set('end');
    // max
    c.f32x4(-Infinity).set('vm');
    c.get('row').set('p');
    c.whileLoop((cc) => void cc.get('p').get('end4').op('i32.lt_s'), () => {
      c.get('vm').get('p').vmem('v128.load').v('f32x4.max').set('vm');
      c.inc('p', 16);
    });
    c.get('vm').lane(0).get('vm').lane(1).op('f32.max').get('vm').lane(2).op('f32.max').get('vm').lane(3).op('f32.max').set('m');
    c.whileLoop((cc) => void cc.get('p').get('end').op('i32.lt_s'), () => {
      c.get('m').get('p').mem('f32.load').op('f32.max').set('m');
      c.inc('p', 4);
    });
    // Σ e^(x − max)
    c.get('m').v('f32x4.splat').set('vm');
    c.f32x4(0).set('vs');
    c.get('row').set('p');
    c.whileLoop((cc) => void cc.get('p').get('end4').op('i32.lt_s'), () => {
      c.get('p').vmem('v128.load').get('vm').v('f32x4.sub').set('x');
      emitExp(c);
      c.get('vs').v('f32x4.add').set('vs');
      c.inc('p', 16);
    });
    c.get('vs').lane(0).get('vs').lane(1).op('f32.add').get('vs').lane(2).op('f32.add').get('vs').lane(3).op('f32.add').set('s');
    c.whileLoop((cc) => void cc.get('p').get('end').op('i32.lt_s'), () => {
      c.get('p').mem('f32.load').get('m').op('f32.sub').v('f32x4.splat').set('x');
      emitExp(c);
      c.lane(0).get('s').op('f32.add').set('s');
      c.inc('p', 4);
    });
    c.get('maxOut').get('m').mem('f32.store');
    c.get('sumOut').get('s').mem('f32.store');
    c.inc('maxOut', 4).inc('sumOut', 4);
    c.get('end').set('row');
    c.inc('N', -1);
  });
  return { name: 'row_sum_exp', params: fwdParams, code: c };
}

const bwdParams: [string, ValType][] = [['logits', 'i32'], ['lse', 'i32'], ['coef', 'i32'], ['g', 'i32'], ['N', 'i32'], ['V', 'i32'], ['V4', 'i32']];

/** Per row n: g[n,v] = e^(x[n,v] − lse[n]) · coef[n], or 0 where coef[n] = 0 (the caller subtracts coef at the targets). */
export function softmaxRowsFunction(): FunctionDef {
  const c = new Code(bwdParams);
  for (const n of ['p', 'q', 'end4', 'end']) c.local(n, 'i32');
  for (const n of ['l', 'k']) c.local(n, 'f32');
  for (const n of ['x', 'fx', 'vl', 'vk']) c.local(n, 'v128');
  c.get('logits').set('p');
  c.get('g').set('q');
  c.whileLoop((cc) => void cc.get('N').i32(0).op('i32.gt_s'), () => {
    c.get('p').get('V4').i32(2).op('i32.shl').op('i32.add').set('end4');
    c.get('p').get('V').i32(2).op('i32.shl').op('i32.add').set('end');
    c.get('coef').mem('f32.load').set('k');
    c.block();
    c.get('k').f32(0).op('f32.ne').brIf(0);
    // A row out of the loss: zeros.
    c.whileLoop((cc) => void cc.get('p').get('end').op('i32.lt_s'), () => {
      c.get('q').f32(0).mem('f32.store');
      c.inc('p', 4).inc('q', 4);
    });
    c.end();
    c.get('lse').mem('f32.load').set('l');
    c.get('l').v('f32x4.splat').set('vl');
    c.get('k').v('f32x4.splat').set('vk');
    c.whileLoop((cc) => void cc.get('p').get('end4').op('i32.lt_s'), () => {
      c.get('p').vmem('v128.load').get('vl').v('f32x4.sub').set('x');
      c.get('q');
      emitExp(c);
      c.get('vk').v('f32x4.mul').vmem('v128.store');
      c.inc('p', 16).inc('q', 16);
    });
    c.whileLoop((cc) => void cc.get('p').get('end').op('i32.lt_s'), () => {
      c.get('p').mem('f32.load').get('l').op('f32.sub').v('f32x4.splat').set('x');
      c.get('q');
      emitExp(c);
      c.lane(0).get('k').op('f32.mul').mem('f32.store');
      c.inc('p', 4).inc('q', 4);
    });
    c.inc('lse', 4).inc('coef', 4);
    c.inc('N', -1);
  });
  return { name: 'softmax_rows', params: bwdParams, code: c };
}
