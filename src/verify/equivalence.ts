import { defaultVerifyConfig, resolveConfig, type VerifyConfig } from './config.js';
import { Deadline } from './deadline.js';
import { normalize, stringKey, type Normalized } from './normalize.js';
import { relationAsInterval, relationsEqual, simpleRelations } from './relation.js';
import { loadMathjs, scalarsEqual, type NumericContext } from './scalar.js';
import { isSymbolic, parseShape, type Shape } from './structure.js';

/**
 * Math equivalence of a gold answer and a predicted one (both already extracted). Both are
 * normalized and parsed to structures (structure.ts), and the structures are compared part
 * by part. Never throws: anything it cannot understand is equal only when the normalized
 * strings are. Not symmetric, like Math-Verify: the gold decides whether `x = 5` is a value
 * or an equation, and whether a relation may stand for a set.
 */
export function isEquivalent(gold: string, pred: string, options?: Partial<VerifyConfig>): boolean {
  if (typeof gold !== 'string' || typeof pred !== 'string') return false;
  const config = resolveConfig(options);
  try {
    return answersEqual(gold, pred, config, comparisonDeadline(config));
  } catch {
    return false;
  }
}

/** A comparison's deadline, started once mathjs is loaded: loading it is not the comparison's time. */
export function comparisonDeadline(config: VerifyConfig): Deadline {
  loadMathjs();
  return new Deadline(config.timeoutMs);
}

/** The comparison itself; throws TimeoutError when the deadline passes. */
export function answersEqual(gold: string, pred: string, config: VerifyConfig = defaultVerifyConfig, deadline = comparisonDeadline(config)): boolean {
  // Answers longer than this are compared as strings: no real answer is that long, and the
  // normalization and parsing below must stay cheap.
  if (gold.length > MAX_ANSWER_CHARS || pred.length > MAX_ANSWER_CHARS) return stringKey(gold) === stringKey(pred);
  const g = normalize(gold, config.units);
  const p = normalize(pred, config.units);
  if (g.text === '' || p.text === '') return false;
  const ctx = context(g, p, config, deadline);
  if (stringKey(g.text) === stringKey(p.text) && (g.percent === p.percent || config.percent !== 'value')) return true;
  return new Comparer(config, ctx).equal(parseShape(g.text), parseShape(p.text));
}

function context(g: Normalized, p: Normalized, config: VerifyConfig, deadline: Deadline): NumericContext {
  const ignore = config.percent === 'ignore';
  return {
    percent: config.percent,
    goldPercent: !ignore && g.percent,
    predPercent: !ignore && p.percent,
    floatRounding: config.floatRounding,
    relativeTolerance: config.relativeTolerance,
    deadline,
  };
}

const MAX_ANSWER_CHARS = 5000;

class Comparer {
  constructor(
    private readonly config: VerifyConfig,
    private readonly ctx: NumericContext,
  ) {}

  /** Whether the predicted structure `b` states the gold structure `a`. */
  equal(a: Shape, b: Shape): boolean {
    this.ctx.deadline.check();
    if (a.kind === 'equation' || b.kind === 'equation') return this.equations(a, b);
    if (a.kind === 'relation' || b.kind === 'relation') return this.relations(a, b);
    if (a.kind === 'scalar' && b.kind === 'scalar') return scalarsEqual(a.text, b.text, this.ctx);
    if (a.kind === 'ratio' && b.kind === 'ratio') return this.ratios(a.parts, b.parts);
    if (a.kind === 'seq' && b.kind === 'seq') {
      return a.open === b.open && a.close === b.close && this.ordered(a.items, b.items);
    }
    if (a.kind === 'set' && b.kind === 'set') return this.unordered(a.items, b.items);
    if (a.kind === 'matrix' && b.kind === 'matrix') {
      return a.rows.length === b.rows.length && a.rows.every((row, r) => this.ordered(row, b.rows[r]!));
    }
    // A point written without its parentheses ("3, \frac{\pi}{2}") keeps its order; a list
    // of solutions written as a tuple is still a list of solutions.
    if (isTuple(a) && b.kind === 'set' && !b.items.some(isTuple)) return this.ordered(a.items, b.items);
    if (a.kind === 'set' && a.bare && isTuple(b)) return this.unordered(a.items, b.items);
    // A column (or row) vector and a tuple name the same components.
    const av = vector(a);
    const bv = vector(b);
    if (av && bv && (a.kind === 'matrix') !== (b.kind === 'matrix')) return this.ordered(av, bv);
    // `\{5\}` for 5: a one-element set is its element.
    if (a.kind === 'set' && a.items.length === 1) return this.equal(a.items[0]!, b);
    if (b.kind === 'set' && b.items.length === 1) return this.equal(a, b.items[0]!);
    // "\boxed{15\frac{39}{40}} or \boxed{\frac{639}{40}}": one value written several ways.
    if (b.kind === 'set' && a.kind !== 'set' && b.items.length <= 4) return b.items.every((x) => this.equal(a, x));
    return false;
  }

