import { defaultVerifyConfig, type ExtractionStep, type VerifyConfig } from './config.js';
import { MARKER, MARKER_GLUE } from './markers.js';
import { boxes, mathSpans, type Span } from './spans.js';

/** An extracted answer and the rule that found it. */
export interface Extracted {
  answer: string;
  method: ExtractionStep | 'whole';
}

/** Texts longer than this are read from their end: the final answer is there. */
const MAX_TEXT_CHARS = 100_000;

/**
 * The final answer of a free text, by the steps of `config.extraction` in order (boxed,
 * answer marker, bold, last math span or number: the order of Math-Verify's and lighteval's
 * extraction priorities). A text that is an answer by itself (`\frac{1}{2}`, `x = 5`,
 * `125 miles`, `east`) is taken whole once no box is found. Golds go through the same
 * function: they carry `$`, boxes and units too.
 */
export function extract(text: string, config: Pick<VerifyConfig, 'extraction'> = defaultVerifyConfig): Extracted | null {
  if (typeof text !== 'string' || text.trim() === '') return null;
  const t = text.length > MAX_TEXT_CHARS ? text.slice(-MAX_TEXT_CHARS) : text;
  const steps = config.extraction;
  // "The final answer is X. I hope it is correct." (the Minerva format) outranks even a box,
  // as in Math-Verify and lighteval, whose priority 0 this is.
  if (steps.includes('marker')) {
    const minerva = [...t.matchAll(/final answer is:?\s*([^\n]{1,300}?)\.?\s?I hope/gi)].at(-1);
    const said = minerva ? clean(lastBoxed(minerva[1]!) ?? minerva[1]!) : '';
    if (said !== '') return { answer: said, method: 'marker' };
  }
  const boxedFirst = steps[0] === 'boxed';
  if (boxedFirst) {
    const b = lastBoxed(t);
    if (b !== null) return { answer: b, method: 'boxed' };
  }
  if (isBareAnswer(t)) return { answer: clean(stripDelimiters(t)), method: 'whole' };
  const spans = mathSpans(t);
  for (const step of boxedFirst ? steps.slice(1) : steps) {
    const found = step === 'boxed' ? lastBoxed(t) : step === 'marker' ? lastMarked(t, spans) : step === 'bold' ? lastBold(t) : lastSpanOrNumber(t, spans);
    if (found !== null && clean(found) !== '') return { answer: clean(found), method: step };
  }
  return null;
}

/** Back-compatible form: the extracted answer only, or null. */
export function extractAnswer(text: string): string | null {
  return extract(text)?.answer ?? null;
}

/**
 * The last box, joined with the boxes just before it when only connectors stand between
 * them (`\boxed{1} and \boxed{2}`, `\boxed{(2,2)} \quad\text{and}\quad \boxed{(6,2)}`):
 * a model that boxes each of several answers means all of them.
 */
function lastBoxed(text: string): string | null {
  const all = boxes(text);
  if (all.length === 0) return null;
  const picked = [all.at(-1)!];
  for (let k = all.length - 2; k >= 0 && picked.length < 12; k--) {
    if (!isConnector(text.slice(all[k]!.end, picked[0]!.start))) break;
    picked.unshift(all[k]!);
  }
  return picked.map((b) => b.content.trim()).join(', ');
}

const CONNECTOR_WORDS = /^(?:and|or|et|ou|und|oder|y|o|e|и|или|和|或|以及|及)$/i;

/**
 * Whether the text between two answers only joins them: punctuation, math delimiters,
 * spacing, and at most four words one of which is "and"/"or" ("papers and", "for part (a) and").
 */
function isConnector(between: string): boolean {
  if (between.length > 80) return false;
  const s = between
    .replace(/\\(?:text|textbf|mathrm|mbox|textnormal)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\(?:quad|qquad|[,;: !]|\(|\)|\[|\])|\$/g, ' ')
    .replace(/[.,;:()\s]+/g, ' ')
    .trim();
  if (s === '') return true;
  // Symbols alone (`++++`, `-`) join too: only words can separate two answers.
  const words = s.split(' ').filter((w) => /\p{L}/u.test(w));
  return words.length === 0 || (words.length <= 4 && words.some((w) => CONNECTOR_WORDS.test(w)));
}

