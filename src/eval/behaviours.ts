import type { Problem } from '../core/problem.js';
import type { Policy } from '../policy/policy.js';
import type { Task } from '../tasks/task.js';

/** What sampled solutions show of the behaviours taught at initialization (roadmap §3). */
export interface BehaviourStats {
  problems: number;
  samples: number;
  /** Mean accuracy of single samples (pass@1 estimated from N samples per problem). */
  sample_accuracy: number;
  /** Problems with at least one correct sample among N (pass@N, the oracle verifier's ceiling). */
  pass_at_n: number;
  /** Fraction of samples with a self-correction line ("... Correcting."). */
  correction_rate: number;
  /** Of the samples with a self-correction, the fraction whose final answer is right. */
  corrected_accuracy: number;
  /** Of the samples without one, the fraction whose final answer is right. */
  uncorrected_accuracy: number;
  /** Fraction of samples with a check line ("Check: ..."), a plan line, a backtrack ("back"). */
  check_rate: number;
  plan_rate: number;
  backtrack_rate: number;
  output_tokens: number;
}

const has = (text: string, re: RegExp): boolean => re.test(text);

/** Samples N solutions per problem and counts behaviours and their effect on correctness. */
export async function behaviourStats(policy: Policy, task: Task, problems: Problem[], opts: { n: number; temperature: number; maxTokens: number; seed: number; onProgress?: (done: number) => void }): Promise<BehaviourStats> {
  let samples = 0, correct = 0, passN = 0, corrections = 0, correctedRight = 0, uncorrectedRight = 0, checks = 0, plans = 0, backs = 0, tokens = 0;
  const batch = Math.max(1, Math.floor(256 / opts.n));
  for (let i = 0; i < problems.length; i += batch) {
    const chunk = problems.slice(i, i + batch);
    const r = await policy.generate({ prefixes: chunk.map((p) => task.formatPrompt(p)), n: opts.n, maxTokens: opts.maxTokens, temperature: opts.temperature, seed: opts.seed + i });
    tokens += r.usage.outputTokens;
    chunk.forEach((p, j) => {
      let any = false;
      for (const c of r.completions[j]!) {
        const ok = task.verify(p, c.text).correct;
        samples++;
        if (ok) correct++;
        any ||= ok;
        const corrected = has(c.text, /Correcting\./);
        if (corrected) {
          corrections++;
          if (ok) correctedRight++;
        } else if (ok) uncorrectedRight++;
        if (has(c.text, /^Check:/m)) checks++;
        if (has(c.text, /^Plan:/m)) plans++;
        if (has(c.text, /^back/m)) backs++;
      }
      if (any) passN++;
    });
    opts.onProgress?.(Math.min(problems.length, i + batch));
  }
  const frac = (a: number, b: number): number => (b > 0 ? Math.round((a / b) * 1000) / 1000 : 0);
  return {
    problems: problems.length,
    samples,
    sample_accuracy: frac(correct, samples),
    pass_at_n: frac(passN, problems.length),
    correction_rate: frac(corrections, samples),
    corrected_accuracy: frac(correctedRight, corrections),
    uncorrected_accuracy: frac(uncorrectedRight, samples - corrections),
    check_rate: frac(checks, samples),
    plan_rate: frac(plans, samples),
    backtrack_rate: frac(backs, samples),
    output_tokens: Math.round(tokens / Math.max(1, problems.length)),
  };
}
