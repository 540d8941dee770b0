import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinBackend } from '../serve/batcher.js';
import { startServer, type RunningServer } from '../serve/server.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { BuiltinPolicy } from './builtin.js';
import { createOpenAIPolicy } from './openai.js';

/**
 * Chat-only servers: a loopback proxy in front of `searchlearn serve` that answers 404 on
 * `/v1/completions` (as a chat-only deployment does) and passes everything else through, and
 * records the chat requests. The policy must fall back to `/v1/chat/completions` with the prefix
 * continued as a final assistant message, and get the very samples the completions API gives.
 */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-openai-chat-'));
writeTinyCheckpoint(dir);
let real: RunningServer;
let proxy: Server;
let chatOnly = '';
const chatBodies: Record<string, unknown>[] = [];

beforeAll(async () => {
  real = await startServer(builtinBackend(BuiltinPolicy.load(dir)), { port: 0, modelName: 'tiny' });
  const upstream = real.url.replace(/\/v1$/, '');
  proxy = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"The model `tiny` does not support the Completions API","type":"NotFoundError"}}');
        return;
      }
      if (req.url === '/v1/chat/completions') chatBodies.push(JSON.parse(body) as Record<string, unknown>);
      void fetch(upstream + req.url, { method: req.method!, headers: { 'content-type': 'application/json' }, ...(req.method === 'POST' ? { body } : {}) }).then(async (r) => {
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
      });
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  chatOnly = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  await real.close();
  await new Promise<void>((r) => proxy.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('openai policy on a chat-only server', () => {
  it('falls back to chat with continue_final_message and samples exactly what /v1/completions gives', async () => {
    const req = { prefixes: ['1+2=', '3+4='], n: 3, maxTokens: 12, temperature: 1, seed: 11, stop: ['\n'] };
    const direct = await createOpenAIPolicy({ baseURL: real.url, model: 'tiny' });
    const viaChat = await createOpenAIPolicy({ baseURL: chatOnly, model: 'tiny', maxRetries: 0 });
    const a = await direct.generate(req);
    const b = await viaChat.generate(req);
    expect(viaChat.capabilities.api).toBe('chat');
    expect(direct.capabilities.api).toBe('completions');
    expect(b.warnings.some((w) => w.includes('/v1/chat/completions'))).toBe(true);
    const view = (r: typeof a) => r.completions.map((row) => row.map((c) => [c.text, c.finishReason, c.tokens]));
    expect(view(b)).toEqual(view(a));
    expect(b.completions.flat().some((c) => c.finishReason === 'stop' && c.text.endsWith('\n'))).toBe(true);
    expect(b.usage.outputTokens).toBe(a.usage.outputTokens);
    // One chat request per prefix, sent concurrently: their order of arrival is not fixed.
    expect(chatBodies.map((b) => b['messages'])).toEqual(expect.arrayContaining([[{ role: 'assistant', content: '1+2=' }], [{ role: 'assistant', content: '3+4=' }]]));
    const sent = chatBodies[0]!;
    expect(sent).toMatchObject({ continue_final_message: true, add_generation_prompt: false, include_stop_str_in_output: true, n: 3 });
    expect(sent['prompt']).toBeUndefined();
  });

  it("api: 'chat' goes straight to chat; chatMessages puts the problem in a user turn; echo names what it needs", async () => {
    chatBodies.length = 0;
    const p = await createOpenAIPolicy({ baseURL: chatOnly, model: 'tiny', api: 'chat', chatMessages: (prefix) => [{ role: 'user', content: prefix.slice(0, 4) }, { role: 'assistant', content: prefix.slice(4) }] });
    const r = await p.generate({ prefixes: ['1+2=3\n'], n: 1, maxTokens: 4, temperature: 0 });
    expect(r.warnings.some((w) => w.includes('no /v1/completions'))).toBe(false);
    expect(r.completions[0]).toHaveLength(1);
    expect(chatBodies[0]!['messages']).toEqual([{ role: 'user', content: '1+2=' }, { role: 'assistant', content: '3\n' }]);
    await expect(p.logprobsOf!([{ prefix: '1+2=', continuation: '3' }])).rejects.toThrow(/no \/v1\/completions.*echo/);
  });
});
