import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { fromTrlStepwise, mcStepLabels, toTrlStepwise, type StepLabelRow } from '../learn/mc-labels.js';
import { evaluateReward, RewardTrainer, splitByProblem, type RewardEval } from '../learn/reward-train.js';
import { RunDir } from '../learn/run-dir.js';
import { kernelsFor } from '../nn/engine.js';
import { saveModel } from '../nn/model-io.js';
import { valueModelFromPolicy } from '../nn/value-model.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { LearnedRewardModel, type RewardMeta } from '../reward/prm.js';
import { getTask } from '../tasks/registry.js';
import { CliError, num, parseCommand, type Command } from './args.js';
import { onInterrupt } from './interrupt.js';
import { Progress } from './progress.js';

/** Defaults of `train-prm` (Math-Shepherd uses N = 8 rollouts per step). */
export const defaultTrainPrmConfig = {
  rollouts: 8,
  samples: 4,
  problems: 200,
  steps: 200,
  batchSize: 32,
  lr: 1e-3,
  heldOut: 0.2,
};

const options = {
  checkpoint: { type: 'string' },
  task: { type: 'string' },
  out: { type: 'string' },
  kind: { type: 'string', default: 'process' },
  rollouts: { type: 'string', default: String(defaultTrainPrmConfig.rollouts) },
  samples: { type: 'string', default: String(defaultTrainPrmConfig.samples) },
  problems: { type: 'string', default: String(defaultTrainPrmConfig.problems) },
  steps: { type: 'string', default: String(defaultTrainPrmConfig.steps) },
  seed: { type: 'string', default: '0' },
  'batch-size': { type: 'string', default: String(defaultTrainPrmConfig.batchSize) },
  lr: { type: 'string', default: String(defaultTrainPrmConfig.lr) },
  labels: { type: 'string', default: 'soft' },
  aggregation: { type: 'string', default: 'min' },
  'held-out': { type: 'string', default: String(defaultTrainPrmConfig.heldOut) },
  kernels: { type: 'string', default: 'fast' },
} as const;

const schema = z.object({
  checkpoint: z.string({ message: 'required: the policy checkpoint (or run directory) to label with and start from' }),
  task: z.string({ message: 'required: the task the policy solves (e.g. arith, countdown)' }),
  out: z.string({ message: 'required: the run directory to write' }),
  kind: z.enum(['process', 'outcome', 'bt'], { message: 'expected process (PRM), outcome (ORM) or bt (Bradley–Terry ORM)' }),
  rollouts: num({ int: true, min: 0, max: 1024 }),
  samples: num({ int: true, min: 1, max: 1024 }),
  problems: num({ int: true, min: 2 }),
  steps: num({ int: true, min: 1 }),
  seed: num({ int: true, min: 0 }),
  'batch-size': num({ int: true, min: 1, max: 4096 }),
  lr: num({ gt: 0, max: 1 }),
  labels: z.enum(['soft', 'hard'], { message: 'expected soft (fraction of correct rollouts) or hard (any rollout correct)' }),
  aggregation: z.enum(['min', 'prod', 'last', 'mean'], { message: 'expected min, prod, last or mean' }),
  'held-out': num({ min: 0, max: 0.9 }),
  kernels: z.enum(['fast', 'reference'], { message: 'expected fast or reference' }),
});

