import { describe, it, expect } from 'vitest';
import { extractAnswer, isEquivalent, verify } from './verify.js';

describe('extractAnswer', () => {
  const cases: [string, string, string | null][] = [
    ['last boxed wins', 'First \\boxed{1}, then \\boxed{2}.', '2'],
    ['nested braces', 'So $\\boxed{\\frac{\\sqrt{3}}{2}}$.', '\\frac{\\sqrt{3}}{2}'],
    ['set braces inside a box', '\\boxed{\\{1,2\\}}', '\\{1,2\\}'],
    ['fbox', 'thus \\fbox{7}', '7'],
    ['boxed with a space', 'The answer is $\\boxed 5$.', '5'],
    ['unclosed last box falls back to the one before', '\\boxed{3} ... \\boxed{4', '3'],
    ['boxed beats markers', 'The answer is 3. Actually \\boxed{4}', '4'],
    ['gsm8k marker', 'She makes 9 * 2 = $18.\n#### 18', '18'],
    ['gsm8k marker with separators', '#### 1,000', '1,000'],
    ['the answer is', 'Adding up, the answer is 42.', '42'],
    ['the answer is a math span', 'The answer is $\\frac{1}{2}$.', '\\frac{1}{2}'],
    ['final answer is', 'Therefore the final answer is 3.5. I hope it is correct.', '3.5'],
    ['answer line', 'step 1\nstep 2\nAnswer: 17', '17'],
    ['markdown answer line', '**Answer:** 12', '12'],
    ['number then words', 'The answer is 18 dollars per day.', '18'],
    ['dollar amount', 'The answer is \\$18.90.', '\\$18.90'],
    ['last marker wins', 'Answer: 3\nWait, no.\nAnswer: 5', '5'],
    ['empty marker falls back to an earlier one', 'The answer is 7.\nThe answer is', '7'],
    ['last number fallback', 'We get 3 apples and then 12 pears', '12'],
    ['last number keeps separators', 'total 1,234,567 people', '1,234,567'],
    ['last number negative', 'the value is -4', '-4'],
    ['subtraction is not a sign', 'we get 10-3', '3'],
    ['a bare fraction is the answer', '\\frac{1}{2}', '\\frac{1}{2}'],
    ['a bare list is the answer', '1,-2', '1,-2'],
    ['a bare math span', '$(3, \\frac{\\pi}{2})$', '(3, \\frac{\\pi}{2})'],
    ['a bare expression', '2\\sqrt{2} + xy', '2\\sqrt{2} + xy'],
    ['a bare word', 'Evelyn', 'Evelyn'],
    ['a short sentence is prose', 'x is 5', '5'],
    ['last number decimal, trailing period dropped', 'it costs 2.50.', '2.50'],
    ['last number fraction', 'probability 3/4', '3/4'],
    ['answer is with a colon', 'The answer is: 5', '5'],
    ['final answer line with a box', 'Final Answer: The final answer is $\\boxed{\\dfrac{3}{4}}$. I hope it is correct.', '\\dfrac{3}{4}'],
    ['final answer math span', 'The final answer is $3$. I hope it is correct.', '3'],
    ['percent', 'The answer is 50%.', '50%'],
    ['nothing', 'no digits here', null],
    ['empty', '', null],
    ['whitespace', '   \n ', null],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => expect(extractAnswer(text)).toBe(want));
  }

  it('tolerates non-strings', () => {
    expect(extractAnswer(null as unknown as string)).toBeNull();
    expect(extractAnswer(42 as unknown as string)).toBeNull();
  });
});

