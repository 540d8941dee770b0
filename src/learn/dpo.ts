import { yieldTurn } from '../core/progress.js';
import { Rng } from '../core/rng.js';
import { cosineSchedule, defaultAdamWConfig, type AdamWConfig } from '../nn/adamw.js';
import { bucketLength, cutByLength, defaultPackConfig } from '../nn/pack-rows.js';
import { dpoLoss } from '../nn/rl-ops.js';
import { backward } from '../nn/tensor.js';
import type { PreferencePair } from './examples.js';
import { meanMetrics, type Learner, type LearnResult, type StepMetrics } from './learner.js';
import { defaultPtxConfig, replayTerm, type PtxConfig } from './ptx.js';
import { optimizerCache } from './optimizer-cache.js';
import { encodeSequences, forwardLogprobs, scatter, sequenceLogprobs, tokenBatch, type EncodedSequence } from './logprobs.js';

/** `tokens`: a pair's log-probabilities over whole sequences, or from the first token where they differ (cDPO). */
export const dpoTokenChoices = ['sequence', 'divergence'] as const;

/** `sigmoid`: DPO's loss against the reference; `simpo`: reference-free, length-normalized, with a margin (SimPO). */
export const dpoLossChoices = ['sigmoid', 'simpo'] as const;

/**
 * Direct Preference Optimization (Rafailov et al. 2023) with the NLL term of iterative RPO
 * (Pang et al. 2024), readable top to bottom as cleanrl's scripts are.
 *
 * | needs | from |
 * |---|---|
 * | pairs (prompt, chosen, rejected) | `examples.ts`: sequence level (two solutions of one problem) or step level (`prompt` ends with the shared steps) — the same code serves both |
 * | the policy (updated in place) | `ctx.policy` |
 * | a frozen reference | `ctx.reference` (its log-probs are computed once, before the first step) |
 *
 * Loss per pair: −log σ(β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))]) with sums over
 * the completion's tokens (EOS included: completions are whole solutions), plus α·NLL of the
 * chosen (a token mean over the batch's chosen tokens, as TRL's `rpo_alpha`).
 * Metrics per optimizer step under TRL's names: `loss`, `rewards/chosen`, `rewards/rejected`,
 * `rewards/margins`, `rewards/accuracies`, `logps/chosen`, `logps/rejected`, `grad_norm`, and
 * `nll_loss`, `lr`.
 */
export interface DpoConfig extends PtxConfig {
  /** β, the strength of the implicit KL constraint to the reference (default 0.1: Rafailov et al. 2023; TRL's default). */
  beta: number;
  /**
   * Weight α of the NLL term on the chosen completion (default 1.0: iterative RPO, Pang et al.
   * 2024, found it crucial for reasoning; TRL's `rpo_alpha`). 0 gives plain DPO.
   */
  rpoAlpha: number;
  /**
   * λ of DPO-Positive (Pal et al. 2024): a pair's margin loses λ·max(0, log π_ref(c) − log π(c)),
   * so lowering the chosen below the reference costs more than lowering the rejected gains.
   * Default 0 (plain DPO). Pal et al. use 50 (β 0.3). Their failure case looked like ours: step
   * pairs differ in a few tokens, and plain DPO (β 0.1, 4 epochs) widened the margin by pushing
   * the rejected steps 19 nats down while the chosen fell too, and the initial level lost 10
   * points. With λ 50 (β 0.3) the chosen rose (1–2 nats) but the rejected still fell 11–25: one
   * round from the demo's seed-0 round-1 policy gained 2.8 points on three digits and lost 5.0 on
   * the initial level (13.7 → 16.5%, 83.6 → 78.6%, 1,000 held-out problems each), where SFT on the
   * same search reached 26.0% and 87.8%.
   */
  dpopLambda: number;
  /**
   * Which completion tokens a pair's log-probabilities sum over: `sequence` (all of them, as
   * DPO) or `divergence` (only the first token where chosen and rejected differ, for both:
   * the critical token of cDPO, Lin et al. 2024). A step-level pair shares its prefix, and after
   * the first differing token each completion is conditioned on a different text, so the
   * rejected's later tokens (its format, its next digits) are pushed down with the error.
   * The RPO term then trains the chosen's divergent token only. Default `sequence`: on the
   * demo's seed-0 round-1 policy one round with it (β 0.1, 4 epochs) gained 0.6 points on three
   * digits and lost 8.4 on the initial level (13.7 → 14.3%, 83.6 → 75.2%), as plain DPO over whole
   * steps did: the damage is in the wrong digits themselves, not in the tokens after them.
   */
  tokens: (typeof dpoTokenChoices)[number];
  /**
   * `sigmoid` (default): DPO. `simpo`: SimPO (Meng et al. 2024), −log σ(β·(mean log π(c) − mean
   * log π(r)) − γ): no reference model (none is scored), each sequence's reward its mean token
   * log-probability, a target margin γ. TRL's CPOTrainer `loss_type="simpo"`. SimPO wants a larger
   * β than DPO (Meng et al. use 2–2.5). Its implicit reward is the mean log-likelihood that the
   * `confidence` reward reads, so we tried it as a learned reward: the final demo policy trained on
   * 4,244 right/wrong pairs of its own samples (2,000 training problems) ranked held-out samples
   * worse than before training (per-problem AUC 0.80 → 0.69 at lr 1e-4 without the NLL term, 0.79
   * at 2e-5 with it; 300 problems × 64 samples), and so did DPO's log-ratio reward (0.76).
   */
  loss: (typeof dpoLossChoices)[number];
  /** γ of SimPO (TRL's `simpo_gamma`, default 0.5); unused by `sigmoid`. */
  simpoGamma: number;
  /** Passes over the pairs (default 1: TRL's num_train_epochs for DPO runs is usually 1–3). */
  epochs: number;
  /** Pairs per optimizer step (default 16). */
  batchSize: number;
  /** Stop after this many optimizer steps (default 0: no cap). */
  maxSteps: number;
  /**
   * AdamW. lr 1e-4 by default: fine-tuning a trained policy takes far smaller steps than its
   * initialization (TRL's DPO default is 1e-6 for billion-parameter models; tiny character
   * models tolerate more). No weight decay: it would pull toward zero, not toward the reference.
   */
  optimizer: AdamWConfig;
  /** Fraction of the steps spent warming up linearly (default 0.1). */
  warmupRatio: number;
  /** Floor of the cosine schedule as a fraction of lr (default 1: a constant rate after warmup, as TRL's RL trainers). */
  minLrRatio: number;
  /** Most padded tokens in one forward/backward pass (default 4096); larger batches accumulate gradients. */
  microBatchTokens: number;
  /** Keep AdamW's moments across updates of the same model (default true: one optimizer for the whole run, as TRL); false starts each update afresh. */
  keepOptimizerState: boolean;
}

