import { Rng } from '../core/rng.js';
import { AdamW, cosineSchedule, defaultAdamWConfig, type AdamWConfig } from '../nn/adamw.js';
import type { Transformer } from '../nn/model.js';
import { bceWithLogits, bradleyTerryLoss } from '../nn/ops.js';
import { bucketLength } from '../nn/pack-rows.js';
import { backward } from '../nn/tensor.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import { encodeSolution, LearnedRewardModel, type RewardObjective } from '../reward/prm.js';
import { aggregate, type Aggregation } from '../reward/reward.js';
import type { StepLabelRow } from './mc-labels.js';

/**
 * Training learned reward models on a value model (nn/value-model.ts), one objective each:
 *
 * | objective | data | loss, at which positions |
 * |---|---|---|
 * | `process` (PRM) | Monte-Carlo step labels (Math-Shepherd) | BCE on soft (default) or hard labels at each step's last token |
 * | `outcome` (ORM) | outcome of each sampled solution (Cobbe et al. 2021) | BCE at the last token |
 * | `bt` (Bradley–Terry ORM) | (correct, incorrect) solution pairs of one problem (Ouyang et al. 2022) | −log σ(s⁺ − s⁻) at the last tokens |
 *
 * Batches are drawn from Rng(`${seed}/reward-batch/${step}`), as LmTrainer draws its own.
 */

export interface RewardTrainConfig {
  objective: RewardObjective;
  /** Optimizer steps (default 200). */
  steps: number;
  /** Solutions (or pairs, for bt) per step (default 32). */
  batchSize: number;
  /** Warmup steps before cosine decay (default 10). */
  warmupSteps: number;
  minLrRatio: number;
  /** AdamW; lr 1e-3 by default (fine-tuning from the policy wants less than training from scratch). */
  optimizer: AdamWConfig;
  /** PRM targets: Math-Shepherd's soft estimation (default) or hard estimation. */
  labels: 'soft' | 'hard';
  /** Most (better, worse) pairs per problem for bt (default 16). */
  maxPairsPerProblem: number;
  seed: number;
}

export const defaultRewardTrainConfig = {
  objective: 'process',
  steps: 200,
  batchSize: 32,
  warmupSteps: 10,
  minLrRatio: 0.1,
  optimizer: { ...defaultAdamWConfig, lr: 1e-3 },
  labels: 'soft',
  maxPairsPerProblem: 16,
  seed: 0,
} satisfies RewardTrainConfig;

/** An encoded solution with its training targets at positions of its own sequence. */
interface Item {
  ids: number[];
  positions: number[];
  targets: number[];
}

export interface RewardBatch {
  inputs: Int32Array;
  B: number;
  T: number;
  /** BCE objectives: target and mask per flattened position b·T + t. */
  targets: Float32Array;
  mask: Float32Array;
  /** bt: flattened positions of the better and worse solution of each pair. */
  better: Int32Array;
  worse: Int32Array;
}

/**
 * Right-padded batch of whole sequences (no shift: position t's value reads tokens 0..t) with
 * targets at the given positions; padding and unlabelled positions get mask 0. T is the longest
 * sequence, or `minT` when larger (the trainer rounds it up so batch shapes repeat). `pairs`
 * (bt) index items: [better, worse], compared at their last tokens.
 */
export function makeRewardBatch(items: readonly Item[], pad: number, pairs: readonly [number, number][] = [], minT = 1): RewardBatch {
  const B = items.length;
  const T = Math.max(minT, ...items.map((e) => e.ids.length));
  const inputs = new Int32Array(B * T).fill(pad);
  const targets = new Float32Array(B * T);
  const mask = new Float32Array(B * T);
  items.forEach((e, b) => {
    inputs.set(e.ids, b * T);
    e.positions.forEach((p, i) => {
      targets[b * T + p] = e.targets[i]!;
      mask[b * T + p] = 1;
    });
  });
  const last = (b: number): number => b * T + items[b]!.ids.length - 1;
  return { inputs, B, T, targets, mask, better: Int32Array.from(pairs.map(([a]) => last(a))), worse: Int32Array.from(pairs.map(([, w]) => last(w))) };
}

/** Preference pairs from sampled solutions: every (correct, incorrect) pair of one problem, up to `max` per problem. */
export function preferencePairs(rows: readonly StepLabelRow[], max: number, rng: Rng): [StepLabelRow, StepLabelRow][] {
  const byProblem = new Map<string, StepLabelRow[]>();
  for (const r of rows) {
    let list = byProblem.get(r.problemId);
    if (!list) byProblem.set(r.problemId, (list = []));
    list.push(r);
  }
  const pairs: [StepLabelRow, StepLabelRow][] = [];
  for (const list of byProblem.values()) {
    const good = list.filter((r) => r.outcome);
    const bad = list.filter((r) => !r.outcome);
    const all: [StepLabelRow, StepLabelRow][] = [];
    for (const g of good) for (const b of bad) all.push([g, b]);
    pairs.push(...(all.length > max ? rng.shuffle(all).slice(0, max) : all));
  }
  return pairs;
}

