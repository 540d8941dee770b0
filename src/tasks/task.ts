import type { Problem } from '../core/problem.js';
import type { Rng } from '../core/rng.js';

/** What a verifier says about one solution. */
export interface VerifyResult {
  correct: boolean;
  /** The final answer extracted from the solution, or null when none was found. */
  extracted: string | null;
  /** Why (e.g. "no answer found", "step 2: 3*4 is 12, not 13", "matches gold"). */
  reason: string;
}

/** Switchable behaviours in policy-initialization traces (roadmap §3: human-like reasoning). */
export interface Behaviours {
  /** Rate of a plan line (task decomposition / problem analysis). */
  plan: number;
  /** Rate of a check line (self-evaluation). */
  check: number;
  /** Rate of an injected mistake followed by its detection and correction (self-correction). */
  correct: number;
  /** Rate of alternative proposals (countdown: try, dead end, back up). */
  alternatives: number;
}

export const noBehaviours: Behaviours = { plan: 0, check: 0, correct: 0, alternatives: 0 };

export type Split = 'train' | 'test';

/**
 * A family of verifiable problems. Built-in tasks generate problems from a seed and write
 * reasoning traces for policy initialization; dataset tasks load problems from JSONL.
 */
export interface Task {
  readonly name: string;
  /** Separator between reasoning steps ("\n" for built-in tasks, "\n\n" for natural-language math). */
  readonly stepDelimiter: string;
  /** Characters any prompt, trace or answer can contain (the built-in tokenizer's alphabet), when closed. */
  readonly alphabet?: string;
  /** `count` problems of a split. Train and test never overlap. */
  problems(split: Split, count: number, seed: number): Problem[];
  /** Text the policy continues: the problem statement plus any task framing. */
  formatPrompt(problem: Problem): string;
  /** Exact verification of a solution (the text after the prompt). */
  verify(problem: Problem, solution: string): VerifyResult;
  /**
   * Exact check of every step of a (partial) solution, where the task can judge steps: one
   * verdict per step, judged against the problem (its numbers), so the first wrong step is known
   * (built-in tasks: the process supervision of Lightman et al. 2023 without a learned model).
   */
  checkSteps?(problem: Problem, steps: readonly string[]): boolean[];
  /** A reasoning trace for the problem (built-in tasks only). */
  trace?(problem: Problem, rng: Rng, behaviours: Behaviours): string;
  /** Behaviour rates used when the caller names none (built-in tasks only). */
  readonly defaultBehaviours?: Behaviours;
}

/** A generated task: closed alphabet, trace writer and default behaviour rates are all present. */
export type BuiltinTask = Task & Required<Pick<Task, 'alphabet' | 'trace' | 'defaultBehaviours'>>;
