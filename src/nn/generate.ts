import { Rng } from '../core/rng.js';
import type { FinishReason } from '../core/trajectory.js';
import { InferenceEngine } from './infer.js';
import { PrefixCache, type CachedSequence, type PrefixCacheStats } from './kv-cache.js';
import type { Transformer } from './model.js';
import { defaultSamplingParams, logSoftmaxAt, sampleToken, type SamplingParams } from './sampler.js';
import type { CharTokenizer } from './tokenizer.js';

export interface GenerateOptions extends SamplingParams {
  /** Samples per prefix. */
  n: number;
  /** Samples of each prefix, over `n` (several requests decoded as one batch, each with its own n). */
  counts?: readonly number[];
  /** Maximum new tokens per sample. */
  maxTokens: number;
  /** Stop strings (kept in the text). */
  stop: string[];
  /** Seed: sample j of prefix i draws from Rng(`${seed}/${i}/${j}`), whatever the batching. */
  seed: number;
  /** Per-sample Rng key replacing `${seed}/${i}/${j}` (a server merging requests keeps each one's seeds). */
  sampleKey?: (prefix: number, sample: number) => string;
}

export interface GeneratedSample {
  text: string;
  tokenIds: number[];
  logprobs: number[];
  finishReason: FinishReason;
}

export interface GenerateStats {
  promptTokens: number;
  /** Prompt tokens found in the prefix cache (not recomputed). */
  cachedPromptTokens: number;
  outputTokens: number;
}

/** Usage of one call of `generate`, in all and per prefix (a merged batch bills each request its own). */
export interface GenerateUsage extends GenerateStats {
  perPrefix: GenerateStats[];
}

const zeroStats = (): GenerateStats => ({ promptTokens: 0, cachedPromptTokens: 0, outputTokens: 0 });

export interface GeneratorOptions {
  /**
   * Prefix cache budget in bytes of KV segments kept alive (0 disables reuse across calls).
   * Default 24 MiB: 12K tokens of the demo size's 2 KiB per token, so that with 64 samples in
   * flight (segments at most twice their tokens: ≤ 32 MiB at the demo's 256-token context) a
   * search from one prefix stays under 64 MiB of KV (issue 12's target).
   */
  prefixCacheBytes: number;
  /** Deprecated budget in tokens, kept for callers: 0 disables the prefix cache, other values are ignored (the bound is `prefixCacheBytes`). */
  prefixCacheTokens?: number;
  /** Most sequences decoded together (bounds memory; default 256). */
  maxBatch: number;
}

export const defaultGeneratorOptions = { prefixCacheBytes: 24 * 2 ** 20, maxBatch: 256 } satisfies GeneratorOptions;

/**
 * Batched sampling with a KV cache. Each prefix is computed once (or found in the prefix cache)
 * and all its samples fork from it; every active sample advances one token per batched step.
 */
export class Generator {
  readonly engine: InferenceEngine;
  readonly cache: PrefixCache;
  private readonly opts: GeneratorOptions;
  /** Tokens never sampled (padding, beginning of sequence). */
  private readonly banned: number[];

  constructor(readonly model: Transformer, readonly tokenizer: CharTokenizer, opts: Partial<GeneratorOptions> = {}) {
    this.opts = { ...defaultGeneratorOptions, ...opts };
    this.engine = new InferenceEngine(model);
    this.cache = new PrefixCache(this.opts.prefixCacheTokens === 0 ? 0 : this.opts.prefixCacheBytes);
    this.banned = [tokenizer.pad, tokenizer.bos];
  }

  /** Most sequences decoded together (GeneratorOptions.maxBatch). */
  get maxBatch(): number {
    return this.opts.maxBatch;
  }

  /** Prefix cache hit rate and size (`hitTokens / lookupTokens` is the share of prompt tokens not recomputed). */
  get cacheStats(): PrefixCacheStats {
    return this.cache.stats;
  }

  /** Drops every cached prefix (a caller moving to unrelated problems); their KV memory returns to the engine. */
  clearCache(): void {
    this.cache.clear();
  }

