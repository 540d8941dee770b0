import { availableParallelism } from 'node:os';
import type { BuiltinPolicy } from '../policy/builtin.js';
import type { BatcherConfig, JobResult, JobScheduler, SampleJob, SchedulerStats, ServeBackend } from './batcher.js';
import { defaultEngineLoopConfig, EngineLoop, jobResult, type EngineLoopConfig } from './engine-loop.js';
import { EngineThreadScheduler } from './engine-thread.js';

export { stopHoldBack } from './engine-loop.js';

/**
 * Continuous batching for the built-in model in the server's own thread: the EngineLoop
 * (engine-loop.ts: jobs join the running batch at the next decode step and leave the step they
 * end) driven by promises and abort signals, with an event-loop turn between steps so that new
 * HTTP requests are read and parsed while a batch runs. With a second core the server runs the
 * same loop on a thread of its own instead (engine-thread.ts).
 *
 * A client that leaves stops only its own sequences, before the next step.
 */
export interface ContinuousBatcherConfig extends BatcherConfig, EngineLoopConfig {}

export const defaultContinuousBatcherConfig = {
  // No wait: a request that finds the engine idle starts at once; company that arrives a moment
  // later joins at the next step, which costs one short step instead of a window on every batch.
  windowMs: 0,
  ...defaultEngineLoopConfig,
} satisfies ContinuousBatcherConfig;

export class ContinuousBatcher implements JobScheduler {
  private readonly config: ContinuousBatcherConfig;
  private readonly loop: EngineLoop;
  private looping = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(private readonly policy: BuiltinPolicy, config: Partial<ContinuousBatcherConfig> = {}) {
    this.config = { ...defaultContinuousBatcherConfig, ...config };
    this.loop = new EngineLoop(policy.generator, { stepsPerTurn: this.config.stepsPerTurn });
  }

  get stats(): SchedulerStats {
    return this.loop.stats;
  }

  submit(job: SampleJob): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      const { signal, onText, ...data } = job;
      const onAbort = (): void => this.loop.cancel(entry, signal.reason);
      const entry = this.loop.add(data, {
        ...(onText ? { text: onText } : {}),
        done: (seqs) => {
          signal.removeEventListener('abort', onAbort);
          resolve(jobResult(seqs, this.policy.tokenizer));
        },
        fail: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      // A client that disconnected while waiting costs nothing: its job never reaches a step.
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      // While decoding, the loop admits it at the next turn; when idle, start after the window.
      if (this.looping || this.timer) return;
      const start = (): void => {
        this.timer = undefined;
        void this.run();
      };
      this.timer = this.config.windowMs > 0 ? setTimeout(start, this.config.windowMs) : setImmediate(start);
    });
  }

  private async run(): Promise<void> {
    this.looping = true;
    try {
      while (this.loop.busy) {
        this.loop.turn();
        // The event loop reads new requests (and client disconnects) before the next step.
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.looping = false;
    }
  }
}

export interface BuiltinBackendOptions {
  /**
   * Run the engine on a thread of its own (engine-thread.ts), so that HTTP work overlaps decode
   * steps. Default: with a second core (os.availableParallelism() > 1). On the 2-core
   * development VM, with the benchmark's client on the same machine (three busy threads on two
   * cores), the engine waited 1.5, 1.5 and 1.4% of the clients' wall time against 12.3, 12.0
   * and 12.2% in the server's own thread (`bench/serve-overhead.mjs --mode continuous`, quiet,
   * alternating; session 32).
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
