import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { startWorker } from '../core/start-worker.js';
import type { FinishReason } from '../core/trajectory.js';
import type { ModelConfig } from '../nn/config.js';
import type { KernelChoice } from '../nn/engine.js';
import type { DecodeSequence } from '../nn/decode-session.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import type { BuiltinPolicy } from '../policy/builtin.js';
import type { JobResult, JobScheduler, SampleJob, SchedulerStats } from './batcher.js';
import type { ContinuousBatcherConfig } from './continuous-batcher.js';
import { promptTokenCounts, servedTokens, type EngineJob } from './engine-loop.js';
import { ChannelReader, ChannelWriter, channelMemory, RecordReader, RecordWriter, type ChannelMemory } from './word-channel.js';

/**
 * The built-in model's continuous batching on a thread of its own (engine-thread-worker.ts), as
 * vLLM runs its engine core in its own process: the main thread reads, parses and answers HTTP
 * while the engine thread runs decode steps back to back. In one thread the two take turns, and
 * every request read or response written is time the engine does not decode: 14–18% of wall time
 * at 16 concurrent clients (issue 10's orchestration overhead, measured in sessions 14 and 15).
 * It needs a core of its own to pay (see `BuiltinBackendOptions.engineThread`).
 *
 * The engine thread does as little as it can between two steps. Jobs go over and results come
 * back as records of words in shared memory (word-channel.ts), not as messages: the engine
 * thread reads the jobs between steps and sleeps on the channel when idle; this thread reads the
 * results on a short timer while any job is out, so the engine thread never pays for waking it.
 * Results come back as token ids, log-probabilities and text; token strings and response objects
 * are built here. The engine thread holds its own copy of the weights (the model is small beside
 * the KV cache). Seeded samples are the same as in-process (the same EngineLoop, the same Rng keys).
 */
export interface EngineThreadData {
  config: ModelConfig;
  alphabet: string;
  kernels: KernelChoice;
  weights: Float32Array;
  batcher: Partial<ContinuousBatcherConfig>;
  toEngine: ChannelMemory;
  fromEngine: ChannelMemory;
  /** SchedulerStats in order (`statKeys`), written by the engine thread after every turn. */
  stats: SharedArrayBuffer;
  /** The engine thread's ends of the two channels' ports. */
  toEnginePort: MessagePort;
  fromEnginePort: MessagePort;
  /** A message here wakes the server's thread to read results at once (sent when the engine goes idle). */
  wakePort: MessagePort;
}

export const statKeys = ['batches', 'steps', 'jobs', 'joinedMidBatch', 'cancelled', 'generationMs'] as const satisfies readonly (keyof SchedulerStats)[];

/** Ring words each way: 4 MiB, room for a few hundred results; a larger one goes through the port. */
export const channelWords = 1 << 20;

/**
 * How often this thread looks for results while jobs are out (ms): one look costs a few µs here
 * and nothing on the engine thread; a response waits half of it on average, against decode steps
 * of 1–3 ms. An engine thread that runs out of work wakes this thread at once instead (it has
 * nothing better to do with the 20–60 µs a wake-up costs it), so a lone request never waits.
 */
export const resultPollMs = 1;

// Record kinds.
export const SUBMIT = 1;
export const CANCEL = 2;
export const TEXT = 1;
export const DONE = 2;
export const ERROR = 3;

const finishReasons: readonly FinishReason[] = ['stop', 'eos', 'length'];

/** A job, its prompts as token ids (encoded here: the engine thread gets numbers, not text). */
export function writeSubmit(w: RecordWriter, id: number, job: EngineJob, stream: boolean, tokenizer: CharTokenizer): Int32Array {
  w.reset().int(SUBMIT).int(id).int(job.n).int(job.maxTokens).num(job.temperature).num(job.topP).int(job.topK).num(job.seed).int(stream ? 1 : 0);
  w.int(job.prompts.length);
  for (const p of job.prompts) w.ints(typeof p === 'string' ? tokenizer.encode(p, { bos: true }) : p);
  w.int(job.stop.length);
  for (const s of job.stop) w.str(s);
  return w.words();
}

