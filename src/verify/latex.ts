import { matchBrace, readArg } from './braces.js';

/** Thrown when a normalized answer is not an expression we can evaluate (words, relations, lists). */
export class NotMath extends Error {}

/** A mathjs expression string and the variables it uses (each renamed `v_<name>`). */
export interface MathExpr {
  expr: string;
  vars: string[];
}

/** Longer answers are compared as strings only: parsing them costs more than they are worth. */
export const MAX_EXPR_CHARS = 400;

/**
 * Converts one normalized LaTeX (or plain-text) scalar to a mathjs expression. Every
 * product is written out with `*`, because mathjs reads `x(x+1)` as a call of `x`, and
 * every variable is renamed `v_<name>` so that no letter is taken for a mathjs unit or
 * constant (`m`, `g`, `E`). Only `e`, `i` and `\pi` keep their mathematical meaning.
 */
export function latexToMathjs(latex: string): MathExpr {
  if (latex.length > MAX_EXPR_CHARS) throw new NotMath('too long');
  if (latex.trim() === '') throw new NotMath('empty');
  const vars = new Set<string>();
  const expr = new Converter(vars).convert(latex);
  return { expr, vars: [...vars].sort() };
}

/** mathjs names of functions, by the LaTeX command or plain word that writes them. */
const FUNCTIONS: Record<string, string> = {
  sin: 'sin', cos: 'cos', tan: 'tan', sec: 'sec', csc: 'csc', cot: 'cot',
  arcsin: 'asin', arccos: 'acos', arctan: 'atan', asin: 'asin', acos: 'acos', atan: 'atan',
  sinh: 'sinh', cosh: 'cosh', tanh: 'tanh', ln: 'log', log: 'log10', exp: 'exp', sqrt: 'sqrt', abs: 'abs',
};
const INVERSE: Record<string, string> = { sin: 'asin', cos: 'acos', tan: 'atan', sec: 'asec', csc: 'acsc', cot: 'acot' };

const GREEK = new Set([
  'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'varepsilon', 'zeta', 'eta', 'theta', 'vartheta', 'iota', 'kappa',
  'lambda', 'mu', 'nu', 'xi', 'rho', 'sigma', 'tau', 'upsilon', 'phi', 'varphi', 'chi', 'psi', 'omega',
  'Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Sigma', 'Phi', 'Psi', 'Omega',
]);

const OPERATOR = /^\\(?:cdot|times|ast|div)(?![a-zA-Z])/;

/** One piece of the output; implicit multiplication goes between two adjacent operands. */
interface Piece {
  text: string;
  operand: boolean;
}

class Converter {
  constructor(private readonly vars: Set<string>) {}

  convert(s: string): string {
    const pieces: Piece[] = [];
    let i = 0;
    while (i < s.length) {
      const c = s[i]!;
      if (c === ' ') {
        i++;
      } else if ('+-*/'.includes(c)) {
        pieces.push({ text: c, operand: false });
        i++;
      } else if (c === '^') {
        const exp = this.exponent(s, i + 1);
        pieces.push({ text: '^', operand: false }, { text: exp.text, operand: true });
        i = exp.end;
      } else if (c === '\\' && OPERATOR.test(s.slice(i))) {
        const op = OPERATOR.exec(s.slice(i))![0];
        pieces.push({ text: op === '\\div' ? '/' : '*', operand: false });
        i += op.length;
      } else if (c === '!') {
        const last = pieces.at(-1);
        if (!last?.operand) throw new NotMath('factorial of nothing');
        last.text = `fact(${last.text})`;
        i++;
      } else {
        const prev = pieces.at(-1);
        const mixed = prev === undefined || prev.text === '+' || prev.text === '-' ? this.mixedNumber(s, i) : null;
        const atom = mixed ?? this.atom(s, i);
        pieces.push({ text: atom.text, operand: true });
        i = atom.end;
      }
    }
    let out = '';
    for (let k = 0; k < pieces.length; k++) {
      if (k > 0 && pieces[k - 1]!.operand && pieces[k]!.operand) out += '*';
      out += pieces[k]!.text;
    }
    if (out === '') throw new NotMath('empty');
    return out;
  }

