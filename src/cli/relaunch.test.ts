import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mallocTunables, onGlibc, relaunch, relaunchEnv } from './relaunch.js';

describe('relaunchEnv', () => {
  it('adds the malloc settings on glibc Linux, after tunables already set', () => {
    expect(relaunchEnv({ PATH: '/bin' }, 'linux', true)).toEqual({ PATH: '/bin', GLIBC_TUNABLES: mallocTunables });
    expect(relaunchEnv({ GLIBC_TUNABLES: 'glibc.pthread.rseq=0' }, 'linux', true)?.GLIBC_TUNABLES).toBe(`glibc.pthread.rseq=0:${mallocTunables}`);
  });

  it('runs as it is elsewhere, when told to, and when malloc is tuned already (no relaunch loop)', () => {
    expect(relaunchEnv({}, 'darwin', false)).toBeNull();
    expect(relaunchEnv({}, 'linux', false)).toBeNull();
    expect(relaunchEnv({ SEARCHLEARN_MALLOC: 'system' }, 'linux', true)).toBeNull();
    expect(relaunchEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, 'linux', true)).toBeNull();
    expect(relaunchEnv(relaunchEnv({}, 'linux', true)!, 'linux', true)).toBeNull();
    expect(relaunchEnv({}, 'linux', true, ['--inspect-brk=9229'])).toBeNull();
    expect(relaunchEnv({}, 'linux', true, ['--max-old-space-size=4096'])).not.toBeNull();
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
