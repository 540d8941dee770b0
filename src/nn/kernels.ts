import { BufferPool } from './pool.js';

/**
 * The kernels behind the ops that dominate a transformer's cost: matrix products and causal
 * self-attention. Two implementations share this interface: `referenceKernels` below (plain
 * TypeScript, written to be read and trusted) and the fast onnxruntime kernels
 * (ort/ort-kernels.ts). Tests check that they agree; benchmarks compare them.
 *
 * Shape legend (llm.c style): B batch, T time, H heads, D head size, C = H·D channels.
 */
export interface Kernels {
  readonly name: string;
  /**
   * Where ops take their output buffers from; `pool.reset()` (at the start of a training step
   * or an inference call) recycles them. Results are valid until the next reset.
   */
  readonly pool: BufferPool;
  /**
   * Matrix product Y[M,N] = op(A)·op(B): A is [M,K], or [K,M] when transA; B is [K,N], or [N,K]
   * when transB. With `accumulate`, Y is added into it (Y += op(A)·op(B)) and returned.
   */
  gemm(a: Float32Array, b: Float32Array, M: number, K: number, N: number, transA: boolean, transB: boolean, accumulate?: Float32Array): Float32Array;
  /**
   * Causal multi-head attention. qkv is [B,T,3,H,D] (per token: all query heads, then keys,
   * then values; RoPE already applied). Returns out [B,T,H,D] and probs [B,H,T,T] (kept for backward).
   */
  attentionForward(qkv: Float32Array, B: number, T: number, H: number, D: number): { out: Float32Array; probs: Float32Array };
  /**
   * Gradient of attentionForward: given its output `out` and dOut [B,T,H,D], returns dQKV
   * [B,T,3,H,D]. `out` lets a kernel take softmax backward's row term Σ_s P·dP as dOut·out
   * (D products per row instead of T: FlashAttention's D_i, Dao et al. 2022); the reference ignores it.
   */
  attentionBackward(qkv: Float32Array, probs: Float32Array, out: Float32Array, dOut: Float32Array, B: number, T: number, H: number, D: number): Float32Array;
  /**
   * SwiGLU (Shazeer 2020): gu [N,2F] holding gate then up per row → silu(gate)·up [N,F].
   * The element-wise ops sit behind the interface too: as JavaScript loops they were a third of
   * a training step's time (Math.exp alone a tenth), onnxruntime runs them vectorized.
   */
  swigluForward(gu: Float32Array, N: number, F: number): Float32Array;
  /** Gradient of swigluForward: given dy [N,F], d(gu) [N,2F] (the sigmoid is recomputed, not kept). */
  swigluBackward(gu: Float32Array, dy: Float32Array, N: number, F: number): Float32Array;
  /** RMSNorm (Zhang & Sennrich 2019) over rows: x [N,C], w [C] → out = x·rstd·w and rstd [N] = 1/√(mean(x²)+eps), kept for backward. */
  rmsnormForward(x: Float32Array, w: Float32Array, N: number, C: number, eps: number): { out: Float32Array; rstd: Float32Array };
  /** Gradient of rmsnormForward: given dy [N,C], dx [N,C] and dw [C] (this call's share; the op adds it into w's gradient). */
  rmsnormBackward(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, N: number, C: number): { dx: Float32Array; dw: Float32Array };
  /** a + b (same length) into a pooled buffer: the residual connection. */
  add(a: Float32Array, b: Float32Array): Float32Array;
  /** dst += src (same length): gradient accumulation. */
  addInto(dst: Float32Array, src: Float32Array): void;
  /**
   * RoPE on the q and k parts of qkv rows [B,T,3,H,D] (v copied) into a pooled buffer; `sign` −1
   * rotates back (a rotation's transpose). cos and sin are [T, D/2] (`ropeTables` in ops.ts).
   */
  rope(qkv: Float32Array, B: number, T: number, H: number, D: number, cos: Float32Array, sin: Float32Array, sign: 1 | -1): Float32Array;
  /**
   * Softmax cross-entropy's forward pass over the logits [N,V]: lse [N] = log Σ_v e^(x[n,v]), per
   * row (pooled). As JavaScript loops (Math.exp on every logit, here and in `softmaxRows`) the
   * loss was about 5% of a demo-size training step; the fast kernels run both in SIMD.
   */
  logSumExpRows(logits: Float32Array, N: number, V: number): Float32Array;
  /** Its backward pass: g [N,V] = e^(x[n,v] − lse[n])·coef[n], rows whose coef is 0 all zeros (pooled; the caller subtracts coef[n] at row n's target). */
  softmaxRows(logits: Float32Array, lse: Float32Array, coef: Float32Array, N: number, V: number): Float32Array;
  /**
   * The decode step's dense work fused into one call per half block (ort/decode-graphs.ts), where
   * the kernels have it; without it the engine runs the same ops one by one through the methods above.
   */
  readonly fusedDecode?: FusedDecodeKernels;
}