  /** One operand starting at `i`: a number, a name, a bracketed group, or a command with its arguments. */
  private atom(s: string, i: number): { text: string; end: number } {
    const c = s[i]!;
    const num = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(s.slice(i));
    if (num) {
      if (s[i + num[0].length] === '_') throw new NotMath('number with a base subscript');
      return { text: `(${num[0]})`, end: i + num[0].length };
    }
    if (/[a-zA-Z]/.test(c)) return this.word(s, i);
    if (c === '{') {
      const end = matchBrace(s, i);
      if (end < 0) throw new NotMath('unbalanced braces');
      return { text: `(${this.convert(s.slice(i + 1, end - 1))})`, end };
    }
    if (c === '(' || c === '[') {
      const end = matchBracket(s, i);
      const inner = s.slice(i + 1, end - 1);
      if (/,/.test(inner)) throw new NotMath('a list is not a scalar');
      return { text: `(${this.convert(inner)})`, end };
    }
    if (c === '\\') return this.command(s, i);
    if (c === '|') {
      const close = s.indexOf('|', i + 1);
      if (close < 0) throw new NotMath('unclosed |');
      return { text: `abs(${this.convert(s.slice(i + 1, close))})`, end: close + 1 };
    }
    throw new NotMath(`unexpected "${c}"`);
  }

  /** A run of letters: a function, `pi`, or single-letter variables multiplied (`ab` = a·b). */
  private word(s: string, i: number): { text: string; end: number } {
    const run = /^[a-zA-Z]+/.exec(s.slice(i))![0];
    const end = i + run.length;
    if (FUNCTIONS[run] !== undefined) return this.apply(run, s, end);
    if (run === 'pi') return { text: 'pi', end };
    // Three letters or more is a word ("east", "Evelyn"): comparing it as a product of
    // letters would make "east" equal "seat".
    if (run.length > 2) throw new NotMath(`word "${run}"`);
    const names = run.split('');
    let after = end;
    if (s[end] === '_') {
      const sub = readArg(s, end + 1);
      if (!sub || !/^\w+$/.test(sub.arg)) throw new NotMath('subscript');
      names[names.length - 1] += `_${sub.arg}`;
      after = sub.end;
    }
    return { text: `(${names.map((n) => this.variable(n)).join('*')})`, end: after };
  }

  private variable(name: string): string {
    if (name === 'e' || name === 'i') return name;
    const v = `v_${name}`;
    this.vars.add(v);
    return v;
  }

  /** A control sequence and its arguments. */
  private command(s: string, i: number): { text: string; end: number } {
    const m = /^\\([a-zA-Z]+|.)/.exec(s.slice(i));
    if (m === null) throw new NotMath('a lone backslash');
    const name = m[1]!;
    let end = i + 1 + name.length;
    switch (name) {
      case 'frac': {
        const a = this.arg(s, end);
        const b = this.arg(s, a.end);
        return { text: `((${a.text})/(${b.text}))`, end: b.end };
      }
      case 'sqrt': {
        let index: string | null = null;
        if (s[end] === '[') {
          const close = matchBracket(s, end);
          index = this.convert(s.slice(end + 1, close - 1));
          end = close;
        }
        const a = this.arg(s, end);
        return { text: index === null ? `sqrt(${a.text})` : `nthRoot(${a.text},${index})`, end: a.end };
      }
      case 'binom': {
        const a = this.arg(s, end);
        const b = this.arg(s, a.end);
        return { text: `binom(${a.text},${b.text})`, end: b.end };
      }
      case 'pi':
        return { text: 'pi', end };
      case 'infty':
        return { text: 'Infinity', end };
    }
    if (FUNCTIONS[name] !== undefined) return this.apply(name, s, end);
    if (GREEK.has(name)) return { text: this.variable(name), end };
    throw new NotMath(`unsupported \\${name}`);
  }

