import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { Completion, Policy } from './policy.js';

/**
 * The behaviour suite every Policy backend runs (as honojs/hono's `common.case.test.ts` for
 * routers). Call it from a backend's test file:
 *
 *     policyConformanceSuite('builtin', async () => loadBuiltin(...), { prefixes: ['1+2='] });
 *
 * The checks are properties any correct backend has whatever its model says (texts never run
 * past a stop string, token counts add up, a seed reproduces), so an untrained model passes too.
 * A backend that cannot do something lists it in `skip` with the reason; a skip without a reason
 * is an error. A backend that does it but not every time (a known fault outside this project)
 * lists it in `retry` with the reason: the check runs up to three times and fails if every try does.
 */
export interface ConformanceOptions {
  /** Prefixes to continue (must be in the backend's alphabet). Default ['1+2=', 'Hello']. */
  prefixes?: string[];
  /** Stop strings for the stop test. Default ['\n', ' ', '=']. */
  stop?: string[];
  /** maxTokens for ordinary requests. Default 16. */
  maxTokens?: number;
  /** Also assert that at least one sample hit a stop string (true for scripted or trained models). */
  expectStopHit?: boolean;
  /** Tests to skip, by name, each with the reason (e.g. { logprobs: 'server has no logprobs' }). */
  skip?: Partial<Record<ConformanceTest, string>>;
  /** Tests to try up to three times, by name, each with the reason. */
  retry?: Partial<Record<ConformanceTest, string>>;
}

export type ConformanceTest =
  | 'n'
  | 'stop'
  | 'maxTokens'
  | 'seed'
  | 'greedy'
  | 'usage'
  | 'logprobs'
  | 'logprobsOf'
  | 'empty'
  | 'unsupported';

