import { isEnclosed, splitTopLevel } from './braces.js';

/**
 * The shape of a normalized answer. Shapes decide how parts are compared: a `seq` (tuple
 * or interval) is ordered and its brackets must match, so `(1,2)` ≠ `(2,1)` and
 * `[1,2)` ≠ `[1,2]`; a `set` (`\{...\}`, a bare list "1, -2", a union, `a \pm b`) is
 * unordered.
 */
export type Shape =
  | { kind: 'scalar'; text: string }
  | { kind: 'seq'; open: string; close: string; items: Shape[] }
  | { kind: 'set'; bare: boolean; items: Shape[] }
  | { kind: 'matrix'; rows: Shape[][] }
  | { kind: 'equation'; lhs: string; rhs: string };

const MATRIX = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?([\s\S]*)\\end\{\1\}$/;

/** Parses a normalized answer into its shape; anything unrecognised is a scalar. */
export function parseShape(text: string): Shape {
  const s = text.trim();
  const matrix = MATRIX.exec(s);
  if (matrix) {
    const rows = splitTopLevel(matrix[2]!, '\\\\').map((r) => r.trim()).filter((r) => r !== '');
    return { kind: 'matrix', rows: rows.map((r) => splitTopLevel(r, '&').map(parseShape)) };
  }
  const union = splitTopLevel(s, '\\cup');
  if (union.length > 1) return { kind: 'set', bare: false, items: union.map(parseShape) };
  if (s.startsWith('\\{') && s.endsWith('\\}')) {
    return { kind: 'set', bare: false, items: items(s.slice(2, -2)).flatMap(expandPm).map(parseShape) };
  }
  if (isEnclosed(s) && s[0] !== '{') {
    const inner = items(s.slice(1, -1));
    if (inner.length === 1 && s[0] === '(' && s.endsWith(')')) return parseShape(s.slice(1, -1));
    return { kind: 'seq', open: s[0]!, close: s[s.length - 1]!, items: inner.map(parseShape) };
  }
  const list = items(s);
  if (list.length > 1) return { kind: 'set', bare: true, items: list.flatMap(expandPm).map(parseShape) };
  const sides = splitTopLevel(s, '=');
  if (sides.length === 2 && sides[0]!.trim() !== '' && sides[1]!.trim() !== '') {
    return { kind: 'equation', lhs: sides[0]!.trim(), rhs: sides[1]!.trim() };
  }
  const pm = expandPm(s);
  return pm.length > 1 ? { kind: 'set', bare: true, items: pm.map(parseShape) } : { kind: 'scalar', text: s };
}

function items(s: string): string[] {
  return splitTopLevel(s, ',').map((x) => x.trim());
}

/** `1 \pm \sqrt{19}` stands for two answers; a `\pm` inside brackets is left to the scalar. */
function expandPm(s: string): string[] {
  const parts = splitTopLevel(s, '\\pm');
  if (parts.length !== 2) return [s];
  const [a, b] = [parts[0]!.trim(), parts[1]!.trim()];
  return [`${a}+${b}`, `${a}-${b}`];
}

/**
 * Whether an equation's left side is just a name (`x = 5`, `y = 2x+3`): then it states a
 * value, and the right side is the answer (the Qwen2.5-Math grader's "simple equation").
 */
export function isSimpleLhs(lhs: string): boolean {
  return /^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?(?:\([a-z]\))?$/.test(lhs.trim());
}
