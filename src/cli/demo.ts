import { join } from 'node:path';
import { z } from 'zod';
import { demoPlans, runDemo } from '../loop/demo.js';
import { formatLoopRow, loopTableHeader } from '../loop/table.js';
import { writeReport } from '../report/report.js';
import { num, parseCommand, type Command } from './args.js';
import { onInterrupt } from './interrupt.js';
import { progressPrinter } from './progress.js';

const options = {
  out: { type: 'string', default: 'runs/demo' },
  seed: { type: 'string', default: '0' },
  quick: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

const schema = z.object({
  out: z.string(),
  seed: num({ int: true, min: 0 }),
  quick: z.boolean(),
  json: z.boolean(),
});

/**
 * The main job on a fresh machine: initialize a policy on arithmetic, then let search and
 * learning teach it harder problems than its initialization showed, beside the control.
 */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'the main job (7–14 minutes on 2 cores; --quick: 2 minutes): initialize on easy arithmetic, then search + expert iteration on harder problems, against an equal-token SFT control',
  usage: 'demo [--out DIR (default runs/demo)] [--seed K] [--quick] [--json]',
  async run(argv) {
    const a = parseCommand('demo', argv, options, schema);
    const plan = demoPlans[a.quick ? 'quick' : 'default'];
    const say = (line: string): void => {
      if (!a.json) console.log(line);
    };
    say(`1. Policy initialization: a Llama-style transformer learns + and − of up to ${plan.initOptions.maxDigits} digits from reasoning traces (plan, column steps, check), with ${plan.foothold} traces one digit longer as a foothold (${join(a.out, 'init')})`);
    say(`2. The loop, ${plan.loop.iterations} iterations on fresh ${plan.trainOptions.maxDigits}-digit problems with no traces: sample ${plan.loop.budget} solutions each → keep those with the right answer and every step right → SFT (expert iteration, half the replay from the foothold); held-out evaluation each iteration (greedy on ${plan.loop.evalProblems} problems per level, samples on the first ${plan.loop.evalSampledProblems ?? plan.loop.evalProblems}); then the control (SFT on the initial data in the same mixture, same trained tokens)`);
    const stop = onInterrupt();
    let header = false;
    const summary = await runDemo({
      out: a.out, plan, seed: a.seed, onProgress: progressPrinter(), shouldStop: stop.requested,
      log: (l) => say(`   ${l}`),
      onIteration: (r) => {
        if (!header) say(`\n${loopTableHeader()}`);
        header = true;
        say(formatLoopRow(r));
      },
    });
    stop.dispose();
    const report = await writeReport([join(a.out, 'init'), summary.runDir], join(a.out, 'report.html'));
    const pts = (x: number) => `${(x * 100).toFixed(1)}%`;
    say(`\nOn held-out ${plan.harderOptions.maxDigits}-digit problems: greedy ${pts(summary.init_greedy_accuracy)} after initialization → ${pts(summary.final_greedy_accuracy)} after ${summary.iterations} iterations of search and learning; the equal-token control: ${summary.control_greedy_accuracy === null ? 'not run' : pts(summary.control_greedy_accuracy)}; majority@${plan.loop.voteN} (test-time search, no gold answer) ${pts(summary.final_search_accuracy)}. ${Math.round(summary.wall_s / 60)} min.`);
    say(`Report: ${report.path}`);
    if (a.json) {
      const { init: _i, rows: _r, runDir: _d, ...line } = summary;
      console.log(JSON.stringify({ ...line, report: report.path }));
    }
  },
};
