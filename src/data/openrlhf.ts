/**
 * OpenRLHF dataset rows (OpenRLHF/OpenRLHF, openrlhf/datasets): the keys are chosen by flags whose
 * defaults these rows follow.
 *
 * - SFTDataset: `--input_key input --output_key output` → `{input, output}`.
 * - RewardDataset (train_rm, train_dpo): `--chosen_key chosen --rejected_key rejected` →
 *   `{prompt, chosen, rejected}`, with the prompt apart; pass `--prompt_key prompt` (without it,
 *   OpenRLHF expects chosen and rejected to hold the whole text).
 */
import type { PairRow, SftRow } from './run-data.js';

export function openrlhfSft(row: SftRow): Record<string, unknown> {
  return { input: row.prompt, output: row.completion };
}

export function openrlhfDpo(row: PairRow): Record<string, unknown> {
  return { prompt: row.prompt, chosen: row.chosen, rejected: row.rejected };
}
