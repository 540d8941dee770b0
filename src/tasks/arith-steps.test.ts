import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { arithTask } from './arith.js';
import { firstWrongStep } from './arith-steps.js';

const task = arithTask({ ops: '+-*', maxDigits: 3 });
const lines = (t: string) => t.split('\n');

describe('arith step checks', () => {
  it('every step of every trace is right, self-corrections included (their injected slip excepted)', () => {
    const rng = new Rng(1);
    for (const p of task.problems('train', 300, 3)) {
      const steps = lines(task.trace(p, rng, { plan: 0.5, check: 0.5, correct: 0.5, alternatives: 0 }));
      const checks = task.checkSteps!(p, steps);
      steps.forEach((s, i) => {
        const injected = i + 1 < steps.length && steps[i + 1]!.endsWith('Correcting.');
        expect(checks[i], `${p.prompt}: ${s}`).toBe(!injected);
      });
    }
  });

  it('finds the first wrong column, the wrong answer and a skipped swap', () => {
    const p = { id: 'x', prompt: '47+85', answer: '132' };
    expect(task.checkSteps!(p, ['7+5=12 w2 c1', '4+8+1=13 w132', 'Answer: 132'])).toEqual([true, true, true]);
    expect(task.checkSteps!(p, ['7+5=12 w2 c1', '4+8+1=14 w142', 'Answer: 142'])).toEqual([true, false, false]);
    expect(task.checkSteps!(p, ['7+5=12 w2 c1', 'Answer: 132'])).toEqual([true, false]);
    expect(firstWrongStep(task.checkSteps!(p, ['Plan: add columns right to left', '7+5=13 w3 c1']))).toBe(1);
    const q = { id: 'y', prompt: '12-57', answer: '-45' };
    expect(task.checkSteps!(q, ['Swap: 57-12, negate', '7-2=5 w5', '5-1=4 w45', 'Answer: -45'])).toEqual([true, true, true, true]);
    expect(task.checkSteps!(q, ['7-2=5 w5', '5-1=4 w45', 'Answer: 45'])).toEqual([false, false, false]);
  });

  it('judges a correction line only right after a wrong step and only when it names that step', () => {
    const p = { id: 'x', prompt: '47+85', answer: '132' };
    expect(task.checkSteps!(p, ['7+5=13 w3 c1', 'Check: 7+5 is 12, not 13. Correcting.', '7+5=12 w2 c1'])).toEqual([false, true, true]);
    expect(task.checkSteps!(p, ['7+5=12 w2 c1', 'Check: 7+5 is 12, not 13. Correcting.'])).toEqual([true, false]);
    expect(task.checkSteps!(p, ['7+5=13 w3 c1', 'Check: 4+8 is 12, not 13. Correcting.'])).toEqual([false, false]);
  });
});
