import type { FinishReason } from '../core/trajectory.js';
import type { Policy } from '../policy/policy.js';

/**
 * How the server hands sampling jobs to a backend. The built-in model schedules its own jobs
 * with continuous batching (continuous-batcher.ts: a request joins the running batch at the next
 * decode step). Any other Policy goes through the window `Batcher` below: requests that arrive
 * within a short window go out together, each as its own `generate` call with its client's
 * signal, without waiting for calls already running (node-llama-cpp batches the sequences of
 * concurrent calls itself, so a request joins a running batch at its next token).
 *
 * Merging must not change what a seeded request gets: the built-in backend gives each sample of
 * each request its own Rng key (`seed/promptIndex/sampleIndex`, exactly what an unmerged call
 * would use), so a request's samples are the same whatever else shares its batch.
 */
export { builtinBackend, ContinuousBatcher, defaultContinuousBatcherConfig } from './continuous-batcher.js';

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

/** What a scheduler did: what `/health` reports and tests check. */
export interface SchedulerStats {
  /** Busy periods (the engine going from idle to work; for the window Batcher, its calls). */
  batches: number;
  /** Forward passes (continuous batching: decode steps; the window Batcher counts a call as one). */
  steps: number;
  /** Jobs run, and of those the ones that joined a batch already decoding. */
  jobs: number;
  joinedMidBatch: number;
  /** Jobs dropped because their client left (before or during their generation). */
  cancelled: number;
  /** Time inside the engine (the server's own generation time). */
  generationMs: number;
}

/** Takes jobs one at a time and batches those in flight together. */
export interface JobScheduler {
  submit(job: SampleJob): Promise<JobResult>;
  readonly stats: SchedulerStats;
  /** Frees what the scheduler holds beyond the process's heap (an engine thread). */
  close?(): Promise<void>;
}

/** What the server runs jobs on. */
export interface ServeBackend {
  readonly contextLength: number;
  /** Token count of a prompt as the model sees it; throws one line when the prompt cannot be encoded. */
  promptTokens(prompt: string): number;
  /** Runs several jobs, merged where the backend can. */
  run(jobs: SampleJob[]): Promise<JobResult[]>;
  /** A backend that schedules its own jobs (continuous batching) gives the server its scheduler; others get the window Batcher. */
  scheduler?(config: Partial<BatcherConfig>): JobScheduler;
  /** Log-probabilities of a prompt's own tokens (echo), or undefined when the backend has none. */
  promptLogprobs?(prompt: string): { tokens: string[]; logprobs: number[] };
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
  /** How long the first request of a batch waits for company (continuous batching: only when the engine is idle). */
  windowMs: number;
}

export const defaultBatcherConfig = {
  // A few ms: far below one decoding step of a batch, long enough for concurrent clients to arrive.
  windowMs: 3,
} satisfies BatcherConfig;

/**
 * Collects jobs for `windowMs`, then starts every live one, each as its own backend call, without
 * waiting for calls still running: continuous batching through the backend. node-llama-cpp
 * decodes the sequences of concurrent calls in shared forward passes, so a request that arrives
 * while others decode joins them at the next token and leaves when its own samples end, instead
 * of waiting for the whole batch before it (what one call at a time did). A backend bounds its
 * own concurrency (the GGUF policy's sequences; a remote policy's request limit).
 */
export class Batcher implements JobScheduler {
  private pending: { job: SampleJob; resolve: (r: JobResult) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private busySince = 0;
  readonly stats: SchedulerStats = { batches: 0, steps: 0, jobs: 0, joinedMidBatch: 0, cancelled: 0, generationMs: 0 };
  private readonly config: BatcherConfig;

  constructor(private readonly backend: ServeBackend, config: Partial<BatcherConfig> = {}) {
    this.config = { ...defaultBatcherConfig, ...config };
  }

  submit(job: SampleJob): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.pending.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.config.windowMs);
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    // A client that disconnected while waiting costs nothing.
    const live = batch.filter((b) => {
      if (!b.job.signal.aborted) return true;
      this.stats.cancelled++;
      b.reject(b.job.signal.reason);
      return false;
    });
    if (live.length === 0) return;
    this.stats.steps++;
    if (this.inFlight === 0) {
      // A busy period begins: the engine goes from idle to work.
      this.stats.batches++;
      this.busySince = performance.now();
    } else this.stats.joinedMidBatch += live.length;
    this.stats.jobs += live.length;
    this.inFlight += live.length;
    for (const b of live) {
      this.backend
        .run([b.job])
        .then(([r]) => b.resolve(r!), b.reject)
        .finally(() => {
          // Generation time: time with at least one call in flight.
          if (--this.inFlight === 0) this.stats.generationMs += performance.now() - this.busySince;
        });
    }
  }
}
