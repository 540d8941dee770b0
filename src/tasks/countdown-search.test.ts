import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { countdownTask } from './countdown.js';
import { dfsSearch } from './countdown-search.js';
import { apply, moves, solveCountdown, type CountdownStep } from './countdown-solve.js';

const reaches = (steps: CountdownStep[], target: number) => steps.some((s) => s.c === target);

describe('countdown dfs search trace', () => {
  it('visits first steps closest to the target first, never twice, and stops at the first that solves', () => {
    const problems = countdownTask().problems('test', 300, 5);
    let withDeadEnds = 0;
    problems.forEach((p, k) => {
      const { numbers, target } = p.meta as { numbers: number[]; target: number };
      const r = dfsSearch(numbers, target, new Rng(k))!;
      const firsts = [...r.deadEnds.map((d) => d[0]!), r.path[0]!];
      const key = (s: CountdownStep) => `${s.a}${s.op}${s.b}`;
      expect(new Set(firsts.map(key)).size).toBe(firsts.length);
      const dist = firsts.map((s) => Math.abs(s.c - target));
      for (let i = 1; i < dist.length; i++) expect(dist[i]!).toBeGreaterThanOrEqual(dist[i - 1]!);
      for (const d of r.deadEnds) expect(reaches(d, target)).toBe(false);
      expect(r.path.at(-1)!.c).toBe(target);
      // Every first step closer than the solving one was tried and failed.
      const closer = new Set(moves(numbers).filter((m) => Math.abs(m.step.c - target) < dist.at(-1)!).map((m) => key(m.step)));
      expect(r.deadEnds.length).toBeGreaterThanOrEqual(closer.size);
      if (r.deadEnds.length > 0) withDeadEnds++;
    });
    expect(withDeadEnds).toBeGreaterThan(50);
  });

  it('continues each 3-number attempt with the move closest to the target', () => {
    const r = dfsSearch([22, 15, 11], 30, new Rng(0))!;
    expect(r.deadEnds.length).toBeGreaterThan(0);
    for (const [first, second] of r.deadEnds) {
      const left = [first!.c, [22, 15, 11].find((x) => x !== first!.a && x !== first!.b) ?? first!.b];
      const [a, b] = left[0]! >= left[1]! ? left : [left[1]!, left[0]!];
      const best = Math.min(...(['+', '-', '*', '/'] as const).map((op) => apply(a!, op, b!)).filter((c): c is number => c !== null).map((c) => Math.abs(c - 30)));
      expect(Math.abs(second!.c - 30)).toBe(best);
    }
  });

  it('finds a solution for 4 and 5 numbers whenever the solver does, and returns [] for a given target', () => {
    for (const n of [4, 5]) {
      countdownTask({ numbers: n }).problems('test', 40, n).forEach((p, k) => {
        const { numbers, target } = p.meta as { numbers: number[]; target: number };
        const r = dfsSearch(numbers, target, new Rng(k));
        expect(r === null).toBe(solveCountdown(numbers, target) === null);
        if (r) expect(r.path.at(-1)!.c).toBe(target);
      });
    }
    expect(dfsSearch([5, 9, 3], 9, new Rng(0))).toEqual({ deadEnds: [], path: [] });
    expect(dfsSearch([1, 1, 1], 50, new Rng(0))).toBeNull();
  });
});
