import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { parseBehaviours } from './behaviours.js';
import { countdownTask } from './countdown.js';

const lines = (t: string) => t.split('\n');
const problem = (numbers: number[], target: number) => ({ id: 'x', prompt: `make ${target} from ${numbers.join(' ')}`, answer: String(target) });

describe('countdown step checks', () => {
  it('every line of every trace is right (dead ends and self-corrections included, their injected slip excepted), in both formats', () => {
    const rng = new Rng(2);
    for (const format of ['state', 'plain'] as const) {
      for (const numbers of [3, 4]) {
        const task = countdownTask({ numbers, format });
        for (const p of task.problems('train', 150, 5)) {
          const steps = lines(task.trace(p, rng, parseBehaviours('plan=0.5,check=0.5,correct=0.5,alternatives')));
          const checks = task.checkSteps!(p, steps);
          steps.forEach((s, i) => {
            const injected = i + 1 < steps.length && steps[i + 1]!.endsWith('Correcting.');
            expect(checks[i], `${format} ${p.prompt}: ${s}\n${steps.join('\n')}`).toBe(!injected);
          });
        }
      }
    }
  });

  it('finds illegal moves: wrong arithmetic, a number not left, a wrong state, a non-integer, and a wrong answer', () => {
    const task = countdownTask();
    const p = problem([3, 7, 12], 48);
    const check = (...xs: string[]) => task.checkSteps!(p, xs);
    expect(check('7-3=4 (12 4)', '12*4=48 (48)', 'Answer: 48')).toEqual([true, true, true]);
    expect(check('7-3=5 (12 5)', '12*5=60 (60)', 'Answer: 60')).toEqual([false, false, false]);
    expect(check('7-3=4 (12 4)', '7+4=11 (12 11)')).toEqual([true, false]);
    expect(check('7-3=4 (12 7)')).toEqual([false]);
    expect(check('7/3=2 (12 2)')).toEqual([false]);
    expect(check('7-3=4 (12 4)', '12-4=8 (8)', 'Answer: 48')).toEqual([true, true, false]);
    expect(check('twelve times four')).toEqual([false]);
  });

  it('a dead end is legal, and `back` starts again from the problem numbers (a legal move may lead nowhere)', () => {
    const task = countdownTask();
    const p = problem([3, 7, 12], 48);
    expect(task.checkSteps!(p, ['12+7=19 (3 19)', '19+3=22 (22)', 'back', '7-3=4 (12 4)', '12*4=48 (48)', 'Answer: 48'])).toEqual([true, true, true, true, true, true]);
    // Without the `back`, the numbers of the dead end are gone.
    expect(task.checkSteps!(p, ['12+7=19 (3 19)', '19+3=22 (22)', '7-3=4 (12 4)'])).toEqual([true, true, false]);
  });

  it('judges a correction only right after the wrong step it names, and takes that step back', () => {
    const task = countdownTask();
    const p = problem([3, 7, 12], 48);
    expect(task.checkSteps!(p, ['7-3=5 (12 5)', 'Check: 7-3 is 4, not 5. Correcting.', '7-3=4 (12 4)', '12*4=48 (48)', 'Answer: 48'])).toEqual([false, true, true, true, true]);
    expect(task.checkSteps!(p, ['7-3=4 (12 4)', 'Check: 7-3 is 4, not 5. Correcting.'])).toEqual([true, false]);
    expect(task.checkSteps!(p, ['7-3=5 (12 5)', 'Check: 12-3 is 9, not 5. Correcting.'])).toEqual([false, false]);
    expect(task.checkSteps!(p, ['7-3=5 (12 5)', 'Check: 7-3 is 6, not 5. Correcting.'])).toEqual([false, false]);
  });

  it('the step-check reward is a deployable checker on countdown (no gold answer) and an oracle on arith', async () => {
    const { createStepCheckReward } = await import('../reward/step-check.js');
    const { arithTask } = await import('./arith.js');
    expect(createStepCheckReward(countdownTask()).oracle).toBe(false);
    expect(createStepCheckReward(arithTask()).oracle).toBe(true);
  });
});
