import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { yieldTurn, type OnProgress } from '../core/progress.js';
import { kernelsFor, type KernelChoice } from '../nn/engine.js';
import { saveModel } from '../nn/model-io.js';
import { valueModelFromPolicy } from '../nn/value-model.js';
import type { BuiltinPolicy } from '../policy/builtin.js';
import { LearnedRewardModel, type RewardMeta } from '../reward/prm.js';
import { aggregate, type Aggregation } from '../reward/reward.js';
import { mixStepScores } from '../reward/geometric-mix.js';
import { createConfidenceReward } from '../reward/self-eval.js';
import type { Task } from '../tasks/task.js';
import { fromTrlStepwise, mcStepLabels, toTrlStepwise, type StepLabelRow } from './mc-labels.js';
import { evaluateReward, rankingEval, RewardTrainer, splitByProblem, type RankingEval, type RewardEval } from './reward-train.js';
import { RunDir } from './run-dir.js';

/**
 * The PRM pipeline as one library function (the CLI's `train-prm` and the learning loop, which
 * refreshes its PRM on a new policy's samples, both call it):
 *
 *     1. step labels on the policy's samples, at the temperature search samples at: Monte-Carlo
 *        rollouts (Math-Shepherd), or the task's exact step checker where it has one
 *     2. a value model started from the policy, trained on them (process, outcome or Bradley–Terry)
 *     3. saved with its aggregation, then evaluated on held-out problems: step and solution AUC,
 *        and what search needs, within-problem ranking (per-problem AUC, best-of-k vs majority@k)
 *
 * It prints nothing: progress goes to `onProgress`, lines to `log`.
 */
export interface TrainPrmOptions {
  policy: BuiltinPolicy;
  /** Where the policy came from (recorded in the checkpoint's meta). */
  policyDir: string;
  task: Task;
  /** Recorded in config.json: the task options the labels were drawn with. */
  taskOptions?: Record<string, unknown>;
  out: string;
  kind: 'process' | 'outcome' | 'bt';
  rollouts: number;
  samples: number;
  problems: number;
  steps: number;
  seed: number;
  batchSize: number;
  lr: number;
  labels: 'soft' | 'hard';
  /** Step labels from Monte-Carlo rollouts (`mc`) or from the task's exact step checker (`exact`; see McLabelConfig.source). */
  labelSource: 'mc' | 'exact';
  aggregation: Aggregation;
  heldOut: number;
  /**
   * Sampling temperature of labelled solutions and rollouts. Search samples at 0.8 (its
   * default): labels drawn at another temperature describe another distribution of steps.
   */
  temperature: number;
  kernels: KernelChoice;
  onProgress?: OnProgress;
  /** Polled between training steps: true stops training early (the model is still saved and evaluated). */
  shouldStop?: () => boolean;
  log?: (line: string) => void;
}

/** Defaults (Math-Shepherd uses N = 8 rollouts per step; min aggregation as Math-Shepherd and Snell et al. 2024). */
export const defaultTrainPrmConfig = {
  kind: 'process',
  rollouts: 8,
  samples: 4,
  problems: 200,
  steps: 200,
  seed: 0,
  batchSize: 32,
  lr: 1e-3,
  labels: 'soft',
  labelSource: 'mc',
  aggregation: 'min',
  heldOut: 0.2,
  // The search algorithms' default sampling temperature (search-and-learn's 0.8).
  temperature: 0.8,
  kernels: 'fast',
} satisfies Omit<TrainPrmOptions, 'policy' | 'policyDir' | 'task' | 'out'>;

