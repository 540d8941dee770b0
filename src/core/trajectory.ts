/** Why a generation ended. */
export type FinishReason = 'stop' | 'eos' | 'length';

/**
 * One candidate solution: the steps the policy wrote after the prompt, split on the task's
 * step delimiter, with what rewards said about it. Search returns these; learning consumes them.
 */
export interface Trajectory {
  /** Solution text exactly as generated (steps joined by the delimiter). */
  text: string;
  steps: string[];
  /** Extracted final answer, or null when none was found. */
  answer: string | null;
  finishReason: FinishReason;
  outputTokens: number;
  /** Sum of the policy's log-probabilities of the generated tokens, when known. */
  logprob?: number;
  /** Process reward per step, when a PRM scored it. */
  stepScores?: number[];
  /** Aggregated reward (outcome score, or step scores aggregated). */
  score?: number;
  /** Whether the answer is correct by the task's exact verifier (filled in by evaluation). */
  correct?: boolean;
}
