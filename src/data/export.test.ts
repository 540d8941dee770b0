import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { exportData, exportFormats } from './export.js';
import { readJsonl, toJsonl } from './jsonl.js';
import { z } from 'zod';

/** A run directory as the loop writes it: two iterations, plus a train-prm run's labels file. */
const root = mkdtempSync(join(tmpdir(), 'export-data-'));
const run = join(root, 'run');
const prmRun = join(root, 'prm-run');

function write(path: string, rows: unknown[]): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, toJsonl(rows));
}

for (const it of [1, 2]) {
  const d = join(run, 'data', `iter-${it}`);
  write(join(d, 'sft.jsonl'), [
    { prompt: `Q: ${it}+1\n`, completion: `A: ${it + 1}`, problem_id: `p${it}`, reward: 1 },
    { prompt: 'Q: 2*3\n', completion: 'A: 6', problem_id: 7 },
  ]);
  write(join(d, 'pairs.jsonl'), [
    { prompt: `Q: ${it}+1\n`, chosen: `A: ${it + 1}`, rejected: 'A: 0', problem_id: `p${it}`, level: 'sequence' },
    { prompt: `Q: ${it}+1\nPlan: add\n`, chosen: `${it}+1=${it + 1}\n`, rejected: `${it}+1=9\n`, problem_id: `p${it}`, level: 'step' },
  ]);
  write(join(d, 'step-labels.jsonl'), [{ prompt: `Q: ${it}+1\n`, completions: ['Plan: add\n', `A: ${it + 1}`], labels: [true, it === 1], problem_id: `p${it}` }]);
  write(join(d, 'problems.jsonl'), [
    { id: `p${it}`, prompt: `Q: ${it}+1\n`, answer: String(it + 1), task: 'arith' },
    { id: 'g1', prompt: 'Natalia sold 48 clips…', answer: '72', task: 'gsm8k' },
  ]);
}
write(join(prmRun, 'labels.jsonl'), [{ prompt: 'Q: 1+1\n', completions: ['1+1=2\n', 'Answer: 2'], labels: [true, true], soft_labels: [0.9, 1], outcome: true, problem_id: 'a' }]);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const anyRow = z.record(z.string(), z.unknown());
const out = (name: string) => join(root, 'out', name);

