import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { Batcher, type BatcherConfig, type JobResult, type JobScheduler, type SampleJob, type ServeBackend, type ServedSample } from './batcher.js';
import { cpuMs } from './cpu-time.js';
import { chatRequestSchema, completionRequestSchema, defaultServeLimits, errorBody, renderMessages, tokenizeRequestSchema, type ServeLimits } from './schemas.js';

/**
 * An OpenAI-compatible HTTP server over a local model (node:http, no framework): `/v1/models`,
 * `/v1/completions`, `/v1/chat/completions` (n, stop, logprobs, seed, max_tokens, temperature,
 * top_p, top_k, streaming), vLLM's `/tokenize`, and `/health`. Concurrent requests are batched:
 * the built-in model with continuous batching (continuous-batcher.ts: a request joins the running
 * batch at the next decode step), other backends through the window Batcher (batcher.ts). Bound
 * to loopback unless told otherwise; beyond loopback every request needs the API key (as vLLM's
 * `--api-key`), given as `Authorization: Bearer KEY`.
 *
 * Streaming: each choice's text streams as it is decoded (the built-in engine after every decode
 * step, GGUF per token), stop strings held back until they cannot match, and the rest with the
 * finish reason at the end; then `data: [DONE]`. A client that disconnects before its job starts
 * is dropped; one that leaves during generation stops its own sequences (the built-in engine at
 * the next step, GGUF at the next token) while the rest of the batch runs on.
 */
export interface ServeConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Required when host is not loopback. */
  apiKey?: string;
  /** Name in /v1/models; requests naming another model get 404. */
  modelName: string;
  limits: ServeLimits;
  /** Scheduler settings; unset ones take the scheduler's own defaults (continuous: no window; window Batcher: 3 ms). */
  batcher: Partial<BatcherConfig>;
}

export const defaultServeConfig = {
  host: '127.0.0.1',
  // vLLM's default port.
  port: 8000,
  modelName: 'searchlearn',
  limits: defaultServeLimits,
  batcher: {},
} satisfies ServeConfig;

export interface RunningServer {
  /** `http://host:port/v1` (what a client takes as its base URL). */
  url: string;
  server: Server;
  batcher: JobScheduler;
  /** Requests by route and outcome: what a test or a benchmark checks. */
  stats: { requests: number; ok: number; errors: number; disconnected: number };
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly type = 'invalid_request_error', readonly param: string | null = null) {
    super(message);
  }
}