  /** A macro argument (`{...}`, one character, or one command), converted. */
  private arg(s: string, i: number): { text: string; end: number } {
    const a = readArg(s, i);
    if (a === null) throw new NotMath('missing argument');
    return { text: this.convert(a.arg), end: a.end };
  }

  /** `^2`, `^{-1}`, `^\pi`, or a plain-text `^-1`. */
  private exponent(s: string, i: number): { text: string; end: number } {
    while (s[i] === ' ') i++;
    const sign = s[i] === '-' || s[i] === '+' ? s[i]! : '';
    const a = this.arg(s, i + sign.length);
    return { text: `(${sign}${a.text})`, end: a.end };
  }

  /**
   * A function and its argument: `\sin(x)`, `\sin x`, `\sin 2x` (the whole run, as read),
   * `\sin^2 x` (a power of the value), `\sin^{-1} x` (the inverse), `\log_2 8`.
   */
  private apply(name: string, s: string, i: number): { text: string; end: number } {
    let fn = FUNCTIONS[name]!;
    let power: string | null = null;
    let base: string | null = null;
    for (;;) {
      while (s[i] === ' ') i++;
      if (s[i] === '^') {
        const p = this.exponent(s, i + 1);
        if (p.text === '(-(1))' && INVERSE[name]) fn = INVERSE[name]!;
        else power = p.text;
        i = p.end;
      } else if (s[i] === '_' && name === 'log') {
        const b = this.arg(s, i + 1);
        base = b.text;
        i = b.end;
      } else break;
    }
    if (i >= s.length) throw new NotMath(`${name} without an argument`);
    let arg: { text: string; end: number };
    const run = /^[0-9.]*[a-zA-Z]?(?![a-zA-Z])/.exec(s.slice(i))?.[0] ?? '';
    if (run !== '' && s[i] !== '(') arg = { text: this.convert(run), end: i + run.length };
    else arg = this.atom(s, i);
    const call = base !== null ? `log(${arg.text},${base})` : `${fn}(${arg.text})`;
    return { text: power === null ? call : `(${call})^${power}`, end: arg.end };
  }

  /** `2\frac{1}{2}` is the mixed number 2½ when both parts of the fraction are integers. */
  private mixedNumber(s: string, i: number): { text: string; end: number } | null {
    // Plain text "11 5/6": a whole number, a space, then a fraction of whole numbers.
    const plain = /^(\d+)\s+(\d+)\s*\/\s*(\d+)(?![\d.])/.exec(s.slice(i));
    if (plain && !/^\s*[a-zA-Z\\({]/.test(s.slice(i + plain[0].length))) {
      return { text: `(${plain[1]}+${plain[2]}/${plain[3]})`, end: i + plain[0].length };
    }
    const whole = /^(\d+)\s*\\frac/.exec(s.slice(i));
    if (!whole) return null;
    const a = readArg(s, i + whole[0].length);
    const b = a && readArg(s, a.end);
    if (!a || !b || !/^\d+$/.test(a.arg.trim()) || !/^\d+$/.test(b.arg.trim())) return null;
    if (/^\s*[a-zA-Z\\({]/.test(s.slice(b.end))) return null; // 2\frac{1}{2}x is a product.
    return { text: `(${whole[1]}+${a.arg.trim()}/${b.arg.trim()})`, end: b.end };
  }
}

/** Index just past the bracket group opening at `i` (any of `([{`, closed by any of `)]}`). */
function matchBracket(s: string, i: number): number {
  let depth = 0;
  for (let k = i; k < s.length; k++) {
    const c = s[k]!;
    if (c === '\\') {
      k++;
      continue;
    }
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c) && --depth === 0) return k + 1;
  }
  throw new NotMath('unbalanced brackets');
}
