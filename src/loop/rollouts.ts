import { zeroCompute } from '../core/compute.js';
import type { OnProgress } from '../core/progress.js';
import type { Problem } from '../core/problem.js';
import type { Policy } from '../policy/policy.js';
import type { SearchResult } from '../search/search.js';
import { makeTrajectory } from '../search/trajectories.js';
import type { Task } from '../tasks/task.js';

export interface RolloutOptions {
  /** Samples per problem. */
  n: number;
  temperature: number;
  maxTokens: number;
  seed: number;
  /** Sequences per policy call (prompts × n): large batches keep the engine's GEMMs wide. Default 256. */
  batchSequences?: number;
  onProgress?: OnProgress;
  stage?: string;
}

/**
 * Independent samples for many problems at once, as one SearchResult per problem (algo
 * 'sample', no selection): the loop's plain-sampling data source and the evaluation's pass@k
 * samples. Batched across problems, which per-problem best-of-N cannot do, so it costs a few
 * large policy calls instead of one small call per problem.
 */
export async function sampleProblems(policy: Policy, task: Task, problems: readonly Problem[], o: RolloutOptions): Promise<SearchResult[]> {
  const per = Math.max(1, Math.floor((o.batchSequences ?? 256) / o.n));
  const out: SearchResult[] = [];
  o.onProgress?.({ stage: o.stage ?? 'sample', done: 0, total: problems.length, unit: 'problem' });
  for (let i = 0; i < problems.length; i += per) {
    const chunk = problems.slice(i, i + per);
    const t0 = performance.now();
    const res = await policy.generate({ prefixes: chunk.map((p) => task.formatPrompt(p)), n: o.n, maxTokens: o.maxTokens, temperature: o.temperature, seed: o.seed + i });
    const ms = performance.now() - t0;
    chunk.forEach((p, j) => {
      const trajectories = res.completions[j]!.map((c) => makeTrajectory(task, p, c.text, c.finishReason, c.tokens));
      const outputTokens = trajectories.reduce((s, t) => s + t.outputTokens, 0);
      const compute = { ...zeroCompute(), outputTokens, promptTokens: Math.round(res.usage.promptTokens / chunk.length), cachedPromptTokens: Math.round(res.usage.cachedPromptTokens / chunk.length), policyCalls: 1 / chunk.length, wallMs: ms / chunk.length };
      out.push({ problemId: p.id, algo: 'sample', answer: null, best: null, trajectories, compute });
    });
    o.onProgress?.({ stage: o.stage ?? 'sample', done: Math.min(problems.length, i + per), total: problems.length, unit: 'problem' });
  }
  return out;
}
