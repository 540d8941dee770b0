import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { tsxEsmApi } from '../core/start-worker.js';
import type { ModelConfig } from './config.js';
import type { KernelChoice } from './engine.js';
import type { PackedRows } from './microbatch.js';
import type { Transformer } from './model.js';

/** What a training worker is started with (train-worker-entry.ts). */
export interface TrainWorkerData {
  config: ModelConfig;
  kernels: KernelChoice;
  /** Float32Array over it: the main thread's parameters, written before each job. */
  params: SharedArrayBuffer;
  /** Float32Array over it: the worker's gradient, written before it signals done. */
  grads: SharedArrayBuffer;
  /** Int32Array[2]: [DONE] the last finished job's seq, [READY] 1 once loaded, −1 if loading failed. */
  ctrl: SharedArrayBuffer;
  /** Replies go here, so the blocked main thread can read them with receiveMessageOnPort. */
  port: MessagePort;
}

/** A worker's share of one optimizer step: its rows of the batch. */
export interface TrainJob extends PackedRows {
  seq: number;
  total: number;
}

export type TrainReply = { seq: number; lossSum: number } | { seq: number; error: string };

export const DONE = 0;
export const READY = 1;

export interface TrainWorkerPoolOptions {
  /** Workers end after this many ms without a step and start again on the next (default 10 s): frees their memory between the loop's phases. */
  idleMs: number;
  /** Longest wait for a worker to load (default 120 s: loading onnxruntime on a busy machine). */
  startTimeoutMs: number;
  /** Longest wait for one worker's share of a step (default 10 min). */
  stepTimeoutMs: number;
}

export const defaultTrainWorkerPoolOptions = { idleMs: 10_000, startTimeoutMs: 120_000, stepTimeoutMs: 600_000 } satisfies TrainWorkerPoolOptions;

interface Slot {
  worker: Worker;
  port: MessagePort;
  ctrl: Int32Array;
  grads: Float32Array;
  /** Seq of the job out, or −1. */
  pending: number;
  /** Set by the worker's error/exit events (seen between steps, never while the main thread waits). */
  lost: string | null;
}

/**
 * Worker threads for data-parallel training, each with its own copy of a main-thread model (same
 * config, its own kernels on one onnxruntime thread). The main thread posts each worker its rows
 * of a step's batch, computes its own rows, then `collect`s: it blocks (Atomics.wait) until the
 * worker is done and takes the worker's gradient, which the trainer hands to AdamW (the update
 * adds it to `model.grads`). The trainer's step stays synchronous, so callers see no change.
 *
 * Parameters reach the workers through one SharedArrayBuffer that the main thread overwrites
 * before each step (4 MB for the demo size: about a millisecond); onnxruntime-node refuses typed
 * arrays over shared memory, so a worker copies it into its own model. Gradients come back through
 * a SharedArrayBuffer per worker. Workers are unref'd: a finished command exits without closing them.
 */