describe('isEquivalent: equal', () => {
  const cases: [string, string][] = [
    // numbers
    ['1000', '1,000'],
    ['1000', '1 000'],
    ['10080', '10,\\!080'],
    ['11111111100', '11,\\! 111,\\! 111,\\! 100'],
    ['1000', '1\\,000'],
    ['0.5', '.5'],
    ['5', '5.0'],
    ['5', '+5'],
    ['-3', '-3.000'],
    ['1500', '1.5e3'],
    ['1500', '1.5 \\times 10^{3}'],
    ['0.00015', '1.5\\times10^{-4}'],
    ['3.21', '3.210'],
    // fractions and mixed numbers
    ['\\frac{1}{2}', '0.5'],
    ['\\frac{1}{2}', '1/2'],
    ['\\frac12', '\\frac{1}{2}'],
    ['\\dfrac{33}{100}', '0.33'],
    ['\\tfrac{3}{4}', '\\frac{3}{4}'],
    ['\\frac 59', '5/9'],
    ['\\frac9{19}', '9/19'],
    ['\\frac{270}7', '270/7'],
    ['-\\frac{3}{8}', '\\frac{-3}{8}'],
    ['2.5', '2\\frac{1}{2}'],
    ['1\\frac{4}{5}', '\\frac{9}{5}'],
    ['137 \\frac{1}{2}', '137.5'],
    // percentages (only with a percent sign)
    ['50\\%', '50'],
    ['50\\%', '0.5'],
    ['0.5', '50%'],
    ['12.5%', '\\frac{1}{8}'],
    // LaTeX wrappers, degrees, units, money
    ['5', '$5$'],
    ['5', '\\text{5}'],
    ['5', '\\mathbf{5}'],
    ['5', '\\mathrm{5}'],
    ['90', '90^\\circ'],
    ['90', '90^{\\circ}'],
    ['90^\\circ', '90°'],
    ['30', '30 degrees'],
    ['\\frac{270}7\\text{ degrees}', '\\frac{270}{7}'],
    ['15', '15\\mbox{ cm}^2'],
    ['864', '864 \\mbox{ inches}^2'],
    ['5.4', '5.4 \\text{ cents}'],
    ['32348', '\\$32,\\!348'],
    ['18.90', '\\$18.90'],
    ['36', '36 dollars'],
    ['\\left( 3, \\frac{\\pi}{2} \\right)', '(3,\\frac{\\pi}{2})'],
    ['x \\in [-2,7]', '[-2,7]'],
    // words and choices
    ['\\text{Evelyn}', 'Evelyn'],
    ['\\text{east}', 'East'],
    ['\\text{(C)}', 'C'],
    ['(B)', 'b'],
    // equations
    ['x=5', '5'],
    ['5', 'x = 5'],
    ['y = 2x + 3', 'y=3+2x'],
    ['y = 2x + 3', '2x+3'],
    ['5x - 7y + 11z + 4 = 0', '10x - 14y + 22z + 8 = 0'],
    ['5x - 7y + 11z + 4 = 0', '-5x + 7y - 11z = 4'],
    // radicals, pi, symbolic
    ['2\\sqrt{2}', '\\sqrt{8}'],
    ['11\\sqrt2', '11\\sqrt{2}'],
    ['\\frac{\\sqrt{3}}{2}', '\\sqrt{3}/2'],
    ['\\frac{\\sqrt{3}}{3}', '\\frac{1}{\\sqrt{3}}'],
    ['\\sqrt[3]{8}', '2'],
    ['x+1', '1+x'],
    ['(a+5)(b+2)', 'ab+2a+5b+10'],
    ['x^2+2x+1', '(x+1)^2'],
    ['\\frac{11+9a}{20}', '\\frac{11}{20}+\\frac{9a}{20}'],
    ['288 \\pi', '288\\pi'],
    ['\\pi', '3.14159265358979'],
    ['-\\frac{\\pi}{6}', '-\\pi/6'],
    ['\\cot x', '\\frac{\\cos x}{\\sin x}'],
    ['\\sin^2 x + \\cos^2 x', '1'],
    ['\\binom{5}{2}', '10'],
    ['5!', '120'],
    ['2^{10}', '1024'],
    ['e^{i\\pi}', '-1'],
    ['6 - 5i', '6-5i'],
    ['6 - 5i', '-5i+6'],
    ['\\sqrt{-4}', '2i'],
    ['sqrt(2)/2', '\\frac{\\sqrt{2}}{2}'],
    ['2\\pi r', '2r\\pi'],
    ['\\theta + 1', '1+\\theta'],
    ['x_1 + x_2', 'x_2+x_1'],
    // base numerals
    ['52_8', '52_{8}'],
    ['52_8', '52'],
    ['1A_{16}', '1a_16'],
    // tuples, intervals, sets, matrices
    ['(6,31,-1)', '(6, 31, -1)'],
    ['(1,4.5)', '(1,\\frac{9}{2})'],
    ['[1,2)', '[1, 2)'],
    ['(3,4]', '\\left(3,4\\right]'],
    ['(2,\\infty)', '(2, \\infty)'],
    ['(-\\infty, 0]', '(-\\infty,0]'],
    ['(0,9) \\cup (9,36)', '(9,36)\\cup(0,9)'],
    ['\\{1,2,3\\}', '\\{3,2,1\\}'],
    ['\\{1\\pm\\sqrt{5},-2\\}', '\\{-2, 1-\\sqrt{5}, 1+\\sqrt{5}\\}'],
    ['1,-2', '-2, 1'],
    ['3, 5, 7', '7,3,5'],
    ['1 \\pm \\sqrt{19}', '1-\\sqrt{19}, 1+\\sqrt{19}'],
    ['\\left( 3, \\frac{\\pi}{2} \\right)', '3, \\frac{\\pi}{2}'],
    ['\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}', '\\begin{pmatrix}-\\frac{1}{3}\\\\\\frac{2}{3}\\\\\\frac{5}{3}\\end{pmatrix}'],
    ['\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}', '\\begin{bmatrix}-1&0\\\\0&-1\\end{bmatrix}'],
    ['\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}', '(-2,-14,-7)'],
    ['\\boxed{5}', '5'],
    ['(-\\infty, 0]', '(−∞, 0]'],
    ['\\frac{\\pi}{2}', 'π/2'],
  ];
  for (const [gold, pred] of cases) {
    it(`${gold}  =  ${pred}`, () => expect(isEquivalent(gold, pred)).toBe(true));
  }
});

