import { describe, expect, it } from 'vitest';
import { aggregate } from './reward.js';

describe('aggregate', () => {
  const s = [0.9, 0.5, 0.8];
  it('min, prod, last, mean as search-and-learn aggregate_scores', () => {
    expect(aggregate(s, 'min')).toBe(0.5);
    expect(aggregate(s, 'prod')).toBeCloseTo(0.36, 12);
    expect(aggregate(s, 'last')).toBe(0.8);
    expect(aggregate(s, 'mean')).toBeCloseTo(2.2 / 3, 12);
  });
  it('gives 0 for no steps and the score itself for one', () => {
    for (const how of ['min', 'prod', 'last', 'mean'] as const) {
      expect(aggregate([], how)).toBe(0);
      expect(aggregate([0.3], how)).toBeCloseTo(0.3, 12);
    }
  });
  it('orders: prod ≤ min ≤ mean for scores in [0, 1]', () => {
    expect(aggregate(s, 'prod')).toBeLessThanOrEqual(aggregate(s, 'min'));
    expect(aggregate(s, 'min')).toBeLessThanOrEqual(aggregate(s, 'mean'));
  });
});
