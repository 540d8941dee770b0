import { describe, expect, it } from 'vitest';
import { fromJsonl, readJsonl, searchFileName, toJsonl } from './jsonl.js';
import { mcts, defaultMctsConfig } from './mcts.js';
import { bestOfN, defaultBestOfNConfig } from './best-of-n.js';
import { toyWorld } from './testing.js';

describe('jsonl', () => {
  it('names a cell\'s file without characters Windows forbids', () => {
    expect(searchFileName('majority', 16)).toBe('majority-16.jsonl');
    expect(searchFileName('adaptive-majority:confidence=0.99:round=8', 64)).toBe('adaptive-majority+confidence=0.99+round=8-64.jsonl');
    for (const spec of ['best-of-n:kl=2', 'beam:beamWidth=2', 'revision:select=majority']) expect(searchFileName(spec, 4)).not.toMatch(/[<>:"/\\|?*]/);
  });

  it('round-trips a search result with its tree and action weights', async () => {
    const world = toyWorld({ count: 2 });
    const a = await mcts(world.problems[0]!, world.context(1), { ...defaultMctsConfig, numSimulations: 8 });
    const b = await bestOfN(world.problems[1]!, world.context(1), { ...defaultBestOfNConfig, n: 4 });
    const line = toJsonl(a);
    expect(line).not.toContain('\n');
    expect(fromJsonl(line)).toEqual(a);
    expect(readJsonl(`${toJsonl(a)}\n${toJsonl(b)}\n`)).toEqual([a, b]);
  });

  it('names the bad field in one line', () => {
    expect(() => fromJsonl('{')).toThrow(/^search result: not JSON/);
    expect(() => fromJsonl(JSON.stringify({ problemId: 'x', algo: 'greedy', answer: 3 }))).toThrow(/^search result: answer: /);
  });
});
