import type { Worker } from 'node:worker_threads';
import { startWorker } from '../core/start-worker.js';
import type { ModelConfig } from '../nn/config.js';
import type { KernelChoice } from '../nn/engine.js';
import type { BuiltinPolicy } from '../policy/builtin.js';
import type { JobResult, JobScheduler, SampleJob, SchedulerStats } from './batcher.js';
import type { ContinuousBatcherConfig } from './continuous-batcher.js';

/**
 * The built-in model's continuous batching on a thread of its own (engine-thread-worker.ts), as
 * vLLM runs its engine core in its own process: the main thread reads, parses and answers HTTP
 * while the engine thread runs decode steps back to back. In one thread the two take turns, and
 * every request read or response written is time the engine does not decode: 14–18% of wall time
 * at 16 concurrent clients (issue 10's orchestration overhead, measured in sessions 14 and 15).
 * It needs a core of its own to pay (see `BuiltinBackendOptions.engineThread`).
 *
 * The engine thread holds its own copy of the weights (the model is small beside the KV cache).
 * A job goes over as plain data; its stream comes back as text deltas, and a client that leaves
 * cancels its job there at the next step. Seeded samples are the same as in-process (the same
 * ContinuousBatcher, the same Rng keys).
 */
export interface EngineThreadData {
  config: ModelConfig;
  alphabet: string;
  kernels: KernelChoice;
  weights: Float32Array;
  batcher: Partial<ContinuousBatcherConfig>;
}

export type JobData = Omit<SampleJob, 'signal' | 'onText'> & { stream: boolean };

export type ToEngine = { type: 'submit'; id: number; job: JobData } | { type: 'cancel'; id: number };

export type FromEngine =
  | { type: 'text'; id: number; prompt: number; sample: number; delta: string }
  | { type: 'done'; id: number; result: JobResult; stats: SchedulerStats }
  | { type: 'error'; id: number; message: string; stats: SchedulerStats };

interface Pending {
  job: SampleJob;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  onAbort: () => void;
}

export class EngineThreadScheduler implements JobScheduler {
  readonly stats: SchedulerStats = { batches: 0, steps: 0, jobs: 0, joinedMidBatch: 0, cancelled: 0, generationMs: 0 };
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** Jobs dropped here before they reached the engine thread (its counters do not see them). */
  private cancelledHere = 0;

  constructor(private readonly policy: BuiltinPolicy, private readonly config: Partial<ContinuousBatcherConfig> = {}) {}

  submit(job: SampleJob): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      if (job.signal.aborted) {
        this.cancelledHere++;
        this.stats.cancelled++;
        reject(job.signal.reason);
        return;
      }
      const id = this.nextId++;
      const worker = this.start();
      const onAbort = (): void => {
        // The engine drops the job's sequences at its next step; the client is gone already.
        if (!this.pending.delete(id)) return;
        worker.postMessage({ type: 'cancel', id } satisfies ToEngine);
        reject(job.signal.reason);
      };
      this.pending.set(id, { job, resolve, reject, onAbort });
      job.signal.addEventListener('abort', onAbort, { once: true });
      worker.ref();
      const { signal: _signal, onText, ...data } = job;
      worker.postMessage({ type: 'submit', id, job: { ...data, stream: onText !== undefined } } satisfies ToEngine);
    });
  }

  /** Ends the engine thread; jobs still out fail. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.failAll(new Error('the engine thread was closed'));
    if (w) await w.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const { model, tokenizer } = this.policy;
    const data: EngineThreadData = {
      config: model.config,
      alphabet: tokenizer.alphabet,
      kernels: model.kernels.name === 'reference' ? 'reference' : 'fast',
      weights: model.params.slice(),
      batcher: this.config,
    };
    const w = startWorker(import.meta.url, 'engine-thread-worker', data);
    w.on('message', (m: FromEngine) => this.receive(m));
    const lost = (e: Error): void => {
      if (this.worker !== w) return;
      this.worker = null;
      this.failAll(e);
    };
    w.on('error', (e) => lost(new Error(`engine thread failed: ${e.message}`)));
    w.on('exit', (code) => lost(new Error(`engine thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  private receive(m: FromEngine): void {
    if (m.type !== 'text') Object.assign(this.stats, m.stats, { cancelled: m.stats.cancelled + this.cancelledHere });
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'text') {
      p.job.onText?.(m.prompt, m.sample, m.delta);
      return;
    }
    this.pending.delete(m.id);
    p.job.signal.removeEventListener('abort', p.onAbort);
    if (m.type === 'done') p.resolve(m.result);
    else p.reject(new Error(m.message));
    // An idle engine thread does not keep the process alive.
    if (this.pending.size === 0) this.worker?.unref();
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) {
      p.job.signal.removeEventListener('abort', p.onAbort);
      p.reject(e);
    }
    this.pending.clear();
  }
}
