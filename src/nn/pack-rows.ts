import type { Chunk, PackedRows } from './microbatch.js';
import type { Encoded } from './train.js';

/**
 * How a step's rows become forward/backward passes. Rows of a batch of mixed lengths padded to
 * the longest waste compute: on the demo's loop data (traces of 53 to 147 tokens) a batch of 32
 * padded to its longest row was 60% real tokens. Sorting the rows by length and cutting them
 * into chunks padded to their own longest (the per-microbatch form of length-grouped batching,
 * HF Trainer's `group_by_length`) keeps the batch itself, and so the gradient, unchanged up to
 * float summation order.
 */
export interface PackConfig {
  /** Threads sharing the rows (the main thread first). */
  threads: number;
  /** Most tokens (rows × padded length) in one pass: bounds activation memory (default 4096). */
  maxChunkTokens: number;
  /** Padded lengths are rounded up to a multiple of this, for fewer distinct shapes (default 16). */
  multiple: number;
  /** Longest padded length (the model's context). */
  maxT: number;
  /**
   * What one more pass costs beyond its tokens, in tokens: the kernels' fixed per-call cost and
   * smaller matrix products' lower rate. Chunks are cut where the padding saved exceeds it.
   * Default 64: on the demo's loop data (one thread, a busy 2-core VM, medians of 6 alternating
   * runs) real tokens per second rose 1.47× over one pass per batch at 64, and within noise of
   * that from 16 to 128; 0 (a pass per distinct length) gained 1.2×.
   */
  chunkOverheadTokens: number;
}

/**
 * Sequence length rounded up to a multiple of `multiple` (at most `max`): fewer distinct shapes,
 * so pooled buffers and onnxruntime's per-shape plans are reused.
 */
export function bucketLength(T: number, max: number, multiple = 16): number {
  return Math.min(max, Math.ceil(T / multiple) * multiple);
}

export const defaultPackConfig = { threads: 1, maxChunkTokens: 4096, multiple: 16, maxT: Infinity, chunkOverheadTokens: 64 } satisfies PackConfig;

/**
 * Splits rows between threads and into chunks: rows sorted by length are dealt to the threads in
 * snake order (0 1 1 0 0 1 ...) so each thread gets a like share of long and short rows, then
 * each thread's rows are cut into contiguous runs of like length by dynamic programming over
 * (padded tokens + overhead per pass), within `maxChunkTokens` per pass.
 */
export function packRows(items: readonly Encoded[], pad: number, config: Partial<PackConfig> = {}): PackedRows[] {
  const c = { ...defaultPackConfig, ...config };
  const order = items.map((e, i) => ({ e, i })).sort((a, b) => a.e.ids.length - b.e.ids.length || a.i - b.i).map((x) => x.e);
  const perThread: Encoded[][] = Array.from({ length: c.threads }, () => []);
  order.forEach((e, k) => {
    const round = Math.floor(k / c.threads);
    const pos = k % c.threads;
    perThread[round % 2 === 0 ? pos : c.threads - 1 - pos]!.push(e);
  });
  return perThread.map((rows) => packThread(rows, pad, c));
}

/**
 * Cuts items sorted by (padded) length into contiguous chunks by dynamic programming: least
 * padded tokens plus `overhead` per pass, each pass within `maxTokens` (rows × its longest; an
 * item of `rowsPerItem` rows, such as a DPO pair, is never split). Returns the items per chunk.
 */
export function cutByLength(lengths: readonly number[], maxTokens: number, overhead: number, rowsPerItem = 1): number[] {
  const n = lengths.length;
  // best[j]: least cost of items [0, j); cut[j]: where its last chunk starts.
  const best = new Float64Array(n + 1).fill(Infinity);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const T = lengths[j - 1]!; // sorted: the chunk's last item is its longest
    for (let i = j - 1; i >= 0; i--) {
      const rows = (j - i) * rowsPerItem;
      if (j - i > 1 && rows * T > maxTokens) break;
      const cost = best[i]! + rows * T + overhead;
      if (cost < best[j]!) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const sizes: number[] = [];
  for (let j = n; j > 0; j = cut[j]!) sizes.unshift(j - cut[j]!);
  return sizes;
}

function packThread(rows: readonly Encoded[], pad: number, c: PackConfig): PackedRows {
  const lengths = rows.map((e) => bucketLength(e.ids.length - 1, c.maxT, c.multiple));
  let first = 0;
  const chunks: Chunk[] = cutByLength(lengths, c.maxChunkTokens, c.chunkOverheadTokens).map((B) => ({ B, T: lengths[(first += B) - 1]! }));
  const size = chunks.reduce((s, ch) => s + ch.B * ch.T, 0);
  const inputs = new Int32Array(size).fill(pad);
  const targets = new Int32Array(size).fill(pad);
  const mask = new Float32Array(size);
  let at = 0;
  let r = 0;
  for (const { B, T } of chunks) {
    for (let b = 0; b < B; b++, r++) {
      const e = rows[r]!;
      const base = at + b * T;
      for (let t = 0; t < e.ids.length - 1; t++) {
        inputs[base + t] = e.ids[t]!;
        targets[base + t] = e.ids[t + 1]!;
        if (t + 1 >= e.lossFrom) mask[base + t] = e.weight;
      }
    }
    at += B * T;
  }
  return { inputs, targets, mask, chunks };
}
