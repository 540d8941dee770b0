import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Rng } from '../core/rng.js';

/**
 * A fault-injecting HTTP proxy for tests of remote backends: in front of a real server it
 * answers some requests itself with 500 or 429 (with Retry-After), drops connections before or
 * in the middle of a response, and stalls (forwards, lets the server do the work, never answers),
 * each at a set rate drawn from a seeded Rng. It counts what it received, what each fault cost,
 * and what it delivered (2xx responses passed on whole, with their usage), so a test can check
 * that a client lost no request and counted none twice.
 */
export interface FaultRates {
  /** Answer 500 without forwarding. */
  error500: number;
  /** Answer 429 with `Retry-After` without forwarding. */
  error429: number;
  /** Destroy the connection without answering. */
  drop: number;
  /** Forward, then send half of the response and destroy the connection. */
  truncate: number;
  /** Forward, then hold the answer: for `stallMs` and then drop the connection, or until the client gives up. */
  stall: number;
}

export interface FaultProxyStats {
  received: number;
  faults: Record<keyof FaultRates, number>;
  /** Responses passed on whole with status 2xx, and the completion tokens their usage reported. */
  delivered: number;
  deliveredCompletionTokens: number;
  /** Requests the upstream server computed (forwarded), delivered or not. */
  forwarded: number;
}

export interface FaultProxy {
  url: string;
  stats: FaultProxyStats;
  server: Server;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, rates: Partial<FaultRates>, opts: { seed?: number; retryAfter?: string; stallMs?: number } = {}): Promise<FaultProxy> {
  const r: FaultRates = { error500: 0, error429: 0, drop: 0, truncate: 0, stall: 0, ...rates };
  const rng = new Rng(opts.seed ?? 1);
  const root = upstream.replace(/\/+$/, '').replace(/\/v1$/, '');
  const stats: FaultProxyStats = { received: 0, faults: { error500: 0, error429: 0, drop: 0, truncate: 0, stall: 0 }, delivered: 0, deliveredCompletionTokens: 0, forwarded: 0 };
  const stalled = new Set<ServerResponse>();

  const pick = (): keyof FaultRates | null => {
    let u = rng.next();
    for (const k of Object.keys(r) as (keyof FaultRates)[]) {
      if (u < r[k]) return k;
      u -= r[k];
    }
    return null;
  };

  const forward = async (req: IncomingMessage, body: Buffer): Promise<{ status: number; text: string; type: string }> => {
    stats.forwarded++;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (req.headers.authorization) headers['authorization'] = req.headers.authorization;
    const res = await fetch(root + (req.url ?? '/'), { method: req.method ?? 'GET', headers, ...(req.method === 'POST' ? { body: body.toString('utf8') } : {}) });
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? 'application/json' };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    // Probes (/v1/models, /tokenize) pass untouched: faults target generation traffic.
    const isWork = req.url?.startsWith('/v1/completions') || req.url?.startsWith('/v1/chat/completions');
    if (!isWork) {
      const f = await forward(req, body);
      res.writeHead(f.status, { 'content-type': f.type });
      res.end(f.text);
      return;
    }
    stats.received++;
    const fault = pick();
    if (fault) stats.faults[fault]++;
    if (fault === 'error500') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'injected fault', type: 'InternalServerError', param: null, code: null } }));
      return;
    }
    if (fault === 'error429') {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': opts.retryAfter ?? '0.02' });
      res.end(JSON.stringify({ error: { message: 'injected rate limit', type: 'rate_limit_error', param: null, code: null } }));
      return;
    }
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    const f = await forward(req, body);
    if (fault === 'stall') {
      stalled.add(res);
      res.on('close', () => stalled.delete(res));
      // A load balancer's idle timeout: after the stall the connection is cut.
      if (opts.stallMs !== undefined) setTimeout(() => res.destroy(), opts.stallMs).unref();
      return;
    }
    if (fault === 'truncate') {
      res.writeHead(f.status, { 'content-type': f.type, 'content-length': Buffer.byteLength(f.text) });
      res.write(f.text.slice(0, Math.floor(f.text.length / 2)));
      setImmediate(() => res.destroy());
      return;
    }
    res.writeHead(f.status, { 'content-type': f.type });
    res.end(f.text, () => {
      if (f.status >= 200 && f.status < 300) {
        stats.delivered++;
        const usage = (JSON.parse(f.text) as { usage?: { completion_tokens?: number } }).usage;
        stats.deliveredCompletionTokens += usage?.completion_tokens ?? 0;
      }
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    stats,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of stalled) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
