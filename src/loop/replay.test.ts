import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunDir } from '../learn/run-dir.js';
import { pastRoundRows, replayRows } from './replay.js';

const data = [...Array.from({ length: 900 }, (_, i) => ({ prompt: `Q: easy ${i}\n`, completion: 'a' })), ...Array.from({ length: 100 }, (_, i) => ({ prompt: `Q: hard ${i}\n`, completion: 'b' }))];
const hardShare = (rows: { prompt: string }[]): number => rows.filter((r) => r.prompt.includes('hard')).length / rows.length;

describe('replayRows', () => {
  it('draws uniformly from all of the initialization data by default', () => {
    const rows = replayRows(data, 100, { replay: 1000, seed: 0 }, 1);
    expect(rows).toHaveLength(1000);
    expect(hardShare(rows)).toBeGreaterThan(0.07);
    expect(hardShare(rows)).toBeLessThan(0.13);
  });

  it('draws the asked share from the foothold traces and the rest from the initial level', () => {
    const rows = replayRows(data, 100, { replay: 400, replayFoothold: 0.5, seed: 0 }, 1);
    expect(hardShare(rows)).toBe(0.5);
    expect(hardShare(replayRows(data, 100, { replay: 400, replayFoothold: 0, seed: 0 }, 1))).toBe(0);
    expect(hardShare(replayRows(data, 100, { replay: 400, replayFoothold: 1, seed: 0 }, 1))).toBe(1);
  });

  it('is deterministic per iteration and differs between iterations', () => {
    const a = replayRows(data, 100, { replay: 50, replayFoothold: 0.5, seed: 3 }, 2);
    expect(replayRows(data, 100, { replay: 50, replayFoothold: 0.5, seed: 3 }, 2)).toEqual(a);
    expect(replayRows(data, 100, { replay: 50, replayFoothold: 0.5, seed: 3 }, 3)).not.toEqual(a);
  });

  it('falls back to uniform when there is no foothold, and replays nothing when asked for none', () => {
    expect(hardShare(replayRows(data, 0, { replay: 1000, replayFoothold: 1, seed: 0 }, 1))).toBeLessThan(0.13);
    expect(replayRows(data, 100, { replay: 0, seed: 0 }, 1)).toEqual([]);
  });
});

describe('pastRoundRows', () => {
  it('reads back the rows the given number of earlier iterations kept, oldest first, and names a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'searchlearn-past-'));
    try {
      const run = new RunDir(dir);
      const write = (it: number, ids: string[]): void => {
        mkdirSync(run.file(`data/iter-${it}`), { recursive: true });
        writeFileSync(run.file(`data/iter-${it}/sft.jsonl`), ids.map((id) => JSON.stringify({ prompt: `Q: ${id}\n`, completion: `A ${id}`, problem_id: id }) + '\n').join(''));
      };
      write(1, ['a', 'b']);
      write(2, []);
      write(3, ['c']);
      expect(pastRoundRows(run, 4, 0)).toEqual([]);
      expect(pastRoundRows(run, 4, 1)).toEqual([{ problemId: 'c', prompt: 'Q: c\n', completion: 'A c' }]);
      expect(pastRoundRows(run, 4, 3).map((r) => r.problemId)).toEqual(['a', 'b', 'c']);
      expect(pastRoundRows(run, 4, 100).map((r) => r.problemId)).toEqual(['a', 'b', 'c']);
      expect(pastRoundRows(run, 1, 5)).toEqual([]);
      rmSync(run.file('data/iter-2'), { recursive: true });
      expect(() => pastRoundRows(run, 4, 2)).toThrow(/pastRounds 2 needs the rows of iteration 2, and .*data\/iter-2\/sft\.jsonl is missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
