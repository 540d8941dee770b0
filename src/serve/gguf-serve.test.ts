import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { exportGguf } from '../nn/export-gguf.js';
import { createLlamaCppPolicy, llamaCppUnavailable, type LlamaCppPolicy } from '../policy/llamacpp.js';
import { policyBackend } from './batcher.js';
import { startServer, type RunningServer } from './server.js';
import { chatWholeAndStreamed, spawnServe, writeTinyCheckpoint } from './testing.js';

/**
 * `searchlearn serve --gguf FILE`: a GGUF model behind the OpenAI-compatible server, and a client
 * that disconnects mid-batch stopping its own generation (not the batch's other requests).
 */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-serve-gguf-'));
const reason = await llamaCppUnavailable();
if (reason) console.warn(`skipping the serve --gguf tests: ${reason}`);

// A random model with a long context whose samples (seed 5) run to max_tokens rather than end early.
const gguf = join(dir, 'tiny.gguf');
if (!reason) {
  writeTinyCheckpoint(join(dir, 'ckpt'), { contextLength: 1024, seed: 5 });
  exportGguf(join(dir, 'ckpt'), gguf);
}
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup) await c();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(reason !== null)('serve --gguf', () => {
  it('serves the GGUF model to the openai client (CLI)', async () => {
    const srv = await spawnServe(gguf);
    cleanup.push(srv.stop);
    const client = new OpenAI({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['tiny']);
    const r = await client.completions.create({ model: 'tiny', prompt: '1+2=', n: 3, max_tokens: 8, temperature: 1, seed: 3 });
    expect(r.choices).toHaveLength(3);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(24);
  }, 60_000);

  it('streams tokens as they are decoded (completions and chat), ending with the same text as without streaming', async () => {
    const policy = await createLlamaCppPolicy({ modelPath: gguf, threads: 1, sequences: 4 });
    cleanup.push(() => policy.dispose());
    const s = await startServer(policyBackend(policy), { port: 0, modelName: 'tiny' });
    cleanup.push(() => s.close());
    const client = new OpenAI({ baseURL: s.url, apiKey: 'unused', maxRetries: 0 });
    for (const stop of [undefined, ['5', '+']]) {
      const req = { model: 'tiny', prompt: '1+2=', n: 2, max_tokens: 40, temperature: 1, seed: 3, ...(stop ? { stop } : {}) };
      const whole = await client.completions.create(req);
      const texts = ['', ''];
      const finish: (string | null)[] = [null, null];
      let chunks = 0;
      for await (const ev of await client.completions.create({ ...req, stream: true, stream_options: { include_usage: true } })) {
        for (const c of ev.choices) {
          texts[c.index] += c.text;
          chunks++;
          if (c.finish_reason) finish[c.index] = c.finish_reason;
        }
      }
      expect(texts).toEqual(whole.choices.map((c) => c.text));
      expect(finish).toEqual(whole.choices.map((c) => c.finish_reason));
      // Token by token, not one chunk per choice (held-back stop characters come with the last one).
      expect(chunks).toBeGreaterThan(10);
      // With stop strings, a choice ends on one (stripped): the held-back characters are not sent.
      if (stop) expect(whole.choices.some((c) => c.finish_reason === 'stop' && c.text.length < 40)).toBe(true);
    }
    const chatReq = { model: 'tiny', messages: [{ role: 'user' as const, content: '1+2=' }], n: 1, max_tokens: 30, temperature: 1, seed: 5 };
    const { whole, streamed, chunks } = await chatWholeAndStreamed(client, chatReq);
    expect(streamed).toBe(whole);
    expect(chunks).toBeGreaterThan(5);
  }, 120_000);

  it('a request that arrives while a batch decodes joins it and leaves before it (continuous batching)', async () => {
    const policy = await createLlamaCppPolicy({ modelPath: gguf, threads: 1, sequences: 4 });
    cleanup.push(() => policy.dispose());
    let tokens = 0;
    const isEog = policy.model.isEogToken.bind(policy.model);
    (policy.model as { isEogToken: (t: never) => boolean }).isEogToken = (t) => (tokens++, isEog(t));
    const s = await startServer(policyBackend(policy), { port: 0, modelName: 'tiny' });
    cleanup.push(() => s.close());
    const client = new OpenAI({ baseURL: s.url, apiKey: 'unused', maxRetries: 0 });
    const done: string[] = [];
    const long = client.completions.create({ model: 'tiny', prompt: '1+2=', n: 2, max_tokens: 400, temperature: 1, seed: 1 }).then((r) => (done.push('long'), r));
    while (tokens < 50) await new Promise((r) => setTimeout(r, 5));
    const short = await client.completions.create({ model: 'tiny', prompt: '2+2=', n: 1, max_tokens: 5, temperature: 1, seed: 2 }).then((r) => (done.push('short'), r));
    const atShort = tokens;
    const l = await long;
    expect(done).toEqual(['short', 'long']);
    expect(short.choices[0]!.text.length).toBeGreaterThan(0);
    // The short one ran while the long one decoded: it did not wait for the long one's 800 tokens.
    expect(l.usage!.completion_tokens).toBeGreaterThan(atShort);
    expect(s.batcher.stats.joinedMidBatch).toBe(1);
    expect(s.batcher.stats.batches).toBe(1);
    // A seeded request gets the samples it gets alone.
    const alone = await client.completions.create({ model: 'tiny', prompt: '2+2=', n: 1, max_tokens: 5, temperature: 1, seed: 2 });
    expect(alone.choices[0]!.text).toBe(short.choices[0]!.text);
  }, 120_000);

  it('a client that disconnects mid-generation stops spending tokens; the rest of its batch completes', async () => {
    const policy: LlamaCppPolicy = await createLlamaCppPolicy({ modelPath: gguf, threads: 1, sequences: 8 });
    cleanup.push(() => policy.dispose());
    // Every generated token passes through isEogToken once: a token counter without touching the engine.
    let tokens = 0;
    const isEog = policy.model.isEogToken.bind(policy.model);
    (policy.model as { isEogToken: (t: never) => boolean }).isEogToken = (t) => (tokens++, isEog(t));
    const s: RunningServer = await startServer(policyBackend(policy), { port: 0, modelName: 'tiny', batcher: { windowMs: 20 } });
    cleanup.push(() => s.close());
    const body = { model: 'tiny', prompt: '1+2=', n: 8, max_tokens: 300, temperature: 1, seed: 1 };
    const post = (b: unknown, signal?: AbortSignal): Promise<Response> => fetch(`${s.url}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b), ...(signal ? { signal } : {}) });

    // The control: the same request left to finish.
    const full = await post(body);
    expect(full.status).toBe(200);
    const fullTokens = tokens;
    expect(fullTokens).toBeGreaterThan(1200);

    // The same request, aborted once it has produced 100 tokens, batched with a small one.
    tokens = 0;
    const ctrl = new AbortController();
    const aborted = post(body, ctrl.signal).catch((e: unknown) => e);
    const small = post({ ...body, n: 1, max_tokens: 5 });
    while (tokens < 100) await new Promise((r) => setTimeout(r, 5));
    ctrl.abort();
    expect(await aborted).toBeInstanceOf(Error);
    const ok = await small;
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { choices: unknown[] }).choices).toHaveLength(1);
    // Let anything still running finish, then count.
    await new Promise((r) => setTimeout(r, 500));
    while (s.batcher.stats.jobs < 3) await new Promise((r) => setTimeout(r, 20));
    expect(s.stats.disconnected).toBe(1);
    expect(tokens).toBeLessThan(fullTokens / 4);
    console.log(`serve --gguf cancellation: ${tokens} tokens spent on an aborted request (and a 5-token neighbour) against ${fullTokens} for the same request run to the end`);
  }, 120_000);
});
