/**
 * KV cache as a tree of segments. A sequence's cache is a chain of segments from the root;
 * samples that continue one prefix each own a tail segment and share the prefix's segments,
 * so a prefix is computed once however many samples or tree nodes continue it.
 *
 * Layout per layer: k and v are [H, capacity, D], so one head's keys are contiguous
 * (the decode-time attention loop reads them in order).
 */
export class KVSegment {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** Tokens written so far. */
  length = 0;

  constructor(
    readonly parent: KVSegment | null,
    /** Absolute position of this segment's first token. */
    readonly start: number,
    readonly capacity: number,
    readonly nLayers: number,
    readonly nHeads: number,
    readonly headDim: number,
  ) {
    this.k = [];
    this.v = [];
    for (let l = 0; l < nLayers; l++) {
      this.k.push(new Float32Array(nHeads * capacity * headDim));
      this.v.push(new Float32Array(nHeads * capacity * headDim));
    }
  }

  /** Floats held (for memory accounting). */
  get floats(): number {
    return 2 * this.nLayers * this.nHeads * this.capacity * this.headDim;
  }
}

/** One part of a chain: a segment and how many of its positions the reader may see. */
export interface ChainLink {
  seg: KVSegment;
  /** Positions of `seg` visible to this sequence (0..count-1) when it is not the sequence's own tail. */
  count: number;
}

/**
 * A sequence being generated: its own writable tail segment over a frozen shared history.
 * `pos` is the number of tokens in the sequence (the next token's position).
 */
export class CachedSequence {
  readonly tail: KVSegment;
  /** Frozen ancestors, root first, with the counts this sequence may see. */
  readonly history: ChainLink[];

  constructor(tail: KVSegment, history: ChainLink[]) {
    this.tail = tail;
    this.history = history;
  }

  get pos(): number {
    return this.tail.start + this.tail.length;
  }

  /** A new sequence that continues this one's first `this.pos` tokens in its own tail. */
  fork(capacity: number): CachedSequence {
    const history = [...this.history];
    if (this.tail.length > 0) history.push({ seg: this.tail, count: this.tail.length });
    const t = this.tail;
    return new CachedSequence(new KVSegment(null, this.pos, capacity, t.nLayers, t.nHeads, t.headDim), history);
  }

  static empty(capacity: number, nLayers: number, nHeads: number, headDim: number): CachedSequence {
    return new CachedSequence(new KVSegment(null, 0, capacity, nLayers, nHeads, headDim), []);
  }
}

interface PrefixEntry {
  seq: CachedSequence;
  /** Log-probabilities (or logits) of the next token after the cached prefix. */
  nextLogits: Float32Array;
  tokens: number;
  lastUsed: number;
}

/**
 * Cached prefixes by token ids, least recently used evicted past a token budget. Search calls
 * `generate` again and again with prefixes that extend earlier ones (a beam's or a tree node's
 * text is its parent's text plus a step), so the longest cached prefix is reused.
 */
export class PrefixCache {
  private readonly entries = new Map<string, PrefixEntry>();
  private tokensHeld = 0;
  private clock = 0;

  constructor(readonly maxTokens = 65536) {}

  private static key(ids: ArrayLike<number>, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(ids[i]! + 1);
    return s;
  }

  /** The longest cached prefix of `ids` (at most ids.length tokens), or null. */
  longest(ids: ArrayLike<number>): { seq: CachedSequence; nextLogits: Float32Array; length: number } | null {
    const full = PrefixCache.key(ids, ids.length);
    for (let n = ids.length; n > 0; n--) {
      const e = this.entries.get(full.slice(0, n));
      if (e) {
        e.lastUsed = ++this.clock;
        return { seq: e.seq, nextLogits: e.nextLogits, length: n };
      }
    }
    return null;
  }

  put(ids: ArrayLike<number>, seq: CachedSequence, nextLogits: Float32Array): void {
    if (this.maxTokens <= 0) return;
    const key = PrefixCache.key(ids, ids.length);
    if (this.entries.has(key)) return;
    this.entries.set(key, { seq, nextLogits, tokens: ids.length, lastUsed: ++this.clock });
    this.tokensHeld += ids.length;
    if (this.tokensHeld > this.maxTokens) this.evict();
  }

  private evict(): void {
    const sorted = [...this.entries.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [k, e] of sorted) {
      if (this.tokensHeld <= this.maxTokens / 2) break;
      this.entries.delete(k);
      this.tokensHeld -= e.tokens;
    }
  }

  clear(): void {
    this.entries.clear();
    this.tokensHeld = 0;
  }

  get size(): number {
    return this.entries.size;
  }
}
