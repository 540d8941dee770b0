import type { FloatArena } from './wasm/arena.js';

/**
 * KV cache as a tree of segments. A sequence's cache is a chain of segments from the root;
 * samples that continue one prefix each own a tail segment and share the prefix's segments,
 * so a prefix is computed once however many samples or tree nodes continue it.
 *
 * Segments live in the engine's WebAssembly memory (`FloatArena`), where the SIMD attention
 * kernel reads them. One block per segment; per layer, k then v, each [H, capacity, D], so one
 * head's keys are contiguous (the decode-time attention loop reads them in order).
 *
 * Sized to need: a segment starts with room for what its first append writes (rounded up to a
 * power of two, at least `minSegmentTokens`) and doubles when full, so a 17-token step holds 32
 * slots, not `maxTokens`. Lifetimes are counted: every `CachedSequence` holding a segment (as its
 * tail or in its history) takes a reference, `dispose()` drops them, and the block returns to the
 * arena at zero. A segment nobody disposed is returned when it is garbage collected.
 */
export const minSegmentTokens = 8;

interface Block {
  offset: number;
  floats: number;
  freed: boolean;
}

const collector = new FinalizationRegistry<{ arena: FloatArena; block: Block }>(({ arena, block }) => {
  if (!block.freed) {
    block.freed = true;
    arena.release(block.offset, block.floats);
  }
});

export class KVSegment {
  /** Tokens written so far. */
  length = 0;
  private block: Block;
  private refs = 0;
  private cap: number;

  constructor(
    readonly arena: FloatArena,
    /** Absolute position of this segment's first token. */
    readonly start: number,
    capacity: number,
    readonly nLayers: number,
    readonly nHeads: number,
    readonly headDim: number,
  ) {
    this.cap = Math.max(1, capacity);
    const floats = this.floatsFor(this.cap);
    this.block = { offset: arena.alloc(floats), floats, freed: false };
    collector.register(this, { arena, block: this.block }, this);
  }

