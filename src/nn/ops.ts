import type { Kernels } from './kernels.js';
import { Tensor } from './tensor.js';

/**
 * Differentiable ops of the Llama block, each a forward computation plus the backward closure
 * that adds gradients into its inputs. Matrix products, attention, the norms, SwiGLU, the
 * residual adds, gradient accumulation and RoPE go through `Kernels` (reference or fast); the
 * embedding and the losses are plain loops.
 * Every op's backward is checked against finite differences in ops.test.ts.
 *
 * Shape legend: N rows (= B·T tokens), C channels, V vocabulary, F MLP width.
 */

/** Embedding lookup: ids [N] into table [V,C] → [N,C]. */
export function embedding(table: Tensor, ids: Int32Array, k: Kernels): Tensor {
  const [V, C] = table.shape as [number, number];
  const N = ids.length;
  const out = k.pool.take(N * C);
  for (let n = 0; n < N; n++) {
    const id = ids[n]!;
    if (id < 0 || id >= V) throw new Error(`embedding: token id ${id} out of range [0, ${V})`);
    out.set(table.data.subarray(id * C, id * C + C), n * C);
  }
  const y: Tensor = new Tensor(out, [N, C], {
    parents: [table],
    backward: () => {
      const g = table.gradBuffer();
      const gy = y.grad!;
      for (let n = 0; n < N; n++) {
        const o = ids[n]! * C;
        for (let c = 0; c < C; c++) g[o + c]! += gy[n * C + c]!;
      }
    },
  });
  return y;
}

/** RMSNorm (Zhang & Sennrich 2019): y = x / sqrt(mean(x²) + eps) · w, over the last axis. */
export function rmsnorm(x: Tensor, w: Tensor, eps: number, k: Kernels): Tensor {
  const C = w.size;
  const N = x.size / C;
  const { out, rstd } = k.rmsnormForward(x.data, w.data, N, C, eps);
  const y: Tensor = new Tensor(out, x.shape, {
    parents: [x, w],
    backward: () => {
      const { dx, dw } = k.rmsnormBackward(x.data, w.data, rstd, y.grad!, N, C);
      if (w.requiresGrad) {
        const gw = w.gradBuffer();
        for (let c = 0; c < C; c++) gw[c]! += dw[c]!;
      }
      if (x.requiresGrad) x.accumulateGrad(dx, k.addInto);
    },
  });
  return y;
}

/** Linear layer without bias: x [N,in] · Wᵀ where W is [out,in] (PyTorch and GGUF layout) → [N,out]. */
export function linear(x: Tensor, w: Tensor, k: Kernels): Tensor {
  const [O, I] = w.shape as [number, number];
  const N = x.size / I;
  const out = k.gemm(x.data, w.data, N, I, O, false, true);
  const y: Tensor = new Tensor(out, [...x.shape.slice(0, -1), O], {
    parents: [x, w],
    backward: () => {
      const gy = y.grad!;
      // dW[out,in] += dYᵀ·X ; dX[N,in] = dY·W
      if (w.requiresGrad) k.gemm(gy, x.data, O, N, I, true, false, w.gradBuffer());
      if (x.requiresGrad) {
        if (x.grad) k.gemm(gy, w.data, N, O, I, false, false, x.grad);
        else x.grad = k.gemm(gy, w.data, N, O, I, false, false);
      }
    },
  });
  return y;
}

/** a + b (same shape): the residual connection. */
export function add(a: Tensor, b: Tensor, k: Kernels): Tensor {
  const y: Tensor = new Tensor(k.add(a.data, b.data), a.shape, {
    parents: [a, b],
    backward: () => {
      // The first parent takes the gradient buffer itself; the second gets a copy.
      if (b.requiresGrad) b.accumulateGrad(a.requiresGrad ? k.pool.copy(y.grad!) : y.grad!, k.addInto);
      if (a.requiresGrad) a.accumulateGrad(y.grad!, k.addInto);
    },
  });
  return y;
}

/**
 * Rotary position embedding tables: for position p and pair i, angle p·θ^(−2i/D).
 * Pairs are ADJACENT dimensions (2i, 2i+1), llama.cpp's "NORM" RoPE, so our q/k weights export
 * to GGUF unpermuted (Su et al. 2021, RoFormer; the HF Llama port uses the other, NEOX layout).
 */
