import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

/**
 * The package as a user's project gets it: `npm pack` of the committed tree, installed into an
 * empty project, imported by its name, and type-checked against its declarations. Slow (npm
 * resolves ~240 packages; minutes with a cold cache), so it runs only with SEARCHLEARN_PACK_TEST=1.
 *
 * onnxruntime-node's postinstall downloads CUDA provider files from api.nuget.org on linux/x64;
 * offline that fails the whole install. npm 11 still runs dependency install scripts (it only
 * warns "not yet covered by allowScripts"), and a dependency's .npmrc never travels with it, so
 * the user sets the skip: ONNXRUNTIME_NODE_INSTALL=skip (or `"allowScripts": {"onnxruntime-node":
 * false}` in their package.json with npm >= 11). The CPU binaries are in the npm tarball itself.
 */
const root = resolve(import.meta.dirname, '..');
const enabled = process.env['SEARCHLEARN_PACK_TEST'] === '1';
const tmp = mkdtempSync(join(tmpdir(), 'searchlearn-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The fields the package needs to be importable by name (applied here when package.json lacks them). */
export const libraryFields = {
  main: './dist/index.js',
  types: './dist/index.d.ts',
  exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './package.json': './package.json' },
  files: ['dist', 'data'],
};

const run = (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string =>
  execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

it.skipIf(!enabled)('npm pack, install into an empty project, import by name, type-check', () => {
  // 1. The committed tree, built with declarations.
  const pkgDir = join(tmp, 'searchlearn');
  mkdirSync(pkgDir);
  execFileSync('sh', ['-c', `git -C "${root}" archive HEAD | tar -x -C "${pkgDir}"`]);
  symlinkSync(join(root, 'node_modules'), join(pkgDir, 'node_modules'));
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--declaration'], pkgDir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  if (!pkg['exports']) {
    console.log('package.json has no "exports" yet: packing with the proposed fields', JSON.stringify(libraryFields));
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ ...pkg, ...libraryFields }, null, 2) + '\n');
  }
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], pkgDir);
  const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'))!;
  expect(tarball).toMatch(/^searchlearn-.*\.tgz$/);

  // 2. An empty project installs it with a plain npm install (plus the one skip for onnxruntime-node).
  const user = join(tmp, 'user');
  mkdirSync(user);
  writeFileSync(join(user, 'package.json'), JSON.stringify({ name: 'user', version: '1.0.0', private: true, type: 'module', dependencies: { searchlearn: `file:../${tarball}` } }, null, 2));
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], user, { ONNXRUNTIME_NODE_INSTALL: 'skip' });
  expect(existsSync(join(user, 'node_modules/searchlearn/dist/index.d.ts'))).toBe(true);
  expect(existsSync(join(user, 'node_modules/searchlearn/src'))).toBe(false);

  // 3. Imported by name, it runs: the verifier, a task, a search over a scripted policy.
  writeFileSync(
    join(user, 'main.ts'),
    `import { createMockPolicy, createVerifierReward, getTask, majority, defaultMajorityConfig, Rng, verify, type Policy } from 'searchlearn';
const task = getTask('arith');
const [problem] = task.problems('test', 1, 0);
const policy: Policy = createMockPolicy(() => 'Answer: ' + problem!.answer + '\\n');
const r = await majority(problem!, { task, policy, reward: createVerifierReward(task), rng: new Rng(0), budget: { outputTokens: 1000 }, maxTokens: 50 }, { ...defaultMajorityConfig, n: 4 });
console.log(JSON.stringify({ verify: verify('1/2', '\\\\boxed{0.5}').correct, answer: r.answer === problem!.answer, samples: r.trajectories.length }));
`,
  );
  writeFileSync(join(user, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', typeRoots: [join(root, 'node_modules/@types')], types: ['node'] }, files: ['main.ts'] }));
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], user);
  const out = run(process.execPath, ['out/main.js'], user);
  expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ verify: true, answer: true, samples: 4 });
  // Internals stay internal: deep imports are blocked by "exports".
  expect(() => run(process.execPath, ['-e', "import('searchlearn/dist/nn/model.js')"], user)).toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
}, 900_000);
