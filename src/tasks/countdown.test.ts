import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { parseBehaviours } from './behaviours.js';
import { countdownTask, readCountdown, verifyCountdown } from './countdown.js';
import { solveCountdown, toExpression } from './countdown-solve.js';
import { splitOf } from './split.js';

const task = countdownTask();
const settings = ['none', 'plan', 'check', 'correct', 'alternatives', 'plan,check,correct,alternatives', 'default'];
const p24 = { numbers: [3, 7, 12, 2], target: 24 };
const v = (text: string, p = p24) => verifyCountdown(p, text);

describe('countdown solver', () => {
  it('finds shortest solutions and reports unsolvable problems', () => {
    expect(solveCountdown([3, 7, 12, 2], 24)).toHaveLength(1);
    expect(solveCountdown([1, 1, 1], 50)).toBeNull();
    expect(solveCountdown([5, 9], 9)).toEqual([]);
    const path = solveCountdown([6, 8, 21, 6], 63, new Rng(1))!;
    expect(v(`${path.map((s) => `${s.a}${s.op}${s.b}=${s.c}`).join('\n')}\nAnswer: 63`, { numbers: [6, 8, 21, 6], target: 63 }).correct).toBe(true);
  });

  it('writes steps as one expression with the parentheses it needs', () => {
    const steps = [
      { a: 7, op: '-' as const, b: 3, c: 4 },
      { a: 12, op: '/' as const, b: 2, c: 6 },
      { a: 6, op: '*' as const, b: 4, c: 24 },
    ];
    expect(toExpression([3, 7, 12, 2], steps)).toBe('12/2*(7-3)');
    expect(toExpression([10, 3, 2], [{ a: 3, op: '+', b: 2, c: 5 }, { a: 10, op: '-', b: 5, c: 5 }])).toBe('10-(3+2)');
  });
});

describe('countdown traces', () => {
  it('verify as correct for many seeds and every behaviour setting', () => {
    const problems = task.problems('train', 200, 11);
    for (const spec of settings) {
      const b = parseBehaviours(spec, task.defaultBehaviours);
      problems.forEach((p, i) => {
        const trace = task.trace(p, new Rng(i), b);
        expect(task.verify(p, trace), `${spec}: ${p.prompt}\n${trace}`).toMatchObject({ correct: true, extracted: p.answer });
      });
    }
  });

  it('search with dead ends and back markers when alternatives are on, in both search modes', () => {
    const all = parseBehaviours('alternatives');
    const p = { id: 'x', prompt: 'make 30 from 22 15 11', answer: '30' };
    for (const search of ['dfs', 'random'] as const) {
      const trace = countdownTask({ search }).trace(p, new Rng(0), all);
      expect(trace.split('\n').filter((l) => l === 'back').length, trace).toBeGreaterThanOrEqual(1);
      expect(trace.split('\n').at(-1)).toBe(`Answer: ${p.answer}`);
    }
    expect(task.trace(p, new Rng(0), parseBehaviours('none'))).not.toMatch(/back/);
  });

  it('stay inside the alphabet and the length budget for 3, 4 and 5 numbers, in both formats', () => {
    const all = parseBehaviours('plan,check,correct,alternatives');
    for (const [numbers, format] of [[3, 'plain'], [3, 'state'], [4, 'plain'], [4, 'state'], [5, 'state']] as const) {
      const t = countdownTask({ numbers, format });
      t.problems('test', 200, numbers).forEach((p, i) => {
        const text = t.formatPrompt(p) + t.trace(p, new Rng(i), all);
        expect([...text].filter((ch) => !t.alphabet.includes(ch)), text).toEqual([]);
        expect(text.length, text).toBeLessThanOrEqual(230);
        expect(t.verify(p, text.slice(t.formatPrompt(p).length)).correct).toBe(true);
      });
    }
  });
});

