import type { EnginePool } from './engine-pool.js';
import type { GenerateOptions, GeneratorOptions, Generator } from './generate.js';
import { defaultSamplingParams } from './sampler.js';
import { mergeCalls, planSplit, runBatched, startBatched, type CallResult, type CallSampling, type EngineCall, type RequestPart } from './split-generate.js';

export interface ParallelGenerateOptions {
  /**
   * Fewest samples an engine is given when a request is split: the split's batch floor. A request
   * alone with fewer than twice this many samples runs whole on the main thread (a tree search's
   * one-prefix calls, whose prefix cache lives there); requests in flight together go whole to
   * engines whatever their size. Default 32, so a lone request is cut from 64 samples up.
   * Measured on the 2-core VM (demo size, 112 new tokens, one engine against two, same process,
   * quiet): a 64-sample request cut into halves of 32 ran 1.40–1.48× faster when no sample stops
   * early and 1.06× with the model's own stops (fill 0.39), a 32-sample one cut into halves of 16
   * 1.39× and 0.84×, halves of 8 0.86×. Below ~16 live rows per engine a decode step's fixed costs
   * (kernel calls, sampling in JavaScript) outweigh the second core, and samples that stop early
   * shrink the live batch further. (Before the decode step's dense work became one onnxruntime
   * call per half block, halves of 32 ran at 0.80×, and the floor was 64.)
   */
  minSamplesPerEngine: number;
}

export const defaultParallelGenerateOptions = { minSamplesPerEngine: 32 } satisfies ParallelGenerateOptions;

type Request = Partial<Omit<GenerateOptions, 'sampleKey' | 'counts'>> & { maxTokens: number };

