import { existsSync } from 'node:fs';
import { rootOf } from '../policy/http.js';
import { loadRewardModel } from '../reward/prm.js';
import type { RewardModel } from '../reward/reward.js';
import { createStepCheckReward } from '../reward/step-check.js';
import { createVerifierReward } from '../reward/verifier.js';
import { createConfidenceReward, createSelfVerdictReward } from '../reward/self-eval.js';
import { defaultGeometricMixConfig, geometricMix } from '../reward/geometric-mix.js';
import type { Policy } from '../policy/policy.js';
import type { Task } from '../tasks/task.js';

/** The reward specs a command accepts (`--reward`). */
export const rewardSpecs = ['verifier', 'step-check', 'prm:DIR', 'orm:DIR', 'self-verdict', 'confidence', 'confidence:POLICY', 'pooling:URL[#MODEL]', 'logprob-prm:URL[#MODEL]', 'judge:URL[#MODEL]', 'judge-sample:URL[#MODEL]', 'SPEC+confidence[=λ]'] as const;

const VALID = `valid: ${rewardSpecs.join(', ')}`;

/**
 * A reward model from its command-line spec:
 *   verifier   the task's exact verifier (outcome, 0/1)
 *   step-check the task's exact step checks (process, 0/1 per step; an oracle where they read the
 *              gold answer, as arith's do; a deployable checker on Countdown)
 *   prm:DIR    a process reward model trained by `train-prm --kind process`
 *   orm:DIR    an outcome reward model trained by `train-prm --kind outcome|bt`
 *   pooling:URL       a PRM served by vLLM's /pooling (Qwen2.5-Math-PRM style, src/reward/remote-prm.ts)
 *   logprob-prm:URL   P("+") after each step from a served LM (Math-Shepherd style, src/reward/logprob-prm.ts)
 *   judge:URL         an LLM judge read as P("Yes") (src/reward/judge.ts); judge-sample:URL samples verdicts
 *   self-verdict      the policy's own Check-line verdicts; confidence: its mean step log-probability
 *                     (internal guidance, src/reward/self-eval.ts; they need the policy)
 *   confidence:POLICY the same confidence read from another policy (a checkpoint directory, gguf:FILE):
 *                     e.g. the loop's initial policy, a reward left stale while the policy learned
 *   SPEC+confidence[=λ] any of the above mixed step by step with the policy's confidence,
 *                     conf^λ · score^(1−λ) (Xie et al. 2023; src/reward/geometric-mix.ts; λ 0.5)
 * DIR is a reward checkpoint or the train-prm run directory holding it. A missing directory, a
 * model of the other kind or one trained for another task is one Error line saying what is valid
 * (callers such as common.ts's rewardFromFlag prefix the flag). URL is one server or several
 * (comma-separated replicas); `#MODEL` names the served model, needed only when a server serves
 * more than one. Remote rewards need no gold answer: they are deployable, never oracle.
 */
export async function parseRewardSpec(spec: string, task: Task, policy?: Policy): Promise<RewardModel> {
  const mixed = /^(.+)\+confidence(?:=(.*))?$/.exec(spec);
  if (mixed) return withConfidence(mixed[1]!, mixed[2], task, policy);
  if (spec === 'verifier') return createVerifierReward(task);
  if (spec === 'step-check') {
    if (!task.checkSteps) throw new Error(`step-check: task ${task.name} has no step checker (${VALID})`);
    return createStepCheckReward(task);
  }
  if (spec === 'self-verdict' || spec === 'confidence') {
    if (!policy) throw new Error(`${spec} is the policy's own judgement: this command has no policy to ask`);
    return spec === 'confidence' ? createConfidenceReward(policy, task.stepDelimiter) : createSelfVerdictReward(policy, task.stepDelimiter);
  }
  if (spec.startsWith('confidence:')) return otherPolicyConfidence(spec.slice('confidence:'.length), task);
  const remote = /^(pooling|logprob-prm|judge|judge-sample):(.*)$/.exec(spec);
  if (remote) return remoteReward(remote[1] as RemoteKind, remote[2]!, task);
  const m = /^(prm|orm):(.+)$/.exec(spec);
  if (!m) throw new Error(`unknown reward (${VALID})`);
  const want = m[1] as 'prm' | 'orm';
  const dir = m[2]!;
  if (!existsSync(dir)) throw new Error(`no such directory ${dir} (${VALID}, where DIR is a checkpoint written by train-prm or its run directory)`);
  let loaded;
  try {
    loaded = loadRewardModel(dir);
  } catch (e) {
    throw new Error(`${(e as Error).message.split('\n')[0]} (${VALID})`);
  }
  const { meta } = loaded;
  const kind = meta.kind === 'process' ? 'prm' : 'orm';
  if (kind !== want) {
    const what = meta.kind === 'process' ? 'a process reward model (PRM)' : 'an outcome reward model (ORM)';
    throw new Error(`${loaded.dir} holds ${what}: use ${kind}:${dir}`);
  }
  if (meta.task !== task.name) {
    throw new Error(`${loaded.dir} was trained for task "${meta.task}", not "${task.name}" (train one with: searchlearn train-prm --task ${task.name} ...)`);
  }
  if (meta.stepDelimiter !== task.stepDelimiter) {
    throw new Error(`${loaded.dir} splits steps on ${JSON.stringify(meta.stepDelimiter)}, task "${task.name}" on ${JSON.stringify(task.stepDelimiter)}`);
  }
  return loaded.reward;
}

