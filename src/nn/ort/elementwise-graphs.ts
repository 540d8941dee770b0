import type { OnnxGraph, OnnxNode } from './onnx-proto.js';

/**
 * onnxruntime graphs for the training step's element-wise ops: SwiGLU and RMSNorm, forward and
 * backward. The readable definitions are the reference kernels in ../kernels.ts
 * (`referenceElementwise`); kernels.test.ts checks that the two agree.
 *
 * Why: as JavaScript loops these ops took a third of a demo-size training step on one core
 * (Math.exp in SwiGLU alone about a tenth); onnxruntime runs them as vectorized passes that read
 * and write our buffers in place.
 */

const scalar = (name: string, value: number): OnnxNode => ({ op: 'Constant', inputs: [], outputs: [name], attrs: { value: { tensor: { dtype: 'float', dims: [], values: [value] } } } });
const axes = (name: string, values: number[]): OnnxNode => ({ op: 'Constant', inputs: [], outputs: [name], attrs: { value: { tensor: { dtype: 'int64', dims: [values.length], values } } } });
const bin = (op: string, a: string, b: string, out: string): OnnxNode => ({ op, inputs: [a, b], outputs: [out] });

/** gu [N,2F] → out [N,F] = silu(g)·u. */
export function swigluForwardGraph(): OnnxGraph {
  return {
    name: 'swiglu_forward',
    nodes: [
      { op: 'Split', inputs: ['gu'], outputs: ['g', 'u'], attrs: { axis: 1 } },
      { op: 'Sigmoid', inputs: ['g'], outputs: ['s'] },
      bin('Mul', 'g', 's', 'silu'),
      bin('Mul', 'silu', 'u', 'out'),
    ],
    inputs: [{ name: 'gu', shape: ['N', 'F2'] }],
    outputs: [{ name: 'out', shape: ['N', 'F'] }],
  };
}

/** gu [N,2F], dy [N,F] → dgu [N,2F]: dg = dy·u·(σ + silu·(1 − σ)), du = dy·silu. */
export function swigluBackwardGraph(): OnnxGraph {
  return {
    name: 'swiglu_backward',
    nodes: [
      { op: 'Split', inputs: ['gu'], outputs: ['g', 'u'], attrs: { axis: 1 } },
      { op: 'Sigmoid', inputs: ['g'], outputs: ['s'] },
      bin('Mul', 'g', 's', 'silu'),
      bin('Mul', 'dy', 'silu', 'du'),
      scalar('one', 1),
      bin('Sub', 'one', 's', 'oneMinusS'),
      bin('Mul', 'silu', 'oneMinusS', 't1'),
      bin('Add', 's', 't1', 'dsilu'),
      bin('Mul', 'dy', 'u', 'dyu'),
      bin('Mul', 'dyu', 'dsilu', 'dg'),
      { op: 'Concat', inputs: ['dg', 'du'], outputs: ['dgu'], attrs: { axis: 1 } },
    ],
    inputs: [
      { name: 'gu', shape: ['N', 'F2'] },
      { name: 'dy', shape: ['N', 'F'] },
    ],
    outputs: [{ name: 'dgu', shape: ['N', 'F2'] }],
  };
}

/** x [N,C], w [C] → out [N,C], rstd [N,1]: onnxruntime's fused SimplifiedLayerNormalization (RMSNorm, one pass per row). */
export function rmsnormForwardGraph(eps: number): OnnxGraph {
  return {
    name: 'rmsnorm_forward',
    nodes: [{ op: 'SimplifiedLayerNormalization', inputs: ['x', 'w'], outputs: ['out', 'rstd'], attrs: { axis: -1, epsilon: { float: eps }, stash_type: 1 } }],
    inputs: [
      { name: 'x', shape: ['N', 'C'] },
      { name: 'w', shape: ['C'] },
    ],
    outputs: [
      { name: 'out', shape: ['N', 'C'] },
      { name: 'rstd', shape: ['N', 1] },
    ],
  };
}

/** x [N,C], w [C], rstd [N,1], dy [N,C] → dx = r·(dy⊙w) − x·r³·mean(x⊙dy⊙w), dw = Σ_n dy⊙x·r. */
export function rmsnormBackwardGraph(C: number): OnnxGraph {
  return {
    name: 'rmsnorm_backward',
    nodes: [
      bin('Mul', 'dy', 'w', 'gw'),
      bin('Mul', 'gw', 'x', 'gwx'),
      axes('last', [-1]),
      axes('first', [0]),
      { op: 'ReduceSum', inputs: ['gwx', 'last'], outputs: ['dot'], attrs: { keepdims: 1 } },
      bin('Mul', 'rstd', 'rstd', 'r2'),
      bin('Mul', 'r2', 'rstd', 'r3'),
      scalar('invC', 1 / C),
      bin('Mul', 'dot', 'invC', 'mean'),
      bin('Mul', 'mean', 'r3', 'coef'),
      bin('Mul', 'gw', 'rstd', 'a'),
      bin('Mul', 'x', 'coef', 'b'),
      bin('Sub', 'a', 'b', 'dx'),
      bin('Mul', 'x', 'rstd', 'xr'),
      bin('Mul', 'dy', 'xr', 'dyxr'),
      { op: 'ReduceSum', inputs: ['dyxr', 'first'], outputs: ['dw'], attrs: { keepdims: 0 } },
    ],
    inputs: [
      { name: 'x', shape: ['N', 'C'] },
      { name: 'w', shape: ['C'] },
      { name: 'rstd', shape: ['N', 1] },
      { name: 'dy', shape: ['N', 'C'] },
    ],
    outputs: [
      { name: 'dx', shape: ['N', 'C'] },
      { name: 'dw', shape: ['C'] },
    ],
  };
}
