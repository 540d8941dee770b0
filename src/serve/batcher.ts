import type { FinishReason } from '../core/trajectory.js';
import type { BuiltinPolicy } from '../policy/builtin.js';
import type { Policy } from '../policy/policy.js';

/**
 * Continuous-ish batching for the server: requests that arrive within a short window are merged
 * into one `generate` call, so 16 concurrent clients cost one batched forward pass per token,
 * not 16 (the built-in Generator decodes every sequence of a call together).
 *
 * Merging must not change what a seeded request gets: the built-in backend gives each sample of
 * each request its own Rng key (`seed/promptIndex/sampleIndex`, exactly what an unmerged call
 * would use), so a request's samples are the same whatever else shares its batch.
 */
export interface SampleJob {
  prompts: string[];
  n: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  stop: string[];
  seed: number;
  signal: AbortSignal;
  /** Token streaming (backends that decode token by token): text of sample `sample` of prompt `prompt` as it is decoded. */
  onText?: (prompt: number, sample: number, delta: string) => void;
}

export interface ServedSample {
  text: string;
  /** Token strings ('' for end of sequence) and their log-probabilities. */
  tokens: string[];
  logprobs: number[];
  finishReason: FinishReason;
}

export interface JobResult {
  /** samples[p][j]: sample j of prompt p. */
  samples: ServedSample[][];
  promptTokens: number;
  cachedPromptTokens: number;
}

/** What the server runs jobs on. */
export interface ServeBackend {
  readonly contextLength: number;
  /** Token count of a prompt as the model sees it; throws one line when the prompt cannot be encoded. */
  promptTokens(prompt: string): number;
  /** Runs several jobs, merged where the backend can. */
  run(jobs: SampleJob[]): Promise<JobResult[]>;
  /** Log-probabilities of a prompt's own tokens (echo), or undefined when the backend has none. */
  promptLogprobs?(prompt: string): { tokens: string[]; logprobs: number[] };
}

/** The built-in model: jobs with the same decoding settings share one Generator call. */
export function builtinBackend(policy: BuiltinPolicy): ServeBackend {
  const { generator, tokenizer } = policy;
  const tokenString = (id: number): string => (id === tokenizer.eos ? '' : tokenizer.tokenString(id));
  return {
    contextLength: policy.contextLength,
    promptTokens: (prompt) => tokenizer.encode(prompt, { bos: true }).length,
    async run(jobs) {
      const results: JobResult[] = new Array(jobs.length);
      const groups = new Map<string, number[]>();
      jobs.forEach((j, k) => {
        const key = JSON.stringify([j.maxTokens, j.temperature, j.topP, j.topK, j.stop]);
        groups.set(key, [...(groups.get(key) ?? []), k]);
      });
      for (const members of groups.values()) {
        const first = jobs[members[0]!]!;
        // Flatten to one sample per entry: identical prefixes are computed once by the Generator.
        const prefixes: string[] = [];
        const keys: string[] = [];
        const owner: { job: number; prompt: number; sample: number }[] = [];
        for (const k of members) {
          const j = jobs[k]!;
          j.prompts.forEach((p, pi) => {
            for (let s = 0; s < j.n; s++) {
              prefixes.push(p);
              keys.push(`${j.seed}/${pi}/${s}`);
              owner.push({ job: k, prompt: pi, sample: s });
            }
          });
          results[k] = { samples: j.prompts.map(() => []), promptTokens: j.prompts.reduce((t, p) => t + tokenizer.encode(p, { bos: true }).length, 0), cachedPromptTokens: 0 };
        }
        const { samples, stats } = generator.generate(prefixes, {
          n: 1,
          maxTokens: first.maxTokens,
          temperature: first.temperature,
          topP: first.topP,
          topK: first.topK,
          stop: first.stop,
          seed: 0,
          sampleKey: (i) => keys[i]!,
        });
        samples.forEach((row, i) => {
          const s = row[0]!;
          const o = owner[i]!;
          results[o.job]!.samples[o.prompt]![o.sample] = { text: s.text, tokens: s.tokenIds.map(tokenString), logprobs: s.logprobs, finishReason: s.finishReason };
        });
        // The Generator counts cache hits over the distinct prefixes of the call; each job gets its share.
        const distinct = [...new Set(prefixes)].reduce((t, p) => t + tokenizer.encode(p, { bos: true }).length, 0);
        const hit = stats.cachedPromptTokens / Math.max(1, distinct);
        for (const k of members) results[k]!.cachedPromptTokens = Math.min(results[k]!.promptTokens, Math.round(hit * results[k]!.promptTokens));
      }
      return results;
    },
    promptLogprobs(prompt) {
      const [r] = generator.logprobsOf([{ prefix: '', continuation: prompt }]);
      return { tokens: [...prompt], logprobs: r!.logprobs };
    },
  };
}

