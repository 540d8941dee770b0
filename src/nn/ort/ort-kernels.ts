import { referenceElementwise, type DecodeBlockWeights, type FusedDecodeKernels, type Kernels } from '../kernels.js';
import { decodeBlockGraph, decodeHeadGraph, decodeLastBlockGraph } from './decode-graphs.js';
import { withInitializers, type OnnxGraph, type OnnxNode } from './onnx-proto.js';
import { BufferPool } from '../pool.js';
import { rmsnormBackwardGraph, rmsnormForwardGraph, swigluBackwardGraph, swigluForwardGraph } from './elementwise-graphs.js';
import { OrtSession } from './session.js';
import { simdAvailable } from '../wasm/decode-kernels.js';
import { wasmTrainElementwise } from '../wasm/train-elementwise.js';

/**
 * Fast kernels: onnxruntime (MLAS GEMM, multithreaded) over tiny graphs we write ourselves.
 * GEMM is one Gemm node per transpose combination, called on blocks of rows; causal attention
 * forward and backward are one fused graph each (transposes, batched MatMul, mask, softmax),
 * called on chunks of sequences, so the O(T²) work never runs in JavaScript. Both cuts keep
 * MLAS's working set in cache (OrtKernelsOptions says what they gained). The readable
 * definitions are the reference kernels in kernels.ts.
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

/**
 * Batched product with transposes and a scale folded in: onnxruntime's contrib FusedMatMul
 * (no separate Transpose or Mul pass over the B·H·T·T score tensors).
 */
function fusedMatMul(a: string, b: string, out: string, transA: 0 | 1, transB: 0 | 1, alpha?: number): OnnxNode {
  return { op: 'FusedMatMul', domain: 'com.microsoft', inputs: [a, b], outputs: [out], attrs: { transA, transB, ...(alpha !== undefined ? { alpha: { float: alpha } } : {}) } };
}

/** Causal attention on head-major q, k, v (any leading dims): probs = softmax(q·kᵀ/√D + mask), o = probs·v. */
function forwardCore(D: number): OnnxNode[] {
  return [
    fusedMatMul('q', 'k', 's0', 0, 1, 1 / Math.sqrt(D)),
    { op: 'Add', inputs: ['s0', 'mask'], outputs: ['s1'] },
    { op: 'Softmax', inputs: ['s1'], outputs: ['probs'], attrs: { axis: -1 } },
    { op: 'MatMul', inputs: ['probs', 'v'], outputs: ['o'] },
  ];
}

/**
 * Its backward on head-major dO: dQ, dK, dV. softmax backward: dS = P ⊙ (dP − Σ_s P·dP), with
 * Σ_s P[t,s]·dP[t,s] = dO[t]·O[t] (FlashAttention's D_i): a pass over B·T·H·D, not two over
 * B·H·T·T, computed from the token-major dout and out, then laid out as the scores' rows by
 * `perm`. The 1/√D scale is folded into dQ and dK.
 */
function backwardCore(D: number, perm: number[]): OnnxNode[] {
  const scale = 1 / Math.sqrt(D);
  return [
    fusedMatMul('probs', 'dO', 'dV', 1, 0),
    fusedMatMul('dO', 'v', 'dP', 0, 1),
    { op: 'Mul', inputs: ['dout', 'out'], outputs: ['dOO'] },
    { op: 'Constant', inputs: [], outputs: ['lastAxis'], attrs: { value: { tensor: { dtype: 'int64', dims: [1], values: [-1] } } } },
    { op: 'ReduceSum', inputs: ['dOO', 'lastAxis'], outputs: ['rowsumT'], attrs: { keepdims: 1 } },
    { op: 'Transpose', inputs: ['rowsumT'], outputs: ['rowsum'], attrs: { perm } },
    { op: 'Sub', inputs: ['dP', 'rowsum'], outputs: ['centered'] },
    { op: 'Mul', inputs: ['centered', 'probs'], outputs: ['dS'] },
    fusedMatMul('dS', 'k', 'dQ', 0, 0, scale),
    fusedMatMul('dS', 'q', 'dK', 1, 0, scale),
  ];
}

