/**
 * verl RL datasets (volcengine/verl, "Prepare Data for Post-Training"): Parquet with one problem per
 * row:
 *
 *   data_source   string                     picks the reward function (verl's default_compute_score)
 *   prompt        list<struct<role, content>> chat messages
 *   ability       string                     task category
 *   reward_model  struct<style, ground_truth> style "rule": a verifier compares with ground_truth
 *   extra_info    struct<split, index, problem_id, iteration>
 *
 * Written with hyparquet-writer (explicit nested schema, Dremel-encoded), Snappy-compressed.
 */
import { ByteWriter, parquetWrite, type SchemaElement } from 'hyparquet-writer';
import type { ProblemRow } from './run-data.js';

export interface VerlRow {
  data_source: string;
  prompt: { role: string; content: string }[];
  ability: string;
  reward_model: { style: string; ground_truth: string };
  extra_info: { split: string; index: number; problem_id: string; iteration: number | null };
}

/**
 * data_source names verl's default reward router knows for our datasets (verl/utils/reward_score);
 * other tasks get `searchlearn/<task>`, for which a user gives verl a custom reward function.
 */
export const VERL_DATA_SOURCES: Record<string, string> = { gsm8k: 'openai/gsm8k', math500: 'HuggingFaceH4/MATH-500' };

export function verlRow(p: ProblemRow & { iteration: number | null }, index: number): VerlRow {
  return {
    data_source: VERL_DATA_SOURCES[p.task] ?? `searchlearn/${p.task}`,
    prompt: [{ role: 'user', content: p.prompt }],
    // Every built-in task and dataset is verifiable arithmetic or mathematics.
    ability: 'math',
    reward_model: { style: 'rule', ground_truth: p.answer },
    extra_info: { split: 'train', index, problem_id: p.id, iteration: p.iteration },
  };
}

const str = (name: string, repetition: 'REQUIRED' | 'OPTIONAL' = 'OPTIONAL'): SchemaElement => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: repetition });

/** The Parquet schema of VerlRow (the nested LIST in Parquet's standard three-level form). */
export const verlSchema: SchemaElement[] = [
  { name: 'root', num_children: 5 },
  str('data_source', 'REQUIRED'),
  { name: 'prompt', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  str('role'),
  str('content'),
  str('ability', 'REQUIRED'),
  { name: 'reward_model', repetition_type: 'OPTIONAL', num_children: 2 },
  str('style'),
  str('ground_truth'),
  { name: 'extra_info', repetition_type: 'OPTIONAL', num_children: 4 },
  str('split'),
  { name: 'index', type: 'INT32', repetition_type: 'OPTIONAL' },
  str('problem_id'),
  { name: 'iteration', type: 'INT32', repetition_type: 'OPTIONAL' },
];

/** The Parquet file's bytes. */
export function verlParquet(rows: readonly VerlRow[]): Uint8Array {
  const writer = new ByteWriter();
  const col = <K extends keyof VerlRow>(name: K) => ({ name, data: rows.map((r) => r[name]) });
  parquetWrite({
    writer,
    columnData: [col('data_source'), col('prompt'), col('ability'), col('reward_model'), col('extra_info')],
    schema: verlSchema,
    kvMetadata: [{ key: 'searchlearn.format', value: 'verl' }],
    createdBy: 'searchlearn',
  });
  return new Uint8Array(writer.getBuffer());
}
