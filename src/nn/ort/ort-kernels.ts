import type { Kernels } from '../kernels.js';
import type { OnnxGraph, OnnxNode } from '../ort/onnx-proto.js';
import { OrtSession } from './session.js';

/**
 * Fast kernels: onnxruntime (MLAS GEMM, multithreaded) over tiny graphs we write ourselves.
 * GEMM is one Gemm node per transpose combination; causal attention forward and backward are
 * one fused graph each (transposes, batched MatMul, mask, softmax), so the O(T²) work never
 * runs in JavaScript. The readable definitions are the reference kernels in kernels.ts.
 */

function gemmGraph(transA: boolean, transB: boolean, accumulate: boolean): OnnxGraph {
  return {
    name: 'gemm',
    nodes: [{ op: 'Gemm', inputs: accumulate ? ['A', 'B', 'C'] : ['A', 'B'], outputs: ['Y'], attrs: { transA: transA ? 1 : 0, transB: transB ? 1 : 0 } }],
    inputs: [
      { name: 'A', shape: transA ? ['K', 'M'] : ['M', 'K'] },
      { name: 'B', shape: transB ? ['N', 'K'] : ['K', 'N'] },
      ...(accumulate ? [{ name: 'C', shape: ['M', 'N'] }] : []),
    ],
    outputs: [{ name: 'Y', shape: ['M', 'N'] }],
  };
}

const QKV_SHAPE = ['B', 'T', 3, 'H', 'D'];
/** [B,T,3,H,D] → [3,B,H,T,D], split into q, k, v of shape [1,B,H,T,D]. */
function splitHeads(): OnnxNode[] {
  return [
    { op: 'Transpose', inputs: ['qkv'], outputs: ['qkvT'], attrs: { perm: [2, 0, 3, 1, 4] } },
    { op: 'Split', inputs: ['qkvT'], outputs: ['q', 'k', 'v'], attrs: { axis: 0 } },
  ];
}

function attentionForwardGraph(): OnnxGraph {
  return {
    name: 'attention_forward',
    nodes: [
      ...splitHeads(),
      { op: 'Transpose', inputs: ['k'], outputs: ['kT'], attrs: { perm: [0, 1, 2, 4, 3] } },
      { op: 'MatMul', inputs: ['q', 'kT'], outputs: ['s0'] },
      { op: 'Mul', inputs: ['s0', 'scale'], outputs: ['s1'] },
      { op: 'Add', inputs: ['s1', 'mask'], outputs: ['s2'] },
      { op: 'Softmax', inputs: ['s2'], outputs: ['probs'], attrs: { axis: -1 } },
      { op: 'MatMul', inputs: ['probs', 'v'], outputs: ['o'] },
      { op: 'Transpose', inputs: ['o'], outputs: ['out'], attrs: { perm: [0, 1, 3, 2, 4] } },
    ],
    inputs: [
      { name: 'qkv', shape: QKV_SHAPE },
      { name: 'mask', shape: ['T', 'T'] },
      { name: 'scale', shape: [1] },
    ],
    outputs: [
      { name: 'out', shape: [1, 'B', 'T', 'H', 'D'] },
      { name: 'probs', shape: [1, 'B', 'H', 'T', 'T'] },
    ],
  };
}

