/**
 * Safetensors files: the Hugging Face tensor format, readable by `safetensors`, transformers,
 * candle and llama.cpp's converters.
 *
 * Layout (spec: github.com/huggingface/safetensors, README "Format" and `safetensors/src/tensor.rs`):
 *
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON object, starting with `{`, padded with spaces to a multiple of 8 bytes:
 *              {"__metadata__": {"k": "v"},                      (optional, strings only)
 *               "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 *   [rest]     the data section: each tensor's bytes, row-major, little-endian; offsets are
 *              relative to the start of this section. The tensors tile it exactly: sorted by
 *              offset, each begins where the previous ends, the first at 0 and the last at the
 *              end of the file (no gaps, no overlap, no trailing bytes).
 *
 * The writer lays tensors out as the reference serializer does (descending dtype alignment, then
 * name), so every tensor starts at a multiple of its element size: 8-byte padded header, aligned
 * data. The reader checks everything the reference reader checks and reports each failure as one
 * line naming the file and the problem. Files are written atomically (temp file, fsync, rename).
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Element size in bytes of every dtype the format defines (sub-byte F4/F6 types excepted). */
export const DTYPE_SIZE = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_SIZE;

/**
 * The reference library's Dtype enum order ("increasing alignment order"); its serializer sorts
 * tensors by this order descending, then by name. We do the same so our files match its byte for byte.
 */
const DTYPE_ORDER: readonly Dtype[] = [
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
];

/** The reference reader's limit on the header (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

export type TensorData =
  | Float32Array | Float64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/**
 * A tensor to write. `data` holds `product(shape)` elements in the dtype's array type:
 * F32 Float32Array, F64 Float64Array, I8/I16/I32/I64 Int8/Int16/Int32/BigInt64Array,
 * U8/BOOL/F8_* Uint8Array, U16/U32/U64 Uint16/Uint32/BigUint64Array.
 * F16 and BF16 accept a Float32Array (rounded to nearest even) or a Uint16Array of raw bits.
 */
export interface TensorIn {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

/** A tensor read back. F16 and BF16 come back widened to Float32Array; others in their own array type. */
export interface TensorOut {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** N, the header length in bytes (the data section starts at byte 8 + N). */
  headerLength: number;
  /** Tensors in file order (by offset). */
  tensors: Record<string, TensorInfo>;
  /** The `__metadata__` map; empty when the file has none. */
  metadata: Record<string, string>;
}

/** A safetensors problem: `file` and `problem` kept apart so callers can rephrase the prefix. */
export class SafetensorsError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`safetensors ${file}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Typed arrays use the host byte order; the format is little-endian.
  throw new Error('safetensors: big-endian hosts are not supported');
}

// ---------------------------------------------------------------------------------------------
// Writing

let tempCounter = 0;

/** Writes `tensors` (and optional string metadata) to `path`, atomically. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, TensorIn>,
  metadata?: Record<string, string>,
): void {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, problem);
  };
  const entries: { name: string; dtype: Dtype; shape: number[]; bytes: Uint8Array }[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') fail('"__metadata__" is reserved and cannot name a tensor');
    if (!(typeof t.dtype === 'string' && t.dtype in DTYPE_SIZE)) {
      fail(`tensor ${JSON.stringify(name)}: dtype ${JSON.stringify(t.dtype)} is not one of ${DTYPE_ORDER.join(', ')}`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor ${JSON.stringify(name)}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) {
      fail(`tensor ${JSON.stringify(name)}: shape [${t.shape.join(',')}] has ${count} elements but data has ${t.data.length}`);
    }
    const bytes = encodeData(t.dtype, t.data);
    if (bytes === null) {
      fail(`tensor ${JSON.stringify(name)}: dtype ${t.dtype} cannot be written from a ${t.data.constructor.name}`);
    }
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], bytes: bytes! });
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata ${JSON.stringify(k)} is a ${typeof v}; safetensors metadata values must be strings`);
    }
  }

  entries.sort((a, b) => DTYPE_ORDER.indexOf(b.dtype) - DTYPE_ORDER.indexOf(a.dtype) || compareUtf8(a.name, b.name));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  let offset = 0;
  for (const e of entries) {
    setOwn(header, e.name, { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.byteLength] });
    offset += e.bytes.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(json.length + ((8 - (json.length % 8)) % 8), 0x20);
  json.copy(padded);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(padded.length));

  writeFileAtomic(path, [prefix, padded, ...entries.map((e) => e.bytes)]);
}

