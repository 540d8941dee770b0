import { z } from 'zod';
import { HttpClient } from '../policy/http.js';
import { aggregate, type Aggregation, type RewardItem, type RewardModel, type RewardScore } from './reward.js';

/**
 * A process reward model served by vLLM's pooling API (`POST /pooling`), in the style of
 * Qwen2.5-Math-PRM (Zhang et al. 2025, "The Lessons of Developing Process Reward Models"): the
 * solution's steps are each followed by a step tag (`<extra_0>`), the model classifies the tag
 * positions, and the positive-class probability at each tag is that step's score. vLLM's STEP
 * pooler (the default for Qwen2.5-Math-PRM: `vllm serve Qwen/Qwen2.5-Math-PRM-7B --task reward`)
 * returns one `[negative, positive]` row per tag.
 *
 * Items go to the server in batches (`input` as a list), with the transport's retries and
 * per-endpoint concurrency; usage counts HTTP calls and the prompt tokens the server reports.
 */
export interface RemotePrmConfig {
  baseURL?: string;
  baseURLs?: string[];
  model: string;
  apiKey?: string;
  /** Text after each step, read by the PRM. Default Qwen2.5-Math-PRM's `<extra_0>`. */
  stepTag: string;
  /** System prompt of the default chat format (Qwen2.5-Math's). */
  systemPrompt: string;
  /** Renders an item for the PRM. Default: Qwen's ChatML with the problem as the user turn and tagged steps as the assistant turn. */
  format?: (item: RewardItem, stepTag: string) => string;
  /** Index of the positive class in each row. Default 1. */
  positiveIndex: number;
  /** Step-score aggregation. Default 'min' (Lightman et al. 2023: a solution is as good as its worst step). */
  aggregation: Aggregation;
  /** Items per request. */
  batchSize: number;
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
}

export const defaultRemotePrmConfig = {
  stepTag: '<extra_0>',
  systemPrompt: 'Please reason step by step, and put your final answer within \\boxed{}.',
  positiveIndex: 1,
  aggregation: 'min',
  batchSize: 16,
  concurrency: 8,
  timeoutMs: 120_000,
  maxRetries: 6,
} satisfies Partial<RemotePrmConfig>;

/** Qwen2.5-Math-PRM's input, as in its model card: steps joined and ended by the step tag. */
export function qwenPrmFormat(systemPrompt: string): (item: RewardItem, stepTag: string) => string {
  return (item, tag) =>
    `<|im_start|>system\n${systemPrompt}<|im_end|>\n<|im_start|>user\n${item.problem.prompt}<|im_end|>\n<|im_start|>assistant\n${item.steps.join(tag)}${tag}<|im_end|><|endoftext|>`;
}

const poolingSchema = z.object({
  data: z.array(z.object({ index: z.number().int().optional(), data: z.array(z.union([z.number(), z.array(z.number())])) })),
  usage: z.object({ prompt_tokens: z.number() }).nullish(),
});

export function createRemotePrm(config: Partial<RemotePrmConfig> & { model: string }): RewardModel & { readonly http: HttpClient } {
  const c = { ...defaultRemotePrmConfig, ...config };
  const urls = [...(c.baseURLs ?? []), ...(c.baseURL ? [c.baseURL] : [])];
  const http = new HttpClient({ baseURLs: urls, concurrency: c.concurrency, timeoutMs: c.timeoutMs, retry: { maxRetries: c.maxRetries }, ...(c.apiKey ? { apiKey: c.apiKey } : {}) });
  const format = c.format ?? qwenPrmFormat(c.systemPrompt);
  return {
    id: `remote-prm:${c.model}`,
    kind: 'process',
    // Search re-aggregates step scores with the reward's own choice (else 'last'): say which.
    aggregation: c.aggregation,
    http,
    async score(items) {
      const scores: RewardScore[] = items.map(() => ({ score: 0, stepScores: [] }));
      const todo = items.map((it, i) => ({ it, i })).filter(({ it }) => it.steps.length > 0);
      const usage = { calls: 0, tokens: 0 };
      const batches: (typeof todo)[] = [];
      for (let k = 0; k < todo.length; k += c.batchSize) batches.push(todo.slice(k, k + c.batchSize));
      await Promise.all(
        batches.map(async (batch) => {
          const raw = await http.post('/pooling', { model: c.model, input: batch.map(({ it }) => format(it, c.stepTag)) });
          const parsed = poolingSchema.safeParse(raw);
          if (!parsed.success) throw new Error(`${c.model} /pooling: unexpected response (${parsed.error.issues[0]?.message})`);
          usage.calls++;
          usage.tokens += parsed.data.usage?.prompt_tokens ?? 0;
          const rows = [...parsed.data.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
          if (rows.length !== batch.length) throw new Error(`${c.model} /pooling: ${rows.length} results for ${batch.length} inputs`);
          batch.forEach(({ it, i }, k) => {
            const steps = rows[k]!.data.map((r) => (Array.isArray(r) ? r[c.positiveIndex] : r));
            if (steps.length !== it.steps.length || steps.some((p) => p === undefined || !Number.isFinite(p))) {
              throw new Error(`${c.model} /pooling: ${steps.length} step scores for ${it.steps.length} steps; serve the PRM with STEP pooling on the tag ${JSON.stringify(c.stepTag)} (vLLM's default for Qwen2.5-Math-PRM)`);
            }
            const stepScores = steps as number[];
            scores[i] = { score: aggregate(stepScores, c.aggregation), stepScores };
          });
        }),
      );
      return { scores, usage };
    },
  };
}
