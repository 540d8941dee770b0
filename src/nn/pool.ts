/**
 * Reusable float buffers for one step's activations and gradients.
 *
 * Why: a fresh multi-megabyte Float32Array costs page faults on first touch, and on virtual
 * machines those dominate: measured here, allocating and filling an 11 MB array took 31 ms,
 * refilling a kept one 0.8 ms. A training step allocates the same sizes every time, so buffers
 * handed out during a step are all returned by `reset()` at the start of the next.
 */
export class BufferPool {
  /** Free buffers sorted by capacity (ascending), for best-fit reuse across varying sizes. */
  private free: Float32Array[] = [];
  private used: Float32Array[] = [];
  /** Floats held (free and in use). */
  held = 0;

  /**
   * A buffer of exactly n floats with unspecified contents (valid until the next reset): a view
   * of the smallest free pooled buffer that holds n, or of a new one of n rounded up to a size
   * class (1/8 steps between powers of two). Best fit lets batches of varying length share memory:
   * peak use stays near that of the largest step.
   */
  take(n: number): Float32Array {
    let buf: Float32Array | undefined;
    const free = this.free;
    // Binary search for the first free buffer with capacity ≥ n.
    let lo = 0;
    let hi = free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (free[mid]!.length < n) lo = mid + 1;
      else hi = mid;
    }
    if (lo < free.length) buf = free.splice(lo, 1)[0]!;
    else buf = this.allocate(sizeClass(n));
    this.used.push(buf);
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  /** A zero-filled buffer of n floats. */
  zeros(n: number): Float32Array {
    return this.take(n).fill(0);
  }

  /** A copy of src in a pooled buffer. */
  copy(src: Float32Array): Float32Array {
    const b = this.take(src.length);
    b.set(src);
    return b;
  }

  /** Returns every buffer handed out since the last reset: earlier results become invalid. */
  reset(): void {
    if (this.used.length === 0) return;
    this.free = this.free.concat(this.used).sort((a, b) => a.length - b.length);
    this.used = [];
  }

  /** Drops everything (frees memory). */
  clear(): void {
    this.free = [];
    this.used = [];
    this.held = 0;
  }

  private allocate(n: number): Float32Array {
    this.held += n;
    return new Float32Array(n);
  }
}

/** n rounded up to 8 steps per power of two (n ≤ 16 stays as is). */
export function sizeClass(n: number): number {
  if (n <= 16) return n;
  const p = 2 ** Math.floor(Math.log2(n));
  const step = p / 8;
  return Math.ceil(n / step) * step;
}
