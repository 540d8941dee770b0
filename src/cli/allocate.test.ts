import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initPolicy } from '../learn/init-policy.js';
import { countdownTask } from '../tasks/countdown.js';
import { allocateCommand } from './allocate.js';

/**
 * The allocate command in process (flags → library → printed JSON) on a one-step Countdown
 * policy: spawning the compiled CLI costs several node start-ups, too slow on a loaded machine.
 */
const tmp = mkdtempSync(join(tmpdir(), 'searchlearn-allocate-'));
const ckpt = join(tmp, 'cd');

beforeAll(async () => {
  const task = countdownTask();
  await initPolicy({ task, behaviours: task.defaultBehaviours, out: ckpt, steps: 1, seed: 0, size: 'demo', batchSize: 2, lr: 1e-3, trainProblems: 8, evalProblems: 1, kernels: 'fast' });
}, 240_000);

afterEach(() => vi.restoreAllMocks());

let stderr = '';

async function allocate(args: string[]): Promise<string[]> {
  const lines: string[] = [];
  stderr = '';
  vi.spyOn(console, 'log').mockImplementation((...xs: unknown[]) => void lines.push(xs.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  await allocateCommand.run(['--checkpoint', ckpt, '--task', 'countdown', ...args]);
  return lines;
}

describe('searchlearn allocate', () => {
  it('sweeps, fits an allocator and runs it on held-out problems, with the checker as a deployable reward', async () => {
    const out = await allocate(['--reward', 'verifier', '--difficulty', 'reward', '--probes', '2', '--budgets', '2', '--splits', 'majority,revision', '--calibration-problems', '3', '--problems', '3', '--json']);
    const r = JSON.parse(out.at(-1)!) as {
      reward: string; cells: { bin: string; algo: string }[]; allocated: { problems: number; output_tokens: number; probe_tokens: number; usage: Record<string, number> }; rows: { algo: string }[];
    };
    expect(r.reward).toBe('verifier:countdown');
    expect(new Set(r.cells.map((c) => c.algo))).toEqual(new Set(['majority', 'revision']));
    for (const c of r.cells) expect(c.bin).toMatch(/^p[01]\.\d\d$/);
    expect(r.allocated.problems).toBe(3);
    expect(r.allocated.probe_tokens).toBeGreaterThan(0);
    expect(r.allocated.output_tokens).toBeGreaterThanOrEqual(r.allocated.probe_tokens);
    expect(Object.values(r.allocated.usage).reduce((x, y) => x + y, 0)).toBe(3);
    expect(r.rows.map((x) => x.algo)).toEqual(['majority', 'revision']);
    // Every stage after the sweep shows its own bar too: the allocated run and each baseline.
    expect(stderr).toMatch(/^sweep .*2\/2/m);
    for (const stage of ['allocated', 'majority@2', 'revision@2']) expect(stderr).toMatch(new RegExp(`^${stage} .*3/3`, 'm'));
  }, 240_000);

  it('fails with one line on bad flags', async () => {
    for (const [args, re] of [
      [['--difficulty', 'hunch'], /--difficulty "hunch": expected digits/],
      [['--budgets', '0'], /--budgets .*positive integers/],
      [['--splits', 'nope'], /--splits .*expected algorithms from/],
      [['--difficulty', 'digits'], /--difficulty digits reads arith operands/],
      [['--reward', 'confidence', '--policy', 'openai:http://127.0.0.1:9/v1'], /--checkpoint .*give exactly one of/],
    ] as const) {
      const err = await allocate([...args]).then(() => null, (e: Error) => e);
      expect(err?.constructor.name).toBe('CliError');
      expect(err!.message.split('\n')).toHaveLength(1);
      expect(err!.message).toMatch(re);
    }
  }, 60_000);
});
