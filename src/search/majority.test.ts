import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { createMockPolicy } from '../policy/mock.js';
import type { RewardModel } from '../reward/reward.js';
import { defaultMajorityConfig, majority } from './majority.js';
import { createToyTask } from './testing.js';
import { defaultWeightedMajorityConfig, weightedMajority } from './weighted-majority.js';

// Answers 5 (x3, each scored 0.2) and 7 (x2, each scored 0.9): the vote says 5, the weighted vote 7.
const task = createToyTask({ steps: 1 });
const [problem] = task.problems('test', 1, 1);
const outputs = ['Answer: 5', 'Answer: 7', 'Answer:  5 ', 'Answer: 7', 'Answer: 5', 'no answer'];
const policy = () => createMockPolicy((_p, i) => outputs[i % outputs.length]!);
const reward: RewardModel = {
  id: 'fixed',
  kind: 'outcome',
  score: async (items) => ({ scores: items.map((it) => ({ score: it.steps.join('').includes('7') ? 0.9 : 0.2 })), usage: { calls: 1, tokens: 0 } }),
};
const ctx = () => ({ task, policy: policy(), reward, rng: new Rng(1), budget: {}, maxTokens: 20 });

describe('majority (self-consistency)', () => {
  it('answers the most frequent extracted answer; answerless samples do not vote', async () => {
    const r = await majority(problem!, ctx(), { ...defaultMajorityConfig, n: 6 });
    expect(r.answer).toBe('5');
    expect(r.best!.answer).toBe('5');
    expect(r.trajectories).toHaveLength(6);
  });

  it('needs no reward when not scoring', async () => {
    const r = await majority(problem!, ctx(), { ...defaultMajorityConfig, n: 6, score: false });
    expect(r.compute.rewardCalls).toBe(0);
    expect(r.answer).toBe('5');
  });

  it('gives null when no sample has an answer', async () => {
    const c = { ...ctx(), policy: createMockPolicy({ '*': 'thinking...' }) };
    const r = await majority(problem!, c, { ...defaultMajorityConfig, n: 3 });
    expect(r.answer).toBeNull();
  });
});

describe('weighted-majority', () => {
  it('weights answers by reward', async () => {
    const r = await weightedMajority(problem!, ctx(), { ...defaultWeightedMajorityConfig, n: 6 });
    expect(r.answer).toBe('7');
    expect(r.best!.score).toBe(0.9);
  });
});
