import { describe, expect, it } from 'vitest';
import type { Trajectory } from '../core/trajectory.js';
import { bestByScore, selectAnswer } from './select.js';

const t = (answer: string | null, score?: number): Trajectory => ({ text: '', steps: [], answer, finishReason: 'eos', outputTokens: 0, score });

describe('select', () => {
  const ts = [t('1', 0.5), t('2', 0.9), t(' 1', 0.3), t(null, 1), t('2', 0.2), t('1', 0.2)];
  it('best: the highest score, earliest on ties', () => {
    expect(bestByScore([t('a', 1), t('b', 1)])!.answer).toBe('a');
    expect(selectAnswer(ts, 'best').answer).toBeNull();
    expect(bestByScore([])).toBeNull();
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