/** Letter runs that are math, not prose, when they stand outside LaTeX commands. */
const MATH_WORDS = new Set(['sin', 'cos', 'tan', 'cot', 'sec', 'csc', 'log', 'ln', 'exp', 'sqrt', 'pi', 'abs', 'inf', 'and', 'or', 'mod', 'pmod', 'gcd', 'lcm', 'max', 'min', 'det']);
/** Short words that are English, not products of variables (`xy`, `ab`). */
const SHORT_WORDS = new Set(['is', 'so', 'or', 'of', 'to', 'in', 'it', 'we', 'be', 'as', 'at', 'by', 'if', 'no', 'on', 'an', 'am', 'do', 'us', 'the', 'are', 'was', 'for', 'get', 'has', 'not', 'but', 'its', 'our', 'let', 'can', 'see', 'thus', 'then', 'hence', 'which', 'this', 'that', 'answer']);
/** Words that may follow a value without making the text prose ("125 miles", "35 cm"). */
export const UNIT_WORDS = new Set([
  'cm', 'mm', 'km', 'm', 'meter', 'meters', 'metre', 'metres', 'inch', 'inches', 'ft', 'feet', 'foot', 'yard', 'yards', 'mile', 'miles', 'mph',
  'unit', 'units', 'square', 'sq', 'cubic', 'degree', 'degrees', 'radian', 'radians', 'dollar', 'dollars', 'cent', 'cents', 'euro', 'euros',
  'yuan', 'hour', 'hours', 'hr', 'hrs', 'minute', 'minutes', 'min', 'mins', 'second', 'seconds', 'sec', 'day', 'days', 'week', 'weeks',
  'month', 'months', 'year', 'years', 'kg', 'g', 'gram', 'grams', 'pound', 'pounds', 'lb', 'lbs', 'ounce', 'ounces', 'oz', 'liter', 'liters',
  'litre', 'litres', 'ml', 'gallon', 'gallons', 'cup', 'cups', 'point', 'points', 'percent', 'percentage', 'pct', 'ways', 'people', 'students',
]);

/**
 * Whether the text is one answer rather than prose: one line of math (or a display block),
 * no word outside LaTeX commands and `\text{}` except connectors, units and function names,
 * or a single word (`east`, `Evelyn`).
 */
export function isBareAnswer(text: string): boolean {
  const s = text.trim();
  if (s.length > 400 || s.includes('\\boxed') || s.includes('**') || s.includes('####')) return false;
  const inner = stripDelimiters(s);
  if (/\n\s*\S/.test(inner) && !/^\\begin\{/.test(inner)) return false;
  if (/^[\p{L}]+[.]?$/u.test(inner) && inner.length <= 40) return true;
  const outside = inner
    .replace(/\\(?:begin|end)\{[^{}]*\}(?:\{[^{}]*\})?/g, ' ')
    .replace(/\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mbox|operatorname)\s*\{[^{}]*\}/g, ' ')
    .replace(/\\[a-zA-Z]+/g, ' ');
  // Letters of other scripts (Chinese, Arabic, Cyrillic…) outside LaTeX are prose; Greek ones are math.
  if (/[\p{L}]/u.test(outside.replace(/[\x00-\x7f\p{Script=Greek}\p{Script=Latin}]/gu, ''))) return false;
  const words = outside.match(/\p{L}{2,}/gu) ?? [];
  const prose = words.filter((w) => {
    const l = w.toLowerCase();
    if (MATH_WORDS.has(l) || UNIT_WORDS.has(l)) return false;
    if (/[^\x00-\x7f]/.test(w)) return true;
    // All capitals are names of points or variables (`NO`, `AB`), not words.
    if (w.length > 1 && w === w.toUpperCase()) return false;
    return w.length > 2 || SHORT_WORDS.has(l);
  });
  return prose.length === 0;
}

