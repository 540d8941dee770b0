import { setMaxListeners } from 'node:events';
import { z } from 'zod';
import type { FinishReason } from '../core/trajectory.js';
import { HttpClient, HttpError, type HttpClientOptions, type HttpStats } from './http.js';
import type { EndpointStats } from './endpoints.js';
import type { Transport } from './node-transport.js';
import { emptyUsage, type Completion, type GenerateRequest, type GenerateResult, type LogprobsResult, type Policy, type Usage } from './policy.js';

/**
 * A Policy served by any OpenAI-compatible completions server: vLLM, SGLang, llama.cpp's
 * `llama-server`, Ollama, or `searchlearn serve`. Search continues raw text (a prompt plus the
 * steps so far), so it uses `/v1/completions` with a raw prompt, never chat.
 *
 * Transport: node:http with keep-alive sockets and our own small queue (`HttpClient`), not the
 * `openai` npm client (nor the global `fetch`, which costs a client beside its server CPU: see
 * node-transport.ts).
 * The client binds one base URL and retries on that same URL; we balance several replicas by
 * load, send a retry to another replica, count every attempt for compute accounting, and pass
 * the engines' extra fields (`include_stop_str_in_output`, `no_stop_trim`, `top_k`) without casts.
 * The official client is used in the tests, against our server, as the reference client.
 *
 * | request field | sent as | when the server lacks it |
 * |---|---|---|
 * | `n` | `n` (one request per prefix; prompt tokens are counted once by the server) | fewer choices than asked: the rest fan out as single requests with distinct seeds, and a warning |
 * | `stop` | `stop` + `include_stop_str_in_output` (vLLM) + `no_stop_trim` (SGLang) | stripped stop: re-appended from vLLM's `stop_reason` / llama.cpp's `stopping_word`, or when only one stop string was given |
 * | `seed` | `seed`, prefix i gets seed + i·1000003 (so a single prefix gets the seed itself) | - |
 * | `logprobs` | `logprobs: 1` (`logprobs: 0` otherwise, for exact per-sample token counts) | warning |
 * | `topK` | `top_k` (vLLM, SGLang, llama.cpp extension) | - |
 *
 * Chat-only servers (no `/v1/completions`: a 404 or 405 there, or `api: 'chat'`) are asked through
 * `/v1/chat/completions` with the prefix as a final assistant message that the server continues
 * (vLLM's `continue_final_message: true, add_generation_prompt: false`), so search still extends
 * raw text; `chatMessages` puts a problem in a user turn instead. Echo (`logprobsOf`) needs
 * `/v1/completions`, and says so.
 */
