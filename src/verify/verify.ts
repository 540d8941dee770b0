/**
 * Final answers: extraction from free text and math equivalence with a gold answer.
 *
 *   extract(text)              the answer of a text and the rule that found it: the last \boxed{},
 *                              an answer marker (several languages), bold, the last math span or number
 *   extractAnswer(text)        the same, the answer only (null when there is none)
 *   isEquivalent(gold, pred)   numbers, fractions, mixed numbers, percents, LaTeX, intervals, tuples,
 *                              sets, matrices, relations, equations, symbolic expressions (mathjs)
 *   verify(gold, text)         both, with the reason; never throws, and returns within the time budget
 *
 * Behaviour follows the graders the field reports numbers with: Hugging Face Math-Verify and
 * lighteval's extractive match (extraction priorities, assignments, relations, sets), the
 * Qwen2.5-Math grader (percent), Hendrycks' MATH `is_equiv` (normalization), NeMo-Skills and
 * open-instruct (which build on these). Options: config.ts.
 */
import { extractChoice, goldChoice, letterRange } from './choice.js';
import { resolveConfig, type VerifyConfig } from './config.js';
import { TimeoutError } from './deadline.js';
import { answersEqual, comparisonDeadline } from './equivalence.js';
import { extract } from './extract.js';

export { extract, extractAnswer } from './extract.js';
export { isEquivalent } from './equivalence.js';
export { defaultVerifyConfig, type VerifyConfig } from './config.js';

export interface VerifyResult {
  correct: boolean;
  /** The prediction's final answer as extracted (a letter for multiple choice), or null. */
  extracted: string | null;
  reason: string;
}

/** Extracts the final answer from `text` and compares it with `gold` (itself extracted with the same care). */
export function verify(gold: string, text: string, options?: Partial<VerifyConfig>): VerifyResult {
  if (typeof gold !== 'string' || gold.trim() === '') {
    return { correct: false, extracted: null, reason: `gold answer is ${describe(gold)}` };
  }
  if (typeof text !== 'string' || text.trim() === '') {
    return { correct: false, extracted: null, reason: `prediction is ${describe(text)}` };
  }
  const config = resolveConfig(options);
  const deadline = comparisonDeadline(config);
  let extracted: string | null = null;
  try {
    const choice = goldChoice(gold);
    if (choice !== null) {
      const choices = config.choices;
      extracted = extractChoice(text, letterRange(choice, choices), choices);
      if (extracted === null && choice.text !== null) {
        // "(D) Alina" as gold and "Alina" as the answer: the option's text names the option.
        const answer = extract(text, config)?.answer ?? null;
        if (answer !== null && answersEqual(choice.text, answer, config, deadline)) return { correct: true, extracted: answer, reason: 'matches gold' };
      }
      if (extracted === null) return { correct: false, extracted, reason: 'no answer found' };
      const correct = extracted === choice.letter;
      return { correct, extracted, reason: correct ? 'matches gold' : `choice ${extracted} does not match gold ${choice.letter}` };
    }
    // A gold that no rule reads (an unusual phrase) is taken as written.
    const g = extract(gold, config) ?? { answer: gold.trim() };
    const found = extract(text, config);
    if (found === null) return { correct: false, extracted: null, reason: 'no answer found' };
    extracted = found.answer;
    deadline.check();
    const correct = answersEqual(g.answer, extracted, config, deadline);
    return { correct, extracted, reason: correct ? 'matches gold' : `${JSON.stringify(extracted)} does not match gold ${JSON.stringify(g.answer)}` };
  } catch (e) {
    if (e instanceof TimeoutError) return { correct: false, extracted, reason: e.message };
    return { correct: false, extracted, reason: `could not compare (${e instanceof Error ? e.message : String(e)})` };
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return 'empty';
  if (v === null) return 'null';
  return `not a string (${Array.isArray(v) ? 'array' : typeof v})`;
}
