/**
 * Multi-digit arithmetic (+, -, *) with column-by-column traces, the worked-example format of
 * scratchpad papers (Nye et al. 2021, "Show your work") kept short enough for a character-level
 * model with a 256-character context.
 *
 * Trace lines (one step per line, last line `Answer: N`):
 *   +  `7+5=12 w2 c1`      column digits (+1 for a carry in) = sum, w = digits written so far, c1 = carry out
 *      `4+9+1=14 w1412`    the last column writes its whole sum
 *   -  `15-7=8 w8 b1`      a leading 1 marks a borrowed ten, -1 a borrow paid, b1 = borrow taken
 *      `Swap: 925-487, negate`  when the first number is the smaller
 *   *  `48*7=336`, `48*30=1440` partial products per nonzero multiplier digit, then `336+1440=1776`
 * Behaviours: `Plan: ...` first; an injected wrong step followed by
 * `Check: 7+5 is 12, not 13. Correcting.` and the right step; `Check: 1412-925=487 ok` before the answer.
 */
import type { Problem } from '../core/problem.js';
import type { Rng } from '../core/rng.js';
import { verifyIntegerAnswer } from './answer.js';
import { checkKeys, intOption } from './config.js';
import { checkArithSteps } from './arith-steps.js';
import { collectProblems } from './split.js';
import type { Behaviours, BuiltinTask, Split } from './task.js';

export type ArithOp = '+' | '-' | '*';
const allOps: readonly ArithOp[] = ['+', '-', '*'];

export interface ArithConfig {
  /** Fewest digits of an operand. Default 1 (a mix of easy and hard problems helps a small model start). */
  minDigits: number;
  /** Most digits of an operand (at most 7, so products stay exact in doubles). Default 3: sized so that `init` reaches a held-out accuracy in the 30–85% band in minutes on a laptop CPU, leaving room for search and learning. */
  maxDigits: number;
  /** Operations drawn uniformly. Default all three. */
  ops: ArithOp[];
  /**
   * Most digits of the multiplier (the second operand of *). Each multiplier digit costs a
   * partial-product line, so this is what keeps * traces inside the context. Default 2.
   */
  maxMultiplierDigits: number;
}

export const defaultArithConfig = {
  minDigits: 1,
  maxDigits: 3,
  ops: ['+', '-', '*'],
  maxMultiplierDigits: 2,
} satisfies ArithConfig;

/** Default behaviour rates: some plans and checks, occasional self-correction, no alternatives (nothing to search). */
export const defaultArithBehaviours: Behaviours = { plan: 0.5, check: 0.5, correct: 0.2, alternatives: 0 };

/** Every character a prompt or trace of this task can contain (checked by the tests). */
export const arithAlphabet = '\n *+,-./0123456789:=ACPQSabcdefghiklmnoprstuwy';

export function resolveArithConfig(options: Record<string, unknown> = {}): ArithConfig {
  checkKeys('arith', options, Object.keys(defaultArithConfig));
  const minDigits = intOption('arith', 'minDigits', options.minDigits, defaultArithConfig.minDigits, 1, 7);
  const maxDigits = intOption('arith', 'maxDigits', options.maxDigits, Math.max(minDigits, defaultArithConfig.maxDigits), minDigits, 7);
  const maxMultiplierDigits = intOption('arith', 'maxMultiplierDigits', options.maxMultiplierDigits, Math.min(maxDigits, defaultArithConfig.maxMultiplierDigits), 1, maxDigits);
  let ops: unknown = options.ops ?? defaultArithConfig.ops;
  if (typeof ops === 'string') ops = ops.split(/[\s,]*/).filter((s) => s !== '');
  if (!Array.isArray(ops) || ops.length === 0 || ops.some((o) => !allOps.includes(o as ArithOp))) {
    throw new Error(`arith: option ops must be a non-empty list of ${allOps.join(' ')}, got ${JSON.stringify(options.ops)}`);
  }
  return { minDigits, maxDigits, ops: [...new Set(ops as ArithOp[])], maxMultiplierDigits };
}

