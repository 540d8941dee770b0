import type { DecodeModelWeights, DecodeProgram, FusedDecodeKernels } from './kernels.js';
import type { Transformer } from './model.js';
import { CachedSequence } from './kv-cache.js';
import { FloatArena } from './wasm/arena.js';
import { descriptorInts } from './wasm/attention.js';
import { referenceDecodeKernels, simdAvailable, wasmDecodeKernels, type DecodeKernels } from './wasm/decode-kernels.js';
import { ropeStoreTable } from './wasm/rope-store.js';
import { referenceSwiglu, type SwigluKernel } from './wasm/swiglu.js';

export interface InferenceEngineOptions {
  /**
   * RoPE with the KV writes, attention over the KV cache, and (on the op-by-op dense path) the
   * SwiGLU activation: 'wasm' is the WebAssembly SIMD kernels (src/nn/wasm/), 'reference' the
   * plain-TS loops beside them. Default 'wasm' where the runtime has 128-bit SIMD (Node 20 has).
   */
  decodeKernels: 'wasm' | 'reference';
  /**
   * The dense work between attentions: 'fused' runs it as one onnxruntime call per half block
   * (ort/decode-graphs.ts) where the model's kernels have it, 'op-by-op' as separate GEMMs with
   * RMSNorm, SwiGLU and residual adds between them (the readable path; reference kernels always
   * take it). Default 'fused': at batch 64 on the demo size, 9 kernel calls a step became 3.
   */
  dense: 'fused' | 'op-by-op';
  /**
   * Inside `withFrozenWeights`, the fused dense work runs on a copy of the weights compiled into
   * the graphs as constants (default true); false keeps feeding them as inputs (A/B, tests).
   */
  frozenWeights: boolean;
}

export const defaultInferenceEngineOptions = { decodeKernels: 'wasm', dense: 'fused', frozenWeights: true } satisfies InferenceEngineOptions;

/** KV memory of one engine (all its segments and scratch live in one WebAssembly memory). */
export interface KvMemoryStats {
  /** Bytes in live blocks now (segments, plus the attention scratch). */
  bytesInUse: number;
  /** Most bytes live at once since creation or `resetPeak()`. */
  peakBytes: number;
  /** Size of the WebAssembly memory (its high-water mark: it never shrinks). */
  reservedBytes: number;
}

/**
 * Inference with a KV cache: appends tokens to cached sequences and returns next-token logits.
 * One call handles any mix of sequences and token counts (a long prefill, or one token for each
 * of 64 samples): the rows of all sequences go through each weight matrix as one GEMM; attention
 * reads each row's own chain of cached segments (shared prefixes are read, never recomputed),
 * one kernel call per layer for all rows.
 */
export class InferenceEngine {
  /** Tokens run through the model since creation (prefix sharing is measured by this). */
  tokensComputed = 0;
  readonly arena = new FloatArena();
  readonly decode: DecodeKernels;
  /** SwiGLU for widths the SIMD kernel does not take (dFF not a multiple of 4). */
  private readonly swigluAnyWidth: SwigluKernel;
  private readonly H: number;
  private readonly D: number;
  private scratch = { offset: 0, floats: 0 };
  /** The RoPE table `ropeStore` reads ([contextLength, 2, D] floats), kept at the start of the scratch block. */
  private readonly ropeTable: Float32Array;
  private readonly fused: FusedDecodeKernels | null;
  private readonly freeze: boolean;
  /** The fused step over the live weights (fed as inputs at every call). */
  private readonly live: DecodeProgram | null;
  /** The fused step compiled with the weights as constants, and the weights it was compiled from. */
  private frozen: { program: DecodeProgram; weights: Float32Array } | null = null;
  /** The fused step `append` runs: `live`, or `frozen`'s inside `withFrozenWeights`. */
  private program: DecodeProgram | null;
  /** Times the weights were compiled as constants (once, then once per change of the weights). */
  frozenCompiles = 0;

