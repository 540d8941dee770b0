import { describe, it, expect } from 'vitest';
import { evaluate } from 'mathjs';
import { isEnclosed, matchBrace, readArg, splitTopLevel } from './braces.js';
import { latexToMathjs, NotMath } from './latex.js';
import { normalize } from './normalize.js';
import { parseShape } from './structure.js';

describe('braces', () => {
  it('matches nested braces and skips escaped ones', () => {
    expect(matchBrace('{a{b}c}d', 0)).toBe(7);
    expect(matchBrace('{\\{1\\}}', 0)).toBe(7);
    expect(matchBrace('{open', 0)).toBe(-1);
  });
  it('reads TeX arguments', () => {
    expect(readArg('12', 0)).toEqual({ arg: '1', end: 1 });
    expect(readArg(' {27}0', 0)).toEqual({ arg: '27', end: 5 });
    expect(readArg('\\pi2', 0)).toEqual({ arg: '\\pi', end: 3 });
    expect(readArg('', 0)).toBeNull();
  });
  it('splits at top level only, half-open intervals included', () => {
    expect(splitTopLevel('[1,2),(3,\\{4,5\\})', ',')).toEqual(['[1,2)', '(3,\\{4,5\\})']);
    expect(splitTopLevel('(0,9) \\cup (9,36)', '\\cup')).toEqual(['(0,9) ', ' (9,36)']);
  });
  it('knows when one bracket encloses everything', () => {
    expect(isEnclosed('(1,2)')).toBe(true);
    expect(isEnclosed('[0,1)')).toBe(true);
    expect(isEnclosed('(a+5)(b+2)')).toBe(false);
  });
});

describe('latexToMathjs', () => {
  const value = (latex: string, scope: Record<string, number> = {}): number => evaluate(latexToMathjs(latex).expr, scope) as number;
  it('writes products out and renames variables', () => {
    expect(latexToMathjs('x(x+1)')).toEqual({ expr: '(v_x)*((v_x)+(1))', vars: ['v_x'] });
    expect(latexToMathjs('2\\theta m').vars).toEqual(['v_m', 'v_theta']);
  });
  it('evaluates common LaTeX', () => {
    expect(value('\\frac{\\sqrt{3}}{2}')).toBeCloseTo(Math.sqrt(3) / 2, 12);
    expect(value('\\frac12')).toBe(0.5);
    expect(value('2\\frac{1}{2}')).toBe(2.5);
    expect(value('-3\\frac{1}{4}')).toBe(-3.25);
    expect(value('2\\frac{\\pi}{2}')).toBeCloseTo(Math.PI, 12);
    expect(value('\\sqrt[3]{27}')).toBeCloseTo(3, 12);
    expect(value('\\sin^{-1} 1')).toBeCloseTo(Math.PI / 2, 12);
    expect(value('\\sin^2 \\frac{\\pi}{6}')).toBeCloseTo(0.25, 12);
    expect(value('\\log_{2} 8')).toBeCloseTo(3, 12);
    expect(value('3 \\cdot 4 \\div 6')).toBe(2);
    expect(value('1.5\\times10^{-3}')).toBeCloseTo(0.0015, 15);
    expect(value('x_1 + x_{2}', { v_x_1: 1, v_x_2: 2 })).toBe(3);
  });
  it('refuses what is not one expression', () => {
    for (const s of ['east', '1,2', 'x<3', '\\foo', '52_8', '', '1'.repeat(401)]) {
      expect(() => latexToMathjs(s), s).toThrow(NotMath);
    }
  });
});

describe('normalize and parseShape', () => {
  it('strips presentation and keeps the percent', () => {
    expect(normalize('$\\$1,\\!000.$')).toEqual({ text: '1000', percent: false, unit: null });
    expect(normalize('\\left( 3, \\frac{\\pi}{2} \\right)').text).toBe('( 3, \\frac{\\pi}{2} )');
    expect(normalize('12.5\\%')).toEqual({ text: '12.5', percent: true, unit: null });
    expect(normalize('125 miles')).toEqual({ text: '125', percent: false, unit: 'miles' });
    expect(normalize('125 miles', 'strict').text).toBe('125 \\unit{miles}');
    expect(normalize('\\text{(C)}').text).toBe('C');
  });
  it('tells tuples, intervals, sets and equations apart', () => {
    expect(parseShape('(1,2]')).toMatchObject({ kind: 'seq', open: '(', close: ']' });
    expect(parseShape('\\{1,2\\}')).toMatchObject({ kind: 'set', bare: false });
    expect(parseShape('1, 2')).toMatchObject({ kind: 'set', bare: true });
    expect(parseShape('(5)')).toEqual({ kind: 'scalar', text: '5' });
    expect(parseShape('x = 5')).toEqual({ kind: 'equation', sides: ['x', '5'] });
    expect(parseShape('1 < x <= 3')).toEqual({ kind: 'relation', sides: ['1', 'x', '3'], ops: ['<', '<='] });
    expect(parseShape('7:32')).toEqual({ kind: 'ratio', parts: ['7', '32'] });
    expect(parseShape('(a+5)(b+2)')).toEqual({ kind: 'scalar', text: '(a+5)(b+2)' });
  });
});
