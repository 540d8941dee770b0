import { z } from 'zod';

/**
 * Request bodies of the OpenAI-compatible endpoints, validated at the edge. Only the fields we
 * use are named; unknown fields pass (clients such as LangChain send extras), as vLLM does.
 * Bounds on max_tokens, n and prompts come from the server's limits (`ServeLimits`).
 */
export interface ServeLimits {
  /** Largest request body in bytes. */
  maxBodyBytes: number;
  /** Most samples per prompt. */
  maxN: number;
  /** Most prompts in one /v1/completions request. */
  maxPrompts: number;
  /** Most samples (prompts × n) in one request. */
  maxSamples: number;
  /** Largest max_tokens (also capped by the model's context). */
  maxTokens: number;
}

export const defaultServeLimits = {
  // vLLM has no body limit of its own; 1 MiB holds any prompt our context lengths allow.
  maxBodyBytes: 1 << 20,
  // OpenAI's own cap on n for completions is 128; our batches hold 256 sequences.
  maxN: 64,
  maxPrompts: 64,
  maxSamples: 256,
  maxTokens: 4096,
} satisfies ServeLimits;

const stopSchema = z
  .union([z.string(), z.array(z.string()).max(16, { message: 'at most 16 stop strings' })])
  .nullish()
  .transform((s) => (s == null ? [] : typeof s === 'string' ? [s] : s).filter((x) => x.length > 0));

const sampling = (limits: ServeLimits) => ({
  model: z.string().optional(),
  n: z.number().int().min(1).max(limits.maxN, { message: `n must be <= ${limits.maxN}` }).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  seed: z.number().int().nullish(),
  stop: stopSchema,
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  // vLLM's and SGLang's names for "keep the stop string in the text".
  include_stop_str_in_output: z.boolean().nullish(),
  no_stop_trim: z.boolean().nullish(),
});

export function completionRequestSchema(limits: ServeLimits) {
  return z.object({
    ...sampling(limits),
    prompt: z.union([z.string(), z.array(z.string()).min(1).max(limits.maxPrompts, { message: `at most ${limits.maxPrompts} prompts` })]),
    max_tokens: z.number().int().min(0).max(limits.maxTokens, { message: `max_tokens must be <= ${limits.maxTokens}` }).nullish(),
    logprobs: z.number().int().min(0).max(5).nullish(),
    echo: z.boolean().nullish(),
  });
}
export type CompletionRequest = z.infer<ReturnType<typeof completionRequestSchema>>;

const messageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'developer', 'tool']),
  content: z.union([z.string(), z.array(z.object({ type: z.literal('text'), text: z.string() })), z.null()]),
});

export function chatRequestSchema(limits: ServeLimits) {
  return z.object({
    ...sampling(limits),
    messages: z.array(messageSchema).min(1, { message: 'messages must not be empty' }),
    max_tokens: z.number().int().min(1).max(limits.maxTokens, { message: `max_tokens must be <= ${limits.maxTokens}` }).nullish(),
    max_completion_tokens: z.number().int().min(1).max(limits.maxTokens, { message: `max_completion_tokens must be <= ${limits.maxTokens}` }).nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    // vLLM's switch for continuing a final assistant message instead of starting a new one.
    continue_final_message: z.boolean().nullish(),
  });
}
export type ChatRequest = z.infer<ReturnType<typeof chatRequestSchema>>;

export const tokenizeRequestSchema = z.object({ model: z.string().optional(), prompt: z.string() });

/**
 * The built-in models have no chat format: a conversation is the concatenation of its messages'
 * texts (the task prompt in a user message, a partial solution in a final assistant message,
 * which is then continued, as vLLM's `continue_final_message`).
 */
export function renderMessages(messages: ChatRequest['messages']): string {
  return messages.map((m) => (typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''))).join('');
}

/** An OpenAI-style error body. */
export function errorBody(message: string, type: string, param: string | null = null, code: string | null = null): { error: { message: string; type: string; param: string | null; code: string | null } } {
  return { error: { message, type, param, code } };
}
