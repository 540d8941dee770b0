import { logSumExpRowsTo, type Kernels } from './kernels.js';
import { Tensor } from './tensor.js';

/**
 * Ops of preference and policy-gradient learning (DPO, PPO, GRPO), each one op with a
 * hand-written backward over per-token vectors, checked against finite differences in
 * rl-ops.test.ts. The expensive part, log-softmax over the vocabulary, is `tokenLogprobs`; the
 * losses read its per-token output [N], so their backward passes cost O(N).
 *
 * Shape legend: N token positions (= B·T rows of a right-padded batch), V vocabulary.
 * Per-token inputs that carry no gradient (old and reference log-probs, advantages, masks) are
 * plain Float32Arrays of length N. Every loss is Σ_t mask_t·ℓ_t / `normalizer`, with the
 * normalizer given by the caller: a constant across microbatches (Dr. GRPO, Liu et al. 2025), so
 * that the losses of microbatches add up to the loss of the batch and their gradients accumulate
 * with no reweighting.
 */

/** log σ(x) without overflow. */
function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

function checkLength(op: string, n: number, arrays: Record<string, ArrayLike<number>>): void {
  for (const [name, a] of Object.entries(arrays)) {
    if (a.length !== n) throw new Error(`${op}: ${name} has ${a.length} entries for ${n} positions`);
  }
}

/**
 * Log-probability of each target under softmax(logits): logits [N,V], targets [N] → [N].
 * Backward: dL/dz_{n,v} = g_n·(1[v = target_n] − softmax(z_n)_v).
 */
export function tokenLogprobs(logits: Tensor, targets: Int32Array, k: Kernels): Tensor {
  const V = logits.shape[logits.shape.length - 1]!;
  const N = logits.size / V;
  if (targets.length !== N) throw new Error(`tokenLogprobs: ${targets.length} targets for ${N} rows`);
  const ld = logits.data;
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t < 0 || t >= V) throw new Error(`tokenLogprobs: target ${t} at row ${n} outside [0, ${V})`);
  }
  // The log-sum-exp and softmax passes are cross-entropy's (Kernels.logSumExpRows, softmaxRows).
  const lse = k.logSumExpRows(ld, N, V);
  const out = new Float32Array(N);
  for (let n = 0; n < N; n++) out[n] = ld[n * V + targets[n]!]! - lse[n]!;
  const y: Tensor = new Tensor(out, [N], {
    parents: [logits],
    backward: () => {
      const gy = y.grad!;
      const coef = k.pool.take(N);
      for (let n = 0; n < N; n++) coef[n] = -gy[n]!;
      const g = k.softmaxRows(ld, lse, coef, N, V);
      for (let n = 0; n < N; n++) if (gy[n] !== 0) g[n * V + targets[n]!]! += gy[n]!;
      logits.accumulateGrad(g);
    },
  });
  return y;
}

/** Per-token log-probabilities without a graph (old and reference log-probs): logits [N·V] → [N]. */
export function tokenLogprobsNoGrad(logits: Float32Array, targets: Int32Array, V: number): Float32Array {
  const N = targets.length;
  const out = logSumExpRowsTo(new Float32Array(N), logits, N, V);
  for (let n = 0; n < N; n++) out[n] = logits[n * V + targets[n]!]! - out[n]!;
  return out;
}

export interface DpoInputs {
  /** Policy log-prob of each token [N] (from tokenLogprobs). */
  logps: Tensor;
  /** Reference log-prob of each token [N]. */
  refLogps: Float32Array;
  /** The sequence each position belongs to, −1 for positions outside every completion (prompt, padding). */
  seqOf: Int32Array;
  /** Pair i prefers sequence chosen[i] to sequence rejected[i]. */
  chosen: Int32Array;
  rejected: Int32Array;
  /** β: the strength of the implicit KL constraint (Rafailov et al. 2023). */
  beta: number;
  /** Weight of the NLL term on the chosen tokens (iterative RPO, Pang et al. 2024); 0 for plain DPO. */
  rpoAlpha: number;
  /** λ of DPO-Positive (Pal et al. 2024): the margin loses λ·max(0, ρ_c − π_c), so the chosen may not fall below the reference; 0 (default) for plain DPO. */
  dpopLambda?: number;
  /**
   * Average each sequence's log-probabilities over its tokens instead of summing them (SimPO's
   * length-normalized reward, Meng et al. 2024). Default false (DPO's sums).
   */
  lengthNormalize?: boolean;
  /** γ, a target margin subtracted inside the sigmoid: −log σ(r_c − r_r − γ) (SimPO's reward margin). Default 0. */
  margin?: number;
  /** Divides the summed pair losses: pairs in the whole batch (when microbatching). */
  pairNormalizer: number;
  /** Divides the summed NLL: chosen tokens in the whole batch (TRL's rpo_alpha term is a token mean). */
  nllNormalizer: number;
}

