import { basename, resolve } from 'node:path';
import { z } from 'zod';
import { BuiltinPolicy } from '../policy/builtin.js';
import { defaultLlamaCppPolicyConfig } from '../policy/llamacpp.js';
import { builtinBackend, defaultContinuousBatcherConfig, policyBackend, type ServeBackend } from '../serve/batcher.js';
import { defaultServeLimits } from '../serve/schemas.js';
import { defaultServeConfig, isLoopback, startServer } from '../serve/server.js';
import { CliError, num, parseCommand, type Command } from './args.js';
import { kernelsSchema } from './common.js';

const options = {
  checkpoint: { type: 'string' },
  gguf: { type: 'string' },
  threads: { type: 'string', default: String(defaultLlamaCppPolicyConfig.threads) },
  sequences: { type: 'string', default: String(defaultLlamaCppPolicyConfig.sequences) },
  host: { type: 'string', default: defaultServeConfig.host },
  port: { type: 'string', default: String(defaultServeConfig.port) },
  'api-key': { type: 'string' },
  'model-name': { type: 'string' },
  'max-tokens': { type: 'string', default: String(defaultServeLimits.maxTokens) },
  'max-n': { type: 'string', default: String(defaultServeLimits.maxN) },
  // Unset: the scheduler's own default (built-in continuous batching: 0; GGUF's window: 3 ms).
  'batch-window-ms': { type: 'string' },
  kernels: { type: 'string', default: 'fast' },
  // Unset: on with a second core.
  'engine-thread': { type: 'string' },
  'steps-per-turn': { type: 'string', default: String(defaultContinuousBatcherConfig.stepsPerTurn) },
} as const;

const schema = z.object({
  checkpoint: z.string().optional(),
  gguf: z.string().optional(),
  threads: num({ int: true, min: 1, max: 256 }),
  sequences: num({ int: true, min: 1, max: 256 }),
  host: z.string().min(1, { message: 'expected a host name or address' }),
  port: num({ int: true, min: 0, max: 65535 }),
  'api-key': z.string().min(8, { message: 'an API key needs at least 8 characters' }).optional(),
  'model-name': z.string().min(1).optional(),
  'max-tokens': num({ int: true, min: 1 }),
  'max-n': num({ int: true, min: 1, max: 256 }),
  'batch-window-ms': num({ min: 0, max: 1000 }).optional(),
  kernels: kernelsSchema,
  'engine-thread': z.enum(['true', 'false'], { message: 'expected true or false' }).transform((v) => v === 'true').optional(),
  'steps-per-turn': num({ int: true, min: 1, max: 64 }),
});

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve a checkpoint or a GGUF model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models, /health)',
  usage: 'serve (--checkpoint DIR | --gguf FILE [--threads 1] [--sequences 8]) [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--model-name NAME] [--max-tokens N] [--max-n N] [--batch-window-ms MS] [--engine-thread true|false] [--steps-per-turn N]',
  async run(argv) {
    const a = parseCommand('serve', argv, options, schema);
    if (!isLoopback(a.host) && !a['api-key']) throw new CliError(`serve: --host ${a.host} is beyond loopback; give --api-key KEY (clients send it as Authorization: Bearer KEY)`);
    if ((a.checkpoint === undefined) === (a.gguf === undefined)) throw new CliError(`serve: give exactly one of --checkpoint DIR and --gguf FILE${a.checkpoint !== undefined ? ` (got both: ${a.checkpoint}, ${a.gguf})` : ''}`);
    let backend: ServeBackend;
    let contextLength: number;
    if (a.gguf !== undefined) {
      // node-llama-cpp is loaded only for a GGUF model. Each request decodes on its own context
      // sequences (up to --sequences at once) and stops as soon as its client leaves.
      const { createLlamaCppPolicy } = await import('../policy/llamacpp.js');
      const gguf = await createLlamaCppPolicy({ modelPath: a.gguf, threads: a.threads, sequences: a.sequences }).catch((e: unknown) => {
        throw new CliError(`--gguf: ${(e as Error).message.split('\n')[0]!.replace(/^gguf: /, '')}`);
      });
      backend = policyBackend(gguf);
      contextLength = gguf.contextLength;
    } else {
      let policy: BuiltinPolicy;
      try {
        policy = BuiltinPolicy.load(a.checkpoint!, a.kernels);
      } catch (e) {
        throw new CliError(`--checkpoint: ${(e as Error).message}`);
      }
      backend = builtinBackend(policy, { stepsPerTurn: a['steps-per-turn'], ...(a['engine-thread'] !== undefined ? { engineThread: a['engine-thread'] } : {}) });
      contextLength = policy.contextLength;
    }
    const modelName = a['model-name'] ?? basename(resolve(a.gguf ?? a.checkpoint!)).replace(/\.gguf$/, '');
    const server = await startServer(backend, {
      host: a.host,
      port: a.port,
      modelName,
      ...(a['api-key'] ? { apiKey: a['api-key'] } : {}),
      limits: { ...defaultServeLimits, maxTokens: a['max-tokens'], maxN: a['max-n'] },
      batcher: a['batch-window-ms'] !== undefined ? { windowMs: a['batch-window-ms'] } : {},
    }).catch((e: unknown) => {
      throw new CliError(`serve: ${(e as Error).message}`);
    });
    console.log(`serving ${modelName} at ${server.url} (context ${contextLength} tokens; Ctrl-C stops)`);
    await new Promise<void>((done) => {
      const stop = (): void => void server.close().then(done);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
