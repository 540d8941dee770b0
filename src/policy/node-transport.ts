import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * The part of `fetch` that HttpClient uses: one request, its status, headers and body text.
 * Global `fetch` satisfies it (tests inject one); `nodeTransport` below is the default.
 */
export interface TransportInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface TransportResponse {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type Transport = (url: string, init: TransportInit) => Promise<TransportResponse>;

// Keep-alive pools, as vLLM's own benchmark client keeps its connections; no socket limit here,
// since EndpointPool bounds the requests in flight per endpoint.
const httpAgent = new HttpAgent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });

/**
 * JSON over node:http with keep-alive sockets. Why not the global fetch (undici): its WHATWG
 * streams, Headers and Request objects cost the client about 2 ms of CPU per small completion
 * request on the 2-vCPU VM (a CPU profile of `bench/serve-overhead.mjs` at concurrency 16: 1.35 s
 * of client CPU for 640 requests), CPU that a client beside its server takes from the engine.
 * Errors keep fetch's shape: a connection failure rejects with an Error whose `cause.code` is the
 * socket's (ECONNREFUSED, ECONNRESET, ...), and an aborted signal rejects with its reason.
 */
export const nodeTransport: Transport = (url, init) =>
  new Promise((resolve, reject) => {
    const { signal } = init;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const u = new URL(url);
    const https = u.protocol === 'https:';
    // fetch asks for gzip and unpacks it; this transport reads bodies as they come, so it asks
    // for none (no Accept-Encoding would let a server pick any coding).
    const headers: Record<string, string | number> = { 'accept-encoding': 'identity', ...init.headers };
    if (init.body !== undefined) headers['content-length'] = Buffer.byteLength(init.body);
    const req = (https ? httpsRequest : httpRequest)(u, { method: init.method, headers, agent: https ? httpsAgent : httpAgent });
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      reject(e);
    };
    const onAbort = (): void => {
      req.destroy();
      fail(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const socketError = (e: Error): void => fail(new Error(`fetch failed: ${e.message}`, { cause: e }));
    req.on('error', socketError);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', socketError);
      res.on('close', () => {
        if (!res.complete) fail(new Error('fetch failed: the connection closed mid-body', { cause: { code: 'ECONNRESET' } }));
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          ok: status >= 200 && status < 300,
          status,
          headers: { get: (name) => headerValue(res, name) },
          text: () => Promise.resolve(text),
        });
      });
    });
    req.end(init.body);
  });

function headerValue(res: IncomingMessage, name: string): string | null {
  const v = res.headers[name.toLowerCase()];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}
