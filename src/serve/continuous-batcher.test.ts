import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltinPolicy } from '../policy/builtin.js';
import type { JobResult, SampleJob } from './batcher.js';
import { builtinBackend, ContinuousBatcher, stopHoldBack } from './continuous-batcher.js';
import { startServer, type RunningServer } from './server.js';
import { chatWholeAndStreamed, spawnServe, writeTinyCheckpoint } from './testing.js';

/**
 * Continuous batching of the built-in model: a request that arrives while a batch decodes joins
 * it at the next step and gets exactly the samples it gets alone; streaming is per token; a
 * client that leaves mid-batch stops only its own sequences.
 */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-continuous-'));
// A long context whose samples (seed 5) mostly run to max_tokens rather than end early.
writeTinyCheckpoint(dir, { contextLength: 1024, seed: 5 });
const policy = BuiltinPolicy.load(dir);
let s: RunningServer;
let client: OpenAI;

beforeAll(async () => {
  // In-process: these tests read the engine's own token counters (server.test.ts runs the engine thread).
  s = await startServer(builtinBackend(policy, { engineThread: false }), { port: 0, modelName: 'tiny' });
  client = new OpenAI({ baseURL: s.url, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const job = (over: Partial<SampleJob>): SampleJob => ({ prompts: ['1+2='], n: 2, maxTokens: 40, temperature: 1, topP: 1, topK: 0, stop: [], seed: 1, signal: new AbortController().signal, ...over });
const texts = (r: JobResult) => r.samples.map((row) => row.map((x) => [x.text, x.finishReason, x.logprobs.length]));
const alone = async (j: SampleJob) => {
  const r = await policy.generate({ prefixes: j.prompts, n: j.n, maxTokens: j.maxTokens, temperature: j.temperature, stop: j.stop, seed: j.seed, logprobs: true });
  return r.completions.map((row) => row.map((c) => [c.text, c.finishReason, c.logprobs!.length]));
};

describe('continuous batching (built-in model)', () => {
  it('a request that joins a running batch gets the samples it gets alone, and so does the batch it joins', async () => {
    const b = new ContinuousBatcher(policy);
    const first = job({ prompts: ['1+2=', '3*4='], n: 3, maxTokens: 200, seed: 11, stop: ['+7'] });
    const late = job({ prompts: ['9-5='], n: 2, maxTokens: 60, seed: 12, temperature: 0.7 });
    let lateResult: Promise<JobResult> | undefined;
    let stepsBeforeJoin = 0;
    const firstResult = b.submit({
      ...first,
      // Joins from inside the loop, after a few decode steps of the first request.
      onText: () => {
        if (++stepsBeforeJoin === 5) lateResult = b.submit(late);
      },
    });
    const [r1, r2] = [await firstResult, await lateResult!];
    expect(b.stats.joinedMidBatch).toBe(1);
    expect(b.stats.batches).toBe(1);
    expect(texts(r1)).toEqual(await alone(first));
    expect(texts(r2)).toEqual(await alone(late));
  });

  it('the late request leaves as soon as it is done, before the long one', async () => {
    const b = new ContinuousBatcher(policy);
    const order: string[] = [];
    let joined = false;
    const long = b.submit(job({ maxTokens: 400, seed: 5, onText: () => {
      if (joined) return;
      joined = true;
      void b.submit(job({ n: 1, maxTokens: 3, seed: 6 })).then(() => order.push('short'));
    } })).then(() => order.push('long'));
    await long;
    expect(order).toEqual(['short', 'long']);
  });

  it('a job whose stream fails leaves the batch; the job beside it completes with its own samples', async () => {
    const b = new ContinuousBatcher(policy);
    const neighbour = job({ n: 1, maxTokens: 30, seed: 21 });
    const broken = b.submit(job({ maxTokens: 100, seed: 20, onText: () => {
      throw new Error('socket gone');
    } }));
    const ok = b.submit(neighbour);
    await expect(broken).rejects.toThrow('socket gone');
    expect(texts(await ok)).toEqual(await alone(neighbour));
    expect(b.stats.cancelled).toBe(1);
  });

  it('streams token by token through the openai client, ending with the same text as without streaming', async () => {
    for (const stop of [undefined, ['uYP', 'S/Y']]) {
      const req = { model: 'tiny', prompt: '1+2=', n: 2, max_tokens: 40, temperature: 1, seed: 3, ...(stop ? { stop } : {}) };
      const whole = await client.completions.create(req);
      const streamed = ['', ''];
      const chunks = [0, 0];
      const finish: (string | null)[] = [null, null];
      let usage = 0;
      for await (const ev of await client.completions.create({ ...req, stream: true, stream_options: { include_usage: true } })) {
        for (const c of ev.choices) {
          streamed[c.index] += c.text;
          chunks[c.index]!++;
          if (c.finish_reason) finish[c.index] = c.finish_reason;
        }
        if (ev.usage) usage = ev.usage.completion_tokens;
      }
      expect(streamed).toEqual(whole.choices.map((c) => c.text));
      expect(finish).toEqual(whole.choices.map((c) => c.finish_reason));
      expect(usage).toBe(whole.usage!.completion_tokens);
      // More than one chunk per choice: a piece per decode step (held-back stop characters come last).
      whole.choices.forEach((c, i) => {
        if (c.text.length >= 2) expect(chunks[i]).toBeGreaterThan(Math.min(10, c.text.length - 1));
      });
      if (stop) expect(whole.choices.some((c) => c.finish_reason === 'stop' && c.text.length < 40)).toBe(true);
    }
    const chatReq = { model: 'tiny', messages: [{ role: 'user' as const, content: '1+2=' }], max_tokens: 30, temperature: 1, seed: 5 };
    const { whole, streamed, chunks } = await chatWholeAndStreamed(client, chatReq);
    expect(streamed).toBe(whole);
    expect(chunks).toBeGreaterThan(5);
  });

  it('holds back exactly the tail that could begin a stop string', () => {
    expect(stopHoldBack('abc', ['cd'])).toBe(1);
    expect(stopHoldBack('xaa', ['aab'])).toBe(2);
    expect(stopHoldBack('abc', ['x', 'bcd', 'c'])).toBe(2);
    expect(stopHoldBack('abc', [])).toBe(0);
  });

  it('a client that disconnects mid-batch stops its own sequences; its neighbour completes unchanged', async () => {
    const engine = policy.generator.engine;
    const body = { model: 'tiny', prompt: '1+2=', n: 4, max_tokens: 600, temperature: 1, seed: 1, stream: true };
    const post = (b: unknown, signal?: AbortSignal): Promise<Response> => fetch(`${s.url}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b), ...(signal ? { signal } : {}) });
    // The control: the same request left to finish.
    const t0 = engine.tokensComputed;
    await (await post(body)).text();
    const fullTokens = engine.tokensComputed - t0;
    expect(fullTokens).toBeGreaterThan(1000);

    const before = { ...s.batcher.stats };
    const t1 = engine.tokensComputed;
    const ctrl = new AbortController();
    const res = await post(body, ctrl.signal);
    const neighbourReq = { model: 'tiny', prompt: '2+2=', n: 1, max_tokens: 20, temperature: 1, seed: 9 };
    const neighbour = client.completions.create(neighbourReq);
    // Read until some text has streamed, then leave.
    const reader = res.body!.getReader();
    let got = '';
    while (got.split('data:').length < 20) got += new TextDecoder().decode((await reader.read()).value);
    ctrl.abort();
    const n = await neighbour;
    while (s.batcher.stats.cancelled === before.cancelled) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    const spent = engine.tokensComputed - t1;
    expect(s.batcher.stats.cancelled - before.cancelled).toBe(1);
    expect(spent).toBeLessThan(fullTokens / 2);
    // The neighbour shared steps with the aborted request and still got its own samples.
    const local = await policy.generate({ prefixes: ['2+2='], n: 1, maxTokens: 20, temperature: 1, seed: 9 });
    expect(n.choices[0]!.text).toBe(local.completions[0]![0]!.text);
    console.log(`serve (built-in) cancellation: ${spent} tokens computed for an aborted request and its neighbour against ${fullTokens} for the same request run to the end`);
  });

  it('searchlearn serve --checkpoint batches continuously and streams per token (CLI)', async () => {
    const srv = await spawnServe(dir, ['--model-name', 'tiny'], { compiled: true });
    try {
      const c = new OpenAI({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0 });
      const req = { model: 'tiny', prompt: '1+2=', n: 2, max_tokens: 30, temperature: 1, seed: 3 };
      let chunks = 0;
      const streamed = ['', ''];
      const [, whole] = await Promise.all([
        (async () => {
          for await (const ev of await c.completions.create({ ...req, stream: true })) for (const ch of ev.choices) (chunks++, (streamed[ch.index] += ch.text));
        })(),
        c.completions.create(req),
      ]);
      expect(streamed).toEqual(whole.choices.map((x) => x.text));
      expect(chunks).toBeGreaterThan(10);
      const health = (await (await fetch(srv.url.replace(/\/v1$/, '/health'))).json()) as { steps: number; jobs: number };
      expect(health.jobs).toBe(2);
      expect(health.steps).toBeGreaterThan(10);
    } finally {
      await srv.stop();
    }
  }, 60_000);
});