export const defaultDpoConfig = {
  beta: 0.1,
  rpoAlpha: 1.0,
  dpopLambda: 0,
  tokens: 'sequence',
  loss: 'sigmoid',
  simpoGamma: 0.5,
  epochs: 1,
  batchSize: 16,
  maxSteps: 0,
  optimizer: { ...defaultAdamWConfig, lr: 1e-4, weightDecay: 0 },
  warmupRatio: 0.1,
  minLrRatio: 1,
  microBatchTokens: 4096,
  keepOptimizerState: true,
  ...defaultPtxConfig,
} satisfies DpoConfig;

export function dpoLearner(config: Partial<DpoConfig> = {}): Learner<PreferencePair[]> {
  const cfg: DpoConfig = { ...defaultDpoConfig, ...config, optimizer: { ...defaultDpoConfig.optimizer, ...config.optimizer } };
  const optimizerFor = optimizerCache();
  return {
    name: 'dpo',
    async update(pairs, ctx): Promise<LearnResult> {
      const { model, tokenizer: tok } = ctx.policy;
      if (pairs.length === 0) return { steps: 0, trainedTokens: 0, metrics: {} };
      const ctxLen = model.config.contextLength;
      // Sequences 2i (chosen) and 2i+1 (rejected) of pair i.
      const seqs = encodeSequences(
        pairs.flatMap((p) => [
          { prompt: p.prompt, completion: p.chosen, eos: true },
          { prompt: p.prompt, completion: p.rejected, eos: true },
        ]),
        tok,
        ctxLen,
      );
      const simpo = cfg.loss === 'simpo';
      // SimPO has no reference: its log-probabilities are read as zeros.
      const refLogps = simpo ? seqs.map((e) => new Float32Array(e.ids.length - e.lossFrom)) : sequenceLogprobs(ctx.reference, seqs, tok.pad, cfg.microBatchTokens);
      // Per sequence, the completion tokens its pair's log-probability sums over: [from, to).
      const span = seqs.map((e, r) => {
        const n = e.ids.length - e.lossFrom;
        if (cfg.tokens === 'sequence') return [0, n] as const;
        const j = divergence(e, seqs[r ^ 1]!);
        return [Math.min(j, n - 1), Math.min(j, n - 1) + 1] as const;
      });

      const perEpoch = Math.ceil(pairs.length / cfg.batchSize);
      const totalSteps = cfg.maxSteps > 0 ? Math.min(cfg.maxSteps, perEpoch * cfg.epochs) : perEpoch * cfg.epochs;
      ctx.onPlan?.(totalSteps);
      const opt = optimizerFor(model, cfg.optimizer, cfg.keepOptimizerState);
      let step = 0;
      const warmup = Math.round(cfg.warmupRatio * totalSteps);
      const history: StepMetrics[] = [];
      let trainedTokens = 0;
      const replay = replayTerm(ctx.replay, cfg, tok, ctxLen, ctx.seed, cfg.microBatchTokens);

      for (let epoch = 0; epoch < cfg.epochs && step < totalSteps; epoch++) {
        const order = new Rng(`${ctx.seed}/dpo/epoch/${epoch}`).shuffle(pairs.map((_, i) => i));
        for (let s0 = 0; s0 < order.length && step < totalSteps; s0 += cfg.batchSize) {
          if (ctx.shouldStop?.()) break;
          const stepPairs = order.slice(s0, s0 + cfg.batchSize);
          let chosenTokens = 0;
          for (const i of stepPairs) chosenTokens += span[2 * i]![1] - span[2 * i]![0];
          model.zeroGrad();
          const acc = { loss: 0, nll: 0, rc: 0, rr: 0, correct: 0, lc: 0, lr: 0 };
          // Microbatches keep each pair's two sequences together (rows 2j, 2j+1).
          const rows = stepPairs.flatMap((i) => [2 * i, 2 * i + 1]);
          for (const mb of pairMicroBatches(seqs, rows, cfg.microBatchTokens)) {
            const tb = tokenBatch(mb.map((r) => seqs[r]!), tok.pad, ctxLen);
            model.kernels.pool.reset();
            const { logps } = forwardLogprobs(model, tb);
            const seqOf = new Int32Array(tb.B * tb.T).fill(-1);
            for (let b = 0; b < tb.B; b++) seqOf.fill(b, b * tb.T + tb.start[b]! + span[mb[b]!]![0], b * tb.T + tb.start[b]! + span[mb[b]!]![1]);
            const P = tb.B / 2;
            const { loss, stats } = dpoLoss({
              logps,
              refLogps: scatter(tb, mb.map((r) => refLogps[r]!)),
              seqOf,
              chosen: Int32Array.from({ length: P }, (_, j) => 2 * j),
              rejected: Int32Array.from({ length: P }, (_, j) => 2 * j + 1),
              beta: cfg.beta,
              rpoAlpha: cfg.rpoAlpha,
              dpopLambda: cfg.dpopLambda,
              lengthNormalize: simpo,
              margin: simpo ? cfg.simpoGamma : 0,
              pairNormalizer: stepPairs.length,
              nllNormalizer: Math.max(1, chosenTokens),
            });
            backward(loss);
            acc.loss += loss.data[0]!;
            acc.nll += stats.nllSum;
            for (let j = 0; j < P; j++) {
              acc.rc += stats.rewardChosen[j]!;
              acc.rr += stats.rewardRejected[j]!;
              acc.lc += stats.logpChosen[j]!;
              acc.lr += stats.logpRejected[j]!;
              if (stats.rewardChosen[j]! > stats.rewardRejected[j]!) acc.correct++;
            }
            for (const r of mb) trainedTokens += seqs[r]!.ids.length - 1;
          }
          const ptx = replay?.(model, step);
          if (ptx) trainedTokens += ptx.tokens;
          const lr = cosineSchedule(step++, totalSteps, cfg.optimizer.lr, warmup, cfg.minLrRatio);
          const gradNorm = opt.update(lr);
          const n = stepPairs.length;
          const m: StepMetrics = {
            step,
            loss: acc.loss,
            'rewards/chosen': acc.rc / n,
            'rewards/rejected': acc.rr / n,
            'rewards/margins': (acc.rc - acc.rr) / n,
            'rewards/accuracies': acc.correct / n,
            'logps/chosen': acc.lc / n,
            'logps/rejected': acc.lr / n,
            nll_loss: acc.nll / Math.max(1, chosenTokens),
            grad_norm: gradNorm,
            lr,
            ...(ptx ? { ptx_loss: ptx.nll } : {}),
          };
          history.push(m);
          ctx.onStep?.(m);
          // Let timers and I/O run between steps (progress bars, abort signals, test runners).
          await yieldTurn();
        }
      }
      model.kernels.pool.reset();
      return { steps: history.length, trainedTokens, metrics: meanMetrics(history) };
    },
  };
}

