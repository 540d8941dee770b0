/**
 * Reusable float buffers for one step's activations and gradients.
 *
 * Why: a fresh multi-megabyte Float32Array costs page faults on first touch, and on virtual
 * machines those dominate: measured here, allocating and filling an 11 MB array took 31 ms,
 * refilling a kept one 0.8 ms. A training step allocates the same sizes every time, so buffers
 * handed out during a step are all returned by `reset()` at the start of the next.
 *
 * With `{ wasm: true }` the buffers live in one WebAssembly memory (`memory`), so that the
 * SIMD kernels (wasm/train-elementwise.ts) read and write activations where they lie instead of
 * copying each input in and each output out (onnxruntime reads and writes them there too).
 * A WebAssembly memory detaches every view of itself when it grows, so it grows only in
 * `reset()`, when every buffer handed out is invalid anyway: a step that needs more than the
 * memory holds takes ordinary arrays for the rest (the kernels copy those), and the next reset
 * grows the memory by as much, so from the second step of a shape on every buffer is in it.
 */
export class BufferPool {
  /** Free buffers sorted by capacity (ascending), for best-fit reuse across varying sizes. */
  private free: Float32Array[] = [];
  private used: Float32Array[] = [];
  /** Floats held (free and in use). */
  held = 0;
  /** The WebAssembly memory the buffers live in (`{ wasm: true }`), or null. */
  memory: WebAssembly.Memory | null = null;
  private wasm: boolean;
  /** Bytes of `memory` handed to buffers so far (16-byte aligned). */
  private top = 0;
  /** Floats taken as ordinary arrays since the last `reserve()` because `memory` was full. */
  private overflow = 0;

  constructor(opts: { wasm?: boolean } = {}) {
    this.wasm = opts.wasm === true;
  }

  /** Whether `a` is a view of this pool's WebAssembly memory (a kernel may then use it in place). */
  inMemory(a: Float32Array): boolean {
    return this.memory !== null && a.buffer === this.memory.buffer;
  }

  /** Grows the WebAssembly memory by what was taken outside it, when no buffer is in use (the free ones are re-made as views of the grown memory). */
  private reserve(): void {
    if (!this.wasm || this.overflow === 0 || this.used.length > 0) return;
    const need = this.top + this.overflow * 4;
    this.overflow = 0;
    if (need > maxPoolBytes) return;
    // Which free buffers lie in the memory: read before growing, which detaches their views.
    const kept: { offset: number; length: number }[] = [];
    let outside = 0;
    for (const b of this.free) {
      if (this.inMemory(b)) kept.push({ offset: b.byteOffset, length: b.length });
      else outside += b.length;
    }
    try {
      if (this.memory === null) this.memory = new WebAssembly.Memory({ initial: Math.ceil(need / 65536) });
      else if (need > this.memory.buffer.byteLength) this.memory.grow(Math.ceil((need - this.memory.buffer.byteLength) / 65536));
    } catch {
      // No memory to grow into (RangeError): the ordinary arrays stay, and the kernels copy them.
      this.wasm = false;
      return;
    }
    // Ordinary arrays taken on overflow are dropped: their sizes come back inside the memory.
    this.held -= outside;
    const buffer = this.memory.buffer;
    this.free = kept.map((k) => new Float32Array(buffer, k.offset, k.length)).sort((a, b) => a.length - b.length);
  }

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

  /**
   * Returns every buffer handed out since the last reset: earlier results become invalid. With
   * `{ wasm: true }`, when the steps since the last reset took ordinary arrays because the memory
   * was full, the memory grows by as much here, which detaches every earlier view of it.
   */
  reset(): void {
    if (this.used.length > 0) {
      this.free = this.free.concat(this.used).sort((a, b) => a.length - b.length);
      this.used = [];
    }
    this.reserve();
  }

  /** Drops everything (frees memory: the WebAssembly memory too, which cannot shrink). */
  clear(): void {
    this.free = [];
    this.used = [];
    this.held = 0;
    this.memory = null;
    this.top = 0;
    this.overflow = 0;
  }

  private allocate(n: number): Float32Array {
    this.held += n;
    if (this.wasm) {
      const bytes = (n * 4 + 15) & ~15;
      if (this.memory !== null && this.top + bytes <= this.memory.buffer.byteLength) {
        const view = new Float32Array(this.memory.buffer, this.top, n);
        this.top += bytes;
        return view;
      }
      this.overflow += bytes / 4;
    }
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

/** The most a pool keeps in WebAssembly memory (beyond it, ordinary arrays): half of wasm32's 4 GiB. */
const maxPoolBytes = 2 ** 31;