export interface OpenAIPolicyOptions {
  /** One server, e.g. `http://127.0.0.1:8000/v1` (the `/v1` is optional). */
  baseURL?: string;
  /** Several replicas of the same model, balanced by requests in flight. */
  baseURLs?: string[];
  /** Served model name; may be omitted when the server serves exactly one. */
  model?: string;
  apiKey?: string;
  /** Requests in flight per endpoint. Default 16. */
  concurrency?: number;
  /** Time limit of one attempt. Default 10 minutes. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 6. */
  maxRetries?: number;
  /** First retry backoff (doubling, with jitter). Default 500 ms. */
  retryBaseDelayMs?: number;
  /** Renders a prefix into the text the server continues (a chat template applied on our side). Default: the prefix as is. */
  chatTemplate?: (prefix: string) => string;
  /** `n` handling: 'auto' (native, fan out if the server returns fewer), 'native', 'fanout'. Default 'auto'. */
  n?: 'auto' | 'native' | 'fanout';
  /** Context length when `/v1/models` does not report `max_model_len`. Default 4096 (with a warning). */
  contextLength?: number;
  /** Send vLLM's `include_stop_str_in_output` and SGLang's `no_stop_trim`. Default true; turn off for strict servers (api.openai.com rejects unknown fields). */
  engineExtras?: boolean;
  /** Injected transport (tests, proxies); global `fetch` fits. */
  fetch?: Transport;
  random?: () => number;
  /** Which API generates: 'completions', 'chat' (chat-only servers), or 'auto' (completions, falling back to chat on 404/405). Default 'auto'. */
  api?: 'auto' | 'completions' | 'chat';
  /** Chat API: the messages a prefix becomes, the last one an assistant message to continue. Default: the whole prefix as that message. */
  chatMessages?: (prefix: string) => ChatMessage[];
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What the start-up probe found. */
export interface OpenAICapabilities {
  /** `owned_by` of the model in `/v1/models` (vllm, sglang, llamacpp, searchlearn, ...). */
  server: string;
  contextLength: number;
  /** Where exact token counts come from: the server's `/tokenize`, or an estimate. */
  tokenize: 'vllm' | 'llamacpp' | 'none';
  /** False once a server answered fewer choices than `n`. */
  nativeN: boolean;
  /** The API that generates: raw completions, or chat continuing a final assistant message. */
  api: 'completions' | 'chat';
}

export interface OpenAIPolicy extends Policy {
  readonly model: string;
  readonly capabilities: OpenAICapabilities;
  /** Start-up warnings (also returned once by the first `generate`). */
  readonly warnings: readonly string[];
  /** Attempts by outcome (retries, failures): every request accounted for. */
  readonly stats: HttpStats;
  /** Usage summed over every successful call. */
  readonly usage: Usage;
  endpoints(): EndpointStats[];
  /** Exact token count from the server's `/tokenize`; the estimate when it has none. */
  countTokensExact(text: string, signal?: AbortSignal): Promise<number>;
}

export const defaultOpenAIPolicyOptions = {
  concurrency: 16,
  timeoutMs: 600_000,
  maxRetries: 6,
  retryBaseDelayMs: 500,
  n: 'auto',
  contextLength: 4096,
  engineExtras: true,
  api: 'auto',
} satisfies Partial<OpenAIPolicyOptions>;

/** Token accounting, the same on /v1/completions and /v1/chat/completions. */
const usageSchema = z
  .object({
    prompt_tokens: z.number(),
    completion_tokens: z.number().optional(),
    prompt_tokens_details: z.object({ cached_tokens: z.number().nullish() }).nullish(),
  })
  .nullish();

const chatCompletionSchema = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().optional(),
      message: z.object({ content: z.string().nullish() }),
      finish_reason: z.string().nullish(),
      stop_reason: z.union([z.string(), z.number(), z.null()]).optional(),
      logprobs: z.object({ content: z.array(z.object({ token: z.string(), logprob: z.number().nullable() })).nullish() }).nullish(),
    }),
  ),
  usage: usageSchema,
});

const modelsSchema = z.object({
  data: z.array(z.object({ id: z.string(), owned_by: z.string().optional(), max_model_len: z.number().int().positive().optional() })),
});

const completionSchema = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().optional(),
      text: z.string(),
      finish_reason: z.string().nullish(),
      stop_reason: z.union([z.string(), z.number(), z.null()]).optional(),
      stopping_word: z.string().optional(),
      logprobs: z
        .object({
          tokens: z.array(z.string()).nullish(),
          token_logprobs: z.array(z.number().nullable()).nullish(),
          text_offset: z.array(z.number()).nullish(),
        })
        .nullish(),
    }),
  ),
  usage: usageSchema,
});
type CompletionBody = z.infer<typeof completionSchema>;
type Choice = CompletionBody['choices'][number];

/** Seed of prefix i (and of fanned-out sample j): distinct, reproducible, under 2^31. */
export function seedFor(seed: number, i: number): number {
  return (seed + i * 1_000_003) % 2_147_483_647;
}

