import { addInto } from './kernels.js';
import { simdAvailable } from './wasm/decode-kernels.js';
import { adamwKernels, type AdamWExports } from './wasm/adamw.js';

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

export interface AdamWOptions {
  /**
   * 'simd': the WebAssembly SIMD kernels of wasm/adamw.ts (the default where WebAssembly SIMD
   * runs); 'reference': the plain loops below. Both give the same bits.
   */
  kernel: 'simd' | 'reference';
}

/** The constants of one update, rounded to float32 as both paths compute with them. */
export interface AdamWConstants {
  clip: number;
  beta1: number;
  /** 1 − β1 */
  omb1: number;
  beta2: number;
  /** 1 − β2 */
  omb2: number;
  lr: number;
  /** lr · weight decay */
  lrwd: number;
  /** 1 − β1^t, Adam's bias corrections */
  bc1: number;
  bc2: number;
  eps: number;
}

/** Each constant worked out in doubles, then rounded to float32 once. */
export function adamwConstants(c: AdamWConfig, lr: number, step: number, clip: number): AdamWConstants {
  const f = Math.fround;
  return { clip: f(clip), beta1: f(c.beta1), omb1: f(1 - c.beta1), beta2: f(c.beta2), omb2: f(1 - c.beta2), lr: f(lr), lrwd: f(lr * c.weightDecay), bc1: f(1 - Math.pow(c.beta1, step)), bc2: f(1 - Math.pow(c.beta2, step)), eps: f(c.eps) };
}

/**
 * The update of elements [from, to), with decoupled weight decay when `decay`: the readable
 * definition the SIMD kernel (wasm/adamw.ts) reproduces bit for bit. Float32 arithmetic, as
 * PyTorch's AdamW runs for float32 parameters: every operation rounded to float32 (Math.fround of
 * the double result of two float32 operands is the correctly rounded float32 result for + − × ÷
 * and √, since a double holds more than twice float32's precision), in the kernel's order.
 */
export function adamwRange(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, from: number, to: number, decay: boolean, k: AdamWConstants): void {
  const f = Math.fround;
  for (let i = from; i < to; i++) {
    const gi = f(g[i]! * k.clip);
    const mi = f(f(k.beta1 * m[i]!) + f(k.omb1 * gi));
    const vi = f(f(k.beta2 * v[i]!) + f(f(k.omb2 * gi) * gi));
    m[i] = mi;
    v[i] = vi;
    let pi = p[i]!;
    if (decay) pi = f(pi - f(k.lrwd * pi));
    const step = f(f(k.lr * f(mi / k.bc1)) / f(f(Math.sqrt(f(vi / k.bc2))) + k.eps));
    p[i] = f(pi - step);
  }
}

/** Σ g² in doubles as four partial sums (element i into sum i mod 4), combined as (s0 + s2) + (s1 + s3): the SIMD kernel's order. */
export function sumOfSquares(g: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = g.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += g[i]! * g[i]!;
    s1 += g[i + 1]! * g[i + 1]!;
    s2 += g[i + 2]! * g[i + 2]!;
    s3 += g[i + 3]! * g[i + 3]!;
  }
  if (i < n) s0 += g[i]! * g[i]!;
  if (i + 1 < n) s1 += g[i + 1]! * g[i + 1]!;
  if (i + 2 < n) s2 += g[i + 2]! * g[i + 2]!;
  return s0 + s2 + (s1 + s3);
}

/** A run of parameters that share the weight-decay setting. */
interface Run {
  from: number;
  to: number;
  decay: boolean;
}

/**
 * The SIMD path's memory: the f64x2 sum of squares at 0, then parameters, gradients, m and v,
 * each n floats padded to a multiple of 4, then (once a step brings workers' gradients) a staging
 * area for one of those. The memory grows only for that area; m and v views are re-made then.
 */
class SimdState {
  readonly memory: WebAssembly.Memory;
  readonly e: AdamWExports;
  readonly n4: number;
  /** Byte offsets. */
  readonly p: number;
  readonly g: number;
  readonly m: number;
  readonly v: number;
  readonly w: number;
  private views: { buffer: ArrayBuffer; m: Float32Array; v: Float32Array; p: Float32Array; g: Float32Array } | null = null;

  constructor(readonly n: number) {
    this.n4 = Math.ceil(n / 4);
    const bytes = this.n4 * 16;
    this.p = 16;
    this.g = this.p + bytes;
    this.m = this.g + bytes;
    this.v = this.m + bytes;
    this.w = this.v + bytes;
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(this.w / 65536) });
    this.e = adamwKernels(this.memory);
  }

  get f(): NonNullable<SimdState['views']> {
    const buffer = this.memory.buffer;
    if (this.views === null || this.views.buffer !== buffer) {
      const view = (at: number): Float32Array => new Float32Array(buffer, at, this.n);
      this.views = { buffer, m: view(this.m), v: view(this.v), p: view(this.p), g: view(this.g) };
    }
    return this.views;
  }

  /**
   * The staging area for a worker's gradient (the memory grows to hold it on first use), or null
   * when the memory cannot grow that far (past 4 GiB: about 200M parameters).
   */
  staging(): Float32Array | null {
    const need = this.w + this.n4 * 16;
    try {
      if (this.memory.buffer.byteLength < need) this.memory.grow(Math.ceil((need - this.memory.buffer.byteLength) / 65536));
    } catch (e) {
      if (e instanceof RangeError) return null;
      throw e;
    }
    return new Float32Array(this.memory.buffer, this.w, this.n);
  }

  sumOfSquares(): number {
    this.e.sumsq(this.g, this.n4, 0);
    const d = new Float64Array(this.memory.buffer, 0, 2);
    return d[0]! + d[1]!;
  }
}

