/**
 * TRL dataset rows (huggingface/trl, "Dataset formats and types"):
 *
 * - SFTTrainer: prompt-completion `{prompt, completion}` (loss on the completion only), or
 *   conversational `{messages: [{role, content}]}`.
 * - DPOTrainer: preference `{prompt, chosen, rejected}`.
 * - PRMTrainer: stepwise supervision `{prompt, completions: string[], labels: boolean[]}`.
 *
 * Only the keys TRL reads are written: its trainers drop or choke on unknown columns.
 */
import type { PairRow, SftRow, StepRow } from './run-data.js';

export function trlSft(row: SftRow, style: 'prompt-completion' | 'messages'): Record<string, unknown> {
  if (style === 'messages') {
    return { messages: [{ role: 'user', content: row.prompt }, { role: 'assistant', content: row.completion }] };
  }
  return { prompt: row.prompt, completion: row.completion };
}

export function trlDpo(row: PairRow): Record<string, unknown> {
  return { prompt: row.prompt, chosen: row.chosen, rejected: row.rejected };
}

/** Stepwise labels as booleans; soft (Monte-Carlo) labels count as correct from 0.5 up. */
export function trlPrm(row: StepRow): Record<string, unknown> {
  return { prompt: row.prompt, completions: row.completions, labels: row.labels.map((l) => (typeof l === 'boolean' ? l : l >= 0.5)) };
}
