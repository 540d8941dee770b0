import type { Kernels } from './kernels.js';
import { Tensor } from './tensor.js';

/**
 * Differentiable ops of the Llama block, each a forward computation plus the backward closure
 * that adds gradients into its inputs. Matrix products and attention go through `Kernels`
 * (reference or fast); the element-wise work is plain loops (memory-bound, cheap).
 * Every op's backward is checked against finite differences in ops.test.ts.
 *
 * Shape legend: N rows (= B·T tokens), C channels, V vocabulary, F MLP width.
 */

/** Embedding lookup: ids [N] into table [V,C] → [N,C]. */
export function embedding(table: Tensor, ids: Int32Array): Tensor {
  const [V, C] = table.shape as [number, number];
  const N = ids.length;
  const out = new Float32Array(N * C);
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
export function rmsnorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const C = w.size;
  const N = x.size / C;
  const out = new Float32Array(x.size);
  const rstd = new Float32Array(N);
  const xd = x.data;
  const wd = w.data;
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += xd[o + c]! * xd[o + c]!;
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[o + c] = xd[o + c]! * r * wd[c]!;
  }
  const y: Tensor = new Tensor(out, x.shape, {
    parents: [x, w],
    backward: () => {
      const gy = y.grad!;
      const gw = w.requiresGrad ? w.gradBuffer() : null;
      const gx = x.requiresGrad ? new Float32Array(x.size) : null;
      for (let n = 0; n < N; n++) {
        const o = n * C;
        const r = rstd[n]!;
        // d/dx of x·r·w: gx = r·(g⊙w) − x·r³·mean(x⊙g⊙w)
        let dot = 0;
        for (let c = 0; c < C; c++) {
          const gwc = gy[o + c]! * wd[c]!;
          dot += gwc * xd[o + c]!;
          if (gw) gw[c]! += gy[o + c]! * xd[o + c]! * r;
        }
        if (gx) {
          const k = (dot / C) * r * r * r;
          for (let c = 0; c < C; c++) gx[o + c] = gy[o + c]! * wd[c]! * r - xd[o + c]! * k;
        }
      }
      if (gx) x.accumulateGrad(gx);
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
export function add(a: Tensor, b: Tensor): Tensor {
  const out = new Float32Array(a.size);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < out.length; i++) out[i] = ad[i]! + bd[i]!;
  const y: Tensor = new Tensor(out, a.shape, {
    parents: [a, b],
    backward: () => {
      if (a.requiresGrad) a.accumulateGrad(y.grad!);
      if (b.requiresGrad) b.accumulateGrad(y.grad!);
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

/** Rotates the q and k parts of each token's qkv row [3,H,D] in place; `sign` −1 rotates back. */
export function ropeRotateQK(data: Float32Array, B: number, T: number, H: number, D: number, cos: Float32Array, sin: Float32Array, sign: 1 | -1, posOffset = 0): void {
  const C = H * D;
  const half = D / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * 3 * C;
      const tab = (t + posOffset) * half;
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

/** RoPE on the q and k parts of qkv [B,T,3,H,D] (v passes through). */
export function ropeQK(qkv: Tensor, B: number, T: number, H: number, D: number, cos: Float32Array, sin: Float32Array): Tensor {
  const out = qkv.data.slice();
  ropeRotateQK(out, B, T, H, D, cos, sin, 1);
  const y: Tensor = new Tensor(out, qkv.shape, {
    parents: [qkv],
    backward: () => {
      // A rotation's transpose is the opposite rotation.
      const g = y.grad!;
      ropeRotateQK(g, B, T, H, D, cos, sin, -1);
      qkv.accumulateGrad(g);
    },
  });
  return y;
}

/** Causal self-attention over qkv [B,T,3,H,D] → [B,T,H·D]. */
export function attention(qkv: Tensor, B: number, T: number, H: number, D: number, k: Kernels): Tensor {
  const { out, probs } = k.attentionForward(qkv.data, B, T, H, D);
  const y: Tensor = new Tensor(out, [B * T, H * D], {
    parents: [qkv],
    backward: () => qkv.accumulateGrad(k.attentionBackward(qkv.data, probs, y.grad!, B, T, H, D)),
  });
  return y;
}

/** SwiGLU (Shazeer 2020): gu [N, 2F] holding gate then up → silu(gate)·up [N,F]. */
export function swiglu(gu: Tensor): Tensor {
  const F = gu.shape[gu.shape.length - 1]! / 2;
  const N = gu.size / (2 * F);
  const out = new Float32Array(N * F);
  const d = gu.data;
  for (let n = 0; n < N; n++) {
    const o = n * 2 * F;
    for (let f = 0; f < F; f++) {
      const g = d[o + f]!;
      out[n * F + f] = (g / (1 + Math.exp(-g))) * d[o + F + f]!;
    }
  }
  const y: Tensor = new Tensor(out, [N, F], {
    parents: [gu],
    backward: () => {
      const gy = y.grad!;
      const gg = new Float32Array(gu.size);
      for (let n = 0; n < N; n++) {
        const o = n * 2 * F;
        for (let f = 0; f < F; f++) {
          const g = d[o + f]!;
          const u = d[o + F + f]!;
          const sig = 1 / (1 + Math.exp(-g));
          const gyv = gy[n * F + f]!;
          gg[o + f] = gyv * u * sig * (1 + g * (1 - sig));
          gg[o + F + f] = gyv * g * sig;
        }
      }
      gu.accumulateGrad(gg);
    },
  });
  return y;
}

/**
 * Mean cross-entropy over the positions whose mask is 1 (the loss mask: completion tokens only).
 * logits [N,V], targets [N]. Returns a scalar; backward: (softmax − onehot)·mask / count.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, mask: Float32Array): Tensor {
  const V = logits.shape[logits.shape.length - 1]!;
  const N = logits.size / V;
  const ld = logits.data;
  let count = 0;
  for (let n = 0; n < N; n++) count += mask[n]!;
  const denom = Math.max(count, 1);
  let loss = 0;
  const lse = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    if (mask[n] === 0) continue;
    const o = n * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (ld[o + v]! > max) max = ld[o + v]!;
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(ld[o + v]! - max);
    lse[n] = max + Math.log(s);
    loss += mask[n]! * (lse[n]! - ld[o + targets[n]!]!);
  }
  const y: Tensor = new Tensor(new Float32Array([loss / denom]), [1], {
    parents: [logits],
    backward: () => {
      const scale = y.grad![0]! / denom;
      const g = new Float32Array(logits.size);
      for (let n = 0; n < N; n++) {
        const m = mask[n]!;
        if (m === 0) continue;
        const o = n * V;
        for (let v = 0; v < V; v++) g[o + v] = Math.exp(ld[o + v]! - lse[n]!) * m * scale;
        g[o + targets[n]!]! -= m * scale;
      }
      logits.accumulateGrad(g);
    },
  });
  return y;
}
