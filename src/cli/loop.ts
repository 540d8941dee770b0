import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseLoopConfig, type LoopConfig } from '../loop/config.js';
import { loopStart, runLoop, type IterationRow } from '../loop/loop.js';
import { formatLoopRow, loopTableHeader } from '../loop/table.js';
import { goldFreeCheckers } from '../reward/verifier.js';
import { writeReport } from '../report/report.js';
import { CliError, parseCommand, type Command } from './args.js';
import { parseTaskOptions } from './common.js';
import { onInterrupt } from './interrupt.js';
import { progressPrinter } from './progress.js';

const options = {
  task: { type: 'string' },
  'task-option': { type: 'string', multiple: true },
  init: { type: 'string' },
  out: { type: 'string' },
  config: { type: 'string' },
  learner: { type: 'string' },
  search: { type: 'string' },
  budget: { type: 'string' },
  reward: { type: 'string' },
  'refresh-prm': { type: 'boolean' },
  iterations: { type: 'string' },
  'train-option': { type: 'string', multiple: true },
  'eval-option': { type: 'string', multiple: true },
  problems: { type: 'string' },
  steps: { type: 'string' },
  replay: { type: 'string' },
  'replay-foothold': { type: 'string' },
  'past-rounds': { type: 'string' },
  temperature: { type: 'string' },
  'eval-problems': { type: 'string' },
  'eval-samples': { type: 'string' },
  'eval-sampled-problems': { type: 'string' },
  'no-control': { type: 'boolean' },
  seed: { type: 'string' },
  'train-cmd': { type: 'string' },
  'export-format': { type: 'string' },
  'train-timeout': { type: 'string' },
  policy: { type: 'string' },
  model: { type: 'string' },
  'health-url': { type: 'string' },
  'serve-timeout': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

const schema = z.object({
  task: z.string().optional(),
  'task-option': z.array(z.string()).optional(),
  init: z.string().optional(),
  out: z.string({ message: 'required: the run directory to write' }),
  config: z.string().optional(),
  learner: z.string().optional(),
  search: z.string().optional(),
  budget: z.string().optional(),
  reward: z.string().optional(),
  'refresh-prm': z.boolean().optional(),
  iterations: z.string().optional(),
  'train-option': z.array(z.string()).optional(),
  'eval-option': z.array(z.string()).optional(),
  problems: z.string().optional(),
  steps: z.string().optional(),
  replay: z.string().optional(),
  'replay-foothold': z.string().optional(),
  'past-rounds': z.string().optional(),
  temperature: z.string().optional(),
  'eval-problems': z.string().optional(),
  'eval-samples': z.string().optional(),
  'eval-sampled-problems': z.string().optional(),
  'no-control': z.boolean().optional(),
  seed: z.string().optional(),
  'train-cmd': z.string().optional(),
  'export-format': z.string().optional(),
  'train-timeout': z.string().optional(),
  policy: z.string().optional(),
  model: z.string().optional(),
  'health-url': z.string().optional(),
  'serve-timeout': z.string().optional(),
  json: z.boolean(),
});

/** Numbers as the schema expects them (flags arrive as text; the config schema names a bad one). */
const numeric = (v: string | undefined): number | string | undefined => (v === undefined ? undefined : v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);

export const loopCommand: Command = {
  name: 'loop',
  summary: 'the search ↔ learning loop: training-time search → data → learner update → held-out evaluation, per iteration, with an equal-token SFT control',
  usage: 'loop (--init RUN | --policy openai:URL --learner external --task T [--task-option key=value ...]) --out RUN [--task T] [--learner sft|dpo|ppo|grpo|external] [--train-cmd CMD] [--export-format trl-sft|trl-dpo|trl-prm|openrlhf-sft|openrlhf-dpo|verl] [--train-timeout S] [--policy builtin|openai:URL[,URL...]] [--model NAME] [--health-url URL] [--serve-timeout S] [--search sample|ALGO] [--budget N] [--reward verifier|majority|step-check|prm:DIR] [--refresh-prm] [--iterations K] [--train-option key=value ...] [--eval-option key=value ...] [--problems P] [--steps S] [--replay R] [--replay-foothold SHARE] [--past-rounds K] [--config FILE] [--no-control] [--json]',
  async run(argv) {
    const a = parseCommand('loop', argv, options, schema);
    let fileConfig: Record<string, unknown> = {};
    if (a.config) {
      if (!existsSync(a.config)) throw new CliError(`loop: --config ${JSON.stringify(a.config)}: no such file`);
      try {
        fileConfig = JSON.parse(readFileSync(a.config, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new CliError(`loop: --config ${a.config}: invalid JSON (${(e as Error).message})`);
      }
    }
    const flags: Record<string, unknown> = {
      learner: a.learner, search: a.search, budget: numeric(a.budget), reward: a.reward, refreshPrm: a['refresh-prm'], iterations: numeric(a.iterations),
      problems: numeric(a.problems), steps: numeric(a.steps), replay: numeric(a.replay), replayFoothold: numeric(a['replay-foothold']), pastRounds: numeric(a['past-rounds']), temperature: numeric(a.temperature), evalProblems: numeric(a['eval-problems']), evalSamples: numeric(a['eval-samples']), evalSampledProblems: numeric(a['eval-sampled-problems']),
      seed: numeric(a.seed), trainCmd: a['train-cmd'], exportFormat: a['export-format'], trainTimeoutS: numeric(a['train-timeout']), policy: a.policy, model: a.model, healthUrl: a['health-url'], serveTimeoutS: numeric(a['serve-timeout']),
      ...(a['no-control'] ? { control: false } : {}), ...(a['eval-option'] ? { evalOptions: { ...(fileConfig.evalOptions as object), ...parseTaskOptions(a['eval-option']) } } : {}), ...(a['train-option'] ? { trainOptions: { ...(fileConfig.trainOptions as object), ...parseTaskOptions(a['train-option']) } } : {}),
    };
    let config: LoopConfig;
    try {
      config = parseLoopConfig({ ...fileConfig, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) }, a.config ? `loop --config ${a.config}` : 'loop');
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    const task = !a.init && a.task ? { task: { name: a.task, options: parseTaskOptions(a['task-option'] ?? []) } } : {};
    // What the loop starts from (the init run, or the task alone for a served policy), checked before anything prints.
    const start = loopStart({ ...(a.init ? { init: a.init } : {}), ...task }, config);
    if (a.init && a.task && a.task !== start.task) throw new CliError(`loop: --task ${a.task}: the init run ${a.init} trained on ${start.task}`);
    if (a.init && a['task-option']) throw new CliError(`loop: --task-option: the init run ${a.init} fixes the task's options; change the level with --train-option and --eval-option`);
    const stop = onInterrupt();
    const rows: IterationRow[] = [];
    if (!a.json) console.log(loopTableHeader(goldFreeCheckers.has(start.task) ? 'checker' : 'majority'));
    const { state } = await runLoop({
      ...(a.init ? { init: a.init } : {}), ...task, out: a.out, config, onProgress: progressPrinter(), shouldStop: stop.requested,
      onIteration: (r) => {
        rows.push(r);
        if (!a.json) console.log(formatLoopRow(r));
      },
    });
    stop.dispose();
    if (stop.requested()) console.error(`stopped after iteration ${state.iteration}; rerun the same command to resume`);
    const report = await writeReport(a.init ? [a.init, a.out] : [a.out], join(a.out, 'report.html'));
    if (a.json) console.log(JSON.stringify({ ...state, report: report.path }));
    else console.error(`run directory: ${a.out} (metrics.jsonl, checkpoints/, search/, data/); report: ${report.path}`);
  },
};
