import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { verify } from './verify.js';

/**
 * The shipped evaluation sets, verified against their own reference solutions: each gold
 * answer must be recovered from the full solution text and judged equal to itself as
 * written there. This exercises extraction (`####`, the last `\boxed{}`) on every style the
 * data sets use, and must stay at 100%.
 */
function readJsonl(relative: string): Record<string, unknown>[] {
  const path = fileURLToPath(new URL(relative, import.meta.url));
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * MATH-500 lines (1-based) whose reference solution legitimately disagrees with the `answer`
 * field, with the reason. None so far: every line passes.
 */
const MATH500_EXCEPTIONS = new Map<number, string>();

describe('data sets verify against their reference solutions', () => {
  it('GSM8K test: the number after #### verifies against the full answer (100%)', () => {
    const rows = readJsonl('../../data/gsm8k/test.jsonl');
    expect(rows.length).toBe(1319);
    const failures: string[] = [];
    rows.forEach((row, k) => {
      const answer = String(row.answer);
      const gold = /####\s*(.+)\s*$/.exec(answer)?.[1]?.trim() ?? '';
      const r = verify(gold, answer);
      if (!r.correct) failures.push(`line ${k + 1}: gold ${gold}, ${r.reason}`);
    });
    expect(failures).toEqual([]);
  });

  it('MATH-500: the answer field verifies against the boxed answer of the solution', () => {
    const rows = readJsonl('../../data/math500/test.jsonl');
    expect(rows.length).toBe(500);
    const failures: number[] = [];
    const reasons: string[] = [];
    rows.forEach((row, k) => {
      const r = verify(String(row.answer), String(row.solution));
      if (!r.correct) {
        failures.push(k + 1);
        if (!MATH500_EXCEPTIONS.has(k + 1)) reasons.push(`line ${k + 1}: ${r.reason}`);
      }
    });
    expect(reasons).toEqual([]);
    expect(failures).toEqual([...MATH500_EXCEPTIONS.keys()]);
  });
});
