import { existsSync, statSync } from 'node:fs';
import type { FinishReason } from '../core/trajectory.js';
import { emptyUsage, type Completion, type GenerateRequest, type GenerateResult, type LogprobsResult, type Policy, type Usage } from './policy.js';

/**
 * The GGUF backend: any llama.cpp model (our exports, or Llama/Qwen/Mistral GGUFs) through
 * node-llama-cpp, pinned at 3.21.1. Samples run in parallel through a context's sequences, which
 * node-llama-cpp batches into shared forward passes; each sequence keeps its KV state between
 * calls, so a prompt that extends what a sequence last held reuses that prefix.
 */
export interface LlamaCppPolicyConfig {
  /** The .gguf file. */
  modelPath: string;
  /** CPU threads (default 1: on the 2-core CI machine two threads collapsed to ~70 tokens/s). */
  threads: number;
  /** Tokens per sequence (default: the model's training context, at most 4096). */
  contextSize?: number;
  /** Parallel sequences: samples decoded together (default 8). */
  sequences: number;
  /** Backend: false = CPU (default, as in CI); 'auto' lets node-llama-cpp pick CUDA/Vulkan/Metal where present. */
  gpu: false | 'auto';
  /**
   * KV cache precision (default 'F32'). llama.cpp's default F16 cache rounds keys and values,
   * which can flip a near-tie; F32 keeps greedy output equal to the built-in engine's.
   */
  kvCacheType: 'F32' | 'F16';
  /**
   * llama.cpp's flash attention (default off). On CPU it computes in F16: measured on our tiny
   * export, log-probabilities of later tokens moved by up to 4e-3 with it and by at most 3e-6 without.
   */
  flashAttention: boolean;
}

export const defaultLlamaCppPolicyConfig = { threads: 1, sequences: 8, gpu: false, kvCacheType: 'F32', flashAttention: false } satisfies Omit<LlamaCppPolicyConfig, 'modelPath'>;

/** GGUF metadata key our exporter writes: token ids a sampler must never pick (PAD, BOS, byte fallbacks). */
export const BANNED_TOKENS_KEY = 'searchlearn.banned_token_ids';

type NodeLlamaCpp = typeof import('node-llama-cpp');
type Llama = Awaited<ReturnType<NodeLlamaCpp['getLlama']>>;
type LlamaModel = Awaited<ReturnType<Llama['loadModel']>>;
type LlamaContext = Awaited<ReturnType<LlamaModel['createContext']>>;
type LlamaContextSequence = ReturnType<LlamaContext['getSequence']>;
type Token = ReturnType<LlamaModel['tokenize']>[number];
type ControlledEvaluateInputItem = Parameters<LlamaContextSequence['controlledEvaluate']>[0][number];

/**
 * Whether node-llama-cpp's prebuilt binary loads on this machine: null if it does, else the reason
 * (for tests that skip with a printed reason, and for one-line CLI errors).
 */
export async function llamaCppUnavailable(): Promise<string | null> {
  try {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 1 });
    await llama.dispose();
    return null;
  } catch (e) {
    return `node-llama-cpp cannot load its prebuilt CPU binary here: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
  }
}

export async function createLlamaCppPolicy(config: Partial<LlamaCppPolicyConfig> & { modelPath: string }): Promise<LlamaCppPolicy> {
  const c: LlamaCppPolicyConfig = { ...defaultLlamaCppPolicyConfig, ...config };
  if (!existsSync(c.modelPath) || !statSync(c.modelPath).isFile()) throw new Error(`gguf: ${c.modelPath}: no such file (give a .gguf model, e.g. one written by searchlearn export --format gguf)`);
  if (!Number.isInteger(c.threads) || c.threads < 1) throw new Error(`gguf: threads ${c.threads}: must be an integer >= 1`);
  if (!Number.isInteger(c.sequences) || c.sequences < 1) throw new Error(`gguf: sequences ${c.sequences}: must be an integer >= 1`);
  const { getLlama, LlamaLogLevel, TokenBias } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: c.gpu, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: c.threads });
  let model: LlamaModel;
  try {
    model = await llama.loadModel({ modelPath: c.modelPath });
  } catch (e) {
    await llama.dispose();
    throw new Error(`gguf: ${c.modelPath}: llama.cpp cannot load it: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
  }
  const contextSize = Math.max(16, Math.min(c.contextSize ?? Math.min(model.trainContextSize, 4096), model.trainContextSize));
  const context = await model.createContext({
    contextSize: contextSize * c.sequences,
    sequences: c.sequences,
    threads: c.threads,
    experimentalKvCacheKeyType: c.kvCacheType,
    experimentalKvCacheValueType: c.kvCacheType,
    flashAttention: c.flashAttention,
  });
  const banned = bannedIds(model);
  const bias = banned.length > 0 ? TokenBias.for(model).set(banned, 'never') : undefined;
  return new LlamaCppPolicy(c, llama, model, context, contextSize, bias);
}