/**
 * Any other Policy (a GGUF model, a remote one): each job is its own `generate` call with its
 * client's signal, so a client that leaves mid-batch stops its own generation (the GGUF backend
 * checks the signal after every token) while the rest of the batch runs on.
 */
export function policyBackend(policy: Policy): ServeBackend {
  return {
    contextLength: policy.contextLength,
    promptTokens: (prompt) => policy.countTokens(prompt),
    async run(jobs) {
      return Promise.all(
        jobs.map(async (j) => {
          let res;
          try {
            res = await policy.generate({ prefixes: j.prompts, n: j.n, maxTokens: j.maxTokens, temperature: j.temperature, topP: j.topP, topK: j.topK, stop: j.stop, seed: j.seed, logprobs: true, signal: j.signal, ...(j.onText ? { onText: j.onText } : {}) });
          } catch (e) {
            // Its client has gone: nobody reads this result, and the other jobs must not fail with it.
            if (j.signal.aborted) return { samples: [], promptTokens: 0, cachedPromptTokens: 0 };
            throw e;
          }
          return {
            samples: res.completions.map((row) => row.map((c) => ({ text: c.text, tokens: Array.from({ length: c.tokens }, () => ''), logprobs: c.logprobs ?? [], finishReason: c.finishReason }))),
            promptTokens: res.usage.promptTokens,
            cachedPromptTokens: res.usage.cachedPromptTokens,
          };
        }),
      );
    },
  };
}

export interface BatcherConfig {
  /** How long the first request of a batch waits for company. */
  windowMs: number;
}

export const defaultBatcherConfig = {
  // A few ms: far below one decoding step of a batch, long enough for concurrent clients to arrive.
  windowMs: 3,
} satisfies BatcherConfig;

/** Collects jobs for `windowMs`, then runs every live one in one backend call; one call at a time. */
export class Batcher {
  private pending: { job: SampleJob; resolve: (r: JobResult) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Batches run, jobs run, jobs dropped because their client left, and time inside the backend. */
  readonly stats = { batches: 0, jobs: 0, cancelled: 0, generationMs: 0 };

  constructor(private readonly backend: ServeBackend, private readonly config: BatcherConfig = defaultBatcherConfig) {}

  submit(job: SampleJob): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.running || this.pending.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.config.windowMs);
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    // A client that disconnected while waiting costs nothing.
    const live = batch.filter((b) => {
      if (!b.job.signal.aborted) return true;
      this.stats.cancelled++;
      b.reject(b.job.signal.reason);
      return false;
    });
    if (live.length > 0) {
      this.running = true;
      const t0 = performance.now();
      try {
        const results = await this.backend.run(live.map((b) => b.job));
        live.forEach((b, i) => b.resolve(results[i]!));
      } catch (e) {
        live.forEach((b) => b.reject(e));
      } finally {
        this.stats.generationMs += performance.now() - t0;
        this.stats.batches++;
        this.stats.jobs += live.length;
        this.running = false;
      }
    }
    this.schedule();
  }
}