/** Index (within the completion) of the first token where two encodings of one prompt differ. */
function divergence(a: EncodedSequence, b: EncodedSequence): number {
  let j = 0;
  while (a.lossFrom + j < a.ids.length && b.lossFrom + j < b.ids.length && a.ids[a.lossFrom + j] === b.ids[b.lossFrom + j]) j++;
  return j;
}

/** Microbatches of rows given as consecutive (chosen, rejected) pairs, never splitting a pair. */
function pairMicroBatches(seqs: readonly EncodedSequence[], rows: number[], maxTokens: number): number[][] {
  // Pairs sorted by their longer sequence and cut as microBatches cuts rows, two rows per pair.
  const pairLen = (j: number) => bucketLength(Math.max(seqs[rows[2 * j]!]!.ids.length, seqs[rows[2 * j + 1]!]!.ids.length) - 1, Infinity);
  const pairs = Array.from({ length: rows.length / 2 }, (_, j) => j).sort((a, b) => pairLen(a) - pairLen(b) || a - b);
  let at = 0;
  return cutByLength(pairs.map(pairLen), maxTokens, defaultPackConfig.chunkOverheadTokens, 2).map((n) => pairs.slice(at, (at += n)).flatMap((j) => [rows[2 * j]!, rows[2 * j + 1]!]));
}
