import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits,
  readSafetensors, readSafetensorsHeader, SafetensorsError, writeSafetensors,
  type TensorIn,
} from './safetensors.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file made of a length prefix, a header string (unpadded unless given so) and data bytes. */
function handMade(name: string, header: string, data: Uint8Array | number[] = [], lengthOverride?: bigint): string {
  const h = Buffer.from(header, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(h.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([prefix, h, Buffer.from(data)]));
  return path;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** The expected error, checked to be one line naming the file. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected an error');
}

/**
 * An independent minimal reader written from the spec (python3 has neither safetensors nor numpy
 * here): it uses DataView for every number and checks the format's invariants on its own.
 */
function specReader(bytes: Uint8Array): { metadata: Record<string, string> | undefined; tensors: Record<string, { dtype: string; shape: number[]; values: number[] }> } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  expect(n % 8).toBe(0);
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  expect(headerText[0]).toBe('{');
  expect(headerText).toMatch(/^[^]*\} *$/); // only spaces pad the JSON
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const start = 8 + n;
  const sizes: Record<string, number> = { F32: 4, I32: 4, U8: 1, F64: 8, I64: 8, F16: 2, BF16: 2 };
  const spans: [number, number][] = [];
  const tensors: Record<string, { dtype: string; shape: number[]; values: number[] }> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: [b, e] } = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const count = shape.reduce((x, y) => x * y, 1);
    expect(e - b).toBe(count * sizes[dtype]!);
    expect((start + b) % sizes[dtype]!).toBe(0); // aligned in the file
    spans.push([b, e]);
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      const at = start + b + i * sizes[dtype]!;
      if (dtype === 'F32') values.push(view.getFloat32(at, true));
      else if (dtype === 'I32') values.push(view.getInt32(at, true));
      else if (dtype === 'U8') values.push(view.getUint8(at));
      else if (dtype === 'F64') values.push(view.getFloat64(at, true));
      else if (dtype === 'I64') values.push(Number(view.getBigInt64(at, true)));
      else values.push(view.getUint16(at, true));
    }
    tensors[name] = { dtype, shape, values };
  }
  spans.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [b, e] of spans) {
    expect(b).toBe(at);
    at = e;
  }
  expect(start + at).toBe(bytes.length);
  return { metadata: header['__metadata__'] as Record<string, string> | undefined, tensors };
}

