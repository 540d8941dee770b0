import { describe, expect, it } from 'vitest';
import type { Trajectory } from '../core/trajectory.js';
import { bestByScore, selectAnswer } from './select.js';

const t = (answer: string | null, score?: number): Trajectory => ({ text: '', steps: [], answer, finishReason: 'eos', outputTokens: 0, score });

describe('select', () => {
  const ts = [t('1', 0.5), t('2', 0.9), t(' 1', 0.3), t(null, 1), t('2', 0.2), t('1', 0.2)];
  it('best: the highest score, earliest on ties', () => {
    expect(bestByScore([t('a', 1), t('b', 1)])!.answer).toBe('a');
    expect(bestByScore([])).toBeNull();
  });
  it('a trajectory without an answer, or cut at the length limit, never wins', () => {
    // t(null, 1) scores highest but has no answer: the best finished solution wins instead.
    expect(selectAnswer(ts, 'best').answer).toBe('2');
    const cut: Trajectory = { ...t('9', 5), finishReason: 'length' };
    expect(selectAnswer([cut, t('3', 0.1)], 'best').answer).toBe('3');
    expect(selectAnswer([cut, cut, t('3', 0.1)], 'majority').answer).toBe('3');
    expect(selectAnswer([cut, t('3', 0.1)], 'weighted').answer).toBe('3');
    expect(selectAnswer([t(null, 1), cut], 'best')).toEqual({ answer: null, best: null });
    expect(selectAnswer([t(null, 1), cut], 'majority')).toEqual({ answer: null, best: null });
  });
  it('majority: most frequent canonical answer, answerless samples do not vote', () => {
    const c = selectAnswer(ts, 'majority');
    expect(c.answer).toBe('1');
    expect(c.best).toBe(ts[0]);
  });
  it('weighted: the largest sum of scores', () => {
    expect(selectAnswer(ts, 'weighted').answer).toBe('2');
    expect(selectAnswer(ts, 'weighted').best).toBe(ts[1]);
  });
  it('ties go to the answer seen first', () => {
    expect(selectAnswer([t('x', 1), t('y', 1)], 'majority').answer).toBe('x');
    expect(selectAnswer([t('y', 1), t('x', 1)], 'weighted').answer).toBe('y');
  });
});
