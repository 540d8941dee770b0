import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/**
 * A one-way channel of records (arrays of 32-bit words) between two threads: a ring in shared
 * memory, one writer and one reader, with the writer's MessagePort for a record the ring has no
 * room for. Records arrive in the order written, whichever way each went.
 *
 * Why not postMessage alone: on the 2-vCPU VM a postMessage that wakes the other thread costs its
 * sender 20–60 µs (the wake-up, not the copy: a bare number costs the same; measured in session
 * 32), and the engine thread paid it for every response, in the gap between two decode steps.
 * Writing to the ring costs no system call; the reader looks when it chooses (the HTTP thread on
 * a timer while it waits for results, the engine thread between steps), and only a reader that
 * sleeps on the channel (`wait`, the idle engine thread) is woken.
 */
export interface ChannelMemory {
  ring: SharedArrayBuffer;
  header: SharedArrayBuffer;
}

// Header words. Ring positions run over [0, 2·capacity) so that a full ring and an empty one differ.
const HEAD = 0;
const TAIL = 1;
/** Records sent through the port (the reader takes as many). */
const PORTED = 2;
/** Records written: what a sleeping reader waits on. */
const WRITTEN = 3;
/** 1 while the reader sleeps in `wait` (the writer then wakes it). */
const SLEEPING = 4;

/** A channel's shared memory, `capacity` words of ring. */
export function channelMemory(capacity: number): ChannelMemory {
  if (!Number.isInteger(capacity) || capacity < 16) throw new Error(`channel capacity ${capacity}: expected an integer >= 16`);
  return { ring: new SharedArrayBuffer(capacity * 4), header: new SharedArrayBuffer(8 * 4) };
}

export class ChannelWriter {
  private readonly ring: Int32Array;
  private readonly header: Int32Array;
  private readonly cap: number;
  private seq = 0;
  /** Records that went through the port because the ring had no room (tests read it). */
  ported = 0;

  constructor(memory: ChannelMemory, private readonly port: MessagePort) {
    this.ring = new Int32Array(memory.ring);
    this.header = new Int32Array(memory.header);
    this.cap = this.ring.length;
  }

  /** Sends one record (the words are copied: the caller may reuse its array). */
  write(words: Int32Array): void {
    const seq = this.seq++;
    const need = words.length + 2;
    const h = this.header;
    const tail = h[TAIL]!;
    const used = (tail - Atomics.load(h, HEAD) + 2 * this.cap) % (2 * this.cap);
    if (need <= this.cap - used) {
      const at = tail % this.cap;
      this.ring[at] = need;
      this.ring[(at + 1) % this.cap] = seq;
      const first = Math.min(words.length, this.cap - ((at + 2) % this.cap));
      const start = (at + 2) % this.cap;
      this.ring.set(words.subarray(0, first), start);
      if (first < words.length) this.ring.set(words.subarray(first), 0);
      Atomics.store(h, TAIL, (tail + need) % (2 * this.cap));
    } else {
      this.port.postMessage({ seq, words: words.slice() });
      this.ported++;
      Atomics.add(h, PORTED, 1);
    }
    Atomics.add(h, WRITTEN, 1);
    if (Atomics.load(h, SLEEPING) === 1) Atomics.notify(h, WRITTEN);
  }
}

export class ChannelReader {
  private readonly ring: Int32Array;
  private readonly header: Int32Array;
  private readonly cap: number;
  private seq = 0;
  private taken = 0;
  private buf = new Int32Array(256);

  constructor(memory: ChannelMemory, private readonly port: MessagePort) {
    this.ring = new Int32Array(memory.ring);
    this.header = new Int32Array(memory.header);
    this.cap = this.ring.length;
  }