  constructor(readonly model: Transformer, opts: Partial<InferenceEngineOptions> = {}) {
    this.H = model.config.nHeads;
    this.D = model.config.dModel / model.config.nHeads;
    const o = { ...defaultInferenceEngineOptions, ...opts };
    this.decode = o.decodeKernels === 'wasm' && simdAvailable() ? wasmDecodeKernels(this.arena.memory, this.D) : referenceDecodeKernels(this.arena.memory, this.D);
    this.swigluAnyWidth = model.config.dFF % 4 === 0 ? this.decode : referenceSwiglu(this.arena.memory);
    const { cos, sin } = model.ropeFor(model.config.contextLength);
    this.ropeTable = ropeStoreTable(cos, sin, model.config.contextLength, this.D);
    this.fused = o.dense === 'fused' ? (model.kernels.fusedDecode ?? null) : null;
    this.freeze = o.frozenWeights;
    this.live = this.fused?.program(this.decodeWeights(), 'inputs') ?? null;
    this.program = this.live;
  }

  /**
   * Runs `fn` (synchronous, and not changing the model's weights) with the fused dense work on
   * the weights compiled into its graphs as constants: onnxruntime then packs them for its GEMMs
   * once, where weights fed as inputs are packed again at every call. The dense call of a decode
   * step took 22–35% less time (a block of the demo size at 26 rows: 186 → 151 µs; of `small`:
   * 724 → 505 µs). The compiled copy is checked against the weights at each entry (a memcmp:
   * 0.2 ms for the demo size, 1.5 ms for `small`) and compiled again when training changed them;
   * `fn` runs synchronously, so nothing can change them while it runs. The compiled copy costs
   * memory until `releaseFrozenWeights` or the next change: 6–8 MiB of RSS for the demo size and
   * 26–46 MiB for `small` (12 MiB of parameters), flat over repeated recompiles.
   */
  withFrozenWeights<T>(fn: () => T): T {
    if (!this.fused || !this.freeze || this.program !== this.live) return fn();
    const p = this.model.params;
    const f = this.frozen;
    if (!f || !Buffer.from(p.buffer, p.byteOffset, p.byteLength).equals(Buffer.from(f.weights.buffer, f.weights.byteOffset, f.weights.byteLength))) {
      f?.program.dispose();
      this.frozen = null;
      const weights = f?.weights ?? new Float32Array(p.length);
      weights.set(p);
      this.frozen = { program: this.fused.program(this.decodeWeights(), 'constants'), weights };
      this.frozenCompiles++;
    }
    this.program = this.frozen!.program;
    try {
      return fn();
    } finally {
      this.program = this.live;
    }
  }

  /** Whether `append` runs on the compiled copy of the weights now (inside `withFrozenWeights`). */
  get weightsFrozen(): boolean {
    return this.program !== null && this.program !== this.live;
  }

  /** Frees the compiled copy of the weights (native sessions); the engine stays usable. */
  releaseFrozenWeights(): void {
    this.frozen?.program.dispose();
    this.frozen = null;
  }

  /** How the dense work between attentions runs (option `dense`, and whether the kernels fuse). */
  get dense(): InferenceEngineOptions['dense'] {
    return this.fused ? 'fused' : 'op-by-op';
  }

  /** A sequence from position 0 with room for `capacity` tokens (it grows when needed). */
  newSequence(capacity: number): CachedSequence {
    return CachedSequence.empty(this.arena, capacity, this.model.config.nLayers, this.H, this.D);
  }

  get kvStats(): KvMemoryStats {
    return { bytesInUse: this.arena.bytesInUse, peakBytes: this.arena.peakBytes, reservedBytes: this.arena.reservedBytes };
  }

