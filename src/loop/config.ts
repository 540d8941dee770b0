import { z } from 'zod';
import { exportFormats } from '../data/export.js';
import { learnerConfigIssue } from '../learn/registry.js';
import { sftModes } from '../learn/sft.js';
import { searchSpecSchema } from '../search/registry.js';

/**
 * The loop's configuration: one zod schema is the type, the defaults and the validation of a
 * config file (`--config FILE`) and of the flags. Defaults are sized for arith on a 2-core laptop
 * (the issue's prototype: rounds of 8 samples at T=0.8, keep verified, 200 SFT steps mixed with
 * 1,000 initialization traces).
 */
const optionValue = z.union([z.string(), z.number(), z.boolean()]);

export const loopConfigSchema = z
  .object({
    /** Task options of the problems the loop trains on (over the init's own options): the harder level. Default: the init's distribution. */
    trainOptions: z.record(z.string(), optionValue).default({}),
    /** Task options of the harder held-out level (default: trainOptions). Train on a curriculum of operand mixes, evaluate on the level it leads to. */
    evalOptions: z.record(z.string(), optionValue).optional(),
    /** `external`: training handed to a command (TRL, OpenRLHF, verl, ...) given by `trainCmd`; see src/learn/external.ts. */
    learner: z.enum(['sft', 'dpo', 'ppo', 'grpo', 'external']).default('sft'),
    /**
     * `external` learner: the shell command run once per iteration, after the iteration's data is
     * exported. Placeholders {data} {data_dir} {format} {iteration} {out} {checkpoint} {run}
     * {model} {base_url} are replaced by shell-quoted values, and the same values are in the
     * environment as SEARCHLEARN_DATA, SEARCHLEARN_ITERATION, ... (src/learn/external.ts).
     */
    trainCmd: z.string().min(1).optional(),
    /** `external` learner: the format of the exported data (src/data/export.ts). Default trl-sft. */
    exportFormat: z.enum(exportFormats).default('trl-sft'),
    /** `external` learner: seconds the command may run (0: no limit, training takes what it takes). */
    trainTimeoutS: z.number().min(0).default(0),
    /**
     * The policy that searches and is evaluated: `builtin` (the init run's model, trained here or
     * by an external command that writes a checkpoint), or `openai:URL[,URL...]`, a served model
     * that only the `external` learner can update (the loop waits for the new model to be served).
     */
    policy: z.string().regex(/^(builtin|openai:.+)$/, 'expected builtin or openai:URL[,URL...]').default('builtin'),
    /** `openai:` policy: the served model's name; `{iteration}` in it names each iteration's model (e.g. `policy-iter-{iteration}`). */
    model: z.string().min(1).optional(),
    /** `openai:` policy: a URL that answers 2xx once the new model is up (default: the model listed by /v1/models). */
    healthUrl: z.string().regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL').optional(),
    /** `openai:` policy: seconds to wait for the new model to be served after the command ends. */
    serveTimeoutS: z.number().positive().default(1800),
    /**
     * Training-time search: `sample` (independent samples, batched across problems) or a search
     * spec (beam, mcts, best-of-n, `beam:beamWidth=2`, ...) run per problem and guided by `reward`.
     * Measured with the demo's plan (two seeds): beam@16 guided by exact step checks solved more
     * problems in some rounds, but at matched output tokens its policies ended level with those
     * of 18 independent samples (52.9 against 51.8%, 57.5 against 57.3%), at about 3× the
     * search time; the arith policy's errors are mostly systematic per problem (README). On
     * Countdown (3 → 4 numbers, three seeds), where errors are illegal moves that another draw of
     * the step avoids, beam@16 guided by the step checks trained the better policy at every round
     * and seed against 24 samples at about the same tokens (final greedy 27.6/27.0/26.6% against
     * 21.8/23.8/25.2%, README).
     */
    search: searchSpecSchema(['sample']).default('sample'),
    /** Samples per problem (or the search's budget N). */
    budget: z.number().int().min(1).max(256).default(8),
    temperature: z.number().min(0).max(4).default(0.8),
    /**
     * What decides which solutions are kept (and guides a search): `verifier` (the gold answer of
     * training problems, as outcome-reward RL uses), `majority` (no answer at all: self-consistency
     * filtering, Lee et al. 2025), `step-check` (exact step checks as a perfect PRM: guides a search, and
     * keeps only verified solutions whose every step is right), `prm:DIR` (a learned PRM).
     */
    reward: z.string().regex(/^(verifier|majority|step-check|prm:.+)$/, 'expected verifier, majority, step-check or prm:DIR').default('verifier'),
    /**
     * Retrain the PRM on each new policy's samples before it guides the next round: step labels
     * from the task's exact step checker where it has one (arith, Countdown), else Monte-Carlo
     * rollouts (Math-Shepherd).
     */
    refreshPrm: z.boolean().default(false),
    /**
     * `refreshPrm`'s size: training problems (default min(100, `problems`)), samples labelled per
     * problem (default 4) and training steps (default 200). The defaults keep a refresh cheaper
     * than its round; they are far below what selection needs. Measured on the demo's final policy
     * (1,000 held-out problems): a PRM on 160,000 labelled solutions (20,000 problems × 8, 5,000
     * steps, about an hour here) made PRM-weighted voting beat majority@16 by 2.6 points, where one
     * on 16,000 (2,000 × 8, 1,000 steps) fell 0.6 below it. On the five-round seed-1 demo's final
     * policy (64% greedy) `{ problems: 5000, samples: 8, steps: 2000 }` (40,000 solutions, 9 min)
     * put weighted voting 4.1 points above majority@16 and led beam search past it (README).
     */
    prmRefresh: z
      .object({
        problems: z.number().int().min(1).optional(),
        samples: z.number().int().min(1).max(256).default(4),
        steps: z.number().int().min(1).default(200),
      })
      .strict()
      .default({ samples: 4, steps: 200 }),
    iterations: z.number().int().min(1).max(1000).default(3),
    /** Fresh training problems per iteration. */
    problems: z.number().int().min(1).default(300),
    /** SFT rows (or pairs) kept per problem. */
    maxPerProblem: z.number().int().min(1).default(4),
    /**
     * SFT: rows per problem that write a kept solution after 1–4 wrong attempts of the same
     * problem, laid out as revision search lays out its context (Snell et al. 2024 §6.1 train
     * their revision model so); 0: none. Revision search needs them: a policy that never saw an
     * earlier attempt in its context samples independently with a longer prompt.
     */
    revisionRows: z.number().int().min(0).max(16).default(0),
    /**
     * SFT: the rows kept in this many earlier iterations (read back from `data/iter-K/sft.jsonl`)
     * trained on beside this iteration's own; 0: this iteration's only. Lee et al. 2025 train
     * each round on the self-generated data of all earlier rounds: a round's data is bounded by
     * the problems it solves, and the earlier rounds' verified solutions cost no more search.
     * On the demo's plan it did not help: with 2 earlier rounds, seed 0 ended at 34.0% on the
     * harder level against 42.5% without, seed 1 at 34.5% against 34.0% (the round-2 rows, of a
     * weaker policy, crowd round 3's update).
     */
    pastRounds: z.number().int().min(0).max(1000).default(0),
    /** `majority` filter: least share of finished samples that must agree. */
    minAgreement: z.number().min(0).max(1).default(0.5),
    /** Initialization traces replayed into each SFT update. */
    replay: z.number().int().min(0).default(1000),
    /**
     * Share of the replayed rows drawn from the initialization's foothold traces (its few traces
     * of the harder level) instead of uniformly from all of it (unset: uniform). The loop then
     * keeps its seeded traces in view as the control does, which trains on all of them, so the
     * margin over the control measures what the loop's own solutions add.
     */
    replayFoothold: z.number().min(0).max(1).optional(),
    /** Optimizer steps per update. */
    steps: z.number().int().min(1).default(200),
    batchSize: z.number().int().min(1).max(1024).default(32),
    lr: z.number().positive().max(1).default(1e-3),
    /** SFT: keep training (expert iteration) or restart from the initial policy each round (ReST-EM). */
    sftMode: z.enum(sftModes).default('continue'),
    /** Fields of the learner's own config over its defaults (e.g. {"beta": 0.1} for DPO, {"epochs": 2} for GRPO). */
    learnerConfig: z.record(z.string(), z.unknown()).default({}),
    /** DPO: sequence-level pairs (correct vs wrong solution) or step-level (first wrong step vs a right sibling). */
    pairs: z.enum(['sequence', 'step']).default('sequence'),
    /** Held-out problems per level. */
    evalProblems: z.number().int().min(1).default(200),
    /**
     * Draw the samples (pass@k, the vote) on the first this many held-out problems only (default:
     * all `evalProblems`); greedy accuracy, the table's headline, uses all. Greedy decoding is a
     * fifth of sampling's cost, and on 200 problems its standard error is 3.2 points at 30%: the
     * demo's checkpoints of seeds 0–2, scored on 1,000 problems, put the loop 17.4, 20.7 and 13.6
     * points above its control where 200 had said 15.0, 14.5 and 14.5, and two controls that 200
     * problems put at 29.0 and 24.5% scored 27.7 and 27.0%.
     */
    evalSampledProblems: z.number().int().min(1).optional(),
    /** Samples per held-out problem for pass@k and the majority vote. */
    evalSamples: z.number().int().min(1).max(256).default(16),
    /**
     * Sample the initial level too (pass@k and the vote there); false: greedy only there, the
     * samples go to the harder level alone. The demo's table shows greedy accuracy on the initial
     * level (the issue's "falls by at most 3 points") and its samples were a fifth of each
     * evaluation's tokens.
     */
    evalInitialSamples: z.boolean().default(true),
    /** The test-time search of each evaluation: majority over this many samples. */
    voteN: z.number().int().min(1).default(8),
    /** Run the equal-token control (continued SFT on the initialization data). */
    control: z.boolean().default(true),
    maxTokens: z.number().int().min(8).default(200),
    seed: z.number().int().min(0).default(0),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.learner === 'external' && !c.trainCmd) ctx.addIssue({ code: 'custom', path: ['trainCmd'], message: 'the external learner needs a command (--train-cmd "...")' });
    const learnerIssue = learnerConfigIssue(c.learner, c.learnerConfig);
    if (learnerIssue) ctx.addIssue({ code: 'custom', path: ['learnerConfig', ...learnerIssue.path], message: learnerIssue.message });
    if (c.learner !== 'external' && c.trainCmd) ctx.addIssue({ code: 'custom', path: ['trainCmd'], message: `a train command needs --learner external, not ${c.learner}` });
    if (c.policy !== 'builtin' && c.learner !== 'external') ctx.addIssue({ code: 'custom', path: ['policy'], message: `a served policy is trained by an external command only (--learner external), not ${c.learner}` });
    if (c.policy !== 'builtin' && c.refreshPrm) ctx.addIssue({ code: 'custom', path: ['refreshPrm'], message: 'refreshing a PRM samples the built-in policy; not available with a served policy' });
  });

export type LoopConfig = z.infer<typeof loopConfigSchema>;

export const defaultLoopConfig: LoopConfig = loopConfigSchema.parse({});

/** Validates a partial config (file or flags); a bad field throws one line naming it and what is valid. */
export function parseLoopConfig(raw: unknown, source = 'config'): LoopConfig {
  const r = loopConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? (issue as { keys?: string[] }).keys?.join(', ') ?? '' : '');
    const known = Object.keys(loopConfigSchema.shape).join(', ');
    throw new Error(`${source}: ${field ? `field ${field}: ` : ''}${issue.message}${issue.code === 'unrecognized_keys' ? ` (valid fields: ${known})` : ''}`);
  }
  return r.data;
}
