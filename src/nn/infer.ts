import type { Transformer } from './model.js';
import { CachedSequence, type ChainLink, type KVSegment } from './kv-cache.js';

/**
 * Inference with a KV cache: appends tokens to cached sequences and returns next-token logits.
 * One call handles any mix of sequences and token counts (a long prefill, or one token for each
 * of 64 samples): the rows of all sequences go through each weight matrix as one GEMM; attention
 * reads each row's own chain of cached segments (shared prefixes are read, never recomputed).
 */
export class InferenceEngine {
  /** Tokens run through the model since creation (prefix sharing is measured by this). */
  tokensComputed = 0;
  private readonly H: number;
  private readonly D: number;
  private scratch = new Float32Array(0);

  constructor(readonly model: Transformer) {
    this.H = model.config.nHeads;
    this.D = model.config.dModel / model.config.nHeads;
  }

  newSequence(capacity: number): CachedSequence {
    return CachedSequence.empty(capacity, this.model.config.nLayers, this.H, this.D);
  }

  /**
   * Appends tokens[i] to seqs[i] and returns, for each sequence, the logits after its last new
   * token ([V] each), or after every new token when `allRows` (concatenated [m_i, V]).
   */
  append(seqs: CachedSequence[], tokens: number[][], allRows = false): Float32Array[] {
    const m = this.model;
    const { dModel: C, dFF: F, vocabSize: V, normEps: eps, contextLength } = m.config;
    const H = this.H;
    const D = this.D;
    const k = m.kernels;
    let N = 0;
    const rowSeq: number[] = [];
    const rowPos: number[] = [];
    for (let s = 0; s < seqs.length; s++) {
      const seq = seqs[s]!;
      const need = seq.tail.length + tokens[s]!.length;
      if (need > seq.tail.capacity) throw new Error(`KV cache: sequence needs ${need} slots, its segment holds ${seq.tail.capacity}`);
      if (seq.pos + tokens[s]!.length > contextLength) throw new Error(`context length ${contextLength} exceeded`);
      for (let j = 0; j < tokens[s]!.length; j++) {
        rowSeq.push(s);
        rowPos.push(seq.pos + j);
      }
      N += tokens[s]!.length;
    }
    this.tokensComputed += N;
    const { cos, sin } = m.ropeFor(contextLength);
    const half = D / 2;
    // Embeddings.
    const emb = m.weight('token_embd.weight');
    const pool = k.pool;
    pool.reset();
    let x = pool.take(N * C);
    {
      let r = 0;
      for (const toks of tokens) for (const id of toks) x.set(emb.subarray(id * C, id * C + C), C * r++);
    }
    const h = pool.take(N * C);
    const att = pool.take(N * C);
    for (let l = 0; l < m.config.nLayers; l++) {
      rmsnormRows(x, m.weight(`blk.${l}.attn_norm.weight`), h, N, C, eps);
      const qkvW = m.params.subarray(m.named.get(`blk.${l}.attn_q.weight`)!.offset, m.named.get(`blk.${l}.attn_q.weight`)!.offset + 3 * C * C);
      const qkv = k.gemm(h, qkvW, N, C, 3 * C, false, true);
      // RoPE on q and k at each row's absolute position; write k, v into the cache.
      for (let r = 0; r < N; r++) {
        const row = r * 3 * C;
        const tab = rowPos[r]! * half;
        for (let part = 0; part < 2; part++) {
          for (let hh = 0; hh < H; hh++) {
            const o = row + part * C + hh * D;
            for (let i = 0; i < half; i++) {
              const c = cos[tab + i]!;
              const s = sin[tab + i]!;
              const x0 = qkv[o + 2 * i]!;
              const x1 = qkv[o + 2 * i + 1]!;
              qkv[o + 2 * i] = x0 * c - x1 * s;
              qkv[o + 2 * i + 1] = x0 * s + x1 * c;
            }
          }
        }
        const seq = seqs[rowSeq[r]!]!;
        const tail = seq.tail;
        const slot = rowPos[r]! - tail.start;
        const kc = tail.k[l]!;
        const vc = tail.v[l]!;
        for (let hh = 0; hh < H; hh++) {
          const dst = (hh * tail.capacity + slot) * D;
          kc.set(qkv.subarray(row + C + hh * D, row + C + hh * D + D), dst);
          vc.set(qkv.subarray(row + 2 * C + hh * D, row + 2 * C + hh * D + D), dst);
        }
      }
      // Attention: each row attends over its sequence's history and its own tail up to itself.
      for (let r = 0; r < N; r++) {
        const seq = seqs[rowSeq[r]!]!;
        this.attendRow(qkv, r * 3 * C, seq.history, seq.tail, rowPos[r]! - seq.tail.start + 1, l, att, r * C);
      }
      const proj = k.gemm(att, m.weight(`blk.${l}.attn_output.weight`), N, C, C, false, true);
      for (let i = 0; i < x.length; i++) x[i]! += proj[i]!;
      rmsnormRows(x, m.weight(`blk.${l}.ffn_norm.weight`), h, N, C, eps);
      const guOff = m.named.get(`blk.${l}.ffn_gate.weight`)!.offset;
      const gu = k.gemm(h, m.params.subarray(guOff, guOff + 2 * F * C), N, C, 2 * F, false, true);
      const act = pool.take(N * F);
      for (let r = 0; r < N; r++) {
        const o = r * 2 * F;
        for (let f = 0; f < F; f++) {
          const g = gu[o + f]!;
          act[r * F + f] = (g / (1 + Math.exp(-g))) * gu[o + F + f]!;
        }
      }
      const down = k.gemm(act, m.weight(`blk.${l}.ffn_down.weight`), N, F, C, false, true);
      for (let i = 0; i < x.length; i++) x[i]! += down[i]!;
    }
    for (let s = 0; s < seqs.length; s++) seqs[s]!.tail.length += tokens[s]!.length;
    // Final norm and output projection, only for the rows we return.
    const rows: number[] = [];
    {
      let r = 0;
      for (const toks of tokens) {
        if (allRows) for (let j = 0; j < toks.length; j++) rows.push(r + j);
        else if (toks.length > 0) rows.push(r + toks.length - 1);
        r += toks.length;
      }
    }
    const sel = pool.take(rows.length * C);
    rows.forEach((r, i) => sel.set(x.subarray(r * C, r * C + C), i * C));
    x = sel;
    const normed = pool.take(rows.length * C);
    rmsnormRows(x, m.weight('output_norm.weight'), normed, rows.length, C, eps);
    const logits = k.gemm(normed, m.weight('output.weight'), rows.length, C, V, false, true);
    const out: Float32Array[] = [];
    let i = 0;
    for (const toks of tokens) {
      const n = allRows ? toks.length : toks.length > 0 ? 1 : 0;
      out.push(logits.slice(i * V, (i + n) * V));
      i += n;
    }
    return out;
  }

