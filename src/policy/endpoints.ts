/**
 * Several base URLs of one model (vLLM or SGLang replicas), each with a concurrency limit, and
 * requests sent to the least loaded one (fewest requests in flight: "join the shortest queue",
 * which keeps tail latency low when replicas differ in speed). A request waits, first come first
 * served, when every endpoint is full. An endpoint that just failed at the connection level is
 * avoided for a cool-down while others are available, so a dead replica does not eat retries.
 */
export interface EndpointStats {
  url: string;
  inFlight: number;
  /** Requests that got a response we used (HTTP 2xx). */
  ok: number;
  /** Attempts that failed (HTTP error, connection error or timeout), retried or not. */
  failed: number;
}

interface Endpoint extends EndpointStats {
  limit: number;
  /** Avoid until this time (ms since epoch) when others can take the request. */
  coolUntil: number;
}

interface Waiter {
  resolve: (e: Endpoint) => void;
  reject: (reason: unknown) => void;
  avoid: string | undefined;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class EndpointPool {
  private readonly endpoints: Endpoint[];
  private readonly waiters: Waiter[] = [];

  constructor(urls: readonly string[], concurrency: number) {
    if (urls.length === 0) throw new Error('no base URL given');
    this.endpoints = urls.map((url) => ({ url, limit: concurrency, inFlight: 0, ok: 0, failed: 0, coolUntil: 0 }));
  }

  get urls(): string[] {
    return this.endpoints.map((e) => e.url);
  }

  stats(): EndpointStats[] {
    return this.endpoints.map(({ url, inFlight, ok, failed }) => ({ url, inFlight, ok, failed }));
  }

  /** Waits for a free slot on the least loaded endpoint (preferring one other than `avoid`). */
  acquire(signal?: AbortSignal, avoid?: string): Promise<string> {
    signal?.throwIfAborted();
    const e = this.pick(avoid);
    if (e) {
      e.inFlight++;
      return Promise.resolve(e.url);
    }
    return new Promise<string>((resolve, reject) => {
      const w: Waiter = {
        resolve: (ep) => resolve(ep.url),
        reject,
        avoid,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal!.reason);
        },
      };
      signal?.addEventListener('abort', w.onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  /** Frees the slot taken by `acquire`, recording how the attempt went. */
  release(url: string, outcome: 'ok' | 'failed' | 'down' | 'cancelled', coolMs = 0): void {
    const e = this.endpoints.find((x) => x.url === url)!;
    e.inFlight--;
    if (outcome === 'ok') e.ok++;
    else if (outcome !== 'cancelled') e.failed++;
    if (outcome === 'down') e.coolUntil = Date.now() + coolMs;
    // Hand freed capacity to waiters in arrival order.
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      const ep = this.pick(w.avoid);
      if (!ep) break;
      this.waiters.shift();
      w.signal?.removeEventListener('abort', w.onAbort);
      ep.inFlight++;
      w.resolve(ep);
    }
  }

  private pick(avoid: string | undefined): Endpoint | undefined {
    const now = Date.now();
    const free = this.endpoints.filter((e) => e.inFlight < e.limit);
    if (free.length === 0) return undefined;
    // Healthy and not the one that just failed, if any such is free; else whatever is free.
    const ranked = [
      free.filter((e) => e.coolUntil <= now && e.url !== avoid),
      free.filter((e) => e.coolUntil <= now),
      free,
    ].find((l) => l.length > 0)!;
    let best = ranked[0]!;
    for (const e of ranked) if (e.inFlight / e.limit < best.inFlight / best.limit) best = e;
    return best;
  }
}