export interface ArithProblem {
  a: number;
  b: number;
  op: ArithOp;
}

export function compute({ a, b, op }: ArithProblem): number {
  return op === '+' ? a + b : op === '-' ? a - b : a * b;
}

export function readProblem(problem: Problem): ArithProblem {
  const m = /^(\d+)([-+*])(\d+)$/.exec(problem.prompt.trim());
  if (!m) throw new Error(`arith: cannot read problem "${problem.prompt}"`);
  return { a: Number(m[1]), b: Number(m[3]), op: m[2] as ArithOp };
}

function operand(rng: Rng, minDigits: number, maxDigits: number): number {
  const d = rng.int(minDigits, maxDigits);
  return rng.int(d === 1 ? 1 : 10 ** (d - 1), 10 ** d - 1);
}

/** One computational step of a trace, with the wrong version a self-correction shows. */
export interface TraceStep {
  text: string;
  /** What the step computes, as the check line names it ("7+5"). */
  expr: string;
  value: number;
  /** The step written with another value (for injected mistakes). */
  withValue(v: number): string;
  /** A plausible wrong value. */
  slip(rng: Rng): number;
}

const digitsOf = (n: number): number[] => String(n).split('').reverse().map(Number);

/** A slip in one decimal place at or above `from`, keeping the value positive. */
function placeSlip(value: number, from: number, rng: Rng): number {
  const len = String(value).length;
  const delta = 10 ** rng.int(Math.min(from, len - 1), len - 1);
  return value - delta > 0 && rng.bernoulli(0.5) ? value - delta : value + delta;
}

export function addSteps(a: number, b: number): TraceStep[] {
  const da = digitsOf(a);
  const db = digitsOf(b);
  const n = Math.max(da.length, db.length);
  const steps: TraceStep[] = [];
  let carry = 0;
  let written = '';
  for (let i = 0; i < n; i++) {
    const expr = `${da[i] ?? 0}+${db[i] ?? 0}${carry ? '+1' : ''}`;
    const last = i === n - 1;
    const before = written;
    const withValue = (s: number): string =>
      last ? `${expr}=${s} w${s}${before}` : `${expr}=${s} w${s % 10}${before}${s >= 10 ? ` c${Math.floor(s / 10)}` : ''}`;
    const value = (da[i] ?? 0) + (db[i] ?? 0) + carry;
    steps.push({ text: withValue(value), expr, value, withValue, slip: (rng) => (value === 0 || (value < 19 && rng.bernoulli(0.5)) ? value + 1 : value - 1) });
    written = last ? `${value}${before}` : `${value % 10}${before}`;
    carry = value >= 10 ? 1 : 0;
  }
  return steps;
}

/** Column subtraction of b from a, a >= b. */
export function subSteps(a: number, b: number): TraceStep[] {
  const da = digitsOf(a);
  const db = digitsOf(b);
  const steps: TraceStep[] = [];
  let borrow = 0;
  let written = '';
  for (let i = 0; i < da.length; i++) {
    const x = da[i]!;
    const y = db[i] ?? 0;
    const need = x - y - borrow < 0;
    const value = x - y - borrow + (need ? 10 : 0);
    const expr = `${need ? '1' : ''}${x}-${y}${borrow ? '-1' : ''}`;
    const before = written;
    const withValue = (d: number): string => `${expr}=${d} w${d}${before}${need ? ' b1' : ''}`;
    steps.push({ text: withValue(value), expr, value, withValue, slip: (rng) => (value === 0 || (value < 9 && rng.bernoulli(0.5)) ? value + 1 : value - 1) });
    written = `${value}${before}`;
    borrow = need ? 1 : 0;
  }
  return steps;
}

export function mulSteps(a: number, b: number): TraceStep[] {
  const steps: TraceStep[] = [];
  const partials: number[] = [];
  digitsOf(b).forEach((d, k) => {
    if (d === 0) return;
    const expr = `${a}*${d}${'0'.repeat(k)}`;
    const value = a * d * 10 ** k;
    partials.push(value);
    steps.push({ text: `${expr}=${value}`, expr, value, withValue: (v) => `${expr}=${v}`, slip: (rng) => placeSlip(value, k, rng) });
  });
  let acc = partials[0]!;
  for (const p of partials.slice(1)) {
    const expr = `${acc}+${p}`;
    const value = acc + p;
    steps.push({ text: `${expr}=${value}`, expr, value, withValue: (v) => `${expr}=${v}`, slip: (rng) => placeSlip(value, 0, rng) });
    acc = value;
  }
  return steps;
}

