import { z } from 'zod';
import { formatTable, runSearch, type EvalRow } from '../eval/eval.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { createVerifierReward } from '../reward/verifier.js';
import { arithTask } from '../tasks/arith.js';
import { num, parseCommand, type Command } from './args.js';
import { kernelsSchema } from './common.js';
import { initPolicy } from '../learn/init-policy.js';
import { loadModel } from '../nn/model-io.js';
import { kernelsFor } from '../nn/engine.js';
import { Progress } from './progress.js';

const options = {
  out: { type: 'string', default: 'runs/demo' },
  steps: { type: 'string', default: '600' },
  problems: { type: 'string', default: '40' },
  budget: { type: 'string', default: '8' },
  seed: { type: 'string', default: '0' },
  kernels: { type: 'string', default: 'fast' },
} as const;

const schema = z.object({
  out: z.string(),
  steps: num({ int: true, min: 1 }),
  problems: num({ int: true, min: 1 }),
  budget: num({ int: true, min: 1 }),
  seed: num({ int: true, min: 0 }),
  kernels: kernelsSchema,
});

/**
 * The main job on a fresh machine, in a few minutes: policy initialization on arithmetic
 * traces with human-like behaviours, held-out greedy accuracy, samples that show the
 * behaviours, and search against sampling at equal compute (the roadmap's loop, small).
 */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'the main job in a few minutes: initialize a policy on arithmetic, then compare search with sampling',
  usage: 'demo [--out DIR (default runs/demo)] [--steps N] [--problems K] [--budget N] [--seed K]',
  async run(argv) {
    const a = parseCommand('demo', argv, options, schema);
    const task = arithTask();
    console.log(`1. Policy initialization: a Llama-style transformer learns arithmetic from reasoning traces (plan, check, self-correction) in ${a.out}`);
    const init = await initPolicy({
      task, behaviours: task.defaultBehaviours, out: a.out, steps: a.steps, seed: a.seed, size: 'demo', batchSize: 32, lr: 3e-3,
      trainProblems: 20000, evalProblems: a.problems, kernels: a.kernels,
    });
    console.log(`   trained ${init.steps} steps at ${init.tokens_per_s} tokens/s; final loss ${init.loss}; held-out greedy accuracy ${(init.accuracy * 100).toFixed(1)}%`);

    const { model, tokenizer } = loadModel(a.out, kernelsFor(a.kernels));
    const policy = new BuiltinPolicy(model, tokenizer);
    const problems = task.problems('test', a.problems, a.seed);
    console.log('\n2. Samples at temperature 0.8 (reasoning steps, one per line):');
    const shown = problems.slice(0, 2);
    const samples = await policy.generate({ prefixes: shown.map((p) => task.formatPrompt(p)), n: 1, maxTokens: 200, temperature: 0.8, seed: a.seed });
    shown.forEach((p, i) => {
      const text = samples.completions[i]![0]!.text;
      const v = task.verify(p, text);
      console.log(`${task.formatPrompt(p)}${text}\n   -> ${v.correct ? 'correct' : `wrong (${v.reason})`}\n`);
    });

    console.log(`3. Test-time search at budget ${a.budget} (samples' worth of output tokens) on ${problems.length} held-out problems, outcome reward = the exact verifier:`);
    const reward = createVerifierReward(task);
    const rows: EvalRow[] = [];
    for (const [algo, budget] of [['greedy', 1], ['majority', a.budget], ['best-of-n', a.budget], ['revision', a.budget]] as const) {
      const progress = new Progress(`   ${algo}@${budget}`, problems.length, 'problem');
      const { row } = await runSearch({ task, policy, reward, algo, budget, problems, maxTokens: 200, seed: a.seed, onResult: (_r, i) => progress.update(i + 1) });
      progress.done({ acc: row.accuracy });
      rows.push(row);
    }
    console.log(formatTable(rows));
    const greedyRow = rows[0]!;
    const best = rows.slice(1).reduce((x, y) => (y.accuracy > x.accuracy ? y : x));
    console.log(`\nBest search: ${best.output_tokens} output tokens per problem give ${(best.accuracy * 100).toFixed(1)}% (${best.algo}) against ${(greedyRow.accuracy * 100).toFixed(1)}% for greedy decoding at ${greedyRow.output_tokens}.`);
    console.log(`Next: searchlearn eval --checkpoint ${a.out} --task arith --algos greedy,majority,best-of-n --budgets 1,4,16`);
  },
};
