import { Rng } from '../core/rng.js';
import { AdamW, cosineSchedule, defaultAdamWConfig, type AdamWConfig } from './adamw.js';
import { accumulateGradients, type PackedRows } from './microbatch.js';
import { bucketLength, defaultPackConfig, packRows } from './pack-rows.js';
import type { Transformer } from './model.js';
import type { CharTokenizer } from './tokenizer.js';
import { defaultWorkerCount } from './engine-pool.js';
import { sharedTrainWorkerPool, type TrainWorkerPool } from './train-workers.js';

/**
 * One training example. With a prompt, the loss covers the completion (and EOS) only: the loss
 * mask of supervised fine-tuning and policy initialization. Without one, every token counts.
 */
export interface LmExample {
  prompt?: string;
  completion: string;
  /** Per-example loss weight (e.g. advantage-weighted SFT); default 1. */
  weight?: number;
  /** Append EOS (default true; false for windows cut from running text). */
  eos?: boolean;
}

export interface TrainConfig {
  /** Optimizer steps (default 500). */
  steps: number;
  /** Sequences per step (default 32). */
  batchSize: number;
  /** Warmup steps before cosine decay (default 5% of steps, at least 1). */
  warmupSteps: number;
  /** Floor of the cosine schedule as a fraction of the peak rate (default 0.1). */
  minLrRatio: number;
  optimizer: AdamWConfig;
  seed: number;
  /**
   * Most tokens (rows × padded length) in one forward/backward pass; larger batches are split
   * into microbatches whose gradients accumulate (default 4096 = 32 × 128), which bounds
   * activation memory whatever the sequence length.
   */
  microBatchTokens: number;
  /**
   * Worker threads that compute the gradient of a share of each step's rows beside the main
   * thread (data parallelism; src/nn/train-workers.ts). Default: one per further core,
   * os.availableParallelism() − 1, or SEARCHLEARN_WORKERS when set (the sampling workers' knob,
   * defaultWorkerCount); 0: the main thread alone.
   * The step equals the single-thread step up to float summation order, and is deterministic
   * for a given count.
   */
  workers: number;
  /**
   * Least work for a step to use the workers, in FLOPs of forward and backward (6 · parameters ·
   * tokens, Kaplan et al. 2020); smaller steps run on the main thread alone (default 1e9, about
   * 10–20 ms on one core: the demo size's steps are ~10× that). Handing rows to a worker and
   * waiting for it costs about a millisecond on a quiet machine and more on a busy one: a 25k-parameter
   * test model trained 3× slower with a worker on a loaded 2-core VM. 0: always use them.
   */
  parallelMinFlops: number;
  /** Cost of one more forward/backward pass, in tokens, when a batch's rows are cut into chunks of like length (src/nn/pack-rows.ts; default there). */
  chunkOverheadTokens: number;
}

export const defaultTrainConfig = {
  steps: 500,
  batchSize: 32,
  warmupSteps: 25,
  minLrRatio: 0.1,
  optimizer: defaultAdamWConfig,
  seed: 0,
  microBatchTokens: 4096,
  workers: defaultWorkerCount(),
  parallelMinFlops: 1e9,
  chunkOverheadTokens: defaultPackConfig.chunkOverheadTokens,
} satisfies TrainConfig;

/** A command's training settings: warmup over the first 5% of steps (at least one), AdamW defaults at learning rate `lr`. */
export function trainConfigFor(o: { steps: number; batchSize: number; seed: number; lr: number; workers?: number }): Partial<TrainConfig> & { steps: number } {
  return { steps: o.steps, batchSize: o.batchSize, seed: o.seed, warmupSteps: Math.max(1, Math.round(o.steps * 0.05)), optimizer: { ...defaultAdamWConfig, lr: o.lr }, ...(o.workers !== undefined ? { workers: o.workers } : {}) };
}

/** An encoded example: ids (BOS + prompt + completion + EOS) and the index where the loss starts. */
export interface Encoded {
  ids: number[];
  lossFrom: number;
  weight: number;
}

