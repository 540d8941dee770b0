import { matchBrace } from './braces.js';

/** An answer with its presentation stripped; `percent` remembers a `%` that was removed. */
export interface Normalized {
  text: string;
  percent: boolean;
}

/** Wrappers whose argument is the answer itself (`\text{east}` is "east"). */
const WRAPPERS = /\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mathsf|mbox|operatorname|boldsymbol|bm|boxed|fbox)\s*\{/;

/**
 * Unit words dropped after an answer ("5.4 cents", "864 inches^2"). Only words that cannot
 * be a variable: single letters such as m or g are left alone, since "3m" may be algebra.
 */
const UNITS = [
  'cm', 'mm', 'km', 'meters?', 'metres?', 'centimeters?', 'millimeters?', 'kilometers?', 'inch(?:es)?', 'ft', 'feet', 'foot',
  'yards?', 'miles?', 'mph', 'units?', 'square', 'sq', 'cubic', 'degrees?', 'radians?', 'dollars?', 'cents?', 'hours?',
  'hrs?', 'minutes?', 'mins?', 'seconds?', 'days?', 'weeks?', 'months?', 'years?', 'kg', 'grams?', 'pounds?', 'lbs?',
  'ounces?', 'oz', 'liters?', 'litres?', 'gallons?', 'cups?', 'points?', 'percent',
];
const TRAILING_UNIT = new RegExp(`(?<=[\\d}).\\s])\\s*(?:${UNITS.join('|')})(?:\\^\\{?\\d\\}?)?\\s*$`, 'i');

/**
 * Strips what does not change an answer's value: math delimiters, spacing macros,
 * `\left`/`\right`, text wrappers, degree signs, dollar signs, units, thousands
 * separators. The list follows Hendrycks' MATH `strip_string` and the Qwen2.5-Math grader.
 */
export function normalize(raw: string): Normalized {
  let s = raw.trim();
  s = s.replace(/\\\$/g, '').replace(/\$/g, '');
  s = s.replace(/−/g, '-').replace(/π/g, '\\pi ').replace(/∞/g, '\\infty ');
  s = unwrap(s);
  s = s.replace(/\\(?:displaystyle|left\.?|right\.?|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])/g, '');
  // `10,\!080` and `11,\! 111` are thousands separators; other `\!` are only kerning.
  s = s.replace(/,\\!\s*/g, ',').replace(/\\!/g, '');
  while (/\d\\,\d{3}(?!\d)/.test(s)) s = s.replace(/(\d)\\,(\d{3})(?!\d)/, '$1$2');
  // Spacing macros, but not the `\\` row break of a matrix followed by a space.
  s = s.replace(/(?<!\\)\\(?:[,;: ]|quad|qquad)|~/g, ' ');
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac').replace(/\\[dt]binom(?![a-zA-Z])/g, '\\binom');
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree/g, '');
  let percent = false;
  s = s.replace(/\\?%/g, () => {
    percent = true;
    return '';
  });
  s = s.replace(/\s+/g, ' ').trim().replace(/\.$/, '').trim();
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(TRAILING_UNIT, '').trim();
  }
  s = s.replace(/^[a-zA-Z]\s*\\in\s*/, '');
  s = s.replace(/^\+/, '').trim();
  if (/^-?\d{1,3}(,\d{3})+(\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  if (/^-?\d{1,3}( \d{3})+(\.\d+)?$/.test(s)) s = s.replace(/ /g, '');
  s = s.replace(/_\{(\w+)\}/g, '_$1');
  const choice = /^\(([A-Ea-e])\)$/.exec(s);
  if (choice) s = choice[1]!.toUpperCase();
  return { text: s, percent };
}

/** Replaces every `\text{...}`-style wrapper by its content (wrappers may nest). */
function unwrap(s: string): string {
  for (let m = WRAPPERS.exec(s); m !== null; m = WRAPPERS.exec(s)) {
    const open = m.index + m[0].length - 1;
    const end = matchBrace(s, open);
    if (end < 0) return s.slice(0, m.index) + s.slice(open + 1);
    s = s.slice(0, m.index) + s.slice(open + 1, end - 1) + s.slice(end);
  }
  return s;
}

/** The form two answers are compared in as strings: no spaces, lower case. */
export function stringKey(s: string): string {
  return s.replace(/\s+/g, '').toLowerCase();
}
