import type { Transformer } from './model.js';
import { backward } from './tensor.js';

/**
 * Rows of a padded batch (row-major [B, T]): the whole batch, or the share of one thread in
 * data-parallel training (src/nn/train-workers.ts).
 */
export interface RowSpan {
  inputs: Int32Array;
  targets: Int32Array;
  mask: Float32Array;
  B: number;
  T: number;
}

/** Rows [r0, r1) of a batch, as views (copy them before posting to a worker: a view's whole buffer is cloned). */
export function rowSpan(batch: RowSpan, r0: number, r1: number): RowSpan {
  const T = batch.T;
  return { inputs: batch.inputs.subarray(r0 * T, r1 * T), targets: batch.targets.subarray(r0 * T, r1 * T), mask: batch.mask.subarray(r0 * T, r1 * T), B: r1 - r0, T };
}

/**
 * Contiguous row ranges for `threads` threads whose sizes differ by at most one (rows are padded
 * to the batch's T, so equal rows are equal work); the first range is the main thread's. A
 * thread gets [r, r) when the batch has fewer rows than threads.
 */
export function splitRows(B: number, threads: number): [number, number][] {
  const out: [number, number][] = [];
  const base = Math.floor(B / threads);
  const extra = B % threads;
  let r = 0;
  for (let t = 0; t < threads; t++) {
    const n = base + (t < extra ? 1 : 0);
    out.push([r, r + n]);
    r += n;
  }
  return out;
}

/**
 * Adds to `model.grads` the gradient of this span's part of the batch loss and returns that part
 * times `total`: microbatches of at most `rowsPer` rows, each microbatch's mean loss entering with
 * its share of the batch's `total` loss tokens, so that spans summed over threads (in any order,
 * up to float rounding) give the whole batch's mean loss and its gradient.
 */
export function accumulateGradients(model: Transformer, span: RowSpan, rowsPer: number, total: number): number {
  const { B, T } = span;
  let lossSum = 0;
  for (let b0 = 0; b0 < B; b0 += rowsPer) {
    const b1 = Math.min(B, b0 + rowsPer);
    const mask = span.mask.subarray(b0 * T, b1 * T);
    let share = 0;
    for (let i = 0; i < mask.length; i++) share += mask[i]!;
    if (share === 0) continue;
    model.kernels.pool.reset();
    const loss = model.loss(span.inputs.subarray(b0 * T, b1 * T), span.targets.subarray(b0 * T, b1 * T), mask, b1 - b0, T);
    backward(loss, share / total);
    lossSum += loss.data[0]! * share;
  }
  return lossSum;
}
