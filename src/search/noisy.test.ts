import { describe, expect, it } from 'vitest';
import { auc } from '../learn/reward-train.js';
import { bestOfN, defaultBestOfNConfig } from './best-of-n.js';
import { getSearch, matchedBudget, searchNames } from './registry.js';
import { isSolution } from './select.js';
import { toyWorld } from './testing.js';

/**
 * Search with a realistic reward: the noisy PRM ranks a right solution above a wrong one of the
 * same problem 3 times in 4 (within-problem AUC 0.75), where the toy PRM is near perfect. What
 * must hold then, and what these tests check: the reward really has that AUC; best-of-N with it
 * beats one sample and stays below the oracle's pass@N; it does not fall from N = 4 to 16; MCTS
 * (Q normalized over siblings) uses the reward at least as well as best-of-N; and no search ever
 * answers from a trajectory without an answer.
 */
describe('search with a noisy PRM (within-problem AUC 0.75)', () => {
  const world = toyWorld({ count: 50, reward: 'noisy', p: 0.6, steps: 4 });
  const run = async (name: string, n: number) => {
    const algo = getSearch(name);
    const out = [];
    for (const p of world.problems) out.push({ p, r: await algo.search(p, world.context(`noisy/${p.id}`, matchedBudget(n, 64)), algo.budgetToConfig(n, { rewardKind: 'process', stepsPerSample: 5 })) });
    return out;
  };
  const acc = (rs: { p: { answer: string }; r: { answer: string | null } }[]) => rs.filter(({ p, r }) => r.answer === p.answer).length / rs.length;

  it('has the AUC it is set to, within problems', async () => {
    const aucs: number[] = [];
    for (const p of world.problems) {
      const r = await bestOfN(p, world.context(`auc/${p.id}`), { ...defaultBestOfNConfig, n: 16 });
      const a = auc(r.trajectories.map((t) => t.score!), r.trajectories.map((t) => t.correct!));
      if (!Number.isNaN(a)) aucs.push(a);
    }
    const mean = aucs.reduce((a, b) => a + b, 0) / aucs.length;
    expect(aucs.length).toBeGreaterThan(30);
    expect(mean).toBeGreaterThan(0.68);
    expect(mean).toBeLessThan(0.85);
  });

  it('best-of-N beats one sample, stays below pass@N, and does not fall from N = 4 to 16; MCTS does at least as well', async () => {
    const b4 = await run('best-of-n', 4);
    const b16 = await run('best-of-n', 16);
    const m16 = await run('mcts', 16);
    const single = b16.flatMap(({ r }) => r.trajectories).filter((t) => t.correct).length / b16.flatMap(({ r }) => r.trajectories).length;
    const passAt16 = b16.filter(({ r }) => r.trajectories.some((t) => t.correct)).length / b16.length;
    expect(single).toBeLessThan(0.2);
    expect(acc(b16)).toBeGreaterThan(single + 0.2);
    expect(acc(b16)).toBeLessThan(passAt16 - 0.2);
    expect(acc(b16)).toBeGreaterThanOrEqual(acc(b4));
    expect(acc(m16)).toBeGreaterThanOrEqual(acc(b16));
  });

  it('never answers from a trajectory without an answer or cut at the length limit', async () => {
    // A tight cap cuts many samples: they must not win however the reward scores them.
    const tight = toyWorld({ count: 10, reward: 'noisy', maxTokens: 30 });
    for (const name of searchNames) {
      const algo = getSearch(name);
      for (const p of tight.problems) {
        const r = await algo.search(p, tight.context(`cut/${p.id}`, matchedBudget(4, 30)), algo.budgetToConfig(4, { rewardKind: 'process' }));
        if (r.best !== null) expect([name, isSolution(r.best)]).toEqual([name, true]);
        expect(r.answer).toBe(r.best?.answer ?? null);
      }
    }
  });
});
