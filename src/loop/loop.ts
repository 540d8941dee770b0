import { existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import type { OnProgress } from '../core/progress.js';
import type { Problem } from '../core/problem.js';
import { initData, type InitData } from '../learn/init-policy.js';
import { defaultTrainPrmConfig, trainPrm } from '../learn/train-prm.js';
import { sequencePairs, sftRows, stepPairs, rolloutGroups, exactStepLabels, revisionRows, type PreferencePair, type RolloutGroup, type SftRow } from '../learn/examples.js';
import { frozenCopy, type LearnResult, type LearnerContext, type StepMetrics } from '../learn/learner.js';
import { externalConfigOf, externalLearner, type ExternalRound } from '../learn/external.js';
import { makeLearner } from '../learn/registry.js';
import { stuckProfile } from '../learn/stuck.js';
import { pastRoundRows, replayRows } from './replay.js';
import { RunDir } from '../learn/run-dir.js';
import { kernelsFor } from '../nn/engine.js';
import { loadModel, resolveCheckpointDir, saveModel } from '../nn/model-io.js';
import type { Transformer } from '../nn/model.js';
import type { CharTokenizer } from '../nn/tokenizer.js';
import type { LmExample } from '../nn/train.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import type { Policy } from '../policy/policy.js';
import { loadRewardModel } from '../reward/prm.js';
import type { RewardModel } from '../reward/reward.js';
import { createStepCheckReward } from '../reward/step-check.js';
import { createVerifierReward } from '../reward/verifier.js';
import { toJsonl } from '../search/jsonl.js';
import { runSearch } from '../eval/eval.js';
import type { SearchResult } from '../search/search.js';
import { getTask } from '../tasks/registry.js';
import type { Task } from '../tasks/task.js';
import { runControl } from './control.js';
import { evalConfigFor, evaluateLevels, type EvalLevel, type LevelScores } from './evaluate.js';
import type { LoopConfig } from './config.js';
import { sampleProblems } from './rollouts.js';

/**
 * The roadmap's loop (Zeng et al. 2024, §1 and Fig. 2): search on fresh training problems →
 * training data → a learner's update → a better policy → search again, measured each round on
 * held-out problems per difficulty level (train-time scaling), beside a control that spends the
 * same trained tokens on more SFT of the initialization data.
 *
 *     for each iteration:
 *       problems  ← fresh training problems of the harder level (no traces: only answers, or nothing)
 *       results   ← training-time search with the current policy
 *       data      ← examples(results): SFT rows, preference pairs, or rollout groups
 *       policy    ← learner.update(policy, data)
 *       eval      ← greedy, pass@k and majority@k per level; checkpoint; one metrics line
 *     control    ← SFT on the initialization data for the loop's trained tokens, same evaluation
 *
 * A run directory holds everything, and a rerun resumes after the last finished iteration:
 * state.json is written last, and metrics written by an unfinished iteration are cut off.
 */
export interface LoopOptions {
  /**
   * The init run directory (its config.json says what it trained on). A served policy trained by
   * an external command may go without one: `task` then names the task and its options.
   */
  init?: string;
  /** The task, when there is no init run (served policies only). */
  task?: { name: string; options: Record<string, unknown> };
  out: string;
  config: LoopConfig;
  onProgress?: OnProgress;
  shouldStop?: () => boolean;
  /** One line per finished iteration (and the control), for a table. */
  onIteration?: (row: IterationRow) => void;
}

export interface IterationRow {
  iteration: number;
  control: boolean;
  levels: Record<string, LevelScores>;
  searchedTokens: number;
  trainedTokens: number;
  examples: number;
  learn: Record<string, number>;
  wallS: number;
}

export interface LoopState {
  iteration: number;
  searchedTokens: number;
  trainedTokens: number;
  wallS: number;
  metricsBytes: number;
  rows: IterationRow[];
  control?: IterationRow;
}

export const LEVEL_INITIAL = 'initial';
export const LEVEL_HARDER = 'harder';

/** The init run's data record, or one line saying what is wrong with it. */
export function readInitData(initDir: string): InitData {
  const p = join(initDir, 'config.json');
  if (!existsSync(p)) throw new UserError(`--init ${initDir}: no config.json (give the run directory of \`searchlearn init\`)`);
  const c = JSON.parse(readFileSync(p, 'utf8')) as Partial<InitData> & { command?: string };
  if (c.command !== 'init' || typeof c.task !== 'string' || typeof c.trainProblems !== 'number') throw new UserError(`--init ${initDir}: config.json is not from \`searchlearn init\``);
  return { task: c.task, taskOptions: c.taskOptions ?? {}, behaviours: c.behaviours ?? 'default', trainProblems: c.trainProblems, seed: c.seed ?? 0, ...(c.foothold ? { foothold: c.foothold } : {}) };
}

/**
 * What the loop needs to know of its start: the init run's record, or, for a served policy with
 * no init run here, the task alone (no traces to replay, no foothold, no control).
 */
export function loopStart(o: Pick<LoopOptions, 'init' | 'task'>, config: LoopConfig): InitData {
  if (o.init) return readInitData(o.init);
  if (config.policy === 'builtin') throw new UserError('loop: --init RUN is required for the built-in policy (the run directory of `searchlearn init`)');
  if (!o.task) throw new UserError('loop: a served policy without --init needs --task T (and its --task-option key=value)');
  return { task: o.task.name, taskOptions: o.task.options, behaviours: 'default', trainProblems: 0, seed: config.seed };
}

/** The held-out levels: the init's distribution and the harder one the loop trains on. */
export function loopLevels(init: InitData, config: LoopConfig): { initialTask: Task; harderTask: Task; levels: EvalLevel[] } {
  const initialTask = getTask(init.task, init.taskOptions);
  const harderTask = getTask(init.task, { ...init.taskOptions, ...config.trainOptions });
  const evalOptions = config.evalOptions ?? config.trainOptions;
  const harder = Object.keys(evalOptions).length > 0;
  const sampledProblems = config.evalSampledProblems !== undefined ? { sampledProblems: config.evalSampledProblems } : {};
  // The initial level goes unsampled only when a harder level takes the samples.
  const levels: EvalLevel[] = [{ name: LEVEL_INITIAL, task: initialTask, problems: initialTask.problems('test', config.evalProblems, config.seed), sampled: config.evalInitialSamples || !harder, ...sampledProblems }];
  if (harder) {
    const evalTask = getTask(init.task, { ...init.taskOptions, ...evalOptions });
    levels.push({ name: LEVEL_HARDER, task: evalTask, problems: evalTask.problems('test', config.evalProblems, config.seed), ...sampledProblems });
  }
  return { initialTask, harderTask, levels };
}

/** The metrics line of an evaluation (names the report reads: eval/greedy/<level>, eval/pass@k/<level>, ...). */
export function evalMetrics(levels: Record<string, LevelScores>): Record<string, number> {
  const m: Record<string, number> = {};
  for (const [name, s] of Object.entries(levels)) {
    m[`eval/greedy/${name}`] = s.greedy;
    for (const [k, v] of Object.entries(s.pass)) m[`eval/pass@${k}/${name}`] = v;
    if (s.vote !== null) m[`eval/${s.search}@vote/${name}`] = s.vote;
  }
  const harder = levels[LEVEL_HARDER] ?? levels[LEVEL_INITIAL]!;
  if (harder.vote !== null) m['eval/search_accuracy'] = harder.vote;
  return m;
}

function trainingReward(spec: string, task: Task): RewardModel | null {
  if (spec === 'verifier') return createVerifierReward(task);
  if (spec === 'step-check') return createStepCheckReward(task);
  if (spec.startsWith('prm:')) return loadRewardModel(spec.slice(4)).reward;
  return null;
}

/**
 * Training-time search over the iteration's problems: batched independent samples, or a search
 * algorithm run per problem by eval's runner (the same configs, seeds and compute accounting as
 * a test-time table), guided by the training reward.
 */
async function searchProblems(policy: Policy, task: Task, problems: Problem[], config: LoopConfig, reward: RewardModel | null, seed: number, onProgress?: OnProgress): Promise<SearchResult[]> {
  onProgress?.({ stage: 'search', done: 0, total: problems.length, unit: 'problem' });
  if (config.search === 'sample') return sampleProblems(policy, task, problems, { n: config.budget, temperature: config.temperature, maxTokens: config.maxTokens, seed, stage: 'search', ...(onProgress ? { onProgress } : {}) });
  if (!reward) throw new UserError(`loop: search ${config.search} needs a reward to guide it (verifier, step-check or prm:DIR), not ${config.reward}`);
  const { results } = await runSearch({
    task, policy, reward, algo: config.search, budget: config.budget, problems, maxTokens: config.maxTokens, seed, temperature: config.temperature,
    onResult: (_r, _i, done) => onProgress?.({ stage: 'search', done, total: problems.length, unit: 'problem' }),
  });
  return results;
}

/**
 * `data/problems_stuck`: of the round's problems that kept no row, those resampling a step could
 * not fix (src/learn/stuck.ts), as a share of its problems (so solved + stuck ≤ 1 whatever the filter).
 */
function stuckMetrics(task: Task, problems: Problem[], results: SearchResult[], kept: ReadonlySet<string>): Record<string, number> {
  const profile = stuckProfile(task, problems, results.filter((r) => !kept.has(r.problemId)));
  return profile ? { 'data/problems_stuck': profile.stuck / Math.max(1, problems.length) } : {};
}

function writeJsonl(path: string, rows: readonly unknown[]): void {
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

export async function runLoop(o: LoopOptions): Promise<{ state: LoopState; levels: string[] }> {
  const { config } = o;
  const run = new RunDir(o.out);
  const init = loopStart(o, config);
  const { harderTask, levels } = loopLevels(init, config);
  const kernels = kernelsFor('fast');
  const statePath = run.file('state.json');
  let state: LoopState = { iteration: 0, searchedTokens: 0, trainedTokens: 0, wallS: 0, metricsBytes: 0, rows: [] };
  if (existsSync(statePath)) {
    state = JSON.parse(readFileSync(statePath, 'utf8')) as LoopState;
    // Metrics written after the last finished iteration belong to an unfinished one: cut them.
    const metrics = run.file('metrics.jsonl');
    if (existsSync(metrics) && statSync(metrics).size > state.metricsBytes) truncateSync(metrics, state.metricsBytes);
  } else {
    run.writeJson('config.json', { command: 'loop', init: o.init ?? null, initData: init, ...config });
  }
  const saveState = (): void => {
    state.metricsBytes = existsSync(run.file('metrics.jsonl')) ? statSync(run.file('metrics.jsonl')).size : 0;
    run.writeJson('state.json', state);
  };
  // A served policy (openai:URL) searches and is evaluated; only the external learner updates it.
  const served = config.policy !== 'builtin';
  const external = config.learner === 'external' ? externalLearner(externalConfigOf(config)) : null;
  // The built-in policy's weights: the initial model (ReST-EM's restart point), and the model that
  // learns (the last checkpoint when resuming). A served policy's weights live on its server.
  const builtin = served ? null : builtinStart(o.init!, state.iteration, run, kernels);
  // A policy object per set of weights: its prefix cache holds keys and values computed with
  // the weights of its time, which must not outlive an update.
  let policy: Policy = builtin ? new BuiltinPolicy(builtin.model, builtin.tokenizer) : await external!.policyFor(state.iteration);
  const levelNames = levels.map((l) => l.name);

  if (state.iteration === 0 && state.rows.length === 0) {
    // Iteration 0: the initial policy, evaluated once (the first point of every curve).
    const t0 = performance.now();
    const scores = await evaluateLevels(policy, levels, evalConfigFor(config), config.seed, o.onProgress);
    const row: IterationRow = { iteration: 0, control: false, levels: scores, searchedTokens: 0, trainedTokens: 0, examples: 0, learn: {}, wallS: (performance.now() - t0) / 1000 };
    run.log({ event: 'iteration', iteration: 0, ...evalMetrics(scores), 'tokens/searched': 0, 'tokens/trained': 0 });
    state.rows.push(row);
    saveState();
    o.onIteration?.(row);
  }

  let trainReward = trainingReward(config.reward, harderTask);
  if (config.refreshPrm && !config.reward.startsWith('prm:')) throw new UserError(`loop: --refresh-prm retrains a learned PRM; give --reward prm:DIR, not ${config.reward}`);
  // A refreshed PRM from an earlier run of this loop guides the next iteration's search.
  if (config.refreshPrm && state.iteration > 0 && existsSync(run.file(`prm/iter-${state.iteration}`))) trainReward = loadRewardModel(run.file(`prm/iter-${state.iteration}`)).reward;
  const learner = external ? null : makeLearner(config);
  // The initialization data, built once when the learner replays it.
  let replayData: LmExample[] | undefined;
  const replaySource = (): LmExample[] => (replayData ??= init.trainProblems > 0 ? initData(init) : []);

  for (let it = state.iteration + 1; it <= config.iterations; it++) {
    if (o.shouldStop?.()) break;
    const t0 = performance.now();
    const iterSeed = config.seed * 100_003 + it;
    const problems = harderTask.problems('train', config.problems, iterSeed);
    const results = await searchProblems(policy, harderTask, problems, config, trainReward, iterSeed, o.onProgress);
    const searched = results.reduce((s, r) => s + r.compute.outputTokens, 0);
    mkdirSync(run.file('search'), { recursive: true });
    writeJsonl(run.file(`search/iter-${it}.jsonl`), results.map((r) => JSON.parse(toJsonl(r))));

    const dataDir = run.file(`data/iter-${it}`);
    const { rows, seqPairs, stPairs, withAnswer } = iterationExamples(harderTask, problems, results, config, dataDir, policy);
    // SFT also trains on the rows earlier iterations kept (pastRounds); problems_solved counts this iteration's.
    const sftData = config.learner === 'sft' ? [...rows, ...pastRoundRows(run, it, config.pastRounds)] : rows;

    // SFT runs `steps` steps; the RL and preference learners' counts follow their data (onPlan says).
    let learnTotal = config.steps;
    const ctx: LearnerContext | null = builtin && {
      policy: { model: builtin.model, tokenizer: builtin.tokenizer },
      reference: frozenCopy(builtin.model),
      initial: builtin.initial,
      seed: iterSeed,
      onPlan: (n: number) => {
        learnTotal = n;
        o.onProgress?.({ stage: `learn ${config.learner}`, done: 0, total: n, unit: 'step' });
      },
      onStep: (m: StepMetrics) => {
        run.log({ event: 'train', iteration: it, ...m });
        o.onProgress?.({ stage: `learn ${config.learner}`, done: m.step, total: Math.max(learnTotal, m.step), unit: 'step', fields: { loss: m['loss'] ?? NaN } });
      },
      ...(o.shouldStop ? { shouldStop: o.shouldStop } : {}),
    };
    o.onProgress?.({ stage: `learn ${config.learner}`, done: 0, total: config.steps, unit: 'step' });
    const examples = { rows: sftData, seqPairs, stPairs, groups: () => rolloutGroups(harderTask, problems, results, withAnswer ? undefined : (_p, t) => (t.score ?? 0)), replay: () => replayRows(replaySource(), init.foothold?.count ?? 0, config, it) };
    // The RL and preference learners draw the same replayed traces when their ptxCoef is set (src/learn/ptx.ts).
    if (ctx && config.learner !== 'sft') ctx.replay = examples.replay;
    const data = external ? { iteration: it, runDir: o.out, dataDir, checkpoint: served ? null : resolveCheckpointDir(it === 1 ? o.init! : run.file(`checkpoints/iter-${it - 1}`)) } : learnerData(config, examples);
    let learned: LearnResult = { steps: 0, trainedTokens: 0, metrics: {} };
    if (external) learned = await external.update(data as ExternalRound, ctx);
    else if ((data as unknown[]).length > 0) learned = await learner!.update(data as never, ctx!);
    policy = builtin ? new BuiltinPolicy(builtin.model, builtin.tokenizer) : await external!.policyFor();
    o.onProgress?.({ stage: `learn ${config.learner}`, done: learnTotal, total: learnTotal, unit: 'step' });

    if (builtin) saveModel(run.file(`checkpoints/iter-${it}`), builtin.model, builtin.tokenizer, { command: 'loop', iteration: it, learner: config.learner });
    if (config.refreshPrm) trainReward = await refreshPrm(policy as BuiltinPolicy /* the config refuses refreshPrm with a served policy */, run, it, harderTask, config, iterSeed, o.onProgress);
    const scores = await evaluateLevels(policy, levels, evalConfigFor(config), config.seed, o.onProgress);
    state.iteration = it;
    state.searchedTokens += searched;
    state.trainedTokens += learned.trainedTokens;
    const wallS = (performance.now() - t0) / 1000;
    state.wallS += wallS;
    const row: IterationRow = { iteration: it, control: false, levels: scores, searchedTokens: state.searchedTokens, trainedTokens: state.trainedTokens, examples: external ? (learned.metrics['external/rows'] ?? 0) : config.learner === 'sft' ? sftData.length : (data as unknown[]).length, learn: learned.metrics, wallS };
    const solved = new Set(rows.map((r) => r.problemId));
    run.log({ event: 'iteration', iteration: it, ...evalMetrics(scores), 'tokens/searched': state.searchedTokens, 'tokens/trained': state.trainedTokens, 'data/examples': row.examples, 'data/problems_solved': solved.size / problems.length, ...stuckMetrics(harderTask, problems, results, solved), ...Object.fromEntries(Object.entries(learned.metrics).map(([k, v]) => [`learn/${k}`, v])), wall_s: wallS });
    state.rows.push(row);
    saveState();
    o.onIteration?.(row);
  }

  if (config.control && builtin && o.init && state.iteration === config.iterations && !state.control) {
    const t0 = performance.now();
    const control = await runControl({ run, init, initialDir: o.init, config, levels, trainedTokens: state.trainedTokens, ...(o.onProgress ? { onProgress: o.onProgress } : {}), ...(o.shouldStop ? { shouldStop: o.shouldStop } : {}) });
    if (control) {
      const row: IterationRow = { iteration: state.iteration, control: true, levels: control.levels, searchedTokens: 0, trainedTokens: control.trainedTokens, examples: 0, learn: {}, wallS: (performance.now() - t0) / 1000 };
      run.log({ event: 'iteration', iteration: state.iteration, control: true, ...evalMetrics(control.levels), 'tokens/searched': 0, 'tokens/trained': control.trainedTokens });
      state.control = row;
      saveState();
      o.onIteration?.(row);
    }
  }
  return { state, levels: levelNames };
}

/**
 * One iteration's examples for the learner, and every kind written to `dataDir` for external
 * trainers (export-data): SFT rows, sequence and step preference pairs, exact step labels.
 */
function iterationExamples(task: Task, problems: Problem[], results: SearchResult[], config: LoopConfig, dataDir: string, policy: Policy): { rows: SftRow[]; seqPairs: PreferencePair[]; stPairs: PreferencePair[]; withAnswer: boolean } {
  mkdirSync(dataDir, { recursive: true });
  // step-check keeps verified solutions whose every step is right (exact process supervision).
  const filter = config.reward === 'majority' ? 'majority' : config.reward.startsWith('prm:') ? 'score' : config.reward === 'step-check' ? 'process' : 'verified';
  const withAnswer = filter === 'verified' || filter === 'process';
  const examples = { filter, maxPerProblem: config.maxPerProblem, minAgreement: config.minAgreement, minScore: 0.5 } as const;
  const rows = sftRows(task, problems, results, examples);
  // Revision rows (BOS + context + attempt + EOS within the policy's context) teach revision search's layout.
  if (config.revisionRows > 0) rows.push(...revisionRows(task, problems, results, examples, { maxPerProblem: config.revisionRows, fits: (q, c) => policy.countTokens(q + c) + 2 <= policy.contextLength }));
  const seqPairs = withAnswer ? sequencePairs(task, problems, results, config.maxPerProblem) : [];
  const stPairs = withAnswer ? stepPairs(task, problems, results, config.maxPerProblem) : [];
  writeJsonl(join(dataDir, 'problems.jsonl'), problems.map((p) => ({ id: p.id, prompt: task.formatPrompt(p), answer: p.answer, task: task.name })));
  writeJsonl(join(dataDir, 'sft.jsonl'), rows.map((r) => ({ prompt: r.prompt, completion: r.completion, problem_id: r.problemId })));
  writeJsonl(join(dataDir, 'pairs.jsonl'), [...seqPairs, ...stPairs].map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, problem_id: p.problemId, level: p.level })));
  writeJsonl(join(dataDir, 'step-labels.jsonl'), exactStepLabels(task, problems, results).map((r) => ({ prompt: r.prompt, completions: r.steps, labels: r.labels.hard.map((l) => l === 1), problem_id: r.problemId })));
  return { rows, seqPairs, stPairs, withAnswer };
}

