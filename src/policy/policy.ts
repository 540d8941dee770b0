import type { FinishReason } from '../core/trajectory.js';

/**
 * The Policy interface: one `generate` for every backend (built-in transformer, GGUF via
 * node-llama-cpp, OpenAI-compatible servers), in the manner of vercel/ai's `doGenerate`.
 * An option a backend cannot honour produces a warning in the result, not a crash.
 */
export interface GenerateRequest {
  /** Texts to continue. Each is continued `n` times; samples of one prefix share its computation. */
  prefixes: string[];
  /** Samples per prefix (default 1). */
  n?: number;
  /** Stop strings: generation ends after the first occurrence (the stop string is kept in the text). */
  stop?: string[];
  /** Maximum new tokens per sample. */
  maxTokens: number;
  /** 0 means greedy (default 1). */
  temperature?: number;
  /** Nucleus sampling mass (default 1: off). */
  topP?: number;
  /** Keep only the k most likely tokens (default 0: off). */
  topK?: number;
  /** Seed: the same request with the same seed gives the same completions. */
  seed?: number;
  /** Return per-token log-probabilities of the generated tokens. */
  logprobs?: boolean;
  signal?: AbortSignal;
  /**
   * Token streaming: called with each piece of sample `sample` of prefix `prefix` as it is
   * decoded, held back while it could still be part of a stop string, so the pieces always
   * begin the final text. Backends that decode a whole batch in one call never call it.
   */
  onText?: (prefix: number, sample: number, delta: string) => void;
}

export interface Completion {
  text: string;
  finishReason: FinishReason;
  /** Number of generated tokens. */
  tokens: number;
  /** Per-token log-probabilities (under the sampling distribution before temperature), when asked. */
  logprobs?: number[];
}

export interface Usage {
  promptTokens: number;
  /** Prompt tokens whose computation was reused (prefix cache). */
  cachedPromptTokens: number;
  outputTokens: number;
  calls: number;
}

export interface GenerateResult {
  /** completions[i] holds the n samples for prefixes[i]. */
  completions: Completion[][];
  usage: Usage;
  warnings: string[];
}

export interface LogprobsResult {
  /** Log-probability of each token of the continuation given the prefix and the tokens before it. */
  logprobs: number[];
  usage: Usage;
}

export interface Policy {
  /** Human-readable identity (backend and model). */
  readonly id: string;
  /** Maximum total tokens (prompt + generation). */
  readonly contextLength: number;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  /** Log-probabilities of given continuations (needed by DPO and PPO); optional for remote backends. */
  logprobsOf?(items: { prefix: string; continuation: string }[]): Promise<LogprobsResult[]>;
  /** Token count of a text under this policy's tokenizer. */
  countTokens(text: string): number;
  /** Releases native resources. */
  dispose?(): Promise<void>;
}

export function emptyUsage(): Usage {
  return { promptTokens: 0, cachedPromptTokens: 0, outputTokens: 0, calls: 0 };
}
