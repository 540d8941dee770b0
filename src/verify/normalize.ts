import { matchBrace } from './braces.js';

/**
 * An answer with its presentation stripped. `percent` remembers a `%` that was removed;
 * `unit` the unit words that were (so that strict unit checking can compare them).
 */
export interface Normalized {
  text: string;
  percent: boolean;
  unit: string | null;
}

/** Wrappers whose argument is the answer itself (`\text{east}` is "east"). */
const WRAPPERS = /\\(?:text|textbf|textit|textrm|textsf|textnormal|texttt|mathrm|mathbf|mathit|mathsf|mathtt|mathbb|mbox|hbox|operatorname|boldsymbol|bm|boxed|fbox|emph|displaystyle)\s*\{/;

/**
 * Unit words dropped after an answer ("5.4 cents", "864 inches^2", "0.06 yuan"). Only words
 * that cannot be a variable: single letters such as m or g are left alone, since "3m" may be algebra.
 */
const UNITS = [
  'cm', 'mm', 'km', 'meters?', 'metres?', 'centimeters?', 'centimetres?', 'millimeters?', 'kilometers?', 'inch(?:es)?', 'ft', 'feet', 'foot',
  'yards?', 'miles?', 'mph', 'km/h', 'm/s', 'units?', 'square', 'sq', 'cubic', 'degrees?', 'radians?', 'rad', 'dollars?', 'cents?', 'euros?',
  'yuan', 'hours?', 'hrs?', 'minutes?', 'mins?', 'seconds?', 'secs?', 'days?', 'weeks?', 'months?', 'years?', 'kg', 'grams?', 'pounds?',
  'lbs?', 'ounces?', 'oz', 'liters?', 'litres?', 'ml', 'gallons?', 'cups?', 'points?', 'ways', 'people', 'persons?', 'students?', 'times',
  'apples?', 'cookies', 'pieces?', 'items?', 'boxes', 'books?', 'marbles?', 'pages?', 'miles per hour', 'per hour', 'each',
];
const UNIT_RE = `(?:${UNITS.join('|')})`;
const TRAILING_UNIT = new RegExp(`(?<=[\\d}).\\s])\\s*(${UNIT_RE}(?:\\s+${UNIT_RE})*)(?:\\^\\{?\\d\\}?|²|³)?\\s*$`, 'i');

/**
 * Strips what does not change an answer's value: math delimiters, spacing macros,
 * `\left`/`\right`, text wrappers, degree signs, dollar signs, units, thousands separators,
 * and writes relations, `\pm`, unicode symbols and connectors one way. The list follows
 * MATH's `strip_string`, the Qwen2.5-Math grader and latex2sympy2_extended's normalization.
 */
export function normalize(raw: string, units: 'lenient' | 'strict' = 'lenient'): Normalized {
  let s = raw.trim();
  s = s.replace(/\\\$/g, '').replace(/\$/g, ' ').replace(/\\\(|\\\)|\\\[|\\\]/g, ' ');
  s = s
    .replace(/[−–]/g, '-')
    .replace(/π/g, '\\pi ')
    .replace(/∞/g, '\\infty ')
    .replace(/≤|⩽/g, '\\le ')
    .replace(/≥|⩾/g, '\\ge ')
    .replace(/≠/g, '\\ne ')
    .replace(/×/g, '\\times ')
    .replace(/÷/g, '\\div ')
    .replace(/·/g, '\\cdot ')
    .replace(/√/g, '\\sqrt')
    .replace(/±/g, '\\pm ')
    .replace(/∪/g, '\\cup ')
    .replace(/∈/g, '\\in ')
    .replace(/²/g, '^2')
    .replace(/³/g, '^3');
  // `\\left(` written with a doubled backslash (an escaping slip) is `\left(`; matrices keep their `\\`.
  if (!s.includes('\\begin')) s = s.replace(/\\\\(?=[a-zA-Z])/g, '\\');
  s = s.replace(/(\d)\s*\{\s*,\s*\}\s*(?=\d)/g, '$1');
  s = s.replace(/\\mathbb\s*\{R\}|ℝ/g, '(-\\infty,\\infty)').replace(/\\varnothing|∅|^\\\{\s*\\\}$/g, '\\emptyset');
  // `17\text{ any words}` after a value: the words are a unit (MATH's `remove_right_units`).
  let unit: string | null = null;
  const textUnit = /(?<=[\d}.)])\s*\\(?:text|textnormal|textrm|mbox|mathrm)\s*\{\s*([a-zA-Z][^{}]+)\}(?:\^\{?\d\}?)?\s*[.]?$/.exec(s);
  if (textUnit && !/^\s*(?:and|or)\b/i.test(textUnit[1]!)) {
    unit = textUnit[1]!.trim().toLowerCase();
    s = s.slice(0, textUnit.index);
  }
  // Degrees are dropped before units, so "90^\circ" and "90 degrees" read alike.
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree/g, '');
  // `\text{ and }` and `\text{or}` join answers: they become commas further down.
  s = unwrap(s);
  s = s.replace(/\\(?:displaystyle|textstyle|left\.?|right\.?|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg|limits|nolimits)(?![a-zA-Z])/g, '');
  // `10,\!080` and `11,\! 111` are thousands separators; other `\!` are only kerning. `14{,}916` too.
  s = s.replace(/,\\!\s*/g, ',').replace(/\\!/g, '').replace(/\{,\}/g, ',');
  while (/\d\\,\d{3}(?!\d)/.test(s)) s = s.replace(/(\d)\\,(\d{3})(?!\d)/, '$1$2');
  // Spacing macros, but not the `\\` row break of a matrix followed by a space.
  s = s.replace(/(?<!\\)\\(?:[,;: >]|quad|qquad|enspace|thinspace|medspace)(?![a-zA-Z])|~/g, ' ');
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac').replace(/\\[dt]binom(?![a-zA-Z])/g, '\\binom');
  s = s
    .replace(/\\(?:leqslant|leq|le)(?![a-zA-Z])/g, '<=')
    .replace(/\\(?:geqslant|geq|ge)(?![a-zA-Z])/g, '>=')
    .replace(/\\(?:neq|ne)(?![a-zA-Z])|!=/g, '\\neq ')
    .replace(/\\lt(?![a-zA-Z])/g, '<')
    .replace(/\\gt(?![a-zA-Z])/g, '>')
    .replace(/\\(?:equiv)(?![a-zA-Z])/g, '=')
    .replace(/\\(?:dots|ldots|cdots)(?![a-zA-Z])|…/g, '')
    .replace(/\\(?:mp)(?![a-zA-Z])/g, '\\pm')
    .replace(/\\langle(?![a-zA-Z])/g, '(')
    .replace(/\\rangle(?![a-zA-Z])/g, ')')
    .replace(/\s*\(?\\(?:pmod|bmod|mod)\s*\{?\s*\d+\s*\}?\)?\s*$/, '');
  let percent = false;
  s = s.replace(/\\?%|\s+(?:percent(?:age)?|pct)\b/gi, () => {
    percent = true;
    return '';
  });
  s = s.replace(/\s+/g, ' ').trim().replace(/[.,;\\]+$/, '').trim();
  s = approximation(s);
  for (let m = TRAILING_UNIT.exec(s); m !== null; m = TRAILING_UNIT.exec(s)) {
    unit = unit === null ? m[1]!.toLowerCase() : `${m[1]!.toLowerCase()} ${unit}`;
    s = s.slice(0, m.index).trim();
  }
  if (unit !== null && units === 'strict') s = `${s} \\unit{${unit}}`;
  // Words that join answers: "12 and 13", "(11,7) or (7,11)".
  // Between groups of assignments ("p = 5, q = 2 and p = 7, q = 2") they separate groups.
  s = s.replace(/\s*,?\s+(?:and|or)\s+|\s*,?\s*\b(?:and|or)\b\s*(?=[-+(\\\d[{])/g, s.includes('=') && s.includes(',') ? '; ' : ', ');
  s = s.replace(/^\s*(?:\\therefore|\\implies|\\Rightarrow|\\rightarrow)\s*/, '');
  s = s.replace(/^[a-zA-Z](?:_\w+)?\s*\\in\s*/, '');
  s = s.replace(/^\+/, '').trim();
  s = s.replace(/\\mathrm\{e\}|\\exp\{1\}/g, 'e');
  s = s.replace(/^[€£¥₹₽₩]\s*|\s*[€£¥₹₽₩]$/g, '');
  if (/^-?[1-9]\d{0,2}(,\d{3})+(\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  else if (/^-?\d{1,3}( \d{3})+(\.\d+)?$/.test(s)) s = s.replace(/ /g, '');
  else if (/^-?(?:0|\d{2,}),\d+$|^-?\d+,(?:\d{1,2}|\d{4,})$/.test(s) && !/^-?\d,\d$/.test(s)) s = s.replace(',', '.');
  s = s.replace(/_\{(\w+)\}/g, '_$1');
  const choice = /^\(([A-Ja-j])\)$/.exec(s);
  if (choice) s = choice[1]!.toUpperCase();
  return { text: s, percent, unit };
}

/**
 * `a \approx b`: a value followed by its approximation is the value (`\frac{\sqrt3}{3}
 * \approx 0.577`, `x = 1/3 \approx 0.33`); a name followed by one is an equation (`x \approx 11`).
 */
function approximation(s: string): string {
  const at = s.search(/\\(?:approx|simeq)(?![a-zA-Z])|≈/);
  if (at < 0) return s;
  const before = s.slice(0, at).trim();
  const lastSide = before.split('=').at(-1)!.trim();
  if (before !== '' && /[\d]/.test(lastSide)) return before;
  return s.replace(/\\(?:approx|simeq)(?![a-zA-Z])|≈/g, '=');
}

/** Replaces every `\text{...}`-style wrapper by its content (wrappers may nest). */
function unwrap(s: string): string {
  for (let m = WRAPPERS.exec(s), n = 0; m !== null && n < 200; m = WRAPPERS.exec(s), n++) {
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