/** The lines a correct trace is made of: plan, optional swap, column steps, check, answer. */
export interface ArithPlan {
  plan: string;
  swap: string | null;
  steps: TraceStep[];
  check: string;
  answer: string;
}

export function arithPlan({ a, b, op }: ArithProblem): ArithPlan {
  const result = compute({ a, b, op });
  const answer = `Answer: ${result}`;
  if (op === '+') return { plan: 'Plan: add columns right to left', swap: null, steps: addSteps(a, b), check: `Check: ${result}-${b}=${a} ok`, answer };
  if (op === '-') {
    const [hi, lo] = a >= b ? [a, b] : [b, a];
    return { plan: 'Plan: subtract columns right to left', swap: a < b ? `Swap: ${b}-${a}, negate` : null, steps: subSteps(hi, lo), check: `Check: ${hi - lo}+${lo}=${hi} ok`, answer };
  }
  return { plan: 'Plan: multiply by each digit, then add', swap: null, steps: mulSteps(a, b), check: `Check: ${result}/${b}=${a} ok`, answer };
}

/** Writes the reasoning trace (the solution text after the prompt). */
export function arithTrace(problem: Problem, rng: Rng, behaviours: Behaviours): string {
  const lines: string[] = [];
  const plan = arithPlan(readProblem(problem));
  if (rng.bernoulli(behaviours.plan)) lines.push(plan.plan);
  if (plan.swap) lines.push(plan.swap);
  const { steps, check } = plan;
  const mistakeAt = rng.bernoulli(behaviours.correct) ? rng.int(0, steps.length - 1) : -1;
  steps.forEach((s, i) => {
    if (i === mistakeAt) {
      const wrong = s.slip(rng);
      lines.push(s.withValue(wrong), `Check: ${s.expr} is ${s.value}, not ${wrong}. Correcting.`);
    }
    lines.push(s.text);
  });
  if (rng.bernoulli(behaviours.check)) lines.push(check);
  lines.push(plan.answer);
  return lines.join('\n');
}

/** The arithmetic task with a config (defaults: 2-4 digits, + - *, multipliers of at most 2 digits). */
export function arithTask(options: Partial<ArithConfig> | Record<string, unknown> = {}): BuiltinTask & { config: ArithConfig } {
  const config = resolveArithConfig(options);
  const { minDigits, maxDigits, ops, maxMultiplierDigits } = config;
  const generate = (rng: Rng) => {
    const op = rng.choice(ops);
    const a = operand(rng, minDigits, maxDigits);
    const b = op === '*' ? operand(rng, Math.min(minDigits, maxMultiplierDigits), maxMultiplierDigits) : operand(rng, minDigits, maxDigits);
    // + and * commute: both orders share one canonical text, so they land in the same split.
    const canonical = op === '-' ? `${a}-${b}` : `${Math.min(a, b)}${op}${Math.max(a, b)}`;
    const prompt = `${a}${op}${b}`;
    return { canonical, problem: { id: `arith-${prompt}`, prompt, answer: String(compute({ a, b, op })), meta: { a, b, op } } };
  };
  return {
    name: 'arith',
    config,
    stepDelimiter: '\n',
    alphabet: arithAlphabet,
    defaultBehaviours: defaultArithBehaviours,
    problems: (split: Split, count: number, seed: number) => collectProblems('arith', split, count, seed, generate),
    formatPrompt: (problem) => `Q: ${problem.prompt}\n`,
    verify: (problem, solution) => verifyIntegerAnswer(problem.answer, solution),
    checkSteps: (problem, steps) => checkArithSteps(readProblem(problem), steps),
    trace: arithTrace,
  };
}
