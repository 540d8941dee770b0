import { z } from 'zod';
import { benchEngine } from '../nn/bench-engine.js';
import { CliError, parseCommand, type Command } from './args.js';

const options = { json: { type: 'boolean', default: false } } as const;
const schema = z.object({ json: z.boolean() });
const targets = ['engine'] as const;

export const benchCommand: Command = {
  name: 'bench',
  summary: 'measure the engine on this machine: GEMM peak, training MFU, sampling tokens/s, fast vs reference',
  usage: 'bench engine [--json]',
  async run(argv) {
    const [what, ...rest] = argv;
    if (!targets.includes(what as (typeof targets)[number])) throw new CliError(`bench: unknown benchmark ${JSON.stringify(what ?? '')} (valid: ${targets.join(', ')})`);
    const a = parseCommand('bench engine', rest, options, schema);
    const r = benchEngine((line) => console.error(line));
    if (a.json) {
      console.log(JSON.stringify(r));
      return;
    }
    console.log(`GEMM peak (${r.kernels}, 1024³):     ${r.gemm_peak_gflops} GFLOP/s`);
    console.log(`train (demo, B=32, T=128):     ${r.train.tokens_per_s} tokens/s = ${r.train.model_gflops} GFLOP/s model, MFU ${(r.train.mfu * 100).toFixed(1)}%`);
    console.log(`sample with KV cache:          batch 1 ${r.sample.batch1_tokens_per_s} tokens/s, batch 64 ${r.sample.batch64_tokens_per_s} tokens/s`);
    console.log(`reference kernels:             train ${r.reference.train_tokens_per_s} tokens/s, batch 64 ${r.reference.batch64_tokens_per_s} tokens/s`);
    console.log(`fast / reference:              train ${r.ratios.train_fast_over_reference}×, sampling ${r.ratios.batch64_fast_over_reference}×`);
  },
};