/** Splits rows by problem: a seeded `fraction` of the problems is held out. */
export function splitByProblem(rows: readonly StepLabelRow[], fraction: number, seed: number): { train: StepLabelRow[]; heldOut: StepLabelRow[] } {
  const ids = [...new Set(rows.map((r) => r.problemId))];
  new Rng(`${seed}/held-out`).shuffle(ids);
  const nHeld = fraction > 0 ? Math.max(1, Math.round(ids.length * fraction)) : 0;
  const held = new Set(ids.slice(0, Math.min(nHeld, ids.length - 1)));
  return { train: rows.filter((r) => !held.has(r.problemId)), heldOut: rows.filter((r) => held.has(r.problemId)) };
}

export interface RewardStepInfo {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  ms: number;
}

/** Trains a value model on labelled solutions with one of the three objectives. */
export class RewardTrainer {
  readonly config: RewardTrainConfig;
  readonly optimizer: AdamW;
  private readonly items: Item[] = [];
  private readonly pairs: [number, number][] = [];

  constructor(
    readonly model: Transformer,
    readonly tokenizer: CharTokenizer,
    rows: readonly StepLabelRow[],
    readonly stepDelimiter: string,
    config: Partial<Omit<RewardTrainConfig, 'optimizer'>> & { optimizer?: Partial<AdamWConfig> } = {},
  ) {
    this.config = { ...defaultRewardTrainConfig, ...config, optimizer: { ...defaultRewardTrainConfig.optimizer, ...config.optimizer } };
    const c = this.config;
    const encode = (r: StepLabelRow): Item => {
      const e = encodeSolution(tokenizer, r.prompt, r.steps, stepDelimiter);
      if (e.ids.length > model.config.contextLength) throw new Error(`reward training: a solution of ${e.ids.length} tokens exceeds the context length ${model.config.contextLength}`);
      if (c.objective === 'process') return { ids: e.ids, positions: e.stepEnds, targets: c.labels === 'soft' ? r.labels.soft : r.labels.hard };
      return { ids: e.ids, positions: [e.ids.length - 1], targets: [r.outcome ? 1 : 0] };
    };
    if (c.objective === 'bt') {
      const index = new Map<StepLabelRow, number>();
      for (const [g, b] of preferencePairs(rows, c.maxPairsPerProblem, new Rng(`${c.seed}/pairs`))) {
        const ij = [g, b].map((r) => {
          let i = index.get(r);
          if (i === undefined) {
            i = this.items.length;
            index.set(r, i);
            this.items.push(encode(r));
          }
          return i;
        });
        this.pairs.push([ij[0]!, ij[1]!]);
      }
      if (this.pairs.length === 0) throw new Error('reward training (bt): no (correct, incorrect) pair of solutions to one problem; sample more solutions per problem');
    } else {
      for (const r of rows) if (c.objective === 'outcome' || r.steps.length > 0) this.items.push(encode(r));
      if (this.items.length === 0) throw new Error('reward training: no labelled solutions');
    }
    const decay = [...model.named.values()].filter((e) => e.shape.length === 2);
    this.optimizer = new AdamW(model.params, model.grads, decay, this.config.optimizer);
  }

  /** Training units: solutions, or pairs for bt. */
  get size(): number {
    return this.config.objective === 'bt' ? this.pairs.length : this.items.length;
  }

