import { matchBrace } from './braces.js';

/**
 * Final-answer extraction from free text. Priority, as in the MATH / Qwen2.5-Math graders:
 * the last `\boxed{}` (or `\fbox{}`), then the last answer marker (`#### n` of GSM8K,
 * "The answer is ...", "Answer: ..."), then the whole text when it is an answer by itself
 * (`\frac{1}{2}`, `1,-2`, `east`), then the last number in the text.
 */
export function extractAnswer(text: string): string | null {
  if (typeof text !== 'string' || text.trim() === '') return null;
  const found = lastBoxed(text) ?? lastMarked(text) ?? bareAnswer(text) ?? lastNumber(text);
  if (found === null) return null;
  const cleaned = clean(found);
  return cleaned === '' ? null : cleaned;
}

/**
 * Content of the last `\boxed{...}` / `\fbox{...}` whose braces close; `\boxed 5` (a space
 * and one token) is TeX for the same thing. An unclosed last box (a generation cut off
 * mid-answer) yields to the box before it.
 */
function lastBoxed(text: string): string | null {
  const re = /\\(?:boxed|fbox)\b/g;
  const starts = [...text.matchAll(re)].map((m) => m.index + m[0].length);
  for (let k = starts.length - 1; k >= 0; k--) {
    let i = starts[k]!;
    if (text[i] === '{') {
      const end = matchBrace(text, i);
      if (end > 0) return text.slice(i + 1, end - 1);
      continue;
    }
    while (text[i] === ' ') i++;
    const m = /^[^\s$]+/.exec(text.slice(i));
    if (m && i > starts[k]!) return m[0];
  }
  return null;
}

/** Markers after which a final answer follows, each to the end of its line. */
const MARKERS = /####|\banswer\s*(?:is\b\s*:?|:)/gi;

/** The text after the last answer marker, cut to its first sentence; null when none has one. */
function lastMarked(text: string): string | null {
  const ends = [...text.matchAll(MARKERS)].map((m) => m.index + m[0].length);
  for (let k = ends.length - 1; k >= 0; k--) {
    const rest = firstSentence(text.slice(ends[k]!).split('\n')[0]!);
    if (rest !== '') return rest;
  }
  return null;
}

/**
 * The answer part of what follows a marker: a `$...$` or `\(...\)` span when it starts with
 * one, a number followed by words ("18 dollars per day") reduced to the number, otherwise
 * the text up to the end of the sentence (a period then a space, so 3.5 stays whole).
 */
function firstSentence(line: string): string {
  const s = line.replace(/\*\*/g, '').trim();
  const math = /^(\$\$?|\\\(|\\\[)/.exec(s);
  if (math) {
    const close = { $: '$', $$: '$$', '\\(': '\\)', '\\[': '\\]' }[math[1]!]!;
    const end = s.indexOf(close, math[1]!.length);
    if (end > 0) return s.slice(math[1]!.length, end).trim();
  }
  const numberThenWords = /^(\\?\$)?\s*(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\/\d+)?|-?\.\d+)\s+[a-zA-Z]{2,}/.exec(s);
  if (numberThenWords) return numberThenWords[2]!;
  const stop = /\.(?:\s|$)/.exec(s);
  return (stop ? s.slice(0, stop.index) : s).trim();
}

/** Letter runs that are math, not prose, when they stand outside LaTeX commands. */
const MATH_WORDS = new Set(['sin', 'cos', 'tan', 'cot', 'sec', 'csc', 'log', 'ln', 'exp', 'sqrt', 'pi', 'abs', 'inf']);
/** Two-letter runs that are English (`xy`, `ab` are products of variables). */
const SHORT_WORDS = new Set(['is', 'so', 'or', 'of', 'to', 'in', 'it', 'we', 'be', 'as', 'at', 'by', 'if', 'no', 'on', 'an', 'am', 'do', 'us']);

/**
 * The text itself when it is one line of math rather than prose (no English word outside
 * LaTeX commands and `\text{}`), or a single word. Without this rule the last-number
 * fallback would read `\frac{1}{2}` as 2 and `1,-2` as -2.
 */
function bareAnswer(text: string): string | null {
  const s = text.trim();
  if (s.includes('\n') || s.length > 300) return null;
  if (/^[a-zA-Z]+$/.test(s)) return s;
  const outside = s.replace(/\\(?:text|mbox|mathrm|textbf)\s*\{[^{}]*\}/g, ' ').replace(/\\[a-zA-Z]+/g, ' ');
  const words = outside.match(/[a-zA-Z]{2,}/g) ?? [];
  const prose = words.some((w) => (w.length > 2 ? !MATH_WORDS.has(w.toLowerCase()) : SHORT_WORDS.has(w.toLowerCase())));
  return prose ? null : s;
}

const NUMBER = /-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:\/\d+)?|-?\.\d+/g;

/** The last number in the text; a minus sign counts only where it cannot be subtraction. */
function lastNumber(text: string): string | null {
  const last = [...text.matchAll(NUMBER)].at(-1);
  if (last === undefined) return null;
  const before = text[last.index - 1] ?? '';
  return last[0].startsWith('-') && /[\w)\]}]/.test(before) ? last[0].slice(1) : last[0];
}

/** Trims the trailing period and the `$` signs an answer often carries. */
function clean(s: string): string {
  let t = s.trim();
  for (let prev = ''; prev !== t; ) {
    prev = t;
    t = t.replace(/^\$+|(?<!\\)\$+$/g, '').replace(/\.+$/, '').trim();
  }
  return t;
}
