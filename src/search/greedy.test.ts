import { describe, expect, it } from 'vitest';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { accuracy, toyWorld } from './testing.js';

describe('greedy', () => {
  it('makes one temperature-0 call for one sample', async () => {
    const world = toyWorld({ count: 1 });
    const r = await greedy(world.problems[0]!, world.context(1), defaultGreedyConfig);
    expect(world.policy.calls).toHaveLength(1);
    expect(world.policy.calls[0]!.request).toMatchObject({ n: 1, temperature: 0, maxTokens: 64 });
    expect(r.trajectories).toHaveLength(1);
    expect(r.trajectories[0]!.finishReason).toBe('eos');
  });

  it('gives the same answer whatever the seed', async () => {
    const world = toyWorld({ count: 10 });
    for (const p of world.problems) {
      const a = await greedy(p, world.context('a'), defaultGreedyConfig);
      const b = await greedy(p, world.context('b'), defaultGreedyConfig);
      expect(b.best!.text).toBe(a.best!.text);
    }
  });

  it('skips the reward model when told not to score', async () => {
    const world = toyWorld({ count: 1 });
    const r = await greedy(world.problems[0]!, world.context(1), { ...defaultGreedyConfig, score: false });
    expect(r.compute.rewardCalls).toBe(0);
    expect(r.trajectories[0]!.score).toBeUndefined();
  });

  it('is about as accurate as one sample on the toy task (p^steps)', async () => {
    const world = toyWorld({ count: 200, p: 0.6, steps: 4 });
    const acc = await accuracy(world, greedy, defaultGreedyConfig);
    // 0.6^4 = 0.13; 200 problems give a standard error of 0.024.
    expect(acc).toBeGreaterThan(0.05);
    expect(acc).toBeLessThan(0.25);
  });
});
