import { describe, expect, it } from 'vitest';
import { createNoisyPrm, recordReward, toyWorld } from '../search/testing.js';
import { formatTable, rowLabel, runSearch } from './eval.js';

describe('runSearch (eval rows)', () => {
  const world = toyWorld({ count: 6, reward: 'verifier' });
  const common = { task: world.task, policy: world.policy, problems: world.problems, maxTokens: 64, seed: 0 };

  it('labels best-of-N with a gold-reading verifier as an oracle (pass@N), and the table says so', async () => {
    const { row } = await runSearch({ ...common, reward: world.reward, algo: 'best-of-n', budget: 4 });
    expect(row).toMatchObject({ algo: 'best-of-n', oracle: true, reward: 'verifier:toy-sum' });
    expect(rowLabel(row)).toMatch(/ORACLE pass@N/);
    const table = formatTable([row]);
    expect(table).toContain('ORACLE pass@N');
    expect(table).toMatch(/reads the gold answer/);
    // A learned-style reward (no gold) is deployable.
    const prm = await runSearch({ ...common, reward: createNoisyPrm(), algo: 'best-of-n', budget: 4 });
    expect(prm.row.oracle).toBe(false);
    expect(formatTable([prm.row])).not.toContain('ORACLE');
  });

  it('greedy and majority never call a reward model and are never oracles', async () => {
    for (const algo of ['greedy', 'majority']) {
      const reward = recordReward(world.reward);
      const { row, results } = await runSearch({ ...common, reward, algo, budget: 4 });
      expect(reward.calls).toHaveLength(0);
      expect(row).toMatchObject({ reward: 'none', oracle: false, reward_calls: 0, reward_tokens: 0 });
      for (const r of results) expect(r.compute.rewardCalls).toBe(0);
    }
  });

  it('reports measured tokens (not caps), prompt tokens, reward calls and tokens, and the single-sample accuracy at T', async () => {
    const reward = recordReward(createNoisyPrm());
    world.policy.reset();
    const { row, results } = await runSearch({ ...common, reward, algo: 'weighted-majority', budget: 4, temperature: 0.5 });
    const n = world.problems.length;
    expect(row.output_tokens).toBe(Math.round(world.policy.usage.outputTokens / n));
    expect(row.output_tokens).toBeLessThan(4 * 64);
    expect(row.prompt_tokens).toBe(Math.round(world.policy.usage.promptTokens / n));
    expect(row.reward_tokens).toBe(Math.round(reward.usage.tokens / n));
    expect(row.reward_calls).toBe(Math.round((reward.usage.calls / n) * 10) / 10);
    expect(row.temperature).toBe(0.5);
    for (const c of world.policy.calls) expect(c.request.temperature).toBe(0.5);
    const all = results.flatMap((r) => r.trajectories);
    expect(row.sample_accuracy).toBeCloseTo(all.filter((t) => t.correct).length / all.length, 3);
    // The noisy PRM states 'last': that is the aggregation used and reported.
    expect(row.aggregation).toBe('last');
    const mean = await runSearch({ ...common, reward, algo: 'weighted-majority', budget: 4, aggregation: 'mean' });
    expect(mean.row.aggregation).toBe('mean');
    const s = mean.results[0]!.trajectories[0]!;
    expect(s.score).toBeCloseTo(s.stepScores!.reduce((a, b) => a + b, 0) / s.stepScores!.length, 12);
  });

  it('gives the same results whatever the concurrency, in problem order', async () => {
    const reward = createNoisyPrm();
    const one = await runSearch({ ...common, reward, algo: 'beam', budget: 4 });
    const three = await runSearch({ ...common, reward, algo: 'beam', budget: 4, concurrency: 3 });
    const strip = (rs: typeof one.results) => rs.map((r) => ({ ...r, compute: { ...r.compute, wallMs: 0 } }));
    expect(strip(three.results)).toEqual(strip(one.results));
    expect(three.results.map((r) => r.problemId)).toEqual(world.problems.map((p) => p.id));
    expect({ ...three.row, wall_ms: 0 }).toEqual({ ...one.row, wall_ms: 0 });
  });

  it('reports the elapsed wall time of a row, not the sum of the overlapping search times of its problems', async () => {
    // Each policy call takes 40 ms of waiting: with three problems in flight, six problems take
    // about two calls' time, while their search times add up to about six.
    const slow = new Proxy(world.policy, {
      get(target, key, receiver) {
        if (key === 'generate') return async (req: Parameters<typeof target.generate>[0]) => (await new Promise((r) => setTimeout(r, 40)), target.generate(req));
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const { row, results } = await runSearch({ ...common, policy: slow, reward: world.reward, algo: 'majority', budget: 4, concurrency: 3 });
    const summed = results.reduce((s, r) => s + r.compute.wallMs, 0);
    expect(summed).toBeGreaterThanOrEqual(6 * 39);
    expect(row.wall_ms).toBeGreaterThanOrEqual(2 * 39);
    expect(row.wall_ms).toBeLessThan(0.75 * summed);
  });
});
