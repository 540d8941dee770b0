import { describe, it, expect, vi, afterEach } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Readable } from 'node:stream';
import { CliError } from './args.js';
import { commands } from './commands.js';
import { runVerifyJsonl, verifyCommand } from './verify.js';

const INPUT = [
  '{"id":1,"gold":"18","prediction":"She makes $18.\\n#### 18"}',
  '{"id":2,"gold":"\\\\frac{1}{2}","prediction":"so $\\\\boxed{0.5}$"}',
  '{"id":3,"gold":"(1,2)","prediction":"The answer is (2,1)."}',
  'not json',
  '',
  '{"id":4,"gold":"","prediction":"Answer: 3"}',
  '{"id":5,"gold":"3","prediction":null}',
  '[1,2]',
  '{"id":6,"gold":7,"prediction":"Answer: 7"}',
  '{"id":7,"gold":"x=5","prediction":"Answer: 5"}',
].join('\n');

async function runOn(text: string) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: string[] = [];
  const errs: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  err.on('data', (c: Buffer) => errs.push(c.toString()));
  const counts = await runVerifyJsonl(Readable.from([text]), out, err);
  const rows = chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { counts, rows, stderr: errs.join('') };
}

describe('runVerifyJsonl', () => {
  it('adds correct/extracted/reason to every good line, in order, and reports bad ones', async () => {
    const { counts, rows, stderr } = await runOn(INPUT);
    expect(counts).toEqual({ lines: 7, malformed: 2 });
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rows.map((r) => r.correct)).toEqual([true, true, false, false, false, false, true]);
    expect(rows[0]).toMatchObject({ gold: '18', extracted: '18', reason: 'matches gold' });
    expect(rows[2]!.extracted).toBe('(2,1)');
    expect(rows[3]!.reason).toBe('gold answer is empty');
    expect(rows[4]!.reason).toBe('prediction is null');
    expect(rows[5]!.reason).toBe('gold answer is not a string (number)');
    expect(stderr.split('\n').filter((l) => l !== '')).toEqual([
      expect.stringMatching(/^line 4: invalid JSON/),
      'line 8: expected a JSON object, got an array',
    ]);
  });

  it('handles CRLF input and an empty stream', async () => {
    const crlf = await runOn('{"gold":"1","prediction":"1"}\r\n{"gold":"2","prediction":"3"}\r\n');
    expect(crlf.rows.map((r) => r.correct)).toEqual([true, false]);
    expect((await runOn('')).counts).toEqual({ lines: 0, malformed: 0 });
  });

  it('scores 10,000 predictions (full solutions) in under 10 s, reporting a bad line by its number', async () => {
    const rows = readFileSync(fileURLToPath(new URL('../../data/math500/test.jsonl', import.meta.url)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { answer: string; solution: string });
    const lines = Array.from({ length: 10_000 }, (_, k) => {
      if (k === 4321) return '{"gold": "1", "prediction": ';
      const r = rows[k % rows.length]!;
      return JSON.stringify({ id: k, gold: r.answer, prediction: k % 2 ? r.solution : `Let me think.\n\n${r.solution}\n\nSo the final answer is $${r.answer}$.` });
    });
    // CPU time, not wall time: the machine running the tests may be shared and busy.
    const t0 = process.cpuUsage();
    const { counts, rows: out, stderr } = await runOn(lines.join('\n'));
    const used = process.cpuUsage(t0);
    const seconds = (used.user + used.system) / 1e6;
    expect(counts).toEqual({ lines: 9999, malformed: 1 });
    expect(stderr).toMatch(/^line 4322: invalid JSON/);
    expect(out.filter((r) => r.correct === true).length).toBe(9999);
    expect(seconds).toBeLessThan(10);
  }, 60_000);

  it('streams many lines', async () => {
    const many = Array.from({ length: 2000 }, (_, k) => JSON.stringify({ gold: String(k), prediction: `Answer: ${k}` })).join('\n');
    const { counts, rows } = await runOn(many);
    expect(counts).toEqual({ lines: 2000, malformed: 0 });
    expect(rows.every((r) => r.correct === true)).toBe(true);
  });
});