describe('writeSafetensors / readSafetensors', () => {
  it('round-trips every supported array type with metadata', () => {
    const path = join(dir, 'round.safetensors');
    const tensors: Record<string, TensorIn> = {
      'blk.0.attn_q.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-20, -0]) },
      ids: { dtype: 'I32', shape: [4], data: new Int32Array([0, -1, 2 ** 31 - 1, -(2 ** 31)]) },
      mask: { dtype: 'U8', shape: [3], data: new Uint8Array([0, 1, 255]) },
      big: { dtype: 'I64', shape: [2], data: new BigInt64Array([-5n, 2n ** 62n]) },
      f64: { dtype: 'F64', shape: [1], data: new Float64Array([Math.PI]) },
      scalar: { dtype: 'F32', shape: [], data: new Float32Array([7]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      '__proto__': { dtype: 'U8', shape: [1], data: new Uint8Array([9]) },
    };
    writeSafetensors(path, tensors, { format: 'pt', note: 'héllo 😀' });
    const back = readSafetensors(path);
    expect(back.metadata).toEqual({ format: 'pt', note: 'héllo 😀' });
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = Object.getOwnPropertyDescriptor(back.tensors, name)!.value as TensorIn;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data.constructor).toBe(t.data.constructor);
      expect(Array.from(got.data as ArrayLike<number>)).toEqual(Array.from(t.data as ArrayLike<number>));
    }
    expect(Object.getPrototypeOf(back.tensors)).toBe(Object.prototype);
  });

  it('round-trips F16 and BF16 through Float32Array, and raw Uint16Array bits', () => {
    const path = join(dir, 'half.safetensors');
    const values = [0, -0, 1, -2.5, 65504, 0.333251953125, Infinity, -Infinity];
    writeSafetensors(path, {
      h: { dtype: 'F16', shape: [values.length], data: new Float32Array(values) },
      b: { dtype: 'BF16', shape: [values.length], data: new Float32Array(values) },
      raw: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
    });
    const back = readSafetensors(path).tensors;
    expect(back['h']!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(back['h']!.data as Float32Array)).toEqual(values);
    expect(Array.from(back['raw']!.data as Float32Array)).toEqual([1, -2]);
    const bf = Array.from(back['b']!.data as Float32Array);
    expect(bf.slice(0, 5)).toEqual([0, -0, 1, -2.5, 65536]); // 65504 rounds to 65536 in bfloat16
    expect(bf[6]).toBe(Infinity);
  });

  it('writes the bytes the reference serializer writes (its own test vectors)', () => {
    // safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty.
    const values = [0, 1, 2, 3, 4, 5];
    const cases: [string, number[], string, string][] = [
      ['attn.0', [1, 2, 3], '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', ''],
      ['attn0', [1, 1, 2, 3], '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}', '       '],
    ];
    for (const [name, shape, json, pad] of cases) {
      const path = join(dir, `vector-${name}.safetensors`);
      writeSafetensors(path, { [name]: { dtype: 'F32', shape, data: new Float32Array(values) } });
      const header = Buffer.from(json + pad);
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(header.length));
      expect(readFileSync(path)).toEqual(Buffer.concat([prefix, header, f32Bytes(values)]));
    }
    const empty = join(dir, 'vector-empty.safetensors');
    writeSafetensors(empty, {});
    expect([...readFileSync(empty)]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    writeSafetensors(empty, {}, { framework: 'pt' });
    expect(readFileSync(empty).toString('latin1')).toBe(`(${'\0'.repeat(7)}{"__metadata__":{"framework":"pt"}}     `);
  });

  it('pads the header to 8 bytes and lays tensors out contiguously, aligned, in reference order', () => {
    for (let len = 1; len <= 9; len++) {
      const path = join(dir, `align-${len}.safetensors`);
      const name = 'x'.repeat(len);
      writeSafetensors(path, {
        [`${name}.b`]: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
        [`${name}.a`]: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
        [`${name}.c`]: { dtype: 'I64', shape: [1], data: new BigInt64Array([3n]) },
        [`${name}.d`]: { dtype: 'F32', shape: [1], data: new Float32Array([4]) },
      });
      const bytes = readFileSync(path);
      const n = Number(bytes.readBigUInt64LE(0));
      expect(n % 8).toBe(0);
      const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: number[] }>;
      // Descending alignment, then name: I64, F32 (a, d), U8.
      expect(Object.keys(header)).toEqual([`${name}.c`, `${name}.a`, `${name}.d`, `${name}.b`]);
      expect(Object.values(header).map((t) => t.data_offsets)).toEqual([[0, 8], [8, 16], [16, 20], [20, 23]]);
      expect(bytes.length).toBe(8 + n + 23);
      const h = readSafetensorsHeader(path);
      expect(h.headerLength).toBe(n);
      expect(Object.keys(h.tensors)).toEqual(Object.keys(header));
    }
  });

  it('is readable by an independent reader written from the spec', () => {
    const path = join(dir, 'spec.safetensors');
    writeSafetensors(path, {
      'tok_embd.weight': { dtype: 'F32', shape: [3, 2], data: new Float32Array([0.5, -1, 2, 3, 4, 5]) },
      pos: { dtype: 'I32', shape: [2], data: new Int32Array([7, -7]) },
      flags: { dtype: 'U8', shape: [1], data: new Uint8Array([1]) },
      half: { dtype: 'F16', shape: [1], data: new Float32Array([1]) },
      'é😀': { dtype: 'F64', shape: [1], data: new Float64Array([0.1]) },
    }, { step: '12' });
    const parsed = specReader(readFileSync(path));
    expect(parsed.metadata).toEqual({ step: '12' });
    expect(parsed.tensors['tok_embd.weight']).toEqual({ dtype: 'F32', shape: [3, 2], values: [0.5, -1, 2, 3, 4, 5] });
    expect(parsed.tensors['pos']!.values).toEqual([7, -7]);
    expect(parsed.tensors['flags']!.values).toEqual([1]);
    expect(parsed.tensors['half']!.values).toEqual([0x3c00]);
    expect(parsed.tensors['é😀']!.values).toEqual([0.1]);
  });

  it('cross-checks with the Python safetensors library when it is installed', (ctx) => {
    const probe = spawnSync('python3', ['-c', 'import safetensors, numpy'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      ctx.skip('python3 lacks the safetensors and numpy modules; the spec reader above stands in');
      return;
    }
    const path = join(dir, 'python.safetensors');
    writeSafetensors(path, { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } }, { format: 'np' });
    const out = spawnSync('python3', ['-c', `from safetensors.numpy import load_file; t = load_file(${JSON.stringify(path)}); print(t["w"].shape, t["w"].sum())`], { encoding: 'utf8' });
    expect(out.stdout.trim()).toBe('(2, 2) 10.0');
  });

  it('writes atomically: no temp files remain, and a failed write leaves the old file intact', () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    const path = join(sub, 'model.safetensors');
    writeSafetensors(path, { a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    const before = readFileSync(path);
    expect(() => writeSafetensors(path, { a: { dtype: 'F32', shape: [2], data: new Float32Array([1]) } })).toThrow(
      /^safetensors .*model\.safetensors: tensor "a": shape \[2\] has 2 elements but data has 1$/,
    );
    expect(() => writeSafetensors(join(sub, 'no-such-dir', 'x.safetensors'), {})).toThrow(/^safetensors .*x\.safetensors: cannot write: ENOENT/);
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(sub)).toEqual(['model.safetensors']);
  });

  it('rejects tensors it cannot write, with one line each', () => {
    const path = join(dir, 'bad-write.safetensors');
    expect(errorOf(() => writeSafetensors(path, { a: { dtype: 'F32', shape: [2], data: new Int32Array(2) } })))
      .toBe(`safetensors ${path}: tensor "a": dtype F32 cannot be written from a Int32Array`);
    expect(errorOf(() => writeSafetensors(path, { a: { dtype: 'F32', shape: [-1], data: new Float32Array(1) } })))
      .toBe(`safetensors ${path}: tensor "a": shape [-1] is not a list of non-negative integers`);
    expect(errorOf(() => writeSafetensors(path, { __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })))
      .toBe(`safetensors ${path}: "__metadata__" is reserved and cannot name a tensor`);
  });
});

