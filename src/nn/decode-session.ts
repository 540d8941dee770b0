import { Rng } from '../core/rng.js';
import { cutAfterStop, type GeneratedSample, type Generator } from './generate.js';
import type { CachedSequence } from './kv-cache.js';
import type { SamplingParams } from './sampler.js';

/**
 * Step-wise decoding over a Generator's engine and prefix cache: the API a server needs for
 * continuous batching (Orca, Yu et al. 2022; vLLM's scheduler). Sequences are added at any time;
 * each `step()` samples one token for every live sequence and runs ONE forward pass that feeds
 * those tokens back and prefills the prompts added since the last step. A finished sequence
 * leaves the batch at once; the caller yields to its event loop between steps.
 *
 * Same samples as `Generator.generate`: a sequence draws from its own Rng key (generate's
 * `${seed}/${prefix}/${sample}`), its first token from its prompt's logits, each next one from
 * the logits after the last, and each token through the same code as generate's
 * (`Generator.decodeNext`: sampling, stop, length and end-of-sequence rules; then `cutAfterStop`).
 * So what a sequence gets does not depend on what shares its steps or when it joined
 * (decode-session.test.ts checks this against generate).
 */
export interface DecodeRequest extends SamplingParams {
  /** The prompt: its text, or its token ids with BOS already in front (encoded on another thread). */
  prefix: string | readonly number[];
  /** Maximum new tokens. */
  maxTokens: number;
  /** Stop strings (kept in the text, as generate does). */
  stop: string[];
  /** This sample's Rng key (generate's is `${seed}/${prefixIndex}/${sampleIndex}`). */
  rngKey: string;
}

export interface DecodeSessionOptions {
  /** Most sequences sampling together; later ones wait their turn in order (default: generate's 256). */
  maxBatch: number;
  /**
   * Most prompt tokens prefilled in one step (at least one prompt per step): a burst of long
   * prompts is spread over steps, so one step's scratch memory and the pause it puts on the
   * running sequences stay bounded (vLLM's max_num_batched_tokens plays this part).
   */
  maxPrefillTokens: number;
}

export const defaultDecodeSessionOptions = { maxBatch: 256, maxPrefillTokens: 4096 } satisfies DecodeSessionOptions;

/** A prompt computed once and shared by every sequence that starts from it while it is live. */
export interface DecodeRoot {
  key: string;
  ids: number[];
  seq: CachedSequence;
  /** Next-token logits after the prompt; null until its prefill has run. */
  next: Float32Array | null;
  /** Tokens still to compute (after a prefix-cache hit, only the rest). */
  rest: number[];
  /** Live sequences started from it (their forks hold its KV anyway, so it stays shareable until they end). */
  users: number;
}

/** One sample being decoded. `sample` grows token by token; its text is final once `done`. */
export class DecodeSequence {
  readonly sample: GeneratedSample = { text: '', tokenIds: [], logprobs: [], finishReason: 'length' };
  done = false;
  cancelled = false;
  /** Prompt tokens, and those not computed for it (prefix cache hit, or a prompt already live). */
  readonly promptTokens: number;
  readonly cachedPromptTokens: number;
  /** @internal */ seq: CachedSequence | null = null;
  /** @internal */ next: Float32Array | null = null;
  /** @internal */ readonly rng: Rng;
  /** @internal */ readonly maxStop: number;

  constructor(readonly request: DecodeRequest, /** @internal */ readonly root: DecodeRoot, cached: number) {
    this.rng = new Rng(request.rngKey);
    this.maxStop = Math.max(0, ...request.stop.map((x) => x.length));
    this.promptTokens = root.ids.length;
    this.cachedPromptTokens = cached;
  }
}

export interface DecodeStep {
  /** Sequences that got a token this step and go on (their `sample.text` grew). */
  advanced: DecodeSequence[];
  /** Sequences that ended this step (text final, KV released). */
  finished: DecodeSequence[];
  /** Tokens run through the model in this step's forward pass (prefill and decode). */
  tokensComputed: number;
}

export class DecodeSession {
  private readonly opts: DecodeSessionOptions;
  private readonly roots = new Map<string, DecodeRoot>();
  private active: DecodeSequence[] = [];
  private waiting: DecodeSequence[] = [];

  constructor(readonly generator: Generator, opts: Partial<DecodeSessionOptions> = {}) {
    this.opts = { ...defaultDecodeSessionOptions, ...opts };
  }

  /** Live sequences (decoding or waiting for a slot). */
  get size(): number {
    return this.active.length + this.waiting.length;
  }