export async function startServer(backend: ServeBackend, config: Partial<ServeConfig> = {}): Promise<RunningServer> {
  const cfg: ServeConfig = { ...defaultServeConfig, ...config, limits: { ...defaultServeLimits, ...config.limits }, batcher: { ...config.batcher } };
  if (!isLoopback(cfg.host) && !cfg.apiKey) throw new Error(`serving on ${cfg.host} (beyond loopback) needs an API key (--api-key KEY)`);
  const maxTokens = Math.min(cfg.limits.maxTokens, backend.contextLength);
  const limits = { ...cfg.limits, maxTokens };
  const completionSchema = completionRequestSchema(limits);
  const chatSchema = chatRequestSchema(limits);
  const batcher: JobScheduler = backend.scheduler?.(cfg.batcher) ?? new Batcher(backend, cfg.batcher);
  const stats = { requests: 0, ok: 0, errors: 0, disconnected: 0 };
  const key = cfg.apiKey ? Buffer.from(`Bearer ${cfg.apiKey}`) : undefined;
  let unseeded = 0;

  const parse = <S extends z.ZodType>(schema: S, body: unknown): z.infer<S> => {
    const r = schema.safeParse(body);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    const param = issue.path.join('.') || null;
    throw new ApiError(400, `${param ?? 'body'}: ${issue.message}`, 'invalid_request_error', param);
  };

  const checkModel = (model: string | undefined): void => {
    if (model !== undefined && model !== cfg.modelName) throw new ApiError(404, `The model \`${model}\` does not exist (served: ${cfg.modelName})`, 'NotFoundError', 'model');
  };

  /** Validates prompts against the model and runs one sampling job; undefined when the client left. */
  const sample = async (prompts: string[], r: { n?: number | null; temperature?: number | null; top_p?: number | null; top_k?: number | null; seed?: number | null; stop: string[] }, maxNew: number | undefined, signal: AbortSignal, onText?: SampleJob['onText']): Promise<{ result: JobResult; maxTokens: number; promptLens: number[] }> => {
    const n = r.n ?? 1;
    if (prompts.length * n > limits.maxSamples) throw new ApiError(400, `prompts × n = ${prompts.length * n} exceeds ${limits.maxSamples} samples per request`, 'invalid_request_error', 'n');
    const promptLens = prompts.map((p, i) => {
      let len: number;
      try {
        len = backend.promptTokens(p);
      } catch (e) {
        throw new ApiError(400, `prompt${prompts.length > 1 ? `[${i}]` : ''}: ${(e as Error).message}`, 'invalid_request_error', 'prompt');
      }
      if (len >= backend.contextLength) throw new ApiError(400, `prompt of ${len} tokens does not fit the context length ${backend.contextLength}`, 'invalid_request_error', 'prompt');
      return len;
    });
    const room = backend.contextLength - Math.max(...promptLens);
    const mt = Math.min(maxNew ?? room, room);
    const result = await batcher.submit({
      prompts,
      n,
      maxTokens: mt,
      temperature: r.temperature ?? 1,
      topP: r.top_p ?? 1,
      topK: r.top_k !== undefined && r.top_k !== null && r.top_k > 0 ? r.top_k : 0,
      stop: r.stop,
      seed: r.seed ?? 0x5eed0000 + unseeded++,
      signal,
      ...(onText ? { onText } : {}),
    });
    return { result, maxTokens: mt, promptLens };
  };

  // OpenAI says 'stop' for a stop string and for end of sequence alike; stop_reason (vLLM's field) tells them apart.
  const finish = (s: ServedSample): { reason: 'stop' | 'length' } => ({ reason: s.finishReason === 'length' ? 'length' : 'stop' });

  const matchedStop = (s: ServedSample, stop: string[]): string | null => (s.finishReason === 'stop' ? (stop.find((x) => s.text.endsWith(x)) ?? null) : null);

  const usageOf = (result: JobResult) => {
    const completion = result.samples.flat().reduce((t, s) => t + s.tokens.length, 0);
    return { prompt_tokens: result.promptTokens, completion_tokens: completion, total_tokens: result.promptTokens + completion, prompt_tokens_details: { cached_tokens: result.cachedPromptTokens } };
  };

  async function completions(body: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const r = parse(completionSchema, body);
    checkModel(r.model);
    const prompts = typeof r.prompt === 'string' ? [r.prompt] : r.prompt;
    const keepStop = r.include_stop_str_in_output === true || r.no_stop_trim === true;
    const maxNew = r.max_tokens ?? 16;
    const id = `cmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const echoed = r.echo ? prompts.map((p) => backend.promptLogprobs?.(p)) : [];
    // Live token streaming (echo puts the prompt first, so it streams at the end as before).
    const live = r.stream && !r.echo ? liveStream(res, (index, text, end) => ({ id, object: 'text_completion', created, model: cfg.modelName, choices: [{ index, text, finish_reason: end?.finish_reason ?? null, ...(end ? { stop_reason: end.stop_reason, logprobs: end.logprobs } : { logprobs: null }) }] })) : undefined;
    if (r.echo && echoed.some((e) => e === undefined)) throw new ApiError(400, 'echo is not supported by this backend', 'invalid_request_error', 'echo');
    const { result } =
      maxNew === 0
        ? { result: { samples: prompts.map(() => Array.from({ length: r.n ?? 1 }, () => ({ text: '', tokens: [], logprobs: [], finishReason: 'length' as const }))), promptTokens: prompts.reduce((t, p) => t + backend.promptTokens(p), 0), cachedPromptTokens: 0 } }
        : await sample(prompts, r, maxNew, signal, live?.onText(r.n ?? 1));
    const n = r.n ?? 1;
    const choices = result.samples.flatMap((row, p) =>
      row.map((s, j) => {
        const stopStr = matchedStop(s, r.stop);
        let text = s.text;
        let tokens = s.tokens;
        let lps = s.logprobs;
        if (stopStr && !keepStop) text = text.slice(0, text.length - stopStr.length);
        if (r.echo) {
          text = prompts[p]! + text;
          tokens = [...echoed[p]!.tokens, ...tokens];
          lps = [...echoed[p]!.logprobs, ...lps];
        }
        let offset = 0;
        const logprobs =
          r.logprobs === null || r.logprobs === undefined
            ? null
            : {
                tokens,
                token_logprobs: lps,
                text_offset: tokens.map((t) => ((offset += t.length), offset - t.length)),
                top_logprobs: tokens.map((t, k) => ({ [t]: lps[k]! })),
              };
        return { index: p * n + j, text, finish_reason: finish(s).reason, stop_reason: stopStr, logprobs };
      }),
    );
    const usage = usageOf(result);
    if (live?.started) {
      live.finish(choices.map((c) => ({ index: c.index, text: c.text, end: { finish_reason: c.finish_reason, stop_reason: c.stop_reason, logprobs: c.logprobs } })), r.stream_options?.include_usage ? { id, object: 'text_completion', created, model: cfg.modelName, choices: [], usage } : undefined);
      return;
    }
    if (r.stream) {
      sse(res, [
        ...choices.map((c) => ({ id, object: 'text_completion', created, model: cfg.modelName, choices: [c] })),
        ...(r.stream_options?.include_usage ? [{ id, object: 'text_completion', created, model: cfg.modelName, choices: [], usage }] : []),
      ]);
      return;
    }
    json(res, 200, { id, object: 'text_completion', created, model: cfg.modelName, choices, usage });
  }

  async function chat(body: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const r = parse(chatSchema, body);
    checkModel(r.model);
    const prompt = renderMessages(r.messages);
    const keepStop = r.include_stop_str_in_output === true || r.no_stop_trim === true;
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const first = new Set<number>();
    const live = r.stream
      ? liveStream(res, (index, text, end) => ({ id, object: 'chat.completion.chunk', created, model: cfg.modelName, choices: [{ index, delta: { ...(first.has(index) ? {} : (first.add(index), { role: 'assistant' })), content: text }, finish_reason: end?.finish_reason ?? null, logprobs: end?.logprobs ?? null }] }))
      : undefined;
    const { result } = await sample([prompt], r, r.max_completion_tokens ?? r.max_tokens ?? undefined, signal, live?.onText(r.n ?? 1));
    const choices = result.samples[0]!.map((s, j) => {
      const stopStr = matchedStop(s, r.stop);
      const text = stopStr && !keepStop ? s.text.slice(0, s.text.length - stopStr.length) : s.text;
      const logprobs = r.logprobs ? { content: s.tokens.map((t, k) => ({ token: t, logprob: s.logprobs[k]!, bytes: [...Buffer.from(t)], top_logprobs: [] })) } : null;
      return { index: j, text, finish_reason: finish(s).reason, stop_reason: stopStr, logprobs };
    });
    const usage = usageOf(result);
    if (live?.started) {
      live.finish(choices.map((c) => ({ index: c.index, text: c.text, end: { finish_reason: c.finish_reason, stop_reason: c.stop_reason, logprobs: c.logprobs } })), r.stream_options?.include_usage ? { id, object: 'chat.completion.chunk', created, model: cfg.modelName, choices: [], usage } : undefined);
      return;
    }
    if (r.stream) {
      sse(res, [
        ...choices.map((c) => ({ id, object: 'chat.completion.chunk', created, model: cfg.modelName, choices: [{ index: c.index, delta: { role: 'assistant', content: c.text }, finish_reason: c.finish_reason, logprobs: c.logprobs }] })),
        ...(r.stream_options?.include_usage ? [{ id, object: 'chat.completion.chunk', created, model: cfg.modelName, choices: [], usage }] : []),
      ]);
      return;
    }
    json(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: cfg.modelName,
      choices: choices.map((c) => ({ index: c.index, message: { role: 'assistant', content: c.text }, finish_reason: c.finish_reason, stop_reason: c.stop_reason, logprobs: c.logprobs })),
      usage,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const path = (req.url ?? '/').split('?')[0]!;
    const ctrl = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        stats.disconnected++;
        ctrl.abort(new Error('client disconnected'));
      }
    });
    try {
      if (path === '/health' && req.method === 'GET') {
        const st = batcher.stats;
        json(res, 200, { status: 'ok', model: cfg.modelName, batches: st.batches, steps: st.steps, jobs: st.jobs, joined_mid_batch: st.joinedMidBatch, cancelled: st.cancelled, generation_ms: st.generationMs, process_cpu_ms: cpuMs() });
        return;
      }
      if (key) {
        const got = Buffer.from(req.headers.authorization ?? '');
        if (got.length !== key.length || !timingSafeEqual(got, key)) throw new ApiError(401, 'Invalid API key (send Authorization: Bearer KEY)', 'authentication_error');
      }
      if (path === '/v1/models' && req.method === 'GET') {
        json(res, 200, { object: 'list', data: [{ id: cfg.modelName, object: 'model', created: 0, owned_by: 'searchlearn', max_model_len: backend.contextLength }] });
        return;
      }
      const routes: Record<string, (body: unknown, res: ServerResponse, signal: AbortSignal) => Promise<void>> = {
        '/v1/completions': completions,
        '/v1/chat/completions': chat,
        '/tokenize': async (body, r) => {
          const t = parse(tokenizeRequestSchema, body);
          checkModel(t.model);
          let count: number;
          try {
            count = backend.promptTokens(t.prompt);
          } catch (e) {
            throw new ApiError(400, (e as Error).message, 'invalid_request_error', 'prompt');
          }
          json(r, 200, { count, max_model_len: backend.contextLength });
        },
      };
      const route = routes[path];
      if (!route) throw new ApiError(404, `no route ${req.method} ${path}`, 'NotFoundError');
      if (req.method !== 'POST') throw new ApiError(405, `${path} takes POST`, 'invalid_request_error');
      const body = await readJson(req, limits.maxBodyBytes);
      await route(body, res, ctrl.signal);
      stats.ok++;
    } catch (e) {
      stats.errors++;
      // A live stream that fails mid-way: cut the connection, so the client sees an error rather than a short answer.
      if (res.headersSent || res.destroyed) {
        if (!res.writableEnded) res.destroy();
        return;
      }
      if (e instanceof ApiError) json(res, e.status, errorBody(e.message, e.type, e.param));
      else if (ctrl.signal.aborted) res.destroy();
      else json(res, 500, errorBody((e as Error).message.split('\n')[0]!, 'InternalServerError'));
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  // Batches of long generations are slow; the defaults would cut long polls.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/v1`,
    server,
    batcher,
    stats,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await batcher.close?.();
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

interface StreamEnd {
  finish_reason: string;
  stop_reason: string | null;
  logprobs: unknown;
}

/**
 * Token streaming over SSE: headers go out with the first piece of text (so a request that
 * fails before any token still gets a JSON error), each piece is one event, and `finish` sends
 * what each choice has left (its final text past what was sent, with the finish reason), the
 * usage event and `[DONE]`. The pieces a backend sends always begin the final text (stop strings
 * held back), so the remainder is a plain suffix.
 */
function liveStream(res: ServerResponse, event: (index: number, text: string, end?: StreamEnd) => unknown) {
  const sent = new Map<number, number>();
  const s = {
    started: false,
    onText: (n: number) => (prompt: number, sample: number, delta: string): void => {
      if (res.destroyed || delta.length === 0) return;
      if (!s.started) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        s.started = true;
      }
      const index = prompt * n + sample;
      sent.set(index, (sent.get(index) ?? 0) + delta.length);
      res.write(`data: ${JSON.stringify(event(index, delta))}\n\n`);
    },
    finish(choices: { index: number; text: string; end: StreamEnd }[], usage?: unknown): void {
      if (res.destroyed) return;
      for (const c of choices) res.write(`data: ${JSON.stringify(event(c.index, c.text.slice(sent.get(c.index) ?? 0), c.end))}\n\n`);
      if (usage) res.write(`data: ${JSON.stringify(usage)}\n\n`);
      res.end('data: [DONE]\n\n');
    },
  };
  return s;
}

function sse(res: ServerResponse, events: unknown[]): void {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
  res.end('data: [DONE]\n\n');
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      return reject(new ApiError(413, `request body of ${declared} bytes exceeds ${limit}`, 'invalid_request_error'));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ApiError(413, `request body exceeds ${limit} bytes`, 'invalid_request_error'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new ApiError(400, 'body is not valid JSON', 'invalid_request_error'));
      }
    });
    req.on('error', reject);
  });
}