export function policyConformanceSuite(name: string, makePolicy: () => Promise<Policy>, opts: ConformanceOptions = {}): void {
  const prefixes = opts.prefixes ?? ['1+2=', 'Hello'];
  const stop = opts.stop ?? ['\n', ' ', '='];
  const maxTokens = opts.maxTokens ?? 16;
  for (const [kind, tests] of [['skip', opts.skip], ['retry', opts.retry]] as const) {
    for (const [test, why] of Object.entries(tests ?? {})) {
      if (typeof why !== 'string' || why.trim() === '') throw new Error(`policyConformanceSuite(${name}): ${kind} of '${test}' must say why`);
    }
  }

  describe(`Policy conformance: ${name}`, () => {
    let policy: Policy;
    beforeAll(async () => {
      policy = await makePolicy();
    });

    const check = (test: ConformanceTest, title: string, fn: (ctx: TestContext) => Promise<void>): void => {
      const why = opts.skip?.[test];
      if (why !== undefined) it.skip(`${title} (skipped: ${why})`, fn);
      else if (opts.retry?.[test] !== undefined) it(`${title} (up to three tries: ${opts.retry[test]})`, { retry: 2 }, fn);
      else it(title, fn);
    };

    check('n', 'returns n completions for each prefix, each within maxTokens', async () => {
      const res = await policy.generate({ prefixes, n: 3, maxTokens, seed: 1 });
      expect(res.completions).toHaveLength(prefixes.length);
      for (const samples of res.completions) {
        expect(samples).toHaveLength(3);
        for (const c of samples) expectWellFormed(c, maxTokens);
      }
      expect(Array.isArray(res.warnings)).toBe(true);
    });

    check('stop', 'ends a completion right after the first stop string (kept in the text)', async () => {
      const res = await policy.generate({ prefixes, n: 4, stop, maxTokens, seed: 2 });
      let hits = 0;
      for (const c of res.completions.flat()) {
        expectWellFormed(c, maxTokens);
        // No stop string may occur anywhere but at the very end.
        for (const s of stop) {
          const at = c.text.indexOf(s);
          if (at >= 0) expect(at + s.length).toBe(c.text.length);
        }
        if (c.finishReason === 'stop') {
          hits++;
          expect(stop.some((s) => c.text.endsWith(s))).toBe(true);
        }
      }
      if (opts.expectStopHit) expect(hits).toBeGreaterThan(0);
    });

    check('maxTokens', "respects maxTokens and reports finishReason 'length' when it cuts", async () => {
      const res = await policy.generate({ prefixes, n: 4, maxTokens: 2, seed: 3 });
      let cut = 0;
      for (const c of res.completions.flat()) {
        expectWellFormed(c, 2);
        if (c.finishReason === 'length') {
          cut++;
          expect(c.tokens).toBe(2);
        }
      }
      // Eight samples all ending on their own within two tokens would be a broken backend.
      expect(cut).toBeGreaterThan(0);
    });

    check('seed', 'reproduces completions for the same seed', async () => {
      const req = { prefixes, n: 2, maxTokens, temperature: 1, seed: 1234 };
      const a = await policy.generate(req);
      const b = await policy.generate(req);
      expect(texts(b.completions)).toEqual(texts(a.completions));
    });

    check('greedy', 'is deterministic at temperature 0 (samples and calls agree)', async () => {
      const a = await policy.generate({ prefixes, n: 2, maxTokens, temperature: 0 });
      const b = await policy.generate({ prefixes, n: 1, maxTokens, temperature: 0, seed: 99 });
      for (let p = 0; p < prefixes.length; p++) {
        expect(a.completions[p]![1]!.text).toBe(a.completions[p]![0]!.text);
        expect(b.completions[p]![0]!.text).toBe(a.completions[p]![0]!.text);
      }
    });

    check('usage', 'reports usage consistent with the completions', async () => {
      const res = await policy.generate({ prefixes, n: 2, maxTokens, seed: 5 });
      const sum = res.completions.flat().reduce((s, c) => s + c.tokens, 0);
      expect(res.usage.outputTokens).toBe(sum);
      expect(res.usage.calls).toBeGreaterThanOrEqual(1);
      expect(res.usage.promptTokens).toBeGreaterThan(0);
      expect(res.usage.cachedPromptTokens).toBeGreaterThanOrEqual(0);
      expect(res.usage.cachedPromptTokens).toBeLessThanOrEqual(res.usage.promptTokens);
      for (const p of prefixes) expect(policy.countTokens(p)).toBeGreaterThan(0);
    });

    check('logprobs', 'returns one log-probability per generated token when asked (or warns)', async () => {
      const res = await policy.generate({ prefixes, n: 2, maxTokens, seed: 6, logprobs: true });
      const all = res.completions.flat();
      if (all.some((c) => c.logprobs === undefined)) {
        expect(res.warnings.length, 'a backend without logprobs must warn').toBeGreaterThan(0);
        return;
      }
      for (const c of all) {
        expect(c.logprobs).toHaveLength(c.tokens);
        for (const lp of c.logprobs!) {
          expect(Number.isFinite(lp)).toBe(true);
          expect(lp).toBeLessThanOrEqual(1e-6);
        }
      }
    });

    check('logprobsOf', 'scores given continuations with logprobsOf', async (ctx) => {
      if (!policy.logprobsOf) ctx.skip('backend has no logprobsOf (optional)');
      const res = await policy.logprobsOf!(prefixes.map((prefix) => ({ prefix, continuation: prefixes[0]! })));
      expect(res).toHaveLength(prefixes.length);
      for (const r of res) {
        expect(r.logprobs.length).toBeGreaterThan(0);
        for (const lp of r.logprobs) expect(lp).toBeLessThanOrEqual(1e-6);
      }
    });

    check('empty', 'accepts an empty prefix list', async () => {
      const res = await policy.generate({ prefixes: [], n: 3, maxTokens });
      expect(res.completions).toEqual([]);
      expect(res.usage.outputTokens).toBe(0);
    });

    check('unsupported', 'warns (does not crash) on options it cannot honour', async () => {
      const res = await policy.generate({ prefixes: prefixes.slice(0, 1), maxTokens, topP: 0.9, topK: 5, seed: 7 });
      expect(res.completions).toHaveLength(1);
      expect(Array.isArray(res.warnings)).toBe(true);
    });
  });
}

function expectWellFormed(c: Completion, maxTokens: number): void {
  expect(typeof c.text).toBe('string');
  expect(['stop', 'eos', 'length']).toContain(c.finishReason);
  expect(Number.isInteger(c.tokens)).toBe(true);
  expect(c.tokens).toBeGreaterThanOrEqual(0);
  expect(c.tokens).toBeLessThanOrEqual(maxTokens);
}

function texts(completions: Completion[][]): string[][] {
  return completions.map((s) => s.map((c) => c.text));
}
