import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { writeReport } from '../report/report.js';
import { CliError, type Command } from './args.js';

const options = {
  out: { type: 'string' },
} as const;

const schema = z.object({
  dirs: z.array(z.string().min(1)).min(1, { message: 'give at least one run directory' }),
  out: z.string().min(1, { message: 'expected a file name' }).regex(/\.html?$/i, { message: 'expected a file name ending in .html' }).optional(),
});

const USAGE = 'report RUN_DIR... [--out FILE.html] (default: RUN_DIR/report.html for one run, report.html for several)';

export const reportCommand: Command = {
  name: 'report',
  summary: 'one self-contained HTML file from run directories: scaling plots, training curves, PRM calibration, search-tree viewer',
  usage: USAGE,
  async run(argv) {
    let values: { out?: string };
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true }));
    } catch (e) {
      throw new CliError(`report: ${(e as Error).message.split('\n')[0]} (options: --out; usage: ${USAGE})`);
    }
    const parsed = schema.safeParse({ dirs: positionals, out: values.out });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const flag = issue.path[0] === 'out' ? `--out ${JSON.stringify(values.out)}` : 'RUN_DIR';
      throw new CliError(`report: ${flag}: ${issue.message} (usage: ${USAGE})`);
    }
    const { dirs, out } = parsed.data;
    for (const d of dirs) {
      if (!existsSync(d) || !statSync(d).isDirectory()) throw new CliError(`report: RUN_DIR ${JSON.stringify(d)}: no such directory`);
    }
    const file = out ?? (dirs.length === 1 ? join(dirs[0]!, 'report.html') : 'report.html');
    const r = await writeReport(dirs, file);
    const notes = [`${r.charts} plots`, `${r.trees} search trees${r.treesOmitted ? ` (${r.treesOmitted} more left out for size)` : ''}`, `${(r.bytes / 1e6).toFixed(2)} MB`];
    if (r.skippedLines > 0) notes.push(`${r.skippedLines} unreadable lines skipped (listed under Notes)`);
    console.log(`report: ${r.path} (${notes.join(', ')})`);
  },
};
