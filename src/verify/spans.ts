import { matchBrace } from './braces.js';

const MAX_INLINE = 2000;

/** A piece of the text: where it starts and ends and what it holds. */
export interface Span {
  start: number;
  end: number;
  content: string;
}

/**
 * LaTeX math spans, left to right: `$$…$$` and `\[…\]` (may cross lines), `$…$` and
 * `\(…\)` (one line, as Math-Verify reads them). An escaped `\$` is a dollar sign, and a
 * `$` right after a digit or one with no closing `$` on its line is currency, not math.
 */
export function mathSpans(text: string): Span[] {
  const spans: Span[] = [];
  // Once a closing delimiter is missing from some point on, it is missing from every later
  // point too: remembering that keeps a text full of unclosed `\[` or `$$` linear.
  const unclosed = new Set<string>();
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') {
      const next = text[i + 1];
      if (next === '[' || next === '(') {
        const close = next === '[' ? '\\]' : '\\)';
        let end = unclosed.has(close) ? -1 : text.indexOf(close, i + 2);
        if (end < 0) unclosed.add(close);
        // An inline span longer than this is not one answer (and its search must stay bounded).
        if (next === '(' && end - i > MAX_INLINE) end = -1;
        const content = end < 0 ? '' : text.slice(i + 2, end);
        if (end >= 0 && (next === '[' || !content.includes('\n'))) {
          spans.push({ start: i, end: end + 2, content });
          i = end + 2;
          continue;
        }
      }
      i += 2;
      continue;
    }
    if (c === '$') {
      if (text[i + 1] === '$') {
        const end = unclosed.has('$$') ? -1 : findDollar(text, i + 2, true);
        if (end < 0) unclosed.add('$$');
        if (end >= 0) {
          spans.push({ start: i, end: end + 2, content: text.slice(i + 2, end) });
          i = end + 2;
          continue;
        }
        i += 2;
        continue;
      }
      if (!/\d/.test(text[i - 1] ?? '')) {
        const end = findDollar(text, i + 1, false);
        if (end >= 0) {
          spans.push({ start: i, end: end + 1, content: text.slice(i + 1, end) });
          i = end + 1;
          continue;
        }
      }
    }
    i++;
  }
  return spans.filter((s) => s.content.trim() !== '');
}

/** Index of the closing `$` (or `$$`), skipping `\$`; inline spans stop at a line break. */
function findDollar(text: string, from: number, display: boolean): number {
  const stop = display ? text.length : Math.min(text.length, from + MAX_INLINE);
  for (let k = from; k < stop; k++) {
    const c = text[k]!;
    if (c === '\\') {
      k++;
      continue;
    }
    if (!display && c === '\n') return -1;
    if (c === '$') {
      if (!display) return text[k + 1] === '$' ? -1 : k;
      if (text[k + 1] === '$') return k;
    }
  }
  return -1;
}

/** Every `\boxed{…}` / `\fbox{…}` (and TeX's `\boxed 5`) whose braces close, left to right. */
export function boxes(text: string): Span[] {
  const out: Span[] = [];
  const re = /\\(?:boxed|fbox)(?![a-zA-Z])/g;
  // Only the last boxes matter, and each unclosed one costs a scan to the end of the text.
  for (const m of [...text.matchAll(re)].slice(-200)) {
    let i = m.index + m[0].length;
    if (out.length > 0 && m.index < out.at(-1)!.end) continue; // a box inside a box: the outer one holds it
    while (text[i] === ' ') i++;
    if (text[i] === '{') {
      const end = matchBrace(text, i);
      if (end > 0) out.push({ start: m.index, end, content: text.slice(i + 1, end - 1) });
      continue;
    }
    const token = /^[^\s${}]+/.exec(text.slice(i, i + 100));
    if (token && i > m.index + m[0].length) out.push({ start: m.index, end: i + token[0].length, content: token[0] });
  }
  return out;
}
