import { isEnclosed, splitTopLevel } from './braces.js';

/** A relation operator, written one way (`\le` and `≤` are `<=`). */
export type RelOp = '<' | '<=' | '>' | '>=' | '=' | '\\neq';

/**
 * The structure of a normalized answer; structures decide how parts are compared.
 * - `scalar`: one number or expression (fractions, mixed numbers, radicals, symbols);
 * - `seq`: a tuple or interval, ordered, its brackets significant: `(1,2)` ≠ `(2,1)`, `[1,2)` ≠ `[1,2]`;
 * - `set`: unordered (`\{…\}`, a bare list "1, -2", a union, the two values of `a \pm b`);
 * - `matrix`: rows of cells, any environment (`pmatrix`, `bmatrix`, `array`);
 * - `equation`: `a = b (= c …)`, a chain of equal sides;
 * - `relation`: sides joined by `<`, `<=`, `>`, `>=`, `\neq` (and `=`), a chain such as `1 < x <= 3`;
 * - `ratio`: `7:32`.
 */
export type Shape =
  | { kind: 'scalar'; text: string }
  | { kind: 'seq'; open: string; close: string; items: Shape[] }
  | { kind: 'set'; bare: boolean; items: Shape[] }
  | { kind: 'matrix'; rows: Shape[][] }
  | { kind: 'equation'; sides: string[] }
  | { kind: 'relation'; sides: string[]; ops: RelOp[] }
  | { kind: 'ratio'; parts: string[] };

const MATRIX = /^\\begin\{([pbvBV]?matrix|smallmatrix|array)\}(?:\{[^}]*\})?([\s\S]*)\\end\{\1\}$/;
/** Nesting deeper than this is compared as a string: no answer needs it, and recursion must stay bounded. */
const MAX_DEPTH = 12;

/** Parses a normalized answer into its structure; anything unrecognised is a scalar. */
export function parseShape(text: string, depth = 0): Shape {
  const s = text.trim();
  if (depth > MAX_DEPTH) return { kind: 'scalar', text: s };
  const next = (t: string): Shape => parseShape(t, depth + 1);
  const wrapped = /^[[(]\s*(\\begin\{[\s\S]*\\end\{[a-zA-Z]*\})\s*[\])]$/.exec(s);
  const matrix = MATRIX.exec(wrapped ? wrapped[1]! : s);
  if (matrix) {
    const rows = splitTopLevel(matrix[2]!, '\\\\').map((r) => r.trim()).filter((r) => r !== '' && r !== '\\hline');
    return { kind: 'matrix', rows: rows.map((r) => splitTopLevel(r, '&').map((c) => next(c))) };
  }
  const groups = splitTopLevel(s, ';').map((g) => g.trim()).filter((g) => g !== '');
  if (groups.length > 1) {
    // "p=5,q=2; p=7,q=2": each group assigns a tuple of values.
    const tuples = groups.map((g) => items(g).map((x) => splitRelation(x)));
    if (tuples.every((t) => t.every((r) => r.ops.length === 1 && r.ops[0] === '=' && isSymbolic(r.sides[0]!)))) {
      return {
        kind: 'set',
        bare: true,
        items: tuples.map((t): Shape => (t.length === 1 ? next(t[0]!.sides[1]!) : { kind: 'seq', open: '(', close: ')', items: t.map((r) => next(r.sides[1]!)) })),
      };
    }
    return next(groups.join(','));
  }
  const union = splitTopLevel(s, '\\cup');
  if (union.length > 1) return { kind: 'set', bare: false, items: union.map((u) => next(u)) };
  if (s.startsWith('\\{') && s.endsWith('\\}') && isEnclosedSet(s)) {
    return { kind: 'set', bare: false, items: items(s.slice(2, -2)).filter((x) => x !== '').flatMap(expandPm).map((x) => next(x)) };
  }
  if (s.startsWith('{') && s.endsWith('}') && isEnclosed(s)) {
    const inner = items(s.slice(1, -1));
    // `{1,3}` written without escaped braces is still a set (Math-Verify reads it so).
    if (inner.length > 1) return { kind: 'set', bare: false, items: inner.flatMap(expandPm).map((x) => next(x)) };
    return next(s.slice(1, -1));
  }
  if (isEnclosed(s) && s[0] !== '{') {
    const inner = items(s.slice(1, -1));
    if (inner.length === 1 && s[0] === '(' && s.endsWith(')')) return next(s.slice(1, -1));
    return { kind: 'seq', open: s[0]!, close: s[s.length - 1]!, items: inner.map((x) => next(x)) };
  }
  const list = items(s).filter((x) => x !== '');
  if (list.length > 1) return { kind: 'set', bare: true, items: list.flatMap(expandPm).map((x) => next(x)) };
  const rel = splitRelation(s);
  if (rel.sides.length > 1 && rel.sides.every((x) => x !== '')) {
    return rel.ops.every((o) => o === '=') ? { kind: 'equation', sides: rel.sides } : { kind: 'relation', sides: rel.sides, ops: rel.ops };
  }
  const ratio = splitTopLevel(s, ':').map((x) => x.trim());
  if (ratio.length > 1 && ratio.every((x) => x !== '')) return { kind: 'ratio', parts: ratio };
  const pm = expandPm(s);
  return pm.length > 1 ? { kind: 'set', bare: true, items: pm.map((x) => next(x)) } : { kind: 'scalar', text: s };
}

function items(s: string): string[] {
  return splitTopLevel(s, ',').map((x) => x.trim());
}

/** Whether `\{` at the start closes with the `\}` at the end (not `\{1\} \cup \{2\}`). */
function isEnclosedSet(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.startsWith('\\{', i)) depth++;
    else if (s.startsWith('\\}', i)) {
      depth--;
      if (depth === 0 && i < s.length - 2) return false;
    }
    if (s[i] === '\\') i++;
  }
  return depth === 0;
}

