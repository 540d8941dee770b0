import { setMaxListeners } from 'node:events';
import { EndpointPool } from './endpoints.js';
import { nodeTransport, type Transport } from './node-transport.js';
import { backoffMs, defaultRetryConfig, RETRYABLE_STATUS, retryAfterMs, sleep, type RetryConfig } from './retry.js';

/**
 * JSON over HTTP to a pool of replicas with retries, per-attempt timeouts and cancellation: the
 * transport under the OpenAI-compatible policy and the remote reward models. Every attempt is
 * counted once, by outcome, so a caller can check that no request was lost or counted twice.
 */
export interface HttpClientOptions {
  baseURLs: string[];
  apiKey?: string;
  /** Requests in flight per endpoint (default 16, vLLM's sweet spot on one GPU is higher). */
  concurrency?: number;
  /** Time limit of one attempt, headers and body (default 10 min: long generations are normal). */
  timeoutMs?: number;
  retry?: Partial<RetryConfig>;
  /** Injected transport (tests, proxies); global `fetch` fits. Default: node:http with keep-alive (node-transport.ts). */
  fetch?: Transport;
  /** Randomness for jitter (default Math.random; jitter only spreads retries, results never depend on it). */
  random?: () => number;
}

export const defaultHttpClientOptions = { concurrency: 16, timeoutMs: 600_000 } satisfies Partial<HttpClientOptions>;

/** Attempt outcomes, summed over the client's life. */
export interface HttpStats {
  /** Attempts sent (first tries and retries). */
  attempts: number;
  /** Attempts answered 2xx and used. */
  ok: number;
  /** Attempts that failed and were tried again. */
  retried: number;
  /** Requests given up (error thrown to the caller). */
  failed: number;
  /** Cancelled by the caller's signal. */
  cancelled: number;
  /** Failed attempts by reason: `http_429`, `http_500`, `connection`, `timeout`, `bad_body`. */
  byReason: Record<string, number>;
}

/** An HTTP error the server answered (status, and the message from an OpenAI-style error body). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly url: string) {
    super(message);
  }
}

export class HttpClient {
  readonly pool: EndpointPool;
  readonly stats: HttpStats = { attempts: 0, ok: 0, retried: 0, failed: 0, cancelled: 0, byReason: {} };
  private readonly retry: RetryConfig;
  private readonly timeoutMs: number;
  private readonly fetchFn: Transport;
  private readonly random: () => number;
  private readonly headers: Record<string, string>;

  constructor(opts: HttpClientOptions) {
    const o = { ...defaultHttpClientOptions, ...opts };
    this.pool = new EndpointPool(o.baseURLs.map(rootOf), o.concurrency);
    this.retry = { ...defaultRetryConfig, ...o.retry };
    this.timeoutMs = o.timeoutMs;
    this.fetchFn = o.fetch ?? nodeTransport;
    this.random = o.random ?? Math.random;
    this.headers = { 'content-type': 'application/json', ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) };
  }

  /** GET from one given endpoint (probes), with the same retries. */
  get(path: string, signal?: AbortSignal, url?: string): Promise<unknown> {
    return this.request('GET', path, undefined, signal, url);
  }

  /** POST JSON to the least loaded endpoint; retries elsewhere on retryable failures. */
  post(path: string, body: unknown, signal?: AbortSignal, url?: string): Promise<unknown> {
    return this.request('POST', path, body, signal, url);
  }

  private async request(method: string, path: string, body: unknown, signal: AbortSignal | undefined, fixed: string | undefined): Promise<unknown> {
    let avoid: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const url = fixed ?? (await this.pool.acquire(signal, avoid).catch((e: unknown) => this.cancelled(e)));
      const taken = fixed === undefined;
      this.stats.attempts++;
      const ctrl = new AbortController();
      setMaxListeners(0, ctrl.signal);
      const onAbort = (): void => ctrl.abort(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => ctrl.abort(new TimeoutError(this.timeoutMs)), this.timeoutMs);
      let reason: string;
      let wait: number | undefined;
      let finalError: Error;
      try {
        const res = await this.fetchFn(url + path, { method, headers: this.headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: ctrl.signal });
        const text = await res.text();
        if (res.ok) {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            throw new BadBodyError(`${url}${path}: response is not JSON: ${text.slice(0, 80)}`);
          }
          if (taken) this.pool.release(url, 'ok');
          this.stats.ok++;
          return json;
        }
        reason = `http_${res.status}`;
        finalError = new HttpError(res.status, `${method} ${url}${path}: HTTP ${res.status}: ${errorMessage(text)}`, url);
        if (!RETRYABLE_STATUS(res.status)) {
          if (taken) this.pool.release(url, 'failed');
          this.count(reason);
          this.stats.failed++;
          throw finalError;
        }
        wait = retryAfterMs(res.headers);
        if (taken) this.pool.release(url, 'failed');
      } catch (e) {
        if (e instanceof HttpError) throw e;
        if (signal?.aborted) {
          if (taken) this.pool.release(url, 'cancelled');
          this.stats.cancelled++;
          throw signal.reason;
        }
        const timedOut = ctrl.signal.aborted && ctrl.signal.reason instanceof TimeoutError;
        reason = timedOut ? 'timeout' : e instanceof BadBodyError ? 'bad_body' : 'connection';
        finalError = new Error(`${method} ${url}${path}: ${timedOut ? `no answer within ${this.timeoutMs} ms` : (e as Error).message}${causeOf(e)}`);
        // A replica that cannot be reached is avoided for the wait we would have slept anyway.
        if (taken) this.pool.release(url, reason === 'connection' ? 'down' : 'failed', backoffMs(attempt + 1, this.retry, 1));
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
      this.count(reason);
      if (attempt >= this.retry.maxRetries) {
        this.stats.failed++;
        throw new Error(`${finalError.message} (gave up after ${attempt + 1} attempts)`);
      }
      this.stats.retried++;
      avoid = url;
      const delay = wait !== undefined && wait <= this.retry.maxDelayMs ? wait : backoffMs(attempt + 1, this.retry, this.random());
      await sleep(delay, signal).catch((e: unknown) => this.cancelled(e));
    }
  }

  private count(reason: string): void {
    this.stats.byReason[reason] = (this.stats.byReason[reason] ?? 0) + 1;
  }

  private cancelled(e: unknown): never {
    this.stats.cancelled++;
    throw e;
  }
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

class BadBodyError extends Error {}

/** `http://h:8000/v1/` → `http://h:8000` (paths are added per API: `/v1/completions`, `/tokenize`). */
export function rootOf(baseURL: string): string {
  let u = baseURL.trim().replace(/\/+$/, '');
  if (u.endsWith('/v1')) u = u.slice(0, -3);
  if (!/^https?:\/\/[^/]/.test(u)) throw new Error(`base URL ${JSON.stringify(baseURL)} must start with http:// or https://`);
  return u;
}

/** The message of an OpenAI-style error body (`{"error": {"message"}}`), or the body's start. */
function errorMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    if (typeof j.error === 'string') return j.error;
    if (j.error && typeof j.error.message === 'string') return j.error.message;
    if (typeof j.message === 'string') return j.message;
    if (typeof j.detail === 'string') return j.detail;
  } catch {
    // not JSON: show the start of the body
  }
  return text.slice(0, 200) || '(empty body)';
}

function causeOf(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c ? ` (${c.code ?? c.message ?? ''})` : '';
}
