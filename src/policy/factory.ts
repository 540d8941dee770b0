import type { KernelChoice } from '../nn/engine.js';
import { BuiltinPolicy } from './builtin.js';
import { createLlamaCppPolicy } from './llamacpp.js';
import { createOpenAIPolicy, type OpenAIPolicyOptions } from './openai.js';
import type { Policy } from './policy.js';

/**
 * A Policy from one spec string, the form the CLI's `--policy` takes:
 *
 * | spec | backend |
 * |---|---|
 * | `openai:URL[,URL...]` | an OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, `searchlearn serve`); `model` names the served model |
 * | `gguf:FILE` | a GGUF model through node-llama-cpp |
 * | `builtin:DIR` or `DIR` | the built-in model from a checkpoint or run directory |
 */
export interface PolicySpecOptions {
  /** Served model name for `openai:` (optional when the server serves one model). */
  model?: string;
  apiKey?: string;
  /** Built-in kernels (default 'fast'). */
  kernels?: KernelChoice;
  /** Built-in worker threads beside the main one (default: one per further core; 0: none). */
  workers?: number;
  /** Further options for the OpenAI-compatible backend. */
  openai?: Partial<OpenAIPolicyOptions>;
}

export const policySpecForms = 'openai:URL[,URL...], gguf:FILE, or a checkpoint directory';

export async function policyFromSpec(spec: string, opts: PolicySpecOptions = {}): Promise<Policy> {
  const colon = spec.indexOf(':');
  const scheme = colon > 0 ? spec.slice(0, colon) : '';
  const rest = spec.slice(colon + 1);
  if (scheme === 'openai') {
    const urls = rest.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
    if (urls.length === 0) throw new Error(`${JSON.stringify(spec)}: expected openai:URL[,URL...], e.g. openai:http://127.0.0.1:8000/v1`);
    const apiKey = opts.apiKey ?? process.env['OPENAI_API_KEY'];
    return createOpenAIPolicy({ ...opts.openai, baseURLs: urls, ...(opts.model ? { model: opts.model } : {}), ...(apiKey ? { apiKey } : {}) });
  }
  if (scheme === 'gguf') {
    // ── gguf:FILE ── the node-llama-cpp backend (src/policy/llamacpp.ts), one CPU thread by default.
    if (rest.trim() === '') throw new Error(`${JSON.stringify(spec)}: expected gguf:FILE, e.g. gguf:model.gguf`);
    return createLlamaCppPolicy({ modelPath: rest });
  }
  const builtin = opts.workers !== undefined ? { workers: opts.workers } : {};
  if (scheme === 'builtin') return BuiltinPolicy.load(rest, opts.kernels ?? 'fast', builtin);
  // No known scheme (a Windows drive letter such as C:\ is a path too): a checkpoint directory.
  if (scheme === '' || scheme.length === 1) return BuiltinPolicy.load(spec, opts.kernels ?? 'fast', builtin);
  throw new Error(`unknown policy ${JSON.stringify(spec)}; expected ${policySpecForms}`);
}
