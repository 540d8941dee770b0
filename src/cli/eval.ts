import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { formatTable, runSearch, type EvalRow } from '../eval/eval.js';
import { behaviourStats } from '../eval/behaviours.js';
import { greedyAccuracy } from '../eval/greedy.js';
import { searchNames } from '../search/registry.js';
import { CliError, list, num, parseCommand, type Command } from './args.js';
import { heldOutProblems, policyFromFlag, policyRunOptions, policyRunShape, rewardFromFlag, sampleTokens, taskFromFlag } from './common.js';
import { Progress } from './progress.js';

const options = {
  ...policyRunOptions,
  algos: { type: 'string' },
  budgets: { type: 'string', default: '1,4,16' },
  problems: { type: 'string', default: '100' },
  samples: { type: 'string' },
  temperature: { type: 'string', default: '1' },
} as const;

const schema = z.object({
  ...policyRunShape,
  algos: list(z.enum(searchNames as [string, ...string[]], { message: `expected algorithms from ${searchNames.join(', ')}` })).optional(),
  budgets: list(z.string().regex(/^[1-9][0-9]*$/, { message: 'budgets must be positive integers, e.g. 1,4,16,64' }).transform(Number)),
  problems: num({ int: true, min: 1 }),
  samples: num({ int: true, min: 1, max: 256 }).optional(),
  temperature: num({ min: 0 }),
});

export const evalCommand: Command = {
  name: 'eval',
  summary: 'held-out accuracy: greedy, or a table of search algorithms × budgets (accuracy and output tokens)',
  usage: 'eval --checkpoint DIR --task T [--problems K] [--samples N --temperature T] [--algos a,b,c --budgets 1,4,16,64 --reward verifier|prm:DIR|orm:DIR] [--out FILE.jsonl] [--json]',
  async run(argv) {
    const a = parseCommand('eval', argv, options, schema);
    const task = taskFromFlag(a.task, a['task-option']);
    const policy = policyFromFlag(a.checkpoint, a.kernels);
    const problems = heldOutProblems(task, a.problems, a.seed);
    const maxTokens = sampleTokens(task, policy);
    if (a.samples !== undefined) {
      if (a.algos) throw new CliError('eval: --samples and --algos are separate modes (behaviour statistics, or a search table)');
      const progress = new Progress('sample', problems.length, 'problem');
      const st = await behaviourStats(policy, task, problems, { n: a.samples, temperature: a.temperature, maxTokens, seed: a.seed, onProgress: (d) => progress.update(d) });
      progress.done();
      if (a.json) console.log(JSON.stringify(st));
      else {
        console.log(`${a.samples} samples per problem at temperature ${a.temperature} on ${st.problems} held-out ${task.name} problems:`);
        console.log(`  sample accuracy ${(st.sample_accuracy * 100).toFixed(1)}%, pass@${a.samples} ${(st.pass_at_n * 100).toFixed(1)}%`);
        console.log(`  self-correction in ${(st.correction_rate * 100).toFixed(1)}% of samples; those end correct ${(st.corrected_accuracy * 100).toFixed(1)}% of the time (samples without one: ${(st.uncorrected_accuracy * 100).toFixed(1)}%)`);
        console.log(`  check lines ${(st.check_rate * 100).toFixed(1)}%, plan lines ${(st.plan_rate * 100).toFixed(1)}%, backtracks ${(st.backtrack_rate * 100).toFixed(1)}%`);
      }
      return;
    }
    if (!a.algos) {
      const progress = new Progress('eval', problems.length, 'problem');
      const r = await greedyAccuracy(policy, task, problems, { maxTokens, onProgress: (d) => progress.update(d) });
      progress.done({ accuracy: r.accuracy });
      if (a.out) writeFileSync(a.out, r.results.map((x) => JSON.stringify(x)).join('\n') + '\n');
      if (!a.json) console.log(`greedy accuracy on ${r.problems} held-out ${task.name} problems: ${(r.accuracy * 100).toFixed(1)}% (${r.correct}/${r.problems}), ${Math.round(r.outputTokens / Math.max(1, r.problems))} output tokens per problem`);
      else console.log(JSON.stringify({ accuracy: r.accuracy, problems: r.problems, output_tokens: Math.round(r.outputTokens / Math.max(1, r.problems)) }));
      return;
    }
    const reward = await rewardFromFlag(a.reward, task);
    const rows: EvalRow[] = [];
    const lines: string[] = [];
    for (const algo of a.algos) {
      for (const budget of algo === 'greedy' ? [1] : a.budgets) {
        const progress = new Progress(`${algo}@${budget}`, problems.length, 'problem');
        let correct = 0;
        const { row } = await runSearch({
          task, policy, reward, algo, budget, problems, maxTokens, seed: a.seed,
          onResult: (r, i) => {
            if (r.correct) correct++;
            if (a.out) lines.push(JSON.stringify({ budget, ...r }));
            progress.update(i + 1, { acc: correct / (i + 1) });
          },
        });
        progress.done({ acc: row.accuracy });
        rows.push(row);
      }
    }
    if (a.out) writeFileSync(a.out, lines.join('\n') + '\n');
    if (!a.json) console.log(`${task.name}, ${problems.length} held-out problems, reward ${reward.id}\n${formatTable(rows)}`);
    else console.log(JSON.stringify({ rows }));
  },
};
