import { describe, expect, it } from 'vitest';
import { fromJsonl, readJsonl, toJsonl } from './jsonl.js';
import { mcts, defaultMctsConfig } from './mcts.js';
import { bestOfN, defaultBestOfNConfig } from './best-of-n.js';
import { toyWorld } from './testing.js';

describe('jsonl', () => {
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
