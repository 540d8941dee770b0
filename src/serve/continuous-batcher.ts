import { availableParallelism } from 'node:os';
import { DecodeSession, type DecodeRequest, type DecodeSequence, type DecodeStep } from '../nn/decode-session.js';
import type { BuiltinPolicy } from '../policy/builtin.js';
import { EngineThreadScheduler } from './engine-thread.js';
import type { BatcherConfig, JobResult, JobScheduler, SampleJob, SchedulerStats, ServeBackend, ServedSample } from './batcher.js';

/**
 * Continuous batching for the built-in model (Orca, Yu et al. 2022; vLLM's scheduler): one
 * DecodeSession runs decode steps while there is work; a request that arrives while it decodes
 * joins at the next step (its prompt prefilled in that step's forward pass, through the prefix
 * cache), a sequence that ends leaves the batch at once, and a job's response goes out as soon
 * as its last sequence ends. Between steps the loop yields to the event loop, so new HTTP
 * requests are read and parsed while a batch runs.
 *
 * Each sample keeps its own Rng key (`seed/promptIndex/sampleIndex`, what Generator.generate
 * uses for the request alone), so a seeded request gets the same samples whatever shares its
 * steps or whenever it joins. Streaming is per token: after each step a choice's new text goes
 * to `onText`, except a tail that could still begin a stop string (held back until it cannot).
 * A client that leaves stops only its own sequences, at the next step.
 */
export const defaultContinuousBatcherConfig = {
  // No wait: a request that finds the engine idle starts at once; company that arrives a moment
  // later joins at the next step, which costs one short step instead of a window on every batch.
  windowMs: 0,
} satisfies BatcherConfig;

interface Job {
  job: SampleJob;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
}

interface RunningJob extends Job {
  /** seqs[p][j]: sample j of prompt p; sent[p][j]: characters streamed. */
  seqs: DecodeSequence[][];
  sent: number[][];
  left: number;
}

