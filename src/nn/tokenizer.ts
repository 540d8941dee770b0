/**
 * A character-level tokenizer over a declared alphabet, for the built-in model. Built-in tasks
 * (arithmetic, countdown) use a few dozen symbols, so one token per character keeps the model tiny
 * and every step boundary exact (as in nanoGPT's shakespeare_char).
 *
 * Ids: 0 = PAD, 1 = BOS, 2 = EOS, then the alphabet's characters in the order given. Characters are
 * Unicode code points, so astral characters (emoji, math letters) are one token each.
 */
import { z } from 'zod';

const SPECIAL_STRINGS = ['<pad>', '<bos>', '<eos>'] as const;
const NUM_SPECIALS = SPECIAL_STRINGS.length;

/** The tokenizer.json form; the type follows from the schema. */
export const charTokenizerJsonSchema = z.object({
  type: z.literal('char'),
  alphabet: z.string(),
  specials: z.object({ pad: z.literal(0), bos: z.literal(1), eos: z.literal(2) }),
});
export type CharTokenizerJson = z.infer<typeof charTokenizerJsonSchema>;

export class CharTokenizer {
  readonly pad = 0;
  readonly bos = 1;
  readonly eos = 2;
  /** The alphabet without repeats, in id order (the character with id 3 first). */
  readonly alphabet: string;
  readonly vocabSize: number;
  private readonly chars: string[];
  private readonly ids = new Map<string, number>();

  /** `alphabet`: the characters to know, in id order; repeats are dropped (the first one counts). */
  constructor(alphabet: string) {
    this.chars = [];
    for (const ch of alphabet) {
      if (this.ids.has(ch)) continue;
      this.ids.set(ch, NUM_SPECIALS + this.chars.length);
      this.chars.push(ch);
    }
    this.alphabet = this.chars.join('');
    this.vocabSize = NUM_SPECIALS + this.chars.length;
  }

  /** An alphabet of every character in `texts`, sorted by code point. */
  static fromCorpus(texts: string[]): CharTokenizer {
    const seen = new Set<string>();
    for (const text of texts) for (const ch of text) seen.add(ch);
    const sorted = [...seen].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(sorted.join(''));
  }

  /** Token ids of `text`, optionally wrapped in BOS/EOS. Throws one line listing every unknown character. */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = [];
    if (opts.bos) out.push(this.bos);
    let unknown: Set<string> | undefined;
    for (const ch of text) {
      const id = this.ids.get(ch);
      if (id === undefined) (unknown ??= new Set()).add(ch);
      else out.push(id);
    }
    if (unknown) {
      const names = [...unknown].map((ch) => JSON.stringify(ch)).join(', ');
      const noun = unknown.size === 1 ? 'character' : 'characters';
      throw new Error(`unknown ${noun} ${names} (not in the tokenizer's alphabet of ${this.chars.length})`);
    }
    if (opts.eos) out.push(this.eos);
    return out;
  }

  /** The text of `ids`; special tokens are dropped. */
  decode(ids: number[]): string {
    let text = '';
    for (const id of ids) {
      this.check(id, 'decode');
      if (id >= NUM_SPECIALS) text += this.chars[id - NUM_SPECIALS];
    }
    return text;
  }

  /** The token's text: its character, or `<pad>`, `<bos>`, `<eos>` for the specials. */
  tokenString(id: number): string {
    this.check(id, 'tokenString');
    return id < NUM_SPECIALS ? SPECIAL_STRINGS[id]! : this.chars[id - NUM_SPECIALS]!;
  }

  toJSON(): CharTokenizerJson {
    return { type: 'char', alphabet: this.alphabet, specials: { pad: 0, bos: 1, eos: 2 } };
  }

  /** Rebuilds a tokenizer from its toJSON() form; a bad object fails with one line. */
  static fromJSON(obj: unknown): CharTokenizer {
    const parsed = charTokenizerJsonSchema.safeParse(obj);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? `field "${issue.path.join('.')}": ` : '';
      throw new Error(`tokenizer JSON invalid: ${field}${issue.message}`);
    }
    const seen = new Set<string>();
    for (const ch of parsed.data.alphabet) {
      // A repeat would shift every later id away from the ids the model was trained with.
      if (seen.has(ch)) throw new Error(`tokenizer JSON invalid: field "alphabet": repeats ${JSON.stringify(ch)}`);
      seen.add(ch);
    }
    return new CharTokenizer(parsed.data.alphabet);
  }

  private check(id: number, where: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new Error(`${where}: token id ${id} is out of range (vocabulary of ${this.vocabSize})`);
    }
  }
}