  /**
   * Scratch block in the arena of at least `floats` floats after the RoPE table (kept between
   * calls; the table is written when the block moves). Returns the offset past the table.
   */
  private scratchFor(floats: number): number {
    const table = this.ropeTable.length;
    if (this.scratch.floats < table + floats) {
      if (this.scratch.floats > 0) this.arena.release(this.scratch.offset, this.scratch.floats);
      const n = Math.max(table + floats, 2 * this.scratch.floats);
      this.scratch = { offset: this.arena.alloc(n), floats: n };
      this.arena.f32.set(this.ropeTable, this.scratch.offset);
    }
    return this.scratch.offset + table;
  }

  /**
   * Appends tokens[i] to seqs[i] and returns, for each sequence, the logits after its last new
   * token ([V] each), or after every new token when `allRows` (concatenated [m_i, V]).
   */
  append(seqs: CachedSequence[], tokens: number[][], allRows = false): Float32Array[] {
    const m = this.model;
    const { dModel: C, dFF: F, contextLength } = m.config;
    const D = this.D;
    let N = 0;
    let descLen = 0;
    let longest = 0;
    const rowSeq: number[] = [];
    const rowPos: number[] = [];
    for (let s = 0; s < seqs.length; s++) {
      const seq = seqs[s]!;
      if (seq.isDisposed) throw new Error('KV cache: append to a disposed sequence');
      if (seq.pos + tokens[s]!.length > contextLength) throw new Error(`context length ${contextLength} exceeded`);
      seq.tail.ensure(seq.tail.length + tokens[s]!.length);
      for (let j = 0; j < tokens[s]!.length; j++) {
        rowSeq.push(s);
        rowPos.push(seq.pos + j);
      }
      N += tokens[s]!.length;
      descLen += tokens[s]!.length * descriptorInts(seq.history.length + 1);
      longest = Math.max(longest, seq.pos + tokens[s]!.length);
    }
    this.tokensComputed += N;
    // Scratch in the arena: qkv rows [N, 3C], attention output [N, C], scores, row descriptors,
    // gate|up rows [N, 2F], activation [N, F].
    const scoresLen = (longest + 4 + 3) & ~3;
    const base = this.scratchFor(N * 4 * C + scoresLen + ((descLen + 3) & ~3) + N * 3 * F);
    const qkvAt = base;
    const outAt = qkvAt + N * 3 * C;
    const scoresAt = outAt + N * C;
    const descAt = scoresAt + scoresLen;
    const guAt = descAt + ((descLen + 3) & ~3);
    const actAt = guAt + N * 2 * F;
    // No arena allocation below this line: the views stay valid.
    const i32 = this.arena.i32;
    {
      let p = descAt;
      for (let r = 0; r < N; r++) {
        const seq = seqs[rowSeq[r]!]!;
        i32[p++] = (qkvAt + r * 3 * C) * 4;
        i32[p++] = (outAt + r * C) * 4;
        i32[p++] = seq.history.length + 1;
        for (const link of seq.history) {
          i32[p++] = link.seg.offset * 4;
          i32[p++] = link.seg.capacity * D * 4;
          i32[p++] = link.count;
        }
        i32[p++] = seq.tail.offset * 4;
        i32[p++] = seq.tail.capacity * D * 4;
        i32[p++] = rowPos[r]! - seq.tail.start + 1;
      }
    }
    // Embeddings.
    const emb = m.weight('token_embd.weight');
    const pool = m.kernels.pool;
    pool.reset();
    const x = pool.take(N * C);
    {
      let r = 0;
      for (const toks of tokens) for (const id of toks) x.set(emb.subarray(id * C, id * C + C), C * r++);
    }
    const at = { desc: descAt, qkv: qkvAt, out: outAt, scores: scoresAt, gu: guAt, act: actAt, table: this.scratch.offset };
    const out = this.program && N > 0 ? this.denseFused(this.program, x, N, tokens, allRows, at) : this.denseOpByOp(x, N, tokens, allRows, at);
    for (let s = 0; s < seqs.length; s++) seqs[s]!.tail.length += tokens[s]!.length;
    return out;
  }

