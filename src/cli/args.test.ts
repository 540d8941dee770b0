import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { joinNegativeValues, num, parseCommand } from './args.js';

describe('parseCommand', () => {
  const options = { temperature: { type: 'string' }, problems: { type: 'string' }, json: { type: 'boolean' } } as const;
  const schema = z.object({ temperature: num({ min: 0 }).optional(), problems: num({ int: true, min: 1 }).optional(), json: z.boolean().optional() });

  it('says what is valid for a negative number instead of "argument is ambiguous"', () => {
    expect(() => parseCommand('eval', ['--temperature', '-1'], options, schema)).toThrow('eval: --temperature "-1": must be >= 0');
    expect(() => parseCommand('eval', ['--problems', '-3'], options, schema)).toThrow('eval: --problems "-3": must be >= 1');
    expect(() => parseCommand('eval', ['--temperature', '-.5'], options, schema)).toThrow(/must be >= 0/);
  });

  it('joins only value-taking flags followed by a number', () => {
    expect(joinNegativeValues(['--temperature', '-1', '--json', '--problems', '3'], options)).toEqual(['--temperature=-1', '--json', '--problems', '3']);
    // A boolean flag never takes a value; a following "-x" stays a flag.
    expect(joinNegativeValues(['--json', '-1'], options)).toEqual(['--json', '-1']);
    expect(joinNegativeValues(['--temperature', '-x'], options)).toEqual(['--temperature', '-x']);
    expect(parseCommand('eval', ['--temperature', '0.5', '--problems', '2'], options, schema)).toEqual({ temperature: 0.5, problems: 2 });
  });
});
