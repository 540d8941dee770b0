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
});