export function readSubmit(r: RecordReader): { id: number; job: EngineJob; stream: boolean } {
  const id = r.int();
  const n = r.int();
  const maxTokens = r.int();
  const temperature = r.num();
  const topP = r.num();
  const topK = r.int();
  const seed = r.num();
  const stream = r.int() === 1;
  const prompts: number[][] = [];
  for (let k = r.int(); k > 0; k--) prompts.push(r.ints());
  const stop: string[] = [];
  for (let k = r.int(); k > 0; k--) stop.push(r.str());
  return { id, job: { prompts, n, maxTokens, temperature, topP, topK, seed, stop }, stream };
}

/**
 * A finished job: per sample its finish reason, token ids and log-probabilities. Its text is the
 * tokens' strings but the end of sequence's (how decodeNext writes it, and cutAfterStop cuts text
 * and tokens alike), so it is rebuilt there rather than copied.
 */
export function writeDone(w: RecordWriter, id: number, seqs: DecodeSequence[][]): Int32Array {
  w.reset().int(DONE).int(id);
  const { promptTokens, cachedPromptTokens } = promptTokenCounts(seqs);
  w.int(promptTokens).int(cachedPromptTokens);
  w.int(seqs.length).int(seqs[0]?.length ?? 0);
  for (const row of seqs) {
    for (const { sample: s } of row) w.int(finishReasons.indexOf(s.finishReason)).ints(s.tokenIds).nums(s.logprobs);
  }
  return w.words();
}

export function readDone(r: RecordReader, tokenizer: CharTokenizer): JobResult {
  const promptTokens = r.int();
  const cachedPromptTokens = r.int();
  const prompts = r.int();
  const n = r.int();
  const samples = Array.from({ length: prompts }, () =>
    Array.from({ length: n }, () => {
      const finishReason = finishReasons[r.int()]!;
      const tokens = servedTokens(r.ints(), tokenizer);
      return { text: tokens.join(''), tokens, logprobs: r.nums(), finishReason };
    }),
  );
  return { samples, promptTokens, cachedPromptTokens };
}

interface Pending {
  job: SampleJob;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  onAbort: () => void;
}

interface Thread {
  worker: Worker;
  toEngine: ChannelWriter;
  fromEngine: ChannelReader;
  stats: Float64Array;
}

export class EngineThreadScheduler implements JobScheduler {
  private thread: Thread | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly record = new RecordWriter();
  private timer: NodeJS.Timeout | undefined;
  /** Jobs dropped here before they reached the engine thread (its counters do not see them). */
  private cancelledHere = 0;
  /** The last figures read, kept when the thread ends. */
  private last: SchedulerStats = { batches: 0, steps: 0, jobs: 0, joinedMidBatch: 0, cancelled: 0, generationMs: 0 };

  /** `ringWords`: each channel's ring (tests shrink it to send records through the port). */
  constructor(private readonly policy: BuiltinPolicy, private readonly config: Partial<ContinuousBatcherConfig> = {}, private readonly ringWords = channelWords) {}

  /** The engine thread's counters, read from shared memory (live, also while a batch decodes). */
  get stats(): SchedulerStats {
    this.snapshot();
    return { ...this.last, cancelled: this.last.cancelled + this.cancelledHere };
  }

  private snapshot(): void {
    const t = this.thread;
    if (t) statKeys.forEach((k, i) => (this.last[k] = t.stats[i]!));
  }

