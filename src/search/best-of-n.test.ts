import { describe, expect, it } from 'vitest';
import { createMockPolicy } from '../policy/mock.js';
import { bestOfN, defaultBestOfNConfig } from './best-of-n.js';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { accuracy, createToyPrm, createToyTask, recordReward, toyWorld } from './testing.js';
import { Rng } from '../core/rng.js';

describe('best-of-n', () => {
  it('samples N in one batched call and keeps the highest-scored', async () => {
    const world = toyWorld({ count: 1 });
    const r = await bestOfN(world.problems[0]!, world.context(1), { ...defaultBestOfNConfig, n: 8 });
    expect(world.policy.calls).toHaveLength(1);
    expect(world.policy.calls[0]!.request).toMatchObject({ prefixes: [world.task.formatPrompt(world.problems[0]!)], n: 8, temperature: 0.8 });
    expect(r.trajectories).toHaveLength(8);
    expect(r.best!.score).toBe(Math.max(...r.trajectories.map((t) => t.score!)));
    expect(r.best).toBe(r.trajectories.find((t) => t.score === r.best!.score));
  });

  it('aggregates process scores as configured', async () => {
    const world = toyWorld({ count: 1 });
    for (const aggregation of ['min', 'prod', 'last', 'mean'] as const) {
      const r = await bestOfN(world.problems[0]!, world.context(1), { ...defaultBestOfNConfig, n: 4, aggregation });
      for (const t of r.trajectories) {
        const s = t.stepScores!;
        const want = { min: Math.min(...s), prod: s.reduce((a, b) => a * b, 1), last: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length }[aggregation];
        expect(t.score).toBeCloseTo(want, 12);
      }
    }
  });

  it('draws fewer whole samples rather than many truncated ones when the budget is short', async () => {
    const world = toyWorld({ count: 1 });
    const r = await bestOfN(world.problems[0]!, world.context(1, { outputTokens: 3 * 64 + 10 }), { ...defaultBestOfNConfig, n: 16 });
    expect(world.policy.calls[0]!.request).toMatchObject({ n: 3, maxTokens: 64 });
    expect(r.trajectories).toHaveLength(3);
  });

  it('chooses by reward, never by correctness', async () => {
    // A reward that prefers the wrong answer must win over the right one.
    const task = createToyTask({ steps: 1 });
    const [problem] = task.problems('test', 1, 1);
    const wrong = `Answer: ${Number(problem!.answer) + 1}`;
    const policy = createMockPolicy({ '*': [`Answer: ${problem!.answer}`, wrong] });
    const reward = recordReward({
      id: 'likes-wrong',
      kind: 'outcome',
      score: async (items) => ({ scores: items.map((i) => ({ score: i.steps.join('\n') === wrong ? 1 : 0 })), usage: { calls: 1, tokens: 0 } }),
    });
    const r = await bestOfN(problem!, { task, policy, reward, rng: new Rng(1), budget: {}, maxTokens: 20 }, { ...defaultBestOfNConfig, n: 8 });
    expect(r.trajectories.some((t) => t.correct)).toBe(true);
    expect(r.answer).toBe(String(Number(problem!.answer) + 1));
  });

  it('beats greedy on the toy task with a PRM and with the exact verifier', async () => {
    for (const reward of ['prm', 'verifier'] as const) {
      const world = toyWorld({ count: 60, p: 0.6, reward });
      const g = await accuracy(world, greedy, defaultGreedyConfig);
      const b = await accuracy(world, bestOfN, { ...defaultBestOfNConfig, n: 16 });
      // Sampling: 0.13; best-of-16: 1 - 0.87^16 = 0.89 with a perfect verifier.
      expect(b).toBeGreaterThan(0.75);
      expect(b - g).toBeGreaterThan(0.5);
    }
    void createToyPrm;
  });
});
