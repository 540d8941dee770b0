import { createRequire } from 'node:module';
import type { EvalFunction } from 'mathjs';
import { Rng } from '../core/rng.js';
import type { Deadline } from './deadline.js';
import { latexToMathjs, NotMath, type MathExpr } from './latex.js';
import { stringKey } from './normalize.js';

/**
 * mathjs, loaded when the first expression is evaluated. Importing it took 1.4 s and left about
 * 30 MB of live heap (measured on the 2-vCPU VM), which every process that imports the verifier
 * but never evaluates an expression (arith, Countdown, the loop and the demo reach it through the
 * task registry) would otherwise carry, and a full GC marks it again each time.
 */
let mathjs: typeof import('mathjs') | undefined;
/** Loads mathjs now, if it is not loaded yet: the comparisons call it before they start their deadline, so that the load does not count against it. */
export function loadMathjs(): typeof import('mathjs') {
  return (mathjs ??= createRequire(import.meta.url)('mathjs') as typeof import('mathjs'));
}

/** Below this, a difference is floating-point noise (`\sin(\pi)` against 0). */
const ABS_TOL = 1e-12;
/** Points at which expressions with variables are compared, and how many must be defined. */
const SAMPLE_POINTS = 6;
const MIN_VALID_POINTS = 3;

export interface Value {
  re: number;
  im: number;
}

/** How two scalars are compared: the numeric options of VerifyConfig and the percent signs seen. */
export interface NumericContext {
  percent: 'either' | 'value' | 'ignore';
  goldPercent: boolean;
  predPercent: boolean;
  floatRounding: number;
  relativeTolerance: number;
  deadline: Deadline;
}

/**
 * Whether two normalized scalars are equal: as strings, as numerals in a base, as numbers,
 * or as mathjs expressions evaluated numerically (at seeded sample points when they have
 * variables, so `x+1` = `1+x` and `2\sqrt{2}` = `\sqrt{8}`). mathjs gives up on what
 * latex.ts cannot convert (integrals, sums with symbolic bounds, limits, words): those are
 * equal only as strings.
 */
export function scalarsEqual(gold: string, pred: string, ctx: NumericContext): boolean {
  if (stringKey(gold) === stringKey(pred) && ctx.goldPercent === ctx.predPercent) return true;
  const based = baseNumbersEqual(gold, pred);
  if (based !== null) return based;
  const ge = convert(gold);
  const pe = convert(pred);
  if (ge === null || pe === null) return stringKey(gold) === stringKey(pred);
  const vars = [...new Set([...ge.vars, ...pe.vars])];
  const decimal = isDecimal(gold) || isDecimal(pred);
  if (vars.length === 0) {
    const a = evaluate(ge.expr, {});
    const b = evaluate(pe.expr, {});
    if (a === null || b === null) return false;
    // Infinities are equal only when both are written as such (`+\infty`, `\infty`), not when both overflow.
    if (gold.includes('\\infty') && pred.includes('\\infty')) return a.re === b.re && a.im === b.im;
    return goldValues(a, ctx).some((g) => close(g, predValue(b, ctx), ctx, decimal));
  }
  if (ctx.goldPercent !== ctx.predPercent) return false;
  return agreeAtPoints(ge.expr, pe.expr, vars, ctx.deadline, (a, b) => close(a, b, ctx, false));
}

/** The gold's value, and under the `either` percent rule its x/100 and x·100 as well (Qwen2.5-Math). */
function goldValues(v: Value, ctx: NumericContext): Value[] {
  if (ctx.percent === 'value') return [ctx.goldPercent ? scale(v, 0.01) : v];
  if (ctx.percent === 'either' && (ctx.goldPercent || ctx.predPercent)) return [v, scale(v, 0.01), scale(v, 100)];
  return [v];
}

function predValue(v: Value, ctx: NumericContext): Value {
  return ctx.percent === 'value' && ctx.predPercent ? scale(v, 0.01) : v;
}

function scale(v: Value, k: number): Value {
  return { re: v.re * k, im: v.im * k };
}

