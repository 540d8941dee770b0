import { describe, it, expect } from 'vitest';
import { isEquivalent } from './equivalence.js';
import { relationAsInterval } from './relation.js';
import { parseShape } from './structure.js';

describe('relations', () => {
  it('turns one-variable relations into intervals', () => {
    const interval = (s: string) => {
      const r = parseShape(s);
      return r.kind === 'relation' ? relationAsInterval(r.sides, r.ops) : null;
    };
    expect(interval('1 < x <= 3')).toMatchObject({ kind: 'seq', open: '(', close: ']' });
    expect(interval('x >= 5')).toMatchObject({ kind: 'seq', open: '[', close: ')' });
    expect(interval('x < y')).toBeNull();
  });
  it('compares in both directions and after moving terms', () => {
    expect(isEquivalent('x \\geq 5', '5 \\leq x')).toBe(true);
    expect(isEquivalent('x < 1', '-x > -1')).toBe(true);
    expect(isEquivalent('2x + 4 < 10', 'x < 3')).toBe(true);
    expect(isEquivalent('x \\geq 5', 'x \\leq 5')).toBe(false);
    expect(isEquivalent('x < 1', 'x > -1')).toBe(false);
    expect(isEquivalent('x < 1', 'x \\le 1')).toBe(false);
  });
  it('lets a gold relation match the set it defines, and not the other way by default', () => {
    expect(isEquivalent('-2 \\le x \\le 7', '[-2,7]')).toBe(true);
    expect(isEquivalent('[-2,7]', '-2 \\le x \\le 7')).toBe(false);
    expect(isEquivalent('[-2,7]', '-2 \\le x \\le 7', { allowSetRelation: true })).toBe(true);
  });
});
