import type { GenerateRequest, GenerateResult, Policy } from '../policy/policy.js';

/**
 * Rows of one eval table that draw the same samples share them. best-of-n, majority and
 * weighted-majority at budget N send the policy the same request for a problem (the problem's
 * seeded Rng gives each the same seed), so a table of those three rows drew every sample three
 * times. This wrapper answers a repeated request from its cache: the rows then also compare
 * their selection rules on identical samples, which is the paired comparison a reader wants.
 *
 * - Only seeded requests are cached (an unseeded one asks for fresh randomness), and never a
 *   streamed one (`onText` wants the pieces as they are decoded).
 * - A cached result with log-probabilities also answers the same request without them (they are
 *   dropped); a request that wants them is not answered by one that has none.
 * - A served result carries the usage measured when it was drawn: a row's compute is what its
 *   search costs, not what this process spent. `reused` counts the requests served, so a row can
 *   say that its wall time left them out.
 * - `clear()` forgets everything (eval clears between budgets: memory stays one budget's samples).
 */
export interface SampleCache extends Policy {
  /** Requests answered from the cache since creation. */
  readonly reused: number;
  clear(): void;
}

function keyOf(req: GenerateRequest): string | null {
  if (req.seed === undefined || req.onText) return null;
  return JSON.stringify([req.prefixes, req.n ?? 1, req.stop ?? [], req.maxTokens, req.temperature ?? 1, req.topP ?? 1, req.topK ?? 0, req.seed]);
}

function withoutLogprobs(r: GenerateResult): GenerateResult {
  return { ...r, completions: r.completions.map((cs) => cs.map(({ logprobs: _dropped, ...c }) => c)) };
}

export interface SampleCacheOptions {
  /**
   * Draw every cached request with log-probabilities (default false), so that a later request
   * that wants them (regularized best-of-N's `kl`) is served too. Worth it where they are free
   * (the built-in policy computes them while sampling) and a table has a row that reads them.
   */
  logprobs?: boolean;
}

export function withSampleCache(policy: Policy, options: SampleCacheOptions = {}): SampleCache {
  // In-flight requests are cached too, so two concurrent identical requests draw once.
  const cache = new Map<string, { logprobs: boolean; result: Promise<GenerateResult> }>();
  let reused = 0;
  const wrapper: SampleCache = {
    id: policy.id,
    contextLength: policy.contextLength,
    get reused() {
      return reused;
    },
    clear: () => cache.clear(),
    countTokens: (text) => policy.countTokens(text),
    ...(policy.logprobsOf ? { logprobsOf: policy.logprobsOf.bind(policy) } : {}),
    ...(policy.dispose ? { dispose: policy.dispose.bind(policy) } : {}),
    async generate(req) {
      const key = keyOf(req);
      if (key === null) return policy.generate(req);
      const hit = cache.get(key);
      if (hit && (hit.logprobs || !req.logprobs)) {
        req.signal?.throwIfAborted();
        reused++;
        const r = await hit.result;
        return hit.logprobs && !req.logprobs ? withoutLogprobs(r) : r;
      }
      const drawn = options.logprobs && !req.logprobs ? { ...req, logprobs: true } : req;
      const result = policy.generate(drawn);
      const entry = { logprobs: drawn.logprobs === true, result };
      cache.set(key, entry);
      try {
        const r = await result;
        return drawn !== req ? withoutLogprobs(r) : r;
      } catch (e) {
        // A failed or cancelled draw is not an answer: the next request draws again.
        if (cache.get(key) === entry) cache.delete(key);
        throw e;
      }
    },
  };
  return wrapper;
}
