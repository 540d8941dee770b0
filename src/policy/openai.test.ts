import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinBackend } from '../serve/batcher.js';
import { startServer, type RunningServer } from '../serve/server.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { BuiltinPolicy } from './builtin.js';
import { policyConformanceSuite } from './conformance.js';
import { policyFromSpec } from './factory.js';
import { createOpenAIPolicy, toCompletions } from './openai.js';
import { backoffMs, defaultRetryConfig, retryAfterMs } from './retry.js';

/** The OpenAI-compatible backend against `searchlearn serve` over real loopback HTTP. */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-openai-'));
writeTinyCheckpoint(dir);
let server: Promise<RunningServer> | undefined;
const serve = (): Promise<RunningServer> => (server ??= startServer(builtinBackend(BuiltinPolicy.load(dir)), { port: 0, modelName: 'tiny' }));

afterAll(async () => {
  if (server) await (await server).close();
  rmSync(dir, { recursive: true, force: true });
});

policyConformanceSuite('openai → searchlearn serve', async () => createOpenAIPolicy({ baseURL: (await serve()).url, model: 'tiny' }), { prefixes: ['1+2=', 'Hello'] });

describe('openai backend', () => {
  it('probes the server: model, context length, /tokenize', async () => {
    const s = await serve();
    const p = await createOpenAIPolicy({ baseURL: s.url });
    expect(p.model).toBe('tiny');
    expect(p.contextLength).toBe(128);
    expect(p.capabilities).toMatchObject({ server: 'searchlearn', tokenize: 'vllm', nativeN: true });
    expect(await p.countTokensExact('1+2=3')).toBe(6); // five characters and BOS
    expect(p.warnings.some((w) => /countTokens estimates/.test(w))).toBe(true);
    await expect(createOpenAIPolicy({ baseURL: s.url, model: 'nope' })).rejects.toThrow(/model "nope" is not served .*served: tiny/);
  });

  it('gives exactly the built-in samples for the same seed, also when concurrent requests are batched together', async () => {
    const s = await serve();
    const remote = await createOpenAIPolicy({ baseURL: s.url, model: 'tiny' });
    const local = BuiltinPolicy.load(dir);
    const reqs = Array.from({ length: 8 }, (_, k) => ({ prefixes: [`${k}+${k}=`], n: 3, maxTokens: 12, stop: ['\n'], temperature: 1, seed: 100 + k, logprobs: true }));
    const before = s.batcher.stats.batches;
    const got = await Promise.all(reqs.map((r) => remote.generate(r)));
    // Eight requests in flight at once were merged into fewer batches than requests.
    expect(s.batcher.stats.batches - before).toBeLessThan(8);
    for (let k = 0; k < reqs.length; k++) {
      const want = await local.generate(reqs[k]!);
      expect(got[k]!.completions.map((row) => row.map((c) => [c.text, c.finishReason, c.tokens]))).toEqual(want.completions.map((row) => row.map((c) => [c.text, c.finishReason, c.tokens])));
      const lr = got[k]!.completions[0]![0]!.logprobs!;
      const ll = want.completions[0]![0]!.logprobs!;
      expect(lr.length).toBe(ll.length);
      lr.forEach((v, i) => expect(v).toBeCloseTo(ll[i]!, 4));
      expect(got[k]!.usage.outputTokens).toBe(want.usage.outputTokens);
      expect(got[k]!.usage.promptTokens).toBe(want.usage.promptTokens);
    }
  });

  it('scores continuations with echo (logprobsOf) as the built-in model does', async () => {
    const s = await serve();
    const remote = await createOpenAIPolicy({ baseURL: s.url, model: 'tiny' });
    const local = BuiltinPolicy.load(dir);
    const items = [{ prefix: 'Q: 1+2=', continuation: '3\n' }];
    const [a] = await remote.logprobsOf!(items);
    const [b] = await local.logprobsOf(items);
    expect(a!.logprobs).toHaveLength(2);
    a!.logprobs.forEach((v, i) => expect(v).toBeCloseTo(b!.logprobs[i]!, 4));
  });

  it('fans out with distinct seeds when the server returns fewer choices than n', async () => {
    const s = await serve();
    const p = await createOpenAIPolicy({ baseURL: s.url, model: 'tiny', n: 'fanout' });
    const r = await p.generate({ prefixes: ['1+1='], n: 4, maxTokens: 8, seed: 3 });
    expect(r.completions[0]).toHaveLength(4);
    expect(r.usage.calls).toBe(4);
    expect(new Set(r.completions[0]!.map((c) => c.text)).size).toBeGreaterThan(1);
  });

  it('re-appends a stop string the server stripped, and tells end of sequence from a stop', () => {
    const warn: string[] = [];
    const body = {
      choices: [
        { index: 0, text: '1+1=2', finish_reason: 'stop', stop_reason: '\n' },
        { index: 1, text: '7', finish_reason: 'stop', stop_reason: null },
        { index: 2, text: 'ab\ncd', finish_reason: 'length' },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 14 },
    };
    const cs = toCompletions(body, 3, 8, ['\n'], false, (w) => warn.push(w));
    expect(cs.map((c) => [c.text, c.finishReason])).toEqual([['1+1=2\n', 'stop'], ['7', 'eos'], ['ab\n', 'stop']]);
    // No per-token data: the 14 tokens are shared out and still add up.
    expect(cs.reduce((t, c) => t + c.tokens, 0)).toBe(14);
  });

  it('cancels by AbortSignal', async () => {
    const s = await serve();
    const p = await createOpenAIPolicy({ baseURL: s.url, model: 'tiny' });
    const ctrl = new AbortController();
    ctrl.abort(new Error('stop now'));
    await expect(p.generate({ prefixes: ['1'], maxTokens: 4, signal: ctrl.signal })).rejects.toThrow(/stop now/);
  });

  it('builds from a spec string (openai:URL and a checkpoint directory)', async () => {
    const s = await serve();
    const p = await policyFromSpec(`openai:${s.url}`, { model: 'tiny' });
    expect(p.id).toMatch(/^openai:tiny@http/);
    expect((await policyFromSpec(dir)).id).toMatch(/^builtin:/);
    await expect(policyFromSpec('ftp:x')).rejects.toThrow(/unknown policy "ftp:x"/);
    await expect(policyFromSpec('openai:')).rejects.toThrow(/expected openai:URL/);
  });
});