export interface DpoStats {
  /** Per pair: β·(log π/π_ref) of chosen and of rejected (DPO's implicit rewards), and policy log-probs. */
  rewardChosen: Float64Array;
  rewardRejected: Float64Array;
  logpChosen: Float64Array;
  logpRejected: Float64Array;
  /** Σ of the NLL over chosen tokens (before normalization). */
  nllSum: number;
}

/**
 * DPO's sigmoid loss (Rafailov et al. 2023) over sequence log-prob sums, with DPO-Positive's
 * penalty (Pal et al. 2024) and the RPO NLL term:
 *   z = β[(π_c − ρ_c) − (π_r − ρ_r) − λ·max(0, ρ_c − π_c)]
 *   L = Σ_pairs −log σ(z) / pairNormalizer − α·Σ_{chosen tokens} log π / nllNormalizer
 * where π and ρ are sums of policy and reference token log-probs over a sequence.
 * Backward to token t of sequence s: ∂/∂logp_t = −β·σ(−z)·(1 + λ·[π_c < ρ_c])/pairNormalizer on
 * the chosen, +β·σ(−z)/pairNormalizer on the rejected, − α/nllNormalizer on chosen tokens.
 */
export function dpoLoss(o: DpoInputs): { loss: Tensor; stats: DpoStats } {
  const N = o.logps.size;
  checkLength('dpoLoss', N, { refLogps: o.refLogps, seqOf: o.seqOf });
  const P = o.chosen.length;
  if (o.rejected.length !== P) throw new Error(`dpoLoss: ${P} chosen, ${o.rejected.length} rejected`);
  let S = 0;
  for (let n = 0; n < N; n++) S = Math.max(S, o.seqOf[n]! + 1);
  for (let i = 0; i < P; i++) S = Math.max(S, o.chosen[i]! + 1, o.rejected[i]! + 1);
  const pol = new Float64Array(S);
  const ref = new Float64Array(S);
  const len = new Float64Array(S);
  const ld = o.logps.data;
  for (let n = 0; n < N; n++) {
    const s = o.seqOf[n]!;
    if (s < 0) continue;
    pol[s]! += ld[n]!;
    ref[s]! += o.refLogps[n]!;
    len[s]!++;
  }
  // SimPO: a sequence's reward reads its mean token log-probability; its tokens' gradients share 1/length.
  const scale = new Float64Array(S).fill(1);
  if (o.lengthNormalize) {
    for (let s = 0; s < S; s++) {
      if (len[s]! === 0) continue;
      scale[s] = 1 / len[s]!;
      pol[s]! *= scale[s]!;
      ref[s]! *= scale[s]!;
    }
  }
  // Role of each sequence: the pair that uses it as chosen (+1) or rejected (−1), and its weight.
  const coef = new Float64Array(S);
  const isChosen = new Uint8Array(S);
  const lambda = o.dpopLambda ?? 0;
  const stats: DpoStats = { rewardChosen: new Float64Array(P), rewardRejected: new Float64Array(P), logpChosen: new Float64Array(P), logpRejected: new Float64Array(P), nllSum: 0 };
  let loss = 0;
  for (let i = 0; i < P; i++) {
    const c = o.chosen[i]!;
    const r = o.rejected[i]!;
    const rc = o.beta * (pol[c]! - ref[c]!);
    const rr = o.beta * (pol[r]! - ref[r]!);
    stats.rewardChosen[i] = rc;
    stats.rewardRejected[i] = rr;
    stats.logpChosen[i] = pol[c]!;
    stats.logpRejected[i] = pol[r]!;
    // DPOP: pairs of small edit distance (a step against its sibling) let plain DPO lower both
    // sequences; the penalty keeps the chosen from falling below the reference.
    const below = Math.max(0, ref[c]! - pol[c]!);
    const z = rc - rr - o.beta * lambda * below - (o.margin ?? 0);
    loss -= logSigmoid(z);
    const w = (o.beta * sigmoid(-z)) / o.pairNormalizer;
    coef[c]! -= w * (below > 0 ? 1 + lambda : 1);
    coef[r]! += w;
    isChosen[c] = 1;
  }
  loss /= o.pairNormalizer;
  if (o.rpoAlpha !== 0) {
    for (let n = 0; n < N; n++) {
      const s = o.seqOf[n]!;
      if (s >= 0 && isChosen[s]) stats.nllSum -= ld[n]!;
    }
    loss += (o.rpoAlpha * stats.nllSum) / o.nllNormalizer;
  }
  const nllCoef = -o.rpoAlpha / o.nllNormalizer;
  const y: Tensor = new Tensor(new Float32Array([loss]), [1], {
    parents: [o.logps],
    backward: () => {
      const gy = y.grad![0]!;
      const g = new Float32Array(N);
      for (let n = 0; n < N; n++) {
        const s = o.seqOf[n]!;
        if (s < 0) continue;
        g[n] = gy * (coef[s]! * scale[s]! + (isChosen[s] ? nllCoef : 0));
      }
      o.logps.accumulateGrad(g);
    },
  });
  return { loss: y, stats };
}

