import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { createMockPolicy } from '../policy/mock.js';
import type { RewardModel } from '../reward/reward.js';
import { adaptiveMajority, defaultAdaptiveMajorityConfig, leaderProbability, voteDecided } from './adaptive-majority.js';
import { defaultMajorityConfig, majority } from './majority.js';
import { createToyTask, toyGoldOf } from './testing.js';

const noReward: RewardModel = {
  id: 'unused',
  kind: 'outcome',
  score: () => {
    throw new Error('adaptive majority must not call a reward model');
  },
};

/** P(X > ½) for X ~ Beta(a+1, b+1) by the midpoint rule on the density: the naive reference. */
function betaTailNaive(a: number, b: number): number {
  const steps = 200_000;
  let below = 0;
  let total = 0;
  for (let i = 0; i < steps; i++) {
    const x = (i + 0.5) / steps;
    const d = Math.exp(a * Math.log(x) + b * Math.log(1 - x));
    total += d;
    if (x > 0.5) below += d;
  }
  return below / total;
}

describe('the stopping rule', () => {
  it('is the Beta posterior probability that the leader is ahead', () => {
    expect(leaderProbability(4, 0)).toBeCloseTo(31 / 32, 12);
    expect(leaderProbability(3, 1)).toBeCloseTo(13 / 16, 12);
    expect(leaderProbability(0, 0)).toBeCloseTo(0.5, 12);
    for (const [a, b] of [[7, 1], [10, 6], [20, 19], [40, 3], [5, 5]] as const) expect(leaderProbability(a, b)).toBeCloseTo(betaTailNaive(a, b), 6);
  });

  it('stops on agreement, on a lead the remaining samples cannot undo, and never without a vote', () => {
    expect(voteDecided(4, 0, 4, 64, 0.95)).toBe(true);
    expect(voteDecided(3, 1, 4, 64, 0.95)).toBe(false);
    expect(voteDecided(10, 8, 28, 32, 0.999)).toBe(false);
    expect(voteDecided(10, 5, 28, 32, 0.999)).toBe(true); // lead 5 > 4 samples left
    expect(voteDecided(0, 0, 8, 64, 0.5)).toBe(false);
  });
});

// Problems whose first number is not a multiple of 3 are easy (always answered right); the others are hard:
// right 40% of the time, two wrong answers 30% each. Searching without a gold answer, adaptive
// voting must spend its samples on the hard ones and answer as majority@n does.
const task = createToyTask({ steps: 1 });
const problems = task.problems('test', 60, 3);
const easy = (prefix: string): boolean => Number(/Start (\d+)/.exec(prefix)![1]) % 3 !== 0;
const policy = () =>
  createMockPolicy((prefix, _i, rng) => {
    const gold = toyGoldOf(prefix);
    if (easy(prefix)) return `Answer: ${gold}`;
    const u = rng.next();
    return `Answer: ${u < 0.4 ? gold : u < 0.7 ? gold + 1 : gold + 2}`;
  });

describe('adaptive majority', () => {
  it('spends one round on easy problems, more on hard ones, and no reward calls', async () => {
    let easyMax = 0;
    let hardMean = 0;
    let hard = 0;
    for (const p of problems) {
      const r = await adaptiveMajority(p, { task, policy: policy(), reward: noReward, rng: new Rng(p.id), budget: {}, maxTokens: 20 }, { ...defaultAdaptiveMajorityConfig, n: 32 });
      expect(r.compute.rewardCalls).toBe(0);
      expect(r.trajectories.length).toBeLessThanOrEqual(32);
      if (easy(p.prompt)) {
        easyMax = Math.max(easyMax, r.trajectories.length);
        expect(r.answer).toBe(p.answer);
      } else {
        hard++;
        hardMean += r.trajectories.length;
      }
    }
    expect(hard).toBeGreaterThan(8);
    expect(easyMax).toBe(4);
    expect(hardMean / hard).toBeGreaterThan(16);
  });

  it('matches majority@n within a few problems for a fraction of its tokens', async () => {
    let tokensAdaptive = 0;
    let tokensMajority = 0;
    let rightAdaptive = 0;
    let rightMajority = 0;
    for (const p of problems) {
      const ctx = () => ({ task, policy: policy(), reward: noReward, rng: new Rng(p.id), budget: {}, maxTokens: 20 });
      const a = await adaptiveMajority(p, ctx(), { ...defaultAdaptiveMajorityConfig, n: 32 });
      const m = await majority(p, ctx(), { ...defaultMajorityConfig, n: 32 });
      tokensAdaptive += a.compute.outputTokens;
      tokensMajority += m.compute.outputTokens;
      rightAdaptive += a.answer === p.answer ? 1 : 0;
      rightMajority += m.answer === p.answer ? 1 : 0;
    }
    expect(tokensAdaptive).toBeLessThan(0.5 * tokensMajority);
    expect(rightAdaptive).toBeGreaterThanOrEqual(rightMajority - 3);
  });

  it('stops where the budget does', async () => {
    const p = problems.find((q) => !easy(q.prompt))!;
    const r = await adaptiveMajority(p, { task, policy: policy(), reward: noReward, rng: new Rng(1), budget: { outputTokens: 60 }, maxTokens: 20 }, { ...defaultAdaptiveMajorityConfig, n: 64 });
    expect(r.compute.outputTokens).toBeLessThanOrEqual(60);
    expect(r.trajectories.length).toBeGreaterThan(0);
  });

  it('names a confidence outside (0, 1) or a round that is not a whole number', async () => {
    const p = problems[0]!;
    const ctx = { task, policy: policy(), reward: noReward, rng: new Rng(1), budget: {}, maxTokens: 20 };
    await expect(adaptiveMajority(p, ctx, { ...defaultAdaptiveMajorityConfig, confidence: 5 })).rejects.toThrow('adaptive-majority: confidence must be between 0 and 1 (exclusive), not 5');
    await expect(adaptiveMajority(p, ctx, { ...defaultAdaptiveMajorityConfig, round: 0 })).rejects.toThrow(/round must be a whole number of samples ≥ 1, not 0/);
  });
});
