import { MARKER, MARKER_GLUE } from './markers.js';
import { boxes } from './spans.js';

/**
 * Multiple-choice answers. A gold is a choice when it is a capital letter, alone or with its
 * option text: `C`, `(C)`, `C.`, `\text{(C)}`, `(D) Alina`, `C Cecile`. A prediction's letter
 * is found as lighteval's index extraction finds it: a boxed letter, the letter after an
 * answer marker, a letter opening the text or a line, else the last letter standing alone.
 */
export interface GoldChoice {
  letter: string;
  /** The option text written after the letter in the gold, if any. */
  text: string | null;
}

const LETTER_FORM = /^\(?([A-J])\)?(?:[.)]\s*|\s+)?([\s\S]*)$/;

/** The gold as a choice, or null when it is not one. */
export function goldChoice(gold: string): GoldChoice | null {
  const direct = letterForm(unwrap(gold));
  if (direct !== null) return direct;
  // "… and the answer is\n(C) Cecile": a gold written as text states its letter after a marker.
  const marks = [...gold.matchAll(MARKER)];
  const last = marks.at(-1);
  if (last === undefined) return null;
  const from = last.index + last[0].length;
  const glue = MARKER_GLUE.exec(gold.slice(from, from + 40))?.[0].length ?? 0;
  return letterForm(unwrap(gold.slice(from + glue).split('\n')[0]!));
}

function letterForm(s: string): GoldChoice | null {
  const m = LETTER_FORM.exec(s);
  if (!m) return null;
  const rest = m[2]!.trim();
  // "A" followed by prose is an article ("A farmer ..."), unless the letter is marked "(A)" or "A.".
  if (rest !== '' && !/^\([A-J]\)|^[A-J][.)]\s/.test(s) && !/^[A-J]\s+\p{Lu}/u.test(s)) return null;
  return { letter: m[1]!, text: rest === '' ? null : rest.replace(/\n[\s\S]*$/, '').trim() };
}

/** `\text{(C)}`, `$\textbf{C}$`, `\boxed{C}` → the bare letter form. */
function unwrap(s: string): string {
  let t = s.trim();
  for (let prev = ''; prev !== t; ) {
    prev = t;
    t = t
      .replace(/^\$+|\$+$/g, '')
      .replace(/^\\\(|\\\)$/g, '')
      .replace(/^\\(?:text|textbf|mathrm|mathbf|boxed|fbox|mbox)\s*\{([\s\S]*)\}$/, '$1')
      .replace(/[.。]$/, '')
      .trim();
  }
  return t;
}

const KEY = '\\(?([A-J])\\)?';
const AFTER = '(?=\\*\\*|[.,:;)\\s。，：]|[^\\x00-\\x7f]|$)';

/**
 * The letter a prediction chooses, among `letters` (A–D unless the gold or the options
 * say more), or null. `choices` are the option texts: a prediction that states one picks it.
 */
export function extractChoice(text: string, letters: string, choices?: string[]): string | null {
  if (typeof text !== 'string' || text.trim() === '') return null;
  const ok = (l: string | undefined): l is string => l !== undefined && letters.includes(l);
  const box = boxes(text).at(-1);
  if (box) {
    const g = goldChoice(box.content);
    if (g && ok(g.letter)) return g.letter;
    const byText = optionByText(box.content, choices);
    if (byText) return byText;
  }
  const standalone = new RegExp(`(?:^|[\\s(*])${KEY}${AFTER}`, 'gu');
  const marks = [...text.matchAll(MARKER)];
  for (let k = marks.length - 1; k >= 0; k--) {
    const from = marks[k]!.index + marks[k]![0].length;
    const glue = MARKER_GLUE.exec(text.slice(from, from + 40))?.[0].length ?? 0;
    const window = ' ' + text.slice(from + glue, from + glue + 50);
    for (const m of window.matchAll(standalone)) if (ok(m[1])) return m[1];
  }
  const start = new RegExp(`^(?:\\*\\*)?${KEY}(?:\\*\\*)?${AFTER}`, 'u').exec(unwrap(text));
  if (start && ok(start[1])) return start[1];
  const lines = [...text.matchAll(new RegExp(`\\n(?:\\*\\*)?${KEY}(?:\\*\\*)?${AFTER}`, 'gu'))].filter((m) => ok(m[1]));
  if (lines.length > 0) return lines.at(-1)![1]!;
  const byText = optionByText(text, choices);
  if (byText) return byText;
  const any = [...text.matchAll(standalone)].filter((m) => ok(m[1]));
  return any.length > 0 ? any.at(-1)![1]! : null;
}

/** The letter of the option whose text the answer is (case and spacing aside). */
function optionByText(answer: string, choices?: string[]): string | null {
  if (!choices || choices.length === 0) return null;
  const key = (s: string): string => unwrap(s).replace(/\s+/g, ' ').replace(/[.。]$/, '').trim().toLowerCase();
  const a = key(answer);
  const k = choices.findIndex((c) => key(c) === a && a !== '');
  return k >= 0 ? String.fromCharCode(65 + k) : null;
}

/** The letters a question offers: A–D, or up to the gold's letter or the number of options. */
export function letterRange(gold: GoldChoice, choices?: string[]): string {
  const n = Math.max(4, gold.letter.charCodeAt(0) - 64, choices?.length ?? 0);
  return 'ABCDEFGHIJ'.slice(0, Math.min(10, n));
}
