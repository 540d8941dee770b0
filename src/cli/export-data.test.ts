import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from './commands.js';
import { runCli } from './run-cli.js';

/** End to end through the compiled CLI. */
const run = (args: string[]) => runCli(['export-data', ...args]);
const root = mkdtempSync(join(tmpdir(), 'searchlearn-export-data-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const runDir = join(root, 'run');
mkdirSync(join(runDir, 'data', 'iter-0'), { recursive: true });
writeFileSync(join(runDir, 'data', 'iter-0', 'sft.jsonl'), '{"prompt":"Q: 1+1\\n","completion":"A: 2","problem_id":"a"}\n');
writeFileSync(join(runDir, 'data', 'iter-0', 'problems.jsonl'), '{"id":"a","prompt":"Q: 1+1\\n","answer":"2","task":"arith"}\n');

describe('searchlearn export-data, compiled CLI', () => {
  it('is registered as a command', () => expect(commands.some((c) => c.name === 'export-data')).toBe(true));

  it('writes TRL messages and verl Parquet and prints one JSON line', async () => {
    const sft = await run(['--run', runDir, '--format', 'trl-sft', '--messages', '--out', join(root, 'sft.jsonl')]);
    expect(sft.status, sft.stderr).toBe(0);
    expect(JSON.parse(sft.stdout)).toMatchObject({ format: 'trl-sft', rows: 1, sources: 1 });
    expect(JSON.parse(readFileSync(join(root, 'sft.jsonl'), 'utf8'))).toEqual({ messages: [{ role: 'user', content: 'Q: 1+1\n' }, { role: 'assistant', content: 'A: 2' }] });
    const verl = await run(['--run', runDir, '--format', 'verl', '--out', join(root, 'train.parquet'), '--iteration', '0']);
    expect(verl.status, verl.stderr).toBe(0);
    expect(readFileSync(join(root, 'train.parquet')).subarray(0, 4).toString()).toBe('PAR1');
  });

  it('bad arguments exit 2 with one line naming the bad value', async () => {
    const cases: [string[], RegExp][] = [
      [['--run', runDir, '--format', 'csv', '--out', 'x'], /^searchlearn: export-data: --format "csv": expected one of trl-sft, trl-dpo/],
      [['--run', runDir, '--format', 'trl-dpo', '--out', join(root, 'x')], /^searchlearn: export-data: run ".*" has no pairs.jsonl/],
      [['--run', runDir, '--format', 'trl-sft', '--out', 'x', '--iteration=-1'], /^searchlearn: export-data: --iteration "-1": must be >= 0/],
      [['--run', runDir, '--format', 'verl', '--out', 'x', '--messages'], /^searchlearn: export-data: --messages applies to --format trl-sft only/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    for (const [k, [, want]] of cases.entries()) {
      const r = results[k]!;
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(want);
    }
  });
});
