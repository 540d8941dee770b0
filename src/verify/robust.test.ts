import { beforeAll, describe, it, expect } from 'vitest';
import { loadMathjs } from './scalar.js';
import { verify } from './verify.js';

/**
 * Pathological inputs: each must come back `correct: false` (or the right verdict) with a
 * reason, within the time budget, and never throw. The bound is on CPU time, generous: the
 * machine running the tests may be shared, and the point is "bounded", not "fast".
 */
const LIMIT_MS = 1500;

function timed(gold: string, text: string, timeoutMs = 500) {
  const t0 = process.cpuUsage();
  const r = verify(gold, text, { timeoutMs });
  const used = process.cpuUsage(t0);
  return { r, ms: (used.user + used.system) / 1000 };
}

describe('verify is time-bounded on pathological inputs', () => {
  // mathjs loads on the first comparison (1.4 s of CPU); the bound is on the comparison.
  beforeAll(() => void loadMathjs());
  const cases: [string, string, string][] = [
    ['huge exponents that both overflow', '10^{10^{100}}', '\\boxed{10^{10^{101}}}'],
    ['a power tower', '2', `\\boxed{${'2^{'.repeat(300)}2${'}'.repeat(300)}}`],
    ['deeply nested braces', '5', `\\boxed{${'{'.repeat(20000)}5${'}'.repeat(20000)}}`],
    ['unclosed braces', '5', `\\boxed{${'{'.repeat(50000)}5`],
    ['many unclosed boxes', '5', '\\boxed{'.repeat(20000)],
    ['a huge binomial', '1', '\\boxed{\\binom{1000000000}{500000000}}'],
    ['a huge factorial', '1', '\\boxed{1000000!}'],
    ['a megabyte of digits', '5', '9'.repeat(1_000_000)],
    ['many unclosed display maths', '5', '\\[ x '.repeat(30000)],
    ['many unclosed dollars', '5', 'a $$ b '.repeat(30000)],
    ['a long line of inline dollars', '5', '$x$y'.repeat(50000)],
    ['a huge set against a permutation', Array.from({ length: 3000 }, (_, k) => `\\sqrt{${k + 2}}`).join(','), `\\boxed{${Array.from({ length: 3000 }, (_, k) => `\\sqrt{${3001 - k}}`).join(',')}}`],
    ['a long matrix', `\\begin{pmatrix}${Array.from({ length: 2000 }, (_, k) => String(k)).join('\\\\')}\\end{pmatrix}`, `\\begin{pmatrix}${Array.from({ length: 2000 }, (_, k) => String(k + 1)).join('\\\\')}\\end{pmatrix}`],
  ];
  for (const [name, gold, text] of cases) {
    it(name, () => {
      const { r, ms } = timed(gold, text);
      expect(r.correct).toBe(false);
      expect(typeof r.reason).toBe('string');
      expect(ms).toBeLessThan(LIMIT_MS);
    });
  }

  it('deeply nested parentheses still hold their value', () => {
    const { r, ms } = timed('5', `$${'('.repeat(5000)}5${')'.repeat(5000)}$`, 60_000);
    expect(r.correct).toBe(true);
    expect(ms).toBeLessThan(LIMIT_MS);
  });

  it('reports the time budget as the reason when it runs out', () => {
    // 500 expressions in a variable, matched against their reverse: ~125,000 symbolic comparisons.
    const n = 500;
    const gold = `\\boxed{${Array.from({ length: n }, (_, k) => `x+${k}`).join(',')}}`;
    const pred = `\\boxed{${Array.from({ length: n }, (_, k) => `x+${n - 1 - k}`).join(',')}}`;
    const { r, ms } = timed(gold, pred, 50);
    expect(r).toMatchObject({ correct: false, reason: 'timed out after 50 ms' });
    expect(ms).toBeLessThan(LIMIT_MS);
  });
});