/**
 * A PRM trained on one policy's samples transfers poorly to the next (the distribution shift of
 * Gao et al. 2023): relabel the new policy's samples (Monte-Carlo rollouts) and retrain; the new
 * PRM guides the next iteration's search.
 */
async function refreshPrm(policy: BuiltinPolicy, run: RunDir, it: number, task: Task, config: LoopConfig, seed: number, onProgress?: OnProgress): Promise<RewardModel> {
  const prmDir = run.file(`prm/iter-${it}`);
  const size = config.prmRefresh;
  const prm = await trainPrm({
    ...defaultTrainPrmConfig,
    policy,
    policyDir: run.file(`checkpoints/iter-${it}`),
    task,
    out: prmDir,
    problems: size.problems ?? Math.min(100, config.problems),
    samples: size.samples,
    steps: size.steps,
    // Exact step labels where the task checks steps itself: process supervision at the cost of sampling alone.
    ...(task.checkSteps ? { labelSource: 'exact', labels: 'hard' } : {}),
    seed,
    temperature: config.temperature,
    ...(onProgress ? { onProgress } : {}),
  });
  run.log({ event: 'prm', iteration: it, 'prm/auc': prm.auc ?? NaN, 'prm/per_problem_auc': prm.per_problem_auc ?? NaN });
  return loadRewardModel(prmDir).reward;
}