/** One block's decode weights (views into the model's parameters, row-major [out, in], as stored). */
export interface DecodeBlockWeights {
  /** attn_norm */
  wan: Float32Array;
  /** q, k and v projections one after another: [3C, C]. */
  wqkv: Float32Array;
  wo: Float32Array;
  /** ffn_norm */
  wfn: Float32Array;
  wg: Float32Array;
  wu: Float32Array;
  wd: Float32Array;
}

/** A model's weights as the decode step reads them. */
export interface DecodeModelWeights {
  C: number;
  F: number;
  V: number;
  eps: number;
  blocks: DecodeBlockWeights[];
  /** output_norm */
  outputNorm: Float32Array;
  /** output (the LM head): [V, C]. */
  output: Float32Array;
}

/**
 * A model's decode step as one kernel call per half block; outputs are written into the buffers
 * given. Between calls the engine runs attention over the KV cache.
 */
export interface DecodeProgram {
  /** qkv [N,3C] = rmsnorm(x; block 0's wan)·Wqkvᵀ. */
  head(x: Float32Array, N: number, qkv: Float32Array): void;
  /**
   * Block l after its attention: x1 = x + att·Woᵀ; x2 = x1 + swiglu(rmsnorm(x1; wfn)·[Wg;Wu]ᵀ)·Wdᵀ;
   * then block l+1's head: qkv = rmsnorm(x2; wan)·Wqkvᵀ.
   */
  block(l: number, att: Float32Array, x: Float32Array, N: number, x2: Float32Array, qkv: Float32Array): void;
  /** The last block as `block`, then logits [R,V] = rmsnorm(x2[rows]; outputNorm)·Outputᵀ. */
  lastBlock(att: Float32Array, x: Float32Array, rows: Int32Array, N: number, logits: Float32Array): void;
  /** Frees what the program holds (native sessions); it is not called after. */
  dispose(): void;
}

/** Inference-only fused ops of the decode step. */
export interface FusedDecodeKernels {
  /**
   * The decode step over weights `w`. 'inputs': the arrays are read at every call, so training
   * may change them in place between calls. 'constants': their values now are copied into the
   * program (later changes are not seen), which lets onnxruntime pack them for its GEMMs once at
   * load instead of at every call (InferenceEngine.withFrozenWeights measures what that saves).
   */
  program(w: DecodeModelWeights, weights: 'inputs' | 'constants'): DecodeProgram;
}

/** Plain-TypeScript reference kernels: straightforward loops, no tricks. */
export function createReferenceKernels(): Kernels {
  const pool = new BufferPool();
  return { ...referenceLoops, ...referenceElementwise(pool), pool };
}

