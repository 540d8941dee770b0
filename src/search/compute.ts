import { addCompute, zeroCompute, type Compute } from '../core/compute.js';
import type { Usage } from '../policy/policy.js';
import type { RewardUsage } from '../reward/reward.js';
import type { Budget } from './search.js';

/**
 * Compute accounting for one search: policy and reward usage added into a `Compute`, complete
 * samples counted, and the budget checked *before* each call so a search never overspends.
 *
 * Wall time is measured with performance.now and only reported: no decision reads it, so a seed
 * reproduces a search exactly whatever the machine's speed.
 */

/** Adds a policy call's usage into `compute` (mutates and returns it). */
export function addPolicyUsage(compute: Compute, usage: Usage): Compute {
  return addCompute(compute, {
    promptTokens: usage.promptTokens,
    cachedPromptTokens: usage.cachedPromptTokens,
    outputTokens: usage.outputTokens,
    policyCalls: usage.calls,
  });
}

/** Adds a reward call's usage into `compute` (mutates and returns it). */
export function addRewardUsage(compute: Compute, usage: RewardUsage): Compute {
  return addCompute(compute, { rewardCalls: usage.calls, rewardTokens: usage.tokens });
}

export interface Remaining {
  /** Output tokens still allowed (Infinity when the budget sets none). */
  outputTokens: number;
  /** Complete samples still allowed (Infinity when the budget sets none). */
  samples: number;
}

/** What is left of `budget` after spending `compute` and producing `samples` complete samples. */
export function remaining(budget: Budget, compute: Compute, samples = 0): Remaining {
  return {
    outputTokens: budget.outputTokens === undefined ? Infinity : Math.max(0, budget.outputTokens - compute.outputTokens),
    samples: budget.samples === undefined ? Infinity : Math.max(0, budget.samples - samples),
  };
}

/** One search's running account. */
export class Meter {
  readonly compute: Compute = zeroCompute();
  /** Complete samples produced so far (trajectories that reached an end). */
  samples = 0;
  private readonly start = performance.now();

  constructor(readonly budget: Budget) {}

  policy(usage: Usage): void {
    addPolicyUsage(this.compute, usage);
  }

  reward(usage: RewardUsage): void {
    addRewardUsage(this.compute, usage);
  }

  remaining(): Remaining {
    return remaining(this.budget, this.compute, this.samples);
  }

  /**
   * maxTokens for each of `count` samples so that, even if every one runs to its cap, the total
   * stays within the output-token budget: min(maxTokens, floor(left / count)). 0 means no room.
   * With room to spare this is just maxTokens; only the last calls of a search see it shrink.
   */
  cap(count: number, maxTokens: number): number {
    if (count <= 0) return 0;
    const left = this.remaining().outputTokens;
    return Math.max(0, Math.min(maxTokens, Math.floor(left / count)));
  }

  /**
   * How many of `count` whole samples (each up to maxTokens) to draw: fewer when the budget
   * cannot hold them all at full length (a few full samples beat many truncated ones), and one
   * shortened sample when not even one full one fits. Count 0 means no room.
   */
  fit(count: number, maxTokens: number): { count: number; maxTokens: number } {
    const n = Math.min(count, this.samplesLeft());
    const left = this.remaining().outputTokens;
    if (n < 1 || left < 1) return { count: 0, maxTokens: 0 };
    const full = Math.min(n, Math.floor(left / maxTokens));
    if (full >= 1) return { count: full, maxTokens };
    return { count: 1, maxTokens: Math.min(maxTokens, left) };
  }

  /** How many more complete samples the budget allows (Infinity when uncapped). */
  samplesLeft(): number {
    return this.remaining().samples;
  }

  /** The compute spent, with wall time filled in. */
  finish(): Compute {
    this.compute.wallMs = performance.now() - this.start;
    return this.compute;
  }
}
