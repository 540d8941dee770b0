import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/**
 * Allocator settings for the engine's commands, applied by running the command again in a child
 * process that starts with them: glibc reads GLIBC_TUNABLES, and V8 sizes its heap, only at
 * process start.
 *
 * glibc malloc. onnxruntime-node copies every output of every run into a fresh ArrayBuffer, even
 * when it has written the output into the buffer we gave it (onnxruntime-node 1.30.0; a demo-size
 * training step makes 193 runs with 80 MB of outputs). glibc serves allocations above its mmap
 * threshold with fresh mappings and returns freed heap tops to the system, so each copy lands on
 * new pages, and on the VMs measured here a page fault is dear: allocating and filling 8 MB took
 * 2.2 ms against 0.29 ms to refill a kept buffer. With no mmap threshold and no trimming, freed
 * memory is reused: the control's training step (demo size, same data, interleaved runs, median
 * of 4) took 145 ms against 163 on two threads and 213 against 240 on one. Memory freed stays
 * with the process (its resident size keeps its peak). `SEARCHLEARN_MALLOC=system` keeps the
 * system's defaults; a GLIBC_TUNABLES that already sets glibc.malloc.* is left as it is.
 *
 * V8's old generation. Those copies also make V8 run a scavenge every few kernel calls (it
 * collects the young generation when the ArrayBuffers there pass a fixed size), so the
 * training step's autograd tape, alive for the whole step, survives two scavenges and is
 * promoted: each step leaves some megabytes of garbage in the old generation. V8 sizes the old
 * generation's limit from what was live after the last full collection, and the engine's live
 * heap is small (about 30 MB: the weights and activations are ArrayBuffers outside it), so the
 * limit sat at about 53 MB and a full mark-compact ran once per step (its concurrent markers
 * taking a share of the second core from the worker that trains beside the main thread).
 * `--initial-old-space-size` keeps the limit from falling below its value: at 128 MB the demo's
 * control trained a step in 104 ms against 128 (demo size, 140 steps, two threads), with 1 full
 * collection instead of 88 per 70 steps and the same resident size (480 against 467 MiB).
 * A `--initial-old-space-size` given to node already is kept.
 */
export const mallocTunables = 'glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295';
export const heapFlag = '--initial-old-space-size=128';

/** What a relaunched command starts with: its environment and the node flags before its script. */
export interface RelaunchPlan {
  env: NodeJS.ProcessEnv;
  execArgv: string[];
}

/**
 * The environment and node flags to relaunch with, or null when the process should run as it is
 * (everything set already: the child sees its settings and does not relaunch again). A process
 * started under the inspector (`--inspect`, `--inspect-brk`) is not relaunched: the child would
 * ask for the same debugger port, and the debugger would not see the work.
 */
export function relaunchPlan(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, glibc: boolean, execArgv: readonly string[] = []): RelaunchPlan | null {
  if (execArgv.some((a) => a.startsWith('--inspect'))) return null;
  const current = env['GLIBC_TUNABLES'] ?? '';
  const tuneMalloc = platform === 'linux' && glibc && env['SEARCHLEARN_MALLOC'] !== 'system' && !/(^|:)glibc\.malloc\./.test(current);
  // Node refuses this flag in NODE_OPTIONS, so only its command line can carry one.
  const sizeHeap = !execArgv.some((a) => /^--initial[-_]old[-_]space[-_]size(=|$)/.test(a));
  if (!tuneMalloc && !sizeHeap) return null;
  return {
    env: tuneMalloc ? { ...env, GLIBC_TUNABLES: current ? `${current}:${mallocTunables}` : mallocTunables } : env,
    execArgv: sizeHeap ? [...execArgv, heapFlag] : [...execArgv],
  };
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
 * Runs this same command (script and arguments) in a child process with `env` and the node flags
 * `execArgv`, its stdio the parent's, and resolves with the exit code to leave with: the child's,
 * or 128 + the signal's number when a signal ended it. Ctrl-Z stops both, `fg` continues both.
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
