import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRemotePrm } from './remote-prm.js';
import type { RewardItem } from './reward.js';
import { resolveAggregation } from '../search/trajectories.js';

/**
 * The client against a stand-in for vLLM's `/pooling` with STEP pooling (the response shape of
 * `vllm serve Qwen/Qwen2.5-Math-PRM-7B --task reward`): one [negative, positive] row per step tag.
 * The stand-in scores a step 0.9 when it holds "ok", else 0.2, and fails the first call with 503
 * to exercise the retry.
 */
let server: Server;
let url = '';
const seen: string[] = [];
let calls = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (calls++ === 0) {
        res.writeHead(503).end('{"error":{"message":"warming up"}}');
        return;
      }
      const { input } = JSON.parse(body) as { input: string[] };
      seen.push(...input);
      const data = input.map((text, index) => {
        const assistant = text.split('<|im_start|>assistant\n')[1]!.split('<|im_end|>')[0]!;
        const steps = assistant.split('<extra_0>').slice(0, -1);
        return { index, object: 'pooling', data: steps.map((s) => (s.includes('ok') ? [0.1, 0.9] : [0.8, 0.2])) };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data, usage: { prompt_tokens: 10 * input.length, total_tokens: 10 * input.length } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const item = (steps: string[], complete = true): RewardItem => ({ problem: { id: 'p', prompt: 'What is 1+1?', answer: '2' }, prompt: 'Q: ', steps, complete });

it('scores every step with the positive-class probability and aggregates by min', async () => {
  const prm = createRemotePrm({ baseURL: url, model: 'Qwen/Qwen2.5-Math-PRM-7B', batchSize: 2, maxRetries: 2 });
  expect(resolveAggregation('reward', prm)).toBe('min');
  const r = await prm.score([item(['ok 1', 'ok 2']), item(['ok', 'bad', 'ok']), item([]), item(['bad'])]);
  expect(r.scores.map((s) => s.stepScores)).toEqual([[0.9, 0.9], [0.9, 0.2, 0.9], [], [0.2]]);
  expect(r.scores.map((s) => s.score)).toEqual([0.9, 0.2, 0, 0.2]);
  // Three items with steps in batches of two: two calls that counted (one 503 retried), 30 tokens.
  expect(r.usage).toEqual({ calls: 2, tokens: 30 });
  expect(prm.http.stats).toMatchObject({ ok: 2, retried: 1, failed: 0 });
  expect(seen.find((s) => s.includes('ok 1'))).toBe('<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\nok 1<extra_0>ok 2<extra_0><|im_end|><|endoftext|>');
});

it('names the pooling setup when the rows do not match the steps', async () => {
  const prm = createRemotePrm({ baseURL: url, model: 'm', stepTag: '<x>' });
  await expect(prm.score([item(['ok'])])).rejects.toThrow(/STEP pooling/);
});
