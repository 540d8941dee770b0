import { describe, expect, it } from 'vitest';
import { createMockPolicy } from '../policy/mock.js';
import type { Trajectory } from '../core/trajectory.js';
import type { GenerateRequest } from '../policy/policy.js';
import type { RewardModel } from '../reward/reward.js';
import { bestOfN, defaultBestOfNConfig, type BestOfNConfig } from './best-of-n.js';
import { parseSearchSpec } from './registry.js';
import { regularizedBest } from './select.js';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { accuracy, createToyPrm, createToyTask, recordReward, toyGoldOf, toyWorld } from './testing.js';
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

// Reward hacking (the roadmap's inverse scaling): on every problem the policy answers right 45%
// of the time, a common wrong answer 50%, and a rare wrong answer 5% of the time that it writes
// with low probability and that an imperfect reward scores above everything. Plain best-of-N
// meets the rare answer more often as N grows; regularized best-of-N must not.
describe('regularized best-of-n (Jinnai et al. 2025)', () => {
  const task = createToyTask({ steps: 1 });
  const problems = task.problems('test', 150, 11);
  const policy = () =>
    createMockPolicy((prefix, _i, rng) => {
      const gold = toyGoldOf(prefix);
      const u = rng.next();
      // Solutions differ in their working (a tag here), so one answer's samples score differently.
      const tag = `Try ${rng.int(0, 999)}.`;
      if (u < 0.45) return { text: `${tag} Answer: ${gold}`, tokenLogprob: -0.02 };
      if (u < 0.95) return { text: `${tag} Answer: ${gold + 1}`, tokenLogprob: -0.03 };
      return { text: `${tag} Answer: ${gold + 7}`, tokenLogprob: -0.8 };
    });
  // Noisy scores: right U(0.4, 0.9), the common mistake U(0.2, 0.7) (a within-problem AUC near 0.8), the rare one U(0.85, 1).
  const reward: RewardModel = {
    id: 'hackable',
    kind: 'outcome',
    async score(items) {
      return {
        scores: items.map((it) => {
          const text = it.steps.join('\n');
          const u = new Rng(text + it.problem.id + it.steps.length).next();
          const got = Number(/Answer: (-?\d+)/.exec(text)?.[1]);
          const gold = Number(it.problem.answer);
          return { score: got === gold ? 0.4 + 0.5 * u : got === gold + 1 ? 0.2 + 0.5 * u : 0.85 + 0.15 * u };
        }),
        usage: { calls: 1, tokens: 0 },
      };
    },
  };
  const accuracyAt = async (n: number, extra: Partial<BestOfNConfig>): Promise<number> => {
    let right = 0;
    for (const p of problems) {
      const r = await bestOfN(p, { task, policy: policy(), reward, rng: new Rng(`rbon/${p.id}`), budget: {}, maxTokens: 20 }, { ...defaultBestOfNConfig, n, ...extra });
      if (r.answer === p.answer) right++;
    }
    return right / problems.length;
  };

  it('holds as N grows where plain best-of-N falls', async () => {
    const plain4 = await accuracyAt(4, {});
    const plain64 = await accuracyAt(64, {});
    expect(plain64).toBeLessThan(plain4 - 0.2);
    for (const extra of [{ kl: 0.5 }, { mbr: 0.5 }]) {
      const at4 = await accuracyAt(4, extra);
      const at64 = await accuracyAt(64, extra);
      expect(at64).toBeGreaterThanOrEqual(at4 - 0.03);
      expect(at64).toBeGreaterThan(plain64 + 0.4);
    }
  });

  it('asks the policy for log-probabilities only for kl, and says so when a policy gives none', async () => {
    const p = problems[0]!;
    const pol = policy();
    await bestOfN(p, { task, policy: pol, reward, rng: new Rng('x'), budget: {}, maxTokens: 20 }, { ...defaultBestOfNConfig, n: 4, mbr: 1 });
    expect(pol.calls[0]!.request.logprobs).toBeUndefined();
    await bestOfN(p, { task, policy: pol, reward, rng: new Rng('x'), budget: {}, maxTokens: 20 }, { ...defaultBestOfNConfig, n: 4, kl: 1 });
    expect(pol.calls[1]!.request.logprobs).toBe(true);
    const silent = { ...pol, generate: async (req: GenerateRequest) => { const r = await pol.generate(req); return { ...r, completions: r.completions.map((cs) => cs.map(({ logprobs: _drop, ...c }) => c)) }; } };
    await expect(bestOfN(p, { task, policy: silent, reward, rng: new Rng('x'), budget: {}, maxTokens: 20 }, { ...defaultBestOfNConfig, n: 4, kl: 1 })).rejects.toThrow(/kl needs the log-probabilities/);
  });

  it('ranks by reward + kl·log π + mbr·answer share, finished solutions only', () => {
    const t = (answer: string | null, score: number, logprob: number, finishReason: 'eos' | 'length' = 'eos'): Trajectory => ({ text: '', steps: [], answer, finishReason, outputTokens: 1, score, logprob });
    const ts = [t('1', 0.9, -20), t('2', 0.6, -2), t('2', 0.5, -1.5), t('3', 0.99, -0.1, 'length')];
    expect(regularizedBest(ts, { kl: 0, mbr: 0 }).best).toBe(ts[0]);
    expect(regularizedBest(ts, { kl: 0.1, mbr: 0 }).best).toBe(ts[1]); // 0.9−2 < 0.6−0.2 < … and the cut sample never wins
    expect(regularizedBest(ts, { kl: 0, mbr: 1 }).best).toBe(ts[1]); // 0.9+1/3 < 0.6+2/3
    expect(regularizedBest(ts, { kl: 1, mbr: 0 }).best).toBe(ts[2]);
    expect(regularizedBest([t(null, 1, 0)], { kl: 1, mbr: 1 })).toEqual({ answer: null, best: null });
  });

  it('checks its betas when a spec is parsed', () => {
    expect(parseSearchSpec('best-of-n:kl=0.1:mbr=0.5').options).toEqual({ kl: 0.1, mbr: 0.5 });
    expect(() => parseSearchSpec('best-of-n:kl=-1')).toThrow('search best-of-n:kl=-1: kl must be a finite number >= 0, got -1');
    expect(() => parseSearchSpec('best-of-n:mbr=1:select=majority')).toThrow('kl and mbr regularize select=best, got select=majority');
  });

  it('checks its betas when called as a library function', async () => {
    const world = toyWorld({ count: 1 });
    await expect(bestOfN(world.problems[0]!, world.context(1), { ...defaultBestOfNConfig, n: 4, kl: -1 })).rejects.toThrow('best-of-n: kl must be a finite number >= 0, got -1');
    expect(world.policy.calls).toHaveLength(0);
  });
});