  batchAt(step: number): RewardBatch {
    const rng = new Rng(`${this.config.seed}/reward-batch/${step}`);
    const n = this.config.batchSize;
    if (this.config.objective !== 'bt') {
      const items: Item[] = [];
      for (let i = 0; i < n; i++) items.push(this.items[Math.floor(rng.next() * this.items.length)]!);
      return makeRewardBatch(items, this.tokenizer.pad, [], this.bucket(items));
    }
    const items: Item[] = [];
    const pairs: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const [g, b] = this.pairs[Math.floor(rng.next() * this.pairs.length)]!;
      items.push(this.items[g]!, this.items[b]!);
      pairs.push([2 * i, 2 * i + 1]);
    }
    return makeRewardBatch(items, this.tokenizer.pad, pairs, this.bucket(items));
  }

  /** Padded length of a batch: the longest sequence rounded up (few distinct shapes, so pooled buffers are reused). */
  private bucket(items: readonly Item[]): number {
    return bucketLength(Math.max(...items.map((e) => e.ids.length)), this.model.config.contextLength);
  }

  trainStep(): RewardStepInfo {
    const t0 = performance.now();
    const step = this.optimizer.step;
    const batch = this.batchAt(step);
    const k = this.model.kernels;
    k.pool.reset();
    this.model.zeroGrad();
    const values = this.model.forward(batch.inputs, batch.B, batch.T);
    const loss = this.config.objective === 'bt' ? bradleyTerryLoss(values, batch.better, batch.worse, k) : bceWithLogits(values, batch.targets, batch.mask, k);
    backward(loss);
    const c = this.config;
    const lr = cosineSchedule(step, c.steps, c.optimizer.lr, c.warmupSteps, c.minLrRatio);
    const gradNorm = this.optimizer.update(lr);
    return { step: step + 1, loss: loss.data[0]!, lr, gradNorm, ms: performance.now() - t0 };
  }
}

/**
 * ROC AUC: the probability that a random positive scores above a random negative, ties
 * counting one half (the Mann–Whitney U statistic over average ranks). NaN when either class
 * is absent.
 */
