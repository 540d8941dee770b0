import { describe, expect, it } from 'vitest';
import type { SearchResult } from './search.js';
import { usesReward as readsReward } from '../eval/eval.js';
import { getSearch, searchNames } from './registry.js';
import { toyWorld, type ToyWorldOptions } from './testing.js';

/**
 * The contract every search algorithm keeps, run over the whole registry: it stays within the
 * budget, counts exactly the compute the policy and reward report, is a function of its seed,
 * and answers with the extraction of its best trajectory.
 */

const stripWall = (r: SearchResult) => ({ ...r, compute: { ...r.compute, wallMs: 0 } });

async function run(name: string, budget: { outputTokens?: number; samples?: number }, seed: string | number, opts: ToyWorldOptions = {}) {
  const world = toyWorld({ count: 3, ...opts });
  const algo = getSearch(name);
  const results: SearchResult[] = [];
  for (const p of world.problems) results.push(await algo.search(p, world.context(`${seed}/${p.id}`, budget), algo.budgetToConfig(8, { rewardKind: world.reward.kind })));
  return { world, results };
}

describe.each(searchNames)('search contract: %s', (name) => {
  it.each([{ outputTokens: 0 }, { outputTokens: 30 }, { outputTokens: 120 }, { outputTokens: 400 }, { samples: 2 }, { samples: 0 }])(
    'stays within budget %j, reserving no more than it has',
    async (budget) => {
      for (const reward of ['prm', 'verifier'] as const) {
        const world = toyWorld({ count: 3, reward });
        const algo = getSearch(name);
        for (const p of world.problems) {
          world.policy.reset();
          const r = await algo.search(p, world.context(`1/${p.id}`, budget), algo.budgetToConfig(8, { rewardKind: world.reward.kind }));
          if (budget.outputTokens !== undefined) {
            expect(r.compute.outputTokens).toBeLessThanOrEqual(budget.outputTokens);
            // Stronger: every call's worst case (prefixes × n × maxTokens) fit in what was left then.
            let left = budget.outputTokens;
            for (const { request, result } of world.policy.calls) {
              expect(request.prefixes.length * (request.n ?? 1) * request.maxTokens).toBeLessThanOrEqual(left);
              left -= result.usage.outputTokens;
            }
          }
          if (budget.samples !== undefined) expect(r.trajectories.length).toBeLessThanOrEqual(budget.samples);
        }
      }
    },
  );

  it('counts compute exactly as the policy and reward report it', async () => {
    const { world, results } = await run(name, { outputTokens: 600 }, 2);
    const sum = (f: (r: SearchResult) => number) => results.reduce((a, r) => a + f(r), 0);
    expect(sum((r) => r.compute.outputTokens)).toBe(world.policy.usage.outputTokens);
    expect(sum((r) => r.compute.promptTokens)).toBe(world.policy.usage.promptTokens);
    expect(sum((r) => r.compute.policyCalls)).toBe(world.policy.calls.length);
    expect(sum((r) => r.compute.rewardCalls)).toBe(world.reward.usage.calls);
    expect(sum((r) => r.compute.rewardTokens)).toBe(world.reward.usage.tokens);
    for (const r of results) expect(r.compute.wallMs).toBeGreaterThanOrEqual(0);
  });

  it('is a function of its seed', async () => {
    const a = await run(name, { outputTokens: 500 }, 'same');
    const b = await run(name, { outputTokens: 500 }, 'same');
    expect(b.results.map(stripWall)).toEqual(a.results.map(stripWall));
    expect(b.world.policy.calls.map((c) => c.request)).toEqual(a.world.policy.calls.map((c) => c.request));
  });

  it('answers with its best trajectory’s extraction and scores every trajectory (the votes: none, no reward calls)', async () => {
    const { world, results } = await run(name, { outputTokens: 600 }, 3);
    const usesReward = readsReward(name);
    if (!usesReward) expect(world.reward.usage.calls).toBe(0);
    results.forEach((r, i) => {
      const problem = world.problems[i]!;
      expect(r.problemId).toBe(problem.id);
      expect(r.algo).toBe(name);
      expect(r.best).not.toBeNull();
      expect(r.trajectories).toContain(r.best);
      expect(r.answer).toBe(r.best!.answer);
      for (const t of r.trajectories) {
        expect(t.answer).toBe(world.task.verify(problem, t.text).extracted);
        expect(t.steps.join('\n')).toBe(t.text.replace(/\n$/, ''));
        expect(typeof t.score).toBe(usesReward ? 'number' : 'undefined');
      }
    });
  });
});