export interface SurrogateStats {
  /** Σ mask over positions where the clipped branch was taken (no gradient flows), and Σ mask. */
  clipped: number;
  tokens: number;
  /** Σ mask·((r − 1) − log r): the low-variance estimate of KL(old ‖ new) (Schulman's k3; cleanrl's approx_kl). */
  approxKlSum: number;
}

/**
 * The clipped surrogate of PPO (Schulman et al. 2017), per token as in PPO for language models
 * and GRPO (Shao et al. 2024):
 *   ℓ_t = max(−A_t·r_t, −A_t·clip(r_t, 1−ε, 1+ε)),  r_t = exp(logp_t − oldLogp_t)
 *   L = Σ_t mask_t·ℓ_t / normalizer
 * Backward: ∂ℓ_t/∂logp_t = −A_t·r_t where the unclipped branch is the max, 0 where the clipped one is.
 */
export function clippedSurrogate(logps: Tensor, oldLogps: Float32Array, advantages: Float32Array, mask: Float32Array, eps: number, normalizer: number): { loss: Tensor; stats: SurrogateStats } {
  const N = logps.size;
  checkLength('clippedSurrogate', N, { oldLogps, advantages, mask });
  const ld = logps.data;
  const dratio = new Float32Array(N);
  const stats: SurrogateStats = { clipped: 0, tokens: 0, approxKlSum: 0 };
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const m = mask[n]!;
    if (m === 0) continue;
    const logRatio = ld[n]! - oldLogps[n]!;
    const r = Math.exp(logRatio);
    const a = advantages[n]!;
    const unclipped = -a * r;
    const clipped = -a * Math.min(Math.max(r, 1 - eps), 1 + eps);
    stats.tokens += m;
    stats.approxKlSum += m * (r - 1 - logRatio);
    if (unclipped >= clipped) {
      loss += m * unclipped;
      dratio[n] = (-a * r * m) / normalizer;
    } else {
      loss += m * clipped;
      stats.clipped += m;
    }
  }
  const y: Tensor = new Tensor(new Float32Array([loss / normalizer]), [1], {
    parents: [logps],
    backward: () => {
      const gy = y.grad![0]!;
      const g = new Float32Array(N);
      for (let n = 0; n < N; n++) g[n] = dratio[n]! * gy;
      logps.accumulateGrad(g);
    },
  });
  return { loss: y, stats };
}

/** Upper bound of the per-token KL estimate, as verl's `low_var_kl` (keeps one wild token from dominating). */
const KL_CLAMP = 10;

