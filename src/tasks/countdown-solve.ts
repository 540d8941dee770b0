/**
 * Countdown arithmetic: the moves, an exact solver (depth-first over pairs, iterative deepening so
 * the first solution found is a shortest one) and the step/expression formats the task writes.
 * Rules: each given number is used at most once, every result is a positive integer (division
 * exact), and a result can be used once it is produced.
 */
import type { Rng } from '../core/rng.js';

export type CountdownOp = '+' | '-' | '*' | '/';

/** One step `a op b = c`. */
export interface CountdownStep {
  a: number;
  op: CountdownOp;
  b: number;
  c: number;
}

/** The value of a op b, or null when it is not a positive integer. */
export function apply(a: number, op: CountdownOp, b: number): number | null {
  const c = op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
  return Number.isInteger(c) && c > 0 ? c : null;
}

export function formatStep(s: CountdownStep, c: number = s.c): string {
  return `${s.a}${s.op}${s.b}=${c}`;
}

/**
 * The useful moves on a multiset: larger operand first, no subtraction to zero, and no *1 or /1
 * (they change nothing and only waste a number).
 */
export function moves(pool: readonly number[]): { i: number; j: number; step: CountdownStep }[] {
  const out: { i: number; j: number; step: CountdownStep }[] = [];
  for (let i = 0; i < pool.length; i++) {
    for (let j = i + 1; j < pool.length; j++) {
      const [a, b] = pool[i]! >= pool[j]! ? [pool[i]!, pool[j]!] : [pool[j]!, pool[i]!];
      const ops: CountdownOp[] = ['+'];
      if (b !== 1) ops.push('*');
      if (a !== b) ops.push('-');
      if (b !== 1 && a % b === 0) ops.push('/');
      for (const op of ops) out.push({ i, j, step: { a, op, b, c: apply(a, op, b)! } });
    }
  }
  return out;
}

/** The multiset after a move: the two operands removed, the result appended. */
export function after(pool: readonly number[], i: number, j: number, c: number): number[] {
  return [...pool.filter((_, k) => k !== i && k !== j), c];
}

/**
 * A shortest solution (steps whose last result is the target; [] when the target is given),
 * or null when there is none. With an rng the moves are tried in random order, so different
 * seeds give different shortest solutions.
 */
export function solveCountdown(numbers: readonly number[], target: number, rng?: Rng): CountdownStep[] | null {
  if (numbers.includes(target)) return [];
  const path: CountdownStep[] = [];
  const dfs = (pool: number[], depth: number): boolean => {
    const ms = moves(pool);
    if (rng) rng.shuffle(ms);
    for (const { i, j, step } of ms) {
      path.push(step);
      if (depth === 1 ? step.c === target : dfs(after(pool, i, j, step.c), depth - 1)) return true;
      path.pop();
    }
    return false;
  };
  for (let depth = 1; depth < numbers.length; depth++) {
    if (dfs([...numbers], depth)) return path;
  }
  return null;
}

const precedence = (op: CountdownOp): number => (op === '+' || op === '-' ? 1 : 2);

/** The steps as one expression over the given numbers, e.g. "(7-3)*(12/2)". */
export function toExpression(numbers: readonly number[], steps: readonly CountdownStep[]): string {
  const pool: { value: number; expr: string; op: CountdownOp | null }[] = numbers.map((v) => ({ value: v, expr: String(v), op: null }));
  const take = (v: number) => {
    const k = pool.findIndex((e) => e.value === v);
    if (k < 0) throw new Error(`toExpression: ${v} is not available`);
    return pool.splice(k, 1)[0]!;
  };
  for (const s of steps) {
    const l = take(s.a);
    const r = take(s.b);
    const wrap = (e: typeof l, right: boolean): string =>
      e.op !== null && (precedence(e.op) < precedence(s.op) || (right && precedence(e.op) === precedence(s.op) && (s.op === '-' || s.op === '/')))
        ? `(${e.expr})`
        : e.expr;
    pool.push({ value: s.c, expr: `${wrap(l, false)}${s.op}${wrap(r, true)}`, op: s.op });
  }
  return pool[pool.length - 1]!.expr;
}
