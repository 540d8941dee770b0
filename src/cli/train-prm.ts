import { z } from 'zod';
import { defaultTrainPrmConfig, trainPrm } from '../learn/train-prm.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { CliError, num, parseCommand, type Command } from './args.js';
import { parseTaskOptions, taskFromFlag, taskOptionFlag, taskOptionShape } from './common.js';
import { onInterrupt } from './interrupt.js';
import { progressPrinter } from './progress.js';

const d = defaultTrainPrmConfig;

const options = {
  checkpoint: { type: 'string' },
  task: { type: 'string' },
  ...taskOptionFlag,
  out: { type: 'string' },
  kind: { type: 'string', default: d.kind },
  rollouts: { type: 'string', default: String(d.rollouts) },
  samples: { type: 'string', default: String(d.samples) },
  problems: { type: 'string', default: String(d.problems) },
  steps: { type: 'string', default: String(d.steps) },
  seed: { type: 'string', default: String(d.seed) },
  'batch-size': { type: 'string', default: String(d.batchSize) },
  lr: { type: 'string', default: String(d.lr) },
  labels: { type: 'string', default: d.labels },
  'label-source': { type: 'string', default: d.labelSource },
  aggregation: { type: 'string', default: d.aggregation },
  temperature: { type: 'string', default: String(d.temperature) },
  'held-out': { type: 'string', default: String(d.heldOut) },
  kernels: { type: 'string', default: d.kernels },
} as const;

const schema = z.object({
  checkpoint: z.string({ message: 'required: the policy checkpoint (or run directory) to label with and start from' }),
  task: z.string({ message: 'required: the task the policy solves (e.g. arith, countdown)' }),
  ...taskOptionShape,
  out: z.string({ message: 'required: the run directory to write' }),
  kind: z.enum(['process', 'outcome', 'bt'], { message: 'expected process (PRM), outcome (ORM) or bt (Bradley–Terry ORM)' }),
  rollouts: num({ int: true, min: 0, max: 1024 }),
  samples: num({ int: true, min: 1, max: 1024 }),
  problems: num({ int: true, min: 2 }),
  steps: num({ int: true, min: 1 }),
  seed: num({ int: true, min: 0 }),
  'batch-size': num({ int: true, min: 1, max: 4096 }),
  lr: num({ gt: 0, max: 1 }),
  labels: z.enum(['soft', 'hard'], { message: 'expected soft (fraction of correct rollouts) or hard (any rollout correct)' }),
  'label-source': z.enum(['mc', 'exact'], { message: "expected mc (Monte-Carlo rollouts) or exact (the task's step checker)" }),
  aggregation: z.enum(['min', 'prod', 'last', 'mean'], { message: 'expected min, prod, last or mean' }),
  temperature: num({ gt: 0, max: 2 }),
  'held-out': num({ min: 0, max: 0.9 }),
  kernels: z.enum(['fast', 'reference'], { message: 'expected fast or reference' }),
});

export const trainPrmCommand: Command = {
  name: 'train-prm',
  summary: 'learned reward model: label steps by Monte-Carlo rollouts of a policy (Math-Shepherd), then train a PRM, ORM or Bradley–Terry ORM from the policy',
  usage:
    'train-prm --checkpoint POLICY_DIR --task T [--task-option key=value ...] --out RUN_DIR [--kind process|outcome|bt] [--rollouts K (8)] [--samples S (4)] [--problems P (200)] [--steps N (200)] [--seed K] [--labels soft|hard] [--label-source mc|exact] [--aggregation min|prod|last|mean (min)] [--temperature T (0.8, search\'s)] [--held-out F (0.2)] [--batch-size B] [--lr LR]',
  async run(argv) {
    const a = parseCommand('train-prm', argv, options, schema);
    const task = taskFromFlag(a.task, a['task-option']);
    let policy: BuiltinPolicy;
    try {
      policy = BuiltinPolicy.load(a.checkpoint, a.kernels);
    } catch (e) {
      throw new CliError(`train-prm: --checkpoint: ${(e as Error).message}`);
    }
    const stop = onInterrupt();
    try {
      const r = await trainPrm({
        policy,
        policyDir: a.checkpoint,
        task,
        taskOptions: parseTaskOptions(a['task-option']),
        out: a.out,
        kind: a.kind,
        rollouts: a.rollouts,
        samples: a.samples,
        problems: a.problems,
        steps: a.steps,
        seed: a.seed,
        batchSize: a['batch-size'],
        lr: a.lr,
        labels: a.labels,
        labelSource: a['label-source'],
        aggregation: a.aggregation,
        temperature: a.temperature,
        heldOut: a['held-out'],
        kernels: a.kernels,
        onProgress: progressPrinter(),
        shouldStop: stop.requested,
        log: (l) => console.error(l),
      });
      const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(x * 100).toFixed(1)}%`);
      const s = r.selection;
      if (r.auc !== null) console.error(`held-out: step AUC ${r.auc.toFixed(3)}, solution AUC ${r.solution_auc?.toFixed(3) ?? 'n/a'} (pooled over problems: mostly difficulty), per-problem AUC ${r.per_problem_auc?.toFixed(3) ?? 'n/a'} (aggregation ${r.aggregation})`);
      if (s) console.error(`held-out selection over k=${s.k} samples of ${s.problems} problems at T=${r.temperature}: single ${pct(s.single)}, majority@k ${pct(s.majorityAtK)}, PRM best-of-k ${pct(s.bestOfK)}, PRM-weighted@k ${pct(s.weightedAtK)}, oracle pass@k ${pct(s.passAtK)}`);
      console.log(JSON.stringify(r));
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`train-prm: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      stop.dispose();
    }
  },
};
