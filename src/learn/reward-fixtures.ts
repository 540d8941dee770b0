import type { Problem } from '../core/problem.js';
import { createMockPolicy, type MockPolicy } from '../policy/mock.js';
import type { Task } from '../tasks/task.js';

/**
 * A scripted policy for reward tests on arith problems: solutions are three steps
 * `Plan: add`, then `good step` (leads to the right answer) or `bad step` (to a wrong one),
 * then `Answer: N`. Sample i of a prompt takes the good path when i is even; a rollout after
 * `Plan: add` takes either path with probability ½. So the exact Monte-Carlo labels are:
 * good → 1, bad → 0, Plan → a fraction near ½, the answer step → the outcome.
 */
export function scriptedArithPolicy(task: Task, problems: readonly Problem[]): MockPolicy {
  const byPrompt = new Map(problems.map((p) => [task.formatPrompt(p), p]));
  const solve = (prefix: string): Problem => {
    for (const [prompt, p] of byPrompt) if (prefix.startsWith(prompt)) return p;
    throw new Error(`scripted policy: unknown prompt in ${JSON.stringify(prefix)}`);
  };
  return createMockPolicy((prefix, i, rng) => {
    const p = solve(prefix);
    const right = `Answer: ${p.answer}`;
    const wrong = `Answer: ${BigInt(p.answer) + 1n}`;
    if (byPrompt.has(prefix)) return i % 2 === 0 ? `Plan: add\ngood step\n${right}` : `Plan: add\nbad step\n${wrong}`;
    if (prefix.endsWith('Plan: add\n')) return rng.next() < 0.5 ? `good step\n${right}` : `bad step\n${wrong}`;
    if (prefix.endsWith('good step\n')) return right;
    if (prefix.endsWith('bad step\n')) return wrong;
    throw new Error(`scripted policy: unexpected prefix ${JSON.stringify(prefix)}`);
  });
}