export function encodeExamples(examples: LmExample[], tok: CharTokenizer, contextLength: number): Encoded[] {
  return examples.map((ex, i) => {
    const prompt = tok.encode(ex.prompt ?? '', { bos: true });
    const completion = tok.encode(ex.completion, { eos: ex.eos ?? true });
    const ids = [...prompt, ...completion];
    if (ids.length > contextLength + 1) {
      throw new Error(`example ${i + 1}: ${ids.length} tokens exceed the context length ${contextLength} (shorten it or use a larger --size)`);
    }
    // Plain text trains on every token after BOS; prompt/completion trains on the completion.
    return { ids, lossFrom: ex.prompt === undefined ? 1 : prompt.length, weight: ex.weight ?? 1 };
  });
}

export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
  mask: Float32Array;
  B: number;
  T: number;
  /** Tokens that carry loss. */
  lossTokens: number;
}

/**
 * Right-padded batch of variable-length sequences. Position t predicts token t+1; padding
 * (and prompt positions) get mask 0. T is the longest sequence in the batch minus one.
 */
export function makeBatch(items: Encoded[], pad: number, multiple = 1, maxT = Infinity): Batch {
  const B = items.length;
  const longest = Math.max(...items.map((e) => e.ids.length - 1));
  const T = Math.max(longest, bucketLength(longest, maxT, multiple));
  const inputs = new Int32Array(B * T).fill(pad);
  const targets = new Int32Array(B * T).fill(pad);
  const mask = new Float32Array(B * T);
  let lossTokens = 0;
  items.forEach((e, b) => {
    for (let t = 0; t < e.ids.length - 1; t++) {
      inputs[b * T + t] = e.ids[t]!;
      targets[b * T + t] = e.ids[t + 1]!;
      if (t + 1 >= e.lossFrom) {
        mask[b * T + t] = e.weight;
        lossTokens++;
      }
    }
  });
  return { inputs, targets, mask, B, T, lossTokens };
}

export interface StepInfo {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Tokens processed this step (each chunk's B·T, padding included). */
  tokens: number;
  /** The step's real tokens: its rows' input lengths, padding excluded (the x-axis of train-time compute). */
  realTokens: number;
  ms: number;
  /** Threads that computed this step's gradient: 1, or 1 + the workers that got rows. */
  threads: number;
}

/**
 * Supervised training of the built-in model on examples: AdamW, warmup + cosine decay,
 * clipping, loss mask. Batches are drawn from Rng(`${seed}/batch/${step}`), so a resumed run
 * sees the same batches as an uninterrupted one.
 */
export class LmTrainer {
  readonly optimizer: AdamW;
  readonly config: TrainConfig;
  private readonly data: Encoded[];
  /** Null without workers. */
  private readonly pool: TrainWorkerPool | null;

  constructor(
    readonly model: Transformer,
    readonly tokenizer: CharTokenizer,
    examples: LmExample[],
    config: Partial<TrainConfig> = {},
  ) {
    this.config = { ...defaultTrainConfig, ...config, optimizer: { ...defaultAdamWConfig, ...config.optimizer } };
    if (examples.length === 0) throw new Error('training data is empty');
    this.data = encodeExamples(examples, tokenizer, model.config.contextLength);
    const decay = [...model.named.entries()].filter(([, e]) => e.shape.length === 2).map(([, e]) => e);
    this.optimizer = new AdamW(model.params, model.grads, decay, this.config.optimizer);
    const w = this.config.workers;
    if (!Number.isInteger(w) || w < 0) throw new Error(`workers ${w}: expected an integer >= 0`);
    this.pool = w > 0 ? sharedTrainWorkerPool(model, w) : null;
  }

  /** Ends the worker threads now (they end on their own after a few idle seconds, and never keep the process alive). */
  close(): Promise<void> {
    return this.pool?.close() ?? Promise.resolve();
  }

  get step(): number {
    return this.optimizer.step;
  }

  /** The rows of step `step`'s batch, drawn from Rng(`${seed}/batch/${step}`). */
  rowsAt(step: number): Encoded[] {
    const rng = new Rng(`${this.config.seed}/batch/${step}`);
    const items: Encoded[] = [];
    for (let i = 0; i < this.config.batchSize; i++) items.push(this.data[Math.floor(rng.next() * this.data.length)]!);
    return items;
  }

