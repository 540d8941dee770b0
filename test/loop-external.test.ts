import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelsFor } from '../src/nn/engine.js';
import { loadModel } from '../src/nn/model-io.js';

/**
 * End-to-end: `searchlearn loop --learner external` as a user runs it, with a stand-in trainer
 * (a node script) in place of TRL: once updating the built-in policy through checkpoints, once a
 * served policy (`searchlearn serve` restarted by the trainer under a new model name, as a vLLM
 * deployment would be), all on loopback.
 */
const main = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'searchlearn-loop-ext-'));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
const lines = (p: string): Record<string, unknown>[] => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const init = join(tmp, 'init');
const tiny = ['--problems', '3', '--eval-problems', '2', '--eval-samples', '2', '--budget', '2', '--iterations', '2', '--no-control', '--train-option', 'minDigits=2', '--train-option', 'maxDigits=2'];

/** Adds 0.01 to every float32 of a safetensors file (8-byte header length, JSON header, data). */
const perturb = `
function perturb(src, dst) {
  const buf = fs.readFileSync(src);
  const n = Number(buf.readBigUInt64LE(0));
  for (let o = 8 + n; o + 4 <= buf.length; o += 4) buf.writeFloatLE(buf.readFloatLE(o) + 0.01, o);
  fs.writeFileSync(dst, buf);
}
function copyCheckpoint(from, to) {
  perturb(path.join(from, 'model.safetensors'), path.join(to, 'model.safetensors'));
  for (const f of ['config.json', 'tokenizer.json']) fs.copyFileSync(path.join(from, f), path.join(to, f));
}
`;

/** Built-in policy: "trains" {checkpoint} into {out}, checking the exported data first. */
const builtinTrainer = `
const fs = require('fs'), path = require('path');
${perturb}
const [data, ckpt, out] = process.argv.slice(2);
const rows = fs.readFileSync(data, 'utf8').trim().split('\\n').filter(Boolean).map(JSON.parse);
if (rows.length === 0 || !rows.every((r) => typeof r.prompt === 'string' && Array.isArray(r.completions) && r.labels.every((l) => typeof l === 'boolean'))) throw new Error('not trl-prm rows');
console.log('iteration', process.env.SEARCHLEARN_ITERATION, 'rows', rows.length);
copyCheckpoint(ckpt, out);
fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify({ trained_tokens: 1000 }));
`;

/**
 * Served policy: "trains" a copy of the last served checkpoint into {out}, stops the server,
 * and starts a new one on the same port under the name {model} one second later, in the
 * background: the command returns before the new model is up, so the loop has to wait.
 */
const servedTrainer = `
const fs = require('fs'), path = require('path'), { spawn } = require('child_process');
${perturb}
const [main, stateFile, port] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const out = process.env.SEARCHLEARN_OUTPUT_DIR;
copyCheckpoint(state.checkpoint, out);
process.kill(state.pid, 'SIGTERM');
const t0 = Date.now();
while (Date.now() - t0 < 10000) { try { process.kill(state.pid, 0); } catch { break; } Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50); }
const child = spawn('/bin/sh', ['-c', 'sleep 1; exec "$0" "$@"', process.execPath, main, 'serve', '--checkpoint', out, '--model-name', process.env.SEARCHLEARN_MODEL, '--port', port], { detached: true, stdio: 'ignore' });
child.unref();
fs.writeFileSync(stateFile, JSON.stringify({ pid: child.pid, checkpoint: out }));
const data = fs.readFileSync(process.env.SEARCHLEARN_DATA);
if (data.subarray(0, 4).toString() !== 'PAR1') throw new Error('not Parquet');
console.log('restarting the server as', process.env.SEARCHLEARN_MODEL, 'with', data.length, 'bytes of', process.env.SEARCHLEARN_FORMAT);
`;

const params = (dir: string): Float32Array => loadModel(dir, kernelsFor('reference')).model.params;

