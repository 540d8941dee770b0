import { z } from 'zod';
import { kernelsFor } from '../nn/engine.js';
import { Generator } from '../nn/generate.js';
import { loadModel } from '../nn/model-io.js';
import { CliError, num, parseCommand, type Command } from './args.js';

const options = {
  checkpoint: { type: 'string' },
  prompt: { type: 'string' },
  n: { type: 'string', default: '1' },
  temperature: { type: 'string', default: '1' },
  'top-p': { type: 'string', default: '1' },
  'top-k': { type: 'string', default: '0' },
  'max-tokens': { type: 'string', default: '100' },
  stop: { type: 'string', multiple: true },
  seed: { type: 'string', default: '0' },
  json: { type: 'boolean', default: false },
  kernels: { type: 'string', default: 'fast' },
} as const;

const schema = z.object({
  checkpoint: z.string({ message: 'required: a checkpoint or run directory' }),
  prompt: z.string({ message: 'required: the text to continue' }),
  n: num({ int: true, min: 1, max: 100000 }),
  temperature: num({ min: 0 }),
  'top-p': num({ gt: 0, max: 1 }),
  'top-k': num({ int: true, min: 0 }),
  'max-tokens': num({ int: true, min: 1 }),
  stop: z.array(z.string().min(1, { message: 'a stop string cannot be empty' })).optional(),
  seed: num({ int: true, min: 0 }),
  json: z.boolean(),
  kernels: z.enum(['fast', 'reference'], { message: 'expected fast or reference' }),
});

/** Turns the escapes a shell user types (\n, \t) into the characters. */
function unescape(s: string): string {
  return s.replace(/\\n/g, '\n').replace(/\\t/g, '\t');
}

export const sampleCommand: Command = {
  name: 'sample',
  summary: 'sample continuations of a prompt from a built-in model checkpoint',
  usage: 'sample --checkpoint DIR --prompt TEXT [--n N] [--temperature T] [--top-p P] [--top-k K] [--max-tokens M] [--stop S]... [--seed K] [--json]',
  async run(argv) {
    const a = parseCommand('sample', argv, options, schema);
    let loaded;
    try {
      loaded = loadModel(a.checkpoint, kernelsFor(a.kernels));
    } catch (e) {
      throw new CliError(`--checkpoint: ${(e as Error).message}`);
    }
    const prompt = unescape(a.prompt);
    const gen = new Generator(loaded.model, loaded.tokenizer);
    let result;
    try {
      result = gen.generate([prompt], {
        n: a.n,
        maxTokens: a['max-tokens'],
        temperature: a.temperature,
        topP: a['top-p'],
        topK: a['top-k'],
        stop: (a.stop ?? []).map(unescape),
        seed: a.seed,
      });
    } catch (e) {
      throw new CliError(`--prompt: ${(e as Error).message}`);
    }
    const samples = result.samples[0]!;
    if (a.json) {
      for (const s of samples) {
        console.log(JSON.stringify({ text: s.text, finish_reason: s.finishReason, tokens: s.tokenIds.length, logprob: Number(s.logprobs.reduce((x, y) => x + y, 0).toFixed(4)) }));
      }
      console.log(JSON.stringify({ usage: { prompt_tokens: result.stats.promptTokens, cached_prompt_tokens: result.stats.cachedPromptTokens, output_tokens: result.stats.outputTokens } }));
    } else {
      samples.forEach((s, i) => {
        if (samples.length > 1) console.log(`--- sample ${i + 1} (${s.finishReason}, ${s.tokenIds.length} tokens)`);
        console.log(prompt + s.text);
      });
    }
  },
};
