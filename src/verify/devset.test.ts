import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { verify } from './verify.js';

/**
 * Agreement with the field's verifiers on our own development set (testdata/devset.jsonl):
 * cases written for this project in the styles real models write (LaTeX delimiters, chatty
 * and multilingual outputs, multiple choice, mixed numbers, relations, matrices, units,
 * sets and intervals, long solutions), each with the verdict Math-Verify, lighteval, the
 * Qwen2.5-Math grader and MATH's equivalence agree on. None is copied from their tests.
 */
interface Case {
  id: number;
  category: string;
  gold: string;
  prediction: string;
  expected: boolean;
  note?: string;
}

const cases = readFileSync(fileURLToPath(new URL('./testdata/devset.jsonl', import.meta.url)), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Case);

describe('agreement with the peers on the development set', () => {
  it('agrees on at least 97% of the cases, and says "right" wrongly on at most 1%', () => {
    const misses: string[] = [];
    const byCategory = new Map<string, { n: number; agree: number }>();
    let falsePositives = 0;
    for (const c of cases) {
      const r = verify(c.gold, c.prediction);
      const stat = byCategory.get(c.category) ?? { n: 0, agree: 0 };
      stat.n++;
      if (r.correct === c.expected) stat.agree++;
      else {
        if (r.correct) falsePositives++;
        misses.push(`#${c.id} [${c.category}] expected ${c.expected}: gold ${JSON.stringify(c.gold)}, extracted ${JSON.stringify(r.extracted)} (${r.reason})`);
      }
      byCategory.set(c.category, stat);
    }
    const agree = cases.length - misses.length;
    const lines = [...byCategory].map(([k, s]) => `  ${k.padEnd(14)} ${s.agree}/${s.n}`);
    console.log(`dev set agreement ${agree}/${cases.length} = ${((100 * agree) / cases.length).toFixed(1)}%\n${lines.join('\n')}${misses.length ? `\nmisses:\n  ${misses.join('\n  ')}` : ''}`);
    expect(cases.length).toBeGreaterThanOrEqual(300);
    expect(agree / cases.length).toBeGreaterThanOrEqual(0.97);
    expect(falsePositives / cases.length).toBeLessThanOrEqual(0.01);
  });
});
