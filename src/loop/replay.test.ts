import { describe, expect, it } from 'vitest';
import { replayRows } from './replay.js';

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