export class TrainWorkerPool {
  private readonly opts: TrainWorkerPoolOptions;
  private readonly params: Float32Array;
  private readonly slots: (Slot | null)[];
  private seq = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly model: Transformer,
    readonly workers: number,
    opts: Partial<TrainWorkerPoolOptions> = {},
  ) {
    this.opts = { ...defaultTrainWorkerPoolOptions, ...opts };
    this.params = new Float32Array(new SharedArrayBuffer(model.params.byteLength));
    this.slots = Array.from({ length: workers }, () => null);
  }

  /** Copies the model's current parameters where the workers read them; call before dispatching a step's jobs. */
  publish(): void {
    this.params.set(this.model.params);
  }

  /** Posts rows of the batch to worker `w` (started on first use); `collect(w)` gets the result. */
  dispatch(w: number, rows: PackedRows, total: number): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const slot = this.slot(w);
    if (slot.pending >= 0) throw new Error(`train worker ${w}: a job is already out`);
    const seq = ++this.seq;
    slot.pending = seq;
    // slice(): posting a view would clone its whole underlying buffer.
    const job: TrainJob = { seq, inputs: rows.inputs.slice(), targets: rows.targets.slice(), mask: rows.mask.slice(), chunks: rows.chunks, total };
    slot.worker.postMessage(job, [job.inputs.buffer as ArrayBuffer, job.targets.buffer as ArrayBuffer, job.mask.buffer as ArrayBuffer]);
  }

  /**
   * Waits for worker `w`'s job and returns its loss sum (Σ microbatch mean loss × loss tokens) and
   * its gradient (a view, valid until the next dispatch to this worker: the trainer hands it to
   * AdamW, which adds it to the main thread's in one SIMD pass). Throws, ending the workers, if
   * the worker failed.
   */
  collect(w: number): { lossSum: number; grads: Float32Array } {
    const slot = this.slots[w];
    if (!slot || slot.pending < 0) throw new Error(`train worker ${w}: no job out`);
    const seq = slot.pending;
    try {
      this.waitFor(w, slot, seq);
      const reply = receiveMessageOnPort(slot.port)?.message as TrainReply | undefined;
      if (!reply || reply.seq !== seq) throw new Error(`train worker ${w}: no reply to job ${seq}`);
      if ('error' in reply) throw new Error(`train worker ${w}: ${reply.error}`);
      slot.pending = -1;
      if (this.slots.every((s) => !s || s.pending < 0)) this.armIdleTimer();
      return { lossSum: reply.lossSum, grads: slot.grads };
    } catch (e) {
      void this.close();
      throw e;
    }
  }

  /** Ends every worker; the pool starts them again if used after. */
  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const ending = this.slots.map((s, i) => {
      this.slots[i] = null;
      if (!s) return Promise.resolve();
      s.port.close();
      return s.worker.terminate().then(() => undefined);
    });
    await Promise.all(ending);
  }

  /** Number of workers started now (for tests). */
  get running(): number {
    return this.slots.filter((s) => s !== null).length;
  }

  private waitFor(w: number, slot: Slot, seq: number): void {
    const start = performance.now();
    for (;;) {
      if (Atomics.load(slot.ctrl, DONE) === seq) return;
      const ready = Atomics.load(slot.ctrl, READY);
      if (ready === -1) {
        const m = receiveMessageOnPort(slot.port)?.message as TrainReply | undefined;
        throw new Error(`train worker ${w} failed to start: ${m && 'error' in m ? m.error : 'unknown error'}`);
      }
      if (slot.lost) throw new Error(`train worker ${w}: ${slot.lost}`);
      const limit = ready === 1 ? this.opts.stepTimeoutMs : this.opts.startTimeoutMs;
      const waited = performance.now() - start;
      if (waited >= limit) throw new Error(`train worker ${w}: no result after ${Math.round(waited / 1000)} s (${ready === 1 ? 'step' : 'start'} timeout)`);
      // Wake at least every second to re-check READY (a worker that fails to load signals there).
      const done = Atomics.load(slot.ctrl, DONE);
      if (done !== seq) Atomics.wait(slot.ctrl, DONE, done, Math.min(1000, limit - waited));
    }
  }

  private slot(w: number): Slot {
    if (w < 0 || w >= this.workers) throw new Error(`train worker pool: no worker ${w} (it has ${this.workers})`);
    const existing = this.slots[w];
    if (existing && !existing.lost) return existing;
    if (existing) {
      this.slots[w] = null;
      void existing.worker.terminate();
    }
    const channel = new MessageChannel();
    const grads = new Float32Array(new SharedArrayBuffer(this.model.grads.byteLength));
    const ctrl = new Int32Array(new SharedArrayBuffer(8));
    const data: TrainWorkerData = {
      config: this.model.config,
      kernels: this.model.kernels.name === 'reference' ? 'reference' : 'fast',
      params: this.params.buffer as SharedArrayBuffer,
      grads: grads.buffer as SharedArrayBuffer,
      ctrl: ctrl.buffer as SharedArrayBuffer,
      port: channel.port2,
    };
    const worker = startTrainWorker(data, [channel.port2]);
    worker.unref();
    const slot: Slot = { worker, port: channel.port1, ctrl, grads, pending: -1, lost: null };
    worker.on('error', (e) => (slot.lost = `failed: ${e.message}`));
    worker.on('exit', (code) => {
      slot.lost ??= `exited (code ${code})`;
      if (this.slots[w] === slot) this.slots[w] = null;
    });
    this.slots[w] = slot;
    return slot;
  }

  private armIdleTimer(): void {
    if (this.opts.idleMs <= 0 || !Number.isFinite(this.opts.idleMs)) return;
    this.idleTimer = setTimeout(() => void this.close(), this.opts.idleMs);
    this.idleTimer.unref();
  }
}

/**
 * Starts train-worker-entry: the compiled .js beside this file, or, when running from TypeScript
 * sources (vitest, tsx), the .ts entry loaded through tsx's API inside the worker (as
 * engine-pool.ts does): no build needed for tests, and no loader flags for users. A small eval'd
 * bootstrap does the import so that a failure to load is reported through the shared READY flag,
 * which the blocked main thread can see (an 'error' event could not reach it).
 */
function startTrainWorker(workerData: TrainWorkerData, transferList: MessagePort[]): Worker {
  const self = import.meta.url;
  let load: string;
  if (self.endsWith('.ts')) {
    const entry = new URL('./train-worker-entry.ts', self).href;
    const tsx = tsxEsmApi(self);
    load = `import(${JSON.stringify(tsx)}).then((api) => api.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`;
  } else {
    load = `import(${JSON.stringify(new URL('./train-worker-entry.js', self).href)})`;
  }
  // Dynamic import() only: the worker inherits the parent's execArgv, and with --input-type=module
  // (node -e) eval'd code is an ES module, where require is undefined.
  const code = `import('node:worker_threads').then(({ workerData }) => ${load}.catch((e) => {
  try { workerData.port.postMessage({ seq: -1, error: String((e && e.stack) || e).split('\\n').slice(0, 3).join(' | ') }); } catch {}
  const ctrl = new Int32Array(workerData.ctrl);
  Atomics.store(ctrl, ${READY}, -1);
  Atomics.notify(ctrl, ${DONE});
}));`;
  return new Worker(code, { eval: true, workerData, transferList });
}

/** Pools by model and worker count: every trainer over one model (the loop makes one per iteration) shares its workers. */
const pools = new WeakMap<Transformer, Map<number, TrainWorkerPool>>();

export function sharedTrainWorkerPool(model: Transformer, workers: number): TrainWorkerPool {
  let byCount = pools.get(model);
  if (!byCount) pools.set(model, (byCount = new Map()));
  let pool = byCount.get(workers);
  if (!pool) byCount.set(workers, (pool = new TrainWorkerPool(model, workers)));
  return pool;
}