function attentionBackwardGraph(): OnnxGraph {
  return {
    name: 'attention_backward',
    nodes: [
      ...splitHeads(),
      { op: 'Transpose', inputs: ['dout'], outputs: ['dO'], attrs: { perm: [0, 1, 3, 2, 4] } },
      { op: 'Transpose', inputs: ['probs'], outputs: ['pT'], attrs: { perm: [0, 1, 2, 4, 3] } },
      { op: 'MatMul', inputs: ['pT', 'dO'], outputs: ['dV'] },
      { op: 'Transpose', inputs: ['v'], outputs: ['vT'], attrs: { perm: [0, 1, 2, 4, 3] } },
      { op: 'MatMul', inputs: ['dO', 'vT'], outputs: ['dP'] },
      // softmax backward: dS = P ⊙ (dP − Σ_s P·dP) · scale
      { op: 'Mul', inputs: ['dP', 'probs'], outputs: ['pdp'] },
      { op: 'Constant', inputs: [], outputs: ['lastAxis'], attrs: { value: { tensor: { dtype: 'int64', dims: [1], values: [-1] } } } },
      { op: 'ReduceSum', inputs: ['pdp', 'lastAxis'], outputs: ['rowsum'], attrs: { keepdims: 1 } },
      { op: 'Sub', inputs: ['dP', 'rowsum'], outputs: ['centered'] },
      { op: 'Mul', inputs: ['centered', 'probs'], outputs: ['dS0'] },
      { op: 'Mul', inputs: ['dS0', 'scale'], outputs: ['dS'] },
      { op: 'MatMul', inputs: ['dS', 'k'], outputs: ['dQ'] },
      { op: 'Transpose', inputs: ['dS'], outputs: ['dST'], attrs: { perm: [0, 1, 2, 4, 3] } },
      { op: 'MatMul', inputs: ['dST', 'q'], outputs: ['dK'] },
      { op: 'Concat', inputs: ['dQ', 'dK', 'dV'], outputs: ['dqkvT'], attrs: { axis: 0 } },
      { op: 'Transpose', inputs: ['dqkvT'], outputs: ['dqkv'], attrs: { perm: [1, 3, 0, 2, 4] } },
    ],
    inputs: [
      { name: 'qkv', shape: QKV_SHAPE },
      { name: 'probs', shape: [1, 'B', 'H', 'T', 'T'] },
      { name: 'dout', shape: [1, 'B', 'T', 'H', 'D'] },
      { name: 'scale', shape: [1] },
    ],
    outputs: [{ name: 'dqkv', shape: QKV_SHAPE }],
  };
}

export interface OrtKernelsOptions {
  /** onnxruntime intra-op threads (default: every core). */
  threads?: number;
}

export function createOrtKernels(opts: OrtKernelsOptions = {}): Kernels {
  const sessions = new Map<string, OrtSession>();
  const session = (key: string, graph: () => OnnxGraph): OrtSession => {
    let s = sessions.get(key);
    if (!s) {
      s = new OrtSession(graph(), opts.threads);
      sessions.set(key, s);
    }
    return s;
  };
  const masks = new Map<number, Float32Array>();
  const causalMask = (T: number): Float32Array => {
    let m = masks.get(T);
    if (!m) {
      m = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e30;
      masks.set(T, m);
    }
    return m;
  };

  return {
    name: 'onnxruntime',

    gemm(a, b, M, K, N, transA, transB, accumulate) {
      const s = session(`gemm${+transA}${+transB}${accumulate ? 'c' : ''}`, () => gemmGraph(transA, transB, accumulate !== undefined));
      const inputs: Record<string, [Float32Array, number[]]> = {
        A: [a, transA ? [K, M] : [M, K]],
        B: [b, transB ? [N, K] : [K, N]],
      };
      if (accumulate) inputs['C'] = [accumulate, [M, N]];
      const y = s.run(inputs)['Y']!;
      if (accumulate) {
        accumulate.set(y);
        return accumulate;
      }
      return y;
    },

    attentionForward(qkv, B, T, H, D) {
      const s = session('attnF', attentionForwardGraph);
      const r = s.run({ qkv: [qkv, [B, T, 3, H, D]], mask: [causalMask(T), [T, T]], scale: [new Float32Array([1 / Math.sqrt(D)]), [1]] });
      return { out: r['out']!, probs: r['probs']! };
    },

    attentionBackward(qkv, probs, dOut, B, T, H, D) {
      const s = session('attnB', attentionBackwardGraph);
      return s.run({
        qkv: [qkv, [B, T, 3, H, D]],
        probs: [probs, [1, B, H, T, T]],
        dout: [dOut, [1, B, T, H, D]],
        scale: [new Float32Array([1 / Math.sqrt(D)]), [1]],
      })['dqkv']!;
    },
  };
}
