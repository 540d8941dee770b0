import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { formatTable } from '../eval/eval.js';
import { runTable } from '../eval/table.js';
import { behaviourStats } from '../eval/behaviours.js';
import { greedyAccuracy } from '../eval/greedy.js';
import { makeDirs } from '../learn/run-dir.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { searchFileName, toJsonl } from '../search/jsonl.js';
import { CliError, list, num, parseCommand, searchSpec, type Command } from './args.js';
import { heldOutProblems, policyFromFlag, policyRunOptions, policyRunShape, rewardFromFlag, sampleTokens, taskFromFlag } from './common.js';
import { Progress } from './progress.js';

const options = {
  ...policyRunOptions,
  algos: { type: 'string' },
  budgets: { type: 'string', default: '1,4,16' },
  problems: { type: 'string', default: '100' },
  samples: { type: 'string' },
  temperature: { type: 'string' },
  aggregation: { type: 'string' },
  dedupe: { type: 'string', default: 'true' },
  concurrency: { type: 'string' },
} as const;

const schema = z.object({
  ...policyRunShape,
  algos: list(searchSpec).optional(),
  budgets: list(z.string().regex(/^[1-9][0-9]*$/, { message: 'budgets must be positive integers, e.g. 1,4,16,64' }).transform(Number)),
  problems: num({ int: true, min: 1 }),
  samples: num({ int: true, min: 1, max: 256 }).optional(),
  temperature: num({ min: 0, max: 2 }).optional(),
  aggregation: z.enum(['min', 'prod', 'last', 'mean'], { message: 'expected min, prod, last or mean (default: the reward model\'s own)' }).optional(),
  dedupe: z.enum(['true', 'false'], { message: 'expected true or false' }).transform((v) => v === 'true'),
  concurrency: num({ int: true, min: 1, max: 64 }).optional(),
});

/**
 * Problems searched at once when --concurrency is not given: with engine workers, two problems
 * per engine, so that their requests arrive together and go whole to different engines
 * (ParallelGenerator); a lone 16-sample request is too small to split. One engine: one problem
 * at a time (interleaving problems on one engine was slower, measured busy: 33.9 s against 27.1 s).
 */
