import type { VerifyResult } from './task.js';

/** The text after the last "Answer:" up to the end of its line, or null when there is none. */
export function lastAnswerLine(text: string): string | null {
  const i = text.lastIndexOf('Answer:');
  if (i < 0) return null;
  const rest = text.slice(i + 'Answer:'.length);
  const nl = rest.indexOf('\n');
  return (nl < 0 ? rest : rest.slice(0, nl)).trim();
}

const INTEGER = /^-?\d+$/;

/**
 * Exact integer check of a built-in task's final `Answer: N` line (the last one in the text).
 * Integers compare by value ("007" equals "7"); anything that is not an integer is wrong.
 */
export function verifyIntegerAnswer(gold: string, text: string): VerifyResult {
  const extracted = lastAnswerLine(text);
  if (extracted === null) return { correct: false, extracted: null, reason: 'no "Answer:" line' };
  if (extracted === '') return { correct: false, extracted: null, reason: 'empty answer' };
  if (!INTEGER.test(extracted)) return { correct: false, extracted, reason: `answer "${extracted}" is not an integer` };
  if (BigInt(extracted) !== BigInt(gold)) return { correct: false, extracted, reason: `answer ${extracted} is wrong (gold ${gold})` };
  return { correct: true, extracted, reason: 'matches gold' };
}
