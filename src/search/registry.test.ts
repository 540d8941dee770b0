import { describe, expect, it } from 'vitest';
import { getSearch, matchedBudget, parseSearchSpec, searchAlgorithms, searchNames } from './registry.js';

describe('registry', () => {
  it('names the ten CLI algorithms', () => {
    expect(searchNames).toEqual(['greedy', 'best-of-n', 'majority', 'adaptive-majority', 'weighted-majority', 'beam', 'dvts', 'mcts', 'revision', 'hybrid']);
    for (const name of searchNames) expect(getSearch(name).name).toBe(name);
  });

  it('throws one line listing the valid names for an unknown one', () => {
    expect(() => getSearch('bfs')).toThrow(`unknown search 'bfs'; valid: greedy, best-of-n, majority, adaptive-majority, weighted-majority, beam, dvts, mcts, revision, hybrid (options as name:key=value)`);
    expect(() => getSearch('toString')).toThrow(/unknown search/);
  });

  it('lays a spec\'s options over the budget\'s config, and names a bad option, value or type in one line', () => {
    const rev = getSearch('revision:select=majority:context=2');
    expect(rev.name).toBe('revision:select=majority:context=2');
    expect(rev.budgetToConfig(8)).toMatchObject({ attempts: 8, select: 'majority', context: 2 });
    expect(getSearch('beam:beamWidth=2:dedupe=false').budgetToConfig(16)).toMatchObject({ n: 16, beamWidth: 2, dedupe: false });
    // The budget still sets what it maps (a spec's own n would fight it only if given).
    expect(getSearch('mcts:select=value').budgetToConfig(8)).toMatchObject({ numSimulations: 32, select: 'value' });
    expect(parseSearchSpec('hybrid:withinChain=majority')).toEqual({ name: 'hybrid', options: { withinChain: 'majority' } });
    expect(() => getSearch('revision:select=vote')).toThrow("search revision:select=vote: select must be one of last, best, majority, weighted, not 'vote'");
    expect(() => getSearch('beam:select=last')).toThrow(/select must be one of best, majority, weighted/);
    expect(() => getSearch('beam:width=2')).toThrow(/'width' is not an option of beam; valid: n, beamWidth, maxSteps, temperature, topP, dedupe, select/);
    expect(() => getSearch('adaptive-majority:confidence=1')).toThrow('search adaptive-majority:confidence=1: confidence must be between 0 and 1 (exclusive), not 1');
    expect(() => getSearch('adaptive-majority:round=2.5')).toThrow(/round must be a whole number of samples ≥ 1, not 2.5/);
    expect(() => getSearch('beam:beamWidth=two')).toThrow(/beamWidth must be a number, not 'two'/);
    expect(() => getSearch('beam:dedupe=1')).toThrow(/dedupe must be true or false/);
    expect(() => getSearch('revision:format=x')).toThrow(/'format' is not an option of revision/);
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
