import type { Completion, GenerateRequest } from '../policy/policy.js';
import type { Meter } from './compute.js';
import type { SearchContext } from './search.js';

export type SampleOptions = Omit<GenerateRequest, 'prefixes' | 'n' | 'seed' | 'signal'>;

/**
 * `counts[i]` samples for each `prefixes[i]`, in as few policy calls as possible. Identical
 * prefixes are merged into one prefix with a larger n: sent twice in one request under one seed
 * they could come back identical (they do from the mock and from seeded servers), which would
 * silently collapse parallel chains or DVTS subtrees into one. Prefixes are grouped by their
 * total sample count, one call per group (usually one call in all), each with its own seed.
 * The caller sizes `maxTokens` for the total (`Meter.cap(sum of counts, …)`).
 */
export async function sampleEach(
  ctx: SearchContext,
  meter: Meter,
  prefixes: readonly string[],
  counts: number | readonly number[],
  opts: SampleOptions,
): Promise<Completion[][]> {
  const countOf = (i: number): number => (typeof counts === 'number' ? counts : counts[i]!);
  // Total samples per distinct prefix, in first-seen order.
  const total = new Map<string, number>();
  prefixes.forEach((p, i) => total.set(p, (total.get(p) ?? 0) + countOf(i)));
  const groups = new Map<number, string[]>();
  for (const [p, n] of total) if (n > 0) groups.set(n, [...(groups.get(n) ?? []), p]);
  const samplesOf = new Map<string, Completion[]>();
  for (const [n, group] of groups) {
    const res = await ctx.policy.generate({ ...opts, prefixes: group, n, seed: ctx.rng.seed(), signal: ctx.signal });
    meter.policy(res.usage);
    group.forEach((p, j) => samplesOf.set(p, res.completions[j]!));
  }
  // Hand each request its own slice of its prefix's samples.
  const taken = new Map<string, number>();
  return prefixes.map((p, i) => {
    const from = taken.get(p) ?? 0;
    taken.set(p, from + countOf(i));
    return (samplesOf.get(p) ?? []).slice(from, from + countOf(i));
  });
}
