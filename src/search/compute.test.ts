import { describe, expect, it } from 'vitest';
import { zeroCompute } from '../core/compute.js';
import { addPolicyUsage, addRewardUsage, Meter, remaining } from './compute.js';

describe('compute', () => {
  it('adds policy and reward usage into Compute', () => {
    const c = zeroCompute();
    addPolicyUsage(c, { promptTokens: 10, cachedPromptTokens: 4, outputTokens: 7, calls: 1 });
    addPolicyUsage(c, { promptTokens: 1, cachedPromptTokens: 0, outputTokens: 2, calls: 1 });
    addRewardUsage(c, { calls: 1, tokens: 30 });
    expect(c).toEqual({ promptTokens: 11, cachedPromptTokens: 4, outputTokens: 9, policyCalls: 2, rewardCalls: 1, rewardTokens: 30, wallMs: 0 });
  });

  it('says what is left of a budget', () => {
    const c = { ...zeroCompute(), outputTokens: 30 };
    expect(remaining({}, c)).toEqual({ outputTokens: Infinity, samples: Infinity });
    expect(remaining({ outputTokens: 100, samples: 4 }, c, 3)).toEqual({ outputTokens: 70, samples: 1 });
    expect(remaining({ outputTokens: 10 }, c)).toEqual({ outputTokens: 0, samples: Infinity });
  });

  it('caps per-sample tokens so the worst case fits, and fits whole samples first', () => {
    const m = new Meter({ outputTokens: 100, samples: 5 });
    expect(m.cap(4, 20)).toBe(20);
    expect(m.cap(8, 20)).toBe(12);
    expect(m.cap(200, 20)).toBe(0);
    expect(m.fit(8, 20)).toEqual({ count: 5, maxTokens: 20 });
    expect(m.fit(3, 64)).toEqual({ count: 1, maxTokens: 64 });
    m.policy({ promptTokens: 0, cachedPromptTokens: 0, outputTokens: 90, calls: 1 });
    expect(m.fit(3, 64)).toEqual({ count: 1, maxTokens: 10 });
    m.samples = 5;
    expect(m.fit(1, 64)).toEqual({ count: 0, maxTokens: 0 });
    expect(m.finish().wallMs).toBeGreaterThanOrEqual(0);
  });
});