interface Pending {
  prefixes: string[];
  options: Request;
  resolve: (r: CallResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Sampling on both (all) cores. Requests that arrive together (the searches of several problems
 * in flight, `eval --concurrency C`) go whole to the least loaded engines, and the ones an engine
 * gets decode there as one batch (runBatched: wider matrix products than one request each); a
 * request alone is cut into equal runs (split-generate.ts), the first computed on the main
 * thread's Generator while the others go to the pool's worker engines at the same time, and the
 * pieces are merged back in order. Either way the samples are those of `main.generate` on the
 * request (each keeps its own random stream), whatever the number of workers or the routing;
 * usage counts prompt tokens once per prefix.
 */
export class ParallelGenerator {
  private readonly o: ParallelGenerateOptions;
  private queue: Pending[] = [];
  /** Samples sent to each worker and not yet back. */
  private readonly outstanding: number[];
  /** Samples in the main thread's runs in flight (`runHere`). */
  private here = 0;

  constructor(
    readonly main: Generator,
    readonly pool: EnginePool,
    private readonly generatorOptions: GeneratorOptions,
    opts: Partial<ParallelGenerateOptions> = {},
  ) {
    this.o = { ...defaultParallelGenerateOptions, ...opts };
    this.outstanding = Array.from({ length: pool.workers }, () => 0);
  }

  generate(prefixes: string[], options: Request): Promise<CallResult> {
    return new Promise<CallResult>((resolve, reject) => {
      this.queue.push({ prefixes, options, resolve, reject });
      // Wait one turn of the event loop for the other searches' requests of this round.
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (batch.length === 1 && this.here === 0 && this.outstanding.every((x) => x === 0)) {
      const r = batch[0]!;
      this.split(r.prefixes, r.options).then(r.resolve, r.reject);
      return;
    }
    // Whole requests to the least loaded engines; the requests an engine gets that sample alike
    // run there as one batch.
    const load = [this.here, ...this.outstanding];
    const byEngine: Pending[][] = load.map(() => []);
    for (const r of batch) {
      const e = load.indexOf(Math.min(...load));
      load[e]! += r.prefixes.length * (r.options.n ?? 1);
      byEngine[e]!.push(r);
    }
    const groups = byEngine.map((requests) => sameSampling(requests, (r) => this.sampling(r.options)));
    let published = false;
    groups.slice(1).forEach((engineGroups, w) => {
      for (const group of engineGroups) {
        if (!published) this.pool.publish();
        published = true;
        const { parts, sampling, size } = this.batchOf(group);
        this.outstanding[w]! += size;
        this.pool
          .run(w, { parts, sampling, generator: this.generatorOptions })
          .finally(() => (this.outstanding[w]! -= size))
          .then(
            (results) => group.forEach((r, i) => r.resolve(results[i]![0]!)),
            (e: unknown) => group.forEach((r) => r.reject(e)),
          );
      }
    });
    for (const group of groups[0]!) {
      const { parts, sampling, size } = this.batchOf(group);
      this.here += size;
      this.runHere(parts, sampling)
        .finally(() => (this.here -= size))
        .then(
          (results) => group.forEach((r, i) => r.resolve(results[i]![0]!)),
          (e: unknown) => group.forEach((r) => r.reject(e)),
        );
    }
  }

  /**
   * The main thread's share of a flush, decoded in slices: it pauses after the step in which a
   * worker finished a job, lets the event loop handle that reply (and the requests it frees, say
   * the next problems of an eval), and hands those out before decoding on. Run whole, it kept
   * the idle worker waiting until the main thread's batch ended: in `eval` of 200 arith problems
   * with majority@16 on two cores, the worker idled 27% of the run while the main thread decoded
   * 1.5× the worker's share.
   */
  private async runHere(parts: RequestPart[], sampling: Omit<CallSampling, 'seed'>): Promise<CallResult[][]> {
    const run = startBatched(this.main, parts, sampling);
    for (;;) {
      const seen = this.pool.finishedJobs();
      if (run.advance(() => this.pool.finishedJobs() !== seen)) return run.result();
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.flush();
    }
  }

  /** Whole requests as the parts of one batched call, and their samples in all. */
  private batchOf(group: Pending[]): { parts: RequestPart[]; sampling: Omit<CallSampling, 'seed'>; size: number } {
    const { seed: _seed, ...sampling } = this.sampling(group[0]!.options);
    const parts = group.map((r) => ({ prefixes: r.prefixes, calls: [{ prefixStart: 0, prefixCount: r.prefixes.length, sampleFrom: 0, n: r.options.n ?? 1 }], seed: r.options.seed ?? 0 }));
    return { parts, sampling, size: group.reduce((s, r) => s + r.prefixes.length * (r.options.n ?? 1), 0) };
  }

  private sampling(options: Request): CallSampling {
    const { n: _n, ...rest } = options;
    return { ...defaultSamplingParams, stop: [], seed: 0, ...rest };
  }

  /** One request cut across the main thread and the workers. */
  private async split(prefixes: string[], options: Request): Promise<CallResult> {
    const n = options.n ?? 1;
    const runs = planSplit(prefixes.length, n, 1 + this.pool.workers, this.o.minSamplesPerEngine);
    if (runs.length <= 1) return this.main.generate(prefixes, options);
    const { seed, ...rest } = this.sampling(options);
    this.pool.publish();
    const away = runs.slice(1).map((calls, w) => {
      const size = calls.reduce((s, c) => s + c.prefixCount * c.n, 0);
      this.outstanding[w]! += size;
      return this.pool
        .run(w, { parts: [{ prefixes, calls, seed }], sampling: rest, generator: this.generatorOptions })
        .then((r) => r[0]!)
        .finally(() => (this.outstanding[w]! -= size));
    });
    // Workers compute while the main thread does the first run.
    let here: CallResult[];
    try {
      here = runBatched(this.main, [{ prefixes, calls: runs[0]!, seed }], rest)[0]!;
    } catch (e) {
      await Promise.allSettled(away);
      throw e;
    }
    const there = await Promise.allSettled(away);
    const failed = there.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason as Error;
    const parts: { call: EngineCall; result: CallResult }[] = [];
    runs[0]!.forEach((call, j) => parts.push({ call, result: here[j]! }));
    there.forEach((r, w) => runs[w + 1]!.forEach((call, j) => parts.push({ call, result: (r as PromiseFulfilledResult<CallResult[]>).value[j]! })));
    return mergeCalls(prefixes.length, n, parts);
  }
}

/** Requests in groups whose sampling settings are equal but for the seed (each group can run as one batch). */
function sameSampling<R>(requests: readonly R[], sampling: (r: R) => CallSampling): R[][] {
  const groups = new Map<string, R[]>();
  for (const r of requests) {
    const { seed: _seed, ...rest } = sampling(r);
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()];
}
