import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goldAnswer, gsm8kTask, loadJsonlTask, math500Task, packageRoot } from './dataset.js';

describe('dataset tasks', () => {
  it('find the package root from their own location', () => {
    expect(packageRoot()).toMatch(/\/$/);
    expect(join(packageRoot(), 'src', 'tasks')).toBe(join(import.meta.dirname, '.'));
  });

  it('read GSM8K with the number after #### as gold', () => {
    const task = gsm8kTask();
    const all = task.problems('test', Infinity, 0);
    expect(all).toHaveLength(1319);
    expect(all[0]).toMatchObject({ id: 'gsm8k-0', answer: '18' });
    expect(all[0]!.prompt).toMatch(/^Janet/);
    expect(all[0]!.meta!.reference).toMatch(/#### 18$/);
    expect(task.stepDelimiter).toBe('\n\n');
    const prompt = task.formatPrompt(all[0]!);
    expect(prompt).toMatch(/\\boxed\{\}\.\n\n$/);
    expect(task.verify(all[0]!, 'She sells 9 eggs.\n\nSo she makes $\\boxed{18}$.')).toMatchObject({ correct: true, extracted: '18' });
    expect(task.verify(all[0]!, 'So she makes $\\boxed{16}$.').correct).toBe(false);
  });

  it('read MATH-500 with unique ids and LaTeX answers', () => {
    const task = math500Task();
    const all = task.problems('test', 1000, 0);
    expect(all).toHaveLength(500);
    expect(new Set(all.map((p) => p.id)).size).toBe(500);
    // The shipped copy has no unique_id field, so ids fall back to the line index.
    expect(all[0]!.id).toBe('math500-0');
    expect(all[0]!.meta).toHaveProperty('solution');
    const p = all.find((q) => q.answer === '\\frac{14}{3}')!;
    expect(p).toBeDefined();
    expect(task.verify(p, 'Hence the answer is $\\boxed{\\frac{14}{3}}$.').correct).toBe(true);
  });

  it('sample deterministically under a seed, in file order', () => {
    const task = gsm8kTask();
    const a = task.problems('test', 20, 3);
    expect(a).toEqual(task.problems('test', 20, 3));
    expect(a).not.toEqual(task.problems('test', 20, 4));
    const idx = a.map((p) => p.meta!.index as number);
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
  });

  it('have no train split unless a trainPath is given', () => {
    expect(() => gsm8kTask().problems('train', 5, 0)).toThrow(/gsm8k: no train split/);
  });

  it('read any JSONL with configurable fields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-'));
    const test = join(dir, 'mine.jsonl');
    const train = join(dir, 'mine-train.jsonl');
    writeFileSync(test, '{"q": "What is 2+2?", "a": 4, "key": "k1"}\n\n{"q": "Half of 1?", "a": "\\\\frac{1}{2}", "key": "k2"}\n');
    writeFileSync(train, '{"q": "What is 3+3?", "a": "#### 6"}\n');
    const task = loadJsonlTask(test, { questionField: 'q', answerField: 'a', idField: 'key', trainPath: train });
    expect(task.name).toBe('mine');
    const ps = task.problems('test', 10, 0);
    expect(ps.map((p) => [p.id, p.answer])).toEqual([['k1', '4'], ['k2', '\\frac{1}{2}']]);
    expect(task.verify(ps[1]!, 'so \\boxed{0.5}').correct).toBe(true);
    expect(task.problems('train', 10, 0)).toMatchObject([{ id: 'mine-train-0', answer: '6' }]);
    expect(() => loadJsonlTask(test, { question: 'q' }).problems('test', 1, 0)).toThrow(/unknown option "question"/);
    expect(() => loadJsonlTask(test).problems('test', 1, 0)).toThrow(/lacks a string "question"/);
    expect(() => loadJsonlTask(join(dir, 'none.jsonl')).problems('test', 1, 0)).toThrow(/cannot read/);
  });

  it('take gold answers from ####, \\boxed{} or the value itself', () => {
    expect(goldAnswer('so 3+4=7\n#### 1,234')).toBe('1234');
    expect(goldAnswer('thus $\\boxed{\\frac{1}{2}}$')).toBe('\\frac{1}{2}');
    expect(goldAnswer(' (1,2) ')).toBe('(1,2)');
    expect(goldAnswer(42)).toBe('42');
  });
});
