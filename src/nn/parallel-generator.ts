import type { EnginePool } from './engine-pool.js';
import type { GenerateOptions, GeneratorOptions, Generator } from './generate.js';
import { defaultSamplingParams } from './sampler.js';
import { mergeCalls, planSplit, runCall, type CallResult, type CallSampling, type EngineCall } from './split-generate.js';

export interface ParallelGenerateOptions {
  /**
   * Fewest samples an engine is given: a request of fewer than twice this many samples runs on
   * the main thread alone, as before (a tree search's one-prefix calls, whose prefix cache
   * lives there). Default 4.
   */
  minSamplesPerEngine: number;
}

export const defaultParallelGenerateOptions = { minSamplesPerEngine: 4 } satisfies ParallelGenerateOptions;

/**
 * Sampling on both (all) cores: a request's samples are cut into equal runs (split-generate.ts),
 * the first run computed on the main thread's Generator while the others go to the pool's
 * worker engines at the same time; the pieces are merged back in order. The samples are those
 * of `main.generate` on the whole request (each keeps its own random stream), whatever the
 * number of workers; usage counts prompt tokens once per prefix.
 */
export class ParallelGenerator {
  private readonly o: ParallelGenerateOptions;

  constructor(
    readonly main: Generator,
    readonly pool: EnginePool,
    private readonly generatorOptions: GeneratorOptions,
    opts: Partial<ParallelGenerateOptions> = {},
  ) {
    this.o = { ...defaultParallelGenerateOptions, ...opts };
  }

  async generate(prefixes: string[], options: Partial<Omit<GenerateOptions, 'sampleKey'>> & { maxTokens: number }): Promise<CallResult> {
    const { n = 1, ...rest } = options;
    const runs = planSplit(prefixes.length, n, 1 + this.pool.workers, this.o.minSamplesPerEngine);
    if (runs.length <= 1) return this.main.generate(prefixes, options);
    const sampling: CallSampling = { ...defaultSamplingParams, stop: [], seed: 0, ...rest };
    this.pool.publish();
    const away = runs.slice(1).map((calls, w) => this.pool.run(w, { prefixes, calls, sampling, generator: this.generatorOptions }));
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

  close(): Promise<void> {
    return this.pool.close();
  }
}