export function auc(scores: readonly number[], labels: readonly (number | boolean)[]): number {
  if (scores.length !== labels.length) throw new Error(`auc: ${scores.length} scores, ${labels.length} labels`);
  const order = scores.map((s, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Float64Array(scores.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[order[t]!] = avg;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  labels.forEach((l, i) => {
    if (l === true || (typeof l === 'number' && l > 0)) {
      pos++;
      rankSum += ranks[i]!;
    }
  });
  const neg = scores.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface RewardEval {
  /** Step labels scored (held out). */
  steps: number;
  /** Step-level accuracy: score ≥ 0.5 against the hard label. */
  stepAccuracy: number;
  /** Step-level ROC AUC against the hard labels. */
  stepAuc: number;
  /** Mean absolute error of step scores against the soft labels. */
  stepMae: number;
  solutions: number;
  /** Solution-level accuracy: final (aggregated) score ≥ 0.5 against the outcome. */
  solutionAccuracy: number;
  /** Solution-level ROC AUC of the final score against the outcome. */
  solutionAuc: number;
  /** Within-problem ranking (what search needs), when answers were given: see `RankingEval`. */
  ranking?: RankingEval;
  /** Solution AUC and within-problem ranking under each aggregation (process models), to choose one. */
  byAggregation?: Partial<Record<Aggregation, { solutionAuc: number; ranking?: RankingEval }>>;
}

/**
 * How well a reward ranks the solutions *of one problem*, the quantity search depends on. A
 * pooled AUC over all problems mostly measures problem difficulty (easy problems' solutions all
 * score high); best-of-N needs the right solution to outscore the wrong ones of the same problem.
 */
export interface RankingEval {
  /** Problems with both a correct and an incorrect solution (the only ones per-problem AUC is defined on). */
  mixedProblems: number;
  /** Mean over mixed problems of the AUC of final scores against outcomes. */
  perProblemAuc: number;
  problems: number;
  /** Solutions per problem (the smallest count; k of best-of-k and majority@k). */
  k: number;
  /** Mean outcome of single solutions (the sampling baseline). */
  single: number;
  /** Highest-scored answered solution is correct. */
  bestOfK: number;
  /** Most frequent answer is correct (no reward used). */
  majorityAtK: number;
  /** Answer with the largest summed score is correct. */
  weightedAtK: number;
  /** Some solution is correct (oracle pass@k, reads the gold answer). */
  passAtK: number;
}

/**
 * Within-problem ranking metrics from final scores, outcomes and extracted answers (one per
 * solution, grouped by problem id). Only solutions with an answer can be chosen.
 */
export function rankingEval(items: readonly { problemId: string; score: number; outcome: boolean; answer: string | null }[]): RankingEval {
  const groups = new Map<string, typeof items[number][]>();
  for (const it of items) groups.set(it.problemId, [...(groups.get(it.problemId) ?? []), it]);
  let mixed = 0, aucSum = 0, best = 0, maj = 0, wmaj = 0, pass = 0, single = 0, count = 0;
  let k = Infinity;
  for (const g of groups.values()) {
    k = Math.min(k, g.length);
    single += g.filter((x) => x.outcome).length;
    count += g.length;
    if (g.some((x) => x.outcome)) pass++;
    const a = auc(g.map((x) => x.score), g.map((x) => x.outcome));
    if (!Number.isNaN(a)) {
      mixed++;
      aucSum += a;
    }
    const answered = g.filter((x) => x.answer !== null);
    if (answered.length === 0) continue;
    let top = answered[0]!;
    for (const x of answered) if (x.score > top.score) top = x;
    if (top.outcome) best++;
    const votes = new Map<string, { n: number; w: number; right: boolean }>();
    for (const x of answered) {
      const v = votes.get(x.answer!) ?? { n: 0, w: 0, right: false };
      v.n++;
      v.w += Math.max(0, x.score);
      v.right ||= x.outcome;
      votes.set(x.answer!, v);
    }
    const pick = (key: 'n' | 'w') => [...votes.values()].reduce((a, b) => (b[key] > a[key] ? b : a));
    if (pick('n').right) maj++;
    if (pick('w').right) wmaj++;
  }
  const P = groups.size;
  const frac = (x: number) => (P ? x / P : NaN);
  return { mixedProblems: mixed, perProblemAuc: mixed ? aucSum / mixed : NaN, problems: P, k: Number.isFinite(k) ? k : 0, single: count ? single / count : NaN, bestOfK: frac(best), majorityAtK: frac(maj), weightedAtK: frac(wmaj), passAtK: frac(pass) };
}

/**
 * Held-out evaluation through the RewardModel interface itself (so training and scoring read
 * the same positions). A process model gives step scores directly; an outcome model scores each
 * step prefix as a partial solution, so all kinds compare on the same step labels.
 */
export async function evaluateReward(
  reward: LearnedRewardModel,
  rows: readonly StepLabelRow[],
  aggregation: Aggregation = 'min',
  /** Each row's extracted final answer (aligned with rows): adds within-problem ranking metrics. */
  answers?: readonly (string | null)[],
): Promise<RewardEval> {
  const problem = { id: '', prompt: '', answer: '' };
  const stepScores: number[] = [];
  const hard: number[] = [];
  const soft: number[] = [];
  const finals: number[] = [];
  const outcomes: boolean[] = [];
  const kept = rows.map((r, i) => i).filter((i) => rows[i]!.steps.length > 0);
  const withSteps = kept.map((i) => rows[i]!);
  const perStep: number[][] = [];
  if (reward.kind === 'process') {
    const { scores } = await reward.score(withSteps.map((r) => ({ problem, prompt: r.prompt, steps: r.steps, complete: true })));
    for (const s of scores) {
      stepScores.push(...s.stepScores!);
      perStep.push(s.stepScores!);
      finals.push(aggregate(s.stepScores!, aggregation));
    }
  } else {
    const items = withSteps.flatMap((r) => r.steps.map((_, i) => ({ problem, prompt: r.prompt, steps: r.steps.slice(0, i + 1), complete: i === r.steps.length - 1 })));
    const { scores } = await reward.score(items);
    let k = 0;
    for (const r of withSteps) {
      for (let i = 0; i < r.steps.length; i++) stepScores.push(scores[k++]!.score);
      finals.push(stepScores[stepScores.length - 1]!);
    }
  }
  for (const r of withSteps) {
    hard.push(...r.labels.hard);
    soft.push(...r.labels.soft);
    outcomes.push(r.outcome);
  }
  const acc = (s: number[], l: (number | boolean)[]) => (s.length ? s.filter((v, i) => (v >= 0.5) === (l[i] === true || l[i] === 1)).length / s.length : NaN);
  const rank = (fs: readonly number[]) => (answers ? rankingEval(withSteps.map((r, j) => ({ problemId: r.problemId, score: fs[j]!, outcome: r.outcome, answer: answers[kept[j]!] ?? null }))) : undefined);
  const extra: Pick<RewardEval, 'ranking' | 'byAggregation'> = {};
  const ranking = rank(finals);
  if (ranking) extra.ranking = ranking;
  if (reward.kind === 'process') {
    extra.byAggregation = {};
    for (const how of ['min', 'prod', 'last', 'mean'] as const) {
      const fs = perStep.map((ss) => aggregate(ss, how));
      const r = rank(fs);
      extra.byAggregation[how] = { solutionAuc: auc(fs, outcomes), ...(r ? { ranking: r } : {}) };
    }
  }
  return {
    ...extra,
    steps: stepScores.length,
    stepAccuracy: acc(stepScores, hard),
    stepAuc: auc(stepScores, hard),
    stepMae: stepScores.length ? stepScores.reduce((s, v, i) => s + Math.abs(v - soft[i]!), 0) / stepScores.length : NaN,
    solutions: finals.length,
    solutionAccuracy: acc(finals, outcomes),
    solutionAuc: auc(finals, outcomes),
  };
}
