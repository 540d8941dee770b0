import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { evalCommand } from './eval.js';

/** `--workers N` end to end: the CLI (through tsx, no build) with and without a worker thread. */
const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-workers-'));
writeTinyCheckpoint(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI; `tailMs`: from its last output to its exit (a thread left holding the process would show here). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; tailMs: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    let last = performance.now();
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), (last = performance.now())));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), (last = performance.now())));
    child.on('close', (code) => resolve({ code, stdout, stderr, tailMs: performance.now() - last }));
  });
}

describe('eval --workers', () => {
  it('gives the same table with 0 and 1 workers, and exits by itself', async () => {
    const args = ['eval', '--checkpoint', dir, '--task', 'arith', '--problems', '6', '--algos', 'majority', '--budgets', '8', '--seed', '3', '--json'];
    const [solo, one] = await Promise.all([cli([...args, '--workers', '0']), cli([...args, '--workers', '1'])]);
    expect(solo.code, solo.stderr).toBe(0);
    expect(one.code, one.stderr).toBe(0);
    // Exits right after its output, not when the pool's idle timeout (30 s) ends the worker.
    expect(one.tailMs).toBeLessThan(15_000);
    const rows = (s: string): unknown[] => (JSON.parse(s.trim().split('\n').pop()!) as { rows: Record<string, unknown>[] }).rows.map(({ wall_ms: _, ...r }) => r);
    expect(rows(one.stdout)).toEqual(rows(solo.stdout));
  });

  it('names a bad value in one line', async () => {
    await expect(evalCommand.run(['--checkpoint', dir, '--task', 'arith', '--workers', '-1'])).rejects.toThrow(/^eval: --workers "-1": must be >= 0$/);
    await expect(evalCommand.run(['--checkpoint', dir, '--task', 'arith', '--workers', 'two'])).rejects.toThrow(/^eval: --workers "two": expected a number$/);
  });
});
