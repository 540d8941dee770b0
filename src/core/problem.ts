/** One verifiable problem. `answer` is the gold final answer as text (e.g. "42", "\\frac{1}{2}"). */
export interface Problem {
  id: string;
  /** The question as the user states it (no solution). */
  prompt: string;
  /** Gold final answer. */
  answer: string;
  /** Task-specific data (e.g. countdown numbers and target, a dataset's full reference solution). */
  meta?: Record<string, unknown>;
}
