import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFixtureRun } from '../report/fixtures.js';
import { commands } from './commands.js';
import { runCli } from './run-cli.js';

/** End to end through the compiled CLI. */
const run = (args: string[]) => runCli(['report', ...args]);

describe('searchlearn report, compiled CLI', () => {
  it('is registered as a command', () => expect(commands.some((c) => c.name === 'report')).toBe(true));

  it('writes RUN_DIR/report.html for one run and --out for several, and prints the path', async () => {
    const root = mkdtempSync(join(tmpdir(), 'searchlearn-report-cli-'));
    const a = writeFixtureRun(join(root, 'a'), { seed: 1, problems: 5, trainSteps: 20, treeNodes: 30 });
    const b = writeFixtureRun(join(root, 'b'), { seed: 2, problems: 5, trainSteps: 20, treeNodes: 30 });
    const out = join(root, 'cmp', 'both.html');
    const [one, two] = await Promise.all([run([a]), run([a, b, '--out', out])]);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`^report: ${join(a, 'report.html')} \\(\\d+ plots, \\d+ search trees, [0-9.]+ MB, 2 unreadable lines skipped`));
    expect(readFileSync(join(a, 'report.html'), 'utf8')).toContain('<figure id="fig-test-time-scaling"');
    expect(two.status, two.stderr).toBe(0);
    expect(two.stdout).toContain(`report: ${out} (`);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<b>a</b>');
    expect(html).toContain('<b>b</b>');
  });

  it('bad arguments exit 2 with one line naming the bad value', async () => {
    const root = mkdtempSync(join(tmpdir(), 'searchlearn-report-cli-'));
    const cases: [string[], RegExp][] = [
      [[], /^searchlearn: report: RUN_DIR: give at least one run directory/],
      [[join(root, 'nope')], /^searchlearn: report: RUN_DIR ".*nope": no such directory$/],
      [[root, '--out', 'x.png'], /^searchlearn: report: --out "x.png": expected a file name ending in .html/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
    }
  });
});
