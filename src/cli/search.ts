import { appendFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { rowLabel, runSearch } from '../eval/eval.js';
import { toJsonl } from '../search/jsonl.js';
import { searchNames } from '../search/registry.js';
import { num, parseCommand, searchSpec, type Command } from './args.js';
import { heldOutProblems, policyFromFlag, policyRunOptions, policyRunShape, rewardFromFlag, sampleTokens, taskFromFlag } from './common.js';
import { Progress } from './progress.js';

const options = {
  ...policyRunOptions,
  algo: { type: 'string' },
  budget: { type: 'string', default: '8' },
  problems: { type: 'string', default: '20' },
  temperature: { type: 'string' },
  aggregation: { type: 'string' },
  dedupe: { type: 'string', default: 'true' },
} as const;

const schema = z.object({
  ...policyRunShape,
  algo: searchSpec,
  budget: num({ int: true, min: 1 }),
  problems: num({ int: true, min: 1 }),
  temperature: num({ min: 0, max: 2 }).optional(),
  aggregation: z.enum(['min', 'prod', 'last', 'mean'], { message: "expected min, prod, last or mean (default: the reward model's own)" }).optional(),
  dedupe: z.enum(['true', 'false'], { message: 'expected true or false' }).transform((v) => v === 'true'),
});

export const searchCommand: Command = {
  name: 'search',
  summary: 'run one search algorithm on held-out problems; writes each search (trajectories, tree, compute) as JSONL',
  usage: `search (--checkpoint DIR | --policy SPEC [--model NAME]) --task T [--task-option k=v ...] --algo ${searchNames.join('|')}[:key=value...] [--reward verifier|step-check|prm:DIR|orm:DIR|self-verdict|confidence[:POLICY]|pooling:URL|logprob-prm:URL|judge:URL|judge-sample:URL|SPEC+confidence[=λ]] [--budget N] [--problems K] [--temperature T (0.8)] [--aggregation min|prod|last|mean] [--dedupe true|false] [--workers N] [--out FILE.jsonl] [--json]`,
  async run(argv) {
    const a = parseCommand('search', argv, options, schema);
    const task = taskFromFlag(a.task, a['task-option']);
    const policy = await policyFromFlag(a);
    const reward = await rewardFromFlag(a.reward, task, policy);
    const problems = heldOutProblems(task, a.problems, a.seed);
    if (a.out) writeFileSync(a.out, '');
    const progress = new Progress(`${a.algo}@${a.budget}`, problems.length, 'problem');
    let correct = 0;
    const { row } = await runSearch({
      task, policy, reward, algo: a.algo, budget: a.budget, problems, maxTokens: sampleTokens(task, policy), seed: a.seed, dedupe: a.dedupe,
      ...(a.temperature !== undefined ? { temperature: a.temperature } : {}),
      ...(a.aggregation ? { aggregation: a.aggregation } : {}),
      onResult: (r, i) => {
        if (r.correct) correct++;
        // One line per search, appended as it finishes: a stopped run keeps what it found.
        if (a.out) appendFileSync(a.out, toJsonl({ ...r }) + '\n');
        progress.update(i + 1, { acc: correct / (i + 1) });
        if (!a.json && problems.length <= 5) console.log(`${r.problemId}: answer ${JSON.stringify(r.answer)} (${r.correct ? 'correct' : 'wrong'}), ${r.trajectories.length} trajectories, ${r.compute.outputTokens} output tokens`);
      },
    });
    progress.done({ acc: row.accuracy });
    if (a.json) console.log(JSON.stringify(row));
    else console.log(`${rowLabel(row)} at budget ${a.budget} on ${row.problems} ${task.name} problems: accuracy ${(row.accuracy * 100).toFixed(1)}%, ${row.output_tokens} output tokens, ${row.reward_calls} reward calls per problem (reward ${row.reward}${row.oracle ? ', ORACLE: reads the gold answer' : ''})${a.out ? `; searches in ${a.out}` : ''}`);
  },
};
