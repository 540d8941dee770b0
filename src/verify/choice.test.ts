import { describe, it, expect } from 'vitest';
import { extractChoice, goldChoice } from './choice.js';
import { verify } from './verify.js';

describe('goldChoice', () => {
  it('reads a letter alone or with its option text', () => {
    expect(goldChoice('C')).toEqual({ letter: 'C', text: null });
    expect(goldChoice('(B)')).toEqual({ letter: 'B', text: null });
    expect(goldChoice('\\text{(E)}')).toEqual({ letter: 'E', text: null });
    expect(goldChoice('(D) Alina')).toEqual({ letter: 'D', text: 'Alina' });
    expect(goldChoice('C Cecile')).toEqual({ letter: 'C', text: 'Cecile' });
  });
  it('leaves math and prose alone', () => {
    for (const g of ['x', 'e', 'A:B=1', 'A farmer has 3 cows', 'D = (0,1)', '12', '\\frac{1}{2}']) expect(goldChoice(g), g).toBeNull();
  });
});

describe('extractChoice', () => {
  const cases: [string, string | null][] = [
    ['so the answer is $\\boxed{B}$', 'B'],
    ['I think the answer is C, not A.', 'C'],
    ['Answer: (D)', 'D'],
    ['A. The rest are too large.', 'A'],
    ['B。 不是 A', 'B'],
    ['Checking:\n(A) fails\nC works', 'C'],
    ['It cannot be A, so it must be B', 'B'],
    ['nothing here', null],
  ];
  for (const [text, want] of cases) it(JSON.stringify(text), () => expect(extractChoice(text, 'ABCD')).toBe(want));

  it('matches an option by its text when the options are given', () => {
    expect(extractChoice('The answer is \\boxed{Paris}', 'ABCD', ['London', 'Paris', 'Rome', 'Berlin'])).toBe('B');
    expect(verify('B', 'I am sure it is Rome.', { choices: ['London', 'Paris', 'Rome', 'Berlin'] }).correct).toBe(false);
    expect(verify('C', 'The answer is \\boxed{Rome}', { choices: ['London', 'Paris', 'Rome', 'Berlin'] }).correct).toBe(true);
  });

  it('a gold with its option text accepts that text', () => {
    expect(verify('(D) Alina', 'The fastest runner is \\boxed{Alina}.').correct).toBe(true);
    expect(verify('(D) Alina', 'The fastest runner is \\boxed{Cecile}.').correct).toBe(false);
  });
});
