import { normalize, stringKey } from './normalize.js';
import { equationsEqual, scalarsEqual } from './scalar.js';
import { isSimpleLhs, parseShape, type Shape } from './structure.js';

/**
 * Math equivalence of a gold answer and a predicted one (both already extracted): normalize
 * both, parse their shapes, compare shape by shape. Never throws; anything it cannot
 * understand is equal only when the normalized strings are.
 */
export function isEquivalent(gold: string, pred: string): boolean {
  if (typeof gold !== 'string' || typeof pred !== 'string') return false;
  try {
    const g = normalize(gold);
    const p = normalize(pred);
    if (g.text === '' || p.text === '') return false;
    if (stringKey(g.text) === stringKey(p.text)) return true;
    return shapesEqual(parseShape(g.text), parseShape(p.text), g.percent || p.percent);
  } catch {
    return false;
  }
}

function shapesEqual(a: Shape, b: Shape, percent: boolean): boolean {
  if (a.kind === 'equation' || b.kind === 'equation') return equationSides(a, b, percent);
  if (a.kind === 'scalar' && b.kind === 'scalar') return scalarsEqual(a.text, b.text, percent);
  if (a.kind === 'seq' && b.kind === 'seq') {
    return a.open === b.open && a.close === b.close && ordered(a.items, b.items, percent);
  }
  if (a.kind === 'set' && b.kind === 'set') return unordered(a.items, b.items, percent);
  if (a.kind === 'matrix' && b.kind === 'matrix') {
    return a.rows.length === b.rows.length && a.rows.every((row, r) => ordered(row, b.rows[r]!, percent));
  }
  // A point written without its parentheses ("3, \frac{\pi}{2}") keeps its order; a bare
  // list of solutions written as a tuple is still a list of solutions.
  if (isTuple(a) && b.kind === 'set' && b.bare) return ordered(a.items, b.items, percent);
  if (a.kind === 'set' && a.bare && isTuple(b)) return unordered(a.items, b.items, percent);
  // A column (or row) vector and a tuple name the same components.
  const av = vector(a);
  const bv = vector(b);
  if (av && bv && (a.kind === 'matrix') !== (b.kind === 'matrix')) return ordered(av, bv, percent);
  // `\{5\}` for 5: a one-element set is its element.
  if (a.kind === 'set' && a.items.length === 1) return shapesEqual(a.items[0]!, b, percent);
  if (b.kind === 'set' && b.items.length === 1) return shapesEqual(a, b.items[0]!, percent);
  return false;
}

/**
 * `x = 5` states the value 5: when one side is such an equation it is compared by its right
 * side. Two general equations are equal when they are the same relation.
 */
function equationSides(a: Shape, b: Shape, percent: boolean): boolean {
  if (a.kind === 'equation' && b.kind === 'equation') {
    if (isSimpleLhs(a.lhs) && isSimpleLhs(b.lhs)) {
      return stringKey(a.lhs) === stringKey(b.lhs) && shapesEqual(parseShape(a.rhs), parseShape(b.rhs), percent);
    }
    return equationsEqual(a, b);
  }
  if (a.kind === 'equation') return isSimpleLhs(a.lhs) && shapesEqual(parseShape(a.rhs), b, percent);
  if (b.kind === 'equation') return isSimpleLhs(b.lhs) && shapesEqual(a, parseShape(b.rhs), percent);
  return false;
}

function ordered(a: Shape[], b: Shape[], percent: boolean): boolean {
  return a.length === b.length && a.every((x, k) => shapesEqual(x, b[k]!, percent));
}

/** One-to-one matching, greedy: equality is (numerically) transitive, so greedy suffices. */
function unordered(a: Shape[], b: Shape[], percent: boolean): boolean {
  if (a.length !== b.length) return false;
  const used = new Array<boolean>(b.length).fill(false);
  return a.every((x) => {
    const k = b.findIndex((y, j) => !used[j] && shapesEqual(x, y, percent));
    if (k < 0) return false;
    used[k] = true;
    return true;
  });
}

function isTuple(s: Shape): s is Extract<Shape, { kind: 'seq' }> {
  return s.kind === 'seq' && s.open === '(' && s.close === ')';
}

function vector(s: Shape): Shape[] | null {
  if (isTuple(s)) return s.items;
  if (s.kind !== 'matrix') return null;
  if (s.rows.length === 1) return s.rows[0]!;
  return s.rows.every((r) => r.length === 1) ? s.rows.map((r) => r[0]!) : null;
}