describe('isEquivalent: not equal', () => {
  const cases: [string, string][] = [
    ['\\frac{1}{2}', '2'],
    ['1/2', '2/1'],
    ['12', '21'],
    ['(1,2)', '(2,1)'],
    ['[1,2)', '[1,2]'],
    ['(1,2)', '[1,2]'],
    ['(2,\\infty)', '[2,\\infty)'],
    ['(-\\infty, 0]', '(-\\infty, 0)'],
    ['(0,9) \\cup (9,36)', '(0,36)'],
    ['\\{1,2,3\\}', '\\{1,2\\}'],
    ['1,-2', '1,2'],
    ['50', '0.5'],
    ['0.5', '50'],
    ['50\\%', '5'],
    ['\\frac{1}{3}', '0.333'],
    ['0.0000672', '0.0000673'],
    ['1000', '1001'],
    ['100, 200', '100 200'],
    ['2\\sqrt{2}', '\\sqrt{2}'],
    ['x+1', 'x-1'],
    ['x^2', '2x'],
    ['(a+5)(b+2)', '(a+2)(b+5)'],
    ['\\text{east}', '\\text{seat}'],
    ['\\text{Evelyn}', '\\text{Navin}'],
    ['\\text{(C)}', 'D'],
    ['6 - 5i', '6+5i'],
    ['\\pi', '3.14'],
    ['52_8', '42'],
    ['52_8', '52_9'],
    ['x_1', 'x'],
    ['x_1', 'x_2'],
    ['x=5', 'x=6'],
    ['x=5', 'y=5'],
    ['y = 2x + 3', 'y = 3x + 2'],
    ['5x - 7y + 11z + 4 = 0', '5x - 7y + 11z - 4 = 0'],
    ['\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}', '\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}'],
    ['\\begin{pmatrix} 1 & 2 \\end{pmatrix}', '\\begin{pmatrix} 1 \\\\ 2 \\\\ 3 \\end{pmatrix}'],
    ['2.5', '2\\frac{1}{2}x'],
    ['5', ''],
    ['', '5'],
    ['5', 'five'],
  ];
  for (const [gold, pred] of cases) {
    it(`${gold}  ≠  ${pred}`, () => expect(isEquivalent(gold, pred)).toBe(false));
  }

  it('tolerates garbage without throwing', () => {
    for (const junk of ['\\frac{', '}{', '\\sqrt', '((((', '^^^', '\\boxed{', 'x'.repeat(5000), '1'.repeat(400) + '+x']) {
      expect(() => isEquivalent('5', junk)).not.toThrow();
      expect(isEquivalent('5', junk)).toBe(false);
    }
    expect(isEquivalent(null as unknown as string, '5')).toBe(false);
    expect(isEquivalent('5', undefined as unknown as string)).toBe(false);
  });
});

describe('verify', () => {
  it('extracts and compares', () => {
    expect(verify('\\frac{1}{2}', 'so the probability is $\\boxed{0.5}$')).toEqual({ correct: true, extracted: '0.5', reason: 'matches gold' });
    const wrong = verify('18', '#### 17');
    expect(wrong.correct).toBe(false);
    expect(wrong.extracted).toBe('17');
    expect(wrong.reason).toContain('does not match');
  });

  it('reports a missing answer', () => {
    expect(verify('3', 'I do not know')).toEqual({ correct: false, extracted: null, reason: 'no answer found' });
  });

  it('never throws on bad input', () => {
    const bad: unknown[] = ['', '  ', null, undefined, 42, {}, ['5']];
    for (const b of bad) {
      const asGold = verify(b as string, 'Answer: 5');
      expect(asGold.correct).toBe(false);
      expect(asGold.reason).toMatch(/^gold answer is /);
      const asText = verify('5', b as string);
      expect(asText.correct).toBe(false);
      expect(asText.reason).toMatch(/^prediction is /);
    }
  });
});
