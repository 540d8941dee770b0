import { describe, expect, it } from 'vitest';
import type { RolloutGroup } from './examples.js';
import { defaultGrpoConfig, groupAdvantages, grpoLearner, type GrpoConfig } from './grpo.js';
import { frozenCopy, type StepMetrics } from './learner.js';
import { TOY_DELIMITER, TOY_PROMPT, toyMeanReward, toyModel, toyRollouts, toyTokenizer } from './learner-toy.js';

async function train(cfg: Partial<GrpoConfig>, iterations: number, invert = false): Promise<{ before: number; after: number; steps: StepMetrics[] }> {
  const model = toyModel(1);
  const reference = frozenCopy(model);
  const before = await toyMeanReward(model, 256, 99);
  const learner = grpoLearner(cfg);
  const steps: StepMetrics[] = [];
  for (let it = 0; it < iterations; it++) {
    const groups = await toyRollouts(model, 8, 8, 1000 + it);
    if (invert) for (const g of groups) for (const r of g.rollouts) r.reward = 1 - r.reward;
    await learner.update(groups, { policy: { model, tokenizer: toyTokenizer }, reference, seed: it, onStep: (m) => steps.push(m) });
  }
  return { before, after: await toyMeanReward(model, 256, 99), steps };
}

const fast = { optimizer: { ...defaultGrpoConfig.optimizer, lr: 3e-3 }, miniBatch: 32 };

describe('group advantages', () => {
  it('are mean-centred (std division optional), RLOO is the leave-one-out baseline, and equal rewards give none', () => {
    expect(groupAdvantages([1, 0, 0, 1], 'grpo', false)).toEqual([0.5, -0.5, -0.5, 0.5]);
    const scaled = groupAdvantages([1, 0, 0, 1], 'grpo', true)!;
    expect(scaled[0]).toBeCloseTo(0.5 / (Math.sqrt(1 / 3) + 1e-4), 6);
    // RLOO: r_i − mean of the others.
    const rloo = groupAdvantages([1, 0, 0, 0], 'rloo', false)!;
    expect(rloo[0]).toBeCloseTo(1, 9);
    expect(rloo[1]).toBeCloseTo(0 - 1 / 3, 9);
    expect(groupAdvantages([0.3, 0.3, 0.3], 'grpo', false)).toBeNull();
    expect(groupAdvantages([1], 'grpo', false)).toBeNull();
  });
});

describe('grpo learner', () => {
  it('raises the reward of fresh samples from 0.125 to above 0.8; an inverted reward drives it down (the test can fail)', async () => {
    const up = await train(fast, 12);
    // Measured: 0.125 → 0.93 in 12 updates of 64 rollouts (β 0.04); the inverted run ends near 0.
    expect(up.before).toBeLessThan(0.2);
    expect(up.after).toBeGreaterThan(0.8);
    const last = up.steps.at(-1)!;
    for (const k of ['loss', 'kl', 'entropy', 'grad_norm', 'clip_ratio', 'reward', 'reward_std', 'frac_reward_zero_std', 'completions/mean_length', 'completions/clipped_ratio']) expect(last).toHaveProperty(k);
    expect(last.kl).toBeGreaterThan(0);
    expect(up.steps[0]!.kl).toBeCloseTo(0, 6);
    const down = await train({ ...fast, advantage: 'rloo', beta: 0 }, 6, true);
    expect(down.after).toBeLessThan(0.05);
  }, 120_000);

  it('drops and counts zero-variance groups; divides token sums by a constant (Dr. GRPO), not by each length', async () => {
    const model = toyModel(2);
    const reference = frozenCopy(model);
    const rollout = (text: string, reward: number) => ({ text, reward, steps: text.split(TOY_DELIMITER), truncated: false });
    const groups: RolloutGroup[] = [
      { problemId: 'p0', prompt: TOY_PROMPT, delimiter: TOY_DELIMITER, rollouts: [rollout('a', 1), rollout('bbbb', 0), rollout('ba', 1), rollout('b', 0)] },
      { problemId: 'p1', prompt: TOY_PROMPT, delimiter: TOY_DELIMITER, rollouts: [rollout('a', 1), rollout('aa', 1)] },
    ];
    const steps: StepMetrics[] = [];
    const planned: number[] = [];
    const res = await grpoLearner({ miniBatch: 16, maxCompletionLength: 10 }).update(groups, { policy: { model, tokenizer: toyTokenizer }, reference, seed: 0, onStep: (m) => steps.push(m), onPlan: (n) => planned.push(n) });
    expect(res.steps).toBe(1);
    expect(planned).toEqual([1]);
    expect(steps[0]!.frac_reward_zero_std).toBe(0.5);
    expect(steps[0]!.reward).toBeCloseTo(4 / 6, 9);
    // Completion tokens include EOS: lengths 2, 5, 3, 2.
    expect(steps[0]!['completions/mean_length']).toBeCloseTo((2 + 5 + 3 + 2 + 2 + 3) / 6, 9);
    // At the first step the ratio is 1 and the KL 0: loss = −Σ_i A_i·L_i / (rollouts × max length).
    const expected = -(0.5 * 2 - 0.5 * 5 + 0.5 * 3 - 0.5 * 2) / (4 * 10);
    expect(steps[0]!.loss).toBeCloseTo(expected, 5);
    // All groups equal: nothing to learn, no step, the count still reported.
    const none = await grpoLearner().update([groups[1]!], { policy: { model, tokenizer: toyTokenizer }, reference, seed: 0 });
    expect(none.steps).toBe(0);
    expect(none.metrics.frac_reward_zero_std).toBe(1);
  }, 120_000);

  it('several epochs of minibatches reuse the old log-probs: the ratio moves and gets clipped', async () => {
    const { steps } = await train({ ...fast, epochs: 4, miniBatch: 16 }, 2);
    expect(steps).toHaveLength(2 * 4 * 4);
    expect(Math.max(...steps.map((s) => s.clip_ratio!))).toBeGreaterThan(0);
  }, 120_000);
});
