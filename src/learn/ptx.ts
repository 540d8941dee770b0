import { Rng } from '../core/rng.js';
import type { Transformer } from '../nn/model.js';
import { maskedNll, sumLosses } from '../nn/rl-ops.js';
import { backward } from '../nn/tensor.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import type { SftRow } from './examples.js';
import { completionLength, encodeSequences, forwardLogprobs, microBatches, tokenBatch } from './logprobs.js';

/**
 * The replay term of PPO-ptx (Ouyang et al. 2022, InstructGPT §3.5, who mix pretraining
 * gradients into PPO's so that the policy keeps what it could do before RL): each optimizer step
 * of an RL or preference learner also descends `ptxCoef` × the token-mean NLL of `ptxBatch`
 * replayed initialization traces, as the SFT learner mixes the same traces into its batches.
 * Without it PPO, GRPO and DPO see only the harder level's samples, and the initial level fell
 * (PPO 85.5% → 74.5%, DPO → 70–77%, in the learner table of sessions 15–17).
 */
export interface PtxConfig {
  /**
   * Weight of the replay NLL against the learner's own loss (default 1; 0 turns it off). On by
   * default since every learner measured did better with it: from the demo's round-1 policy one
   * round of PPO went from −3.5 to +8.0 points on the harder level, keeping the initial level
   * (89.0% against 74.5%), DPO from −5.0 to −2.5; two rounds of GRPO gained 5.0 points with it
   * and 2.2 without (13.7 → 18.7% against 15.9% on 1,000 held-out problems; initial level 86.0%
   * against 83.4%). It acts only where the caller gives replay rows (the loop does;
   * `LearnerContext.replay`).
   */
  ptxCoef: number;
  /** Replayed traces per optimizer step (default 32: the SFT learner's batch). */
  ptxBatch: number;
}

export const defaultPtxConfig = { ptxCoef: 1, ptxBatch: 32 } satisfies PtxConfig;

/**
 * A function that adds the replay term's gradient for optimizer step `step` (call it after
 * zeroGrad, before the optimizer's update; it resets the model's kernel pool), or null when the
 * term is off or there is nothing to replay. The rows of a step are drawn with replacement,
 * deterministically from the seed and the step.
 */
export function replayTerm(replay: (() => readonly SftRow[]) | undefined, cfg: PtxConfig, tok: CharTokenizer, contextLength: number, seed: number, microBatchTokens: number): ((model: Transformer, step: number) => { nll: number; tokens: number }) | null {
  if (cfg.ptxCoef <= 0 || !replay) return null;
  const rows = replay();
  if (rows.length === 0) return null;
  const seqs = encodeSequences(rows.map((r) => ({ prompt: r.prompt, completion: r.completion, eos: true })), tok, contextLength);
  return (model, step) => {
    const rng = new Rng(`${seed}/ptx/${step}`);
    const picked = Array.from({ length: cfg.ptxBatch }, () => Math.floor(rng.next() * seqs.length));
    const normalizer = Math.max(1, picked.reduce((s, i) => s + completionLength(seqs[i]!), 0));
    let nll = 0;
    let tokens = 0;
    for (const mb of microBatches(seqs, picked, microBatchTokens)) {
      const tb = tokenBatch(mb.map((i) => seqs[i]!), tok.pad, contextLength);
      model.kernels.pool.reset();
      const { logps } = forwardLogprobs(model, tb);
      const term = maskedNll(logps, tb.mask, normalizer);
      backward(sumLosses([{ loss: term.loss, weight: cfg.ptxCoef }]));
      nll += term.nllSum;
      for (const i of mb) tokens += seqs[i]!.ids.length - 1;
    }
    model.kernels.pool.reset();
    return { nll: nll / normalizer, tokens };
  };
}
