import { describe, expect, it } from 'vitest';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { defaultHybridConfig, hybrid, splitCompute } from './hybrid.js';
import { accuracy, toyWorld } from './testing.js';

describe('hybrid (parallel revision chains)', () => {
  it('splits n attempts between chains and revisions on a log scale', () => {
    expect(splitCompute(16, 0)).toEqual({ chains: 1, attempts: 16 });
    expect(splitCompute(16, 0.5)).toEqual({ chains: 4, attempts: 4 });
    expect(splitCompute(16, 0.75)).toEqual({ chains: 8, attempts: 2 });
    expect(splitCompute(16, 1)).toEqual({ chains: 16, attempts: 1 });
    expect(splitCompute(10, 0.5)).toEqual({ chains: 3, attempts: 3 });
    expect(splitCompute(1, 0.5)).toEqual({ chains: 1, attempts: 1 });
  });

  it('runs the chains in lockstep, one batched call per round, chains independent', async () => {
    const world = toyWorld({ count: 1 });
    const problem = world.problems[0]!;
    const r = await hybrid(problem, world.context(1), { ...defaultHybridConfig, n: 16, breadthFraction: 0.5 });
    expect(r.trajectories).toHaveLength(16);
    const calls = world.policy.calls.map((c) => c.request);
    // Round one: four chains at the same prompt, merged into one prefix so their attempts differ.
    expect(calls[0]).toMatchObject({ prefixes: [world.task.formatPrompt(problem)], n: 4 });
    expect(new Set(world.policy.calls[0]!.result.completions[0]!.map((c) => c.text)).size).toBeGreaterThan(1);
    const samples = calls.reduce((a, c) => a + c.prefixes.length * c.n!, 0);
    expect(samples).toBe(16);
  });

  it('at breadthFraction 1 is best-of-N: one call for N independent attempts', async () => {
    const world = toyWorld({ count: 1 });
    await hybrid(world.problems[0]!, world.context(2), { ...defaultHybridConfig, n: 8, breadthFraction: 1 });
    expect(world.policy.calls).toHaveLength(1);
    expect(world.policy.calls[0]!.request.n).toBe(8);
  });

  it('beats greedy on the toy task at every split', async () => {
    const world = toyWorld({ count: 40 });
    const g = await accuracy(world, greedy, defaultGreedyConfig);
    for (const breadthFraction of [0, 0.5, 1]) {
      const h = await accuracy(world, hybrid, { ...defaultHybridConfig, n: 16, breadthFraction });
      expect(h - g).toBeGreaterThan(0.4);
    }
  });
});
