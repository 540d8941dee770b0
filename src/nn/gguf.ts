/**
 * GGUF v3, the file format of llama.cpp (ggml-org/ggml docs/gguf.md), written from its spec:
 *
 *   "GGUF" magic · u32 version 3 · u64 tensor count · u64 metadata count
 *   metadata: key (u64 length + UTF-8) · u32 value type · value (arrays: u32 item type · u64 count · items)
 *   tensor infos: name · u32 n_dims · u64 ne[n_dims] (innermost first) · u32 ggml type · u64 offset
 *   padding to `general.alignment` (32) · tensor data, each tensor aligned
 *
 * Little-endian throughout. Only F32 tensors are written: the built-in model is small, and exact
 * F32 keeps llama.cpp's output equal to the built-in engine's.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** gguf_type codes (ggml's gguf.h). */
export const GgufType = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
} as const;
export type GgufScalarType = Exclude<keyof typeof GgufType, 'array'>;

/** ggml_type codes for tensor data; F32 is the only one written here. */
export const GgmlType = { F32: 0, F16: 1 } as const;

export type GgufValue =
  | { type: Exclude<GgufScalarType, 'string' | 'bool'>; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'string'; values: string[] }
  | { type: 'array'; itemType: Exclude<GgufScalarType, 'string' | 'bool'>; values: number[] };

export interface GgufTensorIn {
  name: string;
  /** PyTorch-order shape ([out, in] for a matrix); written reversed as GGUF's ne. */
  shape: number[];
  data: Float32Array;
}

export interface GgufFileIn {
  metadata: [string, GgufValue][];
  tensors: GgufTensorIn[];
  alignment?: number;
}

const SCALAR_BYTES: Record<Exclude<GgufScalarType, 'string'>, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };

/** Grows a little-endian byte buffer. */
class ByteWriter {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  scalar(type: Exclude<GgufScalarType, 'string'>, v: number | boolean): void {
    const n = SCALAR_BYTES[type];
    this.room(n);
    const b = this.buf;
    const o = this.length;
    switch (type) {
      case 'u8': b.writeUInt8(v as number, o); break;
      case 'i8': b.writeInt8(v as number, o); break;
      case 'u16': b.writeUInt16LE(v as number, o); break;
      case 'i16': b.writeInt16LE(v as number, o); break;
      case 'u32': b.writeUInt32LE(v as number, o); break;
      case 'i32': b.writeInt32LE(v as number, o); break;
      case 'f32': b.writeFloatLE(v as number, o); break;
      case 'bool': b.writeUInt8(v ? 1 : 0, o); break;
      case 'u64': b.writeBigUInt64LE(BigInt(v as number), o); break;
      case 'i64': b.writeBigInt64LE(BigInt(v as number), o); break;
      case 'f64': b.writeDoubleLE(v as number, o); break;
    }
    this.length += n;
  }

  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.scalar('u64', bytes.length);
    this.room(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }

  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(w: ByteWriter, v: GgufValue): void {
  if (v.type === 'string') return w.string(v.value);
  if (v.type !== 'array') return w.scalar(v.type, v.value);
  w.scalar('u32', GgufType[v.itemType]);
  w.scalar('u64', v.values.length);
  if (v.itemType === 'string') for (const s of v.values as string[]) w.string(s);
  else for (const x of v.values as number[]) w.scalar(v.itemType, x);
}

/** The header (everything before the tensor data, padded) and each tensor's data offset. */
export function ggufHeader(file: GgufFileIn): { header: Buffer; offsets: number[] } {
  const alignment = file.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const keys = new Set<string>();
  for (const [k] of file.metadata) {
    if (keys.has(k)) throw new Error(`GGUF metadata key "${k}" given twice`);
    keys.add(k);
  }
  const metadata: [string, GgufValue][] = keys.has('general.alignment') || alignment === GGUF_DEFAULT_ALIGNMENT
    ? file.metadata
    : [...file.metadata, ['general.alignment', { type: 'u32', value: alignment }]];
  const w = new ByteWriter();
  for (const ch of GGUF_MAGIC) w.scalar('u8', ch.charCodeAt(0));
  w.scalar('u32', GGUF_VERSION);
  w.scalar('u64', file.tensors.length);
  w.scalar('u64', metadata.length);
  for (const [k, v] of metadata) {
    w.string(k);
    w.scalar('u32', GgufType[v.type]);
    writeValue(w, v);
  }
  const offsets: number[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const t of file.tensors) {
    if (names.has(t.name)) throw new Error(`GGUF tensor "${t.name}" given twice`);
    names.add(t.name);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`GGUF tensor "${t.name}": shape [${t.shape.join(',')}] holds ${size} values, data has ${t.data.length}`);
    w.string(t.name);
    w.scalar('u32', t.shape.length);
    // ne[0] is the innermost (fastest-varying) dimension: PyTorch's shape reversed.
    for (const d of [...t.shape].reverse()) w.scalar('u64', d);
    w.scalar('u32', GgmlType.F32);
    w.scalar('u64', offset);
    offsets.push(offset);
    offset += size * 4;
    offset += (alignment - (offset % alignment)) % alignment;
  }
  w.pad(alignment);
  return { header: Buffer.from(w.bytes()), offsets };
}

/** Writes a GGUF file atomically (a temporary file renamed into place), creating its directory. */
export function writeGguf(path: string, file: GgufFileIn): void {
  const alignment = file.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const { header } = ggufHeader(file);
  const tmp = `${path}.tmp-${process.pid}`;
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, header);
    for (const t of file.tensors) {
      const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      writeAll(fd, bytes);
      const pad = (alignment - (bytes.length % alignment)) % alignment;
      if (pad > 0) writeAll(fd, Buffer.alloc(pad));
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
