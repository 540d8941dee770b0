import type { Behaviours } from './task.js';
import { noBehaviours } from './task.js';

/** The behaviour names, in the order CLI help lists them. */
export const behaviourNames = ['plan', 'check', 'correct', 'alternatives'] as const satisfies readonly (keyof Behaviours)[];

/**
 * Parses a CLI behaviour spec into rates in [0, 1]. Names not mentioned get rate 0.
 *
 *   "none"                          → all 0
 *   "plan,check,correct,alternatives" → the named ones at rate 1
 *   "plan=0.5,correct=0.2"          → explicit rates (mixing with bare names is fine)
 *   "default" / ""                  → `defaults` (all 0 when no defaults are given)
 */
export function parseBehaviours(spec: string, defaults: Behaviours = noBehaviours): Behaviours {
  const text = spec.trim();
  if (text === '' || text === 'default') return { ...defaults };
  const out: Behaviours = { ...noBehaviours };
  if (text === 'none') return out;
  const valid = `valid: ${behaviourNames.join(', ')}, or none / default`;
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const [name, rate, extra] = part.split('=').map((s) => s.trim());
    if (!(behaviourNames as readonly string[]).includes(name!)) {
      throw new Error(`unknown behaviour "${name}" in "${spec}" (${valid})`);
    }
    let value = 1;
    if (rate !== undefined) {
      value = rate === '' || extra !== undefined ? NaN : Number(rate);
      if (!Number.isFinite(value) || value < 0 || value > 1) {
        throw new Error(`behaviour ${name}: rate "${part.slice(part.indexOf('=') + 1)}" must be a number in [0, 1]`);
      }
    }
    out[name as keyof Behaviours] = value;
  }
  return out;
}

/** The inverse of parseBehaviours, for logs and run configs ("none" when all are 0). */
export function formatBehaviours(b: Behaviours): string {
  const parts = behaviourNames.filter((n) => b[n] > 0).map((n) => (b[n] === 1 ? n : `${n}=${b[n]}`));
  return parts.length === 0 ? 'none' : parts.join(',');
}
