import type { Problem } from '../core/problem.js';
import type { Policy } from '../policy/policy.js';
import type { Task } from '../tasks/task.js';

export interface GreedyEval {
  accuracy: number;
  problems: number;
  correct: number;
  outputTokens: number;
  results: { id: string; correct: boolean; extracted: string | null; text: string }[];
}

/** Greedy (temperature 0) accuracy by the task's exact verifier, prompts sent in batches. */
export async function greedyAccuracy(policy: Policy, task: Task, problems: Problem[], opts: { maxTokens: number; batch?: number; onProgress?: (done: number) => void }): Promise<GreedyEval> {
  const batch = opts.batch ?? 64;
  const results: GreedyEval['results'] = [];
  let outputTokens = 0;
  for (let i = 0; i < problems.length; i += batch) {
    const chunk = problems.slice(i, i + batch);
    const r = await policy.generate({ prefixes: chunk.map((p) => task.formatPrompt(p)), n: 1, maxTokens: opts.maxTokens, temperature: 0 });
    outputTokens += r.usage.outputTokens;
    chunk.forEach((p, j) => {
      const text = r.completions[j]![0]!.text;
      const v = task.verify(p, text);
      results.push({ id: p.id, correct: v.correct, extracted: v.extracted, text });
    });
    opts.onProgress?.(Math.min(problems.length, i + batch));
  }
  const correct = results.filter((r) => r.correct).length;
  return { accuracy: problems.length ? correct / problems.length : 0, problems: problems.length, correct, outputTokens, results };
}