export const trainPrmCommand: Command = {
  name: 'train-prm',
  summary: 'learned reward model: label steps by Monte-Carlo rollouts of a policy (Math-Shepherd), then train a PRM, ORM or Bradley–Terry ORM from the policy',
  usage:
    'train-prm --checkpoint POLICY_DIR --task T --out RUN_DIR [--kind process|outcome|bt] [--rollouts K (8)] [--samples S (4)] [--problems P (200)] [--steps N (200)] [--seed K] [--labels soft|hard] [--aggregation min|prod|last|mean] [--held-out F (0.2)] [--batch-size B] [--lr LR]',
  async run(argv) {
    const a = parseCommand('train-prm', argv, options, schema);
    let task;
    try {
      task = getTask(a.task);
    } catch (e) {
      throw new CliError(`train-prm: --task: ${(e as Error).message}`);
    }
    let policy: BuiltinPolicy;
    try {
      policy = BuiltinPolicy.load(a.checkpoint, a.kernels);
    } catch (e) {
      throw new CliError(`train-prm: --checkpoint: ${(e as Error).message}`);
    }
    const t0 = performance.now();
    const run = new RunDir(a.out);
    const labelling = { checkpoint: a.checkpoint, task: task.name, problems: a.problems, samples: a.samples, rollouts: a.rollouts, seed: a.seed };
    const previous = run.readJson('config.json') as { labelling?: unknown } | undefined;
    run.writeJson('config.json', { command: 'train-prm', kind: a.kind, labelling, steps: a.steps, batchSize: a['batch-size'], lr: a.lr, labels: a.labels, aggregation: a.aggregation, heldOut: a['held-out'], policy: policy.model.config });

    // 1. Monte-Carlo labels (reused when this run directory already holds them for the same settings).
    const labelsPath = run.file('labels.jsonl');
    let rows: StepLabelRow[];
    if (existsSync(labelsPath) && JSON.stringify(previous?.labelling) === JSON.stringify(labelling)) {
      rows = readFileSync(labelsPath, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, i) => fromTrlStepwise(JSON.parse(l), i));
      console.error(`reusing ${rows.length} labelled solutions from ${labelsPath}`);
    } else {
      const problems = task.problems('train', a.problems, a.seed);
      const progress = new Progress('label', problems.length, 'problem');
      const tl = performance.now();
      const res = await mcStepLabels(task, policy, problems, { samples: a.samples, rollouts: a.rollouts, seed: a.seed }, (d) => progress.update(d));
      rows = res.rows;
      progress.done({ prefixes: res.prefixes, rollouts: res.rollouts });
      writeFileSync(labelsPath, rows.map((r) => JSON.stringify(toTrlStepwise(r))).join('\n') + '\n');
      run.log({ event: 'labels', 'labels/solutions': rows.length, 'labels/steps': countSteps(rows), 'labels/prefixes': res.prefixes, 'labels/rollouts': res.rollouts, 'compute/output_tokens': res.usage.outputTokens, 'compute/prompt_tokens': res.usage.promptTokens, 'labels/seconds': (performance.now() - tl) / 1000 });
    }
    const stats = labelStats(rows);
    console.error(`labels: ${stats.solutions} solutions of ${stats.problems} problems (${(stats.outcomeRate * 100).toFixed(1)}% correct), ${stats.steps} steps (${(stats.hardPositiveRate * 100).toFixed(1)}% hard-positive, mean soft ${stats.meanSoft.toFixed(3)})`);

    // 2. Train a value model started from the policy, on its own kernels (its pool is reset every step).
    const { train, heldOut } = splitByProblem(rows, a['held-out'], a.seed);
    const model = valueModelFromPolicy(policy.model, kernelsFor(a.kernels));
    let trainer: RewardTrainer;
    try {
      trainer = new RewardTrainer(model, policy.tokenizer, train, task.stepDelimiter, {
        objective: a.kind,
        steps: a.steps,
        batchSize: a['batch-size'],
        warmupSteps: Math.max(1, Math.round(a.steps * 0.05)),
        labels: a.labels,
        seed: a.seed,
        optimizer: { lr: a.lr },
      });
    } catch (e) {
      throw new CliError(`train-prm: ${(e as Error).message}`);
    }
    const progress = new Progress('train', a.steps, 'step');
    const stop = onInterrupt();
    let loss = NaN;
    let smooth = NaN;
    let steps = 0;
    while (trainer.optimizer.step < a.steps && !stop.requested()) {
      const s = trainer.trainStep();
      loss = s.loss;
      smooth = Number.isNaN(smooth) ? loss : 0.95 * smooth + 0.05 * loss;
      steps = s.step;
      if (s.step % 10 === 0 || s.step === a.steps) run.log({ step: s.step, 'train/loss': s.loss, 'train/lr': s.lr, 'train/grad_norm': s.gradNorm });
      progress.update(s.step, { loss: smooth });
    }
    stop.dispose();
    progress.done({ loss: smooth });

    // 3. Save and evaluate on held-out problems through the RewardModel interface.
    const meta: RewardMeta & Record<string, unknown> = { kind: a.kind === 'process' ? 'process' : 'outcome', aggregation: a.aggregation, task: task.name, stepDelimiter: task.stepDelimiter, objective: a.kind, labels: a.labels, steps, policy: a.checkpoint };
    saveModel(run.checkpointDir, model, policy.tokenizer, meta);
    const reward = new LearnedRewardModel(model, policy.tokenizer, { kind: meta.kind, aggregation: a.aggregation, stepDelimiter: task.stepDelimiter });
    const ev: RewardEval | null = heldOut.length > 0 ? await evaluateReward(reward, heldOut, a.aggregation) : null;
    const round = (x: number | undefined): number | null => (x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(4)));
    run.log({ step: steps, 'train/final_loss': loss, ...(ev ? { 'eval/step_accuracy': ev.stepAccuracy, 'eval/step_auc': ev.stepAuc, 'eval/step_mae': ev.stepMae, 'eval/solution_accuracy': ev.solutionAccuracy, 'eval/solution_auc': ev.solutionAuc, 'eval/steps': ev.steps, 'eval/solutions': ev.solutions } : {}) });
    if (ev) console.error(`held-out (${ev.solutions} solutions, ${ev.steps} steps): step accuracy ${(ev.stepAccuracy * 100).toFixed(1)}%, step AUC ${ev.stepAuc.toFixed(3)}; solution accuracy ${(ev.solutionAccuracy * 100).toFixed(1)}%, solution AUC ${ev.solutionAuc.toFixed(3)}`);
    console.log(JSON.stringify({
      kind: a.kind,
      labels: stats.steps,
      solutions: stats.solutions,
      train_units: trainer.size,
      step_accuracy: round(ev?.stepAccuracy),
      auc: round(ev?.stepAuc),
      solution_accuracy: round(ev?.solutionAccuracy),
      solution_auc: round(ev?.solutionAuc),
      final_loss: round(loss),
      seconds: Math.round((performance.now() - t0) / 1000),
      checkpoint: run.checkpointDir,
    }));
  },
};

function countSteps(rows: readonly StepLabelRow[]): number {
  return rows.reduce((s, r) => s + r.steps.length, 0);
}

export function labelStats(rows: readonly StepLabelRow[]): { problems: number; solutions: number; steps: number; outcomeRate: number; hardPositiveRate: number; meanSoft: number } {
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
