import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../core/start-worker.js';
import type { ModelConfig } from './config.js';
import type { KernelChoice } from './engine.js';
import type { GeneratorOptions } from './generate.js';
import type { Transformer } from './model.js';
import type { CallResult, CallSampling, RequestPart } from './split-generate.js';
import type { CharTokenizer } from './tokenizer.js';

/** What a worker is started with (engine-worker.ts). */
export interface EngineWorkerData {
  config: ModelConfig;
  alphabet: string;
  kernels: KernelChoice;
  ortThreads?: number;
  /** The weights, as the main thread last published them (Float32Array over it). */
  weights: SharedArrayBuffer;
  /** Int32Array[1]: the weights' version, bumped after each publication of changed weights. */
  version: SharedArrayBuffer;
  /** Int32Array[1]: jobs finished by all workers; a worker adds 1 after posting each reply. */
  finished: SharedArrayBuffer;
}

/** One batched generate on a worker: the calls of one or more requests that share `sampling` (runBatched). */
export interface EngineJob {
  id: number;
  parts: RequestPart[];
  sampling: Omit<CallSampling, 'seed'>;
  generator: GeneratorOptions;
}

export type EngineReply = { id: number; results: CallResult[][] } | { id: number; error: string };

export interface EnginePoolOptions {
  /** Worker threads, each with its own engine (0: none; the main thread does all the work). */
  workers: number;
  /**
   * Idle workers end after this many milliseconds without a job and start again on the next
   * one (about half a second). Frees their memory between phases (the loop's training) and
   * cleans up after policies nobody disposes.
   */
  idleMs: number;
}

/**
 * Default worker count: one per core beyond the main thread's (os.availableParallelism() − 1),
 * or SEARCHLEARN_WORKERS when set (0 turns workers off).
 */
export function defaultWorkerCount(): number {
  const env = process.env['SEARCHLEARN_WORKERS'];
  if (env !== undefined && env.trim() !== '' && Number.isInteger(Number(env)) && Number(env) >= 0) return Number(env);
  return Math.max(0, availableParallelism() - 1);
}

export const defaultEnginePoolOptions = { workers: 1, idleMs: 30_000 } satisfies EnginePoolOptions;

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: CallResult[][]) => void; reject: (e: Error) => void }>;
}

/**
 * Worker threads that each own an inference engine over the same weights as a main-thread
 * model. The weights travel once per change: `publish()` compares the model's parameters with
 * the shared copy (a memcmp) and, when training changed them in place, writes them and bumps
 * the version the workers check before each job. Workers are unref'd while idle (a finished
 * command exits without closing them) and ref'd while a job is out.
 */
export class EnginePool {
  readonly workers: number;
  private readonly opts: EnginePoolOptions;
  private readonly shared: Float32Array;
  private readonly version: Int32Array;
  private readonly finished = new Int32Array(new SharedArrayBuffer(4));
  private readonly slots: (Slot | null)[];
  private nextId = 0;
  private inFlight = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(readonly model: Transformer, readonly tokenizer: CharTokenizer, opts: Partial<EnginePoolOptions> = {}) {
    this.opts = { ...defaultEnginePoolOptions, ...opts };
    this.workers = this.opts.workers;
    this.shared = new Float32Array(new SharedArrayBuffer(model.params.byteLength));
    this.version = new Int32Array(new SharedArrayBuffer(4));
    this.shared.set(model.params);
    this.slots = Array.from({ length: this.workers }, () => null);
  }

  /** Publishes the model's current weights to the workers if they changed since the last time. */
  publish(): void {
    const p = this.model.params;
    const mine = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    const theirs = Buffer.from(this.shared.buffer, 0, this.shared.byteLength);
    if (mine.equals(theirs)) return;
    this.shared.set(p);
    Atomics.add(this.version, 0, 1);
  }

  /**
   * Jobs the workers have finished, counted as each posts its reply: read while the main thread
   * is busy (before the reply's message is handled), it tells that a worker has gone idle.
   */
  finishedJobs(): number {
    return Atomics.load(this.finished, 0);
  }

  /** Runs a job on worker `w` (started on first use); resolves with one result per part, per call. */
  run(w: number, job: Omit<EngineJob, 'id'>): Promise<CallResult[][]> {
    const slot = this.slot(w);
    const id = this.nextId++;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    return new Promise<CallResult[][]>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      this.inFlight++;
      slot.worker.ref();
      slot.worker.postMessage({ ...job, id } satisfies EngineJob);
    });
  }

  /** Ends every worker (jobs still out are rejected); the pool starts them again if used after. */
  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const ending = this.slots.map((s, i) => {
      if (!s) return Promise.resolve();
      this.slots[i] = null;
      this.fail(s, new Error('engine pool closed'));
      return s.worker.terminate().then(() => undefined);
    });
    await Promise.all(ending);
  }

  private slot(w: number): Slot {
    if (w < 0 || w >= this.workers) throw new Error(`engine pool: no worker ${w} (it has ${this.workers})`);
    const existing = this.slots[w];
    if (existing) return existing;
    const data: EngineWorkerData = {
      config: this.model.config,
      alphabet: this.tokenizer.alphabet,
      kernels: this.model.kernels.name === 'reference' ? 'reference' : 'fast',
      weights: this.shared.buffer as SharedArrayBuffer,
      version: this.version.buffer as SharedArrayBuffer,
      finished: this.finished.buffer as SharedArrayBuffer,
    };
    const slot: Slot = { worker: startEngineWorker(data), pending: new Map() };
    slot.worker.unref();
    slot.worker.on('message', (reply: EngineReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      this.inFlight--;
      if (slot.pending.size === 0) slot.worker.unref();
      if (this.inFlight === 0) this.armIdleTimer();
      if ('error' in reply) p.reject(new Error(reply.error));
      else p.resolve(reply.results);
    });
    const lost = (e: Error): void => {
      if (this.slots[w] === slot) this.slots[w] = null;
      this.fail(slot, e);
    };
    slot.worker.on('error', (e) => lost(new Error(`engine worker ${w} failed: ${e.message}`)));
    slot.worker.on('exit', (code) => lost(new Error(`engine worker ${w} exited (code ${code})`)));
    this.slots[w] = slot;
    return slot;
  }

  private fail(slot: Slot, e: Error): void {
    for (const p of slot.pending.values()) {
      this.inFlight--;
      p.reject(e);
    }
    slot.pending.clear();
  }

  private armIdleTimer(): void {
    if (this.opts.idleMs <= 0 || !Number.isFinite(this.opts.idleMs)) return;
    this.idleTimer = setTimeout(() => void this.close(), this.opts.idleMs);
    this.idleTimer.unref();
  }
}

function startEngineWorker(workerData: EngineWorkerData): Worker {
  return startWorker(import.meta.url, 'engine-worker', workerData);
}

/** Pools by model and worker count: every policy over one model shares its workers (the loop makes a new policy per iteration). */
const pools = new WeakMap<Transformer, Map<string, EnginePool>>();

export function sharedEnginePool(model: Transformer, tokenizer: CharTokenizer, opts: Partial<EnginePoolOptions> = {}): EnginePool {
  const o = { ...defaultEnginePoolOptions, ...opts };
  let byKey = pools.get(model);
  if (!byKey) pools.set(model, (byKey = new Map()));
  const key = `${o.workers}/${o.idleMs}/${tokenizer.alphabet}`;
  let pool = byKey.get(key);
  if (!pool) byKey.set(key, (pool = new EnginePool(model, tokenizer, o)));
  return pool;
}
