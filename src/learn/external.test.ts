import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../core/errors.js';
import { kernelsFor } from '../nn/engine.js';
import { loadModel } from '../nn/model-io.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { defaultExternalConfig, externalLearner, fillCommand, waitForServed } from './external.js';

const tmp = mkdtempSync(join(tmpdir(), 'searchlearn-external-'));
const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

/** A loopback server whose /v1/models answer comes from `models()` (null: 503). */
async function modelsServer(models: () => string[] | null): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const s = createServer((req, res) => {
    hits++;
    const ids = models();
    if (ids === null) {
      res.writeHead(503).end('loading');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: ids.map((id) => ({ id, object: 'model' })) }));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`, hits: () => hits };
}

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const fastPoll = { firstMs: 20, factor: 2, maxMs: 100, requestTimeoutMs: 1000 };

/**
 * A stand-in trainer: checks the exported data and the environment, then "trains" by adding
 * 0.01 to every weight of {checkpoint} and writes the result into {out} (safetensors: an 8-byte
 * header length, a JSON header, then little-endian float32 data).
 */
const fakeTrainer = `
const fs = require('fs'), path = require('path');
const [data, ckpt, out] = process.argv.slice(2);
const rows = fs.readFileSync(data, 'utf8').trim().split('\\n').length;
console.log('rows', rows, 'iteration', process.env.SEARCHLEARN_ITERATION, 'format', process.env.SEARCHLEARN_FORMAT);
const buf = fs.readFileSync(path.join(ckpt, 'model.safetensors'));
const n = Number(buf.readBigUInt64LE(0));
for (let o = 8 + n; o + 4 <= buf.length; o += 4) buf.writeFloatLE(buf.readFloatLE(o) + 0.01, o);
fs.writeFileSync(path.join(out, 'model.safetensors'), buf);
for (const f of ['config.json', 'tokenizer.json']) fs.copyFileSync(path.join(ckpt, f), path.join(out, f));
fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify({ trained_tokens: rows * 10, loss: 0.5, note: 'text is dropped' }));
`;

function runDirWithData(name: string, sftRows: number): { run: string; dataDir: string } {
  const run = join(tmp, name);
  const dataDir = join(run, 'data', 'iter-1');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'sft.jsonl'), Array.from({ length: sftRows }, (_, i) => JSON.stringify({ prompt: `${i}+1=`, completion: `Answer: ${i + 1}`, problem_id: i }) + '\n').join(''));
  return { run, dataDir };
}

describe('fillCommand', () => {
  it('replaces known placeholders with shell-quoted values and leaves other braces alone', () => {
    const cmd = fillCommand(`train --data {data} --it {iteration} --home \${HOME} awk '{print}' {nope}`, { data: "/tmp/a b/it's.jsonl", iteration: '3' });
    expect(cmd).toBe(`train --data '/tmp/a b/it'\\''s.jsonl' --it '3' --home \${HOME} awk '{print}' {nope}`);
  });
});

