import type { Transformer } from '../nn/model.js';
import { bucketLength, cutByLength, defaultPackConfig } from '../nn/pack-rows.js';
import { tokenLogprobs, tokenLogprobsNoGrad } from '../nn/rl-ops.js';
import type { Tensor } from '../nn/tensor.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import { encodeExamples, makeBatch, type Batch } from '../nn/train.js';

/**
 * Per-token log-probabilities of completions under a model, batched: what DPO, PPO and GRPO
 * need of the policy (with gradient), of the reference and of the policy before an update
 * (without). Sequences are encoded exactly as supervised training encodes them (BOS + prompt +
 * completion, + EOS when the completion ended), so every learner scores the tokens SFT trains.
 *
 * Layout: a right-padded batch [B,T]; position b·T + t predicts token t+1 of row b. The
 * completion's tokens of row b are predicted at positions start[b] … start[b] + length[b] − 1.
 */

/** A completion to score: `eos` when generation ended by itself (its EOS token is scored too). */
export interface ScoredSequence {
  prompt: string;
  completion: string;
  eos: boolean;
}

export type EncodedSequence = ReturnType<typeof encodeExamples>[number];

export function encodeSequences(seqs: readonly ScoredSequence[], tok: CharTokenizer, contextLength: number): EncodedSequence[] {
  return encodeExamples(seqs.map((s) => ({ prompt: s.prompt, completion: s.completion, eos: s.eos })), tok, contextLength);
}

/** Number of scored (completion) tokens of an encoded sequence. */
export function completionLength(e: EncodedSequence): number {
  return e.ids.length - e.lossFrom;
}

export interface TokenBatch extends Batch {
  /** Row b's first completion position (within the row) and its number of completion tokens. */
  start: number[];
  length: number[];
}

/** A right-padded batch of encoded sequences, T rounded up to a multiple of 16 (fewer shapes for the kernels). */
export function tokenBatch(items: readonly EncodedSequence[], pad: number, contextLength: number): TokenBatch {
  // Weight 1 on every completion token: the mask is then exactly "is a completion token".
  const batch = makeBatch(items.map((e) => ({ ...e, weight: 1 })), pad, 16, contextLength);
  return { ...batch, start: items.map((e) => e.lossFrom - 1), length: items.map(completionLength) };
}

/**
 * Splits item indices into microbatches of at most `maxTokens` padded tokens (rows × the longest
 * row, rounded up as `tokenBatch` pads), at least one row each: bounds activation memory. The
 * indices are sorted by length and cut where the padding saved exceeds a pass's overhead
 * (`packRows`' rule, src/nn/pack-rows.ts): a minibatch's gradient is the sum over its
 * microbatches, so which rows share one changes only float summation order.
 */
export function microBatches(items: readonly EncodedSequence[], indices: readonly number[], maxTokens: number, overhead = defaultPackConfig.chunkOverheadTokens): number[][] {
  const len = (i: number) => bucketLength(items[i]!.ids.length - 1, Infinity);
  const sorted = [...indices].sort((a, b) => len(a) - len(b) || a - b);
  let at = 0;
  return cutByLength(sorted.map(len), maxTokens, overhead).map((n) => sorted.slice(at, (at += n)));
}

/** Lays per-sequence token values (one array per row, completion tokens in order) into a [B·T] vector. */
export function scatter(tb: TokenBatch, perRow: readonly ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(tb.B * tb.T);
  for (let b = 0; b < tb.B; b++) {
    const v = perRow[b]!;
    if (v.length !== tb.length[b]) throw new Error(`scatter: row ${b} has ${tb.length[b]} completion tokens, got ${v.length} values`);
    const o = b * tb.T + tb.start[b]!;
    for (let j = 0; j < v.length; j++) out[o + j] = v[j]!;
  }
  return out;
}

/** The completion positions of a [B·T] vector, one array per row. */
export function gather(tb: TokenBatch, vec: ArrayLike<number>): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let b = 0; b < tb.B; b++) {
    const o = b * tb.T + tb.start[b]!;
    rows.push(Float32Array.from({ length: tb.length[b]! }, (_, j) => vec[o + j]!));
  }
  return rows;
}

/**
 * Policy forward with gradient: logits [B·T,V] and per-position log-probs [B·T] of the targets
 * (every position; callers mask). The caller resets the kernels' pool before the call.
 */
export function forwardLogprobs(model: Transformer, tb: TokenBatch): { logits: Tensor; logps: Tensor } {
  const logits = model.forward(tb.inputs, tb.B, tb.T);
  return { logits, logps: tokenLogprobs(logits, tb.targets, model.kernels) };
}

/**
 * Log-probability of every completion token of every sequence under `model`, without gradient,
 * in microbatches of at most `maxTokens` padded tokens.
 * Resets the model's kernel pool: call it before, not during, a training step.
 */
export function sequenceLogprobs(model: Transformer, items: readonly EncodedSequence[], pad: number, maxTokens = 4096): Float32Array[] {
  const V = model.config.outputSize ?? model.config.vocabSize;
  const out: Float32Array[] = new Array(items.length);
  for (const mb of microBatches(items, items.map((_, i) => i), maxTokens)) {
    const tb = tokenBatch(mb.map((i) => items[i]!), pad, model.config.contextLength);
    model.kernels.pool.reset();
    const logits = model.forward(tb.inputs, tb.B, tb.T);
    const rows = gather(tb, tokenLogprobsNoGrad(logits.data, tb.targets, V));
    mb.forEach((i, j) => (out[i] = rows[j]!));
  }
  model.kernels.pool.reset();
  return out;
}

/** Per-position outputs of a scalar value model (outputSize 1) at every completion position, without gradient. */
export function sequenceValues(valueModel: Transformer, items: readonly EncodedSequence[], pad: number, maxTokens = 4096): Float32Array[] {
  const out: Float32Array[] = new Array(items.length);
  for (const mb of microBatches(items, items.map((_, i) => i), maxTokens)) {
    const tb = tokenBatch(mb.map((i) => items[i]!), pad, valueModel.config.contextLength);
    valueModel.kernels.pool.reset();
    const rows = gather(tb, valueModel.forward(tb.inputs, tb.B, tb.T).data);
    mb.forEach((i, j) => (out[i] = rows[j]!));
  }
  valueModel.kernels.pool.reset();
  return out;
}