  submit(job: SampleJob): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      if (job.signal.aborted) {
        this.cancelledHere++;
        reject(job.signal.reason);
        return;
      }
      const id = this.nextId++;
      const t = this.start();
      const { signal: _signal, onText, ...data } = job;
      // Encoded before anything is registered: a prompt that cannot be encoded fails alone.
      const words = writeSubmit(this.record, id, data, onText !== undefined, this.policy.tokenizer);
      const onAbort = (): void => {
        // The engine drops the job's sequences before its next step; the client is gone already.
        if (!this.pending.delete(id)) return;
        t.toEngine.write(this.record.reset().int(CANCEL).int(id).words());
        reject(job.signal.reason);
        this.idleCheck();
      };
      this.pending.set(id, { job, resolve, reject, onAbort });
      job.signal.addEventListener('abort', onAbort, { once: true });
      t.toEngine.write(words);
      t.worker.ref();
      this.timer ??= setInterval(() => this.poll(), resultPollMs);
    });
  }

  /** Ends the engine thread; jobs still out fail. */
  async close(): Promise<void> {
    const t = this.thread;
    this.snapshot();
    this.thread = null;
    this.failAll(new Error('the engine thread was closed'));
    if (t) await t.worker.terminate();
  }

  private start(): Thread {
    if (this.thread) return this.thread;
    const { model, tokenizer } = this.policy;
    const toEngine = channelMemory(this.ringWords);
    const fromEngine = channelMemory(this.ringWords);
    const toPorts = new MessageChannel();
    const fromPorts = new MessageChannel();
    const wake = new MessageChannel();
    const stats = new SharedArrayBuffer(statKeys.length * 8);
    const data: EngineThreadData = {
      config: model.config,
      alphabet: tokenizer.alphabet,
      kernels: model.kernels.name === 'reference' ? 'reference' : 'fast',
      weights: model.params.slice(),
      batcher: this.config,
      toEngine,
      fromEngine,
      stats,
      toEnginePort: toPorts.port2,
      fromEnginePort: fromPorts.port2,
      wakePort: wake.port2,
    };
    const worker = startWorker(import.meta.url, 'engine-thread-worker', data, [toPorts.port2, fromPorts.port2, wake.port2]);
    // Our ends are read with receiveMessageOnPort only, or only wake us: none keeps the process alive.
    toPorts.port1.unref();
    fromPorts.port1.unref();
    wake.port1.on('message', () => this.poll());
    wake.port1.unref();
    const t: Thread = { worker, toEngine: new ChannelWriter(toEngine, toPorts.port1), fromEngine: new ChannelReader(fromEngine, fromPorts.port1), stats: new Float64Array(stats) };
    const lost = (e: Error): void => {
      if (this.thread !== t) return;
      this.snapshot();
      this.thread = null;
      this.failAll(e);
    };
    worker.on('error', (e) => lost(new Error(`engine thread failed: ${e.message}`)));
    worker.on('exit', (code) => lost(new Error(`engine thread exited (code ${code})`)));
    this.thread = t;
    return t;
  }

  private poll(): void {
    const t = this.thread;
    if (!t) return;
    for (let words = t.fromEngine.read(); words; words = t.fromEngine.read()) {
      const r = new RecordReader(words);
      const kind = r.int();
      const id = r.int();
      const p = this.pending.get(id);
      if (!p) continue;
      if (kind === TEXT) {
        const prompt = r.int();
        const sample = r.int();
        try {
          p.job.onText?.(prompt, sample, r.str());
        } catch (e) {
          // A stream that cannot be written to: that job fails and leaves the batch; the others go on.
          this.pending.delete(id);
          p.job.signal.removeEventListener('abort', p.onAbort);
          t.toEngine.write(this.record.reset().int(CANCEL).int(id).words());
          p.reject(e);
        }
        continue;
      }
      this.pending.delete(id);
      p.job.signal.removeEventListener('abort', p.onAbort);
      if (kind === DONE) p.resolve(readDone(r, this.policy.tokenizer));
      else p.reject(new Error(r.str()));
    }
    this.idleCheck();
  }

  /** With no job out, the timer stops and an idle engine thread does not keep the process alive. */
  private idleCheck(): void {
    if (this.pending.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.thread?.worker.unref();
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) {
      p.job.signal.removeEventListener('abort', p.onAbort);
      p.reject(e);
    }
    this.pending.clear();
    this.idleCheck();
  }
}