describe('waitForServed', () => {
  it('polls with backoff until /v1/models lists the new model', async () => {
    let calls = 0;
    const s = await modelsServer(() => (++calls <= 1 ? null : calls <= 3 ? ['policy-iter-0'] : ['policy-iter-1']));
    const w = await waitForServed({ baseURLs: [s.url], model: 'policy-iter-1', timeoutS: 10 }, fastPoll);
    expect(w.polls).toBe(4);
    expect(s.hits()).toBe(4);
  });

  it('fails with one line naming what the last poll saw', async () => {
    const s = await modelsServer(() => ['policy-iter-0']);
    const err = await waitForServed({ baseURLs: [s.url], model: 'policy-iter-1', timeoutS: 0.3 }, fastPoll).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/model "policy-iter-1" served within 0.3 s \(last poll: .*lists policy-iter-0\)/);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    const down = await waitForServed({ baseURLs: [`http://127.0.0.1:${await closedPort()}/v1`], timeoutS: 0.2 }, fastPoll).catch((e: unknown) => e);
    expect((down as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('takes a health URL instead of the model list', async () => {
    let calls = 0;
    const s = await modelsServer(() => (++calls < 3 ? null : []));
    const w = await waitForServed({ baseURLs: [`http://127.0.0.1:${await closedPort()}/v1`], healthUrl: s.url.replace('/v1', '/health'), timeoutS: 10 }, fastPoll);
    expect(w.polls).toBe(3);
  });
});

describe('externalLearner (built-in policy)', () => {
  const ckpt = join(tmp, 'ckpt');
  writeTinyCheckpoint(ckpt);
  const script = join(tmp, 'trainer.cjs');
  writeFileSync(script, fakeTrainer);
  const ctxFor = () => {
    const { model, tokenizer } = loadModel(ckpt, kernelsFor('fast'));
    return { policy: { model, tokenizer }, reference: model, seed: 0 };
  };

  it('exports the data, runs the command, and loads the checkpoint it wrote', async () => {
    const { run, dataDir } = runDirWithData('run-a', 5);
    const learner = externalLearner({ ...defaultExternalConfig, trainCmd: `node ${script} {data} {checkpoint} {out}` });
    const ctx = ctxFor();
    const before = Float32Array.from(ctx.policy.model.params);
    const r = await learner.update({ iteration: 1, runDir: run, dataDir, checkpoint: ckpt }, ctx);
    expect(readFileSync(join(dataDir, 'trl-sft.jsonl'), 'utf8').trim().split('\n').map((l) => Object.keys(JSON.parse(l)).join())).toEqual(Array(5).fill('prompt,completion'));
    expect(readFileSync(join(run, 'train', 'iter-1.log'), 'utf8')).toContain('rows 5 iteration 1 format trl-sft');
    expect(r.trainedTokens).toBe(50);
    expect(r.metrics['external/rows']).toBe(5);
    expect(r.metrics['loss']).toBe(0.5);
    expect(r.metrics['note']).toBeUndefined();
    expect(r.metrics['external/weight_delta_rms']).toBeCloseTo(0.01, 4);
    const after = ctx.policy.model.params;
    for (const i of [0, 17, after.length - 1]) expect(after[i]! - before[i]!).toBeCloseTo(0.01, 5);
  });

  it('skips the command when the iteration has no data', async () => {
    const { run, dataDir } = runDirWithData('run-empty', 0);
    const learner = externalLearner({ ...defaultExternalConfig, trainCmd: 'exit 1' });
    const r = await learner.update({ iteration: 1, runDir: run, dataDir, checkpoint: ckpt }, ctxFor());
    expect(r).toEqual({ steps: 0, trainedTokens: 0, metrics: { 'external/rows': 0 } });
  });

  it('fails with one line on a failing command, a missing checkpoint and a timeout', async () => {
    const { run, dataDir } = runDirWithData('run-b', 2);
    const fail = externalLearner({ ...defaultExternalConfig, trainCmd: 'echo CUDA out of memory >&2; exit 3' });
    await expect(fail.update({ iteration: 1, runDir: run, dataDir, checkpoint: ckpt }, ctxFor())).rejects.toThrow(/--train-cmd exited with code 3 at iteration 1 .*last line: CUDA out of memory/);
    const none = externalLearner({ ...defaultExternalConfig, trainCmd: 'true' });
    await expect(none.update({ iteration: 1, runDir: run, dataDir, checkpoint: ckpt }, ctxFor())).rejects.toThrow(/wrote no checkpoint in .*train\/iter-1/);
    const slow = externalLearner({ ...defaultExternalConfig, trainCmd: 'sleep 5', trainTimeoutS: 0.2 });
    await expect(slow.update({ iteration: 1, runDir: run, dataDir, checkpoint: ckpt }, ctxFor())).rejects.toThrow(/ran past --train-timeout 0.2 s/);
  });
});