  /** A layer's RoPE, KV writes and attention over the cache, for the qkv rows at `at.qkv`; the output rows land at `at.out`. */
  private attendLayer(l: number, N: number, at: ScratchOffsets): void {
    this.decode.ropeStore(at.desc * 4, N, this.H, l, at.table * 4);
    this.decode.attend(at.desc * 4, N, this.H, l, 1 / Math.sqrt(this.D), at.scores * 4);
  }

  /** The dense work op by op: each GEMM a kernel call, RMSNorm and residual adds in JavaScript, SwiGLU in the arena. */
  private denseOpByOp(x: Float32Array, N: number, tokens: number[][], allRows: boolean, at: ScratchOffsets): Float32Array[] {
    const m = this.model;
    const { dModel: C, dFF: F, normEps: eps } = m.config;
    const k = m.kernels;
    const f32 = this.arena.f32;
    const h = k.pool.take(N * C);
    const att = k.pool.take(N * C);
    for (let l = 0; l < m.config.nLayers; l++) {
      rmsnormRows(x, m.weight(`blk.${l}.attn_norm.weight`), h, N, C, eps);
      const qkv = k.gemm(h, this.qkvWeight(l), N, C, 3 * C, false, true);
      f32.set(qkv.subarray(0, N * 3 * C), at.qkv);
      this.attendLayer(l, N, at);
      att.set(f32.subarray(at.out, at.out + N * C));
      const proj = k.gemm(att, m.weight(`blk.${l}.attn_output.weight`), N, C, C, false, true);
      addInto(x, proj);
      rmsnormRows(x, m.weight(`blk.${l}.ffn_norm.weight`), h, N, C, eps);
      const guOff = m.named.get(`blk.${l}.ffn_gate.weight`)!.offset;
      const gu = k.gemm(h, m.params.subarray(guOff, guOff + 2 * F * C), N, C, 2 * F, false, true);
      const act = k.pool.take(N * F);
      f32.set(gu.subarray(0, N * 2 * F), at.gu);
      this.swigluAnyWidth.swiglu(at.gu * 4, at.act * 4, N, F);
      act.set(f32.subarray(at.act, at.act + N * F));
      const down = k.gemm(act, m.weight(`blk.${l}.ffn_down.weight`), N, F, C, false, true);
      addInto(x, down);
    }
    return this.logitsOf(x, tokens, allRows);
  }

  /**
   * The dense work as one kernel call per half block: the first block's norm and qkv, then for
   * each block everything after its attention up to the next block's qkv (or the logits). qkv
   * rows are written into the arena and attention's output read from it, with no copies.
   */
  private denseFused(f: DecodeProgram, x: Float32Array, N: number, tokens: number[][], allRows: boolean, at: ScratchOffsets): Float32Array[] {
    const m = this.model;
    const { dModel: C, nLayers: L, vocabSize: V } = m.config;
    const pool = m.kernels.pool;
    const qkv = this.arena.f32.subarray(at.qkv, at.qkv + N * 3 * C);
    const att = this.arena.f32.subarray(at.out, at.out + N * C);
    f.head(x, N, qkv);
    let xs = x;
    for (let l = 0; l < L - 1; l++) {
      this.attendLayer(l, N, at);
      const x2 = pool.take(N * C);
      f.block(l, att, xs, N, x2, qkv);
      xs = x2;
    }
    this.attendLayer(L - 1, N, at);
    const rows = Int32Array.from(outputRows(tokens, allRows));
    const logits = pool.take(rows.length * V);
    f.lastBlock(att, xs, rows, N, logits);
    return splitLogits(logits, tokens, allRows, V);
  }

  /** Block l's q, k and v projections, stored one after another: [3C, C]. */
  private qkvWeight(l: number): Float32Array {
    const C = this.model.config.dModel;
    const off = this.model.named.get(`blk.${l}.attn_q.weight`)!.offset;
    return this.model.params.subarray(off, off + 3 * C * C);
  }

