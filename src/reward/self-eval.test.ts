import { describe, expect, it } from 'vitest';
import type { Problem } from '../core/problem.js';
import { createMockPolicy } from '../policy/mock.js';
import type { LogprobsResult, Policy } from '../policy/policy.js';
import { emptyUsage } from '../policy/policy.js';
import type { RewardItem } from './reward.js';
import { createConfidenceReward, createSelfVerdictReward, isWorkStep, stepConfidences, verdictOf } from './self-eval.js';
import { resolveAggregation } from '../search/trajectories.js';

const problem: Problem = { id: 'p', prompt: '3+4*2', answer: '11' };
const item = (steps: string[], complete = true): RewardItem => ({ problem, prompt: 'Q: 3+4*2\n', steps, complete });

/** Is the last `a op b=c` line before the cue right? (What a policy that learned to check would sense.) */
function lastStepRight(prefix: string): boolean {
  const lines = prefix.split('\n');
  const m = /^(\d+)([-+*])(\d+)=(\d+)$/.exec(lines[lines.length - 2] ?? '');
  if (!m) return true;
  const [a, b, c] = [Number(m[1]), Number(m[3]), Number(m[4])];
  return (m[2] === '+' ? a + b : m[2] === '-' ? a - b : a * b) === c;
}

describe('verdictOf', () => {
  it('reads the verdicts the tasks write', () => {
    expect(verdictOf(' (7-3)*(12/2)=24 ok')).toBe(1);
    expect(verdictOf(' 12*2 is 24, not 25. Correcting.')).toBe(0);
    expect(verdictOf(' 12*2 is 2')).toBeNull();
  });
  it('knows work steps from commentary', () => {
    expect(['4*2=8', 'Plan: x', 'Check: ok', 'Answer: 11', 'back'].map(isWorkStep)).toEqual([true, false, false, false, false]);
  });
});

describe('self-verdict reward', () => {
  // Right steps get `ok` 3 times in 4, wrong steps once in 4: a noisy but informative self-check.
  const policy = createMockPolicy((prefix, i) => (lastStepRight(prefix) === i < 3 ? ' 4*2=8 ok\n' : ' 4*2 is 8, not 9. Correcting.\n'));

  it('scores each work step by the share of ok verdicts, and ranks a wrong step below a right one', async () => {
    const reward = createSelfVerdictReward(policy, '\n', { samples: 4 });
    expect(resolveAggregation('reward', reward)).toBe('min');
    expect(reward.kind).toBe('process');
    expect(reward.oracle).toBe(false);
    const { scores, usage } = await reward.score([item(['4*2=8', '3+8=11', 'Answer: 11']), item(['4*2=9', '3+9=12', 'Answer: 12'])]);
    expect(scores[0]!.stepScores).toEqual([0.75, 0.75, 0.75]);
    expect(scores[1]!.stepScores).toEqual([0.25, 0.75, 0.75]);
    expect(scores[0]!.score).toBeGreaterThan(scores[1]!.score);
    // One batched call; 4 work steps × 4 samples of generated verdicts counted as reward tokens.
    expect(usage.calls).toBe(1);
    const call = policy.calls.at(-1)!;
    expect(call.request.prefixes).toHaveLength(4);
    expect(call.request.prefixes[0]).toBe('Q: 3+4*2\n4*2=8\nCheck:');
    expect(usage.tokens).toBe(call.result.usage.promptTokens + call.result.usage.outputTokens);
  });

  it('spends nothing on items without work steps', async () => {
    const reward = createSelfVerdictReward(policy, '\n');
    const before = policy.calls.length;
    const { scores, usage } = await reward.score([item(['Answer: 11'])]);
    expect(scores[0]).toEqual({ score: 1, stepScores: [1] });
    expect(usage).toEqual({ calls: 0, tokens: 0 });
    expect(policy.calls.length).toBe(before);
  });

  it('rejects a bad sample count', () => {
    expect(() => createSelfVerdictReward(policy, '\n', { samples: 0 })).toThrow(/samples must be a positive integer/);
  });
});

describe('confidence reward', () => {
  // Character-level log-probabilities: digits of a wrong result are unlikely, everything else likely.
  const policy: Policy = {
    id: 'scripted-lp',
    contextLength: 256,
    countTokens: (t) => t.length,
    generate: () => Promise.reject(new Error('unused')),
    async logprobsOf(items): Promise<LogprobsResult[]> {
      return items.map(({ prefix, continuation }) => {
        // Every character of a line with wrong arithmetic is unlikely (the delimiter before it too).
        const lps = continuation.split('\n').flatMap((line, k) => {
          const p = lastStepRight(`${line}\n`) ? Math.log(0.9) : Math.log(0.1);
          return new Array<number>(line.length + (k > 0 ? 1 : 0)).fill(p);
        });
        return { logprobs: lps, usage: { ...emptyUsage(), promptTokens: prefix.length, calls: 1 } };
      });
    },
  };

  it('gives each step exp(mean log-probability) and ranks the unlikely step lowest', async () => {
    const reward = createConfidenceReward(policy, '\n');
    expect(reward.oracle).toBe(false);
    // A search re-aggregates step scores with the reward's own choice: min, not the fallback 'last'.
    expect(resolveAggregation('reward', reward)).toBe('min');
    const { scores, usage } = await reward.score([item(['4*2=8', '3+8=11', 'Answer: 11']), item(['4*2=9', '3+9=12', 'Answer: 12'])]);
    const [right, wrong] = scores.map((s) => s.stepScores!);
    expect(right!.every((s) => Math.abs(s - 0.9) < 1e-9)).toBe(true);
    expect(wrong![0]).toBeCloseTo(0.1, 9);
    expect(wrong![1]).toBeCloseTo(0.9, 9);
    expect(scores[1]!.score).toBeLessThan(scores[0]!.score);
    expect(usage.tokens).toBe(2 * 'Q: 3+4*2\n'.length + '4*2=8\n3+8=11\nAnswer: 11'.length + '4*2=9\n3+9=12\nAnswer: 12'.length);
  });

  it('splits token log-probabilities at step boundaries, the delimiter going with the next step', () => {
    const lps = [0, 0, Math.log(0.5), Math.log(0.5), Math.log(0.25)];
    expect(stepConfidences({ countTokens: (t) => t.length }, ['ab', 'cd'], '\n', lps)).toEqual([1, Math.exp((2 * Math.log(0.5) + Math.log(0.25)) / 3)]);
  });

  it('needs a policy that scores given text', () => {
    expect(() => createConfidenceReward(createMockPolicy('x'), '\n')).toThrow(/logprobsOf/);
  });
});
