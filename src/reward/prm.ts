import { z } from 'zod';
import { kernelsFor, type KernelChoice } from '../nn/engine.js';
import { loadModel } from '../nn/model-io.js';
import type { Transformer } from '../nn/model.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import { bucketLength } from '../nn/pack-rows.js';
import { isValueModel } from '../nn/value-model.js';
import { aggregate, type Aggregation, type RewardItem, type RewardModel, type RewardScore, type RewardUsage } from './reward.js';

/**
 * Learned reward models over the built-in engine: a value model (a Transformer whose output is
 * one logit per position, see nn/value-model.ts) read at chosen positions.
 *
 * - process (PRM, Math-Shepherd / Lightman et al.): σ(value) at the last token of each step,
 *   the position the step delimiter follows; the score aggregates the step scores.
 * - outcome (ORM, Cobbe et al. 2021; Bradley–Terry ORM, Ouyang et al. 2022): σ(value) at the
 *   last token of the solution. A partial solution is scored the same way (the learned ORM then
 *   acts as a value estimate of the prefix, as in OVM, Yu et al. 2024).
 *
 * The sequence read is BOS + prompt + steps joined by the delimiter, no EOS: exactly what the
 * trainer (learn/reward-train.ts) encodes, through `encodeSolution` below.
 */

export type LearnedRewardKind = 'process' | 'outcome';

/** How the model was trained; informative (scoring is the same for all). */
export type RewardObjective = 'process' | 'outcome' | 'bt';

/** The reward checkpoint's meta (stored in model.safetensors beside the weights). */
export const rewardMetaSchema = z.object({
  kind: z.enum(['process', 'outcome']),
  aggregation: z.enum(['min', 'prod', 'last', 'mean']).default('min'),
  task: z.string(),
  stepDelimiter: z.string().min(1).default('\n'),
  objective: z.enum(['process', 'outcome', 'bt']).optional(),
});
export type RewardMeta = z.infer<typeof rewardMetaSchema>;

export interface EncodedSolution {
  /** BOS + prompt + steps joined by the delimiter. */
  ids: number[];
  /** Index in `ids` of the last token of each step (for an empty step: the token before it). */
  stepEnds: number[];
}

/**
 * Token ids of a (partial) solution and where each step ends. Characters outside the
 * tokenizer's alphabet throw one line naming them.
 */
export function encodeSolution(tok: CharTokenizer, prompt: string, steps: readonly string[], delimiter: string): EncodedSolution {
  let ids: number[];
  const stepEnds: number[] = [];
  try {
    ids = tok.encode(prompt, { bos: true });
    const delim = tok.encode(delimiter);
    steps.forEach((step, i) => {
      if (i > 0) ids.push(...delim);
      ids.push(...tok.encode(step));
      stepEnds.push(ids.length - 1);
    });
  } catch (e) {
    throw new Error(`reward model: cannot tokenize the solution: ${(e as Error).message}`);
  }
  return { ids, stepEnds };
}

export interface LearnedRewardOptions {
  kind: LearnedRewardKind;
  /** How step scores become one score (process models; default 'min', as Math-Shepherd and Snell et al. 2024 use). */
  aggregation: Aggregation;
  /** The step delimiter of the task the model was trained on. */
  stepDelimiter: string;
  /** Sequences per forward pass (default 32). */
  batchSize: number;
  id: string;
}

export const defaultLearnedRewardOptions = { kind: 'process', aggregation: 'min', stepDelimiter: '\n', batchSize: 32 } satisfies Partial<LearnedRewardOptions>;

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * A RewardModel over a value model. One batched forward per `batchSize` sequences, padded on
 * the right (causal attention: padding after a position never changes its value).
 *
 * The model's kernels pool is reset before every batch, so give it kernels of its own (as
 * `loadRewardModel` does), not the ones a policy is generating with.
 */
export class LearnedRewardModel implements RewardModel {
  readonly id: string;
  readonly kind: LearnedRewardKind;
  readonly aggregation: Aggregation;
  readonly options: LearnedRewardOptions;
  /** Totals over this model's lifetime. */
  readonly usage: RewardUsage = { calls: 0, tokens: 0 };