export interface TrainPrmResult {
  kind: string;
  aggregation: Aggregation;
  temperature: number;
  labels: number;
  solutions: number;
  train_units: number;
  step_accuracy: number | null;
  auc: number | null;
  solution_accuracy: number | null;
  solution_auc: number | null;
  /** Mean within-problem AUC of solution scores (held out), under `aggregation`. */
  per_problem_auc: number | null;
  /** Held-out k-sample selection accuracies under `aggregation`: single sample, best-of-k, majority@k, weighted@k, pass@k (oracle). */
  selection: RankingEval | null;
  /**
   * Process models: the held-out within-problem ranking of the PRM mixed step by step with the
   * policy's confidence, per weight λ (0 is the PRM alone, 1 the confidence alone), to choose λ
   * for `--reward prm:DIR+confidence=λ` (reward/geometric-mix.ts).
   */
  by_confidence_weight: { lambda: number; per_problem_auc: number | null; best_of_k: number | null; weighted_at_k: number | null }[] | null;
  /** Per aggregation: solution AUC, per-problem AUC and best-of-k (to choose the aggregation search uses). */
  by_aggregation: Record<string, { solution_auc: number | null; per_problem_auc: number | null; best_of_k: number | null }> | null;
  final_loss: number | null;
  steps: number;
  stopped: boolean;
  seconds: number;
  checkpoint: string;
}

export interface LabelStats {
  problems: number;
  solutions: number;
  steps: number;
  outcomeRate: number;
  hardPositiveRate: number;
  meanSoft: number;
}

const countSteps = (rows: readonly StepLabelRow[]): number => rows.reduce((s, r) => s + r.steps.length, 0);

export function labelStats(rows: readonly StepLabelRow[]): LabelStats {
  const steps = countSteps(rows);
  let hard = 0;
  let soft = 0;
  for (const r of rows) {
    for (const h of r.labels.hard) hard += h;
    for (const s of r.labels.soft) soft += s;
  }
  return {
    problems: new Set(rows.map((r) => r.problemId)).size,
    solutions: rows.length,
    steps,
    outcomeRate: rows.length ? rows.filter((r) => r.outcome).length / rows.length : 0,
    hardPositiveRate: steps ? hard / steps : 0,
    meanSoft: steps ? soft / steps : 0,
  };
}

const round = (x: number | undefined): number | null => (x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(4)));

