import type { GenerateOptions, GenerateStats, GenerateUsage, GeneratedSample, Generator } from './generate.js';

/**
 * How one generate request (P prefixes × n samples) is cut into pieces for several engines
 * (the main thread and worker threads), and how the pieces are put back together.
 *
 * The P·n samples are laid out prefix-major (prefix 0's samples, then prefix 1's, ...) and cut
 * into equal contiguous runs, one per engine. A run is one or more *calls* to an engine's
 * Generator: whole prefixes with all n samples go in one call (their samples fork from a
 * shared prefill); a prefix cut by a boundary gives a call with one prefix and part of its
 * samples. Every sample keeps the random stream `${seed}/${i}/${j}` the single-thread
 * Generator gives sample j of prefix i, so what a prefix gets does not depend on the number of
 * engines or on the cut.
 */
export interface EngineCall {
  /** First prefix of the request this call continues. */
  prefixStart: number;
  /** Prefixes in the call (1 when it holds part of a prefix's samples). */
  prefixCount: number;
  /** Index of the call's first sample within each prefix's n. */
  sampleFrom: number;
  /** Samples per prefix in the call. */
  n: number;
}

/** Sampling settings of a request, without the per-sample key (the split sets it). */
export type CallSampling = Omit<GenerateOptions, 'n' | 'sampleKey'>;

export interface CallResult {
  samples: GeneratedSample[][];
  stats: GenerateStats;
}

/**
 * The calls of each engine (index 0 first), at most `engines` runs and none under `minSamples`
 * samples (a small request stays on one engine: splitting it would cost more than it saves).
 */
export function planSplit(prefixCount: number, n: number, engines: number, minSamples: number): EngineCall[][] {
  const total = prefixCount * n;
  if (total === 0) return [[]];
  const k = Math.max(1, Math.min(engines, Math.floor(total / Math.max(1, minSamples))));
  const runs: EngineCall[][] = [];
  for (let e = 0; e < k; e++) {
    const lo = Math.round((e * total) / k);
    const hi = Math.round(((e + 1) * total) / k);
    const calls: EngineCall[] = [];
    let u = lo;
    while (u < hi) {
      const i = Math.floor(u / n);
      const from = u - i * n;
      if (from > 0 || hi - u < n) {
        const to = Math.min(n, from + (hi - u));
        calls.push({ prefixStart: i, prefixCount: 1, sampleFrom: from, n: to - from });
        u += to - from;
      } else {
        const whole = Math.floor((hi - u) / n);
        calls.push({ prefixStart: i, prefixCount: whole, sampleFrom: 0, n });
        u += whole * n;
      }
    }
    runs.push(calls);
  }
  return runs;
}

/** One request's share of an engine's work: its prefixes, the calls of it this engine runs, and its seed. */
export interface RequestPart {
  prefixes: readonly string[];
  calls: EngineCall[];
  seed: number;
}

/**
 * Runs the calls of one or more requests (same sampling settings but the seed) as one batched
 * Generator call: every sample decodes beside the others, so the engine's matrix products are as
 * wide as all of them (two 16-sample requests run as one batch of 32 rather than two of 16),
 * while each sample keeps the random stream `${seed}/${i}/${j}` of its unbatched request and each
 * call gets its own usage. Results come per part, per call.
 */
export function runBatched(generator: Generator, parts: readonly RequestPart[], sampling: Omit<CallSampling, 'seed'>): CallResult[][] {
  const { prefixes, options } = batchedCall(parts, sampling);
  const { samples, stats } = generator.generate(prefixes, options);
  return perCall(parts, samples, stats);
}

/** `runBatched` as a run advanced in slices (Generator.start): `result()` once `advance` returned true. */
export function startBatched(generator: Generator, parts: readonly RequestPart[], sampling: Omit<CallSampling, 'seed'>): { advance(pause: () => boolean): boolean; result(): CallResult[][] } {
  const { prefixes, options } = batchedCall(parts, sampling);
  const run = generator.start(prefixes, options);
  return {
    advance: (pause) => run.advance(pause),
    result: () => {
      const { samples, stats } = run.result();
      return perCall(parts, samples, stats);
    },
  };
}

/** The parts' calls as one Generator call: every prefix with its own count and sample keys. */
function batchedCall(parts: readonly RequestPart[], sampling: Omit<CallSampling, 'seed'>): { prefixes: string[]; options: Partial<GenerateOptions> & { maxTokens: number } } {
  const prefixes: string[] = [];
  const counts: number[] = [];
  const keys: { seed: number; prefix: number; from: number }[] = [];
  for (const part of parts) {
    for (const call of part.calls) {
      for (let p = 0; p < call.prefixCount; p++) {
        prefixes.push(part.prefixes[call.prefixStart + p]!);
        counts.push(call.n);
        keys.push({ seed: part.seed, prefix: call.prefixStart + p, from: call.sampleFrom });
      }
    }
  }
  return {
    prefixes,
    options: {
      ...sampling,
      n: 1,
      counts,
      seed: parts[0]?.seed ?? 0,
      sampleKey: (i, j) => `${keys[i]!.seed}/${keys[i]!.prefix}/${keys[i]!.from + j}`,
    },
  };
}

/** The batched call's samples and usage back per part, per call. */
function perCall(parts: readonly RequestPart[], samples: GeneratedSample[][], stats: GenerateUsage): CallResult[][] {
  let at = 0;
  return parts.map((part) =>
    part.calls.map((call) => {
      const usage: GenerateStats = { promptTokens: 0, cachedPromptTokens: 0, outputTokens: 0 };
      for (const u of stats.perPrefix.slice(at, at + call.prefixCount)) {
        usage.promptTokens += u.promptTokens;
        usage.cachedPromptTokens += u.cachedPromptTokens;
        usage.outputTokens += u.outputTokens;
      }
      const result = { samples: samples.slice(at, at + call.prefixCount), stats: usage };
      at += call.prefixCount;
      return result;
    }),
  );
}

/**
 * Puts the calls' samples back in request order and adds up their usage as the unsplit request
 * would count it: a prefix's prompt (and cached prompt) tokens are counted once, by the call
 * holding its sample 0; the engine holding its later samples computes (or finds) the prefix
 * again, which is not billed, as identical prefixes within one request are not.
 */
export function mergeCalls(prefixCount: number, n: number, parts: { call: EngineCall; result: CallResult }[]): CallResult {
  const samples: GeneratedSample[][] = Array.from({ length: prefixCount }, () => new Array<GeneratedSample>(n));
  const stats: GenerateStats = { promptTokens: 0, cachedPromptTokens: 0, outputTokens: 0 };
  for (const { call, result } of parts) {
    result.samples.forEach((row, p) => row.forEach((s, j) => (samples[call.prefixStart + p]![call.sampleFrom + j] = s)));
    stats.outputTokens += result.stats.outputTokens;
    if (call.sampleFrom === 0) {
      stats.promptTokens += result.stats.promptTokens;
      stats.cachedPromptTokens += result.stats.cachedPromptTokens;
    }
  }
  return { samples, stats };
}
