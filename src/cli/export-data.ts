import { z } from 'zod';
import { exportData, exportFormats } from '../data/export.js';
import { CliError, num, parseCommand, type Command, type OptionSpec } from './args.js';

const options = {
  run: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  iteration: { type: 'string' },
  messages: { type: 'boolean' },
  level: { type: 'string' },
} satisfies OptionSpec;

const schema = z.object({
  run: z.string({ message: 'required: the run directory (the loop\'s, or train-prm\'s for trl-prm)' }).min(1),
  format: z.enum(exportFormats, { message: `expected one of ${exportFormats.join(', ')}` }),
  out: z.string({ message: 'required: the file to write (.jsonl; .parquet for verl)' }).min(1),
  iteration: num({ int: true, min: 0 }).optional(),
  messages: z.boolean().optional(),
  level: z.enum(['sequence', 'step', 'all'], { message: 'expected sequence, step or all' }).optional(),
});

export const exportDataCommand: Command = {
  name: 'export-data',
  summary: 'write a run\'s examples, pairs, step labels or problems for TRL, OpenRLHF or verl',
  usage: `export-data --run RUN_DIR --format ${exportFormats.join('|')} --out FILE [--iteration N] [--messages (trl-sft)] [--level sequence|step|all (dpo)]`,
  async run(argv: string[]): Promise<void> {
    const a = parseCommand('export-data', argv, options, schema);
    if (a.messages && a.format !== 'trl-sft') throw new CliError(`export-data: --messages applies to --format trl-sft only, not ${a.format}`);
    if (a.level && !a.format.endsWith('-dpo')) throw new CliError(`export-data: --level applies to trl-dpo and openrlhf-dpo only, not ${a.format}`);
    try {
      const r = exportData({
        run: a.run,
        format: a.format,
        out: a.out,
        ...(a.iteration !== undefined ? { iteration: a.iteration } : {}),
        ...(a.messages ? { sftStyle: 'messages' as const } : {}),
        ...(a.level ? { pairLevel: a.level } : {}),
      });
      console.log(JSON.stringify({ format: r.format, out: r.out, rows: r.rows, sources: r.files.length }));
    } catch (e) {
      throw new CliError(`export-data: ${(e as Error).message.split('\n')[0]}`);
    }
  },
};
