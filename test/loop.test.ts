import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

/** End-to-end: `searchlearn loop` and `demo --quick` as a user runs them, on tiny budgets. */
const main = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'searchlearn-loop-'));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 400_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
const lines = (p: string): Record<string, unknown>[] => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

const init = join(tmp, 'init');
const tiny = ['--problems', '6', '--steps', '3', '--eval-problems', '4', '--eval-samples', '2', '--budget', '2', '--train-option', 'minDigits=3', '--train-option', 'maxDigits=3'];

describe('searchlearn loop', () => {
  beforeAll(async () => {
    const r = await run(['init', '--task', 'arith', '--task-option', 'ops=+-', '--task-option', 'maxDigits=2', '--foothold', '8', '--foothold-option', 'minDigits=3', '--foothold-option', 'maxDigits=3', '--foothold-share', '0.25', '--out', init, '--steps', '3', '--train-problems', '64', '--eval-problems', '4', '--batch-size', '4']);
    expect(r.code, r.stderr).toBe(0);
    // The foothold's share of the init's rows is recorded beside its traces.
    expect(JSON.parse(readFileSync(join(init, 'config.json'), 'utf8')).foothold).toEqual({ count: 8, taskOptions: { minDigits: '3', maxDigits: '3' }, share: 0.25 });
  }, 120_000);

  it('runs iterations, and a rerun resumes after the last finished one with no metrics counted twice', async () => {
    const out = join(tmp, 'loop');
    const a = await run(['loop', '--init', init, '--out', out, '--iterations', '1', '--no-control', ...tiny]);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'state.json'), 'utf8')).iteration).toBe(1);
    // Samples (pass@k, the vote) on the first 3 held-out problems, greedy on all 4.
    const b = await run(['loop', '--init', init, '--out', out, '--iterations', '2', ...tiny, '--eval-sampled-problems', '3', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const state = JSON.parse(b.stdout.trim().split('\n').pop()!);
    expect(state.iteration).toBe(2);
    expect(state.control.control).toBe(true);
    expect(state.control.levels.harder).toMatchObject({ problems: 4, sampledProblems: 3 });
    const iters = lines(join(out, 'metrics.jsonl')).filter((m) => m['event'] === 'iteration');
    // Iteration 0 (the initial policy), 1, 2, and the control: each exactly once.
    expect(iters.map((m) => `${m['iteration']}${m['control'] ? 'c' : ''}`)).toEqual(['0', '1', '2', '2c']);
    for (const m of iters) {
      expect(m['eval/greedy/initial']).toBeGreaterThanOrEqual(0);
      expect(m['eval/greedy/harder']).toBeGreaterThanOrEqual(0);
    }
    for (const f of ['checkpoints/iter-2/model.safetensors', 'search/iter-2.jsonl', 'data/iter-2/sft.jsonl', 'data/iter-2/pairs.jsonl', 'data/iter-2/problems.jsonl', 'control/checkpoint/model.safetensors']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'search/iter-1.jsonl'), 'utf8').trim().split('\n')).toHaveLength(6);
  }, 400_000);

  it('searches its training problems with a step-level search guided by exact step checks', async () => {
    const out = join(tmp, 'loop-beam');
    const a = await run(['loop', '--init', init, '--out', out, '--iterations', '1', '--no-control', ...tiny, '--budget', '4', '--search', 'beam', '--reward', 'step-check']);
    expect(a.code, a.stderr).toBe(0);
    const results = lines(join(out, 'search/iter-1.jsonl'));
    expect(results).toHaveLength(6);
    for (const r of results) {
      expect(r['algo']).toBe('beam');
      const compute = r['compute'] as Record<string, number>;
      // One reward call per round: the search scored partial solutions, as sampling never does.
      expect(compute['rewardCalls']).toBeGreaterThan(0);
      expect(compute['outputTokens']).toBeGreaterThan(0);
      for (const t of r['trajectories'] as { stepScores?: number[] }[]) expect(t.stepScores?.every((s) => s === 0 || s === 1)).toBe(true);
    }
    const round = lines(join(out, 'metrics.jsonl')).find((m) => m['event'] === 'iteration' && m['iteration'] === 1)!;
    expect(round['tokens/searched']).toBe(results.reduce((s, r) => s + (r['compute'] as Record<string, number>)['outputTokens']!, 0));
    // Solved and stuck problems are disjoint shares of the round's problems.
    const solved = round['data/problems_solved'] as number;
    const stuck = round['data/problems_stuck'] as number;
    expect(stuck).toBeGreaterThanOrEqual(0);
    expect(solved + stuck).toBeLessThanOrEqual(1);
  }, 400_000);

  it('on Countdown, searches with its step checks and evaluates with the checker choosing, not a vote', async () => {
    const cd = join(tmp, 'init-countdown');
    const i = await run(['init', '--task', 'countdown', '--out', cd, '--steps', '3', '--train-problems', '64', '--eval-problems', '4', '--batch-size', '4']);
    expect(i.code, i.stderr).toBe(0);
    const out = join(tmp, 'loop-countdown');
    const a = await run(['loop', '--init', cd, '--out', out, '--iterations', '1', '--no-control', '--problems', '3', '--steps', '2', '--eval-problems', '3', '--eval-samples', '2', '--budget', '2', '--search', 'beam', '--reward', 'step-check', '--train-option', 'numbers=4', '--eval-option', 'numbers=4']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('bo-N harder');
    const iters = lines(join(out, 'metrics.jsonl')).filter((m) => m['event'] === 'iteration');
    expect(iters).toHaveLength(2);
    for (const m of iters) {
      expect(m['eval/checker@vote/harder']).toBeGreaterThanOrEqual(0);
      expect(m['eval/majority@vote/harder']).toBeUndefined();
      expect(m['eval/search_accuracy']).toBe(m['eval/checker@vote/harder']);
    }
    for (const r of lines(join(out, 'search/iter-1.jsonl'))) expect((r['compute'] as Record<string, number>)['rewardCalls']).toBeGreaterThan(0);
  }, 400_000);

  it('names a bad config field, a bad flag value and an unwritable --out in one line', async () => {
    const cfg = join(tmp, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ stepz: 3 }));
    const a = await run(['loop', '--init', init, '--out', join(tmp, 'x'), '--config', cfg]);
    expect(a.code).toBe(2);
    expect(a.stderr.trim().split('\n')).toHaveLength(1);
    expect(a.stderr).toContain('stepz');
    writeFileSync(cfg, JSON.stringify({ budget: 0 }));
    const b = await run(['loop', '--init', init, '--out', join(tmp, 'x'), '--config', cfg]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/field budget: .*>=1/);
    writeFileSync(cfg, JSON.stringify({ search: 'beam:width=2', revisionRows: 2 }));
    const s = await run(['loop', '--init', init, '--out', join(tmp, 'x'), '--config', cfg]);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/field search: .*'width' is not an option of beam; valid: n, beamWidth/);
    writeFileSync(cfg, JSON.stringify({ learner: 'dpo', learnerConfig: { bta: 0.3 } }));
    const l = await run(['loop', '--init', init, '--out', join(tmp, 'x'), '--config', cfg]);
    expect(l.code).toBe(2);
    expect(l.stderr.trim().split('\n')).toHaveLength(1);
    expect(l.stderr).toMatch(/field learnerConfig\.bta: not a field of the dpo learner \(valid: beta, rpoAlpha, dpopLambda,/);
    const c = await run(['loop', '--init', init, '--out', join(tmp, 'x'), '--learner', 'ppx']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/learner.*sft/);
    const d = await run(['loop', '--init', init, '--out', '/etc/passwd/sub', ...tiny]);
    expect(d.code).toBe(2);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
    expect(d.stderr).toContain('ENOTDIR');
    const e = await run(['loop', '--init', join(tmp, 'nope'), '--out', join(tmp, 'y')]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('config.json');
  }, 120_000);

  it('demo --quick runs the main job end to end and ends with the summary line', async () => {
    const out = join(tmp, 'demo');
    const r = await run(['demo', '--quick', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
    for (const k of ['init_greedy_accuracy', 'final_greedy_accuracy', 'control_greedy_accuracy', 'final_search_accuracy', 'iterations', 'wall_s']) expect(typeof last[k], k).toBe('number');
    expect(last.iterations).toBe(2);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    expect(existsSync(join(out, 'loop', 'control', 'checkpoint', 'model.safetensors'))).toBe(true);
    // The demo samples the harder level only: greedy on the initial level, pass@k and the vote on the harder.
    const iters = lines(join(out, 'loop', 'metrics.jsonl')).filter((m) => m['event'] === 'iteration');
    expect(iters).toHaveLength(4);
    for (const m of iters) {
      expect(Object.keys(m).filter((k) => k.endsWith('/initial'))).toEqual(['eval/greedy/initial']);
      expect(typeof m['eval/pass@4/harder']).toBe('number');
      expect(m['eval/search_accuracy']).toBe(m['eval/majority@vote/harder']);
    }
  }, 400_000);
});