/** Removes one pair of math delimiters around the whole text (`$…$`, `\[…\]`, `\(…\)`), and stray `$`. */
function stripDelimiters(s: string): string {
  let t = s.trim();
  const m = /^(\$\$|\$|\\\[|\\\()([\s\S]*?)(\$\$|\$|\\\]|\\\))([.,;]?)$/.exec(t);
  if (m) t = m[2]! + m[4]!;
  return t.replace(/(?<!\\)\$/g, ' ').replace(/\\[()[\]]/g, ' ').trim();
}

/** An answer marker and where it ends. */
function markers(text: string): { end: number }[] {
  return [...text.matchAll(MARKER)].map((m) => ({ end: m.index + m[0].length }));
}

/**
 * The answer after the last marker that has one. After a marker come optional glue
 * ("is", ":", "**") and then, within the sentence: a math span or a number, and of those
 * the one that ends last (Math-Verify groups the two and takes the rightmost), a number
 * after the last `=` of a calculation, or failing both a short phrase ("The answer is Evelyn.").
 */
function lastMarked(text: string, spans: Span[]): string | null {
  const found = markers(text);
  for (let k = found.length - 1; k >= 0; k--) {
    const start = found[k]!.end;
    const glue = MARKER_GLUE.exec(text.slice(start, start + 40))?.[0].length ?? 0;
    const from = start + glue;
    const stop = sentenceEnd(text, from, spans);
    // "The answer is (2,1)." / "Answer: 3x+2": the whole sentence when it is one answer.
    const sentence = text.slice(from, stop);
    if (sentence.length <= 100 && /[\d\\]/.test(sentence) && isBareAnswer(sentence)) return sentence;
    const windowEnd = Math.min(stop, from + 200);
    // A span may start anywhere within 50 characters (Math-Verify's `answer.{0,50}?`); a
    // number must lie in the sentence. Of the two, the one that ends last wins.
    const span = spans.find((s) => s.start >= from && s.start <= from + 50);
    const window = text.slice(from, windowEnd);
    const number = markedNumber(window);
    let best: string | null = null;
    if (span && (number === null || span.end >= from + number.end)) best = withSpanSuffix(text, span, spans);
    else if (number) best = number.text;
    if (best === null) {
      const bold = /^\*\*([^*\n]{1,60})\*\*/.exec(text.slice(from));
      const phrase = bold?.[1] ?? /^[^\n.。!?]{1,60}/.exec(window)?.[0] ?? '';
      if (phrase.trim() !== '' && phrase.trim().split(/\s+/).length <= 4) best = phrase;
    }
    if (best !== null && clean(best) !== '') return best;
  }
  return null;
}

/** Index of the end of the sentence starting at `from`: a full stop then a space, a blank line, or the text's end; never inside a math span. */
function sentenceEnd(text: string, from: number, spans: Span[]): number {
  const re = /[.!?。！？](?=\s|$)|\n\s*\n/g;
  re.lastIndex = from;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const at = m.index;
    if (!spans.some((s) => s.start < at && at < s.end)) return at;
  }
  return text.length;
}

/**
 * A number at the start of a window (within 50 characters), or the number after the last
 * `=` within 100 characters ("réponse est (35 + 70 = 105)").
 */
function markedNumber(window: string): { text: string; end: number } | null {
  const all = numbers(window);
  const afterEq = all.filter((n) => n.start <= 100 && /=\s*[$€£¥]?\s*$/.test(window.slice(0, n.start)) && !/^\s*=/.test(window.slice(n.end)));
  if (afterEq.length > 0) return afterEq.at(-1)!;
  const first = all.find((n) => n.start <= 50 && !/^\s*=/.test(window.slice(n.end)));
  return first ?? null;
}