  /** softmax(q·Kᵀ/√D)·V for one row over a chain of cached segments (all heads). */
  private attendRow(qkv: Float32Array, qOff: number, history: ChainLink[], tail: KVSegment, tailCount: number, layer: number, out: Float32Array, outOff: number): void {
    const H = this.H;
    const D = this.D;
    let total = tailCount;
    for (const link of history) total += link.count;
    if (this.scratch.length < total) this.scratch = new Float32Array(Math.max(total, 256));
    const scores = this.scratch;
    const scale = 1 / Math.sqrt(D);
    const nLinks = history.length + 1;
    for (let hh = 0; hh < H; hh++) {
      const q = qOff + hh * D;
      // Scores over every visible position, segment by segment (a plain loop: no closures in the hot path).
      let t = 0;
      let max = -Infinity;
      for (let li = 0; li < nLinks; li++) {
        const seg = li < history.length ? history[li]!.seg : tail;
        const count = li < history.length ? history[li]!.count : tailCount;
        const kc = seg.k[layer]!;
        let base = hh * seg.capacity * D;
        for (let j = 0; j < count; j++, base += D) {
          let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
          for (let d = 0; d < D; d += 4) {
            d0 += qkv[q + d]! * kc[base + d]!;
            d1 += qkv[q + d + 1]! * kc[base + d + 1]!;
            d2 += qkv[q + d + 2]! * kc[base + d + 2]!;
            d3 += qkv[q + d + 3]! * kc[base + d + 3]!;
          }
          const dot = (d0 + d1 + d2 + d3) * scale;
          scores[t++] = dot;
          if (dot > max) max = dot;
        }
      }
      let sum = 0;
      for (let j = 0; j < total; j++) {
        const e = Math.exp(scores[j]! - max);
        scores[j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      const o = outOff + hh * D;
      out.fill(0, o, o + D);
      t = 0;
      for (let li = 0; li < nLinks; li++) {
        const seg = li < history.length ? history[li]!.seg : tail;
        const count = li < history.length ? history[li]!.count : tailCount;
        const vc = seg.v[layer]!;
        let base = hh * seg.capacity * D;
        for (let j = 0; j < count; j++, base += D) {
          const p = scores[t++]! * inv;
          for (let d = 0; d < D; d += 4) {
            out[o + d]! += p * vc[base + d]!;
            out[o + d + 1]! += p * vc[base + d + 1]!;
            out[o + d + 2]! += p * vc[base + d + 2]!;
            out[o + d + 3]! += p * vc[base + d + 3]!;
          }
        }
      }
    }
  }
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
