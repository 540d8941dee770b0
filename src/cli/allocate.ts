import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { defaultAllocationConfig, difficultyByDigits, difficultyByProbes, fitAllocator, formatSweep, runAllocated, sweepAllocation, type DifficultyFn } from '../eval/allocation.js';
import { formatTable, runSearch, type EvalRow } from '../eval/eval.js';
import type { RewardModel } from '../reward/reward.js';
import { searchNames } from '../search/registry.js';
import type { Task } from '../tasks/task.js';
import type { Policy } from '../policy/policy.js';
import { CliError, list, num, parseCommand, type Command } from './args.js';
import { heldOutProblems, policyFromFlag, policyRunOptions, policyRunShape, rewardFromFlag, sampleTokens, taskFromFlag } from './common.js';
import { Progress } from './progress.js';

const options = {
  ...policyRunOptions,
  budgets: { type: 'string', default: defaultAllocationConfig.budgets.join(',') },
  splits: { type: 'string', default: defaultAllocationConfig.splits.join(',') },
  difficulty: { type: 'string', default: 'agreement' },
  probes: { type: 'string', default: '4' },
  tolerance: { type: 'string', default: String(defaultAllocationConfig.tolerance) },
  'calibration-problems': { type: 'string', default: '100' },
  problems: { type: 'string', default: '100' },
} as const;

const schema = z.object({
  ...policyRunShape,
  budgets: list(z.string().regex(/^[1-9][0-9]*$/, { message: 'budgets must be positive integers, e.g. 4,16,64' }).transform(Number)),
  splits: list(z.enum(searchNames as [string, ...string[]], { message: `expected algorithms from ${searchNames.join(', ')}` })),
  difficulty: z.enum(['digits', 'agreement', 'reward'], { message: 'expected digits (arith operand digits), agreement (probe answers agree) or reward (probes the reward passes)' }),
  probes: num({ int: true, min: 1, max: 64 }),
  tolerance: num({ min: 0, max: 1 }),
  'calibration-problems': num({ int: true, min: 1 }),
  problems: num({ int: true, min: 1 }),
});

export const allocateCommand: Command = {
  name: 'allocate',
  summary: 'compute-optimal allocation (Snell et al. 2024): sweep parallel vs sequential splits per difficulty bin, then allocate by predicted difficulty',
  usage: 'allocate --checkpoint DIR --task T [--reward verifier|step-check|prm:DIR|orm:DIR|self-verdict|confidence[:POLICY]|SPEC+confidence[=λ]] [--difficulty digits|agreement|reward] [--budgets 4,16] [--splits majority,hybrid,revision] [--calibration-problems K] [--problems K] [--json]',
  async run(argv) {
    const a = parseCommand('allocate', argv, options, schema);
    const task = taskFromFlag(a.task, a['task-option']);
    if (a.difficulty === 'digits' && task.name !== 'arith') throw new CliError(`allocate: --difficulty digits reads arith operands; for ${task.name} use agreement or reward`);
    const policy = await policyFromFlag(a);
    const reward = await rewardFromFlag(a.reward, task, policy);
    const maxTokens = sampleTokens(task, policy);
    let calibration;
    try {
      calibration = task.problems('train', a['calibration-problems'], a.seed);
    } catch (e) {
      throw new CliError(`--task ${task.name}: ${(e as Error).message}`);
    }
    const test = heldOutProblems(task, a.problems, a.seed);
    const difficulty: DifficultyFn =
      a.difficulty === 'digits' ? difficultyByDigits : difficultyByProbes({ task, policy, k: a.probes, maxTokens, seed: a.seed, judge: a.difficulty === 'agreement' ? 'agreement' : reward });
    const config = { budgets: a.budgets, splits: a.splits, tolerance: a.tolerance };
    const calBins = await difficulty(calibration);
    const progress = new Progress('sweep', a.budgets.length * a.splits.length, 'arm');
    let done = 0;
    const cells = await sweepAllocation({ task, policy, reward, problems: calibration, bins: calBins.map((d) => d.bin), maxTokens, seed: a.seed, config, onArm: () => progress.update(++done) });
    progress.done();
    const maxBudget = Math.max(...a.budgets);
    const allocator = fitAllocator(cells, { tolerance: a.tolerance, maxBudget });
    const testBins = await difficulty(test);
    const allocatedBar = new Progress('allocated', test.length, 'problem');
    const allocated = await runAllocated({ task, policy, reward, problems: test, allocator, difficulty: testBins, maxTokens, seed: a.seed, onProblem: (d) => allocatedBar.update(d) });
    allocatedBar.done({ acc: allocated.accuracy });
    // Uniform baselines on the same held-out problems: every split at every budget.
    const rows: EvalRow[] = [];
    for (const budget of a.budgets) {
      for (const algo of a.splits) {
        const bar = new Progress(`${algo}@${budget}`, test.length, 'problem');
        const { row } = await runSearch({ task, policy, reward, algo, budget, problems: test, maxTokens, seed: a.seed, onResult: (_r, _i, d) => bar.update(d) });
        bar.done({ acc: row.accuracy });
        rows.push(row);
      }
    }
    const result = { reward: reward.id, difficulty: a.difficulty, cells, allocator, allocated, rows };
    if (a.out) writeFileSync(a.out, JSON.stringify(result) + '\n');
    if (a.json) return console.log(JSON.stringify(result));
    console.log(`${task.name}: sweep on ${calibration.length} train problems, difficulty by ${a.difficulty}, reward ${reward.id}\n${formatSweep(cells)}\n`);
    console.log(`allocator (tolerance ${a.tolerance}, budget ≤ ${maxBudget}): ${Object.entries(allocator.arms).map(([bin, arm]) => `${bin} → ${arm.algo}@${arm.budget}`).join(', ')}; unseen bins → ${allocator.fallback.algo}@${allocator.fallback.budget}\n`);
    console.log(`held-out ${test.length} problems:\n${formatTable(rows)}`);
    console.log(`allocated: accuracy ${(allocated.accuracy * 100).toFixed(1)}%, ${allocated.output_tokens.toFixed(0)} output tokens/problem (${allocated.probe_tokens.toFixed(0)} of them probes); arms used ${JSON.stringify(allocated.usage)}`);
  },
};
