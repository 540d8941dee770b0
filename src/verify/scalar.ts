import { isComplex, parse, type EvalFunction } from 'mathjs';
import { Rng } from '../core/rng.js';
import { latexToMathjs, NotMath, type MathExpr } from './latex.js';
import { stringKey } from './normalize.js';

/**
 * Relative tolerance for numeric equality. Tight enough that 0.333 ≠ 1/3 and a rounded
 * answer does not pass for an exact one; loose enough for floating-point evaluation of
 * `\frac{\sqrt{3}}{2}` against `\sqrt{3}/2`.
 */
export const REL_TOL = 1e-6;
/** Below this, a difference is floating-point noise (`\sin(\pi)` against 0). */
const ABS_TOL = 1e-12;
/** Points at which expressions with variables are compared, and how many must be defined. */
const SAMPLE_POINTS = 6;
const MIN_VALID_POINTS = 3;

interface Value {
  re: number;
  im: number;
}

/**
 * Whether two normalized scalars are equal: as strings, as numbers (with the percent rule),
 * or as mathjs expressions evaluated numerically (at sample points when they have
 * variables, so `x+1` = `1+x` and `2\sqrt{2}` = `\sqrt{8}`).
 */
export function scalarsEqual(gold: string, pred: string, percent: boolean): boolean {
  if (stringKey(gold) === stringKey(pred)) return true;
  const based = baseNumbersEqual(gold, pred);
  if (based !== null) return based;
  const g = plainNumber(gold);
  const p = plainNumber(pred);
  if (g !== null && p !== null) return withPercent({ re: g, im: 0 }, percent).some((c) => close(c, { re: p, im: 0 }));
  const ge = convert(gold);
  const pe = convert(pred);
  if (ge === null || pe === null) return false;
  const vars = [...new Set([...ge.vars, ...pe.vars])];
  if (vars.length === 0) {
    const a = evaluate(ge.expr, {});
    const b = evaluate(pe.expr, {});
    return a !== null && b !== null && withPercent(a, percent).some((c) => close(c, b));
  }
  return agreeAtPoints(ge.expr, pe.expr, vars, (a, b) => close(a, b));
}

/**
 * Whether two equations are the same relation: their differences lhs − rhs are proportional
 * (so `2x+2y=2` is `x+y=1`, and sides may be swapped), compared at sample points.
 */
export function equationsEqual(a: { lhs: string; rhs: string }, b: { lhs: string; rhs: string }): boolean {
  const sides = [a.lhs, a.rhs, b.lhs, b.rhs].map(convert);
  if (sides.some((x) => x === null)) return false;
  const [al, ar, bl, br] = sides as MathExpr[];
  const da = `(${al!.expr})-(${ar!.expr})`;
  const db = `(${bl!.expr})-(${br!.expr})`;
  const vars = [...new Set(sides.flatMap((x) => x!.vars))];
  let ratio: number | null = null;
  return agreeAtPoints(da, db, vars, (x, y) => {
    if (x.im !== 0 || y.im !== 0) return true;
    if (Math.abs(y.re) <= ABS_TOL) return Math.abs(x.re) <= ABS_TOL;
    ratio ??= x.re / y.re;
    return ratio !== 0 && close({ re: x.re, im: 0 }, { re: ratio * y.re, im: 0 });
  });
}

/** `52_8` is a numeral in base 8: compared by digits and base, never evaluated. */
function baseNumbersEqual(gold: string, pred: string): boolean | null {
  const re = /^([0-9A-Fa-f]*\d[0-9A-Fa-f]*)_(\d+)$/;
  const g = re.exec(gold.replace(/\s+/g, ''));
  const p = re.exec(pred.replace(/\s+/g, ''));
  if (g === null && p === null) return null;
  if (g !== null && p !== null) return g[1]!.toLowerCase() === p[1]!.toLowerCase() && Number(g[2]) === Number(p[2]);
  // A numeral without its base subscript ("52" for 52_8) is the same answer written plainly.
  return g !== null ? stringKey(g[1]!) === stringKey(pred) : stringKey(p![1]!) === stringKey(gold);
}

function plainNumber(s: string): number | null {
  return /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(s.trim()) ? Number(s) : null;
}

/**
 * The values the gold stands for. With a percent sign on either side, x, x/100 and x·100
 * all count (the Qwen2.5-Math grader's rule), so "50%", "50" and "0.5" agree; without
 * one, 50 and 0.5 differ.
 */
function withPercent(v: Value, percent: boolean): Value[] {
  return percent ? [v, { re: v.re / 100, im: v.im / 100 }, { re: v.re * 100, im: v.im * 100 }] : [v];
}

function close(a: Value, b: Value): boolean {
  if (![a.re, a.im, b.re, b.im].every(Number.isFinite)) return a.re === b.re && a.im === b.im;
  const diff = Math.hypot(a.re - b.re, a.im - b.im);
  return diff <= ABS_TOL || diff <= REL_TOL * Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
}

/** Evaluates both expressions at seeded points; every defined point must agree, and enough must be defined. */
function agreeAtPoints(a: string, b: string, vars: string[], same: (x: Value, y: Value) => boolean): boolean {
  let valid = 0;
  for (let k = 0; k < SAMPLE_POINTS; k++) {
    const scope: Record<string, number> = {};
    // Values in [0.3, 2.7): away from 0 and 1, where distinct expressions often coincide.
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
const MAX_CACHED = 2000;

function evaluate(expr: string, scope: Record<string, number>): Value | null {
  let fn = compiled.get(expr);
  if (fn === undefined) {
    try {
      fn = parse(expr).compile();
    } catch {
      fn = null;
    }
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(expr, fn);
  }
  if (fn === null) return null;
  try {
    const r: unknown = fn.evaluate({ ...scope });
    if (typeof r === 'number') return { re: r, im: 0 };
    if (isComplex(r)) return { re: r.re, im: r.im };
    return null;
  } catch {
    return null;
  }
}

function convert(s: string): MathExpr | null {
  try {
    return latexToMathjs(s);
  } catch (e) {
    if (e instanceof NotMath) return null;
    throw e;
  }
}