/** `SPEC+confidence[=λ]`: the evaluator SPEC mixed with the searching policy's confidence. */
async function withConfidence(inner: string, weight: string | undefined, task: Task, policy?: Policy): Promise<RewardModel> {
  const lambda = weight === undefined ? defaultGeometricMixConfig.lambda : Number(weight);
  if (weight !== undefined && (weight.trim() === '' || !(lambda >= 0 && lambda <= 1))) {
    throw new Error(`confidence weight λ = ${JSON.stringify(weight)}: expected a number in [0, 1] (${inner}+confidence=0.5)`);
  }
  if (!policy) throw new Error(`${inner}+confidence reads the policy's own confidence: this command has no policy to ask`);
  if (inner === 'confidence' || inner.startsWith('confidence:')) throw new Error(`${inner}+confidence: mix confidence with another reward (${VALID})`);
  const evaluator = await parseRewardSpec(inner, task, policy);
  return geometricMix(evaluator, createConfidenceReward(policy, task.stepDelimiter), { lambda });
}

/** `confidence:POLICY`: the confidence reward computed by a policy other than the one searching. */
async function otherPolicyConfidence(spec: string, task: Task): Promise<RewardModel> {
  if (spec.trim() === '') throw new Error(`expected confidence:POLICY, a checkpoint directory or gguf:FILE (${VALID})`);
  if (!spec.includes(':') && !existsSync(spec)) throw new Error(`confidence:${spec}: no such checkpoint directory (${VALID})`);
  const { policyFromSpec } = await import('../policy/factory.js');
  const judge = await policyFromSpec(spec);
  if (!judge.logprobsOf) throw new Error(`confidence:${spec}: policy ${judge.id} gives no log-probabilities of given text; use a checkpoint directory or gguf:FILE`);
  return createConfidenceReward(judge, task.stepDelimiter, { id: `confidence:${spec}` });
}

type RemoteKind = 'pooling' | 'logprob-prm' | 'judge' | 'judge-sample';

/** `URL[,URL...][#MODEL]` → base URLs and the model (asked of /v1/models when not given). */
async function servedTarget(kind: RemoteKind, rest: string): Promise<{ urls: string[]; model: string }> {
  const hash = rest.indexOf('#');
  const urls = (hash >= 0 ? rest.slice(0, hash) : rest).split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (urls.length === 0) throw new Error(`expected ${kind}:URL[,URL...][#MODEL], e.g. ${kind}:http://127.0.0.1:8000/v1`);
  for (const u of urls) rootOf(u);
  const given = hash >= 0 ? rest.slice(hash + 1).trim() : '';
  if (given) return { urls, model: given };
  const target = `${rootOf(urls[0]!)}/v1/models`;
  const apiKey = process.env['OPENAI_API_KEY'];
  let ids: string[];
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(30_000), ...(apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}) });
    if (!res.ok) throw new Error(`answered ${res.status}`);
    const body = (await res.json()) as { data?: { id?: unknown }[] };
    ids = (body.data ?? []).map((m) => String(m.id));
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    throw new Error(`${target}: ${err.cause?.code ?? err.message} (is the reward server up?)`);
  }
  if (ids.length !== 1) throw new Error(`${target} serves ${ids.length} models (${ids.join(', ') || 'none'}); name one: ${kind}:${urls.join(',')}#MODEL`);
  return { urls, model: ids[0]! };
}

async function remoteReward(kind: RemoteKind, rest: string, task: Task): Promise<RewardModel> {
  const { urls, model } = await servedTarget(kind, rest);
  const apiKey = process.env['OPENAI_API_KEY'];
  if (kind === 'pooling') {
    const { createRemotePrm } = await import('../reward/remote-prm.js');
    return createRemotePrm({ baseURLs: urls, model, ...(apiKey ? { apiKey } : {}) });
  }
  // The PRM or judge is a language model read through the openai backend (echo logprobs, or samples).
  const { createOpenAIPolicy } = await import('../policy/openai.js');
  const lm = await createOpenAIPolicy({ baseURLs: urls, model, ...(apiKey ? { apiKey } : {}) });
  if (kind === 'logprob-prm') {
    const { createLogprobPrm } = await import('../reward/logprob-prm.js');
    return createLogprobPrm(lm);
  }
  const { createJudge } = await import('../reward/judge.js');
  return createJudge(lm, { mode: kind === 'judge' ? 'logprob' : 'sample', stepDelimiter: task.stepDelimiter });
}
