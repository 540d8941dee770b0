import { describe, expect, it } from 'vitest';
import { defaultDvtsConfig, dvts } from './dvts.js';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { matchedBudget } from './registry.js';
import { accuracy, toyWorld } from './testing.js';

describe('dvts', () => {
  it('grows n/M independent subtrees, M candidates each per round', async () => {
    const world = toyWorld({ count: 1 });
    const problem = world.problems[0]!;
    const prompt = world.task.formatPrompt(problem);
    await dvts(problem, world.context(1), { ...defaultDvtsConfig, n: 16, beamWidth: 4 });
    const [first, ...rest] = world.policy.calls;
    // Four subtrees start at the same prompt: merged into one prefix so their samples differ.
    expect(first!.request).toMatchObject({ prefixes: [prompt], n: 16, stop: ['\n'] });
    expect(new Set(first!.result.completions[0]!.map((c) => c.text)).size).toBeGreaterThan(1);
    for (const c of rest) {
      expect(c.request.prefixes.length).toBeLessThanOrEqual(4);
      expect(c.request.n! * c.request.prefixes.length).toBeLessThanOrEqual(16);
    }
  });

  it('beats greedy at matched budget on a hard toy task', async () => {
    const world = toyWorld({ count: 40, p: 0.4, steps: 6 });
    const budget = matchedBudget(16, 64);
    const g = await accuracy(world, greedy, defaultGreedyConfig, budget);
    const d = await accuracy(world, dvts, { ...defaultDvtsConfig, n: 16 }, budget);
    expect(g).toBeLessThan(0.1);
    expect(d).toBeGreaterThan(0.5);
  });
});
