/**
 * Compute spent by a search or an evaluation. Output tokens are the x-axis of every
 * scaling plot (as in search-and-learn and Snell et al. 2024, "Scaling LLM test-time compute").
 */
export interface Compute {
  promptTokens: number;
  /** Prompt tokens served from a cache (prefix sharing); counted inside promptTokens too. */
  cachedPromptTokens: number;
  outputTokens: number;
  policyCalls: number;
  rewardCalls: number;
  /** Tokens scored by reward models (process or outcome). */
  rewardTokens: number;
  wallMs: number;
}

export function zeroCompute(): Compute {
  return { promptTokens: 0, cachedPromptTokens: 0, outputTokens: 0, policyCalls: 0, rewardCalls: 0, rewardTokens: 0, wallMs: 0 };
}

/** Adds b into a (mutates a) and returns a. */
export function addCompute(a: Compute, b: Partial<Compute>): Compute {
  a.promptTokens += b.promptTokens ?? 0;
  a.cachedPromptTokens += b.cachedPromptTokens ?? 0;
  a.outputTokens += b.outputTokens ?? 0;
  a.policyCalls += b.policyCalls ?? 0;
  a.rewardCalls += b.rewardCalls ?? 0;
  a.rewardTokens += b.rewardTokens ?? 0;
  a.wallMs += b.wallMs ?? 0;
  return a;
}
