import { describe, expect, it } from 'vitest';
import { footholdMixture } from './mixture.js';

const data = [...Array.from({ length: 900 }, (_, i) => ({ prompt: `Q: easy ${i}\n`, completion: 'a' })), ...Array.from({ length: 100 }, (_, i) => ({ prompt: `Q: hard ${i}\n`, completion: 'b' }))];
const hardShare = (rows: { prompt: string }[]): number => rows.filter((r) => r.prompt.includes('hard')).length / rows.length;

describe('footholdMixture', () => {
  it('repeats the foothold so that a uniform draw hits it at the asked share', () => {
    const m = footholdMixture(data, 100, 0.5);
    expect(m).toHaveLength(1800);
    expect(hardShare(m)).toBe(0.5);
    expect(hardShare(footholdMixture(data, 100, 0.25))).toBeCloseTo(0.25, 2);
    expect(hardShare(footholdMixture(data, 100, 0.05))).toBeCloseTo(0.05, 2);
    expect(footholdMixture(data, 100, undefined)).toEqual(data);
    expect(hardShare(footholdMixture(data, 100, 0))).toBe(0);
    expect(hardShare(footholdMixture(data, 100, 1))).toBe(1);
  });
});
