import type { BufferPool } from './pool.js';

/**
 * Resets a pool at the start of a forward pass, dropping its buffers instead when it holds more
 * than `maxFloats`. The pool keys buffers by exact size, so batches of many different shapes
 * (variable sequence lengths) would otherwise keep one set of activations per shape alive.
 */
export function resetPoolBounded(pool: BufferPool, maxFloats = 64e6): void {
  if (pool.held > maxFloats) pool.clear();
  else pool.reset();
}

/** Sequence length rounded up to a multiple of `multiple` (at most `max`): fewer distinct shapes, more buffer reuse. */
export function bucketLength(T: number, max: number, multiple = 16): number {
  return Math.min(max, Math.ceil(T / multiple) * multiple);
}
