import { describe, expect, it } from 'vitest';
import { createMockPolicy } from '../policy/mock.js';
import { createNoisyPrm, toyWorld } from '../search/testing.js';
import type { RewardItem, RewardModel } from '../reward/reward.js';
import { withSampleCache } from './sample-cache.js';
import { withScoreCache } from './score-cache.js';
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

describe('withScoreCache', () => {
  const problem = { id: 'p', prompt: 'Q', answer: '2' };
  const items: RewardItem[] = [
    { problem, prompt: 'Q\n', steps: ['1+1=2', 'Answer: 2'], complete: true },
    { problem, prompt: 'Q\n', steps: ['1+1=3'], complete: false },
  ];

  it('answers a repeated call from the cache, with the usage measured then, in fresh copies; other items compute', async () => {
    let calls = 0;
    const inner: RewardModel = { id: 'prm', kind: 'process', aggregation: 'min', oracle: false, score: async (xs) => (calls++, { scores: xs.map((x) => ({ score: x.steps.length / 4, stepScores: x.steps.map(() => 0.5) })), usage: { calls: 1, tokens: 7 } }) };
    const cached = withScoreCache(inner);
    expect({ id: cached.id, kind: cached.kind, aggregation: cached.aggregation, oracle: cached.oracle }).toEqual({ id: 'prm', kind: 'process', aggregation: 'min', oracle: false });
    const a = await cached.score(items);
    a.scores[0]!.stepScores![0] = 99;
    const b = await cached.score(items.map((x) => ({ ...x })));
    expect(calls).toBe(1);
    expect(cached.reused).toBe(1);
    expect(b.scores[0]!.stepScores).toEqual([0.5, 0.5]);
    expect(b.usage).toEqual({ calls: 1, tokens: 7 });
    await cached.score([items[0]!]);
    await cached.score([{ ...items[1]!, complete: true }, items[0]!]);
    expect(calls).toBe(3);
    cached.clear();
    await cached.score(items);
    expect(calls).toBe(4);
  });

  it('computes once for two identical calls in flight, and a failed call is not remembered', async () => {
    let fail = true;
    let calls = 0;
    const inner: RewardModel = { id: 'r', kind: 'outcome', score: async (xs) => { calls++; if (fail) throw new Error('reward server said 503'); return { scores: xs.map(() => ({ score: 1 })), usage: { calls: 1, tokens: 1 } }; } };
    const cached = withScoreCache(inner);
    await expect(cached.score(items)).rejects.toThrow('503');
    fail = false;
    await Promise.all([cached.score(items), cached.score(items)]);
    expect(calls).toBe(2);
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
      const prm = createNoisyPrm({ auc: 0.75 });
      let scored = 0;
      const reward: RewardModel = { ...prm, score: (items) => (scored++, prm.score(items)) };
      const rows = await runTable({ task: world.task, policy: world.policy, reward, problems: world.problems, maxTokens: 64, seed: 0, algos, budgets: [4, 8], shareSamples });
      return { rows, calls: world.policy.calls.length, scored };
    };
    const shared = await table(true);
    const fresh = await table(false);
    // 8 problems × (greedy + 2 budgets): a third of the 8 × (1 + 2 × 3) requests of the fresh table.
    expect(shared.calls).toBe(8 * 3);
    expect(fresh.calls).toBe(8 * 7);
    expect(shared.rows.map((r) => `${r.algo}@${r.budget}`)).toEqual(['best-of-n@4', 'best-of-n@8', 'majority@4', 'majority@8', 'weighted-majority@4', 'weighted-majority@8', 'greedy@1']);
    const strip = ({ wall_ms: _w, reused_calls: _r, reused_reward_calls: _s, ...rest }: (typeof shared.rows)[number]) => rest;
    // Same rows, reward tokens and calls included: a served score counts as computed.
    expect(shared.rows.map(strip)).toEqual(fresh.rows.map(strip));
    expect(shared.rows.map((r) => r.reused_calls ?? 0)).toEqual([0, 0, 8, 8, 8, 8, 0]);
    expect(fresh.rows.every((r) => r.reused_calls === undefined && r.reused_reward_calls === undefined)).toBe(true);
    // weighted-majority reads the scores best-of-n computed for the same samples.
    expect(shared.rows.map((r) => r.reused_reward_calls ?? 0)).toEqual([0, 0, 0, 0, 8, 8, 0]);
    expect(shared.scored).toBe(2 * 8);
    expect(fresh.scored).toBe(4 * 8);
  });

  it('shares samples with a regularized best-of-N row listed after plain best-of-N (it reads log-probabilities)', async () => {
    const world = toyWorld({ count: 5, reward: 'noisy' });
    const rows = await runTable({ task: world.task, policy: world.policy, reward: createNoisyPrm(), problems: world.problems, maxTokens: 64, seed: 0, algos: ['best-of-n', 'best-of-n:kl=0.5'], budgets: [4] });
    expect(world.policy.calls).toHaveLength(5);
    expect(rows.map((r) => r.reused_calls ?? 0)).toEqual([0, 5]);
  });
});