/**
 * KL penalty to the reference with the k3 estimator (Schulman 2020, "Approximating KL
 * divergence"; TRL's GRPO and verl's `low_var_kl`): with d_t = refLogp_t − logp_t,
 *   k3_t = e^{d_t} − d_t − 1  (≥ 0, unbiased for KL(π ‖ π_ref) under samples of π),
 *   L = Σ_t mask_t·min(k3_t, 10) / normalizer.
 * Backward: ∂k3/∂logp = 1 − e^{d} (0 where the clamp binds). Returns the loss and Σ mask·k3.
 */
export function klPenalty(logps: Tensor, refLogps: Float32Array, mask: Float32Array, normalizer: number): { loss: Tensor; klSum: number } {
  const N = logps.size;
  checkLength('klPenalty', N, { refLogps, mask });
  const ld = logps.data;
  const dk = new Float32Array(N);
  let sum = 0;
  for (let n = 0; n < N; n++) {
    const m = mask[n]!;
    if (m === 0) continue;
    const d = refLogps[n]! - ld[n]!;
    const e = Math.exp(d);
    const k3 = e - d - 1;
    if (k3 < KL_CLAMP) {
      sum += m * k3;
      dk[n] = (m * (1 - e)) / normalizer;
    } else sum += m * KL_CLAMP;
  }
  const y: Tensor = new Tensor(new Float32Array([sum / normalizer]), [1], {
    parents: [logps],
    backward: () => {
      const gy = y.grad![0]!;
      const g = new Float32Array(N);
      for (let n = 0; n < N; n++) g[n] = dk[n]! * gy;
      logps.accumulateGrad(g);
    },
  });
  return { loss: y, klSum: sum };
}

/**
 * Entropy of the policy's next-token distribution, H_n = −Σ_v p_v log p_v, summed over masked
 * positions / normalizer: logits [N,V] → scalar. Backward: ∂H/∂z_v = −p_v·(log p_v + H).
 * An entropy bonus is this loss with a negative coefficient (verl's entropy_coeff).
 */
export function entropyOf(logits: Tensor, mask: Float32Array, normalizer: number, k: Kernels): { loss: Tensor; entropySum: number } {
  const V = logits.shape[logits.shape.length - 1]!;
  const N = logits.size / V;
  checkLength('entropyOf', N, { mask });
  const ld = logits.data;
  const lse = new Float32Array(N);
  const H = new Float32Array(N);
  let sum = 0;
  for (let n = 0; n < N; n++) {
    const m = mask[n]!;
    if (m === 0) continue;
    const o = n * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (ld[o + v]! > max) max = ld[o + v]!;
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(ld[o + v]! - max);
    const l = max + Math.log(s);
    let h = 0;
    for (let v = 0; v < V; v++) {
      const lp = ld[o + v]! - l;
      h -= Math.exp(lp) * lp;
    }
    lse[n] = l;
    H[n] = h;
    sum += m * h;
  }
  const y: Tensor = new Tensor(new Float32Array([sum / normalizer]), [1], {
    parents: [logits],
    backward: () => {
      const gy = y.grad![0]! / normalizer;
      const g = k.pool.zeros(logits.size);
      for (let n = 0; n < N; n++) {
        const m = mask[n]!;
        if (m === 0) continue;
        const o = n * V;
        for (let v = 0; v < V; v++) {
          const lp = ld[o + v]! - lse[n]!;
          g[o + v] = -gy * m * Math.exp(lp) * (lp + H[n]!);
        }
      }
      logits.accumulateGrad(g);
    },
  });
  return { loss: y, entropySum: sum };
}

/**
 * PPO's clipped value loss (as in OpenAI baselines, cleanrl's clip_vloss and TRL's cliprange_value):
 *   ℓ_t = ½·max((v_t − R_t)², (clip(v_t, old_t − c, old_t + c) − R_t)²),  L = Σ mask·ℓ / normalizer.
 * values [N] (or [N,1]) from the value model. Backward: (v − R) where the unclipped branch is
 * the max or v lies inside the clip range; 0 otherwise.
 */