describe('readSafetensors validation', () => {
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const cases: [string, () => string, string][] = [
    ['missing file', () => join(dir, 'nope.safetensors'), 'file not found'],
    ['file shorter than 8 bytes', () => {
      const p = join(dir, 'short.safetensors');
      writeFileSync(p, Buffer.from([1, 2, 3]));
      return p;
    }, 'file is 3 bytes, shorter than the 8-byte header length'],
    ['header length beyond the file', () => handMade('hlen.safetensors', ok, f32Bytes([1, 2]), 4096n), 'header length 4096 runs past the end of the file (70 bytes)'],
    ['absurd header length', () => handMade('huge.safetensors', ok, [], 2n ** 63n), `header length ${2n ** 63n} is over the 100000000-byte limit (not a safetensors file?)`],
    ['header not starting with {', () => handMade('start.safetensors', ' [1]'), 'header does not start with "{" (got " [1]")'],
    ['invalid JSON', () => handMade('json.safetensors', '{"a": '), 'header is not valid JSON ('],
    ['metadata not strings', () => handMade('meta.safetensors', '{"__metadata__":{"step":3}}'), '"__metadata__" value "step" is not a string'],
    ['dtype missing', () => handMade('nodtype.safetensors', '{"a":{"shape":[2],"data_offsets":[0,8]}}', f32Bytes([1, 2])), 'tensor "a": dtype missing'],
    ['dtype unknown', () => handMade('baddtype.safetensors', '{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}', f32Bytes([1, 2])), 'tensor "a": dtype "F33" is not one of BOOL, U8,'],
    ['shape missing', () => handMade('noshape.safetensors', '{"a":{"dtype":"F32","data_offsets":[0,8]}}', f32Bytes([1, 2])), 'tensor "a": shape missing'],
    ['shape invalid', () => handMade('badshape.safetensors', '{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}', f32Bytes([1, 2])), 'tensor "a": shape [2.5] is not a list of non-negative integers'],
    ['data_offsets invalid', () => handMade('badoff.safetensors', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', f32Bytes([1, 2])), 'tensor "a": data_offsets [0] is not a pair [begin, end] of non-negative integers'],
    ['data_offsets reversed', () => handMade('rev.safetensors', '{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', f32Bytes([1, 2])), 'tensor "a": data_offsets [8,0] end before they begin'],
    ['size not matching shape × dtype', () => handMade('size.safetensors', '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32Bytes([1, 2])), 'tensor "a": data_offsets [0,8] hold 8 bytes but F32 shape [3] needs 12'],
    ['overlapping tensors', () => handMade('overlap.safetensors', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32Bytes([1, 2])), 'tensor "b" data_offsets [4,8] overlap tensor "a" [0,8]'],
    ['gap between tensors', () => handMade('gap.safetensors', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', f32Bytes([1, 2, 3])), 'tensor "b" data_offsets [8,12] leave a gap of 4 bytes after tensor "a"'],
    ['offsets out of range', () => handMade('range.safetensors', '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', f32Bytes([1, 2])), 'tensor "a" data_offsets [0,16] run past the end of the data section (8 bytes): file truncated'],
    ['trailing bytes', () => handMade('trail.safetensors', ok, f32Bytes([1, 2, 3])), 'data section has 12 bytes but the tensors cover only 8'],
  ];
  for (const [what, make, expected] of cases) {
    it(`reports ${what} in one line naming the file`, () => {
      const path = make();
      const msg = errorOf(() => readSafetensors(path));
      const want = `safetensors ${path}: ${expected}`;
      expect(msg.slice(0, want.length)).toBe(want);
      // The header-only reader checks the same things.
      expect(errorOf(() => readSafetensorsHeader(path))).toBe(msg);
    });
  }

  it('reports invalid UTF-8 in the header', () => {
    const path = join(dir, 'utf8-raw.safetensors');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(3n);
    writeFileSync(path, Buffer.concat([prefix, Buffer.from([0x7b, 0xff, 0x7d])]));
    expect(errorOf(() => readSafetensors(path))).toBe(`safetensors ${path}: header is not valid UTF-8`);
  });

  it('reports a real file cut short as truncated', () => {
    const path = join(dir, 'cut.safetensors');
    writeSafetensors(path, {
      a: { dtype: 'F32', shape: [4], data: new Float32Array([1, 2, 3, 4]) },
      b: { dtype: 'F32', shape: [2], data: new Float32Array([5, 6]) },
    });
    const full = readFileSync(path);
    writeFileSync(path, full.subarray(0, full.length - 3));
    expect(errorOf(() => readSafetensors(path))).toBe(
      `safetensors ${path}: tensor "b" data_offsets [16,24] run past the end of the data section (21 bytes): file truncated`,
    );
    writeFileSync(path, full.subarray(0, 20));
    expect(errorOf(() => readSafetensors(path))).toMatch(/: header length \d+ runs past the end of the file \(20 bytes\)$/);
  });

  it('accepts header padding and tensors listed out of offset order', () => {
    const path = handMade('order.safetensors', '{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}      ', f32Bytes([1, 2]));
    const back = readSafetensors(path);
    expect(Object.keys(back.tensors)).toEqual(['a', 'b']);
    expect(Array.from(back.tensors['b']!.data as Float32Array)).toEqual([2]);
    expect(back.metadata).toEqual({});
  });
});

describe('half-precision conversions', () => {
  it('converts F16 with round-to-nearest-even, subnormals, infinities and NaN', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway to the next binade rounds up to infinity
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie rounds to even (zero)
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie to even: down
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie to even: up
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToF32(h);
      if (!Number.isNaN(v)) expect(f32ToF16Bits(v)).toBe(h);
    }
  });

  it('converts BF16 with round-to-nearest-even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(-2)).toBe(0xc000);
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie to even: down
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie to even: up
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
    expect(bf16BitsToF32(f32ToBf16Bits(Infinity))).toBe(Infinity);
  });
});
