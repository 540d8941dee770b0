import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** End-to-end: the compiled CLI as a user runs it (npm test builds dist/ first), on tiny budgets. */
const main = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'searchlearn-e2e-'));

/** Runs the CLI asynchronously (a synchronous spawn would block the test worker's heartbeat). */
function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 240_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
const lastJson = (s: string): Record<string, unknown> => JSON.parse(s.trim().split('\n').pop()!);

describe('searchlearn CLI', () => {
  it('lists its commands', () => {
    const out = execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
    for (const c of ['demo', 'init', 'eval', 'search', 'train-lm', 'sample', 'verify', 'bench']) expect(out).toContain(c);
  });

  it('train-lm learns a text, saves a checkpoint, and sample reproduces under a seed', async () => {
    const data = join(tmp, 'fox.txt');
    writeFileSync(data, 'the quick brown fox jumps over the lazy dog.\n'.repeat(30));
    const out = join(tmp, 'fox');
    const t = await run(['train-lm', '--data', data, '--out', out, '--steps', '40', '--batch-size', '8', '--lr', '1e-2']);
    expect(t.code, t.stderr).toBe(0);
    expect(lastJson(t.stdout)['loss']).toBeLessThan(1.0);
    expect(existsSync(join(out, 'checkpoint', 'model.safetensors'))).toBe(true);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toContain('train/loss');
    const s1 = await run(['sample', '--checkpoint', out, '--prompt', 'the q', '--n', '3', '--max-tokens', '12', '--seed', '7', '--json']);
    const s2 = await run(['sample', '--checkpoint', out, '--prompt', 'the q', '--n', '3', '--max-tokens', '12', '--seed', '7', '--json']);
    expect(s1.code, s1.stderr).toBe(0);
    expect(s1.stdout).toBe(s2.stdout);
    expect(s1.stdout.trim().split('\n').length).toBe(4); // 3 samples + usage
    // Resuming a finished run does no more steps and keeps the checkpoint.
    const again = await run(['train-lm', '--data', data, '--out', out, '--steps', '40', '--batch-size', '8']);
    expect(again.code, again.stderr).toBe(0);
    expect(lastJson(again.stdout)['steps']).toBe(40);
  });

  it('init, eval, search and the behaviour statistics run end to end on a tiny budget', async () => {
    const out = join(tmp, 'arith');
    const i = await run(['init', '--task', 'arith', '--out', out, '--steps', '3', '--train-problems', '64', '--eval-problems', '4', '--batch-size', '4']);
    expect(i.code, i.stderr).toBe(0);
    const init = lastJson(i.stdout);
    expect(init['problems']).toBe(4);
    expect(init['accuracy']).toBeGreaterThanOrEqual(0);
    const e = await run(['eval', '--checkpoint', out, '--task', 'arith', '--problems', '3', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(Object.keys(lastJson(e.stdout))).toEqual(expect.arrayContaining(['accuracy', 'problems']));
    // --out DIR: eval.jsonl (one EvalRow a line) and search/<algo>-<budget>.jsonl (SearchResults with `correct`);
    // the gold-reading verifier makes best-of-n an oracle; majority and greedy use no reward at all.
    const evalDir = join(tmp, 'eval-out');
    const t = await run(['eval', '--checkpoint', out, '--task', 'arith', '--problems', '2', '--algos', 'greedy,majority,adaptive-majority,best-of-n', '--budgets', '2', '--temperature', '0.7', '--out', evalDir, '--json']);
    expect(t.code, t.stderr).toBe(0);
    const rows = lastJson(t.stdout)['rows'] as { algo: string; budget: number; accuracy: number; output_tokens: number }[];
    expect(rows.map((r) => `${r.algo}@${r.budget}`)).toEqual(['greedy@1', 'majority@2', 'adaptive-majority@2', 'best-of-n@2']);
    for (const r of rows) expect(r.output_tokens).toBeGreaterThan(0);
    const evalRows = readFileSync(join(evalDir, 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(evalRows.map((r) => [r['algo'], r['oracle'], r['reward'], r['temperature']])).toEqual([
      ['greedy', false, 'none', 0],
      ['majority', false, 'none', 0.7],
      ['adaptive-majority', false, 'none', 0.7],
      ['best-of-n', true, 'verifier:arith', 0.7],
    ]);
    for (const r of evalRows) for (const k of ['reward_tokens', 'prompt_tokens', 'cached_prompt_tokens', 'reward_calls', 'output_tokens']) expect(typeof r[k], k).toBe('number');
    expect(evalRows[1]!['reward_calls']).toBe(0);
    expect(evalRows[2]!['reward_calls']).toBe(0);
    expect(evalRows[3]!['reward_calls']).toBeGreaterThan(0);
    for (const name of ['greedy-1', 'majority-2', 'adaptive-majority-2', 'best-of-n-2']) {
      const results = readFileSync(join(evalDir, 'search', `${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { correct: unknown; compute: unknown });
      expect(results).toHaveLength(2);
      for (const r of results) expect(typeof r.correct).toBe('boolean');
    }
    // The policy's own judgement is a deployable reward on eval too (not an oracle), and it is counted.
    const c = await run(['eval', '--checkpoint', out, '--task', 'arith', '--problems', '2', '--algos', 'best-of-n', '--budgets', '2', '--reward', 'confidence', '--json']);
    expect(c.code, c.stderr).toBe(0);
    const conf = (lastJson(c.stdout)['rows'] as Record<string, unknown>[])[0]!;
    expect([conf['oracle'], conf['reward']]).toEqual([false, 'confidence']);
    expect(conf['reward_calls']).toBeGreaterThan(0);
    const file = join(tmp, 'searches.jsonl');
    const s = await run(['search', '--checkpoint', out, '--task', 'arith', '--algo', 'best-of-n', '--budget', '2', '--problems', '2', '--out', file, '--json']);
    expect(s.code, s.stderr).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(2);
    expect(lines[0].compute.outputTokens).toBeGreaterThan(0);
    const b = await run(['eval', '--checkpoint', out, '--task', 'arith', '--problems', '2', '--samples', '2', '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(lastJson(b.stdout)['samples']).toBe(4);
  });

  it('bad input fails with one line naming the value and what is valid', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['eval', '--checkpoint', tmp, '--task', 'arith', '--algos', 'nope'], /--algos .*unknown search 'nope'; valid: greedy/],
      [['eval', '--checkpoint', tmp, '--task', 'arith', '--algos', 'majority,revision:select=vote'], /--algos .*select must be one of last, best, majority, weighted, not 'vote'/],
      [['search', '--checkpoint', tmp, '--task', 'arith', '--algo', 'beam', '--budget', '0'], /--budget "0": must be >= 1/],
      [['eval', '--checkpoint', tmp, '--task', 'sudoku'], /unknown task "sudoku"/],
      [['eval', '--checkpoint', tmp, '--task', 'arith', '--algos', 'majority', '--temperature', '-1'], /--temperature "-1": must be >= 0/],
      [['eval', '--checkpoint', tmp, '--task', 'arith', '--problems', '-3'], /--problems "-3": must be >= 1/],
      [['eval', '--checkpoint', tmp, '--task', 'arith', '--algos', 'beam', '--aggregation', 'max'], /--aggregation "max": expected min, prod, last or mean/],
      [['sample', '--checkpoint', join(tmp, 'missing'), '--prompt', 'x'], /directory missing/],
      [['init', '--task', 'arith', '--out', join(tmp, 'x'), '--behaviours', 'plan,dance'], /unknown behaviour "dance"/],
      [['init', '--task', 'arith', '--out', join(tmp, 'x'), '--foothold', '8', '--foothold-share', '1'], /--foothold-share "1": must be <= 0.99/],
      [['train-lm', '--data', join(tmp, 'nope.txt'), '--out', join(tmp, 'y')], /no such file/],
      [['eval', '--checkpoint', tmp, '--task', 'arith', '--algos', 'best-of-n', '--reward', 'prm:' + join(tmp, 'none')], /--checkpoint|--reward/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines.length, r.stderr).toBe(1);
      expect(lines[0]).toMatch(re);
    }
  });
});
