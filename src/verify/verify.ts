/**
 * Final answers: extraction from free text and math equivalence with a gold answer.
 *
 *   extractAnswer(text)        last \boxed{}, else the last "####" / "The answer is" / "Answer:",
 *                              else the last number; null when there is none
 *   isEquivalent(gold, pred)   numbers, fractions, percents, LaTeX, intervals, tuples, sets,
 *                              matrices, equations, symbolic expressions (through mathjs)
 *   verify(gold, text)         both, with the reason; never throws
 *
 * Cases follow the graders the field reports numbers with: Hendrycks' MATH `is_equiv`,
 * PRM800K's grader, the Qwen2.5-Math grader (its percent rule) and Hugging Face's Math-Verify.
 */
import { isEquivalent } from './equivalence.js';
import { extractAnswer } from './extract.js';

export { extractAnswer } from './extract.js';
export { isEquivalent } from './equivalence.js';

/** Extracts the final answer from `text` and compares it with `gold`. */
export function verify(gold: string, text: string): { correct: boolean; extracted: string | null; reason: string } {
  if (typeof gold !== 'string' || gold.trim() === '') {
    return { correct: false, extracted: null, reason: `gold answer is ${describe(gold)}` };
  }
  if (typeof text !== 'string' || text.trim() === '') {
    return { correct: false, extracted: null, reason: `prediction is ${describe(text)}` };
  }
  const extracted = extractAnswer(text);
  if (extracted === null) return { correct: false, extracted, reason: 'no answer found' };
  const correct = isEquivalent(gold, extracted);
  return { correct, extracted, reason: correct ? 'matches gold' : `${JSON.stringify(extracted)} does not match gold ${JSON.stringify(gold)}` };
}

function describe(v: unknown): string {
  if (typeof v === 'string') return 'empty';
  if (v === null) return 'null';
  return `not a string (${Array.isArray(v) ? 'array' : typeof v})`;
}
