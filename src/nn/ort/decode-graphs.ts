import type { OnnxGraph, OnnxNode } from './onnx-proto.js';

/**
 * The decode step's dense work as one onnxruntime call per half block: everything between two
 * attentions (output projection, residual add, RMSNorm, the SwiGLU MLP, residual add, and the
 * next block's RMSNorm and qkv projection) is one graph, so a step of an L-block model makes
 * L + 1 calls instead of 4L + 1 GEMM calls with RMSNorm, SwiGLU and residual adds between them
 * in JavaScript. Each call into onnxruntime costs about 30 µs before any work (tensor wrappers,
 * the native run), and at batch 64 on the demo size the whole step's dense work is ~1 ms.
 *
 * Weights are inputs, not initializers: training changes them in place between calls. Gate and
 * up are two Gemm nodes over the halves of the stored [2F, C] matrix (no Split copy). The
 * readable definition is the op-by-op path in infer.ts (`InferenceEngine` without fused
 * kernels), which the tests hold this to.
 */

const gemmT = (a: string, b: string, out: string): OnnxNode => ({ op: 'Gemm', inputs: [a, b], outputs: [out], attrs: { transB: 1 } });
const rmsnorm = (x: string, w: string, out: string, eps: number): OnnxNode => ({
  op: 'SimplifiedLayerNormalization',
  inputs: [x, w],
  outputs: [out],
  attrs: { axis: -1, epsilon: { float: eps }, stash_type: 1 },
});
const bin = (op: string, a: string, b: string, out: string): OnnxNode => ({ op, inputs: [a, b], outputs: [out] });

/** x [N,C] → qkv [N,3C] = rmsnorm(x; wn)·Wqkvᵀ: the first block's head. */
export function decodeHeadGraph(eps: number): OnnxGraph {
  return {
    name: 'decode_head',
    nodes: [rmsnorm('x', 'wn', 'h', eps), gemmT('h', 'wqkv', 'qkv')],
    inputs: [
      { name: 'x', shape: ['N', 'C'] },
      { name: 'wn', shape: ['C'] },
      { name: 'wqkv', shape: ['C3', 'C'] },
    ],
    outputs: [{ name: 'qkv', shape: ['N', 'C3'] }],
  };
}

/** Block tail: att [N,C], x [N,C] → x2 = x1 + W_down·swiglu(rmsnorm(x1)), x1 = x + att·Woᵀ. */
function blockTail(eps: number): OnnxNode[] {
  return [
    gemmT('att', 'wo', 'proj'),
    bin('Add', 'x', 'proj', 'x1'),
    rmsnorm('x1', 'wfn', 'h', eps),
    gemmT('h', 'wg', 'g'),
    gemmT('h', 'wu', 'u'),
    { op: 'Sigmoid', inputs: ['g'], outputs: ['s'] },
    bin('Mul', 'g', 's', 'silu'),
    bin('Mul', 'silu', 'u', 'act'),
    gemmT('act', 'wd', 'down'),
    bin('Add', 'x1', 'down', 'x2'),
  ];
}

const blockInputs = [
  { name: 'att', shape: ['N', 'C'] },
  { name: 'x', shape: ['N', 'C'] },
  { name: 'wo', shape: ['C', 'C'] },
  { name: 'wfn', shape: ['C'] },
  { name: 'wg', shape: ['F', 'C'] },
  { name: 'wu', shape: ['F', 'C'] },
  { name: 'wd', shape: ['C', 'F'] },
];

/** A block after its attention, then the next block's head: outputs x2 [N,C] and qkv [N,3C]. */
export function decodeBlockGraph(eps: number): OnnxGraph {
  return {
    name: 'decode_block',
    nodes: [...blockTail(eps), rmsnorm('x2', 'wn', 'h2', eps), gemmT('h2', 'wqkv', 'qkv')],
    inputs: [...blockInputs, { name: 'wn', shape: ['C'] }, { name: 'wqkv', shape: ['C3', 'C'] }],
    outputs: [
      { name: 'x2', shape: ['N', 'C'] },
      { name: 'qkv', shape: ['N', 'C3'] },
    ],
  };
}

/** The last block after its attention, then the output: logits [R,V] of rows `rows` (int32 [R]) of x2. */
export function decodeLastBlockGraph(eps: number): OnnxGraph {
  return {
    name: 'decode_last_block',
    nodes: [
      ...blockTail(eps),
      { op: 'Gather', inputs: ['x2', 'rows'], outputs: ['sel'], attrs: { axis: 0 } },
      rmsnorm('sel', 'wn', 'hn', eps),
      gemmT('hn', 'wout', 'logits'),
    ],
    inputs: [...blockInputs, { name: 'rows', shape: ['R'], elemType: 6 }, { name: 'wn', shape: ['C'] }, { name: 'wout', shape: ['V', 'C'] }],
    outputs: [{ name: 'logits', shape: ['R', 'V'] }],
  };
}