const OPS: RelOp[] = ['<=', '>=', '\\neq', '<', '>', '='];

/** Splits at the relation operators that stand outside every bracket. */
export function splitRelation(s: string): { sides: string[]; ops: RelOp[] } {
  const sides: string[] = [];
  const ops: RelOp[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && !s.startsWith('\\neq', i)) {
      if (s[i + 1] === '{' || s[i + 1] === '}') depth += s[i + 1] === '{' ? 1 : -1;
      i++;
      continue;
    }
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0) {
      const op = OPS.find((o) => s.startsWith(o, i));
      if (op) {
        sides.push(s.slice(start, i).trim());
        ops.push(op);
        start = i + op.length;
        i += op.length - 1;
      }
    }
  }
  sides.push(s.slice(start).trim());
  return { sides, ops };
}

/**
 * `1 \pm \sqrt{19}` stands for two answers, and so does `\frac{-1 \pm \sqrt{13}}{4}`: each
 * `\pm` (at most three) is written once with `+` and once with `-`.
 */
export function expandPm(s: string): string[] {
  const PM = /\\pm(?![a-zA-Z])/;
  if (!PM.test(s)) return [s];
  let out = [s];
  for (let k = 0; k < 3 && PM.test(out[0]!); k++) {
    out = out.flatMap((x) => {
      const at = PM.exec(x)!.index;
      const head = x.slice(0, at);
      const tail = x.slice(at + 3);
      return [`${head}+${tail}`, `${head}-${tail}`];
    });
  }
  return out;
}

/**
 * Whether an expression is made of names only (`x`, `f(x)`, `|AB|`, `(p,q)`, `V_1:V_2`,
 * `\frac{NO}{BO}`): then `expr = value` states a value (Math-Verify's assignment rule), while
 * `2x + z = 1` or `7 = 11a + c` is an equation to be compared as one.
 */
export function isSymbolic(s: string): boolean {
  const t = s.replace(/_\{[^{}]*\}|_\w/g, '').replace(/\\[a-zA-Z]+/g, 'x');
  return /[a-zA-Z]/.test(t) && !/\d/.test(t);
}