  /**
   * Encodes and computes a prefix (or reuses the cache); returns its sequence and next-token
   * logits. The caller owns the returned sequences (cache hits come as new handles) and disposes them.
   * @internal
   */
  prefill(prefixes: readonly string[], stats: GenerateStats[]): { ids: number[]; seq: CachedSequence; next: Float32Array }[] {
    const ctx = this.model.config.contextLength;
    const prepared = prefixes.map((p, i) => {
      const ids = this.tokenizer.encode(p, { bos: true });
      if (ids.length >= ctx) throw new Error(`prompt of ${ids.length} tokens does not fit the context length ${ctx}`);
      stats[i]!.promptTokens += ids.length;
      const hit = this.cache.longest(ids);
      return { ids, hit };
    });
    const toRun: { i: number; seq: CachedSequence; rest: number[] }[] = [];
    const result: { ids: number[]; seq: CachedSequence; next: Float32Array }[] = new Array(prefixes.length);
    // Identical prefixes in one call are computed once.
    const firstIndex = new Map<string, number>();
    prepared.forEach(({ ids, hit }, i) => {
      const key = ids.join(',');
      if (firstIndex.has(key)) return;
      firstIndex.set(key, i);
      if (hit && hit.length === ids.length) {
        stats[i]!.cachedPromptTokens += ids.length;
        result[i] = { ids, seq: hit.seq.share(), next: hit.nextLogits };
        return;
      }
      const rest = ids.slice(hit ? hit.length : 0);
      if (hit) stats[i]!.cachedPromptTokens += hit.length;
      const seq = hit ? hit.seq.fork(rest.length) : this.engine.newSequence(rest.length);
      toRun.push({ i, seq, rest });
    });
    for (let s = 0; s < toRun.length; s += this.opts.maxBatch) {
      const wave = toRun.slice(s, s + this.opts.maxBatch);
      const logits = this.engine.append(wave.map((w) => w.seq), wave.map((w) => w.rest));
      wave.forEach((w, j) => {
        const ids = prepared[w.i]!.ids;
        result[w.i] = { ids, seq: w.seq, next: logits[j]! };
        this.cache.put(ids, w.seq, logits[j]!);
      });
    }
    prepared.forEach(({ ids }, i) => {
      if (!result[i]) result[i] = result[firstIndex.get(ids.join(','))!]!;
    });
    return result;
  }

  generate(prefixes: readonly string[], options: Partial<GenerateOptions> & { maxTokens: number }): { samples: GeneratedSample[][]; stats: GenerateUsage } {
    // One check of the compiled weights for the whole call (start's and advance's are nested, so free).
    return this.engine.withFrozenWeights(() => {
      const run = this.start(prefixes, options);
      run.advance();
      return run.result();
    });
  }

  /**
   * `generate` as a run that can be advanced in slices: `advance(pause)` decodes until every
   * sample is done or `pause()` says stop after a step, so that a caller on an event loop can
   * hand out other work between slices (ParallelGenerator's main-thread share pauses when a worker
   * engine has finished, to give it more). The samples are those of `generate` (each keeps its own
   * random stream); the prefill runs here.
   */
  start(prefixes: readonly string[], options: Partial<GenerateOptions> & { maxTokens: number }): GenerationRun {
    return this.engine.withFrozenWeights(() => new GenerationRun(this, prefixes, options));
  }