function defaultConcurrency(policy: unknown): number {
  return policy instanceof BuiltinPolicy && policy.parallel ? 2 * (1 + policy.parallel.pool.workers) : 1;
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'held-out accuracy: greedy, or a table of search algorithms × budgets (accuracy, measured tokens, reward calls; oracle rewards labelled)',
  usage:
    'eval (--checkpoint DIR | --policy SPEC [--model NAME]) --task T [--task-option k=v ...] [--problems K] [--samples N [--temperature T (1)]] [--algos a[:key=value...],b,c --budgets 1,4,16,64 --reward verifier|step-check|prm:DIR|orm:DIR|self-verdict|confidence[:POLICY]|pooling:URL|logprob-prm:URL|judge:URL|judge-sample:URL|SPEC+confidence[=λ] [--temperature T (0.8)] [--aggregation min|prod|last|mean] [--dedupe true|false] [--concurrency C (4 with a second core, else 1)]] [--workers N] [--out DIR] [--json]',
  async run(argv) {
    const a = parseCommand('eval', argv, options, schema);
    const task = taskFromFlag(a.task, a['task-option']);
    const policy = await policyFromFlag(a);
    const problems = heldOutProblems(task, a.problems, a.seed);
    const maxTokens = sampleTokens(task, policy);
    if (a.out) {
      try {
        makeDirs(a.out);
      } catch (e) {
        throw new CliError(`eval: --out ${JSON.stringify(a.out)}: ${(e as Error).message.split('\n')[0]} (expected a directory to write eval.jsonl into)`);
      }
    }
    if (a.samples !== undefined) {
      if (a.algos) throw new CliError('eval: --samples and --algos are separate modes (behaviour statistics, or a search table)');
      const temperature = a.temperature ?? 1;
      const progress = new Progress('sample', problems.length, 'problem');
      const st = await behaviourStats(policy, task, problems, { n: a.samples, temperature, maxTokens, seed: a.seed, onProgress: (d) => progress.update(d) });
      progress.done();
      if (a.json) console.log(JSON.stringify(st));
      else {
        console.log(`${a.samples} samples per problem at temperature ${temperature} on ${st.problems} held-out ${task.name} problems:`);
        console.log(`  sample accuracy ${(st.sample_accuracy * 100).toFixed(1)}%, oracle pass@${a.samples} ${(st.pass_at_n * 100).toFixed(1)}% (reads the gold answer)`);
        console.log(`  self-correction in ${(st.correction_rate * 100).toFixed(1)}% of samples; those end correct ${(st.corrected_accuracy * 100).toFixed(1)}% of the time (samples without one: ${(st.uncorrected_accuracy * 100).toFixed(1)}%)`);
        console.log(`  check lines ${(st.check_rate * 100).toFixed(1)}%, plan lines ${(st.plan_rate * 100).toFixed(1)}%, backtracks ${(st.backtrack_rate * 100).toFixed(1)}%`);
      }
      return;
    }
    if (!a.algos) {
      const progress = new Progress('eval', problems.length, 'problem');
      const r = await greedyAccuracy(policy, task, problems, { maxTokens, onProgress: (d) => progress.update(d) });
      progress.done({ accuracy: r.accuracy });
      if (a.out) writeFileSync(join(a.out, 'greedy.jsonl'), r.results.map((x) => JSON.stringify(x)).join('\n') + '\n');
      if (!a.json) console.log(`greedy accuracy on ${r.problems} held-out ${task.name} problems: ${(r.accuracy * 100).toFixed(1)}% (${r.correct}/${r.problems}), ${Math.round(r.outputTokens / Math.max(1, r.problems))} output tokens per problem`);
      else console.log(JSON.stringify({ accuracy: r.accuracy, problems: r.problems, output_tokens: Math.round(r.outputTokens / Math.max(1, r.problems)) }));
      return;
    }
    const reward = await rewardFromFlag(a.reward, task, policy);
    if (a.out) {
      makeDirs(join(a.out, 'search'));
      writeFileSync(join(a.out, 'eval.jsonl'), '');
    }
    let progress: Progress | null = null;
    let searchFile: string | null = null;
    let correct = 0;
    const rows = await runTable({
      task, policy, reward, algos: a.algos, budgets: a.budgets, problems, maxTokens, seed: a.seed, concurrency: a.concurrency ?? defaultConcurrency(policy), dedupe: a.dedupe,
      ...(a.temperature !== undefined ? { temperature: a.temperature } : {}),
      ...(a.aggregation ? { aggregation: a.aggregation } : {}),
      onCellStart: (algo, budget) => {
        progress = new Progress(`${algo}@${budget}`, problems.length, 'problem');
        searchFile = a.out ? join(a.out, 'search', searchFileName(algo, budget)) : null;
        if (searchFile) writeFileSync(searchFile, '');
        correct = 0;
      },
      onResult: (_algo, _budget, r, _i, done) => {
        if (r.correct) correct++;
        // One line per search as it finishes: a stopped run keeps what it found.
        if (searchFile) appendFileSync(searchFile, toJsonl(r) + '\n');
        progress!.update(done, { acc: correct / done });
      },
      onRow: (row) => {
        progress!.done({ acc: row.accuracy });
        if (a.out) appendFileSync(join(a.out, 'eval.jsonl'), JSON.stringify(row) + '\n');
      },
    });
    const report = a.out ? await (await import('../report/report.js')).writeReport([a.out], join(a.out, 'report.html')) : null;
    if (!a.json) {
      console.log(`${task.name}, ${problems.length} held-out problems, reward ${reward.id}${reward.oracle ? ' (ORACLE: reads the gold answer)' : ''}\n${formatTable(rows)}`);
      if (a.out) console.log(`rows in ${join(a.out, 'eval.jsonl')}, searches in ${join(a.out, 'search')}/, report ${report!.path}`);
    } else console.log(JSON.stringify({ rows, ...(report ? { report: report.path } : {}) }));
  },
};
