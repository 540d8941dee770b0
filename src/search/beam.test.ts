import { describe, expect, it } from 'vitest';
import { beam, defaultBeamConfig } from './beam.js';
import { bestOfN, defaultBestOfNConfig } from './best-of-n.js';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { matchedBudget } from './registry.js';
import { ROOT_INDEX } from './search.js';
import { Rng } from '../core/rng.js';
import { createMockPolicy } from '../policy/mock.js';
import { accuracy, createToyTask, recordReward, toyWorld } from './testing.js';
import { childrenOf } from './tree.js';

describe('beam search', () => {
  it('samples n first steps, then expands the n/M best beams M ways, one step (stop = delimiter) at a time', async () => {
    const world = toyWorld({ count: 1 });
    const problem = world.problems[0]!;
    const prompt = world.task.formatPrompt(problem);
    const r = await beam(problem, world.context(1), { ...defaultBeamConfig, n: 16, beamWidth: 4 });
    const [first, ...later] = world.policy.calls.map((c) => c.request);
    expect(first).toMatchObject({ prefixes: [prompt], n: 16, stop: ['\n'] });
    // Round two: 4 beams × 4 samples; beams with the same text share one prefix (larger n).
    const second = later.slice(0, later.findIndex((_, i) => later.slice(0, i + 1).reduce((a, c) => a + c.n! * c.prefixes.length, 0) >= 16) + 1);
    expect(second.reduce((a, c) => a + c.n! * c.prefixes.length, 0)).toBe(16);
    // The survivors are the best-scored unfinished first steps (distinct texts are merged, so ≤ 4 prefixes).
    const t = r.tree!;
    const firstRound = childrenOf(t, ROOT_INDEX).filter((c) => !t.terminal[c]);
    const top = [...firstRound].sort((a, b) => t.reward[b]! - t.reward[a]! || a - b).slice(0, 4);
    expect(new Set(second.flatMap((c) => c.prefixes))).toEqual(new Set(top.map((c) => prompt + t.step[c])));
    for (const c of world.policy.calls) for (const comp of c.result.completions.flat()) expect(comp.text.split('\n').filter(Boolean).length).toBeLessThanOrEqual(1);
  });

  it('ends when n beams finish and returns them scored', async () => {
    const world = toyWorld({ count: 1 });
    const r = await beam(world.problems[0]!, world.context(2), { ...defaultBeamConfig, n: 8, beamWidth: 2 });
    expect(r.trajectories.length).toBeGreaterThan(0);
    expect(r.trajectories.length).toBeLessThanOrEqual(8);
    for (const t of r.trajectories) {
      expect(t.answer).not.toBeNull();
      expect(t.stepScores).toHaveLength(t.steps.length);
    }
  });

  it('generates to the end in its last round', async () => {
    const world = toyWorld({ count: 1 });
    await beam(world.problems[0]!, world.context(3), { ...defaultBeamConfig, n: 4, beamWidth: 2, maxSteps: 2 });
    const calls = world.policy.calls.map((c) => c.request);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.stop).toBeUndefined();
  });

  it('beats greedy and best-of-N at matched budget on a hard toy task (PRM-guided)', async () => {
    // p^steps = 0.4^6 = 0.004: sampling almost never finds a right chain; a PRM can steer step by step.
    const world = toyWorld({ count: 40, p: 0.4, steps: 6 });
    const budget = matchedBudget(16, 64);
    const g = await accuracy(world, greedy, defaultGreedyConfig, budget);
    const b = await accuracy(world, bestOfN, { ...defaultBestOfNConfig, n: 16 }, budget);
    const s = await accuracy(world, beam, { ...defaultBeamConfig, n: 16, dedupe: false }, budget);
    const d = await accuracy(world, beam, { ...defaultBeamConfig, n: 16 }, budget);
    expect(g).toBeLessThan(0.1);
    expect(b).toBeLessThan(0.25);
    expect(s).toBeGreaterThan(0.8);
    // Deduplicated beams still beat sampling by far; with this near-perfect PRM, copies of the one
    // right prefix concentrate expansions on it, so keeping them (dedupe off) does better still.
    expect(d).toBeGreaterThan(b + 0.25);
    expect(d).toBeLessThan(s);
  });

  it('keeps distinct beams (identical texts merged) and spends the round’s n expansions on them', async () => {
    const world = toyWorld({ count: 3, p: 0.8 });
    for (const p of world.problems) {
      world.policy.reset();
      await beam(p, world.context(`d/${p.id}`), { ...defaultBeamConfig, n: 8, beamWidth: 2 });
      for (const c of world.policy.calls.slice(1)) expect(new Set(c.request.prefixes).size).toBe(c.request.prefixes.length);
      // Round two: 8 expansions in all, over at most 4 distinct beams.
      const second = world.policy.calls.slice(1).filter((c) => c.request.prefixes.every((x) => x.split('\n').length === world.policy.calls[1]!.request.prefixes[0]!.split('\n').length));
      expect(second.reduce((a, c) => a + c.request.n! * c.request.prefixes.length, 0)).toBe(8);
    }
  });

  it('ranks finished beams by score at the end, not first come first served', async () => {
    // Round 0: two samples finish at once with the wrong answer, two write a (distinct) first step;
    // round 1: both steps finish right. Admitting the n = 4 first finishers would tie 2–2 and the
    // earlier wrong answer would win the vote; ranking all finished beams keeps the 4 right ones.
    const task = createToyTask({ steps: 1 });
    const [problem] = task.problems('test', 1, 3);
    const meta = problem!.meta as { start: number; addends: number[] };
    const steps = [`${meta.start}+${meta.addends[0]}=${problem!.answer}\n`, `${meta.start}+${meta.addends[0]}=${problem!.answer} \n`];
    const policy = createMockPolicy((prefix, i) => (steps.some((st) => prefix.endsWith(st)) ? `Answer: ${problem!.answer}` : i < 2 ? 'Answer: 0' : steps[i - 2]!));
    const scoreOf = (steps: string[]) => (steps.at(-1)!.startsWith('Answer: 0') ? 0.2 : 0.9);
    const reward = recordReward({ id: 'fixed', kind: 'process', score: async (items) => ({ scores: items.map((i) => ({ score: scoreOf(i.steps), stepScores: i.steps.map(() => scoreOf(i.steps)) })), usage: { calls: 1, tokens: 0 } }) });
    const r = await beam(problem!, { task, policy, reward, rng: new Rng(1), budget: {}, maxTokens: 20 }, { ...defaultBeamConfig, n: 4, beamWidth: 2, select: 'majority' });
    expect(r.trajectories.filter((t) => t.answer === '0')).toHaveLength(2);
    expect(r.trajectories.filter((t) => t.answer === problem!.answer)).toHaveLength(4);
    expect(r.answer).toBe(problem!.answer);
  });
});
