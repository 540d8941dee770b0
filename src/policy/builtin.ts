import { outputSizeOf } from '../nn/config.js';
import { kernelsFor, type KernelChoice } from '../nn/engine.js';
import { defaultWorkerCount, sharedEnginePool } from '../nn/engine-pool.js';
import { defaultGeneratorOptions, Generator, type GeneratorOptions } from '../nn/generate.js';
import { loadModel } from '../nn/model-io.js';
import { ParallelGenerator, type ParallelGenerateOptions } from '../nn/parallel-generator.js';
import type { Transformer } from '../nn/model.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import { emptyUsage, type GenerateRequest, type GenerateResult, type LogprobsResult, type Policy } from './policy.js';

export interface BuiltinPolicyOptions extends Partial<GeneratorOptions>, Partial<ParallelGenerateOptions> {
  id?: string;
  /**
   * Worker threads that sample beside the main thread, each with its own engine over the same
   * weights (src/nn/engine-pool.ts). Default: one per further core (os.availableParallelism() − 1,
   * or SEARCHLEARN_WORKERS); 0: the main thread alone.
   */
  workers?: number;
}

/**
 * The built-in backend: our transformer on this machine's CPU, with a KV cache and a prefix
 * cache shared across calls (search calls again and again with prefixes that extend earlier ones).
 * Large requests (many prefixes or samples) are split across the main thread and worker threads.
 */
export class BuiltinPolicy implements Policy {
  readonly id: string;
  readonly contextLength: number;
  readonly generator: Generator;
  /** Null without workers. */
  readonly parallel: ParallelGenerator | null;
  private calls = 0;

  constructor(readonly model: Transformer, readonly tokenizer: CharTokenizer, opts: BuiltinPolicyOptions = {}) {
    const { id, workers = defaultWorkerCount(), minSamplesPerEngine, ...genOpts } = opts;
    this.generator = new Generator(model, tokenizer, genOpts);
    this.parallel =
      workers > 0
        ? new ParallelGenerator(this.generator, sharedEnginePool(model, tokenizer, { workers }), { ...defaultGeneratorOptions, ...genOpts }, minSamplesPerEngine !== undefined ? { minSamplesPerEngine } : {})
        : null;
    this.contextLength = model.config.contextLength;
    this.id = id ?? `builtin(d${model.config.dModel}x${model.config.nLayers})`;
  }

  static load(dir: string, kernels: KernelChoice = 'fast', opts: BuiltinPolicyOptions = {}): BuiltinPolicy {
    const { model, tokenizer, dir: ckptDir } = loadModel(dir, kernelsFor(kernels));
    if (outputSizeOf(model.config) !== model.config.vocabSize) {
      throw new Error(`${ckptDir} is a reward (value) model with output size ${outputSizeOf(model.config)}, not a policy; give a checkpoint from init or train-lm (use it as --reward prm:DIR or orm:DIR)`);
    }
    return new BuiltinPolicy(model, tokenizer, { ...opts, id: `builtin:${ckptDir}` });
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    req.signal?.throwIfAborted();
    const warnings: string[] = [];
    if (req.prefixes.length === 0) return { completions: [], usage: emptyUsage(), warnings };
    // Without a seed, successive calls still differ but stay reproducible from process start.
    const seed = req.seed ?? 1_000_003 * ++this.calls;
    const options = { n: req.n ?? 1, maxTokens: req.maxTokens, temperature: req.temperature ?? 1, topP: req.topP ?? 1, topK: req.topK ?? 0, stop: req.stop ?? [], seed };
    const { samples, stats } = this.parallel ? await this.parallel.generate(req.prefixes, options) : this.generator.generate(req.prefixes, options);
    return {
      completions: samples.map((row) =>
        row.map((s) => ({
          text: s.text,
          finishReason: s.finishReason,
          tokens: s.tokenIds.length,
          ...(req.logprobs ? { logprobs: s.logprobs } : {}),
        })),
      ),
      usage: { promptTokens: stats.promptTokens, cachedPromptTokens: stats.cachedPromptTokens, outputTokens: stats.outputTokens, calls: 1 },
      warnings,
    };
  }

  async logprobsOf(items: { prefix: string; continuation: string }[]): Promise<LogprobsResult[]> {
    return this.generator.logprobsOf(items).map(({ logprobs, stats }) => ({
      logprobs,
      usage: { promptTokens: stats.promptTokens, cachedPromptTokens: stats.cachedPromptTokens, outputTokens: 0, calls: 1 },
    }));
  }

  countTokens(text: string): number {
    return [...text].length;
  }

  /** Ends the worker threads (shared by every policy over this model; they start again if used). */
  async dispose(): Promise<void> {
    await this.parallel?.close();
  }
}
