import { describe, expect, it } from 'vitest';
import { createToyPolicy, createToyTask } from '../search/testing.js';
import { evaluateLevels } from './evaluate.js';

describe('evaluateLevels', () => {
  it('scores greedy accuracy on every problem and pass@k and the vote on the first sampledProblems only', async () => {
    const task = createToyTask({ steps: 2 });
    const problems = task.problems('test', 5, 3);
    const config = { samples: 4, passK: [1, 4], temperature: 0.8, voteN: 4, maxTokens: 64 };
    // A policy that writes every step right: each rate is 1 exactly when it divides by the problems it drew on.
    const right = await evaluateLevels(createToyPolicy({ p: 1 }), [{ name: 'l', task, problems, sampledProblems: 3 }], config, 0);
    expect(right['l']).toMatchObject({ greedy: 1, pass: { 1: 1, 4: 1 }, vote: 1, problems: 5, sampledProblems: 3 });
    // Sampled on all of them: no sampledProblems field, and a policy that errs scores below 1.
    const wrong = await evaluateLevels(createToyPolicy({ p: 0.5 }), [{ name: 'l', task, problems }], config, 0);
    expect(wrong['l']!.sampledProblems).toBeUndefined();
    expect(wrong['l']!.pass[1]).toBeLessThan(1);
  });

  it('the test-time search is a majority vote, or best-of-N by the checker where the checker needs no gold answer', async () => {
    const toy = createToyTask({ steps: 2 });
    const problems = toy.problems('test', 40, 3);
    const config = { samples: 4, passK: [1, 4], temperature: 0.8, voteN: 4, maxTokens: 64 };
    const policy = createToyPolicy({ p: 0.5 });
    const voted = (await evaluateLevels(policy, [{ name: 'l', task: toy, problems }], config, 0))['l']!;
    expect(voted.search).toBe('majority');
    // Named as Countdown, whose verifier reads only the numbers and the target, the same samples go to the checker.
    const checked = (await evaluateLevels(policy, [{ name: 'l', task: { ...toy, name: 'countdown' }, problems }], config, 0))['l']!;
    expect(checked.search).toBe('checker');
    // Best-of-4 by an exact checker solves a problem when any of its 4 samples is right: pass@4 (k = n).
    expect(checked.vote).toBeCloseTo(checked.pass[4]!, 12);
    expect(voted.pass[4]).toBeCloseTo(checked.pass[4]!, 12);
    expect(voted.vote!).toBeLessThan(checked.vote!);
  });
});