describe('export-data', () => {
  it('trl-sft: prompt/completion rows from every iteration, in order', () => {
    const r = exportData({ run, format: 'trl-sft', out: out('sft.jsonl') });
    expect(r.rows).toBe(4);
    const rows = readJsonl(out('sft.jsonl'), anyRow);
    expect(rows[0]).toEqual({ prompt: 'Q: 1+1\n', completion: 'A: 2' });
    expect(rows[2]).toEqual({ prompt: 'Q: 2+1\n', completion: 'A: 3' });
  });

  it('trl-sft --messages: conversational rows', () => {
    exportData({ run, format: 'trl-sft', out: out('sft-m.jsonl'), sftStyle: 'messages', iteration: 2 });
    const rows = readJsonl(out('sft-m.jsonl'), anyRow);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({ messages: [{ role: 'user', content: 'Q: 2+1\n' }, { role: 'assistant', content: 'A: 3' }] });
  });

  it('trl-dpo and openrlhf-dpo: prompt/chosen/rejected, filtered by level', () => {
    expect(exportData({ run, format: 'trl-dpo', out: out('dpo.jsonl') }).rows).toBe(4);
    expect(exportData({ run, format: 'openrlhf-dpo', out: out('odpo.jsonl'), pairLevel: 'step' }).rows).toBe(2);
    expect(readJsonl(out('dpo.jsonl'), anyRow)[0]).toEqual({ prompt: 'Q: 1+1\n', chosen: 'A: 2', rejected: 'A: 0' });
    expect(readJsonl(out('odpo.jsonl'), anyRow)[1]).toEqual({ prompt: 'Q: 2+1\nPlan: add\n', chosen: '2+1=3\n', rejected: '2+1=9\n' });
  });

  it('openrlhf-sft: input/output rows', () => {
    exportData({ run, format: 'openrlhf-sft', out: out('osft.jsonl'), iteration: 1 });
    expect(readJsonl(out('osft.jsonl'), anyRow)).toEqual([{ input: 'Q: 1+1\n', output: 'A: 2' }, { input: 'Q: 2*3\n', output: 'A: 6' }]);
  });

  it('trl-prm: stepwise rows from the loop, or from a train-prm run', () => {
    exportData({ run, format: 'trl-prm', out: out('prm.jsonl') });
    expect(readJsonl(out('prm.jsonl'), anyRow)).toEqual([
      { prompt: 'Q: 1+1\n', completions: ['Plan: add\n', 'A: 2'], labels: [true, true] },
      { prompt: 'Q: 2+1\n', completions: ['Plan: add\n', 'A: 3'], labels: [true, false] },
    ]);
    exportData({ run: prmRun, format: 'trl-prm', out: out('prm2.jsonl') });
    expect(readJsonl(out('prm2.jsonl'), anyRow)).toEqual([{ prompt: 'Q: 1+1\n', completions: ['1+1=2\n', 'Answer: 2'], labels: [true, true] }]);
  });

  it('verl: Parquet with the columns verl reads, nested types intact (read back with hyparquet)', async () => {
    const r = exportData({ run, format: 'verl', out: out('train.parquet') });
    expect(r.rows).toBe(3); // g1 appears in both iterations: kept once
    const bytes = readFileSync(out('train.parquet'));
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('PAR1');
    expect(bytes.subarray(bytes.length - 4).toString('latin1')).toBe('PAR1');
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const meta = parquetMetadata(file);
    expect(parquetSchema(meta).children.map((c) => c.element.name)).toEqual(['data_source', 'prompt', 'ability', 'reward_model', 'extra_info']);
    const rows = await parquetReadObjects({ file });
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({
      data_source: 'searchlearn/arith',
      prompt: [{ role: 'user', content: 'Q: 1+1\n' }],
      ability: 'math',
      reward_model: { style: 'rule', ground_truth: '2' },
      extra_info: { split: 'train', index: 0, problem_id: 'p1', iteration: 1 },
    });
    expect(rows[1]!['data_source']).toBe('openai/gsm8k');
  });

  it('fails with one line naming what is missing or malformed', () => {
    expect(() => exportData({ run, format: 'trl-sft', out: out('x.jsonl'), iteration: 5 })).toThrow(/iter-5 does not exist \(iterations here: 1, 2\)/);
    expect(() => exportData({ run: prmRun, format: 'verl', out: out('x.parquet') })).toThrow(/has no problems.jsonl/);
    expect(() => exportData({ run: join(root, 'nope'), format: 'verl', out: out('x.parquet') })).toThrow(/does not exist/);
    const bad = join(root, 'bad');
    write(join(bad, 'data', 'iter-0', 'sft.jsonl'), [{ prompt: 'a', completion: 'b' }, { prompt: 'a' }]);
    expect(() => exportData({ run: bad, format: 'trl-sft', out: out('x.jsonl') })).toThrow(/sft.jsonl:2: field "completion"/);
    expect(exportFormats).toHaveLength(6);
  });

  const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import pyarrow'], { encoding: 'utf8' }).status === 0);
  if (!python) console.warn('skipping the pyarrow read-back: no python3 with pyarrow here');
  it.skipIf(!python)('verl: pyarrow reads the Parquet file with the nested types', () => {
    exportData({ run, format: 'verl', out: out('pa.parquet') });
    const r = spawnSync(python!, ['-c', 'import sys, json, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); print(json.dumps({"schema": str(t.schema), "rows": t.to_pylist()}))', out('pa.parquet')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as { rows: Record<string, unknown>[] };
    expect(got.rows[0]!['prompt']).toEqual([{ role: 'user', content: 'Q: 1+1\n' }]);
    expect(got.rows[0]!['reward_model']).toEqual({ style: 'rule', ground_truth: '2' });
  });
});