/** A plain decimal literal such as `0.333` or `16386.20` (Math-Verify rounds when one side is such a Float). */
function isDecimal(s: string): boolean {
  return /^[+-]?(?:\d+\.\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(s.trim());
}

/**
 * Equality of two values: within the relative tolerance, or, when one side was written as a
 * decimal, equal after rounding both to `floatRounding` places. Infinite or undefined values
 * are never equal (10^{10^{10}} and 10^{10^{11}} both overflow; that says nothing).
 */
export function close(a: Value, b: Value, ctx: Pick<NumericContext, 'floatRounding' | 'relativeTolerance'>, decimal: boolean): boolean {
  if (![a.re, a.im, b.re, b.im].every(Number.isFinite)) return false;
  const diff = Math.hypot(a.re - b.re, a.im - b.im);
  if (diff <= ABS_TOL || diff <= ctx.relativeTolerance * Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im))) return true;
  if (!decimal) return false;
  // Rounding alone would make 0.0000672 = 0.0000673; a relative bound (Qwen2.5-Math's 1e-4 at
  // the default rounding, looser when fewer places are asked for) keeps them apart.
  if (diff > Math.max(1e-4, 10 ** (1 - ctx.floatRounding)) * Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im))) return false;
  const k = 10 ** ctx.floatRounding;
  const round = (x: number): number => Math.round(x * k + Math.sign(x) * 1e-9);
  return round(a.re) === round(b.re) && round(a.im) === round(b.im);
}

/** `52_8` is a numeral in base 8: compared by digits and base, never evaluated. */
function baseNumbersEqual(gold: string, pred: string): boolean | null {
  const re = /^([0-9A-Fa-f]*\d[0-9A-Fa-f]*)_\{?(\d+)\}?$/;
  const g = re.exec(gold.replace(/\s+/g, ''));
  const p = re.exec(pred.replace(/\s+/g, ''));
  if (g === null && p === null) return null;
  if (g !== null && p !== null) return g[1]!.toLowerCase() === p[1]!.toLowerCase() && Number(g[2]) === Number(p[2]);
  // A numeral without its base subscript ("52" for 52_8) is the same answer written plainly.
  return g !== null ? stringKey(g[1]!) === stringKey(pred) : stringKey(p![1]!) === stringKey(gold);
}

/**
 * Evaluates both expressions at seeded points; every defined point must agree, and enough
 * must be defined. Values in [0.3, 2.7): away from 0 and 1, where distinct expressions often coincide.
 */
export function agreeAtPoints(a: string, b: string, vars: string[], deadline: Deadline, same: (x: Value, y: Value) => boolean): boolean {
  let valid = 0;
  for (let k = 0; k < SAMPLE_POINTS; k++) {
    deadline.check();
    const scope: Record<string, number> = {};
    for (const v of vars) scope[v] = 0.3 + 2.4 * new Rng(`verify/${k}/${v}`).next();
    const x = evaluate(a, scope);
    const y = evaluate(b, scope);
    if (x === null || y === null || ![x.re, x.im, y.re, y.im].every(Number.isFinite)) continue;
    if (!same(x, y)) return false;
    valid++;
  }
  return valid >= MIN_VALID_POINTS;
}

/** Compiled expressions, kept because one gold is compared with many predictions. */
const compiled = new Map<string, EvalFunction | null>();
const MAX_CACHED = 5000;

/**
 * `\binom{n}{k}` with a bound on its cost: mathjs multiplies k factors, so `\binom{10^9}{5\cdot10^8}`
 * would run for seconds. Past 1000 factors the value is undefined for our purposes.
 */
function binom(n: unknown, k: unknown): number {
  if (typeof n !== 'number' || typeof k !== 'number' || !Number.isInteger(n) || !Number.isInteger(k) || k < 0 || n < 0) return NaN;
  if (k > n) return 0;
  const m = Math.min(k, n - k);
  if (m > 1000) return NaN;
  let r = 1;
  for (let i = 1; i <= m; i++) r = (r * (n - m + i)) / i;
  return Math.round(r);
}

/** `n!` likewise: beyond 170! a double overflows anyway. */
function fact(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) return NaN;
  if (n > 170) return Infinity;
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

export function evaluate(expr: string, scope: Record<string, number>): Value | null {
  let fn = compiled.get(expr);
  if (fn === undefined) {
    try {
      fn = loadMathjs().parse(expr).compile();
    } catch {
      fn = null;
    }
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(expr, fn);
  }
  if (fn === null) return null;
  try {
    const r: unknown = fn.evaluate({ ...scope, binom, fact });
    if (typeof r === 'number') return { re: r, im: 0 };
    if (loadMathjs().isComplex(r)) return { re: r.re, im: r.im };
    return null;
  } catch {
    return null;
  }
}

export function convert(s: string): MathExpr | null {
  try {
    return latexToMathjs(s);
  } catch (e) {
    if (e instanceof NotMath || e instanceof RangeError) return null;
    throw e;
  }
}
