/**
 * searchlearn's public library API: what `import { ... } from 'searchlearn'` gives. Everything
 * not named here is internal and may change without notice.
 *
 *     import { createOpenAIPolicy, beam, createRemotePrm, getTask, Rng } from 'searchlearn';
 *
 *     const policy = await createOpenAIPolicy({ baseURL: 'http://127.0.0.1:8000/v1', model: 'Qwen/Qwen2.5-Math-7B-Instruct' });
 *     const reward = createRemotePrm({ baseURL: 'http://127.0.0.1:8001', model: 'Qwen/Qwen2.5-Math-PRM-7B' });
 *     const task = getTask('math500');
 *     const [problem] = task.problems('test', 1, 0);
 *     const result = await beam(problem!, { task, policy, reward, rng: new Rng(0), budget: { outputTokens: 16 * 1024 }, maxTokens: 1024 }, { ...defaultBeamConfig, n: 16 });
 */

// Shared records: problems, trajectories, compute, the seeded Rng.
export * from './core/index.js';

// Policies: the interface, the backends and their factories.
export type { Completion, GenerateRequest, GenerateResult, LogprobsResult, Policy, Usage } from './policy/policy.js';
export { emptyUsage } from './policy/policy.js';
export { BuiltinPolicy } from './policy/builtin.js';
export { createOpenAIPolicy, defaultOpenAIPolicyOptions, type OpenAICapabilities, type OpenAIPolicy, type OpenAIPolicyOptions } from './policy/openai.js';
export { createLlamaCppPolicy, LlamaCppPolicy, type LlamaCppPolicyConfig } from './policy/llamacpp.js';
export { policyFromSpec, type PolicySpecOptions } from './policy/factory.js';
export { createMockPolicy, type MockPolicy, type MockScript } from './policy/mock.js';
export { HttpError, type HttpStats } from './policy/http.js';
export type { RetryConfig } from './policy/retry.js';

// Rewards: the interface, aggregation, and every reward model.
export { aggregate, type Aggregation, type RewardItem, type RewardModel, type RewardScore, type RewardUsage } from './reward/reward.js';
export { createVerifierReward } from './reward/verifier.js';
export { LearnedRewardModel, loadRewardModel } from './reward/prm.js';
export { createRemotePrm, defaultRemotePrmConfig, qwenPrmFormat, type RemotePrmConfig } from './reward/remote-prm.js';
export { createLogprobPrm, defaultLogprobPrmConfig, mathShepherdFormat, rlhflowFormat, type LogprobPrmConfig } from './reward/logprob-prm.js';
export { createJudge, defaultJudgeConfig, type JudgeConfig } from './reward/judge.js';
export { createConfidenceReward, createSelfVerdictReward } from './reward/self-eval.js';
export { geometricMix, defaultGeometricMixConfig, type GeometricMixConfig } from './reward/geometric-mix.js';

// Search: one signature for every algorithm, the registry that maps a budget N to a config.
export { NO_PARENT, ROOT_INDEX, type Budget, type SearchContext, type SearchFn, type SearchResult, type SearchTree } from './search/search.js';
export { getSearch, matchedBudget, searchAlgorithms, searchNames, type SearchAlgorithm, type SearchName } from './search/registry.js';
export { greedy, defaultGreedyConfig, type GreedyConfig } from './search/greedy.js';
export { bestOfN, defaultBestOfNConfig, type BestOfNConfig } from './search/best-of-n.js';
export { majority, defaultMajorityConfig, type MajorityConfig } from './search/majority.js';
export { weightedMajority, defaultWeightedMajorityConfig, type WeightedMajorityConfig } from './search/weighted-majority.js';
export { beam, defaultBeamConfig, type BeamConfig } from './search/beam.js';
export { dvts, defaultDvtsConfig, type DvtsConfig } from './search/dvts.js';
export { mcts, defaultMctsConfig, type MctsConfig } from './search/mcts.js';
export { revision, defaultRevisionConfig, type RevisionConfig } from './search/revision.js';
export { hybrid, defaultHybridConfig, type HybridConfig } from './search/hybrid.js';
export { fromJsonl, readJsonl, toJsonl } from './search/jsonl.js';

// Evaluation at matched compute.
export { formatTable, runSearch, type EvalRow, type SearchRunOptions } from './eval/eval.js';
export { greedyAccuracy } from './eval/greedy.js';

// The verifier: final-answer extraction and math equivalence.
export { extract, extractAnswer, isEquivalent, verify, type VerifyResult } from './verify/verify.js';

// Tasks: built-in generators and datasets.
export * from './tasks/index.js';

// Serving any local policy over an OpenAI-compatible API.
export { builtinBackend, ContinuousBatcher, policyBackend, type ServeBackend } from './serve/batcher.js';
export { DecodeSession, type DecodeRequest } from './nn/decode-session.js';
export { defaultServeConfig, startServer, type RunningServer, type ServeConfig } from './serve/server.js';

// Learners, training data from search, policy initialization, and the search ↔ learning loop.
export type { Learner, LearnerContext, LearnResult, StepMetrics, TrainablePolicy } from './learn/learner.js';
export { frozenCopy } from './learn/learner.js';
export { sftRows, sequencePairs, stepPairs, rolloutGroups, exactStepLabels, keptTrajectories, defaultExampleConfig, type SftRow, type PreferencePair, type Rollout, type RolloutGroup, type ExampleConfig } from './learn/examples.js';
export { sftLearner, defaultSftConfig, type SftConfig } from './learn/sft.js';
export { dpoLearner, defaultDpoConfig, type DpoConfig } from './learn/dpo.js';
export { grpoLearner, defaultGrpoConfig, type GrpoConfig } from './learn/grpo.js';
export { ppoLearner, defaultPpoConfig, type PpoConfig } from './learn/ppo.js';
export { externalLearner, externalConfigOf, waitForServed, defaultExternalConfig, defaultPollConfig, type ExternalConfig, type ExternalLearner, type ExternalRound, type ServedModel } from './learn/external.js';
export { initPolicy, initData, defaultInitConfig, type InitOptions, type InitResult } from './learn/init-policy.js';
export { trainPrm, defaultTrainPrmConfig, type TrainPrmOptions, type TrainPrmResult } from './learn/train-prm.js';
export { runLoop, type LoopOptions, type IterationRow, type LoopState } from './loop/loop.js';
export { parseLoopConfig, defaultLoopConfig, loopConfigSchema, type LoopConfig } from './loop/config.js';
export { evaluateLevels, passAtK, type EvalLevel, type LevelScores } from './loop/evaluate.js';
export { createStepCheckReward } from './reward/step-check.js';