/** The element-wise kernels as plain loops, their outputs taken from `pool`. */
export function referenceElementwise(pool: BufferPool): Pick<Kernels, ElementwiseName> {
  return {
    add: (a, b) => addTo(pool.take(a.length), a, b),
    addInto,
    rope: (x, B, T, H, D, cos, sin, sign) => ropeTo(pool.take(x.length), x, B, T, H, D, cos, sin, sign),
    logSumExpRows: (logits, N, V) => logSumExpRowsTo(pool.take(N), logits, N, V),
    softmaxRows: (logits, lse, coef, N, V) => softmaxRowsTo(pool.take(N * V), logits, lse, coef, N, V),

    swigluForward(gu, N, F) {
      const out = pool.take(N * F);
      for (let n = 0; n < N; n++) {
        const o = n * 2 * F;
        for (let f = 0; f < F; f++) {
          const g = gu[o + f]!;
          out[n * F + f] = (g / (1 + Math.exp(-g))) * gu[o + F + f]!;
        }
      }
      return out;
    },

    swigluBackward(gu, dy, N, F) {
      const dgu = pool.take(N * 2 * F);
      for (let n = 0; n < N; n++) {
        const o = n * 2 * F;
        for (let f = 0; f < F; f++) {
          const g = gu[o + f]!;
          const u = gu[o + F + f]!;
          const sg = 1 / (1 + Math.exp(-g));
          const gyv = dy[n * F + f]!;
          // d silu(g)/dg = σ(g)·(1 + g·(1 − σ(g)))
          dgu[o + f] = gyv * u * sg * (1 + g * (1 - sg));
          dgu[o + F + f] = gyv * g * sg;
        }
      }
      return dgu;
    },

    rmsnormForward(x, w, N, C, eps) {
      const out = pool.take(N * C);
      const rstd = pool.take(N);
      for (let n = 0; n < N; n++) {
        const o = n * C;
        let ss = 0;
        for (let c = 0; c < C; c++) ss += x[o + c]! * x[o + c]!;
        const r = 1 / Math.sqrt(ss / C + eps);
        rstd[n] = r;
        for (let c = 0; c < C; c++) out[o + c] = x[o + c]! * r * w[c]!;
      }
      return { out, rstd };
    },

    rmsnormBackward(x, w, rstd, dy, N, C) {
      const dx = pool.take(N * C);
      const dw = pool.zeros(C);
      for (let n = 0; n < N; n++) {
        const o = n * C;
        const r = rstd[n]!;
        // d/dx of x·r·w: dx = r·(dy⊙w) − x·r³·mean(x⊙dy⊙w)
        let dot = 0;
        for (let c = 0; c < C; c++) {
          dot += dy[o + c]! * w[c]! * x[o + c]!;
          dw[c]! += dy[o + c]! * x[o + c]! * r;
        }
        const k = (dot / C) * r * r * r;
        for (let c = 0; c < C; c++) dx[o + c] = dy[o + c]! * w[c]! * r - x[o + c]! * k;
      }
      return { dx, dw };
    },
  };
}

type ElementwiseName = 'swigluForward' | 'swigluBackward' | 'rmsnormForward' | 'rmsnormBackward' | 'add' | 'addInto' | 'rope' | 'logSumExpRows' | 'softmaxRows';

/** out[n] = log Σ_v e^(x[n,v]) (`Kernels.logSumExpRows`), in doubles with the row's max taken out first; returns out. */
export function logSumExpRowsTo(out: Float32Array, x: Float32Array, N: number, V: number): Float32Array {
  for (let n = 0; n < N; n++) {
    const o = n * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (x[o + v]! > max) max = x[o + v]!;
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(x[o + v]! - max);
    out[n] = max + Math.log(s);
  }
  return out;
}

/** out[n,v] = e^(x[n,v] − lse[n])·coef[n], rows whose coef is 0 zeros (`Kernels.softmaxRows`); returns out. */
export function softmaxRowsTo(out: Float32Array, x: Float32Array, lse: Float32Array, coef: Float32Array, N: number, V: number): Float32Array {
  for (let n = 0; n < N; n++) {
    const o = n * V;
    const k = coef[n]!;
    if (k === 0) out.fill(0, o, o + V);
    else for (let v = 0; v < V; v++) out[o + v] = Math.exp(x[o + v]! - lse[n]!) * k;
  }
  return out;
}

/** out = a + b; returns out. */
export function addTo(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** dst += src. */
export function addInto(dst: Float32Array, src: Float32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i]! += src[i]!;
}

/** out = x with RoPE applied to each row's q and k (`Kernels.rope`); returns out. */
export function ropeTo(out: Float32Array, x: Float32Array, B: number, T: number, H: number, D: number, cos: Float32Array, sin: Float32Array, sign: 1 | -1): Float32Array {
  out.set(x);
  ropeRotateQK(out, B, T, H, D, cos, sin, sign);
  return out;
}

/**
 * Rotates the q and k parts of each token's qkv row [3,H,D] in place; `sign` −1 rotates back.
 * Pairs are adjacent dimensions (2i, 2i+1): see `ropeTables` in ops.ts.
 */