export async function trainPrm(o: TrainPrmOptions): Promise<TrainPrmResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const { task, policy } = o;
  const run = new RunDir(o.out);
  const labelling = { checkpoint: o.policyDir, task: task.name, taskOptions: o.taskOptions ?? {}, problems: o.problems, samples: o.samples, rollouts: o.labelSource === 'exact' ? 0 : o.rollouts, temperature: o.temperature, seed: o.seed, ...(o.labelSource === 'exact' ? { source: 'exact' } : {}) };
  const previous = run.readJson('config.json') as { labelling?: unknown } | undefined;
  run.writeJson('config.json', { command: 'train-prm', kind: o.kind, labelling, steps: o.steps, batchSize: o.batchSize, lr: o.lr, labels: o.labels, aggregation: o.aggregation, heldOut: o.heldOut, policy: policy.model.config });

  // 1. Step labels, Monte-Carlo or exact (reused when this run directory already holds them for the same settings).
  const problems = task.problems('train', o.problems, o.seed);
  const labelsPath = run.file('labels.jsonl');
  let rows: StepLabelRow[];
  if (existsSync(labelsPath) && JSON.stringify(previous?.labelling) === JSON.stringify(labelling)) {
    rows = readFileSync(labelsPath, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, i) => fromTrlStepwise(JSON.parse(l), i));
    log(`reusing ${rows.length} labelled solutions from ${labelsPath}`);
  } else {
    const tl = performance.now();
    o.onProgress?.({ stage: 'label', done: 0, total: problems.length, unit: 'problem' });
    const res = await mcStepLabels(task, policy, problems, { samples: o.samples, rollouts: o.rollouts, temperature: o.temperature, seed: o.seed, source: o.labelSource }, (d) =>
      o.onProgress?.({ stage: 'label', done: d, total: problems.length, unit: 'problem' }),
    );
    rows = res.rows;
    writeFileSync(labelsPath, rows.map((r) => JSON.stringify(toTrlStepwise(r))).join('\n') + '\n');
    run.log({ event: 'labels', 'labels/solutions': rows.length, 'labels/steps': countSteps(rows), 'labels/prefixes': res.prefixes, 'labels/rollouts': res.rollouts, 'labels/temperature': o.temperature, 'compute/output_tokens': res.usage.outputTokens, 'compute/prompt_tokens': res.usage.promptTokens, 'labels/seconds': (performance.now() - tl) / 1000 });
  }
  const stats = labelStats(rows);
  log(`labels: ${stats.solutions} solutions of ${stats.problems} problems at temperature ${o.temperature} (${(stats.outcomeRate * 100).toFixed(1)}% correct), ${stats.steps} steps (${(stats.hardPositiveRate * 100).toFixed(1)}% hard-positive, mean soft ${stats.meanSoft.toFixed(3)})`);

  // 2. Train a value model started from the policy, on its own kernels (its pool is reset every step).
  const { train, heldOut } = splitByProblem(rows, o.heldOut, o.seed);
  const model = valueModelFromPolicy(policy.model, kernelsFor(o.kernels));
  const trainer = new RewardTrainer(model, policy.tokenizer, train, task.stepDelimiter, {
    objective: o.kind,
    steps: o.steps,
    batchSize: o.batchSize,
    warmupSteps: Math.max(1, Math.round(o.steps * 0.05)),
    labels: o.labels,
    seed: o.seed,
    optimizer: { lr: o.lr },
  });
  let loss = NaN;
  let smooth = NaN;
  let steps = 0;
  let stopped = false;
  while (trainer.optimizer.step < o.steps) {
    await yieldTurn();
    if (o.shouldStop?.()) {
      stopped = true;
      break;
    }
    const s = trainer.trainStep();
    loss = s.loss;
    smooth = Number.isNaN(smooth) ? loss : 0.95 * smooth + 0.05 * loss;
    steps = s.step;
    if (s.step % 10 === 0 || s.step === o.steps) run.log({ step: s.step, 'train/loss': s.loss, 'train/lr': s.lr, 'train/grad_norm': s.gradNorm });
    o.onProgress?.({ stage: 'train', done: s.step, total: o.steps, unit: 'step', fields: { loss: Number(smooth.toFixed(4)) } });
  }

  // 3. Save and evaluate on held-out problems through the RewardModel interface, with the
  //    aggregation stored in the checkpoint (the one search will use by default).
  const meta: RewardMeta & Record<string, unknown> = { kind: o.kind === 'process' ? 'process' : 'outcome', aggregation: o.aggregation, task: task.name, stepDelimiter: task.stepDelimiter, objective: o.kind, labels: o.labels, temperature: o.temperature, steps, policy: o.policyDir };
  saveModel(run.checkpointDir, model, policy.tokenizer, meta);
  const reward = new LearnedRewardModel(model, policy.tokenizer, { kind: meta.kind, aggregation: o.aggregation, stepDelimiter: task.stepDelimiter });
  const byId = new Map(problems.map((p) => [p.id, p]));
  const answers = heldOut.map((r) => {
    const p = byId.get(r.problemId);
    return p ? task.verify(p, r.steps.join(task.stepDelimiter)).extracted : null;
  });
  const ev: RewardEval | null = heldOut.length > 0 ? await evaluateReward(reward, heldOut, o.aggregation, answers) : null;
  const sel = ev?.ranking ?? null;
  run.log({
    step: steps,
    'train/final_loss': loss,
    ...(ev
      ? {
          'eval/step_accuracy': ev.stepAccuracy,
          'eval/step_auc': ev.stepAuc,
          'eval/step_mae': ev.stepMae,
          'eval/solution_accuracy': ev.solutionAccuracy,
          'eval/solution_auc': ev.solutionAuc,
          'eval/steps': ev.steps,
          'eval/solutions': ev.solutions,
          ...(sel ? { 'eval/per_problem_auc': sel.perProblemAuc, 'eval/mixed_problems': sel.mixedProblems, 'eval/single': sel.single, 'eval/best_of_k': sel.bestOfK, 'eval/majority_at_k': sel.majorityAtK, 'eval/weighted_at_k': sel.weightedAtK, 'eval/pass_at_k': sel.passAtK, 'eval/k': sel.k } : {}),
        }
      : {}),
  });
  const byWeight = ev && o.kind === 'process' ? await confidenceMixRanking(reward, policy, task, heldOut, answers, o.aggregation) : null;
  if (byWeight) {
    log(`held-out ranking mixed with the policy's confidence (--reward prm:DIR+confidence=λ): ${byWeight.map((r) => `λ ${r.lambda}: per-problem AUC ${r.per_problem_auc ?? '-'}, best-of-k ${r.best_of_k ?? '-'}`).join('; ')}`);
  }
  const byAggregation = ev?.byAggregation
    ? Object.fromEntries(Object.entries(ev.byAggregation).map(([k, v]) => [k, { solution_auc: round(v.solutionAuc), per_problem_auc: round(v.ranking?.perProblemAuc), best_of_k: round(v.ranking?.bestOfK) }]))
    : null;
  return {
    kind: o.kind,
    aggregation: o.aggregation,
    temperature: o.temperature,
    labels: stats.steps,
    solutions: stats.solutions,
    train_units: trainer.size,
    step_accuracy: round(ev?.stepAccuracy),
    auc: round(ev?.stepAuc),
    solution_accuracy: round(ev?.solutionAccuracy),
    solution_auc: round(ev?.solutionAuc),
    per_problem_auc: round(sel?.perProblemAuc),
    selection: sel ? (Object.fromEntries(Object.entries(sel).map(([k, v]) => [k, round(v) ?? v])) as unknown as RankingEval) : null,
    by_confidence_weight: byWeight,
    by_aggregation: byAggregation,
    final_loss: round(loss),
    steps,
    stopped,
    seconds: Math.round((performance.now() - t0) / 1000),
    checkpoint: run.checkpointDir,
  };
}