function bannedIds(model: LlamaModel): Token[] {
  const meta = model.fileInfo.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const ids = meta.searchlearn?.banned_token_ids;
  return Array.isArray(ids) ? (ids.filter((x) => typeof x === 'number') as Token[]) : [];
}

/** An integer seed for sample j of prefix i, independent of how samples are scheduled. */
function sampleSeed(seed: number, i: number, j: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const x of [i, j]) {
    h = Math.imul(h ^ x, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h;
}

export class LlamaCppPolicy implements Policy {
  readonly id: string;
  readonly contextLength: number;
  private readonly free: LlamaContextSequence[] = [];
  private readonly waiting: ((s: LlamaContextSequence) => void)[] = [];
  private calls = 0;

  constructor(
    readonly config: LlamaCppPolicyConfig,
    private readonly llama: Llama,
    readonly model: LlamaModel,
    private readonly context: LlamaContext,
    contextSize: number,
    private readonly bias: InstanceType<NodeLlamaCpp['TokenBias']> | undefined,
  ) {
    this.id = `gguf:${config.modelPath}`;
    this.contextLength = contextSize;
    for (let s = 0; s < config.sequences; s++) this.free.push(context.getSequence());
  }

  private promptTokens(text: string): Token[] {
    const ids = this.model.tokenize(text);
    const bos = this.model.tokens.bos;
    return this.model.tokens.shouldPrependBosToken && bos !== null ? [bos, ...ids] : ids;
  }

  countTokens(text: string): number {
    return this.model.tokenize(text).length;
  }

  private async acquire(): Promise<LlamaContextSequence> {
    const s = this.free.pop();
    if (s) return s;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(s: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next) next(s);
    else this.free.push(s);
  }

  /** Aligns the sequence's KV state with `prompt`, keeping the common prefix (at least one token is left to evaluate, for its logits). */
  private async align(seq: LlamaContextSequence, prompt: Token[]): Promise<number> {
    const { firstDifferentIndex } = seq.compareContextTokens(prompt);
    const keep = Math.min(firstDifferentIndex, prompt.length - 1);
    if (keep < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    return keep;
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    req.signal?.throwIfAborted();
    const warnings: string[] = [];
    const usage: Usage = { ...emptyUsage(), calls: 1 };
    if (req.prefixes.length === 0) return { completions: [], usage: emptyUsage(), warnings };
    const n = req.n ?? 1;
    const temperature = req.temperature ?? 1;
    const stop = (req.stop ?? []).filter((s) => s.length > 0);
    const seed = req.seed ?? 1_000_003 * ++this.calls;
    if (req.logprobs && (temperature !== 1 || (req.topP ?? 1) < 1 || (req.topK ?? 0) > 0)) {
      warnings.push('gguf: logprobs are those of the sampling distribution (after temperature, topP, topK), as node-llama-cpp reports them');
    }
    const prompts = req.prefixes.map((p) => this.promptTokens(p));
    for (const p of prompts) {
      if (p.length >= this.contextLength) throw new Error(`gguf: prompt of ${p.length} tokens does not fit the context length ${this.contextLength}`);
    }
    const completions: Completion[][] = req.prefixes.map(() => []);
    const jobs: (() => Promise<void>)[] = [];
    req.prefixes.forEach((_, i) => {
      for (let j = 0; j < n; j++) {
        jobs.push(async () => {
          const onText = req.onText;
          completions[i]![j] = await this.sample(prompts[i]!, { ...req, temperature, stop, seed: sampleSeed(seed, i, j) }, usage, onText ? (d) => onText(i, j, d) : undefined);
        });
      }
    });
    await Promise.all(jobs.map((job) => job()));
    return { completions, usage, warnings };
  }

  private async sample(prompt: Token[], req: GenerateRequest & { temperature: number; stop: string[]; seed: number }, usage: Usage, onText?: (delta: string) => void): Promise<Completion> {
    const seq = await this.acquire();
    try {
      req.signal?.throwIfAborted();
      const keep = await this.align(seq, prompt);
      usage.promptTokens += prompt.length;
      usage.cachedPromptTokens += keep;
      const limit = Math.min(req.maxTokens, this.contextLength - prompt.length);
      const out: Token[] = [];
      const logprobs: number[] = [];
      let text = '';
      let finishReason: FinishReason = 'length';
      if (limit <= 0) return { text, finishReason, tokens: 0 };
      const maxStop = Math.max(0, ...req.stop.map((s) => s.length));
      // Streaming: text sent so far. The last maxStop characters wait, since a stop string may
      // still complete there (and a server strips it); what was sent always begins the final text.
      let sent = 0;
      const emit = (upTo: number): void => {
        if (onText && upTo > sent) {
          onText(text.slice(sent, upTo));
          sent = upTo;
        }
      };
      const it = seq.evaluateWithMetadata(prompt.slice(keep), { confidence: true }, {
        temperature: req.temperature,
        ...(req.topK ? { topK: req.topK } : {}),
        ...(req.topP !== undefined && req.topP < 1 ? { topP: req.topP } : {}),
        seed: req.seed,
        ...(this.bias ? { tokenBias: this.bias } : {}),
        yieldEogToken: true,
      });
      for await (const { token, confidence } of it) {
        out.push(token);
        logprobs.push(Math.log(Math.max(confidence ?? 1, Number.MIN_VALUE)));
        if (this.model.isEogToken(token)) {
          finishReason = 'eos';
          break;
        }
        text = this.model.detokenize(out);
        if (maxStop > 0) {
          const from = Math.max(0, text.length - maxStop - 8);
          const hits = req.stop.map((s) => text.indexOf(s, from)).map((at, k) => (at >= 0 ? at + req.stop[k]!.length : Infinity));
          const end = Math.min(...hits);
          if (end !== Infinity) {
            text = text.slice(0, end);
            finishReason = 'stop';
            break;
          }
        }
        if (out.length >= limit || req.signal?.aborted) break;
        // A trailing U+FFFD is half a multi-byte character that the next token completes.
        emit(text.length - maxStop - (text.endsWith('\uFFFD') ? 1 : 0));
      }
      usage.outputTokens += out.length;
      req.signal?.throwIfAborted();
      return { text, finishReason, tokens: out.length, ...(req.logprobs ? { logprobs } : {}) };
    } finally {
      this.release(seq);
    }
  }

  /**
   * Log-probabilities under the model's untempered distribution with the banned tokens removed
   * (for our exports: PAD, BOS and the byte fallbacks, which the built-in sampler never emits
   * either); the built-in policy's logprobsOf keeps PAD and BOS, so the two differ by
   * log(1 − p(PAD) − p(BOS)), about 1e-4 for a trained model.
   */
  async logprobsOf(items: { prefix: string; continuation: string }[]): Promise<LogprobsResult[]> {
    return Promise.all(items.map(async ({ prefix, continuation }) => {
      const prompt = this.promptTokens(prefix);
      const cont = this.model.tokenize(continuation);
      const all = [...prompt, ...cont];
      if (all.length > this.contextLength) throw new Error(`gguf: ${all.length} tokens do not fit the context length ${this.contextLength}`);
      const seq = await this.acquire();
      try {
        const keep = await this.align(seq, all);
        const input = all.slice(keep).map((t, k) => {
          const at = keep + k;
          // Ask for the next-token distribution at every position that predicts a continuation token.
          if (at < prompt.length - 1 || at >= all.length - 1) return t;
          const item: ControlledEvaluateInputItem = [t, { generateNext: { probabilities: true, ...(this.bias ? { options: { tokenBias: this.bias } } : {}) } }];
          return item;
        });
        const res = await seq.controlledEvaluate(input);
        const logprobs: number[] = [];
        for (let k = 0; k < input.length; k++) {
          const at = keep + k;
          if (at < prompt.length - 1 || at >= all.length - 1) continue;
          const p = res[k]?.next.probabilities?.get(all[at + 1]!) ?? 0;
          logprobs.push(Math.log(Math.max(p, Number.MIN_VALUE)));
        }
        return { logprobs, usage: { promptTokens: all.length, cachedPromptTokens: keep, outputTokens: 0, calls: 1 } };
      } finally {
        this.release(seq);
      }
    }));
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
