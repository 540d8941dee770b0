import { Code, type FunctionDef, type ValType } from './wasm-builder.js';

/**
 * Attention's layout changes as one WebAssembly pass each: token-major rows [n, T, S, H, D] (S
 * slots per token: q, k, v for S = 3) to slot- and head-major [S, n, H, T, D], where each head's
 * T×D block is contiguous for the batched products, and back. Pure data movement in blocks of D
 * floats (D a multiple of 4), so the results are the same bits as any other copy.
 *
 * Why: onnxruntime ran these as Transpose, Split and Concat nodes inside the attention graphs, a
 * third of attention's time for the `small` size (its 5-D Transpose alone 17% of the backward
 * graph, measured with onnxruntime's profiler); here each is one streaming copy.
 */

const params: [string, ValType][] = [['tok', 'i32'], ['hm', 'i32'], ['n', 'i32'], ['T', 'i32'], ['S', 'i32'], ['H', 'i32'], ['D', 'i32'], ['toHeads', 'i32']];

/**
 * Copies between token-major `tok` and head-major `hm` (byte offsets): `toHeads` nonzero writes
 * hm from tok, zero writes tok from hm. Walks tok in order; the head-major address of token
 * (b, t), slot s, head h is hm + s·(n·H·T·D) + ((b·H + h)·T + t)·D floats.
 */
export function headsFunction(): FunctionDef {
  const c = new Code(params);
  for (const n of ['Db', 'headB', 'slotB', 'seqB', 'b', 't', 's', 'h', 'row', 'slot', 'at', 'end']) c.local(n, 'i32');
  c.get('D').i32(2).op('i32.shl').set('Db');
  c.get('T').get('Db').op('i32.mul').set('headB');
  c.get('H').get('headB').op('i32.mul').set('seqB');
  c.get('n').get('seqB').op('i32.mul').set('slotB');
  c.i32(0).set('b');
  c.whileLoop((cc) => void cc.get('b').get('n').op('i32.lt_s'), () => {
    c.i32(0).set('t');
    c.whileLoop((cc) => void cc.get('t').get('T').op('i32.lt_s'), () => {
      // hm address of (b, t), slot 0, head 0.
      c.get('hm').get('b').get('seqB').op('i32.mul').op('i32.add').get('t').get('Db').op('i32.mul').op('i32.add').set('row');
      c.i32(0).set('s');
      c.whileLoop((cc) => void cc.get('s').get('S').op('i32.lt_s'), () => {
        c.get('row').get('s').get('slotB').op('i32.mul').op('i32.add').set('slot');
        c.i32(0).set('h');
        c.whileLoop((cc) => void cc.get('h').get('H').op('i32.lt_s'), () => {
          c.get('slot').get('h').get('headB').op('i32.mul').op('i32.add').set('at');
          c.get('tok').get('Db').op('i32.add').set('end');
          c.block();
          c.get('toHeads').op('i32.eqz').brIf(0);
          c.whileLoop((cc) => void cc.get('tok').get('end').op('i32.lt_s'), () => {
            c.get('at').get('tok').vmem('v128.load').vmem('v128.store');
            c.inc('tok', 16).inc('at', 16);
          });
          c.end();
          // toHeads = 0: the same blocks the other way (tok is still at the block's start then).
          c.whileLoop((cc) => void cc.get('tok').get('end').op('i32.lt_s'), () => {
            c.get('tok').get('at').vmem('v128.load').vmem('v128.store');
            c.inc('tok', 16).inc('at', 16);
          });
          c.inc('h', 1);
        });
        c.inc('s', 1);
      });
      c.inc('t', 1);
    });
    c.inc('b', 1);
  });
  return { name: 'heads', params, code: c };
}

/** The plain-TS definition `headsFunction` follows (heads.test.ts checks them against each other). */
export function headsReference(tok: Float32Array, hm: Float32Array, n: number, T: number, S: number, H: number, D: number, toHeads: boolean): void {
  let i = 0;
  for (let b = 0; b < n; b++) {
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < S; s++) {
        for (let h = 0; h < H; h++) {
          const at = s * n * H * T * D + ((b * H + h) * T + t) * D;
          for (let d = 0; d < D; d++, i++) {
            if (toHeads) hm[at + d] = tok[i]!;
            else tok[i] = hm[at + d]!;
          }
        }
      }
    }
  }
}