describe('countdown state format', () => {
  it('writes the numbers left after every step, dead ends included', () => {
    const t = countdownTask({ format: 'state' });
    const p = { id: 'x', prompt: 'make 30 from 22 15 11', answer: '30' };
    const trace = t.trace(p, new Rng(3), parseBehaviours('alternatives'));
    const steps = trace.split('\n').filter((l) => /^\d/.test(l));
    expect(steps.length).toBeGreaterThan(1);
    for (const l of steps) expect(l).toMatch(/^\d+[-+*/]\d+=\d+ \([\d ]+\)$/);
    expect(t.verify(p, trace).correct).toBe(true);
    expect(countdownTask({ format: 'plain' }).trace(p, new Rng(3), parseBehaviours('alternatives'))).not.toMatch(/\(/);
  });

  it('checks a written state against the numbers really left', () => {
    expect(v('7-3=4 (12 2 4)\n12/2=6 (4 6)\n6*4=24 (24)\nAnswer: 24').correct).toBe(true);
    expect(v('7-3=4 (2 4 12)\n12/2=6 (6 4)\n6*4=24 (24)\nAnswer: 24').correct).toBe(true);
    expect(v('7-3=4 (12 4)\n12/2=6 (4 6)\n6*4=24 (24)\nAnswer: 24').reason).toMatch(/step 1 .*numbers left are 12 2 4, not 12 4/);
    expect(v('12*2=24 ()\nAnswer: 24').reason).toMatch(/numbers left are 3 7 24, not none/);
  });

  it('rejects an unknown format or search', () => {
    expect(() => countdownTask({ format: 'tree' })).toThrow(/format must be one of plain, state/);
    expect(() => countdownTask({ search: 'bfs' })).toThrow(/search must be one of dfs, random/);
  });
});

describe('countdown verify', () => {
  it('accepts a valid path, with or without spaces, after dead ends', () => {
    expect(v('12*2=24\nAnswer: 24')).toMatchObject({ correct: true, extracted: '24' });
    expect(v('7 - 3 = 4\n12 / 2 = 6\n6 * 4 = 24\nAnswer: 24').correct).toBe(true);
    expect(v('7+3=10\n12*2=24\nback\n7-3=4\n12/2=6\n6*4=24\nAnswer: 24').correct).toBe(true);
    // A bad step before the last `back` is not part of the final path.
    expect(v('7+3=11\nback\n12*2=24\nAnswer: 24').correct).toBe(true);
  });

  it('drops a step retracted by a Correcting line', () => {
    expect(v('12*2=25\nCheck: 12*2 is 24, not 25. Correcting.\n12*2=24\nAnswer: 24').correct).toBe(true);
    expect(v('12*2=25\nCheck: ok\nAnswer: 24').reason).toMatch(/step 1 "12\*2=25": 12\*2 is 24, not 25/);
  });

  it('rejects reused numbers', () => {
    expect(v('12*2=24\n24-12=12\n12+12=24\nAnswer: 24').reason).toMatch(/step 2 "24-12=12": 12 is already used/);
    expect(v('3+3=6\n6*4=24\nAnswer: 24').reason).toMatch(/step 1.*3 is already used/);
    expect(v('5*5=25\nAnswer: 24').reason).toMatch(/5 is not available/);
    expect(v('7-3=4\n4*6=24\nAnswer: 24').reason).toMatch(/step 2.*6 is not available/);
  });

  it('rejects wrong arithmetic, inexact division and non-positive results', () => {
    expect(v('12*3=35\nAnswer: 24').reason).toMatch(/step 1 "12\*3=35": 12\*3 is 36, not 35/);
    expect(v('7/2=3\nAnswer: 24').reason).toMatch(/7\/2 is not an integer/);
    expect(v('3-7=-4\nAnswer: 24').reason).toMatch(/3-7 is -4, not a positive integer/);
    expect(v('hello\nAnswer: 24').reason).toMatch(/step 1 "hello": not a step/);
  });

  it('rejects a wrong final value or a path that does not reach it', () => {
    expect(v('12*2=24\nAnswer: 23')).toMatchObject({ correct: false, extracted: '23', reason: expect.stringMatching(/not the target 24/) });
    expect(v('7+3=10\nAnswer: 24').reason).toMatch(/reaches 10, not 24/);
    expect(v('Answer: 24').reason).toMatch(/no steps reach 24/);
    expect(v('12*2=24').reason).toMatch(/no "Answer:"/);
    expect(v('12*2=24\nAnswer: (12*2)').reason).toMatch(/not an integer/);
  });
});

describe('countdown problems', () => {
  it('are solvable, in range and deterministic under a seed', () => {
    const ps = task.problems('train', 200, 2);
    expect(ps).toEqual(task.problems('train', 200, 2));
    for (const p of ps) {
      const { numbers, target } = readCountdown(p);
      expect(numbers).toHaveLength(3);
      expect(Math.max(...numbers)).toBeLessThanOrEqual(25);
      expect(target).toBeGreaterThanOrEqual(10);
      expect(target).toBeLessThanOrEqual(100);
      expect(solveCountdown(numbers, target)).not.toBeNull();
      expect(readCountdown({ ...p, meta: undefined })).toEqual({ numbers, target });
    }
  });

  it('never overlap between train and test', () => {
    const canon = (p: { meta?: Record<string, unknown> }) => {
      const { numbers, target } = p.meta as { numbers: number[]; target: number };
      return `${[...numbers].sort((a, b) => a - b).join(' ')}>${target}`;
    };
    const train = new Set(task.problems('train', 3000, 1).map(canon));
    const test = task.problems('test', 300, 1).map(canon);
    expect(test.filter((c) => train.has(c))).toEqual([]);
    for (const c of test) expect(splitOf(c)).toBe('test');
  });

  it('repeat train puzzles once a small space is exhausted, and never repeat test ones', () => {
    const small = countdownTask({ numbers: 2, maxNumber: 12, minTarget: 10, maxTarget: 30 });
    const train = small.problems('train', 400, 0);
    const distinct = new Set(train.map((p) => p.id)).size;
    expect(distinct).toBeLessThan(400);
    expect(train).toHaveLength(400);
    expect(train.slice(distinct, 2 * distinct)).toEqual(train.slice(0, distinct));
    expect(() => small.problems('test', 400, 0)).toThrow(/found only \d+ of 400 distinct test problems/);
  });

  it('reject unknown options', () => {
    expect(() => countdownTask({ count: 4 } as never)).toThrow(/unknown option "count".*numbers/);
    expect(() => countdownTask({ numbers: 9 })).toThrow(/numbers/);
  });
});

describe('countdown checker', () => {
  it('needs no gold answer: the verdict comes from the prompt alone', () => {
    for (const p of task.problems('test', 50, 4)) {
      const trace = task.trace(p, new Rng(1), task.defaultBehaviours);
      const blind = { id: p.id, prompt: p.prompt, answer: 'unknown' };
      expect(task.verify(blind, trace)).toEqual(task.verify(p, trace));
      expect(task.verify(blind, trace).correct).toBe(true);
      expect(task.verify(blind, trace.replace(/Answer: \d+$/, 'Answer: 1')).correct).toBe(false);
    }
  });
});

describe('countdown config', () => {
  it('fails clearly when no target fits', () => {
    expect(() => countdownTask({ numbers: 2, maxNumber: 2, minTarget: 500 }).problems('train', 1, 0)).toThrow(/no target in \[500/);
  });
});
