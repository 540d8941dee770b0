import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Rng } from '../core/rng.js';
import { saveModel } from '../nn/model-io.js';
import { Transformer } from '../nn/model.js';
import { createOrtKernels } from '../nn/ort/ort-kernels.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { LearnedRewardModel } from '../reward/prm.js';
import { getTask } from '../tasks/registry.js';
import type { BuiltinTask } from '../tasks/task.js';
import { parseRewardSpec } from './reward-spec.js';
import { trainPrmCommand } from './train-prm.js';

const arith = getTask('arith') as BuiltinTask;
const dir = mkdtempSync(join(tmpdir(), 'train-prm-'));
const policyDir = join(dir, 'policy');

/** Runs the command and returns the JSON line it prints (its progress goes to stderr). */
async function trainPrm(args: string[]): Promise<Record<string, unknown>> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await trainPrmCommand.run(args);
  } finally {
    log.mockRestore();
    err.mockRestore();
    write.mockRestore();
  }
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

beforeAll(() => {
  // A tiny random policy: its solutions are noise, which is all the pipeline needs to run.
  const tok = new CharTokenizer(arith.alphabet);
  const policy = new Transformer({ vocabSize: tok.vocabSize, dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, contextLength: 48, ropeTheta: 10000, normEps: 1e-5 }, createOrtKernels({ threads: 1 }));
  policy.init(new Rng(0));
  saveModel(policyDir, policy, tok);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ['--checkpoint', policyDir, '--task', 'arith', '--problems', '6', '--samples', '2', '--rollouts', '2', '--steps', '3', '--batch-size', '4', '--held-out', '0.34'];

describe('train-prm', () => {
  it('labels, trains and writes a run directory whose checkpoint loads as a reward model; the same seed gives the same run', async () => {
    const out = join(dir, 'run');
    const r = await trainPrm([...base, '--out', out]);
    expect(r.kind).toBe('process');
    expect(r.checkpoint).toBe(join(out, 'checkpoint'));
    expect(r.labels).toBeGreaterThan(0);
    expect(r).toHaveProperty('step_accuracy');
    expect(r).toHaveProperty('auc');
    // Labels drawn at search's temperature; the aggregation search will use is the one reported.
    expect(r).toMatchObject({ aggregation: 'min', temperature: 0.8 });
    expect(Object.keys(r.by_aggregation as object).sort()).toEqual(['last', 'mean', 'min', 'prod']);
    // Within-problem selection on held-out samples: k = --samples, against majority@k and the oracle pass@k.
    expect(r.selection).toMatchObject({ k: 2, problems: 2 });
    for (const key of ['single', 'bestOfK', 'majorityAtK', 'weightedAtK', 'passAtK']) expect(typeof (r.selection as Record<string, unknown>)[key]).toBe('number');
    expect((r.selection as { bestOfK: number; passAtK: number }).bestOfK).toBeLessThanOrEqual((r.selection as { passAtK: number }).passAtK);
    // The PRM mixed with the policy's confidence, per weight: λ 0 is the PRM alone (its own ranking above).
    const byWeight = r.by_confidence_weight as { lambda: number; per_problem_auc: number | null; best_of_k: number | null }[];
    expect(byWeight.map((w) => w.lambda)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(byWeight[0]!.best_of_k).toBe((r.selection as { bestOfK: number }).bestOfK);
    expect(byWeight[0]!.per_problem_auc).toBe(r.per_problem_auc);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { labelling: { temperature: number } };
    expect(config.labelling.temperature).toBe(0.8);
    for (const f of ['config.json', 'metrics.jsonl', 'labels.jsonl', 'checkpoint/model.safetensors']) expect(existsSync(join(out, f))).toBe(true);
    const rows = readFileSync(join(out, 'labels.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: string; completions: string[]; labels: boolean[] });
    expect(rows).toHaveLength(12);
    expect(rows.reduce((s, x) => s + x.labels.length, 0)).toBe(r.labels);
    for (const x of rows) expect(x.labels).toHaveLength(x.completions.length);

    const reward = await parseRewardSpec(`prm:${out}`, arith);
    expect(reward.kind).toBe('process');
    expect(reward.aggregation).toBe('min');
    expect(reward).toBeInstanceOf(LearnedRewardModel);
    const p = arith.problems('test', 1, 0)[0]!;
    const { scores } = await reward.score([{ problem: p, prompt: arith.formatPrompt(p), steps: ['Plan: add', 'Answer: 1'], complete: true }]);
    expect(scores[0]!.stepScores).toHaveLength(2);

    const again = await trainPrm([...base, '--out', join(dir, 'run2')]);
    expect({ ...again, seconds: 0, checkpoint: '' }).toEqual({ ...r, seconds: 0, checkpoint: '' });
    expect(readFileSync(join(dir, 'run2', 'labels.jsonl'), 'utf8')).toBe(readFileSync(join(out, 'labels.jsonl'), 'utf8'));
  });

  it('trains an outcome model (reusing the labels of an earlier run in the same directory)', async () => {
    const out = join(dir, 'run');
    const r = await trainPrm([...base, '--out', out, '--kind', 'outcome']);
    expect(r.kind).toBe('outcome');
    expect((await parseRewardSpec(`orm:${out}`, arith)).kind).toBe('outcome');
    await expect(parseRewardSpec(`prm:${out}`, arith)).rejects.toThrow(/holds an outcome reward model \(ORM\): use orm:/);
  });

  it('stores the chosen aggregation (the default of search), and takes --task-option', async () => {
    const out = join(dir, 'run-last');
    const r = await trainPrm([...base, '--out', out, '--aggregation', 'last', '--task-option', 'maxDigits=2', '--temperature', '1']);
    expect(r).toMatchObject({ aggregation: 'last', temperature: 1 });
    expect((await parseRewardSpec(`prm:${out}`, arith)).aggregation).toBe('last');
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { labelling: { taskOptions: Record<string, string> } };
    expect(config.labelling.taskOptions).toEqual({ maxDigits: '2' });
  });

  it('rejects bad flags with one line', async () => {
    await expect(trainPrmCommand.run([...base, '--out', join(dir, 'x'), '--temperature', '-1'])).rejects.toThrow(/--temperature "-1": must be > 0/);
    await expect(trainPrmCommand.run([...base, '--out', join(dir, 'x'), '--problems', '-3'])).rejects.toThrow(/--problems "-3": must be >= 2/);
    await expect(trainPrmCommand.run([...base, '--out', join(dir, 'x'), '--task-option', 'digits=9'])).rejects.toThrow(/--task arith: .*digits/);
    await expect(trainPrmCommand.run([...base, '--out', join(dir, 'x'), '--kind', 'dpo'])).rejects.toThrow(/--kind "dpo": expected process \(PRM\), outcome \(ORM\) or bt/);
    await expect(trainPrmCommand.run(['--task', 'arith', '--out', join(dir, 'x')])).rejects.toThrow(/--checkpoint missing: required/);
  });
});

describe('parseRewardSpec', () => {
  it('verifier is the exact verifier', async () => {
    const v = await parseRewardSpec('verifier', arith);
    expect(v.id).toBe('verifier:arith');
  });
  it('names what is valid when the spec is wrong', async () => {
    await expect(parseRewardSpec('judge', arith)).rejects.toThrow('unknown reward (valid: verifier, step-check, prm:DIR, orm:DIR, self-verdict, confidence, confidence:POLICY, pooling:URL[#MODEL], logprob-prm:URL[#MODEL], judge:URL[#MODEL], judge-sample:URL[#MODEL], SPEC+confidence[=λ])');
    await expect(parseRewardSpec('confidence', arith)).rejects.toThrow("confidence is the policy's own judgement: this command has no policy to ask");
    await expect(parseRewardSpec(`prm:${join(dir, 'nowhere')}`, arith)).rejects.toThrow(/no such directory .*nowhere \(valid: verifier, step-check, prm:DIR, orm:DIR/);
    await expect(parseRewardSpec(`prm:${policyDir}`, arith)).rejects.toThrow(/not a reward model .*policy checkpoint/);
    await expect(parseRewardSpec(`prm:${join(dir, 'run2')}`, getTask('countdown'))).rejects.toThrow(/trained for task "arith", not "countdown"/);
    await expect(parseRewardSpec(`orm:${join(dir, 'run2')}`, arith)).rejects.toThrow(/holds a process reward model \(PRM\): use prm:/);
  });
});
