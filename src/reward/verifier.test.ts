import { describe, expect, it } from 'vitest';
import { createToyTask } from '../search/testing.js';
import { createVerifierReward } from './verifier.js';

describe('createVerifierReward', () => {
  const task = createToyTask();
  const [problem] = task.problems('test', 1, 1);
  const reward = createVerifierReward(task);
  const item = (steps: string[], complete = true) => ({ problem: problem!, prompt: task.formatPrompt(problem!), steps, complete });

  it('is an outcome reward scoring 1 for a right answer and 0 otherwise', async () => {
    expect(reward.kind).toBe('outcome');
    const res = await reward.score([item([`Answer: ${problem!.answer}`]), item(['Answer: -1']), item(['no answer']), item([`Answer: ${problem!.answer}`], false)]);
    expect(res.scores.map((s) => s.score)).toEqual([1, 0, 0, 0]);
    expect(res.scores.every((s) => s.stepScores === undefined)).toBe(true);
    expect(res.usage).toEqual({ calls: 1, tokens: 0 });
  });

  it('joins steps with the task delimiter before verifying', async () => {
    const res = await reward.score([item(['1+1=2', `Answer: ${problem!.answer}`])]);
    expect(res.scores[0]!.score).toBe(1);
  });

  it('is an oracle when the verifier reads the gold answer, deployable for gold-free checkers', () => {
    expect(reward.oracle).toBe(true);
    expect(createVerifierReward({ ...task, name: 'arith' }).oracle).toBe(true);
    expect(createVerifierReward({ ...task, name: 'countdown' }).oracle).toBe(false);
  });

  it('costs nothing for an empty batch', async () => {
    expect(await reward.score([])).toEqual({ scores: [], usage: { calls: 0, tokens: 0 } });
  });
});
