import { z } from 'zod';
import { benchEngine, figureNames } from '../nn/bench-engine.js';
import { CliError, num, parseCommand, type Command } from './args.js';

const options = { json: { type: 'boolean', default: false }, repeats: { type: 'string', default: '3' } } as const;
const schema = z.object({ json: z.boolean(), repeats: num({ int: true, min: 1, max: 20 }) });
const targets = ['engine'] as const;

export const benchCommand: Command = {
  name: 'bench',
  summary: 'measure the engine on this machine: GEMM peak, training MFU, sampling tokens/s on one core and two, fast vs reference',
  usage: 'bench engine [--json] [--repeats N (1-20, default 3: each figure is the median)]',
  async run(argv) {
    const [what, ...rest] = argv;
    if (!targets.includes(what as (typeof targets)[number])) throw new CliError(`bench: unknown benchmark ${JSON.stringify(what ?? '')} (valid: ${targets.join(', ')})`);
    const a = parseCommand('bench engine', rest, options, schema);
    const r = await benchEngine((line) => console.error(line), { repeats: a.repeats });
    if (a.json) {
      console.log(JSON.stringify(r));
      return;
    }
    console.log(`GEMM peak (${r.kernels}, 1024³):     ${r.gemm_peak_gflops} GFLOP/s`);
    console.log(`train (demo, B=32, T=128):     ${r.train.tokens_per_s} tokens/s = ${r.train.model_gflops} GFLOP/s model, MFU ${(r.train.mfu * 100).toFixed(1)}%`);
    console.log(`train (small, B=32, T=128):    ${r.small.train.tokens_per_s} tokens/s = ${r.small.train.model_gflops} GFLOP/s model, MFU ${(r.small.train.mfu * 100).toFixed(1)}%`);
    console.log(`sample with KV cache (demo):   batch 1 ${r.sample.batch1_tokens_per_s}, batch 64 ${r.sample.batch64_tokens_per_s}, batch 256 ${r.sample.batch256_tokens_per_s} tokens/s`);
    console.log(`tokens/s, median of ${r.repeats}:          one core   two cores   speedup`);
    for (const n of figureNames) {
      const f = r.figures[n];
      console.log(`  ${n.padEnd(28)}${String(f.one).padStart(9)}${String(f.two).padStart(12)}${(f.speedup.toFixed(2) + '×').padStart(10)}`);
    }
    console.log(`reference kernels:             train ${r.reference.train_tokens_per_s} tokens/s, batch 64 ${r.reference.batch64_tokens_per_s} tokens/s`);
    console.log(`fast / reference:              train ${r.ratios.train_fast_over_reference}×, sampling ${r.ratios.batch64_fast_over_reference}×`);
  },
};