export function ropeTables(T: number, D: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = D / 2;
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  for (let p = 0; p < T; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * Math.pow(theta, (-2 * i) / D);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** RoPE on the q and k parts of qkv [B,T,3,H,D] (v passes through). */
export function ropeQK(qkv: Tensor, B: number, T: number, H: number, D: number, cos: Float32Array, sin: Float32Array, k: Kernels): Tensor {
  const y: Tensor = new Tensor(k.rope(qkv.data, B, T, H, D, cos, sin, 1), qkv.shape, {
    parents: [qkv],
    // A rotation's transpose is the opposite rotation.
    backward: () => qkv.accumulateGrad(k.rope(y.grad!, B, T, H, D, cos, sin, -1), k.addInto),
  });
  return y;
}

/** Causal self-attention over qkv [B,T,3,H,D] → [B,T,H·D]. */
export function attention(qkv: Tensor, B: number, T: number, H: number, D: number, k: Kernels): Tensor {
  const { out, probs } = k.attentionForward(qkv.data, B, T, H, D);
  const y: Tensor = new Tensor(out, [B * T, H * D], {
    parents: [qkv],
    backward: () => qkv.accumulateGrad(k.attentionBackward(qkv.data, probs, out, y.grad!, B, T, H, D), k.addInto),
  });
  return y;
}

/** SwiGLU (Shazeer 2020): gu [N, 2F] holding gate then up → silu(gate)·up [N,F]. */
export function swiglu(gu: Tensor, k: Kernels): Tensor {
  const F = gu.shape[gu.shape.length - 1]! / 2;
  const N = gu.size / (2 * F);
  const y: Tensor = new Tensor(k.swigluForward(gu.data, N, F), [N, F], {
    parents: [gu],
    backward: () => gu.accumulateGrad(k.swigluBackward(gu.data, y.grad!, N, F), k.addInto),
  });
  return y;
}

/**
 * Mean cross-entropy over the positions whose mask is 1 (the loss mask: completion tokens only).
 * logits [N,V], targets [N]. Returns a scalar; backward: (softmax − onehot)·mask / count.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, mask: Float32Array, k: Kernels): Tensor {
  const V = logits.shape[logits.shape.length - 1]!;
  const N = logits.size / V;
  const ld = logits.data;
  let count = 0;
  for (let n = 0; n < N; n++) count += mask[n]!;
  const denom = Math.max(count, 1);
  const lse = k.logSumExpRows(ld, N, V);
  let loss = 0;
  for (let n = 0; n < N; n++) if (mask[n] !== 0) loss += mask[n]! * (lse[n]! - ld[n * V + targets[n]!]!);
  const y: Tensor = new Tensor(new Float32Array([loss / denom]), [1], {
    parents: [logits],
    backward: () => {
      const scale = y.grad![0]! / denom;
      const coef = k.pool.take(N);
      for (let n = 0; n < N; n++) coef[n] = mask[n]! * scale;
      const g = k.softmaxRows(ld, lse, coef, N, V);
      for (let n = 0; n < N; n++) if (coef[n] !== 0) g[n * V + targets[n]!]! -= coef[n]!;
      logits.accumulateGrad(g);
    },
  });
  return y;
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * Binary cross-entropy on logits against soft labels, averaged over the positions whose mask is
 * nonzero (weighted by the mask): the loss of a value head [N,1] trained on step or outcome
 * labels (Math-Shepherd's soft-estimation targets are fractions in [0,1]).
 * Per position: softplus(x) − y·x (stable for any x); backward: (σ(x) − y)·mask / count.
 */
export function bceWithLogits(logits: Tensor, targets: Float32Array, mask: Float32Array, k: Kernels): Tensor {
  const N = logits.size;
  if (targets.length !== N || mask.length !== N) throw new Error(`bceWithLogits: ${N} logits, ${targets.length} targets, ${mask.length} mask entries`);
  const ld = logits.data;
  let count = 0;
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const m = mask[n]!;
    if (m === 0) continue;
    count += m;
    loss += m * (softplus(ld[n]!) - targets[n]! * ld[n]!);
  }
  const denom = Math.max(count, 1e-12);
  const y: Tensor = new Tensor(new Float32Array([count > 0 ? loss / denom : 0]), [1], {
    parents: [logits],
    backward: () => {
      const scale = y.grad![0]! / denom;
      const g = k.pool.zeros(N);
      for (let n = 0; n < N; n++) {
        const m = mask[n]!;
        if (m !== 0) g[n] = (sigmoid(ld[n]!) - targets[n]!) * m * scale;
      }
      logits.accumulateGrad(g);
    },
  });
  return y;
}

/**
 * Bradley–Terry pairwise loss over scalar scores [N] (or [N,1]): the mean over pairs of
 * −log σ(s[better] − s[worse]) = softplus(s[worse] − s[better]), the reward-model loss of
 * InstructGPT (Ouyang et al. 2022). `better[i]`, `worse[i]` are positions (row indices) of pair i.
 */
export function bradleyTerryLoss(scores: Tensor, better: Int32Array, worse: Int32Array, k: Kernels): Tensor {
  const P = better.length;
  if (worse.length !== P) throw new Error(`bradleyTerryLoss: ${P} better positions, ${worse.length} worse`);
  const N = scores.size;
  const sd = scores.data;
  for (let i = 0; i < P; i++) {
    if (better[i]! < 0 || better[i]! >= N || worse[i]! < 0 || worse[i]! >= N) throw new Error(`bradleyTerryLoss: pair ${i} indexes outside [0, ${N})`);
  }
  let loss = 0;
  for (let i = 0; i < P; i++) loss += softplus(sd[worse[i]!]! - sd[better[i]!]!);
  const denom = Math.max(P, 1);
  const y: Tensor = new Tensor(new Float32Array([loss / denom]), [1], {
    parents: [scores],
    backward: () => {
      const scale = y.grad![0]! / denom;
      const g = k.pool.zeros(N);
      for (let i = 0; i < P; i++) {
        // d/d(margin) of softplus(−margin) = −σ(−margin)
        const s = sigmoid(sd[worse[i]!]! - sd[better[i]!]!) * scale;
        g[better[i]!]! -= s;
        g[worse[i]!]! += s;
      }
      scores.accumulateGrad(g);
    },
  });
  return y;
}