export function ropeRotateQK(data: Float32Array, B: number, T: number, H: number, D: number, cos: Float32Array, sin: Float32Array, sign: 1 | -1): void {
  const C = H * D;
  const half = D / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * 3 * C;
      const tab = t * half;
      for (let part = 0; part < 2; part++) {
        for (let h = 0; h < H; h++) {
          const o = row + part * C + h * D;
          for (let i = 0; i < half; i++) {
            const c = cos[tab + i]!;
            const s = sign * sin[tab + i]!;
            const x0 = data[o + 2 * i]!;
            const x1 = data[o + 2 * i + 1]!;
            data[o + 2 * i] = x0 * c - x1 * s;
            data[o + 2 * i + 1] = x0 * s + x1 * c;
          }
        }
      }
    }
  }
}

const referenceLoops: Omit<Kernels, 'pool' | ElementwiseName> = {
  name: 'reference',

  gemm(a, b, M, K, N, transA, transB, accumulate) {
    const y = accumulate ?? new Float32Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? a[k * M + i]! : a[i * K + k]!;
          const bv = transB ? b[j * K + k]! : b[k * N + j]!;
          s += av * bv;
        }
        y[i * N + j]! += s;
      }
    }
    return y;
  },

  attentionForward(qkv, B, T, H, D) {
    const C = H * D;
    const out = new Float32Array(B * T * C);
    const probs = new Float32Array(B * H * T * T);
    const scale = 1 / Math.sqrt(D);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          const qOff = (b * T + t) * 3 * C + h * D;
          const pOff = ((b * H + h) * T + t) * T;
          // scores over keys 0..t (causal), softmax
          let max = -Infinity;
          for (let s = 0; s <= t; s++) {
            const kOff = (b * T + s) * 3 * C + C + h * D;
            let dot = 0;
            for (let d = 0; d < D; d++) dot += qkv[qOff + d]! * qkv[kOff + d]!;
            probs[pOff + s] = dot * scale;
            if (dot * scale > max) max = dot * scale;
          }
          let sum = 0;
          for (let s = 0; s <= t; s++) {
            const e = Math.exp(probs[pOff + s]! - max);
            probs[pOff + s] = e;
            sum += e;
          }
          for (let s = 0; s <= t; s++) probs[pOff + s]! /= sum;
          const oOff = (b * T + t) * C + h * D;
          for (let s = 0; s <= t; s++) {
            const vOff = (b * T + s) * 3 * C + 2 * C + h * D;
            const p = probs[pOff + s]!;
            for (let d = 0; d < D; d++) out[oOff + d]! += p * qkv[vOff + d]!;
          }
        }
      }
    }
    return { out, probs };
  },

  attentionBackward(qkv, probs, _out, dOut, B, T, H, D) {
    const C = H * D;
    const dqkv = new Float32Array(B * T * 3 * C);
    const scale = 1 / Math.sqrt(D);
    const dp = new Float32Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          const pOff = ((b * H + h) * T + t) * T;
          const oOff = (b * T + t) * C + h * D;
          // dP[s] = dOut[t]·V[s];  dV[s] += P[t,s]·dOut[t]
          let dot = 0;
          for (let s = 0; s <= t; s++) {
            const vOff = (b * T + s) * 3 * C + 2 * C + h * D;
            let g = 0;
            for (let d = 0; d < D; d++) {
              g += dOut[oOff + d]! * qkv[vOff + d]!;
              dqkv[vOff + d]! += probs[pOff + s]! * dOut[oOff + d]!;
            }
            dp[s] = g;
            dot += g * probs[pOff + s]!;
          }
          // softmax backward: dS = P ⊙ (dP − Σ P·dP), then the 1/√D scale
          const qOff = (b * T + t) * 3 * C + h * D;
          for (let s = 0; s <= t; s++) {
            const ds = probs[pOff + s]! * (dp[s]! - dot) * scale;
            const kOff = (b * T + s) * 3 * C + C + h * D;
            for (let d = 0; d < D; d++) {
              dqkv[qOff + d]! += ds * qkv[kOff + d]!;
              dqkv[kOff + d]! += ds * qkv[qOff + d]!;
            }
          }
        }
      }
    }
    return dqkv;
  },
};

/** A shared instance of the reference kernels (its pool is shared too: use one model at a time). */
export const referenceKernels: Kernels = createReferenceKernels();
