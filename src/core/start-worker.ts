import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type Transferable } from 'node:worker_threads';

/**
 * Starts a worker thread from the module `name` beside `from` (an import.meta.url): the compiled
 * `name.js` when running from dist, or, when running from TypeScript sources (vitest, tsx),
 * `name.ts` loaded through tsx's API inside the worker (no build needed for tests, and no loader
 * flags for users).
 */
export function startWorker(from: string, name: string, workerData: unknown, transferList: Transferable[] = []): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, from), { workerData, transferList });
  const entry = new URL(`./${name}.ts`, from).href;
  const code = `import(${JSON.stringify(tsxEsmApi(from))}).then((api) => api.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}));`;
  return new Worker(code, { eval: true, workerData, transferList });
}

/**
 * tsx's ESM API as a file URL. require.resolve would give its CommonJS build, which cannot be
 * import()ed (it fails to find its own ESM half), so read the package's "import" export.
 */
export function tsxEsmApi(from: string): string {
  const pkgPath = createRequire(from).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const rel = pkg.exports['./esm/api']?.import?.default;
  if (!rel) throw new Error(`${pkgPath}: no ESM export "./esm/api" (tsx is needed to run worker threads from TypeScript sources)`);
  return pathToFileURL(join(dirname(pkgPath), rel)).href;
}