  private floatsFor(capacity: number): number {
    return 2 * this.nLayers * this.nHeads * capacity * this.headDim;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Offset in floats of the block in the arena (layer l's k at + l·2·H·cap·D, its v H·cap·D later). */
  get offset(): number {
    if (this.block.freed) throw new Error('KV cache: segment used after it was released');
    return this.block.offset;
  }

  /** Offset in floats of layer l's k ([H, capacity, D]); its v follows at + H·capacity·D. */
  kOffset(layer: number): number {
    return this.offset + layer * 2 * this.nHeads * this.cap * this.headDim;
  }

  /** Floats held (for memory accounting). */
  get floats(): number {
    return this.block.floats;
  }

  get bytes(): number {
    return this.block.floats * 4;
  }

  /**
   * Makes room for `need` tokens: doubles the capacity (at least to `need`) and copies the
   * written positions. Only the owner of a tail grows it, before any computation reads views.
   */
  ensure(need: number): void {
    if (need <= this.cap) return;
    const cap = Math.max(need, 2 * this.cap);
    const floats = this.floatsFor(cap);
    const old = this.block;
    if (old.freed) throw new Error('KV cache: segment used after it was released');
    const offset = this.arena.alloc(floats);
    const f = this.arena.f32; // after alloc: the memory may have grown
    const { nHeads: H, headDim: D } = this;
    for (let part = 0; part < 2 * this.nLayers; part++) {
      for (let h = 0; h < H; h++) {
        const src = old.offset + (part * H + h) * this.cap * D;
        f.copyWithin(offset + (part * H + h) * cap * D, src, src + this.length * D);
      }
    }
    old.freed = true;
    this.arena.release(old.offset, old.floats);
    this.block = { offset, floats, freed: false };
    collector.unregister(this);
    collector.register(this, { arena: this.arena, block: this.block }, this);
    this.cap = cap;
  }

  retain(): void {
    this.refs++;
  }

  /** Drops one reference; the last one returns the block to the arena. */
  releaseRef(): void {
    if (--this.refs > 0 || this.block.freed) return;
    this.block.freed = true;
    collector.unregister(this);
    this.arena.release(this.block.offset, this.block.floats);
  }
}

/** Capacity for a segment that must hold `need` tokens: a power of two, at least `minSegmentTokens` (so that freed blocks fit again). */
export function segmentCapacity(need: number): number {
  let c = minSegmentTokens;
  while (c < need) c *= 2;
  return c;
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
  private disposed = false;

  constructor(tail: KVSegment, history: ChainLink[]) {
    this.tail = tail;
    this.history = history;
    tail.retain();
    for (const l of history) l.seg.retain();
  }

  get pos(): number {
    return this.tail.start + this.tail.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** A new sequence that continues this one's first `this.pos` tokens in its own tail (room for `capacity`, grown on demand). */
  fork(capacity = minSegmentTokens): CachedSequence {
    if (this.disposed) throw new Error('KV cache: fork of a disposed sequence');
    const history = [...this.history];
    if (this.tail.length > 0) history.push({ seg: this.tail, count: this.tail.length });
    const t = this.tail;
    return new CachedSequence(new KVSegment(t.arena, this.pos, segmentCapacity(capacity), t.nLayers, t.nHeads, t.headDim), history);
  }

  /**
   * Another handle on the same segments (the prefix cache keeps one while the generator
   * disposes its own). Neither may append afterwards: a tail is written by one owner.
   */
  share(): CachedSequence {
    if (this.disposed) throw new Error('KV cache: share of a disposed sequence');
    return new CachedSequence(this.tail, [...this.history]);
  }

  /** Drops this handle's references; segments no other handle holds return to the arena. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.tail.releaseRef();
    for (const l of this.history) l.seg.releaseRef();
  }

  static empty(arena: FloatArena, capacity: number, nLayers: number, nHeads: number, headDim: number): CachedSequence {
    return new CachedSequence(new KVSegment(arena, 0, segmentCapacity(capacity), nLayers, nHeads, headDim), []);
  }
}

interface PrefixEntry {
  seq: CachedSequence;
  /** Log-probabilities (or logits) of the next token after the cached prefix. */
  nextLogits: Float32Array;
  lastUsed: number;
}

/** What the prefix cache did since creation (or `resetStats`). */
export interface PrefixCacheStats {
  /** Prompts looked up. */
  lookups: number;
  /** Lookups that found a cached prefix (of any length). */
  hits: number;
  /** Prompt tokens looked up, and those found cached: `hitTokens / lookupTokens` is the token hit rate. */
  lookupTokens: number;
  hitTokens: number;
  /** Entries dropped to stay within the byte budget. */
  evictions: number;
  /** Now: entries, and bytes of the KV segments they keep alive (each shared segment counted once). */
  entries: number;
  bytes: number;
  maxBytes: number;
}

/**
 * Cached prefixes by token ids, least recently used evicted past a byte budget (the KV segments
 * the entries keep alive, each shared segment counted once). Search calls `generate` again and
 * again with prefixes that extend earlier ones (a beam's or a tree node's text is its parent's
 * text plus a step), so the longest cached prefix is reused.
 */
export class PrefixCache {
  private readonly entries = new Map<string, PrefixEntry>();
  /** Entries holding each segment, so that a shared prefix's bytes count once. */
  private readonly holders = new Map<KVSegment, { entries: number; bytes: number }>();
  private bytesHeld = 0;
  private clock = 0;
  private counts = { lookups: 0, hits: 0, lookupTokens: 0, hitTokens: 0, evictions: 0 };

  constructor(readonly maxBytes = 24 * 2 ** 20) {}

  private static key(ids: ArrayLike<number>, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(ids[i]! + 1);
    return s;
  }

  /** The longest cached prefix of `ids` (at most ids.length tokens), or null. Counts toward the hit rate. */
  longest(ids: ArrayLike<number>): { seq: CachedSequence; nextLogits: Float32Array; length: number } | null {
    this.counts.lookups++;
    this.counts.lookupTokens += ids.length;
    if (this.entries.size === 0) return null;
    const full = PrefixCache.key(ids, ids.length);
    for (let n = ids.length; n > 0; n--) {
      const e = this.entries.get(full.slice(0, n));
      if (e) {
        e.lastUsed = ++this.clock;
        this.counts.hits++;
        this.counts.hitTokens += n;
        return { seq: e.seq, nextLogits: e.nextLogits, length: n };
      }
    }
    return null;
  }

  /** Keeps a handle on `seq`'s segments (the caller keeps and disposes its own). */
  put(ids: ArrayLike<number>, seq: CachedSequence, nextLogits: Float32Array): void {
    if (this.maxBytes <= 0) return;
    const key = PrefixCache.key(ids, ids.length);
    if (this.entries.has(key)) return;
    const held = seq.share();
    // A row of a batch's logits is a view (splitLogits): keep a copy, not the whole batch's buffer.
    const own = nextLogits.byteLength === nextLogits.buffer.byteLength ? nextLogits : nextLogits.slice();
    this.entries.set(key, { seq: held, nextLogits: own, lastUsed: ++this.clock });
    for (const seg of segmentsOf(held)) {
      const h = this.holders.get(seg);
      if (h) h.entries++;
      else {
        this.holders.set(seg, { entries: 1, bytes: seg.bytes });
        this.bytesHeld += seg.bytes;
      }
    }
    if (this.bytesHeld > this.maxBytes) this.evict();
  }

  /**
   * Least recently used first, down to half the budget (so that eviction is rare); the entry
   * just put goes last, and only if it alone exceeds the budget.
   */
  private evict(): void {
    const sorted = [...this.entries.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    const newest = sorted.pop()!;
    for (const [k, e] of sorted) {
      if (this.bytesHeld <= this.maxBytes / 2) break;
      this.drop(k, e);
      this.counts.evictions++;
    }
    if (this.bytesHeld > this.maxBytes) {
      this.drop(newest[0], newest[1]);
      this.counts.evictions++;
    }
  }

  private drop(key: string, e: PrefixEntry): void {
    this.entries.delete(key);
    for (const seg of segmentsOf(e.seq)) {
      const h = this.holders.get(seg)!;
      if (--h.entries === 0) {
        this.holders.delete(seg);
        this.bytesHeld -= h.bytes;
      }
    }
    e.seq.dispose();
  }

  /** Drops every entry (their segments return to the arena unless a live sequence holds them). */
  clear(): void {
    for (const [k, e] of [...this.entries.entries()]) this.drop(k, e);
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.bytesHeld;
  }

  get stats(): PrefixCacheStats {
    return { ...this.counts, entries: this.entries.size, bytes: this.bytesHeld, maxBytes: this.maxBytes };
  }

  resetStats(): void {
    this.counts = { lookups: 0, hits: 0, lookupTokens: 0, hitTokens: 0, evictions: 0 };
  }
}

function segmentsOf(seq: CachedSequence): KVSegment[] {
  return [seq.tail, ...seq.history.map((l) => l.seg)];
}
