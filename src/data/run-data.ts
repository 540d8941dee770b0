/**
 * What a run directory holds for trainers, read and validated at the edge.
 *
 * The learning loop writes, per iteration N:
 *
 *   data/iter-N/sft.jsonl          {prompt, completion, problem_id, reward?}
 *   data/iter-N/pairs.jsonl        {prompt, chosen, rejected, problem_id, level: "sequence"|"step"}
 *   data/iter-N/step-labels.jsonl  {prompt, completions[], labels[], problem_id}  (TRL stepwise form)
 *   data/iter-N/problems.jsonl     {id, prompt, answer, task}
 *
 * `searchlearn train-prm` writes `labels.jsonl` at the top of its run directory, in the same
 * stepwise form (src/learn/mc-labels.ts toTrlStepwise).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonl } from './jsonl.js';

const id = z.union([z.string(), z.number()]).transform(String);

export const sftRowSchema = z.object({ prompt: z.string(), completion: z.string(), problem_id: id.optional(), reward: z.number().optional() });
export const pairRowSchema = z.object({ prompt: z.string(), chosen: z.string(), rejected: z.string(), problem_id: id.optional(), level: z.enum(['sequence', 'step']).optional() });
export const stepRowSchema = z
  .object({ prompt: z.string(), completions: z.array(z.string()), labels: z.array(z.union([z.boolean(), z.number()])), problem_id: id.optional() })
  .refine((r) => r.completions.length === r.labels.length, { message: 'completions and labels differ in length', path: ['labels'] });
export const problemRowSchema = z.object({ id, prompt: z.string(), answer: z.string(), task: z.string() });

export type SftRow = z.infer<typeof sftRowSchema>;
export type PairRow = z.infer<typeof pairRowSchema>;
export type StepRow = z.infer<typeof stepRowSchema>;
export type ProblemRow = z.infer<typeof problemRowSchema>;

export const RUN_DATA_FILES = { sft: 'sft.jsonl', pairs: 'pairs.jsonl', steps: 'step-labels.jsonl', problems: 'problems.jsonl' } as const;
export type RunDataKind = keyof typeof RUN_DATA_FILES;
/** train-prm's Monte-Carlo labels, at the top of its run directory. */
export const TRAIN_PRM_LABELS = 'labels.jsonl';

const SCHEMAS = { sft: sftRowSchema, pairs: pairRowSchema, steps: stepRowSchema, problems: problemRowSchema } as const;
type RowOf<K extends RunDataKind> = z.infer<(typeof SCHEMAS)[K]>;

/** The iterations with a data directory (`data/iter-N/`), ascending. */
export function runIterations(run: string): number[] {
  const dir = join(run, 'data');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .map((f) => /^iter-(\d+)$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null && statSync(join(dir, m[0])).isDirectory())
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export interface RunRows<T> {
  rows: (T & { iteration: number | null })[];
  /** Files read, for the report line. */
  files: string[];
}

/**
 * Rows of one kind from every iteration (or only `iteration`), each tagged with its iteration.
 * For step labels, a train-prm run directory's `labels.jsonl` is used when no iteration has any.
 * Fails with one line when the run has none of them.
 */
export function readRunRows<K extends RunDataKind>(run: string, kind: K, iteration?: number): RunRows<RowOf<K>> {
  if (!existsSync(run) || !statSync(run).isDirectory()) throw new Error(`run directory ${JSON.stringify(run)} does not exist`);
  const all = runIterations(run);
  if (iteration !== undefined && !all.includes(iteration)) {
    throw new Error(`${join(run, 'data', `iter-${iteration}`)} does not exist (iterations here: ${all.length > 0 ? all.join(', ') : 'none'})`);
  }
  const iterations = iteration !== undefined ? [iteration] : all;
  const file = RUN_DATA_FILES[kind];
  const out: RunRows<RowOf<K>> = { rows: [], files: [] };
  for (const it of iterations) {
    const path = join(run, 'data', `iter-${it}`, file);
    if (!existsSync(path)) continue;
    for (const row of readJsonl(path, SCHEMAS[kind])) out.rows.push({ ...(row as RowOf<K>), iteration: it });
    out.files.push(path);
  }
  if (kind === 'steps' && out.files.length === 0 && iteration === undefined) {
    const labels = join(run, TRAIN_PRM_LABELS);
    if (existsSync(labels)) {
      for (const row of readJsonl(labels, stepRowSchema)) out.rows.push({ ...(row as RowOf<K>), iteration: null });
      out.files.push(labels);
    }
  }
  if (out.files.length === 0) {
    const where = iteration !== undefined ? `data/iter-${iteration}/` : `any data/iter-N/ (iterations: ${all.length > 0 ? all.join(', ') : 'none'})`;
    const also = kind === 'steps' ? ` nor ${TRAIN_PRM_LABELS} (train-prm)` : '';
    throw new Error(`run ${JSON.stringify(run)} has no ${file} in ${where}${also}`);
  }
  return out;
}
