import type { Transformer } from './model.js';
import { backward } from './tensor.js';

/** One forward/backward pass: B rows padded to length T. */
export interface Chunk {
  B: number;
  T: number;
}

/**
 * One thread's rows of a step's batch, as chunks that each have their own padded length, stored
 * one after another (chunk c is row-major [B_c, T_c]): the whole batch on one thread, or one
 * thread's share in data-parallel training (src/nn/train-workers.ts).
 */
export interface PackedRows {
  inputs: Int32Array;
  targets: Int32Array;
  mask: Float32Array;
  chunks: Chunk[];
}

/**
 * Adds to `model.grads` the gradient of these rows' part of the batch loss and returns that part
 * times `total`: one pass per chunk, each chunk's mean loss entering with its share of the
 * batch's `total` loss tokens, so that the parts summed over threads (in any order, up to float
 * rounding) give the whole batch's mean loss and its gradient, however the rows were chunked.
 */
export function accumulateGradients(model: Transformer, rows: PackedRows, total: number): number {
  let lossSum = 0;
  let at = 0;
  for (const { B, T } of rows.chunks) {
    const end = at + B * T;
    const mask = rows.mask.subarray(at, end);
    let share = 0;
    for (let i = 0; i < mask.length; i++) share += mask[i]!;
    if (share > 0) {
      model.kernels.pool.reset();
      const loss = model.loss(rows.inputs.subarray(at, end), rows.targets.subarray(at, end), mask, B, T);
      backward(loss, share / total);
      lossSum += loss.data[0]! * share;
    }
    at = end;
  }
  return lossSum;
}
