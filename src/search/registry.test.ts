import { describe, expect, it } from 'vitest';
import { getSearch, matchedBudget, searchAlgorithms, searchNames } from './registry.js';

describe('registry', () => {
  it('names the nine CLI algorithms', () => {
    expect(searchNames).toEqual(['greedy', 'best-of-n', 'majority', 'weighted-majority', 'beam', 'dvts', 'mcts', 'revision', 'hybrid']);
    for (const name of searchNames) expect(getSearch(name).name).toBe(name);
  });

  it('throws one line listing the valid names for an unknown one', () => {
    expect(() => getSearch('bfs')).toThrow(`unknown search 'bfs'; valid: greedy, best-of-n, majority, weighted-majority, beam, dvts, mcts, revision, hybrid`);
    expect(() => getSearch('toString')).toThrow(/unknown search/);
  });

  it('maps budget N to configs of about N samples', () => {
    expect(searchAlgorithms['best-of-n'].budgetToConfig(32).n).toBe(32);
    expect(searchAlgorithms.majority.budgetToConfig(32).n).toBe(32);
    expect(searchAlgorithms['weighted-majority'].budgetToConfig(32).n).toBe(32);
    expect(searchAlgorithms.beam.budgetToConfig(32)).toMatchObject({ n: 32, beamWidth: 4 });
    expect(searchAlgorithms.beam.budgetToConfig(2)).toMatchObject({ n: 2, beamWidth: 2 });
    expect(searchAlgorithms.dvts.budgetToConfig(32)).toMatchObject({ n: 32, beamWidth: 4 });
    expect(searchAlgorithms.mcts.budgetToConfig(8).numSimulations).toBe(32);
    expect(searchAlgorithms.mcts.budgetToConfig(8, { stepsPerSample: 6 }).numSimulations).toBe(48);
    expect(searchAlgorithms.mcts.budgetToConfig(8, { rewardKind: 'outcome' }).numSimulations).toBe(8);
    expect(searchAlgorithms.revision.budgetToConfig(8).attempts).toBe(8);
    expect(searchAlgorithms.hybrid.budgetToConfig(8).n).toBe(8);
    expect(matchedBudget(8, 100)).toEqual({ outputTokens: 800 });
  });

  it('does not share mutable config objects between calls', () => {
    const a = searchAlgorithms.beam.budgetToConfig(8);
    a.n = 99;
    expect(searchAlgorithms.beam.budgetToConfig(8).n).toBe(8);
    expect(searchAlgorithms.beam.defaultConfig.n).toBe(16);
  });
});
