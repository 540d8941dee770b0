import { describe, expect, it } from 'vitest';
import type { Problem } from '../core/problem.js';
import { createMockPolicy } from '../policy/mock.js';
import { createToyPolicy, createToyPrm, createToyTask } from '../search/testing.js';
import { arithTask } from '../tasks/arith.js';
import { difficultyByDigits, difficultyByProbes, fitAllocator, formatSweep, runAllocated, sweepAllocation, type Difficulty, type SweepCell } from './allocation.js';
import { runSearch } from './eval.js';

const cell = (bin: string, algo: string, budget: number, accuracy: number, output_tokens: number): SweepCell => ({ bin, algo, budget, accuracy, output_tokens, problems: 10 });

describe('difficulty', () => {
  it('bins arith by the most digits of an operand, from the prompt alone', async () => {
    const ps = [{ id: 'a', prompt: '7+5', answer: '' }, { id: 'b', prompt: '123*45', answer: '' }];
    expect(await difficultyByDigits(ps)).toEqual([{ bin: 'd1', outputTokens: 0 }, { bin: 'd3', outputTokens: 0 }]);
  });

  it('bins by agreement of probe samples and counts the probe tokens', async () => {
    const task = arithTask();
    const ps = task.problems('test', 2, 0);
    // Always the same answer on the first problem; four different answers on the second.
    const policy = createMockPolicy((prefix, i) => (prefix.includes(ps[0]!.prompt) ? 'Answer: 1' : `Answer: ${i}`));
    const d = await difficultyByProbes({ task, policy, k: 4, maxTokens: 20, seed: 0, judge: 'agreement' })(ps);
    expect(d.map((x) => x.bin)).toEqual(['p1.00', 'p0.25']);
    expect(d[0]!.outputTokens).toBe(4 * 'Answer: 1'.length);
  });
});

describe('fitAllocator', () => {
  const cells = [
    cell('easy', 'majority', 4, 0.95, 40), cell('easy', 'majority', 16, 0.96, 160), cell('easy', 'revision', 16, 0.97, 170),
    cell('hard', 'majority', 4, 0.2, 60), cell('hard', 'majority', 16, 0.4, 240), cell('hard', 'hybrid', 16, 0.5, 250),
  ];

  it('gives each bin its cheapest arm within tolerance of the best, and falls back to the best overall', () => {
    const a = fitAllocator(cells, { tolerance: 0.02 });
    expect(a.arms).toEqual({ easy: { algo: 'majority', budget: 4 }, hard: { algo: 'hybrid', budget: 16 } });
    // Only majority was swept on both bins; revision@16's 97% on easy problems alone does not count.
    expect(a.fallback).toEqual({ algo: 'majority', budget: 16 });
  });

  it('spends more on easy problems only when the tolerance is zero, and respects the budget cap', () => {
    expect(fitAllocator(cells, { tolerance: 0 }).arms.easy).toEqual({ algo: 'revision', budget: 16 });
    expect(fitAllocator(cells, { maxBudget: 4 }).arms).toEqual({ easy: { algo: 'majority', budget: 4 }, hard: { algo: 'majority', budget: 4 } });
    expect(() => fitAllocator(cells, { maxBudget: 2 })).toThrow(/no sweep cell within budget 2/);
  });

  it('prints a table', () => {
    expect(formatSweep(cells).split('\n')).toHaveLength(2 + cells.length);
  });
});

describe('allocation end to end (toy world)', () => {
  // Easy problems (1 step) and hard ones (5 steps); the policy writes a step right with p = 0.7,
  // a revision with 0.85. Difficulty is read off the prompt (the number of addends).
  const easy = createToyTask({ steps: 1 });
  const hard = createToyTask({ steps: 5 });
  const task = easy;
  const problemsOf = (split: 'train' | 'test', seed: number): Problem[] => [...easy.problems(split, 24, seed), ...hard.problems(split, 24, seed + 100)];
  const bins = async (ps: Problem[]): Promise<Difficulty[]> => ps.map((p) => ({ bin: `k${p.prompt.split(',').length}`, outputTokens: 0 }));
  const policy = createToyPolicy({ p: 0.7, revisedP: 0.85 });
  const reward = createToyPrm({ noise: 0.3 });
  const common = { task, policy, reward, maxTokens: 200, seed: 1 };

  it('sweeps splits × budgets per bin, then spends less than the best uniform arm for about its accuracy', async () => {
    const train = problemsOf('train', 1);
    const cells = await sweepAllocation({ ...common, problems: train, bins: (await bins(train)).map((d) => d.bin), config: { budgets: [4, 16] } });
    expect(cells).toHaveLength(2 * 3 * 2);
    const allocator = fitAllocator(cells, { tolerance: 0.05 });
    // Easy problems are solved at budget 4 by some split: no reason to spend 16 there.
    expect(allocator.arms.k1!.budget).toBe(4);
    const test = problemsOf('test', 2);
    const run = await runAllocated({ ...common, problems: test, allocator, difficulty: await bins(test) });
    const uniform = await runSearch({ ...common, problems: test, algo: allocator.fallback.algo, budget: allocator.fallback.budget });
    expect(run.problems).toBe(test.length);
    expect(run.output_tokens).toBeLessThan(uniform.row.output_tokens);
    expect(run.accuracy).toBeGreaterThanOrEqual(uniform.row.accuracy - 0.1);
    expect(Object.values(run.usage).reduce((a, b) => a + b, 0)).toBe(test.length);
  });
});