function attentionForwardGraph(D: number): OnnxGraph {
  return {
    name: 'attention_forward',
    nodes: [...splitHeads(), ...forwardCore(D), { op: 'Transpose', inputs: ['o'], outputs: ['out'], attrs: { perm: [0, 1, 3, 2, 4] } }],
    inputs: [
      { name: 'qkv', shape: QKV_SHAPE },
      { name: 'mask', shape: ['T', 'T'] },
    ],
    outputs: [
      { name: 'out', shape: [1, 'B', 'T', 'H', 'D'] },
      { name: 'probs', shape: [1, 'B', 'H', 'T', 'T'] },
    ],
  };
}

function attentionBackwardGraph(D: number): OnnxGraph {
  return {
    name: 'attention_backward',
    nodes: [
      ...splitHeads(),
      { op: 'Transpose', inputs: ['dout'], outputs: ['dO'], attrs: { perm: [0, 1, 3, 2, 4] } },
      ...backwardCore(D, [0, 1, 3, 2, 4]),
      { op: 'Concat', inputs: ['dQ', 'dK', 'dV'], outputs: ['dqkvT'], attrs: { axis: 0 } },
      { op: 'Transpose', inputs: ['dqkvT'], outputs: ['dqkv'], attrs: { perm: [1, 3, 0, 2, 4] } },
    ],
    inputs: [
      { name: 'qkv', shape: QKV_SHAPE },
      { name: 'probs', shape: [1, 'B', 'H', 'T', 'T'] },
      { name: 'out', shape: [1, 'B', 'T', 'H', 'D'] },
      { name: 'dout', shape: [1, 'B', 'T', 'H', 'D'] },
    ],
    outputs: [{ name: 'dqkv', shape: QKV_SHAPE }],
  };
}

const HEADS = ['B', 'H', 'T', 'D'];

/**
 * Attention forward over head-major q, k, v [n,H,T,D] (laid out by the SIMD kernels of
 * wasm/heads.ts, which also lay its output back): the graph above without its layout nodes.
 */
function attentionForwardHeadsGraph(D: number): OnnxGraph {
  return {
    name: 'attention_forward_heads',
    nodes: forwardCore(D),
    inputs: [
      { name: 'q', shape: HEADS },
      { name: 'k', shape: HEADS },
      { name: 'v', shape: HEADS },
      { name: 'mask', shape: ['T', 'T'] },
    ],
    outputs: [
      { name: 'o', shape: HEADS },
      { name: 'probs', shape: ['B', 'H', 'T', 'T'] },
    ],
  };
}

/** Attention backward over head-major q, k, v and dO [n,H,T,D]: dQ, dK, dV head-major. */
function attentionBackwardHeadsGraph(D: number): OnnxGraph {
  return {
    name: 'attention_backward_heads',
    nodes: backwardCore(D, [0, 2, 1, 3]),
    inputs: [
      { name: 'q', shape: HEADS },
      { name: 'k', shape: HEADS },
      { name: 'v', shape: HEADS },
      { name: 'probs', shape: ['B', 'H', 'T', 'T'] },
      { name: 'dO', shape: HEADS },
      { name: 'dout', shape: ['B', 'T', 'H', 'D'] },
      { name: 'out', shape: ['B', 'T', 'H', 'D'] },
    ],
    outputs: [
      { name: 'dQ', shape: HEADS },
      { name: 'dK', shape: HEADS },
      { name: 'dV', shape: HEADS },
    ],
  };
}

export interface OrtKernelsOptions {
  /** onnxruntime intra-op threads (default: session.ts's ortThreads(), one unless SEARCHLEARN_THREADS says otherwise). */
  threads?: number;
  /**
   * Most rows of A (and of the output) in one Gemm call; a taller product runs as near-equal
   * blocks of at most this many rows (multiples of 8), each a call over views of the same
   * buffers. Default 1024. Why: MLAS streams all of A once per panel of B, and on the 2-vCPU
   * VM (Zen 3, 512 KiB L2 per core) a 4096-row A ran at 31–38 GFLOP/s where 512–1024-row
   * blocks ran at 55–64 for most of the model's shapes (K 688 N 256: 33.5 → 60.0; K 1376 N 256:
   * 34.3 → 64.1). A training step of `small` (B 32, T 128) went from 3,220 to 2,724 ms, the demo
   * size's from 595 to 571 (same process, interleaved, medians of 8 and 16). Each output element
   * is computed as before: the blocked products are bit-identical to the single call. Products
   * with A transposed (the weight gradients, K = the tokens) stay whole: cutting their K changes
   * rounding and gained nothing measurable.
   */
  gemmRowBlock?: number;
  /**
   * Attention forward and backward run over chunks of whole sequences whose score tensors
   * ([H,T,T] floats each) hold at most this many bytes together (at least one sequence a call).
   * Default 512 KiB, one core's L2 on Zen 3. Why: the graphs make several passes over the
   * B·H·T·T scores (mask, softmax, the products, softmax's backward), and with the whole batch
   * at once each pass streamed them from memory: forward and backward of the demo size (B 32,
   * T 128, H 4) took 59 ms a layer, in chunks of 2 sequences 28–32; of `small` (H 8) 110 ms and
   * 71–80 in chunks of 2 (quiet, best of 5). Sequences are independent, so the outputs are the
   * same floats.
   */
  attentionChunkBytes?: number;
  /**
   * Where attention's layout changes run: 'simd' (default where the SIMD kernels run and the pool
   * keeps its buffers in WebAssembly memory): wasm/heads.ts, around graphs without layout nodes;
   * 'graph': Transpose, Split and Concat nodes inside the graphs. The same bits either way.
   */
  attentionLayout?: 'simd' | 'graph';
}