  /**
   * The next record, or undefined when none waits. The array is the reader's own and is
   * overwritten by the next read.
   */
  read(): Int32Array | undefined {
    const h = this.header;
    const head = h[HEAD]!;
    if (head !== Atomics.load(h, TAIL)) {
      const at = head % this.cap;
      const len = this.ring[at]!;
      if (this.ring[(at + 1) % this.cap] === this.seq) {
        this.seq++;
        const n = len - 2;
        if (this.buf.length < n) this.buf = new Int32Array(Math.max(n, 2 * this.buf.length));
        const start = (at + 2) % this.cap;
        const first = Math.min(n, this.cap - start);
        this.buf.set(this.ring.subarray(start, start + first), 0);
        if (first < n) this.buf.set(this.ring.subarray(0, n - first), first);
        Atomics.store(h, HEAD, (head + len) % (2 * this.cap));
        return this.buf.subarray(0, n);
      }
    }
    // The record due went through the port: it was queued there before any later record was written.
    if (Atomics.load(h, PORTED) > this.taken) {
      const m = receiveMessageOnPort(this.port)?.message as { seq: number; words: Int32Array } | undefined;
      if (!m || m.seq !== this.seq) throw new Error(`channel: record ${this.seq} expected from the port, got ${m ? m.seq : 'none'}`);
      this.taken++;
      this.seq++;
      return m.words;
    }
    return undefined;
  }

  /** Sleeps (a worker thread only) until a record is written or `ms` pass. */
  wait(ms: number): void {
    const h = this.header;
    Atomics.store(h, SLEEPING, 1);
    const written = Atomics.load(h, WRITTEN);
    // Nothing lost: a writer that saw SLEEPING = 0 wrote its record before `written` was read.
    if (Atomics.load(h, HEAD) === Atomics.load(h, TAIL) && Atomics.load(h, PORTED) === this.taken) Atomics.wait(h, WRITTEN, written, ms);
    Atomics.store(h, SLEEPING, 0);
  }
}

/** Builds a record word by word (reused: `words()` is valid until the next `reset`). */
// A double's two words.
const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

export class RecordWriter {
  private buf = new Int32Array(1024);
  private n = 0;

  reset(): this {
    this.n = 0;
    return this;
  }

  int(v: number): this {
    this.room(1);
    this.buf[this.n++] = v;
    return this;
  }

  /** A double, exactly (two words). */
  num(v: number): this {
    this.room(2);
    f64[0] = v;
    this.buf[this.n++] = f64Words[0]!;
    this.buf[this.n++] = f64Words[1]!;
    return this;
  }

  /** A string as its UTF-16 code units, one a word. */
  str(s: string): this {
    this.room(s.length + 1);
    this.buf[this.n++] = s.length;
    for (let i = 0; i < s.length; i++) this.buf[this.n++] = s.charCodeAt(i);
    return this;
  }

  ints(v: readonly number[]): this {
    this.room(v.length + 1);
    const b = this.buf;
    let n = this.n;
    b[n++] = v.length;
    for (let i = 0; i < v.length; i++) b[n++] = v[i]!;
    this.n = n;
    return this;
  }

  nums(v: readonly number[]): this {
    this.room(2 * v.length + 1);
    const b = this.buf;
    let n = this.n;
    b[n++] = v.length;
    for (let i = 0; i < v.length; i++) {
      f64[0] = v[i]!;
      b[n++] = f64Words[0]!;
      b[n++] = f64Words[1]!;
    }
    this.n = n;
    return this;
  }

  words(): Int32Array {
    return this.buf.subarray(0, this.n);
  }

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = new Int32Array(Math.max(this.n + k, 2 * this.buf.length));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
}

/** Reads a record in the order RecordWriter wrote it. */
export class RecordReader {
  private at = 0;

  constructor(private readonly words: Int32Array) {}

  int(): number {
    if (this.at >= this.words.length) throw new Error('record: read past its end');
    return this.words[this.at++]!;
  }

  num(): number {
    f64Words[0] = this.int();
    f64Words[1] = this.int();
    return f64[0]!;
  }

  str(): string {
    const n = this.int();
    if (this.at + n > this.words.length) throw new Error('record: read past its end');
    let s = '';
    // In chunks: String.fromCharCode takes its code units as arguments.
    for (let i = 0; i < n; i += 4096) s += String.fromCharCode(...this.words.subarray(this.at + i, this.at + Math.min(n, i + 4096)));
    this.at += n;
    return s;
  }

  ints(): number[] {
    const n = this.int();
    if (this.at + n > this.words.length) throw new Error('record: read past its end');
    const v = new Array<number>(n);
    for (let i = 0; i < n; i++) v[i] = this.words[this.at + i]!;
    this.at += n;
    return v;
  }

  nums(): number[] {
    const n = this.int();
    const v = new Array<number>(n);
    for (let i = 0; i < n; i++) v[i] = this.num();
    return v;
  }
}
