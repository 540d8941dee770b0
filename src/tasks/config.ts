/**
 * Small checks for task configs that arrive as loose options (CLI flags, JSON files): unknown keys
 * and bad values fail with a message naming the field and what is allowed.
 */
export function checkKeys(task: string, options: Record<string, unknown>, valid: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (options[key] !== undefined && !valid.includes(key)) {
      throw new Error(`${task}: unknown option "${key}" (valid: ${valid.join(', ')})`);
    }
  }
}

/** An integer in [lo, hi]; numeric strings are accepted (CLI flags arrive as text). */
export function intOption(task: string, key: string, value: unknown, fallback: number, lo: number, hi: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < lo || n > hi) {
    throw new Error(`${task}: option ${key} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A string option (field names, display names). */
export function stringOption(task: string, key: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw new Error(`${task}: option ${key} must be a non-empty string`);
  return value;
}
