import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RewardItem } from '../reward/reward.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { getTask } from '../tasks/registry.js';
import { parseRewardSpec } from './reward-spec.js';

/**
 * Remote rewards chosen by `--reward`: a loopback stand-in for a vLLM server that answers
 * `/v1/models`, `/pooling` (STEP pooling, [negative, positive] per step tag) and
 * `/v1/completions` (echo logprobs for P("+") and P(" Yes"), or sampled verdicts). A step or a
 * solution that holds "ok" is good: P(good) 0.8, else 0.3.
 */
let server: Server;
let url = '';
let models = ['prm-7b'];
const requests: { path: string; body: Record<string, unknown> }[] = [];
const good = (text: string): number => (text.includes('ok') ? 0.8 : 0.3);

function reply(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function completions(body: Record<string, unknown>, res: ServerResponse): void {
  const prompt = String(body['prompt']);
  const n = Number(body['n'] ?? 1);
  if (body['echo']) {
    // Character tokens; the verdict's tokens carry log P(verdict), the rest log 1.
    const verdict = /(\+|-| Yes| No)$/.exec(prompt)![1]!;
    const before = prompt.slice(0, -verdict.length);
    const judged = verdict === '+' || verdict === '-' ? before.split('\n').pop()! : before;
    const p = good(judged);
    const tokens = [...prompt];
    const lps = tokens.map((_, i) => (i === prompt.length - verdict.length ? Math.log(verdict === '+' || verdict === ' Yes' ? p : 1 - p) : 0));
    reply(res, { choices: [{ index: 0, text: prompt, finish_reason: 'length', logprobs: { tokens, token_logprobs: lps, text_offset: tokens.map((_, i) => i) } }], usage: { prompt_tokens: tokens.length, completion_tokens: 0 } });
    return;
  }
  const yes = Math.round(good(prompt) * n);
  reply(res, { choices: Array.from({ length: n }, (_, i) => ({ index: i, text: i < yes ? ' Yes' : ' No', finish_reason: 'stop' })), usage: { prompt_tokens: 10, completion_tokens: n } });
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      requests.push({ path, body });
      if (path === '/v1/models') return reply(res, { object: 'list', data: models.map((id) => ({ id, object: 'model', owned_by: 'vllm', max_model_len: 4096 })) });
      if (path === '/pooling') {
        const input = body['input'] as string[];
        return reply(res, { data: input.map((text, index) => ({ index, data: text.split('<extra_0>').slice(0, -1).map((s) => [1 - good(s), good(s)]) })), usage: { prompt_tokens: 5 } });
      }
      if (path === '/v1/completions') return completions(body, res);
      res.writeHead(404).end('{"error":{"message":"not found"}}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const task = getTask('gsm8k', {});
const item = (steps: string[]): RewardItem => ({ problem: { id: 'p', prompt: 'What is 1+1?', answer: '2' }, prompt: 'What is 1+1?', steps, complete: true });
const items = [item(['ok: 1+1', 'ok: = 2']), item(['ok: 1+1', 'so 3'])];

describe('--reward remote specs', () => {
  it('pooling:URL asks vLLM /pooling of the one served model for per-step scores', async () => {
    models = ['prm-7b'];
    const r = await parseRewardSpec(`pooling:${url}`, task);
    expect(r.kind).toBe('process');
    expect(r.oracle ?? false).toBe(false);
    const s = await r.score(items);
    expect(s.scores.map((x) => x.stepScores)).toEqual([[0.8, 0.8], [0.8, 0.3]]);
    expect(requests.filter((q) => q.path === '/pooling').every((q) => q.body['model'] === 'prm-7b')).toBe(true);
  });

  it('logprob-prm:URL#MODEL reads P("+") after each step through the openai backend (echo)', async () => {
    models = ['a', 'math-shepherd'];
    const r = await parseRewardSpec(`logprob-prm:${url}#math-shepherd`, task);
    const s = await r.score(items);
    expect(s.scores[0]!.stepScores.map((x) => +x.toFixed(6))).toEqual([0.8, 0.8]);
    expect(s.scores[1]!.stepScores.map((x) => +x.toFixed(6))).toEqual([0.8, 0.3]);
    expect(s.scores[1]!.score).toBeCloseTo(0.3, 6);
  });

  it('judge:URL reads P(" Yes"); judge-sample:URL counts sampled verdicts', async () => {
    models = ['judge-8b'];
    const lp = await parseRewardSpec(`judge:${url}`, task);
    expect(lp.kind).toBe('outcome');
    const a = await lp.score([item(['1+1 is 2, ok']), item(['1+1 is 3'])]);
    expect(a.scores.map((x) => +x.score.toFixed(6))).toEqual([0.8, 0.3]);
    const sm = await parseRewardSpec(`judge-sample:${url}`, task);
    const b = await sm.score([item(['1+1 is 2, ok']), item(['1+1 is 3'])]);
    expect(b.scores.map((x) => x.score)).toEqual([0.8, 0.4]);
  });

  it('searchlearn search --reward pooling:URL guides best-of-n with the remote PRM (compiled CLI)', async () => {
    models = ['prm-7b'];
    const before = requests.filter((q) => q.path === '/pooling').length;
    const dir = mkdtempSync(join(tmpdir(), 'searchlearn-reward-spec-'));
    writeTinyCheckpoint(join(dir, 'ckpt'));
    const main = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
    const out = join(dir, 'search.jsonl');
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [main, 'search', '--checkpoint', join(dir, 'ckpt'), '--task', 'arith', '--algo', 'best-of-n', '--budget', '2', '--problems', '2', '--reward', `pooling:${url}`, '--out', out, '--json'], { encoding: 'utf8', timeout: 120_000 }, (err, _o, stderr) =>
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stderr }),
      ),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(2);
    // The PRM scored the samples' steps.
    expect(requests.filter((q) => q.path === '/pooling').length).toBeGreaterThan(before);
  }, 120_000);

  it('names a missing URL, an ambiguous model and a server that is down in one line', async () => {
    await expect(parseRewardSpec('pooling:', task)).rejects.toThrow(/expected pooling:URL\[,URL\.\.\.\]\[#MODEL\]/);
    models = ['a', 'b'];
    await expect(parseRewardSpec(`judge:${url}`, task)).rejects.toThrow(/serves 2 models \(a, b\); name one: judge:.*#MODEL/);
    await expect(parseRewardSpec('judge:http://127.0.0.1:1/v1', task)).rejects.toThrow(/is the reward server up/);
    await expect(parseRewardSpec('remote:x', task)).rejects.toThrow(/valid: .*pooling:URL\[#MODEL\].*judge-sample/);
  });
});

describe('--reward confidence:POLICY', () => {
  it("scores with the named policy's log-probabilities, not the searching policy's, and names it", async () => {
    const { policyFromSpec } = await import('../policy/factory.js');
    const { createConfidenceReward } = await import('../reward/self-eval.js');
    const dir = mkdtempSync(join(tmpdir(), 'sl-conf-'));
    const searching = join(dir, 'final');
    const stale = join(dir, 'initial');
    writeTinyCheckpoint(searching, { seed: 4 });
    writeTinyCheckpoint(stale, { seed: 9 });
    const arith = getTask('arith');
    const [problem] = arith.problems('test', 1, 0);
    const item: RewardItem = { problem: problem!, prompt: arith.formatPrompt(problem!), steps: ['1+2=3 w3', 'Answer: 3'], complete: true };
    const own = await policyFromSpec(searching);
    const reward = await parseRewardSpec(`confidence:${stale}`, arith, own);
    expect(reward.id).toBe(`confidence:${stale}`);
    const got = (await reward.score([item])).scores[0]!;
    const want = (await createConfidenceReward(await policyFromSpec(stale), arith.stepDelimiter).score([item])).scores[0]!;
    const ownScore = (await createConfidenceReward(own, arith.stepDelimiter).score([item])).scores[0]!;
    expect(got.stepScores).toEqual(want.stepScores);
    expect(Math.abs(Math.log(got.score) - Math.log(ownScore.score))).toBeGreaterThan(0.01);
  });

  it('names a missing checkpoint in one line', async () => {
    const arith = getTask('arith');
    await expect(parseRewardSpec('confidence:/no/such/ckpt', arith)).rejects.toThrow(/^confidence:\/no\/such\/ckpt: no such checkpoint directory \(valid: verifier, /);
    await expect(parseRewardSpec('confidence:', arith)).rejects.toThrow(/^expected confidence:POLICY/);
  });
});

describe('--reward step-check', () => {
  it("is the task's exact step checks: deployable on countdown, an oracle on arith, one line where a task has none", async () => {
    const countdown = getTask('countdown');
    const r = await parseRewardSpec('step-check', countdown);
    expect(r.oracle).toBe(false);
    const p = { id: 'x', prompt: 'make 48 from 3 7 12', answer: '48' };
    const { scores } = await r.score([
      { problem: p, steps: ['7-3=4 (12 4)', '12*4=48 (48)', 'Answer: 48'], complete: true },
      { problem: p, steps: ['7-3=4 (12 4)', '12*4=46 (46)'], complete: false },
    ]);
    expect(scores.map((s) => s.stepScores)).toEqual([[1, 1, 1], [1, 0]]);
    expect((await parseRewardSpec('step-check', getTask('arith'))).oracle).toBe(true);
    await expect(parseRewardSpec('step-check', task)).rejects.toThrow(/^step-check: task gsm8k has no step checker \(valid: verifier, step-check, /);
  });
});

describe('--reward SPEC+confidence[=λ]', () => {
  it("mixes the named reward with the searching policy's confidence, step by step", async () => {
    const { policyFromSpec } = await import('../policy/factory.js');
    const { createConfidenceReward } = await import('../reward/self-eval.js');
    const { createStepCheckReward } = await import('../reward/step-check.js');
    const dir = mkdtempSync(join(tmpdir(), 'sl-mix-'));
    writeTinyCheckpoint(dir, { seed: 4 });
    const arith = getTask('arith');
    const [problem] = arith.problems('test', 1, 0);
    const item: RewardItem = { problem: problem!, prompt: arith.formatPrompt(problem!), steps: ['1+2=3 w3', 'Answer: 3'], complete: true };
    const policy = await policyFromSpec(dir);
    const reward = await parseRewardSpec('step-check+confidence=0.25', arith, policy);
    expect(reward.id).toBe('step-check:arith+confidence=0.25');
    expect(reward.oracle).toBe(true);
    const got = (await reward.score([item])).scores[0]!;
    const conf = (await createConfidenceReward(policy, arith.stepDelimiter).score([item])).scores[0]!.stepScores!;
    const checks = (await createStepCheckReward(arith).score([item])).scores[0]!.stepScores!;
    expect(got.stepScores).toEqual(conf.map((c, k) => expect.closeTo(c ** 0.25 * checks[k]! ** 0.75, 12)));
    expect((await parseRewardSpec('step-check+confidence', arith, policy)).id).toBe('step-check:arith+confidence=0.5');
  });

  it('says in one line what is wrong: the weight, a missing policy, confidence twice, the inner spec', async () => {
    const arith = getTask('arith');
    const dir = mkdtempSync(join(tmpdir(), 'sl-mix-'));
    writeTinyCheckpoint(dir, { seed: 4 });
    const { policyFromSpec } = await import('../policy/factory.js');
    const policy = await policyFromSpec(dir);
    await expect(parseRewardSpec('step-check+confidence=2', arith, policy)).rejects.toThrow('confidence weight λ = "2": expected a number in [0, 1] (step-check+confidence=0.5)');
    await expect(parseRewardSpec('step-check+confidence=', arith, policy)).rejects.toThrow(/^confidence weight λ = "": expected a number in \[0, 1\]/);
    await expect(parseRewardSpec('step-check+confidence', arith)).rejects.toThrow(/^step-check\+confidence reads the policy's own confidence: this command has no policy/);
    await expect(parseRewardSpec('confidence+confidence', arith, policy)).rejects.toThrow(/^confidence\+confidence: mix confidence with another reward/);
    await expect(parseRewardSpec('prm:/no/such+confidence', arith, policy)).rejects.toThrow(/^no such directory \/no\/such \(valid: /);
  });
});
