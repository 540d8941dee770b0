/**
 * AdamW (Loshchilov & Hutter 2019) over one flat parameter buffer, with global-norm gradient
 * clipping. Weight decay applies to matrices only, not to norm gains (nanoGPT's convention).
 */
export interface AdamWConfig {
  /** Peak learning rate (default 3e-3: small models tolerate a high rate). */
  lr: number;
  /** β1 (default 0.9). */
  beta1: number;
  /** β2 (default 0.95, as in GPT-3 / Llama for stability at small batch). */
  beta2: number;
  /** ε (default 1e-8). */
  eps: number;
  /** Decoupled weight decay (default 0.1, Llama). */
  weightDecay: number;
  /** Clip the global gradient norm to this (default 1.0); 0 disables. */
  clipNorm: number;
}

export const defaultAdamWConfig = {
  lr: 3e-3,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  clipNorm: 1.0,
} satisfies AdamWConfig;

export class AdamW {
  readonly m: Float32Array;
  readonly v: Float32Array;
  step = 0;
  private readonly decayMask: Uint8Array;

  constructor(
    private readonly params: Float32Array,
    private readonly grads: Float32Array,
    /** Which parameter ranges get weight decay. */
    decayRanges: { offset: number; size: number }[],
    readonly config: AdamWConfig = defaultAdamWConfig,
  ) {
    this.m = new Float32Array(params.length);
    this.v = new Float32Array(params.length);
    this.decayMask = new Uint8Array(params.length);
    for (const r of decayRanges) this.decayMask.fill(1, r.offset, r.offset + r.size);
  }

  /** Global L2 norm of the gradients. */
  gradNorm(): number {
    let s = 0;
    const g = this.grads;
    for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    return Math.sqrt(s);
  }

  /** One update at learning rate `lr`; returns the gradient norm before clipping. */
  update(lr: number): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.config;
    const norm = this.gradNorm();
    const clip = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step++;
    const bc1 = 1 - Math.pow(beta1, this.step);
    const bc2 = 1 - Math.pow(beta2, this.step);
    const p = this.params;
    const g = this.grads;
    const m = this.m;
    const v = this.v;
    const dm = this.decayMask;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * clip;
      const mi = beta1 * m[i]! + (1 - beta1) * gi;
      const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      let pi = p[i]!;
      if (dm[i]) pi -= lr * weightDecay * pi;
      p[i] = pi - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
    }
    return norm;
  }
}

/** Linear warmup then cosine decay to `minRatio`·peak (GPT-3 / Chinchilla schedule). */
export function cosineSchedule(step: number, totalSteps: number, peak: number, warmupSteps: number, minRatio = 0.1): number {
  if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