  /**
   * Equations and chains `a = b = c`. Two equations whose left sides are names compare by
   * name and value (`x = 5` ≠ `y = 5`); otherwise as relations (terms moved, sides scaled).
   * One equation against a value: the prediction's last side is its value ("x = 5+5+1 = 11");
   * the gold's only when its left side is names (`(p,q) = (3,2)`, `|AB| = 1`), never for
   * `2x + z = 1`.
   */
  private equations(a: Shape, b: Shape): boolean {
    const valueOf = (e: { sides: string[] }): Shape => parseShape(e.sides.at(-1)!);
    if (a.kind === 'equation' && b.kind === 'equation') {
      const [al, ar, bl, br] = [a.sides[0]!, a.sides.at(-1)!, b.sides[0]!, b.sides.at(-1)!];
      if (isSymbolic(al) && isSymbolic(bl) && stringKey(al) === stringKey(bl) && this.equal(parseShape(ar), parseShape(br))) return true;
      return relationsEqual([{ lhs: al, rhs: ar, op: '=' }], [{ lhs: bl, rhs: br, op: '=' }], this.ctx);
    }
    if (!this.config.equationMatchesValue) return false;
    if (b.kind === 'equation') return this.equal(a, valueOf(b));
    if (a.kind === 'equation' && isSymbolic(a.sides[0]!)) return this.equal(valueOf(a), b);
    return false;
  }

  /**
   * Relations (`x \geq 5`, `1 < x \leq 3`): against each other in either direction and with
   * terms moved; a gold relation against a predicted interval or set as the set it defines
   * (`0 < f(x) < 1` = `(0,1)`); a predicted relation against a gold interval only with
   * `allowSetRelation`.
   */
  private relations(a: Shape, b: Shape): boolean {
    if (a.kind === 'relation' && b.kind === 'relation') {
      return relationsEqual(simpleRelations(a.sides, a.ops), simpleRelations(b.sides, b.ops), this.ctx);
    }
    if (a.kind === 'relation' && (b.kind === 'seq' || b.kind === 'set')) {
      const interval = relationAsInterval(a.sides, a.ops);
      return interval !== null && this.equal(interval, b);
    }
    if (b.kind === 'relation' && (a.kind === 'seq' || a.kind === 'set') && this.config.allowSetRelation) {
      const interval = relationAsInterval(b.sides, b.ops);
      return interval !== null && this.equal(a, interval);
    }
    return false;
  }

  /** `7:32` = `7:32`, and = `14:64` (the same ratio); `12:00` ≠ `1:00`. */
  private ratios(a: string[], b: string[]): boolean {
    if (a.length !== b.length) return false;
    if (a.every((x, k) => scalarsEqual(x, b[k]!, this.ctx))) return true;
    if (a.length !== 2) return false;
    const q = (p: string[]): string => `\\frac{${p[0]}}{${p[1]}}`;
    return !/^0+$/.test(a[1]!.trim()) && !/^0+$/.test(b[1]!.trim()) && scalarsEqual(q(a), q(b), this.ctx);
  }

  private distinct(xs: Shape[]): Shape[] {
    if (xs.length < 2 || xs.length > 200) return xs;
    const out: Shape[] = [];
    for (const x of xs) if (!out.some((y) => this.equal(y, x))) out.push(x);
    return out;
  }

  private ordered(a: Shape[], b: Shape[]): boolean {
    return a.length === b.length && a.every((x, k) => this.equal(x, b[k]!));
  }

  /**
   * One-to-one matching, greedy: equality is (numerically) transitive, so greedy suffices.
   * Repeated elements count once, as in a set (`(3,17),(3,17)` is one pair).
   */
  private unordered(a0: Shape[], b0: Shape[]): boolean {
    const a = this.distinct(a0);
    const b = this.distinct(b0);
    if (a.length !== b.length) return false;
    const used = new Array<boolean>(b.length).fill(false);
    return a.every((x) => {
      const k = b.findIndex((y, j) => !used[j] && this.equal(x, y));
      if (k < 0) return false;
      used[k] = true;
      return true;
    });
  }
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
