import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { BuiltinPolicy } from '../policy/builtin.js';
import { createMockPolicy } from '../policy/mock.js';
import { createOpenAIPolicy } from '../policy/openai.js';
import { builtinBackend } from '../serve/batcher.js';
import { startServer } from '../serve/server.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { createLogprobPrm, mathShepherdFormat, rlhflowFormat } from './logprob-prm.js';
import type { RewardItem } from './reward.js';
import { resolveAggregation } from '../search/trajectories.js';

const dir = mkdtempSync(join(tmpdir(), 'searchlearn-lpprm-'));
writeTinyCheckpoint(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const item = (steps: string[]): RewardItem => ({ problem: { id: 'p', prompt: '1+2', answer: '3' }, prompt: 'Q: 1+2\n', steps, complete: true });
const format = (it: RewardItem, k: number): string => `${it.prompt}${it.steps.slice(0, k + 1).join('\n')}\n`;

it('reads P(+) / (P(+) + P(-)) after each step from the policy, and counts the calls', async () => {
  const policy = BuiltinPolicy.load(dir);
  const prm = createLogprobPrm(policy, { format, aggregation: 'prod' });
  expect(resolveAggregation('reward', prm)).toBe('prod');
  const items = [item(['1+2=3', 'Answer: 3']), item(['1+2=4'])];
  const r = await prm.score(items);
  expect(r.scores.map((s) => s.stepScores!.length)).toEqual([2, 1]);
  const [g, b] = await policy.logprobsOf([{ prefix: 'Q: 1+2\n1+2=3\n', continuation: '+' }, { prefix: 'Q: 1+2\n1+2=3\n', continuation: '-' }]);
  const want = Math.exp(g!.logprobs[0]!) / (Math.exp(g!.logprobs[0]!) + Math.exp(b!.logprobs[0]!));
  expect(r.scores[0]!.stepScores![0]).toBeCloseTo(want, 10);
  expect(r.scores[0]!.score).toBeCloseTo(r.scores[0]!.stepScores![0]! * r.scores[0]!.stepScores![1]!, 10);
  expect(r.usage.calls).toBe(6);
  expect(r.usage.tokens).toBeGreaterThan(0);
});

it('gives the same scores through searchlearn serve (openai backend, echo logprobs)', async () => {
  const s = await startServer(builtinBackend(BuiltinPolicy.load(dir)), { port: 0, modelName: 'tiny' });
  try {
    const items = [item(['1+2=3', 'Answer: 3'])];
    const local = await createLogprobPrm(BuiltinPolicy.load(dir), { format }).score(items);
    const remote = await createLogprobPrm(await createOpenAIPolicy({ baseURL: s.url, model: 'tiny' }), { format }).score(items);
    remote.scores[0]!.stepScores!.forEach((v, k) => expect(v).toBeCloseTo(local.scores[0]!.stepScores![k]!, 4));
  } finally {
    await s.close();
  }
});

it('renders Math-Shepherd and RLHFlow inputs, and refuses a policy without logprobsOf', () => {
  const it2 = item(['a', 'b']);
  expect(mathShepherdFormat(it2, 1)).toBe('1+2 a ки\nb ки');
  expect(rlhflowFormat(it2, 1)).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n1+2 a<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nb<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  expect(() => createLogprobPrm(createMockPolicy({ '*': 'x' }))).toThrow(/no logprobsOf/);
});