/** Weights reported by `confidenceMixRanking`. */
const mixWeights = [0, 0.25, 0.5, 0.75, 1];

/**
 * Within-problem ranking of held-out solutions scored by the PRM mixed with the policy's
 * confidence, for each weight in `mixWeights`: both rewards score every solution once, and each
 * weight mixes their step scores as `--reward prm:DIR+confidence=λ` does, then aggregates.
 */
async function confidenceMixRanking(
  reward: LearnedRewardModel,
  policy: BuiltinPolicy,
  task: Task,
  rows: readonly StepLabelRow[],
  answers: readonly (string | null)[],
  aggregation: Aggregation,
): Promise<NonNullable<TrainPrmResult['by_confidence_weight']>> {
  const kept = rows.map((_, i) => i).filter((i) => rows[i]!.steps.length > 0);
  const problem = { id: '', prompt: '', answer: '' };
  const items = kept.map((i) => ({ problem, prompt: rows[i]!.prompt, steps: rows[i]!.steps, complete: true }));
  const prm = (await reward.score(items)).scores.map((s) => s.stepScores!);
  const conf = (await createConfidenceReward(policy, task.stepDelimiter).score(items)).scores.map((s) => s.stepScores!);
  return mixWeights.map((lambda) => {
    const scored = kept.map((i, j) => ({ problemId: rows[i]!.problemId, outcome: rows[i]!.outcome, answer: answers[i] ?? null, score: aggregate(mixStepScores(conf[j]!, prm[j]!, lambda), aggregation) }));
    const r = rankingEval(scored);
    return { lambda, per_problem_auc: round(r.perProblemAuc), best_of_k: round(r.bestOfK), weighted_at_k: round(r.weightedAtK) };
  });
}
