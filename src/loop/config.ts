import { z } from 'zod';

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
    learner: z.enum(['sft', 'dpo', 'ppo', 'grpo']).default('sft'),
    /** Training-time search: `sample` (independent samples, batched across problems) or a search algorithm (beam, mcts, best-of-n, ...). */
    search: z.string().default('sample'),
    /** Samples per problem (or the search's budget N). */
    budget: z.number().int().min(1).max(256).default(8),
    temperature: z.number().min(0).max(4).default(0.8),
    /**
     * What decides which solutions are kept (and guides a search): `verifier` (the gold answer of
     * training problems, as outcome-reward RL uses), `majority` (no answer at all: self-consistency
     * filtering, Lee et al. 2025), `step-check` (exact step checks as a perfect PRM), `prm:DIR` (a learned PRM).
     */
    reward: z.string().regex(/^(verifier|majority|step-check|prm:.+)$/, 'expected verifier, majority, step-check or prm:DIR').default('verifier'),
    /** Retrain the PRM on each new policy's samples (with exact step labels) before it guides the next round. */
    refreshPrm: z.boolean().default(false),
    iterations: z.number().int().min(1).max(1000).default(3),
    /** Fresh training problems per iteration. */
    problems: z.number().int().min(1).default(300),
    /** SFT rows (or pairs) kept per problem. */
    maxPerProblem: z.number().int().min(1).default(4),
    /** `majority` filter: least share of finished samples that must agree. */
    minAgreement: z.number().min(0).max(1).default(0.5),
    /** Initialization traces replayed into each SFT update. */
    replay: z.number().int().min(0).default(1000),
    /** Optimizer steps per update. */
    steps: z.number().int().min(1).default(200),
    batchSize: z.number().int().min(1).max(1024).default(32),
    lr: z.number().positive().max(1).default(1e-3),
    /** SFT: keep training (expert iteration) or restart from the initial policy each round (ReST-EM). */
    sftMode: z.enum(['continue', 'restart']).default('continue'),
    /** Fields of the learner's own config over its defaults (e.g. {"beta": 0.1} for DPO, {"epochs": 2} for GRPO). */
    learnerConfig: z.record(z.string(), z.unknown()).default({}),
    /** DPO: sequence-level pairs (correct vs wrong solution) or step-level (first wrong step vs a right sibling). */
    pairs: z.enum(['sequence', 'step']).default('sequence'),
    /** Held-out problems per level. */
    evalProblems: z.number().int().min(1).default(200),
    /** Samples per held-out problem for pass@k and the majority vote. */
    evalSamples: z.number().int().min(1).max(256).default(16),
    /** The test-time search of each evaluation: majority over this many samples. */
    voteN: z.number().int().min(1).default(8),
    /** Run the equal-token control (continued SFT on the initialization data). */
    control: z.boolean().default(true),
    maxTokens: z.number().int().min(8).default(200),
    seed: z.number().int().min(0).default(0),
  })
  .strict();

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