describe('timeouts', () => {
  it('cuts an attempt that gets no answer within timeoutMs and retries it', async () => {
    let completions = 0;
    const stub = createServer((req, res) => {
      if (req.url === '/v1/models') return void res.end(JSON.stringify({ data: [{ id: 'm', max_model_len: 64 }] }));
      if (req.url === '/v1/completions' && completions++ === 0) return; // the first attempt stalls
      if (req.url === '/v1/completions') return void res.end(JSON.stringify({ choices: [{ index: 0, text: 'ok', finish_reason: 'length', logprobs: { tokens: ['o', 'k'], token_logprobs: [-1, -1], text_offset: [0, 1] } }], usage: { prompt_tokens: 1, completion_tokens: 2 } }));
      res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', () => r()));
    try {
      const p = await createOpenAIPolicy({ baseURL: `http://127.0.0.1:${(stub.address() as AddressInfo).port}/v1`, timeoutMs: 300, retryBaseDelayMs: 1 });
      const r = await p.generate({ prefixes: ['x'], maxTokens: 2 });
      expect(r.completions[0]![0]).toMatchObject({ text: 'ok', tokens: 2, finishReason: 'length' });
      expect(p.stats.byReason['timeout']).toBe(1);
      expect(r.usage.calls).toBe(1);
    } finally {
      stub.closeAllConnections();
      await new Promise<void>((r) => stub.close(() => r()));
    }
  });
});

describe('retry timing', () => {
  it('reads Retry-After in seconds, as a date, and retry-after-ms', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '150' }))).toBe(150);
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4000)).toBe(6000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });
  it('backs off exponentially with equal jitter, capped', () => {
    const cfg = defaultRetryConfig;
    expect(backoffMs(1, cfg, 0)).toBe(250);
    expect(backoffMs(1, cfg, 1)).toBe(500);
    expect(backoffMs(3, cfg, 0.5)).toBe(1500);
    expect(backoffMs(30, cfg, 1)).toBe(cfg.maxDelayMs);
  });
});