/** The built-in policy's models at the loop's start (or its resume point). */
function builtinStart(initDir: string, resumedAfter: number, run: RunDir, kernels: ReturnType<typeof kernelsFor>): { model: Transformer; initial: Transformer; tokenizer: CharTokenizer } {
  const initial = loadModel(initDir, kernels);
  const model = resumedAfter > 0 ? loadModel(run.file(`checkpoints/iter-${resumedAfter}`), kernels).model : frozenCopy(initial.model);
  return { model, initial: initial.model, tokenizer: initial.tokenizer };
}

/** One iteration's examples, in every form a learner takes. */
interface IterationExamples {
  rows: SftRow[];
  seqPairs: PreferencePair[];
  stPairs: PreferencePair[];
  groups: () => RolloutGroup[];
  replay: () => SftRow[];
}

/** What the configured learner trains on this iteration. */
function learnerData(config: LoopConfig, e: IterationExamples): unknown[] {
  switch (config.learner) {
    case 'sft':
      // Replay alone trains only when it carries the foothold (--replay-foothold): a policy that
      // solves none of the harder problems yet keeps learning from its seeded traces until it does.
      return e.rows.length > 0 || config.replayFoothold !== undefined ? [...e.rows, ...e.replay()] : [];
    case 'dpo':
      return config.pairs === 'step' ? e.stPairs : e.seqPairs;
    default:
      return e.groups();
  }
}