/** The last bold span that holds a number or math: its math span, its last number, or itself. */
function lastBold(text: string): string | null {
  const all = [...text.matchAll(/\*\*([^*\n]{1,200})\*\*/g)];
  for (let k = all.length - 1; k >= 0; k--) {
    const inner = all[k]![1]!;
    if (!/[\d\\]/.test(inner)) continue;
    const spans = mathSpans(inner);
    if (spans.length > 0) return spans.at(-1)!.content;
    if (isBareAnswer(inner)) return inner;
    const n = numbers(inner).at(-1);
    if (n) return n.text;
  }
  return null;
}

/**
 * The rightmost math span or number: the two are one priority group in Math-Verify, so
 * whichever ends last wins. A span that is prose (`$10 for the fudge and $`) is skipped;
 * spans joined by "and"/"or"/commas are taken together (`$1$ and $2$`).
 */
function lastSpanOrNumber(text: string, spans: Span[]): string | null {
  const nums = numbers(text);
  const candidates: { end: number; get: () => string }[] = [
    ...spans.filter((s) => isBareAnswer(s.content)).map((s) => ({ end: s.end, get: () => withSpanSuffix(text, s, spans) })),
    ...nums.map((n) => ({ end: n.end, get: () => n.text })),
  ];
  let best: { end: number; get: () => string } | null = null;
  for (const c of candidates) if (best === null || c.end > best.end) best = c;
  return best?.get() ?? null;
}

/**
 * A span's content with a trailing percent sign or word, joined with its neighbours when a
 * connector links them (`$1$ and $2$`, `$21,16$ or $11$`): one answer written in pieces.
 */
function withSpanSuffix(text: string, span: Span, spans: Span[]): string {
  const suffix = (s: Span): string => (/^\s*(?:\\?%|percent(?:age)?\b|pct\b)/i.test(text.slice(s.end, s.end + 12)) ? '%' : '');
  const joins = (a: Span, b: Span): boolean => /^\s*(?:,\s*)?(?:and|or|,)\s*$/i.test(text.slice(a.end, b.start));
  const at = spans.indexOf(span);
  let lo = at;
  let hi = at;
  while (lo > 0 && at - lo < 5 && joins(spans[lo - 1]!, spans[lo]!)) lo--;
  while (hi < spans.length - 1 && hi - at < 5 && joins(spans[hi]!, spans[hi + 1]!)) hi++;
  return spans.slice(lo, hi + 1).map((s) => s.content.trim() + suffix(s)).join(', ');
}

/**
 * Numbers in plain text with their positions: thousands separators (`1,000`, `1 000`), a
 * decimal comma (`2,74`), a leading currency sign, a fraction `a/b`, a trailing percent.
 * A number glued to a letter before it (`XDY2K`, `x_2`, `10^3`) is not one.
 */
const NUMBER = /(?<![\p{Script=Latin}\d_.\\^{}])(?:[$€£¥₹]\s?)?(-?(?:\d{1,3}(?:,\d{3})+(?![\d])(?:\.\d+)?|\d{1,3}(?: \d{3})+(?![\d.,])|\d+(?:[.,]\d+)?|\.\d+)(?:\s*\/\s*\d+(?:\.\d+)?)?)(\s*(?:%|percent(?:age)?\b|pct\b))?/gu;

export function numbers(text: string): { text: string; start: number; end: number }[] {
  const out: { text: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(NUMBER)) {
    const body = m[1]!;
    const start = m.index + m[0].indexOf(body);
    out.push({ text: body + (m[2] ? '%' : ''), start, end: m.index + m[0].length });
  }
  return out;
}

/** Trims the trailing period and the `$` signs an answer often carries. */
function clean(s: string): string {
  let t = s.trim();
  for (let prev = ''; prev !== t; ) {
    prev = t;
    t = t
      .replace(/^\$+|(?<!\\)\$+$/g, '')
      .replace(/^\\?["“]|\\?["”]$/g, '')
      .replace(/(?<!\\)[.,;:。]+$/, '')
      .trim();
  }
  return t;
}