  /**
   * One token of one sample, the rule generate and DecodeSession share: samples from `next`
   * with the sample's own Rng, appends the token and its logprob, and ends the sample on
   * end-of-sequence, on a stop string (remembered in the prefix cache; the text is cut later
   * by `cutAfterStop`) or at `maxTokens` or the context length. Returns whether the sample goes
   * on, that is, whether its token is to be fed back.
   * @internal
   */
  decodeNext(out: GeneratedSample, next: Float32Array, rng: Rng, seq: CachedSequence | null, rootIds: number[], params: SamplingParams & { maxTokens: number; stop: string[] }, maxStop: number): boolean {
    const tok = this.tokenizer;
    const { id, logprob } = sampleToken(next, params, rng, this.banned);
    out.tokenIds.push(id);
    out.logprobs.push(logprob);
    if (id === tok.eos) {
      out.finishReason = 'eos';
      return false;
    }
    out.text += tok.tokenString(id);
    if (maxStop > 0) {
      // Only the tail can hold a stop string that this token completed.
      const from = Math.max(0, out.text.length - maxStop - 8);
      if (params.stop.some((st) => st.length > 0 && out.text.indexOf(st, from) >= 0)) {
        out.finishReason = 'stop';
        this.remember(rootIds, out.tokenIds, seq, next);
        return false;
      }
    }
    if (out.tokenIds.length >= params.maxTokens || rootIds.length + out.tokenIds.length >= this.model.config.contextLength) {
      out.finishReason = 'length';
      return false;
    }
    return true;
  }

  /**
   * Keeps a finished step in the prefix cache, so a tree node continued later (prefix + step)
   * is not recomputed: the cache holds prefix + all but the step's last token, whose logits
   * produced that last token.
   */
  private remember(rootIds: number[], tokenIds: number[], seq: CachedSequence | null, nextLogits: Float32Array): void {
    if (!seq || tokenIds.length < 2) return;
    this.cache.put([...rootIds, ...tokenIds.slice(0, -1)], seq, nextLogits);
  }

  /** Log-probability of each continuation token given the prefix and the tokens before it. */
  logprobsOf(items: { prefix: string; continuation: string }[]): { logprobs: number[]; stats: GenerateStats }[] {
    return this.engine.withFrozenWeights(() => this.logprobsNow(items));
  }

  private logprobsNow(items: { prefix: string; continuation: string }[]): { logprobs: number[]; stats: GenerateStats }[] {
    return items.map(({ prefix, continuation }) => {
      const stats = zeroStats();
      const [root] = this.prefill([prefix], [stats]);
      const cont = this.tokenizer.encode(continuation);
      if (root!.ids.length + cont.length > this.model.config.contextLength) {
        throw new Error(`prefix and continuation (${root!.ids.length + cont.length} tokens) exceed the context length ${this.model.config.contextLength}`);
      }
      const logprobs: number[] = [];
      if (cont.length > 0) logprobs.push(logSoftmaxAt(root!.next, cont[0]!));
      if (cont.length > 1) {
        const seq = root!.seq.fork(cont.length - 1);
        const [rows] = this.engine.append([seq], [cont.slice(0, -1)], true);
        seq.dispose();
        const V = this.model.config.vocabSize;
        for (let j = 1; j < cont.length; j++) logprobs.push(logSoftmaxAt(rows!.subarray((j - 1) * V, j * V), cont[j]!));
      }
      root!.seq.dispose();
      if (cont.length > 0) stats.promptTokens += cont.length;
      return { logprobs, stats };
    });
  }
}

interface ActiveSample {
  prefix: number;
  seq: CachedSequence | null;
  rng: Rng;
  next: Float32Array;
  out: GeneratedSample;
  rootIds: number[];
}

/** One `Generator.generate` call, advanced in slices (`Generator.start`). */
export class GenerationRun {
  private readonly o: GenerateOptions;
  private readonly perPrefix: GenerateStats[];
  private readonly roots: { ids: number[]; seq: CachedSequence; next: Float32Array }[];
  private readonly maxStop: number;
  private readonly samples: GeneratedSample[][];
  private readonly all: ActiveSample[] = [];
  private waiting = 0;
  private active: ActiveSample[] = [];
  private done = false;

