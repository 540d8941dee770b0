import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltinPolicy } from '../policy/builtin.js';
import { builtinBackend } from './batcher.js';
import { startServer, type RunningServer } from './server.js';
import { writeTinyCheckpoint } from './testing.js';

/**
 * `searchlearn serve` checked with the official `openai` npm client over loopback HTTP, with the
 * engine on its own thread (engine-thread.ts; continuous-batcher.test.ts runs it in-process): a
 * seeded request gets exactly the samples the in-process policy draws.
 */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-serve-'));
writeTinyCheckpoint(dir);
const policy = BuiltinPolicy.load(dir);
let s: RunningServer;
let client: OpenAI;

beforeAll(async () => {
  s = await startServer(builtinBackend(policy, { engineThread: true }), { port: 0, modelName: 'tiny' });
  client = new OpenAI({ baseURL: s.url, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(s.url.replace(/\/v1$/, '') + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('searchlearn serve with the openai client', () => {
  it('lists the model with its context length', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny']);
    expect((models.data[0] as unknown as { max_model_len: number }).max_model_len).toBe(128);
  });

  it('completes with n, stop, seed, logprobs and usage (stop string stripped, as OpenAI does)', async () => {
    const req = { model: 'tiny', prompt: 'Q: 1+2=', n: 4, max_tokens: 20, temperature: 1, seed: 7, stop: ['\n'], logprobs: 0 };
    const a = await client.completions.create(req);
    const b = await client.completions.create(req);
    expect(a.choices).toHaveLength(4);
    expect(a.choices.map((c) => c.text)).toEqual(b.choices.map((c) => c.text));
    expect(a.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    let tokens = 0;
    for (const c of a.choices) {
      expect(['stop', 'length']).toContain(c.finish_reason);
      expect(c.text.includes('\n')).toBe(false);
      expect(c.logprobs!.tokens!.length).toBe(c.logprobs!.token_logprobs!.length);
      tokens += c.logprobs!.tokens!.length;
    }
    expect(a.usage!.completion_tokens).toBe(tokens);
    expect(a.usage!.prompt_tokens).toBe(8);
    // The same request through the built-in policy: same samples (stop string kept there).
    const local = await policy.generate({ prefixes: ['Q: 1+2='], n: 4, maxTokens: 20, temperature: 1, seed: 7, stop: ['\n'] });
    expect(a.choices.map((c) => c.text)).toEqual(local.completions[0]!.map((c) => c.text.replace(/\n$/, '')));
  });

  it('answers chat completions and streams both kinds', async () => {
    const chat = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Q: 2+2=' }], max_tokens: 6, n: 2, seed: 1, logprobs: true });
    expect(chat.choices).toHaveLength(2);
    expect(chat.choices[0]!.message.role).toBe('assistant');
    expect(chat.choices[0]!.logprobs!.content!.length).toBeGreaterThan(0);
    const stream = await client.completions.create({ model: 'tiny', prompt: 'Q: 3+4=', max_tokens: 6, n: 2, seed: 2, stream: true, stream_options: { include_usage: true } });
    const texts = ['', ''];
    let usage = 0;
    for await (const chunk of stream) {
      for (const c of chunk.choices) texts[c.index] += c.text;
      if (chunk.usage) usage = chunk.usage.completion_tokens;
    }
    const plain = await client.completions.create({ model: 'tiny', prompt: 'Q: 3+4=', max_tokens: 6, n: 2, seed: 2 });
    expect(texts).toEqual(plain.choices.map((c) => c.text));
    expect(usage).toBe(plain.usage!.completion_tokens);
    const chatStream = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Q: 3+4=' }], max_tokens: 6, seed: 2, stream: true });
    let content = '';
    for await (const chunk of chatStream) content += chunk.choices[0]?.delta.content ?? '';
    expect(content).toBe(plain.choices[0]!.text);
  });

  it('answers bad requests with OpenAI-style errors', async () => {
    await expect(client.completions.create({ model: 'tiny', prompt: 'x', max_tokens: 100000 })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/max_tokens must be <= 128/) });
    await expect(client.completions.create({ model: 'tiny', prompt: 'x', n: 1000 })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/n must be <= 64/) });
    await expect(client.completions.create({ model: 'other', prompt: 'x' })).rejects.toMatchObject({ status: 404 });
    await expect(client.completions.create({ model: 'tiny', prompt: '€' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/prompt/) });
    const bad = await post('/v1/completions', '{not json');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const big = await post('/v1/completions', { model: 'tiny', prompt: '1'.repeat(2 << 20) });
    expect(big.status).toBe(413);
    expect((await fetch(s.url.replace(/\/v1$/, '') + '/health')).status).toBe(200);
  });

  it('drops a request whose client disconnected before its batch ran', async () => {
    const slow = await startServer(builtinBackend(policy, { engineThread: true }), { port: 0, modelName: 'tiny', batcher: { windowMs: 300 } });
    try {
      const ctrl = new AbortController();
      const r = fetch(slow.url + '/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: '1+1=', max_tokens: 50 }), signal: ctrl.signal });
      setTimeout(() => ctrl.abort(), 50);
      await expect(r).rejects.toThrow();
      // The engine thread reports the drop when its window ends (after it has started: allow for that).
      for (let t = 0; t < 300 && slow.batcher.stats.cancelled === 0; t++) await new Promise((done) => setTimeout(done, 20));
      expect(slow.batcher.stats.cancelled).toBe(1);
      expect(slow.batcher.stats.jobs).toBe(0);
    } finally {
      await slow.close();
    }
  });

  it('needs the API key beyond loopback, and checks it when given', async () => {
    await expect(startServer(builtinBackend(policy), { host: '0.0.0.0', port: 0 })).rejects.toThrow(/needs an API key/);
    const keyed = await startServer(builtinBackend(policy), { port: 0, modelName: 'tiny', apiKey: 'secret-key-1' });
    try {
      const wrong = new OpenAI({ baseURL: keyed.url, apiKey: 'wrong', maxRetries: 0 });
      await expect(wrong.models.list()).rejects.toMatchObject({ status: 401 });
      const right = new OpenAI({ baseURL: keyed.url, apiKey: 'secret-key-1', maxRetries: 0 });
      expect((await right.models.list()).data).toHaveLength(1);
    } finally {
      await keyed.close();
    }
  });
});