/** Writes `chunks` to a temp file beside `path`, fsyncs it, then renames it over `path`. */
function writeFileAtomic(path: string, chunks: Uint8Array[]): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${tempCounter++}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.byteLength) done += writeSync(fd, chunk, done, chunk.byteLength - done);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file was never created or is already gone
    }
    throw new SafetensorsError(path, `cannot write: ${oneLine((e as Error).message)}`);
  }
  fsyncDir(dirname(path));
}

/** Makes a rename durable; not possible on every platform, so failures are ignored. */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // directories cannot be opened for fsync on Windows
  }
}

/** The little-endian bytes of `data` as `dtype`, or null when the array type does not fit the dtype. */
function encodeData(dtype: Dtype, data: TensorData): Uint8Array | null {
  const view = (a: TensorData) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (dtype) {
    case 'F32': return data instanceof Float32Array ? view(data) : null;
    case 'F64': return data instanceof Float64Array ? view(data) : null;
    case 'I8': return data instanceof Int8Array ? view(data) : null;
    case 'I16': return data instanceof Int16Array ? view(data) : null;
    case 'I32': return data instanceof Int32Array ? view(data) : null;
    case 'I64': return data instanceof BigInt64Array ? view(data) : null;
    case 'U16': return data instanceof Uint16Array ? view(data) : null;
    case 'U32': return data instanceof Uint32Array ? view(data) : null;
    case 'U64': return data instanceof BigUint64Array ? view(data) : null;
    case 'U8': case 'BOOL': case 'F8_E5M2': case 'F8_E4M3':
      return data instanceof Uint8Array ? view(data) : null;
    case 'F16': case 'BF16': {
      if (data instanceof Uint16Array) return view(data);
      if (!(data instanceof Float32Array)) return null;
      const out = new Uint16Array(data.length);
      const convert = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < data.length; i++) out[i] = convert(data[i]!);
      return view(out);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Reads and checks only the header (the data is not read; its length is checked against the file size). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openForRead(path);
  try {
    const size = fstatSync(fd).size;
    const head = readHeaderBytes(path, fd, size);
    return parseHeader(path, head, size - 8 - head.length);
  } finally {
    closeSync(fd);
  }
}

/** Reads a whole safetensors file; every problem is one SafetensorsError line. */
export function readSafetensors(path: string): { tensors: Record<string, TensorOut>; metadata: Record<string, string> } {
  const fd = openForRead(path);
  let header: SafetensorsHeader;
  let data: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    const head = readHeaderBytes(path, fd, size);
    header = parseHeader(path, head, size - 8 - head.length);
    data = new Uint8Array(size - 8 - head.length);
    const got = readFully(fd, data, 8 + head.length);
    if (got !== data.length) {
      throw new SafetensorsError(path, `truncated: expected ${data.length} data bytes, read ${got} (file changed while reading?)`);
    }
  } finally {
    closeSync(fd);
  }
  const tensors: Record<string, TensorOut> = {};
  for (const [name, info] of Object.entries(header.tensors)) {
    // slice() copies into a fresh ArrayBuffer, so typed-array views are aligned.
    const bytes = data.slice(info.dataOffsets[0], info.dataOffsets[1]);
    setOwn(tensors, name, { dtype: info.dtype, shape: info.shape, data: decodeData(info.dtype, bytes) });
  }
  return { tensors, metadata: header.metadata };
}

function openForRead(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SafetensorsError(path, code === 'ENOENT' ? 'file not found' : `cannot open: ${oneLine((e as Error).message)}`);
  }
}

