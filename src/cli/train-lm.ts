import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { Rng } from '../core/rng.js';
import { trainLm } from '../learn/lm-run.js';
import { RunDir } from '../learn/run-dir.js';
import { configForSize, modelSizes, parameterCount, type ModelSize } from '../nn/config.js';
import { kernelsFor } from '../nn/engine.js';
import { loadModel } from '../nn/model-io.js';
import { Transformer } from '../nn/model.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { textToExamples, trainConfigFor, type LmExample } from '../nn/train.js';
import { CliError, num, parseCommand, type Command } from './args.js';
import { Progress } from './progress.js';
import { onInterrupt } from './interrupt.js';

const options = {
  data: { type: 'string' },
  out: { type: 'string' },
  size: { type: 'string', default: 'demo' },
  steps: { type: 'string', default: '500' },
  seed: { type: 'string', default: '0' },
  'batch-size': { type: 'string', default: '32' },
  lr: { type: 'string', default: '3e-3' },
  kernels: { type: 'string', default: 'fast' },
} as const;

const schema = z.object({
  data: z.string({ message: 'required: a text file, or JSONL with prompt and completion fields' }),
  out: z.string({ message: 'required: the run directory to write' }),
  size: z.enum(Object.keys(modelSizes) as [ModelSize, ...ModelSize[]], { message: `expected one of ${Object.keys(modelSizes).join(', ')}` }),
  steps: num({ int: true, min: 1 }),
  seed: num({ int: true, min: 0 }),
  'batch-size': num({ int: true, min: 1, max: 4096 }),
  lr: num({ gt: 0, max: 1 }),
  kernels: z.enum(['fast', 'reference'], { message: 'expected fast or reference' }),
});

/** Reads training data: JSONL of {prompt, completion} (or {text}) when every line parses so, plain text otherwise. */
export function readLmData(path: string, windowChars: number): LmExample[] {
  if (!existsSync(path)) throw new CliError(`--data ${JSON.stringify(path)}: no such file`);
  const text = readFileSync(path, 'utf8');
  if (text.trim().length === 0) throw new CliError(`--data ${JSON.stringify(path)}: the file is empty`);
  const looksJsonl = path.endsWith('.jsonl') || text.trimStart().startsWith('{');
  if (!looksJsonl) return textToExamples(text, windowChars);
  const examples: LmExample[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new CliError(`--data ${path}: line ${i + 1} is not valid JSON`);
    }
    const row = obj as Record<string, unknown>;
    if (typeof row['completion'] === 'string') {
      if (row['prompt'] !== undefined && typeof row['prompt'] !== 'string') throw new CliError(`--data ${path}: line ${i + 1}: "prompt" must be a string`);
      examples.push({ prompt: (row['prompt'] as string | undefined) ?? '', completion: row['completion'] });
    } else if (typeof row['text'] === 'string') examples.push({ completion: row['text'] });
    else throw new CliError(`--data ${path}: line ${i + 1} has no string "completion" (or "text") field`);
  });
  return examples;
}

export const trainLmCommand: Command = {
  name: 'train-lm',
  summary: 'train the built-in transformer on a text or JSONL file (resumes a stopped run)',
  usage: 'train-lm --data FILE --out DIR [--size demo|small] [--steps N] [--seed K] [--batch-size B] [--lr X] [--kernels fast|reference]',
  async run(argv) {
    const a = parseCommand('train-lm', argv, options, schema);
    const kernels = kernelsFor(a.kernels);
    const run = new RunDir(a.out);
    let model: Transformer;
    let tokenizer: CharTokenizer;
    const sizeCfg = modelSizes[a.size];
    const examples = readLmData(a.data, Math.min(128, sizeCfg.contextLength));
    if (run.hasCheckpoint()) {
      ({ model, tokenizer } = loadModel(run.checkpointDir, kernels));
      console.error(`resuming from ${run.checkpointDir}`);
    } else {
      tokenizer = CharTokenizer.fromCorpus(examples.flatMap((e) => [e.prompt ?? '', e.completion]));
      model = new Transformer(configForSize(a.size, tokenizer.vocabSize), kernels);
      model.init(new Rng(a.seed));
    }
    run.writeJson('config.json', { command: 'train-lm', data: a.data, size: a.size, steps: a.steps, seed: a.seed, batchSize: a['batch-size'], lr: a.lr, model: model.config });
    console.error(`model: ${a.size}, ${parameterCount(model.config).toLocaleString('en-US')} parameters, vocabulary ${tokenizer.vocabSize}; ${examples.length} examples`);
    const progress = new Progress('train', a.steps, 'step');
    const stop = onInterrupt();
    const result = await trainLm({
      run,
      model,
      tokenizer,
      examples,
      config: trainConfigFor({ steps: a.steps, batchSize: a['batch-size'], seed: a.seed, lr: a.lr }),
      meta: { command: 'train-lm' },
      onStep: (s) => progress.update(s.step, { loss: s.loss, 'tok/s': Math.round(s.tokensPerSec) }),
      shouldStop: stop.requested,
    });
    stop.dispose();
    progress.done({ loss: result.finalLoss });
    if (result.stopped) console.error(`stopped at step ${result.steps}; checkpoint saved in ${run.checkpointDir} (run the same command to resume)`);
    console.log(JSON.stringify({ steps: result.steps, loss: Number(result.finalLoss.toFixed(4)), tokens_per_s: Math.round(result.tokensPerSec), checkpoint: run.checkpointDir }));
  },
};