export const defaultGemmRowBlock = 1024;
export const defaultAttentionChunkBytes = 512 * 1024;

/** Views of sequences [b0, b0+n) of the attention tensors: qkv-shaped [B,T,3,H,D], out-shaped [B,T,H,D], probs [B,H,T,T]. */
function sequenceViews(b0: number, n: number, T: number, H: number, D: number) {
  const view = (per: number) => (x: Float32Array): Float32Array => x.subarray(b0 * per, (b0 + n) * per);
  return { qkv: view(T * 3 * H * D), out: view(T * H * D), probs: view(H * T * T) };
}

/** The fast kernels, and how many attention chunks ran with each layout path (for tests). */
export type OrtKernels = Kernels & { readonly attentionChunks: { simd: number; graph: number } };

export function createOrtKernels(opts: OrtKernelsOptions = {}): OrtKernels {
  const rowBlock = opts.gemmRowBlock ?? defaultGemmRowBlock;
  if (!(rowBlock >= 8)) throw new Error(`gemmRowBlock ${rowBlock}: expected a number >= 8`);
  const chunkBytes = opts.attentionChunkBytes ?? defaultAttentionChunkBytes;
  /** Runs `f` over consecutive chunks of the B sequences, each holding at most chunkBytes of scores (at least one sequence). */
  const chunkSequences = (scoresPerSequence: number): number => Math.max(1, Math.floor(chunkBytes / (4 * scoresPerSequence)));
  const forChunks = (B: number, scoresPerSequence: number, f: (b0: number, n: number) => void): void => {
    const per = chunkSequences(scoresPerSequence);
    for (let b0 = 0; b0 < B; b0 += per) f(b0, Math.min(per, B - b0));
  };
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

  // Activations live in WebAssembly memory where the runtime has SIMD, so that its kernels work
  // on them in place (pool.ts). SwiGLU and RMSNorm run as WebAssembly SIMD kernels (one pass
  // each) where the width divides into lanes, else as onnxruntime graphs; the residual adds and
  // RoPE as SIMD kernels, else as plain loops.
  const pool = new BufferPool({ wasm: simdAvailable() });
  const simd = simdAvailable() ? wasmTrainElementwise(pool) : null;
  const { add, addInto, rope, logSumExpRows, softmaxRows } = simd ?? referenceElementwise(pool);
  const heads = opts.attentionLayout !== 'graph' ? simd : null;
  const attentionChunks = { simd: 0, graph: 0 };

  const fusedDecode: FusedDecodeKernels = {
    program(w, weights) {
      const { C, F, V, eps } = w;
      const L = w.blocks.length;
      const dims: Record<string, number[]> = { wn: [C], wqkv: [3 * C, C], wo: [C, C], wfn: [C], wg: [F, C], wu: [F, C], wd: [C, F], wout: [V, C] };
      const tail = (b: DecodeBlockWeights): Record<string, Float32Array> => ({ wo: b.wo, wfn: b.wfn, wg: b.wg, wu: b.wu, wd: b.wd });
      const owned: OrtSession[] = [];
      // One graph with its weights: as inputs, a session shared by every program (its weights
      // fed at each call); as constants, a session of this program's own.
      const compile = (key: string, graph: () => OnnxGraph, ws: Record<string, Float32Array>) => {
        if (weights === 'inputs') {
          const feeds: Record<string, [Float32Array, number[]]> = {};
          for (const [name, data] of Object.entries(ws)) feeds[name] = [data, dims[name]!];
          return { s: session(key, graph), feeds };
        }
        const s = new OrtSession(withInitializers(graph(), Object.entries(ws).map(([name, data]) => ({ name, dims: dims[name]!, data }))), opts.threads);
        owned.push(s);
        return { s, feeds: {} };
      };
      const head = compile(`decHead${eps}`, () => decodeHeadGraph(eps), { wn: w.blocks[0]!.wan, wqkv: w.blocks[0]!.wqkv });
      const blocks = w.blocks.slice(0, L - 1).map((b, l) => compile(`decBlock${eps}`, () => decodeBlockGraph(eps), { ...tail(b), wn: w.blocks[l + 1]!.wan, wqkv: w.blocks[l + 1]!.wqkv }));
      const last = compile(`decLast${eps}`, () => decodeLastBlockGraph(eps), { ...tail(w.blocks[L - 1]!), wn: w.outputNorm, wout: w.output });
      return {
        head(x, N, qkv) {
          head.s.run({ x: [x, [N, C]], ...head.feeds }, { qkv: [qkv, [N, 3 * C]] });
        },
        block(l, att, x, N, x2, qkv) {
          const b = blocks[l]!;
          b.s.run({ att: [att, [N, C]], x: [x, [N, C]], ...b.feeds }, { x2: [x2, [N, C]], qkv: [qkv, [N, 3 * C]] });
        },
        lastBlock(att, x, rows, N, logits) {
          last.s.run({ att: [att, [N, C]], x: [x, [N, C]], rows: [rows, [rows.length]], ...last.feeds }, { logits: [logits, [rows.length, V]] });
        },
        dispose() {
          for (const s of owned.splice(0)) s.dispose();
        },
      };
    },
  };

  return {
    name: 'onnxruntime',
    attentionChunks,
    pool,
    fusedDecode,
    add,
    addInto,
    rope,
    logSumExpRows,
    softmaxRows,

    gemm(a, b, M, K, N, transA, transB, accumulate) {
      const s = session(`gemm${+transA}${+transB}${accumulate ? 'c' : ''}`, () => gemmGraph(transA, transB, accumulate !== undefined));
      const inputs: Record<string, [Float32Array, number[]]> = {
        A: [a, transA ? [K, M] : [M, K]],
        B: [b, transB ? [N, K] : [K, N]],
      };
      if (accumulate) inputs['C'] = [accumulate, [M, N]];
      const y = pool.take(M * N);
      if (transA || M <= rowBlock) s.run(inputs, { Y: [y, [M, N]] });
      else {
        // Row blocks (OrtKernelsOptions.gemmRowBlock): views of A, C and Y, the same B.
        const step = Math.ceil(M / Math.ceil(M / rowBlock) / 8) * 8;
        for (let m0 = 0; m0 < M; m0 += step) {
          const m = Math.min(step, M - m0);
          const part: Record<string, [Float32Array, number[]]> = { A: [a.subarray(m0 * K, (m0 + m) * K), [m, K]], B: inputs['B']! };
          if (accumulate) part['C'] = [accumulate.subarray(m0 * N, (m0 + m) * N), [m, N]];
          s.run(part, { Y: [y.subarray(m0 * N, (m0 + m) * N), [m, N]] });
        }
      }
      if (accumulate) {
        accumulate.set(y);
        return accumulate;
      }
      return y;
    },

    attentionForward(qkv, B, T, H, D) {
      const out = pool.take(B * T * H * D);
      const probs = pool.take(B * H * T * T);
      const mask = causalMask(T);
      // One chunk's head-major q, k, v and output, reused chunk after chunk.
      const most = Math.min(B, chunkSequences(H * T * T));
      const hm = heads ? pool.take(4 * most * T * H * D) : null;
      forChunks(B, H * T * T, (b0, n) => {
        const v = sequenceViews(b0, n, T, H, D);
        const per = n * H * T * D;
        const part = (i: number): [Float32Array, number[]] => [hm!.subarray(i * per, (i + 1) * per), [n, H, T, D]];
        if (hm && heads!.splitHeads(v.qkv(qkv), n, T, 3, H, D, hm)) {
          session(`attnFh${D}`, () => attentionForwardHeadsGraph(D)).run(
            { q: part(0), k: part(1), v: part(2), mask: [mask, [T, T]] },
            { o: part(3), probs: [v.probs(probs), [n, H, T, T]] },
          );
          if (heads!.mergeHeads(part(3)[0], n, T, 1, H, D, v.out(out))) {
            attentionChunks.simd++;
            return;
          }
        }
        attentionChunks.graph++;
        session(`attnF${D}`, () => attentionForwardGraph(D)).run(
          { qkv: [v.qkv(qkv), [n, T, 3, H, D]], mask: [mask, [T, T]] },
          { out: [v.out(out), [1, n, T, H, D]], probs: [v.probs(probs), [1, n, H, T, T]] },
        );
      });
      return { out, probs };
    },

    attentionBackward(qkv, probs, out, dOut, B, T, H, D) {
      const dqkv = pool.take(B * T * 3 * H * D);
      // One chunk's head-major q, k, v, dO and dQ, dK, dV, reused chunk after chunk.
      const most = Math.min(B, chunkSequences(H * T * T));
      const hm = heads ? pool.take(7 * most * T * H * D) : null;
      forChunks(B, H * T * T, (b0, n) => {
        const v = sequenceViews(b0, n, T, H, D);
        const per = n * H * T * D;
        const part = (i: number): [Float32Array, number[]] => [hm!.subarray(i * per, (i + 1) * per), [n, H, T, D]];
        if (hm && heads!.splitHeads(v.qkv(qkv), n, T, 3, H, D, hm) && heads!.splitHeads(v.out(dOut), n, T, 1, H, D, part(3)[0])) {
          session(`attnBh${D}`, () => attentionBackwardHeadsGraph(D)).run(
            { q: part(0), k: part(1), v: part(2), probs: [v.probs(probs), [n, H, T, T]], dO: part(3), dout: [v.out(dOut), [n, T, H, D]], out: [v.out(out), [n, T, H, D]] },
            { dQ: part(4), dK: part(5), dV: part(6) },
          );
          if (heads!.mergeHeads(hm.subarray(4 * per, 7 * per), n, T, 3, H, D, v.qkv(dqkv))) {
            attentionChunks.simd++;
            return;
          }
        }
        attentionChunks.graph++;
        session(`attnB${D}`, () => attentionBackwardGraph(D)).run(
          { qkv: [v.qkv(qkv), [n, T, 3, H, D]], probs: [v.probs(probs), [1, n, H, T, T]], out: [v.out(out), [1, n, T, H, D]], dout: [v.out(dOut), [1, n, T, H, D]] },
          { dqkv: [v.qkv(dqkv), [n, T, 3, H, D]] },
        );
      });
      return dqkv;
    },

    swigluForward(gu, N, F) {
      if (simd && F % 4 === 0) return simd.swigluForward(gu, N, F);
      const out = pool.take(N * F);
      session('swigluF', swigluForwardGraph).run({ gu: [gu, [N, 2 * F]] }, { out: [out, [N, F]] });
      return out;
    },

    swigluBackward(gu, dy, N, F) {
      if (simd && F % 4 === 0) return simd.swigluBackward(gu, dy, N, F);
      const dgu = pool.take(N * 2 * F);
      session('swigluB', swigluBackwardGraph).run({ gu: [gu, [N, 2 * F]], dy: [dy, [N, F]] }, { dgu: [dgu, [N, 2 * F]] });
      return dgu;
    },

    rmsnormForward(x, w, N, C, eps) {
      if (simd && C % 4 === 0) return simd.rmsnormForward(x, w, N, C, eps);
      const out = pool.take(N * C);
      const rstd = pool.take(N);
      session(`rmsF${eps}`, () => rmsnormForwardGraph(eps)).run({ x: [x, [N, C]], w: [w, [C]] }, { out: [out, [N, C]], rstd: [rstd, [N, 1]] });
      return { out, rstd };
    },

    rmsnormBackward(x, w, rstd, dy, N, C) {
      if (simd && C % 4 === 0) return simd.rmsnormBackward(x, w, rstd, dy, N, C);
      const dx = pool.take(N * C);
      const dw = pool.take(C);
      session(`rmsB${C}`, () => rmsnormBackwardGraph(C)).run({ x: [x, [N, C]], w: [w, [C]], rstd: [rstd, [N, 1]], dy: [dy, [N, C]] }, { dx: [dx, [N, C]], dw: [dw, [C]] });
      return { dx, dw };
    },
  };
}
