import { describe, expect, it } from 'vitest';
import { formatBehaviours, parseBehaviours } from './behaviours.js';
import { noBehaviours } from './task.js';

describe('parseBehaviours', () => {
  it('reads names, rates and none', () => {
    expect(parseBehaviours('plan,check,correct,alternatives')).toEqual({ plan: 1, check: 1, correct: 1, alternatives: 1 });
    expect(parseBehaviours('none')).toEqual(noBehaviours);
    expect(parseBehaviours('plan=0.5,correct=0.2')).toEqual({ plan: 0.5, check: 0, correct: 0.2, alternatives: 0 });
    expect(parseBehaviours(' check , alternatives=0 ')).toEqual({ plan: 0, check: 1, correct: 0, alternatives: 0 });
  });

  it('returns the defaults for "default" and the empty spec', () => {
    const d = { plan: 0.1, check: 0.2, correct: 0.3, alternatives: 0.4 };
    expect(parseBehaviours('default', d)).toEqual(d);
    expect(parseBehaviours('', d)).toEqual(d);
  });

  it('names a bad behaviour and the valid ones', () => {
    expect(() => parseBehaviours('plan,backtrack')).toThrow(/unknown behaviour "backtrack".*plan, check, correct, alternatives/);
  });

  it('rejects rates outside [0, 1] or not numbers', () => {
    expect(() => parseBehaviours('plan=1.5')).toThrow(/plan.*\[0, 1\]/);
    expect(() => parseBehaviours('check=x')).toThrow(/check.*\[0, 1\]/);
    expect(() => parseBehaviours('check=')).toThrow(/check/);
  });

  it('round-trips through formatBehaviours', () => {
    for (const spec of ['none', 'plan', 'plan=0.5,correct=0.2', 'plan,check,correct,alternatives']) {
      expect(formatBehaviours(parseBehaviours(spec))).toBe(spec);
    }
  });
});