/** Characters at the end of `text` that could begin a stop string (held back from the stream). */
export function stopHoldBack(text: string, stop: readonly string[]): number {
  let hold = 0;
  for (const st of stop) {
    for (let k = Math.min(st.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(st.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

export class ContinuousBatcher implements JobScheduler {
  readonly stats: SchedulerStats = { batches: 0, steps: 0, jobs: 0, joinedMidBatch: 0, cancelled: 0, generationMs: 0 };
  private readonly config: BatcherConfig;
  private session: DecodeSession;
  private queue: Job[] = [];
  private running: RunningJob[] = [];
  private readonly owner = new Map<DecodeSequence, { r: RunningJob; p: number; j: number }>();
  private looping = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(private readonly policy: BuiltinPolicy, config: Partial<BatcherConfig> = {}) {
    this.config = { ...defaultContinuousBatcherConfig, ...config };
    this.session = new DecodeSession(policy.generator);
  }

  submit(job: SampleJob): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      // While decoding, the loop admits it at the next step; when idle, start after the window.
      if (this.looping || this.timer) return;
      const start = (): void => {
        this.timer = undefined;
        void this.loop();
      };
      this.timer = this.config.windowMs > 0 ? setTimeout(start, this.config.windowMs) : setImmediate(start);
    });
  }

  private async loop(): Promise<void> {
    this.looping = true;
    this.stats.batches++;
    try {
      for (;;) {
        this.admit();
        this.dropAborted();
        if (this.session.size === 0) break;
        const t0 = performance.now();
        let ev: DecodeStep;
        try {
          ev = this.session.step();
        } catch (e) {
          this.failAll(e);
          continue;
        }
        this.stats.generationMs += performance.now() - t0;
        this.stats.steps++;
        this.deliver(ev);
        // Let the event loop read new requests (and client disconnects) before the next step.
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.looping = false;
    }
  }

  private admit(): void {
    if (this.queue.length === 0) return;
    const queue = this.queue;
    this.queue = [];
    for (const q of queue) {
      const { job } = q;
      // A client that disconnected while waiting costs nothing.
      if (job.signal.aborted) {
        this.stats.cancelled++;
        q.reject(job.signal.reason);
        continue;
      }
      const reqs: DecodeRequest[] = [];
      job.prompts.forEach((prefix, p) => {
        for (let j = 0; j < job.n; j++) reqs.push({ prefix, maxTokens: job.maxTokens, stop: job.stop, temperature: job.temperature, topP: job.topP, topK: job.topK, rngKey: `${job.seed}/${p}/${j}` });
      });
      let flat: DecodeSequence[];
      try {
        flat = this.session.add(reqs);
      } catch (e) {
        q.reject(e);
        continue;
      }
      if (this.running.length > 0) this.stats.joinedMidBatch++;
      this.stats.jobs++;
      const r: RunningJob = { ...q, seqs: job.prompts.map((_, p) => flat.slice(p * job.n, (p + 1) * job.n)), sent: job.prompts.map(() => new Array<number>(job.n).fill(0)), left: flat.length };
      r.seqs.forEach((row, p) => row.forEach((s, j) => this.owner.set(s, { r, p, j })));
      this.running.push(r);
    }
  }

  /** Jobs whose client left: their sequences leave the batch; the others go on. */
  private dropAborted(): void {
    for (const r of this.running) if (r.job.signal.aborted) this.drop(r, r.job.signal.reason);
  }

  /** A job leaves: its sequences are cancelled (KV released), the rest of the batch goes on. */
  private drop(r: RunningJob, reason: unknown): void {
    for (const s of r.seqs.flat()) {
      this.session.cancel(s);
      this.owner.delete(s);
    }
    this.running = this.running.filter((x) => x !== r);
    this.stats.cancelled++;
    r.reject(reason);
  }

  private deliver(ev: DecodeStep): void {
    for (const s of ev.advanced) {
      const o = this.owner.get(s);
      if (!o?.r.job.onText) continue;
      const text = s.sample.text;
      const safe = text.length - stopHoldBack(text, o.r.job.stop);
      const sent = o.r.sent[o.p]![o.j]!;
      if (safe > sent) {
        o.r.sent[o.p]![o.j] = safe;
        try {
          o.r.job.onText(o.p, o.j, text.slice(sent, safe));
        } catch (e) {
          // A stream that cannot be written to: that job fails, the batch goes on.
          this.drop(o.r, e);
        }
      }
    }
    for (const s of ev.finished) {
      const o = this.owner.get(s);
      if (!o) continue;
      this.owner.delete(s);
      if (--o.r.left > 0) continue;
      this.running = this.running.filter((x) => x !== o.r);
      o.r.resolve(this.result(o.r));
    }
  }

  private result(r: RunningJob): JobResult {
    const tok = this.policy.tokenizer;
    const tokenString = (id: number): string => (id === tok.eos ? '' : tok.tokenString(id));
    const samples: ServedSample[][] = r.seqs.map((row) => row.map(({ sample: s }) => ({ text: s.text, tokens: s.tokenIds.map(tokenString), logprobs: s.logprobs, finishReason: s.finishReason })));
    // Per prompt, not per sample: its n samples share one prefill.
    const promptTokens = r.seqs.reduce((t, row) => t + row[0]!.promptTokens, 0);
    const cachedPromptTokens = r.seqs.reduce((t, row) => t + row[0]!.cachedPromptTokens, 0);
    return { samples, promptTokens, cachedPromptTokens };
  }

  /** An engine error: every running job fails with it, and a fresh session takes over. */
  private failAll(e: unknown): void {
    for (const r of this.running) r.reject(e);
    this.running = [];
    this.owner.clear();
    this.session = new DecodeSession(this.policy.generator);
  }
}

export interface BuiltinBackendOptions {
  /**
   * Run the engine on a thread of its own (engine-thread.ts), so that HTTP work overlaps decode
   * steps. Default: with more than two cores (os.availableParallelism() > 2). On the 2-core
   * development VM, with the benchmark's client on the same machine, the engine thread, the
   * server's main thread and the client make three busy threads on two cores: served throughput
   * fell from 2,893 to 2,206 and 2,131 tokens/s (quiet, `bench/serve-overhead.mjs --rounds 20`).
   */
  engineThread: boolean;
}

/** The built-in model: continuous batching over its Generator (the server takes `scheduler`). */
export function builtinBackend(policy: BuiltinPolicy, options: Partial<BuiltinBackendOptions> = {}): ServeBackend {
  const engineThread = options.engineThread ?? availableParallelism() > 2;
  const { generator, tokenizer } = policy;
  let shared: ContinuousBatcher | undefined;
  return {
    contextLength: policy.contextLength,
    promptTokens: (prompt) => tokenizer.encode(prompt, { bos: true }).length,
    scheduler: (config) => (engineThread ? new EngineThreadScheduler(policy, config) : new ContinuousBatcher(policy, config)),
    run(jobs) {
      shared ??= new ContinuousBatcher(policy);
      const s = shared;
      return Promise.all(jobs.map((j) => s.submit(j)));
    },
    promptLogprobs(prompt) {
      const [r] = generator.logprobsOf([{ prefix: '', continuation: prompt }]);
      return { tokens: [...prompt], logprobs: r!.logprobs };
    },
  };
}
