import { describe, expect, it } from 'vitest';
import { defaultLoopConfig, parseLoopConfig } from './config.js';

describe('loop config: the PRM refresh size', () => {
  it('defaults to a refresh cheaper than its round (problems follow the loop, 4 samples, 200 steps)', () => {
    expect(defaultLoopConfig.prmRefresh).toEqual({ samples: 4, steps: 200 });
    expect(parseLoopConfig({ prmRefresh: { problems: 20000, samples: 8, steps: 5000 } }).prmRefresh).toEqual({ problems: 20000, samples: 8, steps: 5000 });
  });

  it('names a bad or unknown field in one line', () => {
    expect(() => parseLoopConfig({ prmRefresh: { problems: 0 } }, 'loop --config c.json')).toThrow(/^loop --config c\.json: field prmRefresh\.problems: .*>=1/);
    expect(() => parseLoopConfig({ prmRefresh: { rollouts: 8 } }, 'loop')).toThrow(/^loop: field prmRefresh: .*rollouts/);
  });
});
