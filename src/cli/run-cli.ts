import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled CLI (`npm test` builds dist/ with tsc first): end-to-end tests run it as a user would. */
export const cliMain = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Runs `searchlearn ...args` without blocking the event loop (a busy machine makes spawnSync starve vitest's RPC). */
export function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', [cliMain, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
  });
}
