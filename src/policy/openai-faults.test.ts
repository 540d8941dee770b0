import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runSearch } from '../eval/eval.js';
import { createVerifierReward } from '../reward/verifier.js';
import { startFaultProxy } from '../serve/fault-proxy.js';
import { builtinBackend } from '../serve/batcher.js';
import { startServer } from '../serve/server.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { getTask } from '../tasks/registry.js';
import { BuiltinPolicy } from './builtin.js';
import { createOpenAIPolicy, type OpenAIPolicyOptions } from './openai.js';

/**
 * The fault target: a best-of-16 eval over 100 problems through two fault-injecting
 * proxies (500, 429 with Retry-After, dropped and truncated connections, stalls) in front of
 * `searchlearn serve` completes with every request accounted for, none lost, none counted twice.
 * Samples fan out (one request per sample), so 1600 requests cross the faults. A stall holds the
 * answer 300 ms, then the proxy cuts the connection (a load balancer's idle timeout). The server is
 * deterministic under seeds, so the faulty run must equal a fault-free run sample for sample and
 * token for token: a lost request would leave a sample missing, one counted twice would add tokens.
 */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('best-of-16 over 100 problems under injected faults loses and double-counts nothing', async () => {
  writeTinyCheckpoint(dir, { contextLength: 64 });
  // In process: no client timeout can fire spuriously (stalls end by the proxy cutting the
  // connection), so the server's synchronous decoding blocking the loop for a few ms is harmless.
  const server = await startServer(builtinBackend(BuiltinPolicy.load(dir, 'reference')), { port: 0, modelName: 'tiny', batcher: { windowMs: 2 } });
  const rates = { error500: 0.05, error429: 0.05, drop: 0.03, truncate: 0.02, stall: 0.01 };
  const proxies = await Promise.all([startFaultProxy(server.url, rates, { seed: 1, stallMs: 300 }), startFaultProxy(server.url, rates, { seed: 2, stallMs: 300 })]);
  try {
    const task = getTask('arith');
    const problems = task.problems('test', 100, 0);
    const opts: OpenAIPolicyOptions = { model: 'tiny', n: 'fanout', concurrency: 8, timeoutMs: 120_000, retryBaseDelayMs: 5, maxRetries: 12 };
    const evalOn = async (baseURLs: string[]) => {
      const policy = await createOpenAIPolicy({ ...opts, baseURLs });
      const probes = policy.stats.attempts; // /v1/models per endpoint and /tokenize: not generation
      const run = await runSearch({ task, policy, reward: createVerifierReward(task), algo: 'best-of-n', budget: 16, problems, maxTokens: 24, seed: 0 });
      return { ...run, policy, probes };
    };
    // Both runs at once (they share the server's batches; seeds keep each sample the same).
    const [clean, faulty] = await Promise.all([evalOn([server.url]), evalOn(proxies.map((p) => p.url))]);

    const sum = (f: (s: (typeof proxies)[number]['stats']) => number): number => proxies.reduce((t, p) => t + f(p.stats), 0);
    const injected = sum((s) => Object.values(s.faults).reduce((a, b) => a + b, 0));
    const tokens = (r: typeof clean) => r.results.reduce((s, x) => s + x.compute.outputTokens, 0);
    const calls = (r: typeof clean) => r.results.reduce((s, x) => s + x.compute.policyCalls, 0);
    const st = faulty.policy.stats;
    const attempts = st.attempts - faulty.probes;
    const figures = {
      problems: faulty.results.length,
      samples: faulty.results.reduce((s, r) => s + r.trajectories.length, 0),
      attempts,
      proxy_received: sum((s) => s.received),
      faults_injected: injected,
      faults_by_kind: proxies.map((p) => p.stats.faults),
      retried: st.retried,
      client_saw: st.byReason,
      given_up: st.failed,
      calls_counted: calls(faulty),
      calls_fault_free: calls(clean),
      output_tokens: tokens(faulty),
      output_tokens_fault_free: tokens(clean),
      per_endpoint_ok: faulty.policy.endpoints().map((e) => e.ok),
    };
    console.log(`fault test figures: ${JSON.stringify(figures)}`);

    // None lost: every problem has its 16 samples, nothing given up, the same samples as without faults.
    expect(faulty.row.problems).toBe(100);
    expect(faulty.results.every((r) => r.trajectories.length === 16)).toBe(true);
    expect(st.failed).toBe(0);
    expect(faulty.results.map((r) => r.trajectories.map((t) => t.text))).toEqual(clean.results.map((r) => r.trajectories.map((t) => t.text)));
    // Every request accounted for: each attempt reached a proxy and ended exactly once (used or retried).
    expect(attempts).toBe(sum((s) => s.received));
    expect(attempts).toBe(st.ok - faulty.probes + st.retried);
    // Every injected fault cost exactly one retry (stalls end with the proxy cutting the connection,
    // so a slow machine causes no timeouts of its own; the client's timeout is tested in openai.test.ts).
    expect(st.retried).toBe(injected);
    expect(injected).toBeGreaterThan(100);
    // None counted twice: calls and tokens equal the fault-free run's.
    expect(calls(faulty)).toBe(1600);
    expect(calls(clean)).toBe(1600);
    expect(tokens(faulty)).toBe(tokens(clean));
    expect(faulty.row.accuracy).toBe(clean.row.accuracy);
    // Both replicas took work.
    for (const e of faulty.policy.endpoints()) expect(e.ok).toBeGreaterThan(400);
  } finally {
    for (const p of proxies) await p.close();
    await server.close();
  }
}, 600_000);
