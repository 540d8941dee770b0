/**
 * Brace and bracket scanning for LaTeX answers. Regular expressions cannot match nested
 * braces (`\boxed{\frac{1}{2}}`), so every place that needs a balanced group comes here.
 */

const OPEN = '([{';
const CLOSE = ')]}';

/**
 * Index just past the `{...}` group whose `{` is at `open`, or -1 when it never closes
 * (a truncated generation). Escaped braces `\{ \}` are literal characters, as in TeX.
 */
export function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * One macro argument starting at `i`, by TeX's rule: a braced group, a control sequence,
 * or a single character. This is what makes `\frac12`, `\frac 59` and `\frac\pi2` work.
 */
export function readArg(s: string, i: number): { arg: string; end: number } | null {
  while (i < s.length && s[i] === ' ') i++;
  if (i >= s.length) return null;
  if (s[i] === '{') {
    const end = matchBrace(s, i);
    return end < 0 ? null : { arg: s.slice(i + 1, end - 1), end };
  }
  if (s[i] === '\\') {
    const m = /^\\(?:[a-zA-Z]+|.)/.exec(s.slice(i));
    return m ? { arg: m[0], end: i + m[0].length } : null;
  }
  if (s[i] === '}') return null;
  return { arg: s[i]!, end: i + 1 };
}

/**
 * Splits `s` on `sep` where it stands outside every bracket. Brackets of any kind count
 * alike, so the mismatched pair of a half-open interval `[1,2)` still nests correctly.
 */
export function splitTopLevel(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && !s.startsWith(sep, i)) {
      // `\{` and `\}` are set brackets: count them; any other escape is skipped whole.
      if (s[i + 1] === '{' || s[i + 1] === '}') depth += s[i + 1] === '{' ? 1 : -1;
      i++;
      continue;
    }
    if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      parts.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/**
 * Whether the bracket opening `s` closes exactly at its last character: true for
 * `(1,2)` and `[0,1)`, false for `(a+5)(b+2)`, where the first group ends early.
 */
export function isEnclosed(s: string): boolean {
  if (s.length < 2 || !OPEN.includes(s[0]!) || !CLOSE.includes(s[s.length - 1]!)) return false;
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) depth--;
    if (depth === 0 && i < s.length - 1) return false;
  }
  return depth === 0;
}
