import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient } from './http.js';
import { nodeTransport } from './node-transport.js';

let server: Server | undefined;
let connections = 0;

async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  connections = 0;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

const init = (o: Partial<{ method: string; body: string; signal: AbortSignal }> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, signal: new AbortController().signal, ...o });

describe('nodeTransport', () => {
  it('sends the method, headers and body, reads status, headers and text, and keeps the socket alive', async () => {
    const url = await listen((req, res, body) => {
      res.setHeader('x-seen', `${req.method} ${req.url} ${req.headers['content-type']} ${req.headers['content-length']} ${req.headers['accept-encoding']}`);
      res.end(JSON.stringify({ echo: body === '' ? null : JSON.parse(body) }));
    });
    const r = await nodeTransport(`${url}/v1/completions`, init({ body: JSON.stringify({ prompt: 'é+1' }) }));
    expect(r.ok).toBe(true);
    expect(r.status).toBe(200);
    // content-length counts bytes, not characters: 16 characters, 17 bytes (é is two).
    expect(r.headers.get('X-Seen')).toBe('POST /v1/completions application/json 17 identity');
    expect(JSON.parse(await r.text())).toEqual({ echo: { prompt: 'é+1' } });
    await nodeTransport(`${url}/v1/models`, init({ method: 'GET' }));
    expect(connections).toBe(1);
  });

  it('returns an error status with its headers (Retry-After) and body', async () => {
    const url = await listen((_req, res) => {
      res.writeHead(429, { 'retry-after': '2' });
      res.end('{"error":{"message":"slow down"}}');
    });
    const r = await nodeTransport(`${url}/x`, init({ body: '{}' }));
    expect([r.ok, r.status, r.headers.get('retry-after'), r.headers.get('absent')]).toEqual([false, 429, '2', null]);
    expect(await r.text()).toContain('slow down');
  });

  it('rejects with the socket error as cause when nobody listens', async () => {
    const url = await listen(() => undefined);
    server!.close();
    await new Promise((r) => setTimeout(r, 20));
    const e = await nodeTransport(`${url}/x`, init()).catch((x: unknown) => x);
    expect((e as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
  });

  it('rejects when the server closes the connection in the middle of the body', async () => {
    const url = await listen((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const e = await nodeTransport(`${url}/x`, init()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as { cause?: { code?: string } }).cause?.code).toBe('ECONNRESET');
  });

  it('rejects with the signal reason on abort, and closes the request', async () => {
    let closed = false;
    const url = await listen((req) => req.socket.on('close', () => (closed = true)));
    const ctrl = new AbortController();
    const p = nodeTransport(`${url}/x`, init({ signal: ctrl.signal }));
    setTimeout(() => ctrl.abort(new Error('caller left')), 30);
    await expect(p).rejects.toThrow('caller left');
    await new Promise((r) => setTimeout(r, 30));
    expect(closed).toBe(true);
    // Already aborted: rejects without sending.
    await expect(nodeTransport(`${url}/x`, init({ signal: AbortSignal.abort(new Error('before')) }))).rejects.toThrow('before');
  });

  it('under HttpClient: a stalled attempt times out, is counted, and the retry succeeds', async () => {
    let n = 0;
    const url = await listen((_req, res) => {
      if (n++ === 0) return; // stall the first attempt
      res.end('{"ok":true}');
    });
    const client = new HttpClient({ baseURLs: [url], timeoutMs: 100, retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    await expect(client.post('/v1/x', {})).resolves.toEqual({ ok: true });
    expect(client.stats).toMatchObject({ attempts: 2, ok: 1, retried: 1, failed: 0, byReason: { timeout: 1 } });
  });
});
