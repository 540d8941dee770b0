import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import type { ModelConfig } from '../nn/config.js';
import { Transformer } from '../nn/model.js';
import { createOrtKernels } from '../nn/ort/ort-kernels.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { valueModelFromPolicy } from '../nn/value-model.js';
import { encodeSolution, LearnedRewardModel } from '../reward/prm.js';
import { getTask } from '../tasks/registry.js';
import type { BuiltinTask } from '../tasks/task.js';
import { mcStepLabels, type StepLabelRow } from './mc-labels.js';
import { scriptedArithPolicy } from './reward-fixtures.js';
import { auc, evaluateReward, makeRewardBatch, preferencePairs, RewardTrainer, splitByProblem } from './reward-train.js';

const task = getTask('arith') as BuiltinTask;
const tok = new CharTokenizer(task.alphabet);
const cfg: ModelConfig = { vocabSize: tok.vocabSize, dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, contextLength: 64, ropeTheta: 10000, normEps: 1e-5 };

function valueModel(seed = 1): Transformer {
  const policy = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  policy.init(new Rng(seed));
  return valueModelFromPolicy(policy);
}

let labelled: StepLabelRow[] | undefined;
async function rows(): Promise<StepLabelRow[]> {
  if (!labelled) {
    const problems = task.problems('train', 40, 0);
    labelled = (await mcStepLabels(task, scriptedArithPolicy(task, problems), problems, { samples: 4, rollouts: 4, seed: 0 })).rows;
  }
  return labelled;
}

describe('auc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, ½ for constant scores', () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(auc([0.1, 0.2, 0.3, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auc([0.9, 0.8, 0.1], [false, false, true])).toBe(0);
    expect(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // ties between a positive and a negative count one half
    expect(auc([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1])).toBeCloseTo(0.875, 12);
  });
  it('is NaN when a class is missing and checks lengths', () => {
    expect(auc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(() => auc([0.1], [1, 0])).toThrow(/1 scores, 2 labels/);
  });
});

describe('reward batches and splits', () => {
  it('places targets at step ends of right-padded sequences and pairs at last tokens', () => {
    const a = encodeSolution(tok, 'Q: 1+2\n', ['Plan: add', 'Answer: 3'], '\n');
    // BOS + 7 prompt characters; step 1 ends at index 7 + 9, step 2 at 7 + 9 + 1 + 9.
    expect(a.stepEnds).toEqual([16, 26]);
    expect(a.ids.length).toBe(27);
    const b = encodeSolution(tok, 'Q: 1+2\n', ['Answer: 4'], '\n');
    const batch = makeRewardBatch([{ ids: a.ids, positions: a.stepEnds, targets: [0.5, 1] }, { ids: b.ids, positions: b.stepEnds, targets: [0] }], tok.pad, [[0, 1]], 32);
    expect(batch.T).toBe(32);
    expect(Array.from(batch.mask).reduce((s, v) => s + v, 0)).toBe(3);
    expect(batch.targets[16]).toBe(0.5);
    expect(batch.mask[32 + 16]).toBe(1);
    expect(batch.inputs[32 + b.ids.length]).toBe(tok.pad);
    expect(Array.from(batch.better)).toEqual([26]);
    expect(Array.from(batch.worse)).toEqual([32 + b.ids.length - 1]);
  });

  it('holds out whole problems, and pairs correct with incorrect solutions of one problem', async () => {
    const all = await rows();
    const { train, heldOut } = splitByProblem(all, 0.25, 3);
    expect(train.length + heldOut.length).toBe(all.length);
    const trainIds = new Set(train.map((r) => r.problemId));
    expect(heldOut.every((r) => !trainIds.has(r.problemId))).toBe(true);
    expect(new Set(heldOut.map((r) => r.problemId)).size).toBe(10);
    const pairs = preferencePairs(all, 3, new Rng(0));
    expect(pairs.length).toBe(40 * 3); // 2 correct × 2 incorrect per problem, capped at 3
    for (const [g, b] of pairs) {
      expect(g.problemId).toBe(b.problemId);
      expect(g.outcome && !b.outcome).toBe(true);
    }
  });
});

describe('reward training', () => {
  it('a PRM learns Monte-Carlo step labels: held-out step AUC near 1', async () => {
    const { train, heldOut } = splitByProblem(await rows(), 0.25, 0);
    const model = valueModel();
    const trainer = new RewardTrainer(model, tok, train, '\n', { objective: 'process', steps: 60, batchSize: 16, warmupSteps: 5, seed: 0, optimizer: { lr: 3e-3 } });
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) losses.push(trainer.trainStep().loss);
    expect(losses[0]).toBeCloseTo(Math.log(2), 1); // zero head: every value starts at ½
    expect(losses.slice(-10).reduce((a, b) => a + b, 0) / 10).toBeLessThan(losses[0]! - 0.15);
    const ev = await evaluateReward(new LearnedRewardModel(model, tok, { kind: 'process' }), heldOut);
    expect(ev.steps).toBe(heldOut.length * 3);
    expect(ev.stepAuc).toBeGreaterThan(0.9);
    expect(ev.stepAccuracy).toBeGreaterThan(0.7);
    expect(ev.solutionAuc).toBeGreaterThan(0.9);
  });

  it('ORM and Bradley–Terry objectives train, and training is deterministic under a seed', async () => {
    const all = await rows();
    const run = (objective: 'outcome' | 'bt', seed: number): number[] => {
      const t = new RewardTrainer(valueModel(), tok, all, '\n', { objective, steps: 8, batchSize: 8, warmupSteps: 2, seed, optimizer: { lr: 3e-3 } });
      return Array.from({ length: 8 }, () => t.trainStep().loss);
    };
    const orm = run('outcome', 1);
    expect(orm).toEqual(run('outcome', 1));
    expect(orm).not.toEqual(run('outcome', 2));
    const bt = run('bt', 1);
    expect(bt[0]).toBeCloseTo(Math.log(2), 5); // equal scores before the first update
    expect(bt.every(Number.isFinite)).toBe(true);
    expect(() => new RewardTrainer(valueModel(), tok, all.filter((r) => r.outcome), '\n', { objective: 'bt' })).toThrow(/no \(correct, incorrect\) pair/);
  });
});