  /**
   * Adds sequences; they are prefilled in the next step's forward pass (a prompt found whole in
   * the prefix cache, or already live in this session, costs nothing) and sample from the one after.
   * Throws one line when a prompt does not fit the context.
   */
  add(requests: DecodeRequest[]): DecodeSequence[] {
    const g = this.generator;
    const ctx = g.model.config.contextLength;
    const encoded = requests.map((r) => {
      const ids = typeof r.prefix === 'string' ? g.tokenizer.encode(r.prefix, { bos: true }) : r.prefix.slice();
      if (ids.length >= ctx) throw new Error(`prompt of ${ids.length} tokens does not fit the context length ${ctx}`);
      return ids;
    });
    return requests.map((r, i) => {
      const ids = encoded[i]!;
      const key = ids.join(',');
      let root = this.roots.get(key);
      let cached = ids.length;
      if (!root) {
        const hit = g.cache.longest(ids);
        if (hit && hit.length === ids.length) root = { key, ids, seq: hit.seq.share(), next: hit.nextLogits, rest: [], users: 0 };
        else {
          const rest = ids.slice(hit ? hit.length : 0);
          cached = hit ? hit.length : 0;
          root = { key, ids, seq: hit ? hit.seq.fork(rest.length) : g.engine.newSequence(rest.length), next: null, rest, users: 0 };
        }
        this.roots.set(key, root);
      }
      root.users++;
      const s = new DecodeSequence(r, root, cached);
      this.waiting.push(s);
      return s;
    });
  }

  /** Stops a sequence (its client left): it leaves the batch and its KV memory is released. */
  cancel(s: DecodeSequence): void {
    if (s.done) return;
    s.cancelled = true;
    this.release(s);
    this.active = this.active.filter((x) => x !== s);
    this.waiting = this.waiting.filter((x) => x !== s);
  }

  /**
   * One token for every live sequence whose prompt is computed, then one forward pass: those
   * tokens fed back, together with the prefill of prompts added since the last step.
   */
  step(): DecodeStep {
    const g = this.generator;
    while (this.waiting.length > 0 && this.active.length < this.opts.maxBatch) this.active.push(this.waiting.shift()!);
    const advanced: DecodeSequence[] = [];
    const finished: DecodeSequence[] = [];
    const still: DecodeSequence[] = [];
    for (const s of this.active) {
      if (!s.next) {
        if (!s.root.next) {
          still.push(s);
          continue;
        }
        s.next = s.root.next;
      }
      if (!g.decodeNext(s.sample, s.next, s.rng, s.seq, s.root.ids, s.request, s.maxStop)) {
        this.finish(s, finished);
        continue;
      }
      advanced.push(s);
      still.push(s);
    }
    this.active = still;
    // One forward pass: decode rows of the advanced sequences, prefill rows of new prompts.
    for (const s of advanced) {
      if (!s.seq) {
        // Sized to need: the tail starts small and doubles.
        s.seq = s.root.seq.fork();
      }
    }
    const prefill: DecodeRoot[] = [];
    let budget = this.opts.maxPrefillTokens;
    for (const r of this.roots.values()) {
      if (r.next !== null) continue;
      if (prefill.length > 0 && r.rest.length > budget) break;
      prefill.push(r);
      budget -= r.rest.length;
    }
    const seqs = [...advanced.map((s) => s.seq!), ...prefill.map((r) => r.seq)];
    const tokens = [...advanced.map((s) => [s.sample.tokenIds[s.sample.tokenIds.length - 1]!]), ...prefill.map((r) => r.rest)];
    const before = g.engine.tokensComputed;
    if (seqs.length > 0) {
      const logits = g.engine.append(seqs, tokens);
      advanced.forEach((s, j) => (s.next = logits[j]!));
      prefill.forEach((r, j) => {
        r.next = logits[advanced.length + j]!;
        r.rest = [];
        g.cache.put(r.ids, r.seq, r.next);
      });
    }
    return { advanced, finished, tokensComputed: g.engine.tokensComputed - before };
  }

  /** Runs steps until every sequence is done (tests, and callers without an event loop to serve). */
  drain(): void {
    while (this.size > 0) this.step();
  }

  private finish(s: DecodeSequence, finished: DecodeSequence[]): void {
    cutAfterStop(s.sample, s.request.stop);
    this.release(s);
    finished.push(s);
  }

  /** KV back to the engine (except what the prefix cache keeps). */
  private release(s: DecodeSequence): void {
    s.done = true;
    s.seq?.dispose();
    s.seq = null;
    this.unuse(s.root);
  }

  private unuse(root: DecodeRoot): void {
    if (--root.users > 0) return;
    root.seq.dispose();
    this.roots.delete(root.key);
  }
}
