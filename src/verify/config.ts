/**
 * Options of the math verifier, with the defaults the field's graders use. Each option
 * names the peer whose behaviour it follows; `defaultVerifyConfig` is what `verify()` and
 * `searchlearn verify` use unless told otherwise.
 */

/** Where a final answer may be found in free text, in order of preference. */
export type ExtractionStep =
  /** The last `\boxed{}` / `\fbox{}` (with the boxes just before it when they are joined by "and" or commas). */
  | 'boxed'
  /** An explicit answer marker: "final answer is", "the answer is", "Answer:", GSM8K's `####`, in several languages. */
  | 'marker'
  /** The last bold markdown span (`**66**`) that holds a number or math. */
  | 'bold'
  /** The rightmost LaTeX math span (`$…$`, `\(…\)`, `\[…\]`) or plain number, whichever ends last (Math-Verify's last resort). */
  | 'last';

export interface VerifyConfig {
  /** Extraction steps tried in order; the first that yields an answer wins. */
  extraction: ExtractionStep[];
  /**
   * How a percent sign is read.
   * - `either`: with `%` on either side, x, x/100 and x·100 all match (the Qwen2.5-Math grader's
   *   `include_percentage`, limited to answers that carry a percent sign);
   * - `value`: `x%` is the number x/100 (Math-Verify, lighteval);
   * - `ignore`: the sign is dropped, so 50% = 50 (MATH's `strip_string`).
   */
  percent: 'either' | 'value' | 'ignore';
  /**
   * Units and words after a number. `lenient` drops known unit words and `\text{…}` after a
   * value (MATH, Math-Verify); `strict` keeps them, so `5 cm` ≠ `5 m` and `5 cm` ≠ `5`.
   */
  units: 'lenient' | 'strict';
  /**
   * Decimal places to which two numbers are rounded before comparing when either is written
   * as a decimal (Math-Verify's `float_rounding`, default 6): 0.333333 = 1/3, 0.333 ≠ 1/3.
   */
  floatRounding: number;
  /** Relative tolerance for exact values computed in floating point (`\sqrt{8}` vs `2\sqrt{2}`). */
  relativeTolerance: number;
  /**
   * Whether `x = 5` matches `5` (Math-Verify, MATH's `strip_string`, Qwen2.5-Math: yes). Only an
   * equation whose left side is a name or other symbols (`x`, `f(x)`, `|AB|`, `(p,q)`) states a value.
   */
  equationMatchesValue: boolean;
  /**
   * Whether a relation in the prediction may match a set in the gold (`-2 ≤ x ≤ 7` for gold
   * `[-2,7]`). Off by default as in Math-Verify: a model that copies the inequality from the
   * question has not solved it. A relation in the gold always matches a set in the prediction.
   */
  allowSetRelation: boolean;
  /** Time budget for one verification in milliseconds; past it the answer is judged wrong with a reason. */
  timeoutMs: number;
  /**
   * Option texts of a multiple-choice question, in letter order (A, B, …). When given, a
   * prediction that states an option's text matches that option's letter.
   */
  choices?: string[];
}

export const defaultVerifyConfig = {
  extraction: ['boxed', 'marker', 'bold', 'last'],
  percent: 'either',
  units: 'lenient',
  floatRounding: 6,
  relativeTolerance: 1e-9,
  equationMatchesValue: true,
  allowSetRelation: false,
  timeoutMs: 1000,
} satisfies VerifyConfig;

/** The defaults with `options` laid over them. */
export function resolveConfig(options?: Partial<VerifyConfig>): VerifyConfig {
  return options === undefined ? defaultVerifyConfig : { ...defaultVerifyConfig, ...options };
}
