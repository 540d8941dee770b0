import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/**
 * glibc malloc settings for the engine's commands, applied by running the command again in a child
 * process whose environment carries them (glibc reads GLIBC_TUNABLES only at process start).
 *
 * Why: onnxruntime-node copies every output of every run into a fresh ArrayBuffer, even when it
 * has written the output into the buffer we gave it (onnxruntime-node 1.30.0; a demo-size training
 * step makes 193 runs with 80 MB of outputs). glibc serves allocations above its mmap threshold
 * with fresh mappings and returns freed heap tops to the system, so each copy lands on new pages,
 * and on the VMs measured here a page fault is dear: allocating and filling 8 MB took 2.2 ms
 * against 0.29 ms to refill a kept buffer. With no mmap threshold and no trimming, freed memory is
 * reused: the control's training step (demo size, same data, interleaved runs, median of 4) took
 * 145 ms against 163 on two threads and 213 against 240 on one. Memory freed stays with the
 * process (its resident size keeps its peak).
 *
 * `SEARCHLEARN_MALLOC=system` keeps the system's defaults; a GLIBC_TUNABLES that already sets
 * glibc.malloc.* is left as it is.
 */
export const mallocTunables = 'glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295';

/**
 * The environment to relaunch with, or null when the process should run as it is. A process
 * started under the inspector (`--inspect`, `--inspect-brk`) is not relaunched: the child would
 * ask for the same debugger port, and the debugger would not see the work.
 */
export function relaunchEnv(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, glibc: boolean, execArgv: readonly string[] = []): NodeJS.ProcessEnv | null {
  if (platform !== 'linux' || !glibc) return null;
  if (execArgv.some((a) => a.startsWith('--inspect'))) return null;
  if (env['SEARCHLEARN_MALLOC'] === 'system') return null;
  const current = env['GLIBC_TUNABLES'] ?? '';
  if (/(^|:)glibc\.malloc\./.test(current)) return null;
  return { ...env, GLIBC_TUNABLES: current ? `${current}:${mallocTunables}` : mallocTunables };
}

/** Whether this Node runs on glibc (musl and others ignore GLIBC_TUNABLES: no point relaunching). */
export function onGlibc(): boolean {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}

// Signals a user or a supervisor sends to one process id: passed on to the child. Ctrl-C reaches
// the child only through this process, since the child runs in a session of its own: without
// that the terminal would signal both and the child would see each Ctrl-C twice (its second
// Ctrl-C quits at once).
const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs this same command (node flags, script and arguments) in a child process with `env`, its
 * stdio the parent's, and resolves with the exit code to leave with: the child's, or 128 + the
 * signal's number when a signal ended it. Ctrl-Z stops both, `fg` continues both.
 */
export function relaunch(env: NodeJS.ProcessEnv, argv: readonly string[] = process.argv.slice(1), execArgv: readonly string[] = process.execArgv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, ...argv], { env, stdio: 'inherit', detached: true });
    const pass = (sig: NodeJS.Signals) => (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    const handlers = forwarded.map((sig) => [sig, pass(sig)] as const);
    // A stop request: stop the child, then this process; on continue, continue the child.
    const onStop = (): void => {
      child.kill('SIGSTOP');
      process.kill(process.pid, 'SIGSTOP');
    };
    const onCont = (): void => {
      child.kill('SIGCONT');
    };
    for (const [sig, h] of handlers) process.on(sig, h);
    process.on('SIGTSTP', onStop);
    process.on('SIGCONT', onCont);
    const done = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
      process.off('SIGTSTP', onStop);
      process.off('SIGCONT', onCont);
    };
    child.once('error', (e) => {
      done();
      reject(e);
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + ((signal && constants.signals[signal]) || 1));
    });
  });
}
