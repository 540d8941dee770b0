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
export interface ContinuousBatcherConfig extends BatcherConfig {
  /**
   * Decode steps run back to back before the loop admits new requests, drops those whose client
   * left and lets finished jobs' responses go out (vLLM's multi-step scheduling,
   * `--num-scheduler-steps`). Streams still get their text after every step. More steps spend
   * less of the engine's time between steps; a request then waits up to `stepsPerTurn − 1`
   * steps to join and to be answered. Default 1.
   */
  stepsPerTurn: number;
}

export const defaultContinuousBatcherConfig = {
  // No wait: a request that finds the engine idle starts at once; company that arrives a moment
  // later joins at the next step, which costs one short step instead of a window on every batch.
  windowMs: 0,
  stepsPerTurn: 1,
} satisfies ContinuousBatcherConfig;

export interface ContinuousBatcherOptions {
  /**
   * Takes new work synchronously between steps (the engine thread reads its message port with
   * receiveMessageOnPort). With it the loop yields no event-loop turn while it decodes, only a
   * microtask so that finished jobs' continuations run: nothing else on that thread needs the
   * event loop, and on the 2-vCPU VM a turn right after a decode step cost 0.26 ms a step (a
   * bare setImmediate after 3 ms of computing: 0.10 ms; after 0.2 ms: 0.02 ms) against steps of
   * about 3.3 ms. Without it (the server's own thread) the loop yields a turn after each step
   * so that HTTP requests are read between steps.
   */
  inbox?: () => void;
}

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
  private readonly config: ContinuousBatcherConfig;
  private readonly inbox: (() => void) | undefined;
  private session: DecodeSession;
  private queue: Job[] = [];
  private running: RunningJob[] = [];
  private readonly owner = new Map<DecodeSequence, { r: RunningJob; p: number; j: number }>();
  private looping = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(private readonly policy: BuiltinPolicy, config: Partial<ContinuousBatcherConfig> = {}, options: ContinuousBatcherOptions = {}) {
    this.config = { ...defaultContinuousBatcherConfig, ...config };
    if (!Number.isInteger(this.config.stepsPerTurn) || this.config.stepsPerTurn < 1) throw new Error(`stepsPerTurn ${this.config.stepsPerTurn}: expected an integer >= 1`);
    this.inbox = options.inbox;
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
        this.inbox?.();
        this.admit();
        this.dropAborted();
        if (this.session.size === 0) break;
        for (let k = 0; k < this.config.stepsPerTurn && this.session.size > 0; k++) {
          const t0 = performance.now();
          let ev: DecodeStep;
          try {
            ev = this.session.step();
          } catch (e) {
            this.failAll(e);
            break;
          }
          this.stats.generationMs += performance.now() - t0;
          this.stats.steps++;
          this.deliver(ev);
        }
        // Finished jobs' continuations run (their responses go out), and without an inbox the
        // event loop reads new requests (and client disconnects) before the next step.
        if (this.inbox) await Promise.resolve();
        else await new Promise<void>((r) => setImmediate(r));
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
   * steps. Default: with a second core (os.availableParallelism() > 1). On the 2-core
   * development VM, with the benchmark's client on the same machine (three busy threads on two
   * cores), it served 3,088 and 3,005 tokens/s against 3,024 and 2,939 in the server's own thread
   * (`bench/serve-overhead.mjs --rounds 20 --mode continuous`, quiet, alternating) once the
   * engine thread stopped yielding an event-loop turn after each step; before that it was the
   * slower one (2,206 against 2,893).
   */
  engineThread: boolean;
  /** Decode steps between turns (ContinuousBatcherConfig.stepsPerTurn). Default 1. */
  stepsPerTurn: number;
}

/** The built-in model: continuous batching over its Generator (the server takes `scheduler`). */
export function builtinBackend(policy: BuiltinPolicy, options: Partial<BuiltinBackendOptions> = {}): ServeBackend {
  const engineThread = options.engineThread ?? availableParallelism() > 1;
  const stepsPerTurn = options.stepsPerTurn ?? defaultContinuousBatcherConfig.stepsPerTurn;
  const { generator, tokenizer } = policy;
  let shared: ContinuousBatcher | undefined;
  return {
    contextLength: policy.contextLength,
    promptTokens: (prompt) => tokenizer.encode(prompt, { bos: true }).length,
    scheduler: (config) => (engineThread ? new EngineThreadScheduler(policy, { stepsPerTurn, ...config }) : new ContinuousBatcher(policy, { stepsPerTurn, ...config })),
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