export function clippedValueLoss(values: Tensor, oldValues: Float32Array, returns: Float32Array, mask: Float32Array, clipRange: number, normalizer: number): { loss: Tensor; clipped: number } {
  const N = values.size;
  checkLength('clippedValueLoss', N, { oldValues, returns, mask });
  const vd = values.data;
  const dv = new Float32Array(N);
  let loss = 0;
  let clippedCount = 0;
  for (let n = 0; n < N; n++) {
    const m = mask[n]!;
    if (m === 0) continue;
    const v = vd[n]!;
    const R = returns[n]!;
    const old = oldValues[n]!;
    const vc = Math.min(Math.max(v, old - clipRange), old + clipRange);
    const u = (v - R) * (v - R);
    const c = (vc - R) * (vc - R);
    if (u >= c || vc === v) {
      loss += 0.5 * m * u;
      dv[n] = (m * (v - R)) / normalizer;
    } else {
      loss += 0.5 * m * c;
      clippedCount += m;
    }
  }
  const y: Tensor = new Tensor(new Float32Array([loss / normalizer]), [1], {
    parents: [values],
    backward: () => {
      const gy = y.grad![0]!;
      const g = new Float32Array(N);
      for (let n = 0; n < N; n++) g[n] = dv[n]! * gy;
      values.accumulateGrad(g);
    },
  });
  return { loss: y, clipped: clippedCount };
}

/**
 * Negative log-likelihood of the masked positions: L = −Σ_n mask_n·logp_n / normalizer. The
 * pretraining-mix term of PPO-ptx (Ouyang et al. 2022) over replayed traces.
 * Backward: ∂L/∂logp_n = −mask_n / normalizer. Returns the loss and Σ mask·(−logp).
 */
export function maskedNll(logps: Tensor, mask: Float32Array, normalizer: number): { loss: Tensor; nllSum: number } {
  const N = logps.size;
  checkLength('maskedNll', N, { mask });
  const ld = logps.data;
  let sum = 0;
  for (let n = 0; n < N; n++) if (mask[n]! !== 0) sum -= mask[n]! * ld[n]!;
  const y: Tensor = new Tensor(new Float32Array([sum / normalizer]), [1], {
    parents: [logps],
    backward: () => {
      const gy = y.grad![0]!;
      const g = new Float32Array(N);
      for (let n = 0; n < N; n++) g[n] = (-mask[n]! * gy) / normalizer;
      logps.accumulateGrad(g);
    },
  });
  return { loss: y, nllSum: sum };
}

/** Sum of scalar losses [1] (each a graph node): the total objective of one microbatch. */
export function sumLosses(terms: { loss: Tensor; weight: number }[]): Tensor {
  let total = 0;
  for (const t of terms) total += t.weight * t.loss.data[0]!;
  const parents = terms.map((t) => t.loss);
  const y: Tensor = new Tensor(new Float32Array([total]), [1], {
    parents,
    backward: () => {
      const gy = y.grad![0]!;
      for (const t of terms) if (t.loss.requiresGrad && t.weight !== 0) t.loss.accumulateGrad(new Float32Array([gy * t.weight]));
    },
  });
  return y;
}

/**
 * Generalized advantage estimation (Schulman et al. 2016) over one sequence of per-token rewards
 * and values (value t = V(state before token t); the state after the last token is terminal, V = 0):
 *   δ_t = r_t + γ·V_{t+1} − V_t,  A_t = δ_t + γλ·A_{t+1},  returns R_t = A_t + V_t.
 */
export function gae(rewards: ArrayLike<number>, values: ArrayLike<number>, gamma: number, lambda: number): { advantages: Float32Array; returns: Float32Array } {
  const L = rewards.length;
  if (values.length !== L) throw new Error(`gae: ${L} rewards, ${values.length} values`);
  const advantages = new Float32Array(L);
  const returns = new Float32Array(L);
  let next = 0;
  for (let t = L - 1; t >= 0; t--) {
    const vNext = t + 1 < L ? values[t + 1]! : 0;
    const delta = rewards[t]! + gamma * vNext - values[t]!;
    next = delta + gamma * lambda * next;
    advantages[t] = next;
    returns[t] = next + values[t]!;
  }
  return { advantages, returns };
}