describe('verifyCommand', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  async function printed(argv: string[]): Promise<string> {
    const writes: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    await verifyCommand.run(argv);
    vi.restoreAllMocks();
    return writes.join('');
  }

  it('prints true or false for --gold/--pred', async () => {
    expect(await printed(['--gold', '1000', '--pred', '1,000'])).toBe('true\n');
    expect(await printed(['--gold', '\\frac{1}{2}', '--pred', 'The answer is 0.5'])).toBe('true\n');
    expect(await printed(['--gold', '12', '--pred', '21'])).toBe('false\n');
    expect(await printed(['--gold', '1,-2', '--pred=-2, 1'] /* a value starting with - needs the = form */)).toBe('true\n');
    expect(process.exitCode).toBeUndefined();
  });

  it('applies the options', async () => {
    expect(await printed(['--gold', '50\\%', '--pred', '50'])).toBe('true\n');
    expect(await printed(['--gold', '50\\%', '--pred', '50', '--percent', 'value'])).toBe('false\n');
    expect(await printed(['--gold', '50\\%', '--pred', '0.5', '--percent', 'value'])).toBe('true\n');
    expect(await printed(['--gold', 'x=5', '--pred', '5'])).toBe('true\n');
    expect(await printed(['--gold', 'x=5', '--pred', '5', '--strict-equations'])).toBe('false\n');
    expect(await printed(['--gold', '5 cm', '--pred', '5'])).toBe('true\n');
    expect(await printed(['--gold', '5 cm', '--pred', '5', '--units', 'strict'])).toBe('false\n');
    expect(await printed(['--gold', '[-2,7]', '--pred=-2 \\le x \\le 7'])).toBe('false\n');
    expect(await printed(['--gold', '[-2,7]', '--pred=-2 \\le x \\le 7', '--set-relation'])).toBe('true\n');
    expect(await printed(['--gold', '0.333', '--pred', '\\frac{1}{3}', '--float-rounding', '3'])).toBe('true\n');
    expect(await printed(['--gold', '7', '--pred', 'Answer: 7. Then $8$', '--extraction', 'last'])).toBe('false\n');
    expect(JSON.parse(await printed(['--gold', '7', '--pred', 'so \\boxed{7}', '--json']))).toEqual({ correct: true, extracted: '7', reason: 'matches gold' });
  });

  it('rejects bad flags with one line', async () => {
    const bad = [
      [], ['--gold', '1'], ['--pred', '1'], ['--jsonl', 'x', '--gold', '1'], ['--jsonl', '/no/such/file.jsonl'], ['--what'],
      ['--gold', '1', '--pred', '1', '--percent', 'half'], ['--gold', '1', '--pred', '1', '--units', 'loose'],
      ['--gold', '1', '--pred', '1', '--float-rounding', '-1'], ['--gold', '1', '--pred', '1', '--extraction', 'boxed,first'],
      ['--gold', '1', '--pred', '1', '--timeout-ms', '0'],
    ];
    for (const argv of bad) {
      const e = await verifyCommand.run(argv).then(() => null, (err: unknown) => err);
      expect(e).toBeInstanceOf(CliError);
      expect((e as Error).message, argv.join(' ')).toMatch(/^verify: [^\n]+$/);
    }
  });
});

/** End to end through the compiled CLI (`npm test` builds dist/ with tsc first). */
const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

describe('searchlearn verify, compiled CLI', () => {
  it('is registered as a command', () => expect(commands.some((c) => c.name === 'verify')).toBe(true));

  it('--gold/--pred prints true or false and exits 0', () => {
    expect(execFileSync('node', [main, 'verify', '--gold', '\\frac{1}{2}', '--pred', '0.5'], { encoding: 'utf8' })).toBe('true\n');
    expect(execFileSync('node', [main, 'verify', '--gold', '(1,2)', '--pred', '(2,1)'], { encoding: 'utf8' })).toBe('false\n');
  });

  it('--jsonl FILE and --jsonl - annotate lines and exit 1 on malformed ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'searchlearn-verify-'));
    const file = join(dir, 'in.jsonl');
    writeFileSync(file, INPUT);
    for (const args of [['--jsonl', file], ['--jsonl', '-']]) {
      const r = spawnSync('node', [main, 'verify', ...args], { encoding: 'utf8', input: args[1] === '-' ? INPUT : undefined });
      expect(r.status).toBe(1);
      const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { correct: boolean });
      expect(rows.map((x) => x.correct)).toEqual([true, true, false, false, false, false, true]);
      expect(r.stderr).toContain('line 4: invalid JSON');
      expect(r.stderr).toContain('line 8: expected a JSON object');
    }
    const ok = spawnSync('node', [main, 'verify', '--jsonl', '-'], { encoding: 'utf8', input: '{"gold":"2","prediction":"Answer: 2"}\n' });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ correct: true, extracted: '2' });
  });

  it('bad flags exit 2 with one line on stderr', () => {
    const r = spawnSync('node', [main, 'verify', '--gold', '1'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^searchlearn: verify: /);
  });
});