  /** The decode step's weights: views into the model's parameters. */
  private decodeWeights(): DecodeModelWeights {
    const m = this.model;
    const { dModel: C, dFF: F, vocabSize: V, normEps: eps, nLayers: L } = m.config;
    const blocks = Array.from({ length: L }, (_, l) => {
      const gate = m.named.get(`blk.${l}.ffn_gate.weight`)!.offset;
      return {
        wan: m.weight(`blk.${l}.attn_norm.weight`),
        wqkv: this.qkvWeight(l),
        wo: m.weight(`blk.${l}.attn_output.weight`),
        wfn: m.weight(`blk.${l}.ffn_norm.weight`),
        wg: m.params.subarray(gate, gate + F * C),
        wu: m.params.subarray(gate + F * C, gate + 2 * F * C),
        wd: m.weight(`blk.${l}.ffn_down.weight`),
      };
    });
    return { C, F, V, eps, blocks, outputNorm: m.weight('output_norm.weight'), output: m.weight('output.weight') };
  }

  /**
   * Final norm and output projection, only for the rows returned: each sequence's last new row,
   * or every new row when `allRows`. Kept out of `append` (and its loops in small functions):
   * branches that `append`'s first calls never took deoptimized it again and again, and its
   * element loops ran in the interpreter meanwhile (a third of the decode step's JavaScript).
   */
  private logitsOf(x: Float32Array, tokens: number[][], allRows: boolean): Float32Array[] {
    const m = this.model;
    const { dModel: C, vocabSize: V, normEps: eps } = m.config;
    const rows = outputRows(tokens, allRows);
    const sel = m.kernels.pool.take(rows.length * C);
    for (let i = 0; i < rows.length; i++) sel.set(x.subarray(rows[i]! * C, rows[i]! * C + C), i * C);
    const normed = m.kernels.pool.take(rows.length * C);
    rmsnormRows(sel, m.weight('output_norm.weight'), normed, rows.length, C, eps);
    const logits = m.kernels.gemm(normed, m.weight('output.weight'), rows.length, C, V, false, true);
    return splitLogits(logits, tokens, allRows, V);
  }
}

/** Offsets (floats) of the scratch regions of one `append` call in the arena. */
interface ScratchOffsets {
  desc: number;
  qkv: number;
  out: number;
  scores: number;
  gu: number;
  act: number;
  /** The RoPE table. */
  table: number;
}

/**
 * Logits rows [R,V] (in `outputRows` order) → one array per sequence: views of one copy (one
 * allocation a call, not one a sequence; the prefix cache copies the rows it keeps).
 */
function splitLogits(logits: Float32Array, tokens: number[][], allRows: boolean, V: number): Float32Array[] {
  const out: Float32Array[] = [];
  let rows = 0;
  for (const toks of tokens) rows += allRows ? toks.length : toks.length > 0 ? 1 : 0;
  const copy = logits.slice(0, rows * V);
  let i = 0;
  for (const toks of tokens) {
    const n = allRows ? toks.length : toks.length > 0 ? 1 : 0;
    out.push(copy.subarray(i * V, (i + n) * V));
    i += n;
  }
  return out;
}

/** Rows (in `append`'s row order) whose logits are returned. */
function outputRows(tokens: number[][], allRows: boolean): number[] {
  const rows: number[] = [];
  let r = 0;
  for (const toks of tokens) {
    if (allRows) for (let j = 0; j < toks.length; j++) rows.push(r + j);
    else if (toks.length > 0) rows.push(r + toks.length - 1);
    r += toks.length;
  }
  return rows;
}

/** x += y (the residual stream). */
function addInto(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i]! += y[i]!;
}

function rmsnormRows(x: Float32Array, w: Float32Array, out: Float32Array, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c]! * x[o + c]!;
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[o + c] = x[o + c]! * r * w[c]!;
  }
}
