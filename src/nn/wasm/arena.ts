/**
 * Float storage inside one WebAssembly memory, so that the SIMD attention kernel reads the KV
 * cache where it lies (copying a batch's whole cache into the kernel's memory every step would
 * move as many bytes as attention itself reads).
 *
 * Blocks are counted in floats and 16-byte aligned. Freed blocks go to a free list by exact size
 * and are reused first; the KV cache asks for power-of-two capacities, so sizes recur. WebAssembly
 * memory never shrinks: `reservedBytes` is the high-water mark, `bytesInUse` what is live now.
 *
 * Views (`f32`, `i32`) are re-made after the memory grows (growing detaches the old buffer), so
 * read them after the last `alloc` of a computation, never across one.
 */
export class FloatArena {
  readonly memory: WebAssembly.Memory;
  private top = 0;
  private readonly free = new Map<number, number[]>();
  private f32View: Float32Array;
  private i32View: Int32Array;
  private inUse = 0;
  private peak = 0;

  constructor(initialBytes = 1 << 20) {
    this.memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(initialBytes / 65536)) });
    this.f32View = new Float32Array(this.memory.buffer);
    this.i32View = new Int32Array(this.memory.buffer);
  }

  get f32(): Float32Array {
    if (this.f32View.buffer !== this.memory.buffer) this.refresh();
    return this.f32View;
  }

  get i32(): Int32Array {
    if (this.i32View.buffer !== this.memory.buffer) this.refresh();
    return this.i32View;
  }

  private refresh(): void {
    this.f32View = new Float32Array(this.memory.buffer);
    this.i32View = new Int32Array(this.memory.buffer);
  }

  /** A block of at least `floats` floats (rounded up to 4); returns its offset in floats. */
  alloc(floats: number): number {
    const n = roundUp4(floats);
    this.inUse += n * 4;
    if (this.inUse > this.peak) this.peak = this.inUse;
    const list = this.free.get(n);
    if (list && list.length > 0) return list.pop()!;
    const at = this.top;
    const endBytes = (at + n) * 4;
    if (endBytes > this.memory.buffer.byteLength) {
      const have = this.memory.buffer.byteLength;
      // Grow by at least half again, so that a cache growing token by token does not grow memory each time.
      const want = Math.max(endBytes, have + (have >> 1));
      this.memory.grow(Math.ceil((want - have) / 65536));
      this.refresh();
    }
    this.top += n;
    return at;
  }

  /** Returns a block from `alloc(floats)`. */
  release(offset: number, floats: number): void {
    const n = roundUp4(floats);
    this.inUse -= n * 4;
    let list = this.free.get(n);
    if (!list) this.free.set(n, (list = []));
    list.push(offset);
  }

  /** Bytes in live blocks. */
  get bytesInUse(): number {
    return this.inUse;
  }

  /** Most bytes ever live at once (since creation or `resetPeak`). */
  get peakBytes(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.inUse;
  }

  /** Size of the WebAssembly memory (never shrinks). */
  get reservedBytes(): number {
    return this.memory.buffer.byteLength;
  }
}

function roundUp4(n: number): number {
  return (Math.max(1, Math.ceil(n)) + 3) & ~3;
}
