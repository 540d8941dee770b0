import { describe, expect, it } from 'vitest';
import { learnerConfigIssue } from './registry.js';

describe('learnerConfigIssue', () => {
  it('accepts the fields each learner reads, nested ones included', () => {
    expect(learnerConfigIssue('dpo', { beta: 0.3, dpopLambda: 50, ptxCoef: 1, optimizer: { lr: 5e-5 } })).toBeNull();
    expect(learnerConfigIssue('ppo', { reward: 'process', shaping: 'potential', valueOptimizer: { lr: 1e-3 } })).toBeNull();
    expect(learnerConfigIssue('sft', { mode: 'restart', steps: 10 })).toBeNull();
    expect(learnerConfigIssue('external', {})).toBeNull();
  });

  it('names a misspelt field, a wrong type, a value outside its choices and a field of another learner', () => {
    expect(learnerConfigIssue('dpo', { bta: 0.3 })).toEqual({ path: ['bta'], message: expect.stringMatching(/^not a field of the dpo learner \(valid: beta, /) });
    expect(learnerConfigIssue('dpo', { beta: '0.3' })).toEqual({ path: ['beta'], message: 'expected a number, got "0.3"' });
    expect(learnerConfigIssue('grpo', { optimizer: { lr: 'fast' } })?.path).toEqual(['optimizer', 'lr']);
    expect(learnerConfigIssue('grpo', { optimizer: 3 })?.message).toMatch(/^expected an object of lr, /);
    expect(learnerConfigIssue('ppo', { reward: 'final' })).toEqual({ path: ['reward'], message: 'expected one of outcome, process, got "final"' });
    expect(learnerConfigIssue('sft', { beta: 0.1 })?.path).toEqual(['beta']);
    expect(learnerConfigIssue('external', { epochs: 2 })?.message).toBe('the external learner takes no learnerConfig');
  });
});
