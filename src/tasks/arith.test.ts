import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { arithTask, resolveArithConfig } from './arith.js';
import { parseBehaviours } from './behaviours.js';
import { splitOf } from './split.js';

const task = arithTask();
const settings = ['none', 'plan', 'check', 'correct', 'alternatives', 'plan,check,correct,alternatives', 'default'];

describe('arith traces', () => {
  it('verify as correct for many seeds and every behaviour setting', () => {
    const problems = task.problems('train', 300, 7);
    for (const spec of settings) {
      const b = parseBehaviours(spec, task.defaultBehaviours);
      problems.forEach((p, i) => {
        const trace = task.trace(p, new Rng(i), b);
        const v = task.verify(p, trace);
        expect(v, `${spec}: ${p.prompt}\n${trace}`).toMatchObject({ correct: true, extracted: p.answer });
      });
    }
  });

  it('inject a detected and corrected mistake and still end right', () => {
    const p = { id: 'x', prompt: '487+925', answer: '1412' };
    const trace = task.trace(p, new Rng(1), parseBehaviours('correct'));
    const lines = trace.split('\n');
    const at = lines.findIndex((l) => l.includes('Correcting.'));
    expect(at).toBeGreaterThan(0);
    expect(lines[at]).toMatch(/^Check: \S+ is \d+, not \d+\. Correcting\.$/);
    expect(lines[at - 1]).not.toBe(lines[at + 1]);
    expect(lines.at(-1)).toBe('Answer: 1412');
  });

  it('write the documented formats', () => {
    const none = parseBehaviours('none');
    const all = parseBehaviours('plan,check');
    const t = (prompt: string, b = none) => task.trace({ id: 'x', prompt, answer: '' }, new Rng(0), b);
    expect(t('487+925')).toBe('7+5=12 w2 c1\n8+2+1=11 w12 c1\n4+9+1=14 w1412\nAnswer: 1412');
    expect(t('487+925', all)).toBe('Plan: add columns right to left\n7+5=12 w2 c1\n8+2+1=11 w12 c1\n4+9+1=14 w1412\nCheck: 1412-925=487 ok\nAnswer: 1412');
    expect(t('487-925')).toBe('Swap: 925-487, negate\n15-7=8 w8 b1\n12-8-1=3 w38 b1\n9-4-1=4 w438\nAnswer: -438');
    expect(t('48*37', all)).toBe('Plan: multiply by each digit, then add\n48*7=336\n48*30=1440\n336+1440=1776\nCheck: 1776/37=48 ok\nAnswer: 1776');
  });

  it('stay inside the alphabet and the length budget', () => {
    const all = parseBehaviours('plan,check,correct,alternatives');
    let max = 0;
    task.problems('test', 500, 3).forEach((p, i) => {
      const text = task.formatPrompt(p) + task.trace(p, new Rng(i), all);
      expect([...text].filter((ch) => !task.alphabet.includes(ch)), text).toEqual([]);
      max = Math.max(max, text.length);
    });
    expect(max).toBeLessThanOrEqual(230);
  });
});

describe('arith verify', () => {
  const p = { id: 'x', prompt: '487+925', answer: '1412' };
  it('uses the last Answer line and compares integers exactly', () => {
    expect(task.verify(p, 'Answer: 1411\nAnswer: 1412')).toMatchObject({ correct: true, extracted: '1412' });
    expect(task.verify(p, 'Answer: 1412\nAnswer: 1411')).toMatchObject({ correct: false, extracted: '1411', reason: expect.stringMatching(/1411.*wrong/) });
    expect(task.verify(p, '7+5=12')).toMatchObject({ correct: false, extracted: null, reason: expect.stringMatching(/no "Answer:"/) });
    expect(task.verify(p, 'Answer: 1412.5').reason).toMatch(/not an integer/);
    expect(task.verify({ ...p, answer: '-438' }, 'Answer: -438').correct).toBe(true);
  });
});

describe('arith problems', () => {
  it('are deterministic under a seed', () => {
    expect(task.problems('train', 50, 5)).toEqual(task.problems('train', 50, 5));
    expect(task.problems('train', 50, 5)).not.toEqual(task.problems('train', 50, 6));
  });

  it('never overlap between train and test', () => {
    const canon = (prompt: string) => {
      const [, a, op, b] = /^(\d+)([-+*])(\d+)$/.exec(prompt)!;
      return op === '-' ? prompt : `${Math.min(+a!, +b!)}${op}${Math.max(+a!, +b!)}`;
    };
    const train = new Set(task.problems('train', 2000, 1).map((p) => canon(p.prompt)));
    const test = task.problems('test', 500, 1).map((p) => canon(p.prompt));
    expect(test.filter((c) => train.has(c))).toEqual([]);
    for (const c of test) expect(splitOf(c)).toBe('test');
    expect(new Set(test).size).toBe(500);
  });

  it('follow the config', () => {
    const small = arithTask({ minDigits: 1, maxDigits: 1, ops: ['+'] });
    for (const p of small.problems('train', 20, 0)) expect(p.prompt).toMatch(/^\d\+\d$/);
    expect(resolveArithConfig({ ops: '+,*' }).ops).toEqual(['+', '*']);
    expect(() => arithTask({ digits: 3 } as never)).toThrow(/unknown option "digits".*minDigits/);
    expect(() => arithTask({ ops: ['^'] } as never)).toThrow(/ops/);
    expect(() => arithTask({ maxDigits: 9 })).toThrow(/maxDigits/);
  });

  it('throw when the space is too small for the count', () => {
    const tiny = arithTask({ minDigits: 1, maxDigits: 1, ops: ['+'] });
    expect(() => tiny.problems('test', 100, 0)).toThrow(/found only/);
  });
});