describe('searchlearn loop --learner external', () => {
  let servedPid: number | undefined;
  beforeAll(async () => {
    const r = await run(['init', '--task', 'arith', '--task-option', 'ops=+-', '--task-option', 'maxDigits=2', '--out', init, '--steps', '3', '--train-problems', '64', '--eval-problems', '4', '--batch-size', '4']);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  afterAll(() => {
    if (servedPid !== undefined) {
      try {
        process.kill(servedPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });

  it('hands each iteration to the command and loads the checkpoint it writes (built-in policy)', async () => {
    const script = join(tmp, 'builtin-trainer.cjs');
    writeFileSync(script, builtinTrainer);
    const out = join(tmp, 'loop-builtin');
    const r = await run(['loop', '--init', init, '--out', out, ...tiny, '--learner', 'external', '--export-format', 'trl-prm', '--train-cmd', `node ${script} {data} {checkpoint} {out}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    // Two updates of +0.01 each: the loop's checkpoints hold what the command wrote, in turn.
    const p0 = params(init);
    const p1 = params(join(out, 'checkpoints', 'iter-1'));
    const p2 = params(join(out, 'checkpoints', 'iter-2'));
    for (const i of [0, 99, p0.length - 1]) {
      expect(p1[i]! - p0[i]!).toBeCloseTo(0.01, 5);
      expect(p2[i]! - p0[i]!).toBeCloseTo(0.02, 5);
    }
    expect(readFileSync(join(out, 'train', 'iter-2.log'), 'utf8')).toMatch(/iteration 2 rows \d+/);
    const iters = lines(join(out, 'metrics.jsonl')).filter((m) => m['event'] === 'iteration');
    expect(iters.map((m) => m['iteration'])).toEqual([0, 1, 2]);
    expect(iters[2]!['tokens/trained']).toBe(2000);
    expect(iters[1]!['learn/external/weight_delta_rms']).toBeCloseTo(0.01, 4);
    expect(iters[1]!['data/examples']).toBeGreaterThan(0);
  }, 300_000);

  it('waits for the new model to be served before the next iteration (openai: policy, no init run: --task names the task)', async () => {
    const port = await freePort();
    const first = spawn(process.execPath, [main, 'serve', '--checkpoint', init, '--model-name', 'policy-iter-0', '--port', String(port)], { detached: true, stdio: 'ignore' });
    first.unref();
    const stateFile = join(tmp, 'served.json');
    writeFileSync(stateFile, JSON.stringify({ pid: first.pid, checkpoint: join(init, 'checkpoint') }));
    const script = join(tmp, 'served-trainer.cjs');
    writeFileSync(script, servedTrainer);
    const out = join(tmp, 'loop-served');
    const url = `http://127.0.0.1:${port}/v1`;
    try {
      // A served model (vLLM, say) has no init run here: the task and its options come from flags.
      const r = await run(['loop', '--task', 'arith', '--task-option', 'ops=+-', '--task-option', 'maxDigits=2', '--out', out, ...tiny, '--learner', 'external', '--policy', `openai:${url}`, '--model', 'policy-iter-{iteration}', '--export-format', 'verl', '--serve-timeout', '60', '--train-cmd', `node ${script} ${main} ${stateFile} ${port}`, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const iters = lines(join(out, 'metrics.jsonl')).filter((m) => m['event'] === 'iteration');
      expect(iters.map((m) => m['iteration'])).toEqual([0, 1, 2]);
      expect(Object.keys(iters[0]!)).toContain('eval/greedy/harder');
      expect((JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { initData: { taskOptions: unknown } }).initData.taskOptions).toEqual({ ops: '+-', maxDigits: '2' });
      for (const m of iters.slice(1)) {
        // The command returned before its server was up (it starts one second later): the loop polled until it was.
        expect(m['learn/external/serve_wait_s']).toBeGreaterThan(0.5);
        expect(m['learn/external/serve_polls']).toBeGreaterThan(1);
        expect(m['eval/greedy/initial']).toBeGreaterThanOrEqual(0);
      }
      expect(readFileSync(join(out, 'train', 'iter-2.log'), 'utf8')).toMatch(/restarting the server as policy-iter-2 with \d+ bytes of verl/);
      const models = (await (await fetch(`${url}/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual(['policy-iter-2']);
      // A served policy's weights live on the server: the loop writes no built-in checkpoints.
      expect(existsSync(join(out, 'checkpoints', 'iter-1'))).toBe(false);
    } finally {
      servedPid = (JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number }).pid;
    }
  }, 300_000);

  it('names a missing command, a learner that cannot train a served policy, and a failing command in one line', async () => {
    const a = await run(['loop', '--init', init, '--out', join(tmp, 'x'), '--learner', 'external']);
    expect(a.code).toBe(2);
    expect(a.stderr.trim()).toMatch(/^.*field trainCmd: the external learner needs a command \(--train-cmd "..."\)$/);
    const b = await run(['loop', '--init', init, '--out', join(tmp, 'x'), '--policy', 'openai:http://127.0.0.1:1/v1']);
    expect(b.code).toBe(2);
    expect(b.stderr.trim().split('\n')).toHaveLength(1);
    expect(b.stderr).toMatch(/field policy: .*--learner external/);
    const d = await run(['loop', '--out', join(tmp, 'x'), '--task', 'arith']);
    expect(d.code).toBe(2);
    expect(d.stderr.trim()).toMatch(/^[^\n]*--init RUN is required for the built-in policy/);
    const e = await run(['loop', '--out', join(tmp, 'x'), '--policy', 'openai:http://127.0.0.1:1/v1', '--learner', 'external', '--train-cmd', 'true']);
    expect(e.code).toBe(2);
    expect(e.stderr.trim()).toMatch(/^[^\n]*a served policy without --init needs --task T/);
    const c = await run(['loop', '--init', init, '--out', join(tmp, 'y'), ...tiny, '--learner', 'external', '--export-format', 'trl-prm', '--train-cmd', 'echo no GPU here >&2; exit 7']);
    expect(c.code).toBe(2);
    // Progress lines come first (stderr); the failure is the last line, one line.
    expect(c.stderr.trim().split('\n').pop()).toMatch(/--train-cmd exited with code 7 at iteration 1 .*last line: no GPU here/);
  }, 300_000);
});
