import type { Rng } from '../core/rng.js';

/** How the next token is chosen (defaults: temperature 1, no truncation). */
export interface SamplingParams {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Nucleus sampling (Holtzman et al. 2020): keep the smallest set of tokens with mass ≥ topP. 1 = off. */
  topP: number;
  /** Keep the k most likely tokens. 0 = off. */
  topK: number;
}

export const defaultSamplingParams = { temperature: 1, topP: 1, topK: 0 } satisfies SamplingParams;

/** log softmax(logits)[id] under the model's own (temperature 1) distribution. */
export function logSoftmaxAt(logits: Float32Array, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i]! - max);
  return logits[id]! - max - Math.log(s);
}

// Scratch rows reused across calls: fresh ones were two buffers outside the heap a sequence a
// step, and the serving engine thread's young-generation collections ran for "external memory
// pressure" (session 32, --trace-gc).
let workRow = new Float64Array(0);
let probRow = new Float64Array(0);

/**
 * Picks the next token. `banned` ids (PAD, BOS) get probability 0. Returns the id and its
 * log-probability under the untempered model distribution (what PPO, DPO and MCTS priors use).
 */
export function sampleToken(logits: Float32Array, p: SamplingParams, rng: Rng, banned: readonly number[] = []): { id: number; logprob: number } {
  const V = logits.length;
  if (workRow.length < V) {
    workRow = new Float64Array(V);
    probRow = new Float64Array(V);
  }
  const work = workRow;
  for (let i = 0; i < V; i++) work[i] = logits[i]!;
  for (const b of banned) work[b] = -Infinity;
  let id = 0;
  if (p.temperature <= 0) {
    for (let i = 1; i < V; i++) if (work[i]! > work[id]!) id = i;
    return { id, logprob: logSoftmaxAt(logits, id) };
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (work[i]! > max) max = work[i]!;
  const probs = probRow;
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const e = work[i] === -Infinity ? 0 : Math.exp((work[i]! - max) / p.temperature);
    probs[i] = e;
    sum += e;
  }
  for (let i = 0; i < V; i++) probs[i]! /= sum;
  if ((p.topK > 0 && p.topK < V) || p.topP < 1) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
    const keep = new Uint8Array(V);
    let mass = 0;
    for (let r = 0; r < V; r++) {
      if (p.topK > 0 && r >= p.topK) break;
      const i = order[r]!;
      keep[i] = 1;
      mass += probs[i]!;
      if (mass >= p.topP) break;
    }
    sum = 0;
    for (let i = 0; i < V; i++) {
      if (!keep[i]) probs[i] = 0;
      sum += probs[i]!;
    }
    for (let i = 0; i < V; i++) probs[i]! /= sum;
  }
  const u = rng.next();
  let acc = 0;
  id = -1;
  for (let i = 0; i < V; i++) {
    acc += probs[i]!;
    if (u < acc) {
      id = i;
      break;
    }
  }
  if (id < 0) for (let i = V - 1; i >= 0; i--) if (probs[i]! > 0) { id = i; break; }
  return { id, logprob: logSoftmaxAt(logits, id) };
}
