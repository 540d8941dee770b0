import { Rng, hashString } from '../core/rng.js';
import type { FinishReason } from '../core/trajectory.js';
import type { Completion, GenerateRequest, GenerateResult, Policy, Usage } from './policy.js';
import { emptyUsage } from './policy.js';

/**
 * A scripted Policy for tests, in the manner of vercel/ai's `MockLanguageModelV2`: the script
 * says what the "model" would write from a prefix, the mock applies the request's stop strings,
 * maxTokens, n, seed and temperature exactly as a real backend must, and records every call.
 *
 * Tokens are characters (1 token = 1 character), so counts are easy to check by hand.
 *
 * | request field | mock behaviour |
 * |---|---|
 * | `n` | the script is called once per sample with `sampleIndex` 0..n-1 |
 * | `stop` | the text is cut after the first occurrence of any stop string (kept) → `'stop'` |
 * | `maxTokens` | the text is cut at maxTokens characters → `'length'` |
 * | `contextLength` | as the built-in engine: a prompt that leaves no position after BOS throws; generation stops at the context's end → `'length'` |
 * | `temperature: 0` | greedy: a table gives its first option; a function gets an Rng seeded by the prefix only (so n samples and repeated calls agree) |
 * | `seed` | the Rng is seeded by (seed, prefix, sampleIndex): same seed → same output |
 * | `logprobs` | per-character log-probabilities (`tokenLogprob` of the script's answer, default log 0.5) |
 * | `topP`, `topK` | ignored with a warning (an unsupported option warns, it does not crash) |
 */

/** What a script writes: plain text, or text with the per-token log-probability to report. */
export type ScriptOutput = string | { text: string; tokenLogprob?: number };

export interface ScriptInfo {
  temperature: number;
  /** True when temperature is 0. */
  greedy: boolean;
}

/**
 * A script: `(prefix, sampleIndex, rng, info) → full continuation` (the mock cuts it), or a
 * table from exact prefix to options (`'*'` is the fallback key); greedy takes the first option,
 * sampling a uniform choice.
 */
export type MockScript =
  | ((prefix: string, sampleIndex: number, rng: Rng, info: ScriptInfo) => ScriptOutput)
  | Record<string, ScriptOutput | ScriptOutput[]>;

export interface MockCall {
  request: GenerateRequest;
  result: GenerateResult;
}

export interface MockPolicy extends Policy {
  /** Every generate call, in order. */
  readonly calls: MockCall[];
  /** Usage summed over all calls. */
  readonly usage: Usage;
  /** Forgets recorded calls and usage. */
  reset(): void;
}

export interface MockPolicyOptions {
  id?: string;
  contextLength?: number;
  /** Default per-token log-probability when the script gives none. */
  tokenLogprob?: number;
}

const DEFAULT_TOKEN_LOGPROB = Math.log(0.5);

export function createMockPolicy(script: MockScript, options: MockPolicyOptions = {}): MockPolicy {
  const calls: MockCall[] = [];
  const usage = emptyUsage();
  // Requests without a seed still get reproducible (per mock instance) randomness.
  let unseededCounter = 0;

  const write = (prefix: string, sampleIndex: number, rng: Rng, info: ScriptInfo): ScriptOutput => {
    if (typeof script === 'function') return script(prefix, sampleIndex, rng, info);
    const entry = prefix in script ? script[prefix] : script['*'];
    if (entry === undefined) throw new Error(`mock policy: no script entry for prefix ${JSON.stringify(prefix.slice(-60))}`);
    if (!Array.isArray(entry)) return entry;
    if (entry.length === 0) throw new Error('mock policy: empty option list');
    return info.greedy ? entry[0]! : rng.choice(entry);
  };

  const policy: MockPolicy = {
    id: options.id ?? 'mock',
    contextLength: options.contextLength ?? 1 << 20,
    calls,
    usage,
    reset() {
      calls.length = 0;
      Object.assign(usage, emptyUsage());
    },
    countTokens: (text: string) => text.length,
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      if (req.signal?.aborted) throw new Error('mock policy: aborted');
      const n = req.n ?? 1;
      const temperature = req.temperature ?? 1;
      const greedy = temperature === 0;
      const warnings: string[] = [];
      if (req.topP !== undefined && req.topP !== 1) warnings.push('mock policy: topP is ignored');
      if (req.topK !== undefined && req.topK !== 0) warnings.push('mock policy: topK is ignored');
      const callSeed = req.seed ?? hashString(`unseeded/${unseededCounter++}`);
      const result: GenerateResult = { completions: [], usage: emptyUsage(), warnings };
      const contextLength = options.contextLength ?? 1 << 20;
      for (const prefix of req.prefixes) {
        // As the built-in engine: BOS + prompt must leave a position to write, and generation
        // stops at the context's end ('length').
        const room = contextLength - prefix.length - 1;
        if (room < 1) throw new Error(`prompt of ${prefix.length + 1} tokens does not fit the context length ${contextLength}`);
        const samples: Completion[] = [];
        for (let i = 0; i < n; i++) {
          const rng = greedy ? new Rng(`greedy/${prefix}`) : new Rng(`${callSeed}/${prefix}/${i}`);
          const out = write(prefix, greedy ? 0 : i, rng, { temperature, greedy });
          const full = typeof out === 'string' ? out : out.text;
          const lp = typeof out === 'string' ? undefined : out.tokenLogprob;
          const { text, finishReason } = cut(full, req.stop ?? [], Math.min(req.maxTokens, room));
          const completion: Completion = { text, finishReason, tokens: text.length };
          if (req.logprobs) completion.logprobs = new Array<number>(text.length).fill(lp ?? options.tokenLogprob ?? DEFAULT_TOKEN_LOGPROB);
          samples.push(completion);
          result.usage.outputTokens += text.length;
        }
        result.completions.push(samples);
        // Samples of one prefix share its computation: the prompt is counted once per prefix.
        result.usage.promptTokens += prefix.length;
      }
      result.usage.calls = 1;
      usage.promptTokens += result.usage.promptTokens;
      usage.outputTokens += result.usage.outputTokens;
      usage.calls += 1;
      calls.push({ request: req, result });
      return result;
    },
  };
  return policy;
}

/** Applies stop strings (cut after the first occurrence, stop string kept) and maxTokens. */
export function cut(full: string, stop: readonly string[], maxTokens: number): { text: string; finishReason: FinishReason } {
  let end = full.length;
  let reason: FinishReason = 'eos';
  for (const s of stop) {
    if (s === '') continue;
    const at = full.indexOf(s);
    if (at >= 0 && at + s.length <= end) {
      end = at + s.length;
      reason = 'stop';
    }
  }
  if (end > maxTokens) return { text: full.slice(0, Math.max(0, maxTokens)), finishReason: 'length' };
  return { text: full.slice(0, end), finishReason: reason };
}
