import { describe, expect, it } from 'vitest';
import { isValueModel } from '../nn/value-model.js';
import { frozenCopy, type StepMetrics } from './learner.js';
import { toyMeanReward, toyModel, toyRollouts, toyTokenizer } from './learner-toy.js';
import { defaultPpoConfig, ppoLearner, stepEndTokens, tokenRewards, type PpoConfig } from './ppo.js';

const rollout = { text: 'ab\nc\nd', reward: 1, steps: ['ab', 'c', 'd'], stepRewards: [0.5, 0.25, 0.9], truncated: false };
// Tokens: a b \n c \n d EOS → L = 7; steps end at tokens 1, 3 and (last step) 6.

describe('ppo rewards', () => {
  it('finds each step’s last token; the last step ends at the last token (EOS)', () => {
    expect(stepEndTokens(rollout, 7)).toEqual([1, 3, 6]);
    // A trailing delimiter (dropped by splitSteps) is fine; steps not in the text are not.
    expect(stepEndTokens({ ...rollout, text: 'ab\nc\nd\n' }, 8)).toEqual([1, 3, 7]);
    expect(stepEndTokens({ ...rollout, steps: ['ab', 'cd'] }, 7)).toBeNull();
  });

  it('places outcome and process rewards; potential shaping keeps the return (γ = 1) and moves credit to the steps', () => {
    const out = tokenRewards(rollout, 7, { reward: 'outcome', shaping: 'none', gamma: 1 });
    expect(Array.from(out.rewards)).toEqual([0, 0, 0, 0, 0, 0, 1]);
    const proc = tokenRewards(rollout, 7, { reward: 'process', shaping: 'none', gamma: 1 });
    expect(Array.from(proc.rewards)).toEqual([0, 0.5, 0, 0.25, 0, 0, 0.9]);
    const pot = tokenRewards(rollout, 7, { reward: 'outcome', shaping: 'potential', gamma: 1 });
    // Φ before tokens 0..7: 0 0 0.5 0.5 0.25 0.25 0.25, terminal 0 → F_t = Φ_{t+1} − Φ_t.
    expect(Array.from(pot.rewards).map((v) => +v.toFixed(9))).toEqual([0, 0.5, 0, -0.25, 0, 0, 1 - 0.25]);
    expect(Array.from(pot.rewards).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // γ < 1: F = γΦ(s') − Φ(s) token by token; the discounted return from the start still equals the unshaped one (Φ(s_0) = 0).
    const g = 0.9;
    const disc = (r: Float64Array) => Array.from(r).reduce((a, v, t) => a + v * g ** t, 0);
    expect(disc(tokenRewards(rollout, 7, { reward: 'outcome', shaping: 'potential', gamma: g }).rewards)).toBeCloseTo(disc(out.rewards), 9);
    // No step rewards: process falls back to the outcome, and says so.
    const bare = tokenRewards({ ...rollout, stepRewards: undefined }, 7, { reward: 'process', shaping: 'none', gamma: 1 });
    expect(bare.fallback).toBe(true);
    expect(bare.rewards[6]).toBe(1);
  });
});

async function train(cfg: Partial<PpoConfig>, iterations: number): Promise<{ before: number; after: number; steps: StepMetrics[]; learner: ReturnType<typeof ppoLearner> }> {
  const model = toyModel(1);
  const reference = frozenCopy(model);
  const before = await toyMeanReward(model, 256, 99);
  // The toy learns in a few rounds at 10× the default lr, moves the KL early stop would cut short
  // (it is tested on its own below).
  const learner = ppoLearner({ optimizer: { ...defaultPpoConfig.optimizer, lr: 1e-3 }, miniBatch: 32, targetKl: 0, ...cfg });
  const steps: StepMetrics[] = [];
  for (let it = 0; it < iterations; it++) {
    const groups = await toyRollouts(model, 8, 8, 1000 + it);
    await learner.update(groups, { policy: { model, tokenizer: toyTokenizer }, reference, seed: it, onStep: (m) => steps.push(m) });
  }
  return { before, after: await toyMeanReward(model, 256, 99), steps, learner };
}

describe('ppo learner', () => {
  it('raises the reward of fresh samples from 0.125 to above 0.8 (outcome reward), training a value model it keeps', async () => {
    const { before, after, steps, learner } = await train({}, 10);
    // Measured: 0.125 → 0.96 in 10 updates of 64 rollouts, 4 epochs of 2 minibatches each.
    expect(before).toBeLessThan(0.2);
    expect(after).toBeGreaterThan(0.8);
    expect(steps).toHaveLength(10 * 4 * 2);
    expect(isValueModel(learner.valueModel!)).toBe(true);
    for (const k of ['loss', 'value_loss', 'kl', 'approx_kl', 'entropy', 'grad_norm', 'clip_ratio', 'reward', 'reward_std', 'frac_reward_zero_std', 'completions/mean_length', 'completions/clipped_ratio']) expect(steps.at(-1)).toHaveProperty(k);
    // The value model learns: its loss falls from the first update to the last.
    const vl = (from: number) => steps.slice(from, from + 8).reduce((a, s) => a + s.value_loss!, 0) / 8;
    expect(vl(steps.length - 8)).toBeLessThan(vl(0));
  }, 120_000);

  it('stops an update early once approx_kl passes target_kl', async () => {
    const model = toyModel(1);
    const groups = await toyRollouts(model, 4, 8, 5);
    const res = await ppoLearner({ targetKl: 1e-9, optimizer: { ...defaultPpoConfig.optimizer, lr: 1e-3 }, miniBatch: 8 }).update(groups, { policy: { model, tokenizer: toyTokenizer }, reference: frozenCopy(model), seed: 0 });
    // Step 1 starts at the sampling policy (approx_kl 0); step 2 has moved, and ends the update (16 steps without the limit).
    expect(res.steps).toBe(2);
  }, 120_000);

  it('learns with potential-based shaping by the process reward', async () => {
    const { after } = await train({ shaping: 'potential', epochs: 2 }, 8);
    expect(after).toBeGreaterThan(0.7);
  }, 120_000);
});
