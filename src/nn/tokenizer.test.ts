import { describe, expect, it } from 'vitest';
import { CharTokenizer } from './tokenizer.js';

describe('CharTokenizer', () => {
  it('numbers PAD, BOS, EOS first, then the alphabet in order without repeats', () => {
    const tok = new CharTokenizer('ba\nab=');
    expect([tok.pad, tok.bos, tok.eos]).toEqual([0, 1, 2]);
    expect(tok.alphabet).toBe('ba\n=');
    expect(tok.vocabSize).toBe(7);
    expect(tok.encode('ab=\n')).toEqual([4, 3, 6, 5]);
    expect([0, 1, 2, 3, 6].map((id) => tok.tokenString(id))).toEqual(['<pad>', '<bos>', '<eos>', 'b', '=']);
  });

  it('wraps in BOS/EOS on request and drops specials when decoding', () => {
    const tok = new CharTokenizer('0123456789+=\n');
    const ids = tok.encode('12+3=15\n', { bos: true, eos: true });
    expect(ids[0]).toBe(tok.bos);
    expect(ids.at(-1)).toBe(tok.eos);
    expect(tok.decode([tok.pad, ...ids, tok.pad])).toBe('12+3=15\n');
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { bos: true })).toEqual([1]);
  });

  it('lists every unknown character once, JSON-quoted, in one line', () => {
    const tok = new CharTokenizer('abcdefghijklmnopqrstuvwxyzABCDEF0123456789');
    expect(() => tok.encode('café\tcafé\t')).toThrow(/^unknown characters "é", "\\t" \(not in the tokenizer's alphabet of 42\)$/);
    expect(() => tok.encode('a😀')).toThrow(/^unknown character "😀" \(not in the tokenizer's alphabet of 42\)$/);
  });

  it('treats astral characters as one token each', () => {
    const tok = new CharTokenizer('x😀𝑥');
    expect(tok.vocabSize).toBe(6);
    expect(tok.encode('😀x𝑥😀')).toEqual([4, 3, 5, 4]);
    expect(tok.decode([4, 3, 5, 4])).toBe('😀x𝑥😀');
    expect(tok.tokenString(5)).toBe('𝑥');
    expect(() => tok.encode('\ud83d')).toThrow(/^unknown character "\\ud83d"/); // a lone surrogate is its own (unknown) character
  });

  it('builds a sorted alphabet from a corpus, ordering by code point', () => {
    const tok = CharTokenizer.fromCorpus(['ba\n', '😀\uffef', 'c a']);
    expect([...tok.alphabet]).toEqual(['\n', ' ', 'a', 'b', 'c', '\uffef', '😀']);
    expect(tok.decode(tok.encode('a b\n😀'))).toBe('a b\n😀');
    expect(CharTokenizer.fromCorpus([]).vocabSize).toBe(3);
  });

  it('rejects ids outside the vocabulary', () => {
    const tok = new CharTokenizer('ab');
    expect(() => tok.decode([3, 5])).toThrow(/^decode: token id 5 is out of range \(vocabulary of 5\)$/);
    expect(() => tok.decode([1.5])).toThrow(/out of range/);
    expect(() => tok.tokenString(-1)).toThrow(/^tokenString: token id -1 is out of range/);
  });

  it('round-trips through JSON', () => {
    const tok = new CharTokenizer('0123456789+-*/=\n Answer:😀');
    const json = JSON.parse(JSON.stringify(tok)) as unknown;
    expect(json).toEqual({ type: 'char', alphabet: tok.alphabet, specials: { pad: 0, bos: 1, eos: 2 } });
    const back = CharTokenizer.fromJSON(json);
    expect(back.alphabet).toBe(tok.alphabet);
    expect(back.vocabSize).toBe(tok.vocabSize);
    const text = 'Answer: 12*3=36\n😀';
    expect(back.encode(text)).toEqual(tok.encode(text));
  });

  it('fails fromJSON with one line naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [null, /^tokenizer JSON invalid: /],
      [{ type: 'bpe', alphabet: 'ab', specials: { pad: 0, bos: 1, eos: 2 } }, /^tokenizer JSON invalid: field "type": /],
      [{ type: 'char', specials: { pad: 0, bos: 1, eos: 2 } }, /^tokenizer JSON invalid: field "alphabet": /],
      [{ type: 'char', alphabet: 7, specials: { pad: 0, bos: 1, eos: 2 } }, /^tokenizer JSON invalid: field "alphabet": /],
      [{ type: 'char', alphabet: 'ab', specials: { pad: 0, bos: 2, eos: 1 } }, /^tokenizer JSON invalid: field "specials.bos": /],
      [{ type: 'char', alphabet: 'aba', specials: { pad: 0, bos: 1, eos: 2 } }, /^tokenizer JSON invalid: field "alphabet": repeats "a"$/],
    ];
    for (const [obj, re] of bad) {
      let msg = '';
      try {
        CharTokenizer.fromJSON(obj);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(re);
      expect(msg).not.toContain('\n');
    }
  });
});
