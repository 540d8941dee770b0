import { DecodeSession, type DecodeRequest, type DecodeSequence, type DecodeStep } from '../nn/decode-session.js';
import type { Generator } from '../nn/generate.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import type { JobResult, SampleJob, SchedulerStats, ServedSample } from './batcher.js';

/**
 * The synchronous core of continuous batching (Orca, Yu et al. 2022; vLLM's scheduler): one
 * DecodeSession, jobs that join it at the next step (their prompts prefilled in that step's
 * forward pass, through the prefix cache), sequences that leave it the step they end, a job
 * handed back as soon as its last sequence ends. No promises, signals or timers: its driver
 * calls `turn()` while `busy`, and takes new jobs and cancellations between turns. Two drivers
 * share it: ContinuousBatcher in the server's own thread (promises, abort signals, an event-loop
 * turn between steps) and the engine thread (engine-thread-worker.ts: jobs and results through
 * shared memory, no event loop at all), so both schedule alike and draw the same samples.
 *
 * Each sample keeps its own Rng key (`seed/promptIndex/sampleIndex`, what Generator.generate
 * uses for the request alone), so a seeded job gets the same samples whatever shares its steps or
 * whenever it joins. Streaming is per token: after each step a streaming job's new text goes to
 * its sink, except a tail that could still begin a stop string (held back until it cannot).
 */
export interface EngineLoopConfig {
  /**
   * Decode steps run back to back in one turn, before the driver admits new jobs, drops those
   * whose client left and lets finished jobs' responses go out (vLLM's multi-step scheduling,
   * `--num-scheduler-steps`). Streams still get their text after every step. More steps spend
   * less of the engine's time between steps; a job then waits up to `stepsPerTurn − 1` steps to
   * join and to be answered. Default 1.
   */
  stepsPerTurn: number;
}

export const defaultEngineLoopConfig = { stepsPerTurn: 1 } satisfies EngineLoopConfig;

/**
 * A job as the engine needs it: SampleJob without the driver's signal and stream callback, each
 * prompt as text or as token ids with BOS (the engine thread gets ids, encoded on the server's thread).
 */
export type EngineJob = Omit<SampleJob, 'signal' | 'onText' | 'prompts'> & { prompts: readonly (string | readonly number[])[] };

/** Where a job's text and end go. Called from inside `turn()`. */
export interface JobSink {
  /** Streaming (absent: the job does not stream): new text of sample `sample` of prompt `prompt`. Throwing drops the job. */
  text?(prompt: number, sample: number, delta: string): void;
  /** The job's sequences, all done: seqs[p][j] is sample j of prompt p. */
  done(seqs: DecodeSequence[][]): void;
  fail(e: unknown): void;
}

/** A job in the loop; `cancel` takes it out. */
export interface LoopJob {
  readonly job: EngineJob;
  readonly sink: JobSink;
  /** seqs[p][j] once admitted; sent[p][j]: characters streamed. */
  seqs: DecodeSequence[][] | null;
  sent: number[][];
  left: number;
  ended: boolean;
}

/** The loop's requests carry their job and place, so a sequence leads back to its job without a lookup. */
interface LoopRequest extends DecodeRequest {
  owner: LoopJob;
  p: number;
  j: number;
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

/** A sample's token strings as the server answers them: '' for end of sequence. */
export function servedTokens(ids: readonly number[], tokenizer: CharTokenizer): string[] {
  return ids.map((id) => (id === tokenizer.eos ? '' : tokenizer.tokenString(id)));
}

/** A finished job's prompt tokens and those the prefix cache held: per prompt, not per sample (its n samples share one prefill). */
export function promptTokenCounts(seqs: DecodeSequence[][]): { promptTokens: number; cachedPromptTokens: number } {
  return { promptTokens: seqs.reduce((t, row) => t + row[0]!.promptTokens, 0), cachedPromptTokens: seqs.reduce((t, row) => t + row[0]!.cachedPromptTokens, 0) };
}

/** A finished job's samples as the server answers them. */
export function jobResult(seqs: DecodeSequence[][], tokenizer: CharTokenizer): JobResult {
  const samples: ServedSample[][] = seqs.map((row) => row.map(({ sample: s }) => ({ text: s.text, tokens: servedTokens(s.tokenIds, tokenizer), logprobs: s.logprobs, finishReason: s.finishReason })));
  return { samples, ...promptTokenCounts(seqs) };
}

export class EngineLoop {
  readonly stats: SchedulerStats = { batches: 0, steps: 0, jobs: 0, joinedMidBatch: 0, cancelled: 0, generationMs: 0 };
  private readonly config: EngineLoopConfig;
  private session: DecodeSession;
  private queue: LoopJob[] = [];
  private running = new Set<LoopJob>();
  /** Running jobs that stream: without any, a step's advanced sequences need no look. */
  private streaming = 0;
  private idle = true;

