import type { EnginePool } from './engine-pool.js';
import type { GenerateOptions, GeneratorOptions, Generator } from './generate.js';
import { defaultSamplingParams } from './sampler.js';
import { mergeCalls, planSplit, runCall, type CallResult, type CallSampling, type EngineCall } from './split-generate.js';

export interface ParallelGenerateOptions {
  /**
   * Fewest samples an engine is given when a request is split: the split's batch floor. A request
   * alone with fewer than twice this many samples runs whole on the main thread (a tree search's
   * one-prefix calls, whose prefix cache lives there); requests in flight together go whole to
   * engines whatever their size. Default 64, so a lone request is cut only from 128 samples up:
   * measured on the 2-core VM (demo size, 112 new tokens, quiet run of `npm run bench`), cutting a
   * 64-sample request into two halves of 32 ran at 0.80× the speed of one core and a 256-sample
   * one at 1.44×: below ~32 rows per engine a decode step's fixed costs (kernel calls, sampling
   * in JavaScript) outweigh the second core, and samples that stop early shrink the live batch further.
   */
  minSamplesPerEngine: number;
}

export const defaultParallelGenerateOptions = { minSamplesPerEngine: 64 } satisfies ParallelGenerateOptions;

type Request = Partial<Omit<GenerateOptions, 'sampleKey'>> & { maxTokens: number };

interface Pending {
  prefixes: string[];
  options: Request;
  resolve: (r: CallResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Sampling on both (all) cores. Requests that arrive together (the searches of several problems
 * in flight, `eval --concurrency C`) go whole to different engines, each one full batch; a
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
    if (batch.length === 1 && this.outstanding.every((x) => x === 0)) {
      const r = batch[0]!;
      this.split(r.prefixes, r.options).then(r.resolve, r.reject);
      return;
    }
    // Whole requests to the least loaded engines (the main thread is free now; a worker may still hold earlier work).
    const load = [0, ...this.outstanding];
    const here: Pending[] = [];
    let published = false;
    for (const r of batch) {
      const size = r.prefixes.length * (r.options.n ?? 1);
      const e = load.indexOf(Math.min(...load));
      load[e]! += size;
      if (e === 0) {
        here.push(r);
        continue;
      }
      if (!published) this.pool.publish();
      published = true;
      const call: EngineCall = { prefixStart: 0, prefixCount: r.prefixes.length, sampleFrom: 0, n: r.options.n ?? 1 };
      this.outstanding[e - 1]! += size;
      this.pool
        .run(e - 1, { prefixes: r.prefixes, calls: [call], sampling: this.sampling(r.options), generator: this.generatorOptions })
        .finally(() => (this.outstanding[e - 1]! -= size))
        .then((results) => r.resolve(results[0]!), r.reject);
    }
    for (const r of here) {
      try {
        r.resolve(this.main.generate(r.prefixes, r.options));
      } catch (e) {
        r.reject(e);
      }
    }
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
    const sampling = this.sampling(options);
    this.pool.publish();
    const away = runs.slice(1).map((calls, w) => {
      const size = calls.reduce((s, c) => s + c.prefixCount * c.n, 0);
      this.outstanding[w]! += size;
      return this.pool.run(w, { prefixes, calls, sampling, generator: this.generatorOptions }).finally(() => (this.outstanding[w]! -= size));
    });
    // Workers compute while the main thread does the first run.
    let here: CallResult[];
    try {
      here = runs[0]!.map((call) => runCall(this.main, prefixes, call, sampling));
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
