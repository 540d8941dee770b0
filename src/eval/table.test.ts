import { describe, expect, it } from 'vitest';
import { createMockPolicy } from '../policy/mock.js';
import { createNoisyPrm, toyWorld } from '../search/testing.js';
import { withSampleCache } from './sample-cache.js';
import { runTable, tableCells } from './table.js';

describe('withSampleCache', () => {
  const request = { prefixes: ['Q: 1+1\n'], n: 3, maxTokens: 8, temperature: 0.8, seed: 5 };

  it('answers a repeated seeded request from the cache with the usage measured when it was drawn', async () => {
    const inner = createMockPolicy((_p, i, rng) => `s${i} ${rng.next().toFixed(4)}`);
    const cached = withSampleCache(inner);
    const a = await cached.generate(request);
    const b = await cached.generate({ ...request });
    expect(inner.calls).toHaveLength(1);
    expect(b).toEqual(a);
    expect(cached.reused).toBe(1);
    // Another seed, n or prefix is another request; an unseeded request is never cached.
    await cached.generate({ ...request, seed: 6 });
    await cached.generate({ ...request, n: 2 });
    const { seed: _s, ...unseeded } = request;
    await cached.generate(unseeded);
    await cached.generate(unseeded);
    expect(inner.calls).toHaveLength(5);
    cached.clear();
    await cached.generate(request);
    expect(inner.calls).toHaveLength(6);
  });

  it('serves a request without log-probabilities from one with them, never the reverse', async () => {
    const inner = createMockPolicy(() => 'Answer: 2');
    const cached = withSampleCache(inner);
    await cached.generate(request);
    const withLp = await cached.generate({ ...request, logprobs: true });
    expect(inner.calls).toHaveLength(2);
    expect(withLp.completions[0]![0]!.logprobs).toBeDefined();
    const plain = await cached.generate(request);
    expect(inner.calls).toHaveLength(2);
    expect(plain.completions[0]![0]!.logprobs).toBeUndefined();
  });

  it('with logprobs: true draws every request with them, and hands them only to requests that asked', async () => {
    const inner = createMockPolicy(() => 'Answer: 2');
    const cached = withSampleCache(inner, { logprobs: true });
    const plain = await cached.generate(request);
    expect(inner.calls[0]!.request.logprobs).toBe(true);
    expect(plain.completions[0]![0]!.logprobs).toBeUndefined();
    const withLp = await cached.generate({ ...request, logprobs: true });
    expect(inner.calls).toHaveLength(1);
    expect(withLp.completions[0]![0]!.logprobs).toBeDefined();
  });

  it('draws once for two identical requests in flight, and a failed draw is not remembered', async () => {
    const inner = createMockPolicy(() => 'Answer: 2');
    const cached = withSampleCache(inner);
    await Promise.all([cached.generate(request), cached.generate(request)]);
    expect(inner.calls).toHaveLength(1);
    let fail = true;
    const flaky = withSampleCache({
      ...inner,
      generate: async (req) => {
        if (fail) throw new Error('server said 503');
        return inner.generate(req);
      },
    });
    await expect(flaky.generate(request)).rejects.toThrow('503');
    fail = false;
    await expect(flaky.generate(request)).resolves.toBeDefined();
  });
});

describe('runTable', () => {
  it('runs greedy once and the rest budget by budget, and returns rows in the order asked', () => {
    expect(tableCells(['best-of-n', 'greedy', 'majority'], [4, 16])).toEqual([
      { algo: 'greedy', budget: 1 },
      { algo: 'best-of-n', budget: 4 },
      { algo: 'majority', budget: 4 },
      { algo: 'best-of-n', budget: 16 },
      { algo: 'majority', budget: 16 },
    ]);
  });

  it('draws one set of samples per budget for best-of-n, majority and weighted-majority, with the rows of a table that draws each afresh', async () => {
    const algos = ['best-of-n', 'majority', 'weighted-majority', 'greedy'];
    const table = async (shareSamples: boolean) => {
      const world = toyWorld({ count: 8, reward: 'noisy' });
      const rows = await runTable({ task: world.task, policy: world.policy, reward: createNoisyPrm({ auc: 0.75 }), problems: world.problems, maxTokens: 64, seed: 0, algos, budgets: [4, 8], shareSamples });
      return { rows, calls: world.policy.calls.length };
    };
    const shared = await table(true);
    const fresh = await table(false);
    // 8 problems × (greedy + 2 budgets): a third of the 8 × (1 + 2 × 3) requests of the fresh table.
    expect(shared.calls).toBe(8 * 3);
    expect(fresh.calls).toBe(8 * 7);
    expect(shared.rows.map((r) => `${r.algo}@${r.budget}`)).toEqual(['best-of-n@4', 'best-of-n@8', 'majority@4', 'majority@8', 'weighted-majority@4', 'weighted-majority@8', 'greedy@1']);
    const strip = ({ wall_ms: _w, reused_calls: _r, ...rest }: (typeof shared.rows)[number]) => rest;
    expect(shared.rows.map(strip)).toEqual(fresh.rows.map(strip));
    expect(shared.rows.map((r) => r.reused_calls ?? 0)).toEqual([0, 0, 8, 8, 8, 8, 0]);
    expect(fresh.rows.every((r) => r.reused_calls === undefined)).toBe(true);
  });

  it('shares samples with a regularized best-of-N row listed after plain best-of-N (it reads log-probabilities)', async () => {
    const world = toyWorld({ count: 5, reward: 'noisy' });
    const rows = await runTable({ task: world.task, policy: world.policy, reward: createNoisyPrm(), problems: world.problems, maxTokens: 64, seed: 0, algos: ['best-of-n', 'best-of-n:kl=0.5'], budgets: [4] });
    expect(world.policy.calls).toHaveLength(5);
    expect(rows.map((r) => r.reused_calls ?? 0)).toEqual([0, 5]);
  });
});
