import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { heapFlag, mallocTunables, onGlibc, relaunch, relaunchPlan } from './relaunch.js';

describe('relaunchPlan', () => {
  it('adds the malloc settings on glibc Linux, after tunables already set, and the heap flag after node flags given', () => {
    expect(relaunchPlan({ PATH: '/bin' }, 'linux', true)).toEqual({ env: { PATH: '/bin', GLIBC_TUNABLES: mallocTunables }, execArgv: [heapFlag] });
    expect(relaunchPlan({ GLIBC_TUNABLES: 'glibc.pthread.rseq=0' }, 'linux', true)?.env.GLIBC_TUNABLES).toBe(`glibc.pthread.rseq=0:${mallocTunables}`);
    expect(relaunchPlan({}, 'linux', true, ['--max-old-space-size=4096'])?.execArgv).toEqual(['--max-old-space-size=4096', heapFlag]);
  });

  it('sizes the heap alone elsewhere, when malloc is left alone or tuned already, and keeps a size given', () => {
    expect(relaunchPlan({}, 'darwin', false)).toEqual({ env: {}, execArgv: [heapFlag] });
    expect(relaunchPlan({}, 'linux', false)).toEqual({ env: {}, execArgv: [heapFlag] });
    expect(relaunchPlan({ SEARCHLEARN_MALLOC: 'system' }, 'linux', true)).toEqual({ env: { SEARCHLEARN_MALLOC: 'system' }, execArgv: [heapFlag] });
    expect(relaunchPlan({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, 'linux', true)?.env.GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=2');
    expect(relaunchPlan({}, 'linux', true, ['--initial-old-space-size=512'])?.execArgv).toEqual(['--initial-old-space-size=512']);
  });

  it('runs as it is once everything is set (no relaunch loop), and under the inspector', () => {
    const plan = relaunchPlan({}, 'linux', true)!;
    expect(relaunchPlan(plan.env, 'linux', true, plan.execArgv)).toBeNull();
    expect(relaunchPlan({ SEARCHLEARN_MALLOC: 'system' }, 'linux', true, [heapFlag])).toBeNull();
    expect(relaunchPlan({}, 'darwin', false, ['--initial_old_space_size=64'])).toBeNull();
    expect(relaunchPlan({}, 'linux', true, ['--inspect-brk=9229'])).toBeNull();
  });

  it('detects glibc on Linux', () => {
    if (process.platform === 'linux') expect(typeof onGlibc()).toBe('boolean');
    else expect(onGlibc()).toBe(false);
  });
});

describe('relaunch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'searchlearn-relaunch-'));
  // The child reports what it got, counts the SIGINTs it receives for 300 ms after the first, and exits 40 + that count.
  const script = join(dir, 'child.cjs');
  writeFileSync(
    script,
    `const fs = require('fs');
const out = process.argv[2];
const stat = (p) => fs.readFileSync(p, 'utf8').split(') ')[1].split(' ');
const [, , pgrp, session] = stat('/proc/self/stat');
fs.writeFileSync(out, JSON.stringify({ tunables: process.env.GLIBC_TUNABLES ?? null, pgrp, session, args: process.argv.slice(3) }));
if (process.argv[3] === 'exit') process.exit(Number(process.argv[4]));
if (process.argv[3] === 'kill') process.kill(process.pid, 'SIGKILL');
let n = 0;
process.on('SIGINT', () => { if (n++ === 0) setTimeout(() => process.exit(40 + n), 300); });
setTimeout(() => process.exit(99), 10000);
`,
  );
  const report = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as { tunables: string | null; pgrp: string; session: string; args: string[] };

  it.runIf(process.platform === 'linux')('runs the same arguments with the new environment and leaves with the child exit code', async () => {
    const out = join(dir, 'a.json');
    const code = await relaunch({ ...process.env, GLIBC_TUNABLES: mallocTunables }, [script, out, 'exit', '3'], []);
    expect(code).toBe(3);
    expect(report(out)).toMatchObject({ tunables: mallocTunables, args: ['exit', '3'] });
    // A child ended by a signal: 128 + its number, as a shell reports it.
    expect(await relaunch(process.env, [script, join(dir, 'b.json'), 'kill'], [])).toBe(137);
  });

  it.runIf(process.platform === 'linux')('passes a Ctrl-C on exactly once, to a child in a session of its own', async () => {
    const out = join(dir, 'c.json');
    const running = relaunch(process.env, [script, out, 'wait'], []);
    const t0 = Date.now();
    while (Date.now() - t0 < 10_000) {
      try {
        report(out);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // What the signal handler sees when the terminal sends SIGINT to this process (not to the child: it is not in our session).
    process.emit('SIGINT', 'SIGINT');
    expect(await running).toBe(41);
    const [, , pgrp, session] = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    const child = report(out);
    expect(child.session).not.toBe(session);
    expect(child.pgrp).not.toBe(pgrp);
    // The handlers are gone once the child has exited.
    expect(process.listenerCount('SIGTSTP')).toBe(0);
  });
});