function readFully(fd: number, into: Uint8Array, position: number): number {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function readHeaderBytes(path: string, fd: number, size: number): Uint8Array {
  if (size < 8) throw new SafetensorsError(path, `file is ${size} bytes, shorter than the 8-byte header length`);
  const prefix = Buffer.alloc(8);
  readFully(fd, prefix, 0);
  const n = prefix.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(path, `header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  if (8n + n > BigInt(size)) {
    throw new SafetensorsError(path, `header length ${n} runs past the end of the file (${size} bytes)`);
  }
  const head = new Uint8Array(Number(n));
  readFully(fd, head, 8);
  return head;
}

const DTYPES = new Set<string>(DTYPE_ORDER);

/** Checks the header as the reference reader does; `dataLength` is the size of the data section. */
function parseHeader(path: string, head: Uint8Array, dataLength: number): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, problem);
  };
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head);
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header does not start with "{" (got ${JSON.stringify(text.slice(0, 16))})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${oneLine((e as Error).message)})`);
  }
  if (!isPlainObject(json)) fail('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const found: [string, TensorInfo][] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) fail('"__metadata__" is not an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__" value ${JSON.stringify(k)} is not a string`);
        setOwn(metadata, k, v as string);
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(raw)) fail(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (dtype === undefined) fail(`${where}: dtype missing`);
    if (typeof dtype !== 'string' || !DTYPES.has(dtype)) {
      fail(`${where}: dtype ${JSON.stringify(dtype)} is not one of ${DTYPE_ORDER.join(', ')}`);
    }
    if (shape === undefined) fail(`${where}: shape missing`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (offsets === undefined) fail(`${where}: data_offsets missing`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${where}: data_offsets [${begin},${end}] end before they begin`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const need = elements * DTYPE_SIZE[dtype as Dtype];
    if (!Number.isSafeInteger(need)) fail(`${where}: shape ${JSON.stringify(shape)} is too large`);
    if (end - begin !== need) {
      fail(`${where}: data_offsets [${begin},${end}] hold ${end - begin} bytes but ${dtype} shape [${(shape as number[]).join(',')}] needs ${need}`);
    }
    found.push([name, { dtype: dtype as Dtype, shape: shape as number[], dataOffsets: [begin, end] }]);
  }

  // The tensors must tile the data section: sorted by offset, no gaps, no overlap, nothing after.
  found.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let at = 0;
  let prev: [string, TensorInfo] | undefined;
  for (const entry of found) {
    const [name, { dataOffsets: [begin, end] }] = entry;
    const where = `tensor ${JSON.stringify(name)} data_offsets [${begin},${end}]`;
    if (begin < at) {
      fail(`${where} overlap tensor ${JSON.stringify(prev![0])} [${prev![1].dataOffsets.join(',')}]`);
    }
    if (begin > at) {
      fail(`${where} leave a gap of ${begin - at} bytes after ${prev ? `tensor ${JSON.stringify(prev[0])}` : 'the header'}`);
    }
    if (end > dataLength) {
      fail(`${where} run past the end of the data section (${dataLength} bytes): file truncated`);
    }
    at = end;
    prev = entry;
  }
  if (at !== dataLength) fail(`data section has ${dataLength} bytes but the tensors cover only ${at}`);

  const tensors: Record<string, TensorInfo> = {};
  for (const [name, info] of found) setOwn(tensors, name, info);
  return { headerLength: head.length, tensors, metadata };
}

function decodeData(dtype: Dtype, bytes: Uint8Array): TensorData {
  const b = bytes.buffer as ArrayBuffer;
  switch (dtype) {
    case 'F32': return new Float32Array(b);
    case 'F64': return new Float64Array(b);
    case 'I8': return new Int8Array(b);
    case 'I16': return new Int16Array(b);
    case 'I32': return new Int32Array(b);
    case 'I64': return new BigInt64Array(b);
    case 'U16': return new Uint16Array(b);
    case 'U32': return new Uint32Array(b);
    case 'U64': return new BigUint64Array(b);
    case 'U8': case 'BOOL': case 'F8_E5M2': case 'F8_E4M3': return bytes;
    case 'F16': case 'BF16': {
      const bits = new Uint16Array(b);
      const out = new Float32Array(bits.length);
      const convert = dtype === 'F16' ? f16BitsToF32 : bf16BitsToF32;
      for (let i = 0; i < bits.length; i++) out[i] = convert(bits[i]!);
      return out;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Half-precision conversions (IEEE 754 binary16 and bfloat16), round to nearest even.

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function f32ToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32Scratch[0] = (h << 16) >>> 0;
  return f32Scratch[0]!;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Rust's String ordering (UTF-8 bytes), which differs from JS's UTF-16 order for astral characters. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Sets an own property even for names such as "__proto__". */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