  /**
   * One optimizer step. The batch's rows are sorted by length and cut into chunks padded to
   * their own longest (src/nn/pack-rows.ts), whose gradients accumulate with weights by their
   * share of the batch's loss tokens. With workers, the rows are dealt between the main thread
   * and the workers in like shares of long and short rows; AdamW adds the workers' gradients to
   * the main thread's in worker order, then takes its step.
   */
  trainStep(): StepInfo {
    const t0 = performance.now();
    const step = this.optimizer.step;
    const rows = this.rowsAt(step);
    this.model.zeroGrad();
    let total = 0;
    let padded = 0;
    for (const e of rows) for (let t = 1; t < e.ids.length; t++) if (t >= e.lossFrom) total += e.weight;
    const pack = { multiple: 16, maxT: this.model.config.contextLength, maxChunkTokens: this.config.microBatchTokens, chunkOverheadTokens: this.config.chunkOverheadTokens };
    const longest = Math.max(...rows.map((e) => e.ids.length - 1));
    const realTokens = rows.reduce((n, e) => n + e.ids.length - 1, 0);
    const parallel = this.pool !== null && rows.length > 1 && 6 * this.model.params.length * rows.length * longest >= this.config.parallelMinFlops;
    const shares = packRows(rows, this.tokenizer.pad, { ...pack, threads: parallel ? this.pool!.workers + 1 : 1 });
    for (const sh of shares) for (const ch of sh.chunks) padded += ch.B * ch.T;
    const { lossSum, threads, more } = parallel ? this.parallelGradients(this.pool!, shares, total) : { lossSum: accumulateGradients(this.model, shares[0]!, total), threads: 1, more: [] };
    const lr = cosineSchedule(step, this.config.steps, this.config.optimizer.lr, this.config.warmupSteps, this.config.minLrRatio);
    const gradNorm = this.optimizer.update(lr, more);
    return { step: step + 1, loss: total > 0 ? lossSum / total : 0, lr, gradNorm, tokens: padded, realTokens, ms: performance.now() - t0, threads };
  }

  /** The main thread's rows into `model.grads`; the workers' gradients (in worker order) are returned for AdamW to add. */
  private parallelGradients(pool: TrainWorkerPool, shares: PackedRows[], total: number): { lossSum: number; threads: number; more: Float32Array[] } {
    const out: number[] = [];
    pool.publish();
    for (let w = 0; w < pool.workers; w++) {
      const share = shares[w + 1]!;
      if (share.chunks.length > 0) {
        pool.dispatch(w, share, total);
        out.push(w);
      }
    }
    let lossSum: number;
    try {
      lossSum = accumulateGradients(this.model, shares[0]!, total);
    } catch (e) {
      // Take the workers' results off the line before failing, so the pool stays usable.
      for (const w of out) {
        try {
          pool.collect(w);
        } catch {
          // The main thread's error is the one to report.
        }
      }
      throw e;
    }
    const more: Float32Array[] = [];
    for (const w of out) {
      const r = pool.collect(w);
      lossSum += r.lossSum;
      more.push(r.grads);
    }
    return { lossSum, threads: 1 + out.length, more };
  }

  /** Mean masked loss over examples (no gradient), in batches. */
  evaluate(examples: LmExample[]): number {
    const enc = encodeExamples(examples, this.tokenizer, this.model.config.contextLength);
    let total = 0;
    let count = 0;
    for (let i = 0; i < enc.length; i += this.config.batchSize) {
      const b = makeBatch(enc.slice(i, i + this.config.batchSize), this.tokenizer.pad);
      this.model.kernels.pool.reset();
      const loss = this.model.loss(b.inputs, b.targets, b.mask, b.B, b.T).data[0]!;
      let w = 0;
      for (let j = 0; j < b.mask.length; j++) w += b.mask[j]!;
      total += loss * w;
      count += w;
    }
    return count > 0 ? total / count : 0;
  }
}

/** Plain text as examples: windows of `length` characters with stride length/2 (every token trains). */
export function textToExamples(text: string, length: number): LmExample[] {
  const chars = [...text];
  if (chars.length <= length) return [{ completion: text }];
  const out: LmExample[] = [];
  const stride = Math.max(1, Math.floor(length / 2));
  for (let i = 0; i + 1 < chars.length; i += stride) {
    const end = i + length;
    out.push({ completion: chars.slice(i, end).join(''), eos: end >= chars.length });
    if (end >= chars.length) break;
  }
  return out;
}
