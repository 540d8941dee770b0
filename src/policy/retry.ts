import type { TransportResponse } from './node-transport.js';

/**
 * Retry policy for HTTP backends: which failures are worth another try, and how long to wait.
 *
 * Retryable, as the official OpenAI clients and vLLM's router treat them: 408 (request timeout),
 * 409 (conflict / lock), 429 (rate limit, queue full), every 5xx, and failures below HTTP
 * (connection refused or reset, a stalled request cut by our timeout). Anything else (400 bad
 * request, 401, 404 unknown model) is the caller's mistake: retrying cannot help.
 *
 * Waits grow exponentially with "equal jitter" (half fixed, half random; AWS Architecture Blog,
 * "Exponential Backoff and Jitter", 2015) so that many clients hit by one overload do not return
 * in lock-step. A server's `Retry-After` (seconds or an HTTP date) or `retry-after-ms` wins when
 * it is sane (under `maxDelayMs`).
 */
export interface RetryConfig {
  /** Retries after the first attempt (so at most maxRetries + 1 attempts). */
  maxRetries: number;
  /** First backoff, doubled on each retry. */
  baseDelayMs: number;
  /** Cap on one wait (also the most a Retry-After header may ask for). */
  maxDelayMs: number;
}

export const defaultRetryConfig = {
  // The openai npm client retries twice; remote fleets under load need more patience.
  maxRetries: 6,
  // openai-node starts at 0.5 s and caps at 8 s; we cap higher because a Retry-After may say so.
  baseDelayMs: 500,
  maxDelayMs: 30_000,
} satisfies RetryConfig;

export const RETRYABLE_STATUS = (status: number): boolean => status === 408 || status === 409 || status === 429 || status >= 500;

/** Backoff before retry number `attempt` (1-based), given a random number in [0, 1). */
export function backoffMs(attempt: number, cfg: RetryConfig, random: number): number {
  const exp = Math.min(cfg.maxDelayMs, cfg.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return exp / 2 + (exp / 2) * random;
}

/** The wait a response asks for (`retry-after-ms`, `Retry-After` seconds or date), or undefined. */
export function retryAfterMs(headers: TransportResponse['headers'], now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Number(ms);
  const ra = headers.get('retry-after');
  if (ra === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000;
  const date = Date.parse(ra);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
