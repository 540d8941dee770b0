/**
 * Data for distributed trainers: a run directory's examples, preference pairs, step labels and
 * problems, written in the formats TRL, OpenRLHF and verl read, so training can be handed to them
 * (the loop's `--learner external`).
 *
 * | format | source (per iteration) | rows |
 * |---|---|---|
 * | `trl-sft` | sft.jsonl | `{prompt, completion}` or, with `sftStyle: 'messages'`, `{messages}` |
 * | `trl-dpo` | pairs.jsonl | `{prompt, chosen, rejected}` |
 * | `trl-prm` | step-labels.jsonl (or train-prm's labels.jsonl) | `{prompt, completions, labels}` |
 * | `openrlhf-sft` | sft.jsonl | `{input, output}` |
 * | `openrlhf-dpo` | pairs.jsonl | `{prompt, chosen, rejected}` |
 * | `verl` | problems.jsonl | Parquet: `data_source, prompt, ability, reward_model, extra_info` |
 */
import { z } from 'zod';
import { writeAtomic, writeJsonl } from './jsonl.js';
import { openrlhfDpo, openrlhfSft } from './openrlhf.js';
import { readRunRows } from './run-data.js';
import { trlDpo, trlPrm, trlSft } from './trl.js';
import { verlParquet, verlRow } from './verl.js';

export const exportFormats = ['trl-sft', 'trl-dpo', 'trl-prm', 'openrlhf-sft', 'openrlhf-dpo', 'verl'] as const;
export type ExportFormat = (typeof exportFormats)[number];

export interface ExportDataOptions {
  /** The run directory (the loop's, or train-prm's for trl-prm). */
  run: string;
  format: ExportFormat;
  /** Output file: JSONL for every format but verl (Parquet). */
  out: string;
  /** Only this iteration (default: all, in order). */
  iteration?: number;
  /** trl-sft rows as prompt/completion (default) or as user/assistant messages. */
  sftStyle: 'prompt-completion' | 'messages';
  /** Pairs to keep: sequence-level, step-level, or both (default). */
  pairLevel: 'sequence' | 'step' | 'all';
}

export const defaultExportDataOptions = { sftStyle: 'prompt-completion', pairLevel: 'all' } satisfies Partial<ExportDataOptions>;

export const exportDataOptionsSchema = z.object({
  run: z.string().min(1),
  format: z.enum(exportFormats),
  out: z.string().min(1),
  iteration: z.number().int().min(0).optional(),
  sftStyle: z.enum(['prompt-completion', 'messages']).default(defaultExportDataOptions.sftStyle),
  pairLevel: z.enum(['sequence', 'step', 'all']).default(defaultExportDataOptions.pairLevel),
});

export interface ExportDataResult {
  format: ExportFormat;
  out: string;
  rows: number;
  /** Source files read. */
  files: string[];
}

/** Reads the run's data and writes one file in `format`; fails with one line on a missing source or bad row. */
export function exportData(options: Partial<ExportDataOptions> & Pick<ExportDataOptions, 'run' | 'format' | 'out'>): ExportDataResult {
  const o = { ...defaultExportDataOptions, ...options };
  const it = o.iteration;
  const done = (rows: readonly unknown[], files: string[]): ExportDataResult => {
    writeJsonl(o.out, rows);
    return { format: o.format, out: o.out, rows: rows.length, files };
  };
  switch (o.format) {
    case 'trl-sft':
    case 'openrlhf-sft': {
      const { rows, files } = readRunRows(o.run, 'sft', it);
      return done(rows.map((r) => (o.format === 'trl-sft' ? trlSft(r, o.sftStyle) : openrlhfSft(r))), files);
    }
    case 'trl-dpo':
    case 'openrlhf-dpo': {
      const { rows, files } = readRunRows(o.run, 'pairs', it);
      const kept = rows.filter((r) => o.pairLevel === 'all' || (r.level ?? 'sequence') === o.pairLevel);
      return done(kept.map((r) => (o.format === 'trl-dpo' ? trlDpo(r) : openrlhfDpo(r))), files);
    }
    case 'trl-prm': {
      const { rows, files } = readRunRows(o.run, 'steps', it);
      return done(rows.map(trlPrm), files);
    }
    case 'verl': {
      const { rows, files } = readRunRows(o.run, 'problems', it);
      // A problem seen in several iterations is one RL prompt; the first sighting is kept.
      const seen = new Set<string>();
      const unique = rows.filter((r) => !seen.has(r.id) && (seen.add(r.id), true));
      const out = unique.map((r, i) => verlRow(r, i));
      writeAtomic(o.out, verlParquet(out));
      return { format: o.format, out: o.out, rows: out.length, files };
    }
  }
}
