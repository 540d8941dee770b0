import { describe, expect, it } from 'vitest';
import { getTask, taskNames } from './registry.js';

describe('getTask', () => {
  it('builds every named task', () => {
    expect(getTask('arith').name).toBe('arith');
    expect(getTask('countdown', { numbers: 3 }).problems('train', 1, 0)[0]!.meta!.numbers).toHaveLength(3);
    expect(getTask('gsm8k').problems('test', 2, 0)).toHaveLength(2);
    expect(getTask('math500').stepDelimiter).toBe('\n\n');
    expect(getTask('jsonl:data/gsm8k/test.jsonl', { name: 'g' }).name).toBe('g');
    expect(taskNames).toEqual(['arith', 'countdown', 'gsm8k', 'math500', 'jsonl:PATH']);
  });

  it('names the valid tasks on one line for an unknown name', () => {
    expect(() => getTask('sudoku')).toThrow('unknown task "sudoku" (valid: arith, countdown, gsm8k, math500, jsonl:PATH)');
    expect(() => getTask('jsonl:')).toThrow(/valid:/);
  });

  it('passes options to the task config', () => {
    expect(() => getTask('arith', { maxDigits: 'x' })).toThrow(/maxDigits/);
    expect(getTask('arith', { maxDigits: '2', ops: '+' }).problems('train', 5, 0).every((p) => /^\d\d?\+\d\d?$/.test(p.prompt))).toBe(true);
  });
});
