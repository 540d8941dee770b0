import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSearch } from '../eval/eval.js';
import { createVerifierReward } from '../reward/verifier.js';
import { builtinBackend } from '../serve/batcher.js';
import { startServer, type RunningServer } from '../serve/server.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { getTask } from '../tasks/registry.js';
import { BuiltinPolicy } from './builtin.js';
import { createOpenAIPolicy } from './openai.js';

/** Search through the openai backend against `searchlearn serve` over loopback HTTP. */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-osearch-'));
let s: RunningServer;
beforeAll(async () => {
  writeTinyCheckpoint(dir);
  s = await startServer(builtinBackend(BuiltinPolicy.load(dir)), { port: 0, modelName: 'tiny' });
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('search over HTTP', () => {
  const task = getTask('arith');
  const problems = task.problems('test', 4, 0);

  it('majority voting through the server equals majority voting on the built-in model', async () => {
    const remote = await createOpenAIPolicy({ baseURL: s.url, model: 'tiny' });
    const local = BuiltinPolicy.load(dir);
    const run = (policy: typeof local | typeof remote) => runSearch({ task, policy, reward: createVerifierReward(task), algo: 'majority', budget: 8, problems, maxTokens: 40, seed: 3 });
    const [a, b] = [await run(remote), await run(local)];
    expect(a.results.map((r) => [r.answer, r.trajectories.map((t) => t.text)])).toEqual(b.results.map((r) => [r.answer, r.trajectories.map((t) => t.text)]));
    expect(a.row.output_tokens).toBe(b.row.output_tokens);
    expect(a.row.policy_calls).toBe(b.row.policy_calls);
  });

  it('beam search runs step by step through the server (stop strings kept, compute counted)', async () => {
    const remote = await createOpenAIPolicy({ baseURL: s.url, model: 'tiny' });
    const before = s.stats.requests;
    const { results, row } = await runSearch({ task, policy: remote, reward: createVerifierReward(task), algo: 'beam', budget: 4, problems, maxTokens: 40, seed: 1 });
    expect(row.problems).toBe(4);
    for (const r of results) {
      expect(r.trajectories.length).toBeGreaterThan(0);
      expect(r.compute.outputTokens).toBeGreaterThan(0);
    }
    // Step search makes more than one request per problem; every one is counted once.
    const calls = results.reduce((t, r) => t + r.compute.policyCalls, 0);
    expect(calls).toBeGreaterThan(problems.length);
    expect(remote.usage.calls).toBe(s.stats.requests - before);
    expect(remote.usage.outputTokens).toBe(results.reduce((t, r) => t + r.compute.outputTokens, 0));
  });
});
