import { spawn, type ChildProcess } from 'node:child_process';
import type OpenAI from 'openai';
import { fileURLToPath } from 'node:url';
import { Rng } from '../core/rng.js';
import type { ModelConfig } from '../nn/config.js';
import { Transformer } from '../nn/model.js';
import { saveModel } from '../nn/model-io.js';
import { createOrtKernels } from '../nn/ort/ort-kernels.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { arithAlphabet } from '../tasks/arith.js';

/**
 * A tiny random checkpoint for server and backend tests (no training, no download): the arith
 * alphabet plus a few letters, weights scaled up so that samples differ visibly across seeds and
 * end of sequence comes often enough to keep samples short.
 */
export function writeTinyCheckpoint(dir: string, opts: { contextLength?: number; seed?: number } = {}): void {
  const tok = new CharTokenizer(arithAlphabet + 'HeloYsN');
  const cfg: ModelConfig = { vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, contextLength: opts.contextLength ?? 128, ropeTheta: 10000, normEps: 1e-5 };
  const m = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  m.init(new Rng(opts.seed ?? 4));
  for (let i = 0; i < m.params.length; i++) m.params[i]! *= 10;
  saveModel(dir, m, tok);
}

/**
 * Starts `searchlearn serve` in a child process (through tsx unless `compiled`) and resolves
 * with its base URL. A server in its own process, as vLLM would be: its synchronous decoding does
 * not stall the test's client and timers.
 */
export async function spawnServe(checkpoint: string, args: string[] = [], opts: { compiled?: boolean } = {}): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  // `compiled`: the built CLI in dist/ (what a user runs; `npm test` builds it first, and it starts faster than through tsx).
  const main = fileURLToPath(new URL(opts.compiled ? '../../dist/cli/main.js' : '../cli/main.ts', import.meta.url));
  // A .gguf file is served through node-llama-cpp (`--gguf`), anything else as a checkpoint.
  const model = checkpoint.endsWith('.gguf') ? ['--gguf', checkpoint] : ['--checkpoint', checkpoint];
  const child = spawn(process.execPath, [...(opts.compiled ? [] : ['--import', 'tsx']), main, 'serve', ...model, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+\/v1)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`)));
  });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { url, child, stop };
}

/**
 * One chat request made twice through the `openai` client, whole and streamed (for tests that the
 * stream reassembles to the whole answer, in more than one chunk).
 */
export async function chatWholeAndStreamed(client: OpenAI, req: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming): Promise<{ whole: string | null; streamed: string; chunks: number }> {
  const whole = await client.chat.completions.create(req);
  let streamed = '';
  let chunks = 0;
  for await (const ev of await client.chat.completions.create({ ...req, stream: true })) {
    streamed += ev.choices[0]?.delta.content ?? '';
    chunks++;
  }
  return { whole: whole.choices[0]!.message.content, streamed, chunks };
}