/** Connects, probes `/v1/models` (and `/tokenize`) on every endpoint, and returns the policy. */
export async function createOpenAIPolicy(options: OpenAIPolicyOptions): Promise<OpenAIPolicy> {
  const o = { ...defaultOpenAIPolicyOptions, ...options };
  const urls = [...(o.baseURLs ?? []), ...(o.baseURL ? [o.baseURL] : [])];
  if (urls.length === 0) throw new Error('createOpenAIPolicy: give baseURL or baseURLs');
  const httpOpts: HttpClientOptions = {
    baseURLs: urls,
    concurrency: o.concurrency,
    timeoutMs: o.timeoutMs,
    retry: { maxRetries: o.maxRetries, baseDelayMs: o.retryBaseDelayMs },
    ...(o.apiKey ? { apiKey: o.apiKey } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}),
    ...(o.random ? { random: o.random } : {}),
  };
  const http = new HttpClient(httpOpts);
  const warnings: string[] = [];

  // Probe every replica: each must serve the model (a typo fails here, not mid-search).
  const listed = await Promise.all(
    http.pool.urls.map(async (url) => {
      const parsed = modelsSchema.safeParse(await http.get('/v1/models', undefined, url));
      if (!parsed.success) throw new Error(`${url}/v1/models: unexpected response (${parsed.error.issues[0]?.message})`);
      return { url, models: parsed.data.data };
    }),
  );
  const first = listed[0]!.models;
  const model = o.model ?? (first.length === 1 ? first[0]!.id : undefined);
  if (model === undefined) throw new Error(`${listed[0]!.url} serves ${first.length} models (${first.map((m) => m.id).join(', ')}); give one with --model`);
  for (const { url, models } of listed) {
    if (!models.some((m) => m.id === model)) throw new Error(`model ${JSON.stringify(model)} is not served at ${url} (served: ${models.map((m) => m.id).join(', ') || 'none'})`);
  }
  const info = first.find((m) => m.id === model)!;
  const contextLength = info.max_model_len ?? o.contextLength;
  if (info.max_model_len === undefined) warnings.push(`${listed[0]!.url} does not report max_model_len; assuming a context of ${contextLength} tokens`);

  const tokenizeBody = (kind: 'vllm' | 'llamacpp', text: string): unknown => (kind === 'vllm' ? { model, prompt: text } : { content: text });
  const tokenCount = (j: unknown): number | undefined => {
    const r = j as { count?: unknown; tokens?: unknown };
    if (typeof r.count === 'number') return r.count;
    if (Array.isArray(r.tokens)) return r.tokens.length;
    return undefined;
  };
  const calibration = '0123456789';
  let tokenize: OpenAICapabilities['tokenize'] = 'none';
  let calibrated: number | undefined;
  for (const kind of ['vllm', 'llamacpp'] as const) {
    try {
      const n = tokenCount(await http.post('/tokenize', tokenizeBody(kind, calibration), undefined, http.pool.urls[0]));
      if (n !== undefined && n > 0) {
        tokenize = kind;
        calibrated = n;
        break;
      }
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
    }
  }
  if (tokenize === 'none') warnings.push(`${listed[0]!.url} has no /tokenize: countTokens estimates from characters per token seen in usage`);
  else warnings.push(`countTokens estimates from characters per token (exact counts: countTokensExact, via ${listed[0]!.url}/tokenize)`);

  const caps: OpenAICapabilities = { server: info.owned_by ?? 'unknown', contextLength, tokenize, nativeN: o.n !== 'fanout', api: o.api === 'chat' ? 'chat' : 'completions' };
  const total = emptyUsage();
  // Characters per token, learnt from every prompt's exact count (start: the calibration, or 4).
  const ratio = { chars: calibrated ? calibration.length : 4, tokens: calibrated ?? 1 };
  const exact = new Map<string, number>();
  const pendingWarnings = [...warnings];
  const template = o.chatTemplate ?? ((p: string) => p);

  const learn = (text: string, tokens: number): void => {
    if (exact.size > 4096) exact.clear();
    exact.set(text, tokens);
    ratio.chars += text.length;
    ratio.tokens += tokens;
  };

  const countTokens = (text: string): number => exact.get(text) ?? Math.max(1, Math.ceil((text.length * ratio.tokens) / ratio.chars));

  const chatMessages = o.chatMessages ?? ((prefix: string): ChatMessage[] => [{ role: 'assistant', content: prefix }]);

  /** A completions body sent as chat, continuing the final assistant message; the answer in the completions shape. */
  const chatComplete = async (body: Record<string, unknown>, signal: AbortSignal, warn?: (w: string) => void): Promise<CompletionBody> => {
    if (body['echo']) throw new Error(`${model}: the server has no /v1/completions, and prompt logprobs (echo) need it; logprob PRMs, judges and PPO cannot use this server`);
    const { prompt, logprobs: _l, include_stop_str_in_output: _a, no_stop_trim: _b, ...rest } = body;
    if (!o.engineExtras) warn?.(`${model}: chat without engine extras (continue_final_message) answers in a new message instead of continuing the prefix`);
    const raw = await http.post('/v1/chat/completions', {
      ...rest,
      messages: chatMessages(String(prompt)),
      // Per-token logprobs always, as `logprobs: 0` on completions: exact token counts per sample.
      logprobs: true,
      ...(o.engineExtras ? { continue_final_message: true, add_generation_prompt: false, ...(rest['stop'] ? { include_stop_str_in_output: true } : {}) } : {}),
    }, signal);
    const parsed = chatCompletionSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`/v1/chat/completions: unexpected response (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
    return {
      usage: parsed.data.usage,
      choices: parsed.data.choices.map((c) => {
        const text = c.message.content ?? '';
        const lp = c.logprobs?.content;
        let at = 0;
        return {
          ...(c.index !== undefined ? { index: c.index } : {}),
          text,
          finish_reason: c.finish_reason ?? null,
          ...(c.stop_reason !== undefined ? { stop_reason: c.stop_reason } : {}),
          logprobs: lp ? { tokens: lp.map((t) => t.token), token_logprobs: lp.map((t) => t.logprob), text_offset: lp.map((t) => ((at += t.token.length), at - t.token.length)) } : null,
        };
      }),
    };
  };

  const complete = async (body: Record<string, unknown>, signal: AbortSignal, warn?: (w: string) => void): Promise<CompletionBody> => {
    if (caps.api === 'chat') return chatComplete(body, signal, warn);
    let raw: unknown;
    try {
      raw = await http.post('/v1/completions', body, signal);
    } catch (e) {
      // A chat-only server: continue the prefix as a final assistant message instead.
      if (o.api !== 'auto' || !(e instanceof HttpError) || (e.status !== 404 && e.status !== 405)) throw e;
      caps.api = 'chat';
      warn?.(`${model}: the server has no /v1/completions (${e.status}); generating through /v1/chat/completions, continuing the prefix as an assistant message`);
      return chatComplete(body, signal, warn);
    }
    const parsed = completionSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`/v1/completions: unexpected response (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
    return parsed.data;
  };

  const policy: OpenAIPolicy = {
    id: `openai:${model}@${http.pool.urls.join(',')}`,
    contextLength,
    model,
    capabilities: caps,
    warnings,
    stats: http.stats,
    usage: total,
    endpoints: () => http.pool.stats(),
    countTokens,

    async countTokensExact(text, signal) {
      if (caps.tokenize === 'none') return countTokens(text);
      const n = tokenCount(await http.post('/tokenize', tokenizeBody(caps.tokenize, text), signal));
      if (n === undefined) throw new Error('/tokenize: response has neither count nor tokens');
      learn(text, n);
      return n;
    },

    async generate(req: GenerateRequest): Promise<GenerateResult> {
      req.signal?.throwIfAborted();
      const warn: string[] = pendingWarnings.splice(0);
      const once = (w: string): void => {
        if (!warn.includes(w)) warn.push(w);
      };
      const usage = emptyUsage();
      if (req.prefixes.length === 0) return { completions: [], usage, warnings: warn };
      const n = req.n ?? 1;
      const stop = (req.stop ?? []).filter((s) => s.length > 0);
      // One failure (after retries) cancels the sibling requests: no orphaned work keeps running.
      const ctrl = new AbortController();
      // Every sibling request listens to it (n fan-out, many prefixes): not a leak.
      setMaxListeners(0, ctrl.signal);
      const onAbort = (): void => ctrl.abort(req.signal!.reason);
      req.signal?.addEventListener('abort', onAbort, { once: true });

      const base = (prompt: string, count: number, seed: number | undefined): Record<string, unknown> => ({
        model,
        prompt,
        n: count,
        max_tokens: req.maxTokens,
        temperature: req.temperature ?? 1,
        ...(req.topP !== undefined && req.topP !== 1 ? { top_p: req.topP } : {}),
        ...(req.topK ? { top_k: req.topK } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(stop.length > 0 ? { stop, ...(o.engineExtras ? { include_stop_str_in_output: true, no_stop_trim: true } : {}) } : {}),
        logprobs: req.logprobs ? 1 : 0,
      });

      const account = (res: CompletionBody, prompt: string, prefix: string): void => {
        const u = res.usage;
        usage.calls++;
        if (!u) {
          once('server reports no usage; prompt tokens are estimated');
          usage.promptTokens += countTokens(prefix);
          return;
        }
        usage.promptTokens += u.prompt_tokens;
        usage.cachedPromptTokens += Math.min(u.prompt_tokens, u.prompt_tokens_details?.cached_tokens ?? 0);
        if (prompt === prefix) learn(prefix, u.prompt_tokens);
      };

      const samplesFor = async (prefix: string, i: number): Promise<Completion[]> => {
        const prompt = template(prefix);
        const seed = req.seed === undefined ? undefined : seedFor(req.seed, i);
        const out: Completion[] = [];
        if (caps.nativeN || n === 1) {
          const res = await complete(base(prompt, n, seed), ctrl.signal, once);
          account(res, prompt, prefix);
          out.push(...toCompletions(res, n, req.maxTokens, stop, !!req.logprobs, once));
          if (out.length > n) out.length = n;
          if (out.length < n && n > 1) {
            caps.nativeN = false;
            once(`${model}: the server returned ${out.length} of n=${n} samples; the rest are separate requests with distinct seeds`);
          }
        }
        // Fan out what the server did not return, one request per sample with its own seed.
        const missing = Array.from({ length: n - out.length }, (_, k) => out.length + k);
        const rest = await Promise.all(
          missing.map(async (j) => {
            const res = await complete(base(prompt, 1, seed === undefined ? undefined : seedFor(seed, j)), ctrl.signal, once);
            account(res, prompt, prefix);
            return toCompletions(res, 1, req.maxTokens, stop, !!req.logprobs, once).slice(0, 1);
          }),
        );
        for (const r of rest) out.push(...r);
        return out;
      };

      try {
        const completions = await Promise.all(req.prefixes.map((p, i) => samplesFor(p, i)));
        usage.outputTokens = completions.flat().reduce((s, c) => s + c.tokens, 0);
        if (req.logprobs && completions.flat().some((c) => c.logprobs === undefined)) once(`${model}: the server returned no logprobs`);
        if (req.topK) once('topK is sent as top_k (a vLLM / SGLang / llama.cpp extension; OpenAI itself ignores or rejects it)');
        addUsage(total, usage);
        return { completions, usage, warnings: warn };
      } catch (e) {
        ctrl.abort(e);
        throw e;
      } finally {
        req.signal?.removeEventListener('abort', onAbort);
      }
    },

    /** Scores given continuations with `echo` and `max_tokens: 0` (vLLM and `searchlearn serve`). */
    async logprobsOf(items) {
      return Promise.all(
        items.map(async ({ prefix, continuation }): Promise<LogprobsResult> => {
          const prompt = template(prefix);
          const res = await complete({ model, prompt: prompt + continuation, max_tokens: 0, echo: true, logprobs: 1, temperature: 0 }, new AbortController().signal);
          const lp = res.choices[0]?.logprobs;
          if (!lp?.tokens || !lp.token_logprobs || !lp.text_offset) throw new Error(`${model}: the server does not return prompt logprobs (echo with logprobs); logprobsOf needs them (vLLM, searchlearn serve)`);
          const logprobs: number[] = [];
          lp.tokens.forEach((t, k) => {
            // Tokens that end inside the continuation belong to it (a token spanning the seam counts).
            if (lp.text_offset![k]! + t.length > prompt.length || (t.length === 0 && lp.text_offset![k]! >= prompt.length)) {
              const v = lp.token_logprobs![k];
              if (v !== null && v !== undefined) logprobs.push(v);
            }
          });
          const promptTokens = res.usage?.prompt_tokens ?? countTokens(prompt + continuation);
          const usage: Usage = { promptTokens, cachedPromptTokens: Math.min(promptTokens, res.usage?.prompt_tokens_details?.cached_tokens ?? 0), outputTokens: 0, calls: 1 };
          addUsage(total, usage);
          return { logprobs, usage };
        }),
      );
    },
  };
  return policy;
}

function addUsage(a: Usage, b: Usage): void {
  a.promptTokens += b.promptTokens;
  a.cachedPromptTokens += b.cachedPromptTokens;
  a.outputTokens += b.outputTokens;
  a.calls += b.calls;
}

/**
 * Choices of one response as Completions: finish reasons mapped (OpenAI says 'stop' for both a
 * stop string and end of sequence; vLLM's `stop_reason` tells them apart), a stripped stop string
 * put back, text cut at the first stop string, and per-sample token counts (from the logprob
 * tokens; otherwise the response's completion_tokens shared out, 'length' samples taking maxTokens).
 */
export function toCompletions(res: CompletionBody, n: number, maxTokens: number, stop: string[], wantLogprobs: boolean, warn: (w: string) => void): Completion[] {
  const choices = [...res.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).slice(0, n);
  const out = choices.map((c) => oneChoice(c, maxTokens, stop, wantLogprobs, warn));
  const unknown = out.filter((c) => c.tokens < 0);
  if (unknown.length > 0) {
    const known = out.filter((c) => c.tokens >= 0).reduce((s, c) => s + c.tokens, 0);
    let left = Math.max(0, (res.usage?.completion_tokens ?? 0) - known);
    const chars = unknown.reduce((s, c) => s + Math.max(1, c.text.length), 0);
    unknown.forEach((c, k) => {
      const share = k === unknown.length - 1 ? left : Math.round((left * Math.max(1, c.text.length)) / chars);
      c.tokens = Math.min(maxTokens, Math.max(0, Math.min(share, left)));
      left -= c.tokens;
    });
  }
  return out;
}

function oneChoice(c: Choice, maxTokens: number, stop: string[], wantLogprobs: boolean, warn: (w: string) => void): Completion {
  let text = c.text;
  let tokens = c.logprobs?.tokens ?? undefined;
  let lps = c.logprobs?.token_logprobs ?? undefined;
  const offsets = c.logprobs?.text_offset ?? undefined;
  let finish: FinishReason = c.finish_reason === 'length' ? 'length' : 'eos';
  if (c.finish_reason !== 'length' && stop.length > 0) {
    const matched = typeof c.stop_reason === 'string' ? c.stop_reason : c.stopping_word;
    if (stop.some((s) => text.endsWith(s))) finish = 'stop';
    else if (matched !== undefined && stop.includes(matched)) {
      text += matched;
      finish = 'stop';
    } else if (c.stop_reason === undefined && c.stopping_word === undefined && stop.length === 1 && c.finish_reason === 'stop') {
      // The server neither keeps the stop string nor says which one matched; with a single stop
      // string, a step ending is far likelier than end of sequence.
      text += stop[0]!;
      finish = 'stop';
      warn('the server strips stop strings without saying which matched; the single stop string is re-appended');
    }
  }
  // Cut at the first stop string (a server may let one through inside a longer token).
  let cutAt = Infinity;
  for (const s of stop) {
    const at = text.indexOf(s);
    if (at >= 0) cutAt = Math.min(cutAt, at + s.length);
  }
  if (cutAt < text.length) {
    text = text.slice(0, cutAt);
    finish = 'stop';
    if (tokens && offsets && offsets.length === tokens.length) {
      const base = offsets[0] ?? 0;
      const keep = offsets.findIndex((off) => off - base >= cutAt);
      if (keep >= 0) {
        tokens = tokens.slice(0, keep);
        lps = lps?.slice(0, keep);
      }
    }
  }
  const count = tokens ? Math.min(tokens.length, maxTokens) : -1;
  const completion: Completion = { text, finishReason: finish, tokens: count };
  if (finish === 'length' && count < 0) completion.tokens = maxTokens;
  if (wantLogprobs && lps && tokens) completion.logprobs = lps.slice(0, count).map((v) => v ?? 0);
  return completion;
}
