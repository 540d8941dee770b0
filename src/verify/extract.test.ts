import { describe, it, expect } from 'vitest';
import { extract } from './extract.js';
import { boxes, mathSpans } from './spans.js';

describe('extract: order of preference', () => {
  const cases: [string, string, string | null, string | null][] = [
    ['boxed beats everything', 'Answer: 3. Then $4$ and **5**. \\boxed{6} and 7', '6', 'boxed'],
    ['boxes joined by "and"', '\\boxed{(2,2)} \\quad\\text{and}\\quad \\boxed{(6,2)}', '(2,2), (6,2)', 'boxed'],
    ['boxes apart stay apart', '\\boxed{1} and then a long story follows \\boxed{2}', '2', 'boxed'],
    ['a bare answer is taken whole', 'x = 5+5+1 = 11', 'x = 5+5+1 = 11', 'whole'],
    ['marker then span', 'The answer is $\\frac{1}{2}$. Then 3 more.', '\\frac{1}{2}', 'marker'],
    ['marker then a number after the last =', 'réponse est 35 + 70 = 105 pommes.', '105', 'marker'],
    ['marker then a sentence that is math', 'The answer is (2,1).', '(2,1)', 'marker'],
    ['marker in Chinese', '所以答案是 42 个。', '42', 'marker'],
    ['marker in Russian', 'Ответ: 17.', '17', 'marker'],
    ['GSM8K ####', 'so 9 * 2 = 18\n#### 18', '18', 'marker'],
    ['bold', 'Adding them up gives **66** in total', '66', 'bold'],
    ['bold with a unit', '所以是 **3页**', '3', 'bold'],
    ['last span or number, whichever ends last', 'We get $x = 3$ so there are 5 apples', '5', 'last'],
    ['joined spans', 'The roots are $1$ and $2$', '1, 2', 'last'],
    ['a span with a percent after it', 'The loss is $28$ %', '28%', 'last'],
    ['currency is not a span', 'It costs $7.78 for the fudge', '7.78', 'last'],
    ['a digit inside a word is no number', 'code XDY2K', null, null],
    ['empty', '  ', null, null],
  ];
  for (const [name, text, answer, method] of cases) {
    it(name, () => {
      const r = extract(text);
      expect(r?.answer ?? null).toBe(answer);
      expect(r?.method ?? null).toBe(method);
    });
  }

  it('follows a configured order', () => {
    expect(extract('Answer: 3. Later \\boxed{4}', { extraction: ['marker', 'boxed'] })?.answer).toBe('3');
    expect(extract('Answer: 3. Later $4$', { extraction: ['last'] })?.answer).toBe('4');
    expect(extract('Answer: 3. Later $4$', { extraction: ['marker', 'last'] })?.answer).toBe('3');
  });
});

describe('spans', () => {
  it('finds inline and display math, not currency', () => {
    expect(mathSpans('a $x$ b \\(y\\) c \\[z\\] d $$w$$ costs 5$ and $6').map((s) => s.content)).toEqual(['x', 'y', 'z', 'w']);
    expect(mathSpans('$a\n$').length).toBe(0);
  });
  it('finds closed boxes, outer ones only', () => {
    expect(boxes('\\boxed{\\boxed{5}} \\fbox{6} \\boxed 7 \\boxed{8').map((b) => b.content)).toEqual(['\\boxed{5}', '6', '7']);
  });
});
