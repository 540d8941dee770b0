import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { BuiltinPolicy } from '../policy/builtin.js';
import { createMockPolicy } from '../policy/mock.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { createJudge } from './judge.js';
import type { RewardItem } from './reward.js';

const dir = mkdtempSync(join(tmpdir(), 'searchlearn-judge-'));
writeTinyCheckpoint(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const item = (text: string, complete = true): RewardItem => ({ problem: { id: 'p', prompt: '1+2', answer: '3' }, prompt: 'Q: 1+2\n', steps: [text], complete });
const template = (it: RewardItem, solution: string): string => `Q: ${it.problem.prompt}\nA: ${solution}\nok: `;

it('logprob mode: P(Yes) / (P(Yes) + P(No)) from the judge model; unfinished solutions cost nothing', async () => {
  const policy = BuiltinPolicy.load(dir);
  const judge = createJudge(policy, { template, yes: 'Yes', no: 'No' });
  const r = await judge.score([item('Answer: 3'), item('Answer: 4', false)]);
  const [y, n] = await policy.logprobsOf([{ prefix: 'Q: 1+2\nA: Answer: 3\nok: ', continuation: 'Yes' }, { prefix: 'Q: 1+2\nA: Answer: 3\nok: ', continuation: 'No' }]);
  const sy = y!.logprobs.reduce((a, b) => a + b, 0);
  const sn = n!.logprobs.reduce((a, b) => a + b, 0);
  expect(r.scores[0]!.score).toBeCloseTo(Math.exp(sy) / (Math.exp(sy) + Math.exp(sn)), 10);
  expect(r.scores[1]!.score).toBe(0);
  expect(r.usage.calls).toBe(2);
});

it('sample mode: the share of sampled verdicts that say yes', async () => {
  // A scripted judge: says Yes to "3" four times in five, No otherwise.
  const policy = createMockPolicy((prefix, i) => (prefix.includes('Answer: 3') && i < 4 ? ' Yes' : ' No'));
  const judge = createJudge(policy, { mode: 'sample', samples: 5 });
  const r = await judge.score([item('Answer: 3'), item('Answer: 5')]);
  expect(r.scores.map((s) => s.score)).toEqual([0.8, 0]);
  expect(r.usage.calls).toBe(1);
  expect(r.usage.tokens).toBe(policy.usage.promptTokens + policy.usage.outputTokens);
  expect(policy.calls[0]!.request.n).toBe(5);
});