  constructor(readonly model: Transformer, readonly tokenizer: CharTokenizer, opts: Partial<LearnedRewardOptions> = {}) {
    if (!isValueModel(model)) {
      throw new Error(`reward model: the model outputs ${model.config.outputSize ?? model.config.vocabSize} values per position, expected 1 (a value model; is this a policy checkpoint?)`);
    }
    this.options = { ...defaultLearnedRewardOptions, id: '', ...opts };
    this.kind = this.options.kind;
    this.aggregation = this.options.aggregation;
    this.id = this.options.id || `${this.kind === 'process' ? 'prm' : 'orm'}(d${model.config.dModel}x${model.config.nLayers})`;
  }

  /** Raw value logits at every position of each sequence (no autograd use; pool reset per batch). */
  valuesOf(seqs: readonly number[][]): Float32Array[] {
    const out: Float32Array[] = new Array(seqs.length);
    const pad = this.tokenizer.pad;
    const ctx = this.model.config.contextLength;
    // Similar lengths together: less padding.
    const order = seqs.map((s, i) => i).sort((a, b) => seqs[a]!.length - seqs[b]!.length);
    for (let s = 0; s < order.length; s += this.options.batchSize) {
      const chunk = order.slice(s, s + this.options.batchSize);
      const longest = Math.max(...chunk.map((i) => seqs[i]!.length));
      if (longest > ctx) throw new Error(`reward model: a solution of ${longest} tokens exceeds the context length ${ctx}`);
      const T = bucketLength(longest, ctx);
      const B = chunk.length;
      const ids = new Int32Array(B * T).fill(pad);
      chunk.forEach((i, b) => ids.set(seqs[i]!, b * T));
      this.model.kernels.pool.reset();
      const values = this.model.forward(ids, B, T).data;
      chunk.forEach((i, b) => (out[i] = values.slice(b * T, b * T + seqs[i]!.length)));
    }
    return out;
  }

  async score(items: RewardItem[]): Promise<{ scores: RewardScore[]; usage: RewardUsage }> {
    const { stepDelimiter, aggregation } = this.options;
    const encoded = items.map((it) => encodeSolution(this.tokenizer, it.prompt, it.steps, stepDelimiter));
    const values = this.valuesOf(encoded.map((e) => e.ids));
    const scores: RewardScore[] = encoded.map((e, i) => {
      const v = values[i]!;
      if (this.kind === 'process') {
        const stepScores = e.stepEnds.map((p) => sigmoid(v[p]!));
        return { score: aggregate(stepScores, aggregation), stepScores };
      }
      return { score: sigmoid(v[e.ids.length - 1]!) };
    });
    const usage: RewardUsage = { calls: items.length > 0 ? 1 : 0, tokens: encoded.reduce((s, e) => s + e.ids.length, 0) };
    this.usage.calls += usage.calls;
    this.usage.tokens += usage.tokens;
    return { scores, usage };
  }
}

/** A loaded reward checkpoint: the model and what it was trained for. */
export interface LoadedRewardModel {
  reward: LearnedRewardModel;
  meta: RewardMeta;
  dir: string;
}

/**
 * Loads a reward checkpoint directory (or a run directory holding `checkpoint/`): a value model
 * saved with saveModel whose meta says {kind, aggregation, task, stepDelimiter}. `aggregation`
 * overrides the stored one.
 */
export function loadRewardModel(dir: string, opts: { kernels?: KernelChoice; aggregation?: Aggregation; batchSize?: number } = {}): LoadedRewardModel {
  const { model, tokenizer, meta: rawMeta, dir: ckptDir } = loadModel(dir, kernelsFor(opts.kernels ?? 'fast'));
  if (!isValueModel(model)) {
    throw new Error(`${ckptDir}: not a reward model (its output has ${model.config.outputSize ?? model.config.vocabSize} values per position; a policy checkpoint?); train one with \`searchlearn train-prm\``);
  }
  const parsed = rewardMetaSchema.safeParse(rawMeta ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${ckptDir}: reward meta field "${issue.path.join('.')}": ${issue.message} (a checkpoint written by \`searchlearn train-prm\` has kind, aggregation, task)`);
  }
  const meta = parsed.data;
  const aggregation = opts.aggregation ?? meta.aggregation;
  const prefix = meta.kind === 'process' ? 'prm' : 'orm';
  const reward = new LearnedRewardModel(model, tokenizer, {
    kind: meta.kind,
    aggregation,
    stepDelimiter: meta.stepDelimiter,
    id: `${prefix}:${ckptDir}`,
    ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
  });
  return { reward, meta: { ...meta, aggregation }, dir: ckptDir };
}