  /** Prefills (under the caller's withFrozenWeights: `Generator.start`). */
  constructor(
    private readonly g: Generator,
    prefixes: readonly string[],
    options: Partial<GenerateOptions> & { maxTokens: number },
  ) {
    const o: GenerateOptions = { ...defaultSamplingParams, n: 1, stop: [], seed: 0, ...options };
    if (o.counts && o.counts.length !== prefixes.length) throw new Error(`counts: ${o.counts.length} entries for ${prefixes.length} prefixes`);
    this.o = o;
    this.perPrefix = prefixes.map(zeroStats);
    this.roots = g.prefill(prefixes, this.perPrefix);
    this.maxStop = Math.max(0, ...o.stop.map((s) => s.length));
    this.samples = prefixes.map(() => []);
    this.roots.forEach((root, i) => {
      for (let j = 0; j < (o.counts?.[i] ?? o.n); j++) {
        const out: GeneratedSample = { text: '', tokenIds: [], logprobs: [], finishReason: 'length' };
        this.samples[i]!.push(out);
        this.all.push({ prefix: i, seq: null, rng: new Rng(o.sampleKey ? o.sampleKey(i, j) : `${o.seed}/${i}/${j}`), next: root.next, out, rootIds: root.ids });
      }
    });
  }

  /** Decodes until every sample is done (returns true) or `pause()` is true after a step (false). */
  advance(pause: () => boolean = () => false): boolean {
    if (this.done) return true;
    return this.g.engine.withFrozenWeights(() => this.steps(pause));
  }

  private steps(pause: () => boolean): boolean {
    const { g, o, all, perPrefix, roots, maxStop } = this;
    const maxBatch = g.maxBatch;
    // Continuous batching within the call (as vLLM schedules): up to maxBatch samples decode
    // together, and a sample that ends frees its place (and its KV tail) for the next one waiting,
    // so the batch stays full while samples of different lengths finish. A fixed window of
    // maxBatch would shrink to its longest samples before the next window starts.
    for (;;) {
      while (this.active.length < maxBatch && this.waiting < all.length) this.active.push(all[this.waiting++]!);
      if (this.active.length === 0) break;
      const toFeed: ActiveSample[] = [];
      for (const a of this.active) {
        perPrefix[a.prefix]!.outputTokens++;
        if (g.decodeNext(a.out, a.next, a.rng, a.seq, a.rootIds, o, maxStop)) toFeed.push(a);
        else {
          a.seq?.dispose();
          a.seq = null;
        }
      }
      if (toFeed.length > 0) {
        for (const a of toFeed) {
          // Sized to need: the tail starts small and doubles (a short step holds a few KB, not maxTokens' worth).
          if (!a.seq) a.seq = roots[a.prefix]!.seq.fork();
        }
        const logits = g.engine.append(toFeed.map((a) => a.seq!), toFeed.map((a) => [a.out.tokenIds[a.out.tokenIds.length - 1]!]));
        toFeed.forEach((a, j) => (a.next = logits[j]!));
      }
      this.active = toFeed;
      if (toFeed.length > 0 && pause()) return false;
    }
    // KV memory back to the engine, except what the prefix cache keeps.
    for (const r of roots) r.seq.dispose();
    for (const row of this.samples) for (const s of row) cutAfterStop(s, o.stop);
    this.done = true;
    return true;
  }

  /** The samples and usage (after `advance` returned true). */
  result(): { samples: GeneratedSample[][]; stats: GenerateUsage } {
    if (!this.done) throw new Error('generation run: result() before the run is done');
    const stats: GenerateUsage = { ...zeroStats(), perPrefix: this.perPrefix };
    for (const p of this.perPrefix) {
      stats.promptTokens += p.promptTokens;
      stats.cachedPromptTokens += p.cachedPromptTokens;
      stats.outputTokens += p.outputTokens;
    }
    return { samples: this.samples, stats };
  }
}

/** Cuts a stop-ended sample just after its first stop string (a token may carry characters past it). */
export function cutAfterStop(s: GeneratedSample, stop: string[]): void {
  if (s.finishReason !== 'stop') return;
  let cut = Infinity;
  for (const st of stop) {
    const at = st.length > 0 ? s.text.indexOf(st) : -1;
    if (at >= 0) cut = Math.min(cut, at + st.length);
  }
  if (cut < s.text.length) {
    s.text = s.text.slice(0, cut);
    const keep = [...s.text].length;
    s.tokenIds.length = keep;
    s.logprobs.length = keep;
  }
}