export class AdamW {
  step = 0;
  readonly config: AdamWConfig;
  private readonly runs: Run[];
  private readonly simd: SimdState | null;
  private readonly plain: { m: Float32Array; v: Float32Array } | null;

  constructor(
    private readonly params: Float32Array,
    private readonly grads: Float32Array,
    /** Which parameter ranges get weight decay. */
    decayRanges: { offset: number; size: number }[],
    config: AdamWConfig = defaultAdamWConfig,
    opts: Partial<AdamWOptions> = {},
  ) {
    this.config = config;
    if (grads.length !== params.length) throw new Error(`AdamW: ${params.length} parameters but ${grads.length} gradients`);
    const mask = new Uint8Array(params.length);
    for (const r of decayRanges) mask.fill(1, r.offset, r.offset + r.size);
    this.runs = [];
    for (let i = 0; i < mask.length; ) {
      let j = i;
      while (j < mask.length && mask[j] === mask[i]) j++;
      this.runs.push({ from: i, to: j, decay: mask[i] === 1 });
      i = j;
    }
    const kernel = opts.kernel ?? (simdAvailable() ? 'simd' : 'reference');
    let simd: SimdState | null = null;
    if (kernel === 'simd') {
      try {
        simd = new SimdState(params.length);
      } catch (e) {
        // Past what one WebAssembly memory holds (4 GiB): the plain loops, which give the same bits.
        if (!(e instanceof RangeError)) throw e;
      }
    }
    this.simd = simd;
    this.plain = simd ? null : { m: new Float32Array(params.length), v: new Float32Array(params.length) };
  }

  /** First moments (a view; checkpoints read and restore it). */
  get m(): Float32Array {
    return this.simd ? this.simd.f.m : this.plain!.m;
  }

  /** Second moments (a view). */
  get v(): Float32Array {
    return this.simd ? this.simd.f.v : this.plain!.v;
  }

  /** Global L2 norm of the gradients. */
  gradNorm(): number {
    return Math.sqrt(sumOfSquares(this.grads));
  }

  /**
   * One update at learning rate `lr`; returns the gradient norm before clipping. The gradient is
   * `grads` plus each of `more` (data-parallel workers' gradients, added in order as float32
   * sums); `grads` holds that sum afterwards.
   */
  update(lr: number, more: readonly Float32Array[] = []): number {
    for (const w of more) if (w.length !== this.grads.length) throw new Error(`AdamW: a gradient of ${w.length} values for ${this.grads.length} parameters`);
    const s = this.simd;
    let norm: number;
    if (s) {
      const f = s.f;
      f.p.set(this.params);
      f.g.set(this.grads);
      for (const w of more) {
        const staging = s.staging();
        if (staging) {
          staging.set(w);
          s.e.add(s.g, s.w, s.g, s.n4);
        } else addInto(s.f.g, w); // the same float32 sums, as a plain loop
      }
      if (more.length > 0) this.grads.set(s.f.g);
      norm = Math.sqrt(s.sumOfSquares());
    } else {
      for (const w of more) addInto(this.grads, w);
      norm = Math.sqrt(sumOfSquares(this.grads));
    }
    const { clipNorm } = this.config;
    const clip = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step++;
    const k = adamwConstants(this.config, lr, this.step, clip);
    if (s) {
      const { p, g, m, v } = s.f;
      for (const r of this.runs) {
        // The SIMD kernel takes the run's whole groups of four; the plain loop its ends.
        const a = Math.min(r.to, (r.from + 3) & ~3);
        const b = Math.max(a, r.to & ~3);
        adamwRange(p, g, m, v, r.from, a, r.decay, k);
        if (b > a) s.e.adamw(s.p + a * 4, s.g + a * 4, s.m + a * 4, s.v + a * 4, (b - a) / 4, r.decay ? 1 : 0, k.clip, k.beta1, k.omb1, k.beta2, k.omb2, k.lr, k.lrwd, k.bc1, k.bc2, k.eps);
        adamwRange(p, g, m, v, b, r.to, r.decay, k);
      }
      this.params.set(p);
    } else {
      const { m, v } = this.plain!;
      for (const r of this.runs) adamwRange(this.params, this.grads, m, v, r.from, r.to, r.decay, k);
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
