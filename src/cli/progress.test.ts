import { describe, expect, it } from 'vitest';
import { Progress } from './progress.js';

function sink(): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  return { lines, stream: { isTTY: false, write: (s: string) => lines.push(s.trim()) > 0 } as unknown as NodeJS.WriteStream };
}

describe('Progress', () => {
  it('takes a total learned on the way: no count past it, no negative ETA', () => {
    const { stream, lines } = sink();
    const bar = new Progress('learn ppo', 200, 'step', 0, stream);
    bar.update(10, {}, true);
    bar.setTotal(250);
    bar.update(220, {}, true);
    expect(lines[1]).toMatch(/ 220\/250 /);
    expect(lines[0]).toMatch(/ 10\/200 /);
    expect(lines.join('\n')).not.toMatch(/ETA -\d/);
    bar.done();
    expect(lines[lines.length - 1]).toMatch(/ 250\/250 /);
  });
});
