import { agreeAtPoints, close, convert, evaluate, type NumericContext } from './scalar.js';
import { isSymbolic, type RelOp, type Shape } from './structure.js';

/** One relation `lhs op rhs` with `op` one of `<`, `<=`, `=`, `\neq` (`>` and `>=` are turned around). */
interface Simple {
  lhs: string;
  rhs: string;
  op: '<' | '<=' | '=' | '\\neq';
}

/** The simple relations of a chain `a < b <= c`, each written with `<`/`<=` (sides swapped for `>`/`>=`). */
export function simpleRelations(sides: string[], ops: RelOp[]): Simple[] {
  return ops.map((op, k) => {
    const a = sides[k]!;
    const b = sides[k + 1]!;
    if (op === '>') return { lhs: b, rhs: a, op: '<' };
    if (op === '>=') return { lhs: b, rhs: a, op: '<=' };
    return { lhs: a, rhs: b, op };
  });
}

/**
 * Whether two chains state the same relations: each simple relation of one is matched by one
 * of the other (order aside, so `1 < x < 2` = `x < 2 \text{ and } x > 1`).
 */
export function relationsEqual(a: Simple[], b: Simple[], ctx: NumericContext): boolean {
  if (a.length !== b.length) return false;
  const used = new Array<boolean>(b.length).fill(false);
  return a.every((x) => {
    const k = b.findIndex((y, j) => !used[j] && simpleEqual(x, y, ctx));
    if (k < 0) return false;
    used[k] = true;
    return true;
  });
}

/**
 * Two simple relations are the same when they have the same operator and lhs − rhs of one
 * is a constant multiple of the other's: any nonzero multiple for `=` and `\neq` (terms
 * moved, both sides scaled: `2x+4y-3=0` = `y = -x/2 + 3/4`), a positive one for `<` and
 * `<=` (`-x > -1` = `x < 1`, while `x >= 5` ≠ `x <= 5`).
 */
function simpleEqual(a: Simple, b: Simple, ctx: NumericContext): boolean {
  if (a.op !== b.op) return false;
  const sides = [a.lhs, a.rhs, b.lhs, b.rhs].map(convert);
  if (sides.some((x) => x === null)) {
    const key = (s: Simple): string => `${s.lhs}${s.op}${s.rhs}`.replace(/\s+/g, '');
    return key(a) === key(b);
  }
  const [al, ar, bl, br] = sides.map((x) => x!.expr);
  const da = `(${al})-(${ar})`;
  const db = `(${bl})-(${br})`;
  const vars = [...new Set(sides.flatMap((x) => x!.vars))];
  const inequality = a.op === '<' || a.op === '<=';
  if (vars.length === 0) {
    // Relations between constants: compare the differences themselves.
    const x = evaluate(da, {});
    const y = evaluate(db, {});
    return x !== null && y !== null && close(x, y, ctx, false);
  }
  let ratio: number | null = null;
  return agreeAtPoints(da, db, vars, ctx.deadline, (x, y) => {
    if (x.im !== 0 || y.im !== 0) return false;
    if (Math.abs(y.re) <= 1e-12) return Math.abs(x.re) <= 1e-12;
    ratio ??= x.re / y.re;
    if (ratio === 0 || (inequality && ratio < 0)) return false;
    return close({ re: x.re, im: 0 }, { re: ratio * y.re, im: 0 }, ctx, false);
  });
}

/**
 * A relation on one variable as an interval: `a < x <= b` is `(a, b]`, `x >= 5` is `[5, \infty)`,
 * `0 < f(x) < 1` is `(0, 1)`. Null when the relation is not of that form.
 */
export function relationAsInterval(sides: string[], ops: RelOp[]): Shape | null {
  const rel = simpleRelations(sides, ops);
  if (rel.some((r) => r.op === '=' || r.op === '\\neq')) return null;
  const scalar = (text: string): Shape => ({ kind: 'scalar', text });
  if (rel.length === 1) {
    const r = rel[0]!;
    if (isSymbolic(r.lhs) && !isSymbolic(r.rhs)) return { kind: 'seq', open: '(', close: r.op === '<' ? ')' : ']', items: [scalar('-\\infty'), scalar(r.rhs)] };
    if (isSymbolic(r.rhs) && !isSymbolic(r.lhs)) return { kind: 'seq', open: r.op === '<' ? '(' : '[', close: ')', items: [scalar(r.lhs), scalar('\\infty')] };
    return null;
  }
  if (rel.length === 2) {
    // Written a < x < b (after turning `>` around, the middle is the lhs of one and the rhs of the other).
    const [p, q] = rel as [Simple, Simple];
    const [low, high] = p.rhs === q.lhs ? [p, q] : q.rhs === p.lhs ? [q, p] : [null, null];
    if (low === null || high === null || !isSymbolic(low.rhs) || isSymbolic(low.lhs) || isSymbolic(high.rhs)) return null;
    return { kind: 'seq', open: low.op === '<' ? '(' : '[', close: high.op === '<' ? ')' : ']', items: [scalar(low.lhs), scalar(high.rhs)] };
  }
  return null;
}