  constructor(private readonly generator: Generator, config: Partial<EngineLoopConfig> = {}) {
    this.config = { ...defaultEngineLoopConfig, ...config };
    if (!Number.isInteger(this.config.stepsPerTurn) || this.config.stepsPerTurn < 1) throw new Error(`stepsPerTurn ${this.config.stepsPerTurn}: expected an integer >= 1`);
    this.session = new DecodeSession(generator);
  }

  /** Work queued or decoding: the driver calls `turn()` until this is false. */
  get busy(): boolean {
    return this.queue.length > 0 || this.running.size > 0;
  }

  /** Queues a job; it joins the batch at the next turn. */
  add(job: EngineJob, sink: JobSink): LoopJob {
    const r: LoopJob = { job, sink, seqs: null, sent: [], left: 0, ended: false };
    this.queue.push(r);
    return r;
  }

  /** Takes a job out (its client left): queued, it never runs; running, its sequences leave the batch and free their KV. */
  cancel(r: LoopJob, reason: unknown): void {
    if (r.ended) return;
    if (r.seqs === null) this.queue = this.queue.filter((x) => x !== r);
    this.drop(r, reason);
  }

  /** Admits queued jobs, then runs up to `stepsPerTurn` decode steps; sinks hear of text and ends. */
  turn(): void {
    this.admit();
    if (this.session.size === 0) {
      this.idle = true;
      return;
    }
    if (this.idle) {
      // A busy period begins: the engine goes from idle to work.
      this.idle = false;
      this.stats.batches++;
    }
    for (let k = 0; k < this.config.stepsPerTurn && this.session.size > 0; k++) {
      const t0 = performance.now();
      let ev: DecodeStep;
      try {
        ev = this.session.step();
      } catch (e) {
        this.failAll(e);
        return;
      }
      this.stats.generationMs += performance.now() - t0;
      this.stats.steps++;
      this.deliver(ev);
    }
    if (this.session.size === 0 && this.queue.length === 0) this.idle = true;
  }

  private admit(): void {
    if (this.queue.length === 0) return;
    const queue = this.queue;
    this.queue = [];
    for (const r of queue) {
      const { job } = r;
      const reqs: LoopRequest[] = [];
      for (let p = 0; p < job.prompts.length; p++) {
        const prefix = job.prompts[p]!;
        for (let j = 0; j < job.n; j++) reqs.push({ prefix, maxTokens: job.maxTokens, stop: job.stop, temperature: job.temperature, topP: job.topP, topK: job.topK, rngKey: `${job.seed}/${p}/${j}`, owner: r, p, j });
      }
      let flat: DecodeSequence[];
      try {
        flat = this.session.add(reqs);
      } catch (e) {
        r.ended = true;
        r.sink.fail(e);
        continue;
      }
      if (this.running.size > 0) this.stats.joinedMidBatch++;
      this.stats.jobs++;
      r.seqs = [];
      for (let p = 0; p < job.prompts.length; p++) r.seqs.push(flat.slice(p * job.n, (p + 1) * job.n));
      if (r.sink.text) r.sent = job.prompts.map(() => new Array<number>(job.n).fill(0));
      r.left = flat.length;
      this.running.add(r);
      if (r.sink.text) this.streaming++;
    }
  }

  /** A job leaves: its sequences are cancelled (KV released), the rest of the batch goes on. */
  private drop(r: LoopJob, reason: unknown): void {
    this.leave(r);
    for (const s of r.seqs?.flat() ?? []) this.session.cancel(s);
    this.stats.cancelled++;
    r.sink.fail(reason);
  }

  private leave(r: LoopJob): void {
    r.ended = true;
    if (r.seqs === null) return;
    this.running.delete(r);
    if (r.sink.text) this.streaming--;
  }

  private deliver(ev: DecodeStep): void {
    if (this.streaming > 0) {
      for (const s of ev.advanced) {
        const { owner: r, p, j } = s.request as LoopRequest;
        if (r.ended || !r.sink.text) continue;
        const text = s.sample.text;
        const safe = text.length - stopHoldBack(text, r.job.stop);
        const sent = r.sent[p]![j]!;
        if (safe > sent) {
          r.sent[p]![j] = safe;
          try {
            r.sink.text(p, j, text.slice(sent, safe));
          } catch (e) {
            // A stream that cannot be written to: that job fails, the batch goes on.
            if (!r.ended) this.drop(r, e);
          }
        }
      }
    }
    for (const s of ev.finished) {
      const r = (s.request as LoopRequest).owner;
      if (r.ended || --r.left > 0) continue;
      this.leave(r);
      r.sink.done(r.seqs!);
    }
  }

  /** An engine error: every running job fails with it, and a fresh session takes over. */
  private failAll(e: unknown): void {
    const running = [...this.running];
    this.running.clear();
    this.streaming = 0;
    this.session = new DecodeSession(this.generator);
    this.idle = true;
    for (const r of running) {
      r.ended = true;
      r.sink.fail(e);
    }
  }
}
